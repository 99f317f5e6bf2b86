"""Bounded exhaustive exploration: every distinct run of a deterministic program.

``run_once(source, strategy) -> RunResult`` builds a fresh engine with the given source and
strategy, spawns the program's threads and runs it. :func:`explore` drives it with an
odometer over the choice stream, so each distinct sequence of answers (schedule choices
within the preemption bound, and every data choice) runs exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .choices import OdometerSource, next_prefix
from .strategies.bounded import Bounded


__all__ = ["explore", "ScheduleOdometer"]


class ScheduleOdometer(OdometerSource):
    """An odometer over the scheduling choices and at most ``data_bound`` data choices
    (an allocation failure, ``need_resched()``, ...) that differ from their default: once
    that many are non-zero, later data choices answer 0 and are not enumerated, so
    bounded search spends its runs on interleavings, as a preemption bound does."""

    data_bound = 1

    def __init__(self, prefix=()) -> None:
        super().__init__(prefix)
        self.nondefault = 0

    def choose(self, n: int, label: str = "") -> int:
        if label != "sched" and self.nondefault >= self.data_bound:
            return 0
        v = super().choose(n, label)
        if label != "sched" and v:
            self.nondefault += 1
        return v


def explore(run_once, bound: int | None = None, limit: int | None = None,
            source=OdometerSource) -> Iterator[Any]:
    """Yield the result of every distinct run, depth-first; stop after ``limit`` runs.
    ``source`` makes the odometer (:class:`ScheduleOdometer` leaves data choices at 0)."""
    prefix: list[int] | None = []
    n = 0
    while prefix is not None:
        src = source(prefix)
        yield run_once(src, Bounded(bound))
        n += 1
        if limit is not None and n >= limit:
            return
        prefix = next_prefix(src.values, src.bounds)
