"""RCU: read-side sections, ``call_rcu``, ``synchronize_rcu``, ``rcu_barrier`` and the
grace-period kthread.

A CPU is a reader while it holds ``rcu_read_lock``, has IRQs disabled or has preemption
disabled (holds a spinlock). The grace-period kthread is an ordinary (daemon) thread, so
when a grace period starts, how long it lasts and when callbacks run are scheduling
choices. A grace period started at time t waits until every CPU that was a reader at t has
passed a quiescent state (left every read-side state at least once); it then invokes, in
order, the callbacks queued before t. Callbacks are generator functions run on the
kthread's CPU, so frees they do are scheduling points with their own sites.

Simplified: one grace period at a time (Tree RCU overlaps a few); no expedited grace
periods; callbacks of one grace period run back to back.
"""

from __future__ import annotations

from ..sim import Wait, WaitQueue, site
from .locks import lock_class, pop_held, push_held

__all__ = ["Rcu", "rcu_read_lock", "rcu_read_unlock", "call_rcu", "call_rcu_now", "synchronize_rcu",
           "rcu_barrier", "RCU_READ_LOCK_MAP"]

S_IDLE = site("rcu_gp_kthread:idle")
S_GP_START = site("rcu_gp_kthread:gp_start")
S_GP_WAIT = site("rcu_gp_kthread:wait_readers")
S_GP_END = site("rcu_gp_kthread:gp_end")
S_INVOKE = site("rcu_do_batch:invoke")


class _RcuLockMap:
    """The lockdep map of ``rcu_read_lock`` (a recursive read lock lockdep does not order):
    it appears in the held-lock stack so a section left open at return to user space, or
    an unbalanced unlock, is reported like a lock."""

    name = "rcu_read_lock"
    lclass = lock_class("rcu_read_lock", nests=True, check=False)
    mem = None


RCU_READ_LOCK_MAP = _RcuLockMap()


class _Callback:
    __slots__ = ("func", "args", "need", "site", "thread")

    def __init__(self, func, args, need, site, thread):
        self.func = func
        self.args = args
        self.need = need            # the number of completed grace periods it waits for
        self.site = site
        self.thread = thread


class Rcu:
    def __init__(self, kernel):
        self.kernel = kernel
        self.started = 0            # grace periods started
        self.completed = 0          # grace periods completed
        self.callbacks: list[_Callback] = []
        self.queued = 0
        self.invoked = 0
        self.sync_need = 0          # highest completed count a synchronize_rcu waits for
        self.work_wq = WaitQueue("rcu_gp_work")
        self.reader_wq = WaitQueue("rcu_reader_exit")
        self.done_wq = WaitQueue("rcu_gp_done")
        self.ctx = None

    def start(self) -> None:
        self.ctx = self.kernel.spawn("rcu_gp", rcu_gp_kthread, daemon=True)

    def _has_work(self) -> bool:
        return bool(self.callbacks) or self.sync_need > self.completed

    def request(self) -> int:
        """A grace period that starts after now is needed: the completed count that
        proves it has elapsed."""
        need = self.started + 1
        self.work_wq.wake_all()
        return need


def rcu_gp_kthread(ctx):
    """The grace-period kthread (kernel/rcu/tree.c ``rcu_gp_kthread`` and ``rcu_do_batch``,
    folded into one loop)."""
    rcu = ctx.kernel.rcu
    cpus = ctx.kernel.cpus
    while True:
        while not rcu._has_work():
            yield Wait(rcu.work_wq, S_IDLE)
        yield S_GP_START
        rcu.started += 1
        snapshot = [(c, c.qs) for c in cpus if c is not ctx and c.in_rcu_reader()]
        while any(c.qs == qs and c.in_rcu_reader() for c, qs in snapshot):
            yield Wait(rcu.reader_wq, S_GP_WAIT)
        yield S_GP_END
        rcu.completed += 1
        rcu.done_wq.wake_all()
        while rcu.callbacks and rcu.callbacks[0].need <= rcu.completed:
            cb = rcu.callbacks.pop(0)
            yield S_INVOKE
            ctx.data["rcu_callback"] = cb
            yield from cb.func(ctx, *cb.args)
            ctx.data.pop("rcu_callback", None)
            rcu.invoked += 1
            rcu.done_wq.wake_all()


def rcu_read_lock(ctx, site):
    yield site
    ctx.rcu_nesting += 1
    push_held(ctx, RCU_READ_LOCK_MAP, 0, site, "rcu")


def rcu_read_unlock(ctx, site):
    yield site
    for h in ctx.hooks.release:
        h(ctx, RCU_READ_LOCK_MAP, site)
    if pop_held(ctx, RCU_READ_LOCK_MAP) is not None:
        ctx.rcu_nesting -= 1
        ctx.quiesce_check()


def call_rcu(ctx, func, *args, site):
    """Queue ``func(gp_ctx, *args)`` (a generator function) to run after a grace period."""
    yield site
    call_rcu_now(ctx, func, *args, site=site)


def call_rcu_now(ctx, func, *args, site) -> None:
    """The queueing of ``call_rcu``, for a caller that already yielded at ``site`` and
    does more in the same step (marking the object queued, for instance)."""
    rcu = ctx.kernel.rcu
    rcu.callbacks.append(_Callback(func, args, rcu.request(), site, ctx.name))
    rcu.queued += 1


def synchronize_rcu(ctx, site):
    yield site
    ctx.might_sleep(site)
    rcu = ctx.kernel.rcu
    need = rcu.request()
    rcu.sync_need = max(rcu.sync_need, need)
    while rcu.completed < need:
        yield Wait(rcu.done_wq, site)


def rcu_barrier(ctx, site):
    """Wait until every callback queued before the call has been invoked."""
    yield site
    ctx.might_sleep(site)
    rcu = ctx.kernel.rcu
    target = rcu.queued
    if rcu.invoked < target:
        rcu.work_wq.wake_all()
    while rcu.invoked < target:
        yield Wait(rcu.done_wq, site)
