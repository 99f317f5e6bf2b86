"""The kernel's state and the ``Ctx`` handle every kernel path receives.

There are no globals: a kernel path gets ``ctx`` (the current CPU: its thread, IRQ, preempt
and RCU nesting, held locks) and reaches everything else through it: ``ctx.kernel`` (the
machine-wide state), ``ctx.config``, ``ctx.bugs`` and ``ctx.choose`` (the one choice
stream). Checkers attach to ``kernel.hooks`` and are called at every access, allocation,
free, lock operation, sleep and return to user space; the kernel paths themselves only
perform the accesses.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ..bugs import NO_BUGS, BugSet
from .alloc import Allocator
from .config import Config

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..sim.traps import Site

__all__ = ["Kernel", "Ctx", "Hooks", "HeldLock"]


class Hooks:
    """Observer lists. Each hook may raise ``KernelReport`` to stop the run.

    access(ctx, obj, site, write)              before every access to shared memory
    cached(ctx, obj, site, write, cache)       an access through a TLB or paging-structure
                                               cache entry (no page-table read happened)
    free(ctx, obj, site, expect, queued)       before a free (queued: RCU-deferred)
    acquire(ctx, lock, subclass, site, mode, trylock)   before a lock is taken
    release(ctx, lock, site)                   before a lock is released
    sleep(ctx, site)                           where the kernel may sleep (might_sleep)
    user_return(ctx, what)                     when an operation returns to user space
    event(ctx, kind, *args)                    a model event an oracle follows (user loads
                                               and stores, ptes zapped, pages moved)
    end(kernel)                                after the run (leak and accounting scans)
    """

    __slots__ = ("access", "cached", "free", "acquire", "release", "sleep", "user_return",
                 "event", "end")
    access: list[Callable[..., None]]
    cached: list[Callable[..., None]]
    free: list[Callable[..., None]]
    acquire: list[Callable[..., None]]
    release: list[Callable[..., None]]
    sleep: list[Callable[..., None]]
    user_return: list[Callable[..., None]]
    event: list[Callable[..., None]]
    end: list[Callable[..., None]]

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, [])


class HeldLock:
    """One entry of a CPU's held-lock stack."""

    __slots__ = ("lock", "subclass", "site", "mode")

    def __init__(self, lock, subclass: int, site: Site, mode: str) -> None:
        self.lock = lock
        self.subclass = subclass
        self.site = site
        self.mode = mode            # "spin", "read", "write", "sleep"

    def describe(self) -> str:
        sub = f"/{self.subclass}" if self.subclass else ""
        return f"{self.lock.name}{sub} ({self.mode}) taken at {self.site.name}"


class Ctx:
    """One simulated CPU running one thread: the handle passed to every kernel path."""

    __slots__ = ("kernel", "engine", "thread", "name", "config", "bugs", "hooks",
                 "irq_disabled", "preempt_count", "rcu_nesting", "held", "qs", "ipi_pending",
                 "data", "seen", "stored", "tid8", "wcount")

    def __init__(self, kernel: Kernel, thread) -> None:
        self.kernel = kernel
        self.engine = kernel.engine
        self.thread = thread
        self.name = thread.name
        self.config = kernel.config
        self.bugs = kernel.bugs
        self.hooks = kernel.hooks
        self.irq_disabled = 0       # local_irq_disable/save nesting
        self.preempt_count = 0      # spinlocks held (preemption disabled)
        self.rcu_nesting = 0        # rcu_read_lock nesting
        self.held: list[HeldLock] = []
        self.qs = 0                 # quiescent states passed (for the RCU grace period)
        self.ipi_pending: list = []
        self.data: dict = {}        # per-thread scratch for the layers above
        self.seen: dict = {}        # obj -> its version (``wv``) when this CPU first read
                                    # it since its last retry
        self.tid8 = thread.tid & 255
        self.wcount = kernel.wcount         # the kernel's, shared by every CPU
        self.stored = False         # stored to shared memory since the last retry

    def choose(self, n: int, label: str) -> int:
        """One draw from the choice stream (through the engine, so that a strategy can
        interpose: a replayed schedule forces data choices this way)."""
        return self.engine.choose(n, label)

    # -- checks ----------------------------------------------------------------------

    def access(self, obj, site: Site, write: bool, stores: bool | None = None) -> None:
        """Announce an access to shared ``obj`` (checkers run first, and may report).
        ``stores`` says whether the object's value changes (default: ``write``); a failed
        ``cmpxchg`` is a write access that stores nothing."""
        for h in self.hooks.access:
            h(self, obj, site, write)
        # What the retry rule (Kernel.retry_progress) needs, inline: this is the hottest
        # path of the model.
        if write if stores is None else stores:
            obj.wv = (next(self.wcount) << 8) | self.tid8
            self.stored = True
        elif obj not in self.seen:
            self.seen[obj] = obj.wv

    def note(self, obj, stores: bool) -> None:
        """Record, for the retry rule (``Kernel.retry_progress``), a store to ``obj`` or
        the version this CPU first saw of it in its current attempt (what ``access`` does,
        for a caller that announced the access otherwise)."""
        if stores:
            obj.wv = (next(self.wcount) << 8) | self.tid8
            self.stored = True
        elif obj not in self.seen:
            self.seen[obj] = obj.wv

    def cached_access(self, obj, site: Site, write: bool, cache: str) -> None:
        for h in self.hooks.cached:
            h(self, obj, site, write, cache)

    def might_sleep(self, site: Site) -> None:
        for h in self.hooks.sleep:
            h(self, site)

    def user_return(self, what: str) -> None:
        for h in self.hooks.user_return:
            h(self, what)

    def event(self, kind: str, *args) -> None:
        for h in self.hooks.event:
            h(self, kind, *args)

    # -- RCU read-side state ---------------------------------------------------------

    def in_rcu_reader(self) -> bool:
        """Inside a read-side critical section: rcu_read_lock, IRQs off, or preemption
        off (a spinlock held): since the RCU flavours were consolidated (v4.20) a grace
        period waits for all three."""
        return bool(self.rcu_nesting or self.irq_disabled or self.preempt_count)

    def quiesce_check(self) -> None:
        """Call after leaving any read-side state: record a quiescent state if none is
        left, and let a waiting grace period re-check."""
        if not (self.rcu_nesting or self.irq_disabled or self.preempt_count):
            self.qs += 1
            wq = self.kernel.rcu.reader_wq
            if wq.waiters:
                wq.wake_all()

    def __repr__(self) -> str:
        return (f"<Ctx {self.name} irq_off={self.irq_disabled} "
                f"preempt={self.preempt_count} rcu={self.rcu_nesting}>")


