"""RCU: read-side sections, ``call_rcu``, ``synchronize_rcu``, ``rcu_barrier``, the
grace-period kthread and the callback invoker.

kernel/rcu/tree.c (v6.12 read; these behaviours hold through v6.18): ``call_rcu`` ->
``__call_rcu_common`` queues the callback on the calling CPU's segmented callback list,
tagged with the grace period it needs;
``rcu_gp_kthread`` runs grace periods (``rcu_gp_init``, ``rcu_gp_fqs_loop``,
``rcu_gp_cleanup``); ``rcu_core`` / ``rcu_do_batch`` invokes a CPU's ready callbacks, in
that CPU's queue order, later and on its own schedule (RCU_SOFTIRQ, an rcuc kthread, or an
rcuo kthread for offloaded CPUs). So a callback whose grace period has ended may still be
pending after further grace periods end (Documentation/RCU/rcubarrier.rst: even several
back-to-back ``synchronize_rcu()`` calls do not mean earlier callbacks have run), and
callbacks of different CPUs run in any order; only ``rcu_barrier()`` waits for them.

The model: a CPU is a reader while it holds ``rcu_read_lock``, has IRQs disabled or has
preemption disabled (holds a spinlock). Each CPU has its own callback list. Two daemon
threads, scheduled like any other: ``rcu_gp`` runs grace periods while one is needed (a
callback or a ``synchronize_rcu`` waits for one); a grace period started at time t waits
until every CPU that was a reader at t has passed a quiescent state (left every read-side
state at least once). ``rcu_cb`` invokes ready callbacks one at a time: which CPU's list
it serves next is a choice among those whose oldest callback is ready, and within a list
callbacks run in order. Callbacks are generator functions, so the frees they do are
scheduling points with their own sites; a ``call_rcu`` from inside a callback joins the
list of the CPU the callback belongs to.

Simplified: one grace period at a time (Tree RCU overlaps a few, which only shortens
waits); no expedited grace periods; one invoker thread serves every CPU's list, as with
every CPU offloaded to one rcuo kthread (so two callbacks never run at the same time,
and a callback does not interrupt the CPU that queued it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import Wait, WaitQueue, site
from .locks import lock_class, pop_held, push_held

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx, Kernel

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
    __slots__ = ("func", "args", "need", "site", "thread", "cpu", "done")

    def __init__(self, func, args, need, site: Site, thread, cpu) -> None:
        self.func = func
        self.args = args
        self.need = need            # the number of completed grace periods it waits for
        self.site = site
        self.thread = thread        # who queued it (reports name it)
        self.cpu = cpu              # whose list it is on
        self.done = False


class Rcu:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.started = 0            # grace periods started
        self.completed = 0          # grace periods completed
        self.cblists: dict[str, list[_Callback]] = {}   # per CPU, in queue order
        self.running: _Callback | None = None           # the callback being invoked
        self.gp_need = 0            # highest completed count a callback or a
                                    # synchronize_rcu waits for
        self.work_wq = WaitQueue("rcu_gp_work")
        self.reader_wq = WaitQueue("rcu_reader_exit")
        self.done_wq = WaitQueue("rcu_gp_done")
        self.cb_wq = WaitQueue("rcu_cb_ready")

    def start(self) -> None:
        self.kernel.spawn("rcu_gp", rcu_gp_kthread, daemon=True)
        self.kernel.spawn("rcu_cb", rcu_do_batch, daemon=True)

    def request(self) -> int:
        """A grace period that starts after now is needed: the completed count that
        proves it has elapsed."""
        need = self.started + 1
        if need > self.gp_need:
            self.gp_need = need
        self.work_wq.wake_all()
        return need

    def ready_cpus(self) -> list[str]:
        """The CPUs whose oldest callback's grace period has ended, in the order their
        lists were first used (deterministic)."""
        done = self.completed
        return [cpu for cpu, cbs in self.cblists.items() if cbs and cbs[0].need <= done]

    def pending(self) -> list[_Callback]:
        """Every callback queued and not yet finished (the one running included)."""
        out = [cb for cbs in self.cblists.values() for cb in cbs]
        if self.running is not None:
            out.append(self.running)
        return out


def rcu_gp_kthread(ctx: Ctx) -> KGen[None]:
    """kernel/rcu/tree.c ``rcu_gp_kthread``: wait until a grace period is needed, start
    it, wait for the CPUs that were readers at its start, end it. Invoking callbacks is
    ``rcu_do_batch``'s job, on its own schedule."""
    rcu = ctx.kernel.rcu
    cpus = ctx.kernel.cpus
    while True:
        while rcu.gp_need <= rcu.completed:
            yield Wait(rcu.work_wq, S_IDLE)
        yield S_GP_START
        rcu.started += 1
        snapshot = [(c, c.qs) for c in cpus if c is not ctx and c.in_rcu_reader()]
        while any(c.qs == qs and c.in_rcu_reader() for c, qs in snapshot):
            yield Wait(rcu.reader_wq, S_GP_WAIT)
        yield S_GP_END
        rcu.completed += 1
        rcu.done_wq.wake_all()
        if rcu.ready_cpus():
            rcu.cb_wq.wake_all()


