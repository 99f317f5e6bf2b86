"""Soak runs: many generated programs on the fixed model, none may report.

Used by the test suite (a few thousand runs), by ``scripts/soak.py`` and by the slow
test (a million runs, in worker processes). Every run draws its program and its schedule
from one seeded stream; even seeds use the random walk, odd seeds PCT.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

from ..sim import RandomSource
from ..sim.strategies import PCT, RandomWalk
from .generate import generate_program
from .kprog import dumps
from .program import run_program

__all__ = ["soak", "soak_parallel", "run_seed"]


def run_seed(seed: int):
    src = RandomSource(seed)
    prog = generate_program(src)
    strategy = RandomWalk() if seed % 2 == 0 else PCT(depth=3, k=400)
    return prog, run_program(prog, src, strategy)


def soak(start: int, count: int) -> dict:
    """Run seeds [start, start + count). Returns counts, steps, the first failure and,
    per report title, its first failing seed (so no distinct finding is lost)."""
    titles: Counter = Counter()
    steps = 0
    failures: dict[str, tuple] = {}
    t0 = time.perf_counter()
    for seed in range(start, start + count):
        prog, out = run_seed(seed)
        titles[out.title] += 1
        steps += out.nsteps
        if out.report is not None and out.title not in failures:
            failures[out.title] = (seed, dumps(prog), out.report.format())
    return {"titles": dict(titles), "steps": steps, "failures": failures,
            "first_failure": min(failures.values()) if failures else None,
            "seconds": time.perf_counter() - t0}


def soak_parallel(start: int, count: int, workers: int) -> dict:
    chunk = (count + workers - 1) // workers
    jobs = [(start + i * chunk, min(chunk, start + count - (start + i * chunk)))
            for i in range(workers) if i * chunk < count]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        parts = pool.starmap(soak, jobs)
    titles: Counter = Counter()
    for p in parts:
        titles.update(p["titles"])
    failures: dict[str, tuple] = {}
    for p in parts:                                  # in seed order: keep the first per title
        for title, f in p["failures"].items():
            failures.setdefault(title, f)
    return {"titles": dict(titles), "steps": sum(p["steps"] for p in parts),
            "failures": failures,
            "first_failure": min(failures.values()) if failures else None,
            "seconds": max(p["seconds"] for p in parts)}
