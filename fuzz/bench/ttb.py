"""Time to bug: per public bug and per driver, N trials with different seeds, each capped;
the fraction found, the median and spread of executions and of seconds (benchmarks.md,
item 3: the FuzzBench/SCTBench way: many trials, medians, one budget for all).

Trials are independent single-process searches, so ``jobs`` of them can run at once, one
per core (``ptfuzz bench --jobs 2``): each trial's seconds are its own process's."""

from __future__ import annotations

import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from core.bugs import REGISTRY, BugSet

from ..drivers import Budget, make_driver
from ..findings import make_finding
from ..target import Target

__all__ = ["trial", "summary", "time_to_bug", "time_to_bugs"]


def _spread(vals):
    vals = sorted(vals)
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1]}


def trial(driver: str, bug: str, seed: int, cap: float) -> dict:
    """One capped search. A found bug's first failing case comes back as ``.kprog`` text
    (``finding``), which crosses process boundaries and feeds the reproducer sizes."""
    t0 = time.perf_counter()
    case, stats = make_driver(driver, Target(BugSet.parse([bug])), seed).search(
        Budget(seconds=cap))
    dt = time.perf_counter() - t0
    found = case is not None and REGISTRY[bug].produces(case.outcome.title)
    return {"driver": driver, "bug": bug, "seed": seed, "found": found,
            "executions": stats.executions, "seconds": dt,
            "title": case.outcome.title if case else None,
            "finding": make_finding(case, f"{driver} seed {seed}").text() if found else None}


def summary(runs: list) -> dict:
    hits = [r for r in runs if r["found"]]
    return {"found": len(hits), "trials": len(runs), "fraction": len(hits) / len(runs),
            "executions": _spread([r["executions"] for r in hits]),
            "seconds": _spread([r["seconds"] for r in hits]),
            "runs": [{k: r[k] for k in ("seed", "found", "executions", "seconds", "title")}
                     for r in runs]}


def _describe(r: dict) -> str:
    return (f"{r['driver']} {r['bug']} seed {r['seed']}: "
            + (f"found after {r['executions']:,} in {r['seconds']:.1f} s" if r["found"]
               else "not found"))


def time_to_bugs(tasks: list, cap: float, jobs: int = 1, progress=None) -> list:
    """Run ``tasks`` ((driver, bug, seed) each), ``jobs`` at a time; results in task
    order."""
    if jobs <= 1:
        out = []
        for d, b, s in tasks:
            out.append(trial(d, b, s, cap))
            if progress is not None:
                progress(_describe(out[-1]))
        return out
    # Fresh interpreters (spawn): a trial must not inherit another's state.
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        futures = [ex.submit(trial, d, b, s, cap) for d, b, s in tasks]
        out = []
        for f in futures:
            out.append(f.result())
            if progress is not None:
                progress(_describe(out[-1]))
        return out


def time_to_bug(driver: str, bug: str, trials: int, cap: float, first_seed: int = 1,
                progress=None, jobs: int = 1) -> dict:
    """``trials`` seeds from ``first_seed`` for one driver and bug."""
    tasks = [(driver, bug, s) for s in range(first_seed, first_seed + trials)]
    return summary(time_to_bugs(tasks, cap, jobs, progress))