def rcu_do_batch(ctx: Ctx) -> KGen[None]:
    """kernel/rcu/tree.c ``rcu_do_batch`` (run from ``rcu_core`` or an rcuo kthread):
    invoke ready callbacks, one per step, each CPU's in queue order; which CPU's list
    goes next is a choice."""
    rcu = ctx.kernel.rcu
    while True:
        if rcu.ready_cpus():
            yield S_INVOKE
        else:
            # Asleep until a grace period's end makes callbacks ready; the step that
            # resumes it is the first invocation (no separate wake-up step).
            yield Wait(rcu.cb_wq, S_INVOKE)
        cpus = rcu.ready_cpus()
        cpu = cpus[ctx.choose(len(cpus), "rcu_cb_cpu")] if len(cpus) > 1 else cpus[0]
        cb = rcu.cblists[cpu].pop(0)
        rcu.running = cb
        ctx.data["rcu_callback"] = cb
        yield from cb.func(ctx, *cb.args)
        ctx.data.pop("rcu_callback", None)
        rcu.running = None
        cb.done = True
        rcu.done_wq.wake_all()


def rcu_read_lock(ctx: Ctx, site: Site) -> KGen[None]:
    yield site
    ctx.rcu_nesting += 1
    push_held(ctx, RCU_READ_LOCK_MAP, 0, site, "rcu")


def rcu_read_unlock(ctx: Ctx, site: Site) -> KGen[None]:
    yield site
    for h in ctx.hooks.release:
        h(ctx, RCU_READ_LOCK_MAP, site)
    if pop_held(ctx, RCU_READ_LOCK_MAP) is not None:
        ctx.rcu_nesting -= 1
        ctx.quiesce_check()


def call_rcu(ctx: Ctx, func, *args, site) -> KGen[None]:
    """Queue ``func(gp_ctx, *args)`` (a generator function) to run after a grace period."""
    yield site
    call_rcu_now(ctx, func, *args, site=site)


def call_rcu_now(ctx: Ctx, func, *args, site) -> None:
    """The queueing of ``call_rcu``, for a caller that already yielded at ``site`` and
    does more in the same step (marking the object queued, for instance)."""
    rcu = ctx.kernel.rcu
    running = ctx.data.get("rcu_callback")
    cpu = running.cpu if running is not None else ctx.name
    cb = _Callback(func, args, rcu.request(), site, ctx.name, cpu)
    rcu.cblists.setdefault(cpu, []).append(cb)


def synchronize_rcu(ctx: Ctx, site: Site) -> KGen[None]:
    yield site
    ctx.might_sleep(site)
    rcu = ctx.kernel.rcu
    need = rcu.request()
    while rcu.completed < need:
        yield Wait(rcu.done_wq, site)


def rcu_barrier(ctx: Ctx, site: Site) -> KGen[None]:
    """kernel/rcu/tree.c ``rcu_barrier``: wait until every callback queued before the
    call, on any CPU, has been invoked."""
    yield site
    ctx.might_sleep(site)
    rcu = ctx.kernel.rcu
    waiting = rcu.pending()
    while any(not cb.done for cb in waiting):
        yield Wait(rcu.done_wq, site)
