"""Spinlocks: ``spin_lock``, ``spin_lock_nested``, ``spin_trylock``, ``spin_unlock``.

A waiting CPU is parked on the lock's wait queue instead of spinning (equivalent, since a
spinning CPU changes nothing, and cheaper). Holding a spinlock disables preemption, which
makes the holder an RCU reader and forbids sleeping. Every operation is a scheduling point
and an access to the lock's memory, re-checked after every wake-up: a lock freed while a
CPU waits on it is a use-after-free, as in the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import Wait
from .locks import Lock, LockClass, pop_held, push_held

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx

__all__ = ["Spinlock", "spin_lock", "spin_lock_nested", "spin_trylock", "spin_unlock"]


class Spinlock(Lock):
    __slots__ = ("owner",)

    def __init__(self, name: str, lclass: LockClass, mem) -> None:
        super().__init__(name, lclass, mem)
        self.owner: Ctx | None = None


def spin_lock(ctx: Ctx, lock: Spinlock, site: Site, subclass: int = 0) -> KGen[None]:
    yield site
    ctx.access(lock.mem, site, False)
    for h in ctx.hooks.acquire:
        h(ctx, lock, subclass, site, "spin", False)
    while lock.owner is not None:
        yield Wait(lock.wq, site)
        ctx.access(lock.mem, site, False)
    lock.owner = ctx
    ctx.preempt_count += 1
    push_held(ctx, lock, subclass, site, "spin")


def spin_lock_nested(ctx: Ctx, lock: Spinlock, site: Site, subclass: int = 1):
    """``spin_lock_nested(lock, SINGLE_DEPTH_NESTING)``: same class, another subclass."""
    return spin_lock(ctx, lock, site, subclass)


def spin_trylock(ctx: Ctx, lock: Spinlock, site: Site) -> KGen[bool]:
    yield site
    ctx.access(lock.mem, site, False)
    if lock.owner is not None:
        return False
    for h in ctx.hooks.acquire:
        h(ctx, lock, 0, site, "spin", True)
    lock.owner = ctx
    ctx.preempt_count += 1
    push_held(ctx, lock, 0, site, "spin")
    return True


def spin_unlock(ctx: Ctx, lock: Spinlock, site: Site) -> KGen[None]:
    yield site
    ctx.access(lock.mem, site, True)
    for h in ctx.hooks.release:
        h(ctx, lock, site)
    if pop_held(ctx, lock) is not None:
        ctx.preempt_count -= 1
    lock.owner = None
    lock.wq.wake_all()
    ctx.quiesce_check()