class Kernel:
    """Machine-wide state: the allocator, RCU, IPIs, the CPUs and the model's objects.

    Creating a kernel spawns the RCU grace-period kthread (a daemon thread scheduled like
    any other, so grace-period timing is a scheduling choice).
    """

    def __init__(self, engine, config: Config | None = None, bugs: BugSet = NO_BUGS) -> None:
        from .irq import Smp
        from .rcu import Rcu

        self.engine = engine
        self.config = config if config is not None else Config()
        self.bugs = bugs
        self.hooks = Hooks()
        self.alloc = Allocator(self, self.config.kasan_quarantine)
        self.cpus: list[Ctx] = []
        self.world: Any = None      # the mm layer's machine (core/mm/setup.boot_world)
        self.rcu = Rcu(self)
        self.smp = Smp(self)
        self.wcount = itertools.count(1)   # shared-memory stores so far
        engine.retry_progress = self.retry_progress
        if engine.invariant_checks:
            from .invariants import check_kernel
            engine.invariant_checks.append(lambda e: check_kernel(self, e))
        self.rcu.start()

    def retry_progress(self, thread) -> bool:
        """Asked by the engine when ``thread`` reaches a retry site: did another CPU store
        to an object this one accessed in the attempt now ending (between its first look
        and now)? Then the next attempt can differ (a failed ``cmpxchg`` or recheck,
        retried after the writer moved on: it reads the new value) and must be
        schedulable at once; otherwise re-running it could only repeat itself, and the
        engine waits until another thread has stepped. A new attempt starts here.

        At a site with ``own_progress`` (an access retried after this CPU's own fault) the
        CPU's own stores count too. An object whose last store was this CPU's own counts
        as unchanged even if another CPU stored to it first (conservative: the waiting
        rule then applies).

        Each object's last store is kept on it as ``seq << 8 | tid`` (``KObject.wv``).

        Objects, not fields, are versioned: a store to any field of an object the attempt
        accessed counts (more interleavings, never fewer). Stores not announced through
        ``ctx.access`` are not seen, so such a retry falls back to the waiting rule."""
        ctx = thread.ctx
        changed = ctx.stored and thread.pending.own_progress
        if not changed:
            me = ctx.tid8
            for obj, ver in ctx.seen.items():
                cur = obj.wv
                if cur != ver and (cur & 255) != me:
                    changed = True
                    break
        ctx.seen.clear()
        ctx.stored = False
        return changed

    def spawn(self, name: str, fn, *args, daemon: bool = False) -> Ctx:
        """Run ``fn(ctx, *args)`` (a generator function) on a new CPU called ``name``."""
        holder = []

        def make(thread):
            ctx = Ctx(self, thread)
            thread.ctx = ctx
            holder.append(ctx)
            self.cpus.append(ctx)
            return fn(ctx, *args)

        self.engine.spawn(name, make, daemon=daemon)
        return holder[0]

    def run_end_hooks(self) -> None:
        for h in self.hooks.end:
            h(self)
