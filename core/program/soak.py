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
    """Run seeds [start, start + count). Returns counts, steps and the first failure."""
    titles: Counter = Counter()
    steps = 0
    first = None
    t0 = time.perf_counter()
    for seed in range(start, start + count):
        prog, out = run_seed(seed)
        titles[out.title] += 1
        steps += out.nsteps
        if out.report is not None and first is None:
            first = (seed, dumps(prog), out.report.format())
    return {"titles": dict(titles), "steps": steps, "first_failure": first,
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
    firsts = [p["first_failure"] for p in parts if p["first_failure"]]
    return {"titles": dict(titles), "steps": sum(p["steps"] for p in parts),
            "first_failure": min(firsts) if firsts else None,
            "seconds": max(p["seconds"] for p in parts)}
