"""Bounded exhaustive exploration: every distinct run of a deterministic program.

``run_once(source, strategy) -> RunResult`` builds a fresh engine with the given source and
strategy, spawns the program's threads and runs it. :func:`explore` drives it with an
odometer over the choice stream, so each distinct sequence of answers (schedule choices
within the preemption bound, and every data choice) runs exactly once.
"""

from __future__ import annotations

from .choices import OdometerSource, next_prefix
from .strategies.bounded import Bounded

__all__ = ["explore"]


def explore(run_once, bound: int | None = None, limit: int | None = None):
    """Yield the result of every distinct run, depth-first; stop after ``limit`` runs."""
    prefix: list[int] | None = []
    n = 0
    while prefix is not None:
        src = OdometerSource(prefix)
        yield run_once(src, Bounded(bound))
        n += 1
        if limit is not None and n >= limit:
            return
        prefix = next_prefix(src.values, src.bounds)
