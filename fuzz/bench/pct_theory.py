"""PCT against its theory (benchmarks.md, item 4): on each bug's regression reproducer
(its schedule dropped), the observed probability that one PCT run hits the bug, next to
Burckhardt et al.'s bound 1/(n k^(d-1)) for the run's threads n, steps k and the bug's
depth d (its minimized reproducer's preemptions plus one)."""

from __future__ import annotations

import os
from dataclasses import replace

from core.bugs import PUBLIC, REGISTRY
from core.program.kprog import load
from core.program.minimize import size_of
from core.program.program import run_program
from core.sim import RandomSource
from core.sim.strategies import PCT

from ..target import Case

__all__ = ["pct_against_bound"]

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "corpus", "regressions")


def pct_against_bound(runs: int = 1000, bugs=None) -> dict:
    out = {}
    for bug in bugs or PUBLIC:
        path = os.path.join(CORPUS, bug + ".kprog")
        if not os.path.exists(path):
            continue
        prog = load(path)
        replay = run_program(prog)
        depth = size_of(prog, replay).preemptions + 1
        bare = replace(prog, schedule=None, choices=None)
        k = Case(bare, run_program(bare), "default").threads_steps
        n = len(prog.threads)
        hits = 0
        for s in range(runs):
            res = run_program(bare, RandomSource(s), PCT(depth=depth, k=k))
            hits += REGISTRY[bug].produces(res.title)
        out[bug] = {"n": n, "k": k, "d": depth, "runs": runs, "hits": hits,
                    "observed": hits / runs, "bound": 1.0 / (n * k ** (depth - 1))}
    return out
