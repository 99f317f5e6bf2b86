"""What every driver shares: the budget, the statistics and the search loop.

A stream driver is an iterator of executions (:class:`~fuzz.target.Case`); the loop runs
it until the budget is spent or a case reports, keeping counts a progress line and the
benchmarks read. Hypothesis and atheris own their loops, so they implement ``search``
themselves and report through the same :class:`Stats`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Budget", "Stats", "Driver", "StreamDriver"]


@dataclass(frozen=True)
class Budget:
    """At most ``seconds`` of wall time and at most ``runs`` executions (None: no
    limit on that axis)."""

    seconds: float | None = None
    runs: int | None = None

    def spent(self, stats: Stats) -> bool:
        if self.runs is not None and stats.executions >= self.runs:
            return True
        return self.seconds is not None and stats.elapsed() >= self.seconds


@dataclass
class Stats:
    executions: int = 0
    steps: int = 0
    titles: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    observer: object = None          # called with every case (a campaign's coverage)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def add(self, case) -> None:
        self.executions += 1
        self.steps += case.outcome.nsteps
        if case.found:
            self.titles[case.outcome.title] += 1
        if self.observer is not None:
            self.observer(case)

    def line(self) -> str:
        t = max(self.elapsed(), 1e-9)
        return (f"{self.executions:,} execs ({self.executions / t:,.0f}/s), "
                f"{self.steps / t:,.0f} steps/s, {len(self.titles)} distinct reports")


class Driver:
    """A search over the target. ``search(budget, progress)`` returns the first failing
    :class:`~fuzz.target.Case` (or None) and the statistics; ``progress(stats)`` is
    called now and then."""

    name = "driver"
    observer = None      # called with every case, where the driver sees them in-process

    def __init__(self, target, seed: int):
        self.target = target
        self.seed = seed

    def describe(self) -> str:
        return self.name

    def search(self, budget: Budget, progress=None):
        raise NotImplementedError


class StreamDriver(Driver):
    """A driver that is an iterator of executions."""

    def cases(self):
        raise NotImplementedError

    def search(self, budget: Budget, progress=None):
        stats = Stats(observer=self.observer)
        every = 64
        for case in self.cases():
            stats.add(case)
            if case.found:
                return case, stats
            if stats.executions % every == 0:
                if progress is not None:
                    progress(stats)
                if budget.spent(stats):
                    break
            elif budget.runs is not None and stats.executions >= budget.runs:
                break
        return None, stats
