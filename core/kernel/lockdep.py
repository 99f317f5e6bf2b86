"""lockdep-style checks, as a checker attached to the kernel's hooks.

* the order graph over lock classes (class, subclass): taking B while holding A records
  A -> B; an edge that closes a cycle is reported even though no deadlock happened in
  this run ("possible circular locking dependency");
* taking a second lock of a class already held, without a nesting annotation
  ("possible recursive locking");
* releasing a lock that is not held ("bad unlock balance");
* sleeping with a spinlock held, IRQs off or inside an RCU read-side section
  ("sleeping function called from invalid context", CONFIG_DEBUG_ATOMIC_SLEEP);
* a lock or RCU section still held, or IRQs still off, when an operation returns to
  user space ("lock held when returning to user space").

As in the kernel, a trylock adds no dependency and is never itself reported (it cannot
block), but locks taken while it is held are ordered after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import KernelReport, Report

if TYPE_CHECKING:
    from ..sim.traps import Site
    from .context import Ctx, Kernel

__all__ = ["Lockdep", "install"]


def _node(lock, subclass):
    return (lock.lclass.name, subclass)


def _fmt(node) -> str:
    name, sub = node
    return f"{name}/{sub}" if sub else name


class Lockdep:
    def __init__(self) -> None:
        # node -> {next node: (thread, site where the held lock was taken, acquire site)}
        self.edges: dict[tuple, dict[tuple, tuple]] = {}

    def seed(self, chain, source: str) -> Lockdep:
        """Record a documented order (outermost first) as if it had been observed, so a
        path that takes any two of these classes the other way round is reported even if
        the documented direction never runs in this program."""
        for a, b in zip(chain, chain[1:], strict=False):
            self.edges.setdefault((a, 0), {})[(b, 0)] = (source, a, b)
        return self

    def install(self, kernel: Kernel) -> Lockdep:
        h = kernel.hooks
        h.acquire.append(self.acquire)
        h.release.append(self.release)
        h.sleep.append(self.might_sleep)
        h.user_return.append(self.user_return)
        return self

    # -- the order graph -------------------------------------------------------------

    def _path(self, src, dst):
        """A path src -> ... -> dst in the graph, as a list of nodes, or None."""
        stack = [(src, [src])]
        seen = {src}
        while stack:
            node, path = stack.pop()
            if node == dst:
                return path
            for nxt in sorted(self.edges.get(node, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    def acquire(self, ctx: Ctx, lock, subclass, site: Site, mode, trylock) -> None:
        lc = lock.lclass
        if not lc.check or trylock:
            return
        new = _node(lock, subclass)
        for h in ctx.held:
            if not h.lock.lclass.check:
                continue
            old = _node(h.lock, h.subclass)
            if old == new:
                if lc.nests and h.lock is not lock:
                    continue
                raise KernelReport(self._recursive(ctx, h, lock, subclass, site))
            succ = self.edges.setdefault(old, {})
            if new in succ:
                continue
            back = self._path(new, old)
            if back is not None:
                raise KernelReport(self._circular(ctx, h, lock, subclass, site, back))
            succ[new] = (ctx.name, h.site.name, site.name)

    def _recursive(self, ctx: Ctx, held, lock, subclass, site: Site) -> Report:
        r = Report("WARNING: possible recursive locking detected", "lockdep")
        r.add("acquiring", f"{lock.name} ({_fmt(_node(lock, subclass))}) at {site.name}")
        r.add("already held", held.describe())
        r.add("held locks", self._held(ctx))
        return r

    def _circular(self, ctx: Ctx, held, lock, subclass, site: Site, back) -> Report:
        r = Report("WARNING: possible circular locking dependency detected", "lockdep")
        new = _node(lock, subclass)
        r.add("new dependency", f"{_fmt(_node(held.lock, held.subclass))} -> {_fmt(new)}: "
                                f"{ctx.name} holds {held.lock.name} (taken at "
                                f"{held.site.name}) and takes {lock.name} at {site.name}")
        for a, b in zip(back, back[1:], strict=False):
            thread, hs, acq = self.edges[a][b]
            if hs == a[0] and acq == b[0]:
                r.add("existing dependency", f"{_fmt(a)} -> {_fmt(b)}: {thread}")
            else:
                r.add("existing dependency", f"{_fmt(a)} -> {_fmt(b)}: {thread} took "
                                             f"{_fmt(b)} at {acq} while holding {_fmt(a)} "
                                             f"(taken at {hs})")
        r.add("held locks", self._held(ctx))
        return r

    @staticmethod
    def _held(ctx: Ctx) -> str:
        return "; ".join(h.describe() for h in ctx.held) or "none"

    # -- balance, context, return to user ----------------------------------------------

    def release(self, ctx: Ctx, lock, site: Site) -> None:
        for h in ctx.held:
            if h.lock is lock:
                return
        r = Report("WARNING: bad unlock balance detected!", "lockdep")
        r.add("releasing", f"{lock.name} at {site.name}, which {ctx.name} does not hold")
        r.add("held locks", self._held(ctx))
        raise KernelReport(r)

    def might_sleep(self, ctx: Ctx, site: Site) -> None:
        if not (ctx.preempt_count or ctx.irq_disabled or ctx.rcu_nesting):
            return
        r = Report("BUG: sleeping function called from invalid context", "lockdep")
        r.add("at", site.name)
        r.add("state", f"in_atomic(): {int(ctx.preempt_count > 0)}, irqs_disabled(): "
                       f"{int(ctx.irq_disabled > 0)}, rcu nesting: {ctx.rcu_nesting}")
        r.add("held locks", self._held(ctx))
        raise KernelReport(r)

    def user_return(self, ctx: Ctx, what) -> None:
        if not ctx.held and not ctx.irq_disabled:
            return
        r = Report("WARNING: lock held when returning to user space!", "lockdep")
        r.add("operation", what)
        r.add("held locks", self._held(ctx))
        if ctx.irq_disabled:
            r.add("irqs", f"disabled (nesting {ctx.irq_disabled})")
        raise KernelReport(r)


def install(kernel: Kernel) -> Lockdep:
    return Lockdep().install(kernel)
