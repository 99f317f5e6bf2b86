"""Bounded-preemption search (as in CHESS and loom): like the random walk, but once the
run has used ``bound`` preemptions the current thread keeps running until it blocks,
finishes or spins. A preemption is a switch away from a thread that could have kept
running; switches after a block, an exit or a retry are free.

Driven by an :class:`~core.sim.choices.OdometerSource` and
:func:`~core.sim.choices.next_prefix`, it enumerates every schedule with at most ``bound``
preemptions exactly once (see :func:`core.sim.explore.explore`)."""

from __future__ import annotations

from .base import Strategy, first_option

__all__ = ["Bounded"]


class Bounded(Strategy):
    name = "dfs"

    def __init__(self, bound: int | None) -> None:
        self.bound = bound

    def attach(self, engine) -> None:
        super().attach(engine)
        self.preemptions = 0

    def pick(self, runnable, cur, keep):
        n = len(runnable)
        if n == 1:
            return runnable[0]
        if keep and self.bound is not None and self.preemptions >= self.bound:
            return cur
        c = self.choose(n, "sched")
        if c == 0 and keep:
            return cur
        if keep:
            self.preemptions += 1
        return runnable[(first_option(runnable, cur, keep) + c) % n]

    def describe(self) -> str:
        return f"dfs(preemption bound {self.bound})"
