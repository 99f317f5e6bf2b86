"""The bare-engine ceiling: scheduling steps per second with threads that only yield.

This is the upper bound a Python engine of this design can reach on the machine; the full
model's throughput is compared with it in the same run. A plain generator round-robin
(no engine at all) is measured next to it as the floor of interpretation cost.
"""

from __future__ import annotations

import random
import time

from core.sim import Engine, RandomSource, site
from core.sim.strategies import PCT, RandomWalk

__all__ = ["plain_round_robin", "bare_engine", "measure"]

S_STEP = site("bench_thread:step")


def _yields(n):
    def body(thread):
        for _ in range(n):
            yield S_STEP
    return body


def plain_round_robin(threads: int = 2, steps: int = 200_000) -> float:
    """Generators resumed in a seeded random order, no engine: steps per second."""
    def gen(n):
        for _ in range(n):
            yield S_STEP
    gens = [gen(steps) for _ in range(threads)]
    pick = random.Random(1).getrandbits
    n = 0
    t0 = time.perf_counter()
    while gens:
        g = gens[pick(8) % len(gens)]
        try:
            next(g)
            n += 1
        except StopIteration:
            gens.remove(g)
    return n / (time.perf_counter() - t0)


def bare_engine(strategy: str = "random", threads: int = 2, steps: int = 200_000,
                seed: int = 1) -> float:
    """The engine with a strategy and trace recording, threads that only yield."""
    strat = RandomWalk() if strategy == "random" else PCT(depth=3, k=threads * steps)
    e = Engine(RandomSource(seed), strat, step_bound=threads * steps + 10)
    for i in range(threads):
        e.spawn(f"T{i}", _yields(steps))
    t0 = time.perf_counter()
    res = e.run()
    dt = time.perf_counter() - t0
    return res.nsteps / dt


def measure(repeats: int = 3, steps: int = 200_000) -> dict:
    """Medians over ``repeats`` of each figure."""
    def med(f):
        vals = sorted(f() for _ in range(repeats))
        return vals[len(vals) // 2]
    return {
        "plain_round_robin_steps_per_s": med(lambda: plain_round_robin(2, steps)),
        "bare_engine_random_steps_per_s": med(lambda: bare_engine("random", 2, steps)),
        "bare_engine_pct_steps_per_s": med(lambda: bare_engine("pct", 2, steps)),
        "bare_engine_random_4_threads_steps_per_s":
            med(lambda: bare_engine("random", 4, steps // 2)),
    }
