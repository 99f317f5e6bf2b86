"""Time to bug: per public bug and per driver, N trials with different seeds, each capped;
the fraction found, the median and spread of executions and of seconds (benchmarks.md,
item 3: the FuzzBench/SCTBench way: many trials, medians, one budget for all)."""

from __future__ import annotations

import statistics
import time

from core.bugs import REGISTRY, BugSet

from ..drivers import Budget, make_driver
from ..target import Target

__all__ = ["time_to_bug"]


def _spread(vals):
    vals = sorted(vals)
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1]}


def time_to_bug(driver: str, bug: str, trials: int, cap: float, first_seed: int = 1,
                progress=None, keep=None) -> dict:
    """``keep(seed, case, executions)`` is called with each trial's failing case."""
    runs = []
    for seed in range(first_seed, first_seed + trials):
        t0 = time.perf_counter()
        case, stats = make_driver(driver, Target(BugSet.parse([bug])), seed).search(
            Budget(seconds=cap))
        dt = time.perf_counter() - t0
        found = case is not None and REGISTRY[bug].produces(case.outcome.title)
        if found and keep is not None:
            keep(seed, case, stats.executions)
        runs.append({"seed": seed, "found": found, "executions": stats.executions,
                     "seconds": dt, "title": case.outcome.title if case else None})
        if progress is not None:
            progress(f"{driver} {bug} seed {seed}: "
                     + (f"found after {stats.executions:,} in {dt:.1f} s" if found
                        else "not found"))
    hits = [r for r in runs if r["found"]]
    return {"found": len(hits), "trials": len(runs), "fraction": len(hits) / len(runs),
            "executions": _spread([r["executions"] for r in hits]),
            "seconds": _spread([r["seconds"] for r in hits]), "runs": runs}
