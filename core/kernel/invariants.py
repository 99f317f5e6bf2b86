"""The substrate's own invariants (locks, preemption and RCU nesting), checked by the
engine after every step when it checks its own (core/sim/invariants.py).

* every lock on a CPU's held stack names that CPU as its owner (a rwsem held for read
  counts it among its readers);
* a CPU's preemption count is the number of spinlocks it holds, its RCU nesting the
  number of ``rcu_read_lock`` entries, and IRQ nesting is never negative;
* a finished CPU holds nothing;
* a thread waiting on a lock's queue waits for somebody: the lock is held (by an owner
  with it on its held stack), or a writer queued before it (a waiter on a free lock was
  never woken: a lost wake-up).

Lock misuse the kernel's own debugging reports (an unbalanced unlock, a lock held on the
return to user space) is lockdep's (core/kernel/lockdep.py), which reports first, inside
the step; what remains here can only be a mistake of the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import InvariantViolation
from ..sim import DONE, WAITING

if TYPE_CHECKING:
    from .context import Ctx, Kernel

__all__ = ["check_kernel"]


def _holds(lock, ctx: Ctx, mode: str) -> bool:
    if mode == "rcu":
        return True                    # the RCU map has no owner
    if mode == "read":
        return ctx in lock.readers
    return lock.owner is ctx


def check_kernel(kernel: Kernel, engine) -> None:
    for ctx in kernel.cpus:
        spins = rcu = 0
        for h in ctx.held:
            if not _holds(h.lock, ctx, h.mode):
                raise InvariantViolation("held lock not owned by its holder",
                                         f"{ctx.name}: {h.describe()}")
            spins += h.mode == "spin"
            rcu += h.mode == "rcu"
        if ctx.preempt_count != spins:
            raise InvariantViolation("preempt count is not the spinlocks held",
                                     f"{ctx.name}: count {ctx.preempt_count}, {spins} held")
        if ctx.rcu_nesting != rcu:
            raise InvariantViolation("RCU nesting is not the rcu_read_lock entries held",
                                     f"{ctx.name}: nesting {ctx.rcu_nesting}, {rcu} held")
        if ctx.irq_disabled < 0:
            raise InvariantViolation("negative IRQ-disable nesting", ctx.name)
        if ctx.held and ctx.thread.state is DONE:
            raise InvariantViolation("finished CPU holds a lock",
                                     f"{ctx.name}: {ctx.held[-1].describe()}")
    for t in engine.threads:
        if t.state is not WAITING:
            continue
        lock = t.waitq.owner
        if lock is None or not hasattr(lock, "lclass"):
            continue
        owner = lock.owner
        if owner is not None and not any(h.lock is lock for h in owner.held):
            raise InvariantViolation("lock owner does not hold it",
                                     f"{lock.name} owned by {owner.name}, awaited by {t.name}")
        # A rwsem reader also waits behind a queued writer (writers_waiting).
        if owner is None and not getattr(lock, "readers", ()) \
                and not getattr(lock, "writers_waiting", 0):
            raise InvariantViolation("thread waits on a free lock (lost wake-up)",
                                     f"{t.name} on {lock.name}")
