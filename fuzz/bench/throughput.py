"""Throughput per driver on the fixed model (each driver's own generated programs, every
checker on), and the cost of each checker on a fixed, seeded mix of generated programs
(benchmarks.md, items 1 and 2)."""

from __future__ import annotations

import time

from core.checks import CHECKERS
from core.program.program import run_program
from core.sim import RandomSource
from core.sim.strategies import RandomWalk

from ..drivers import Budget, make_driver
from ..target import Target, derive_seed

__all__ = ["driver_throughput", "checker_costs", "standard_mix", "DRIVER_VARIANTS"]

# (label, driver name, keyword arguments)
DRIVER_VARIANTS = (
    ("random", "random", {}), ("pct", "pct", {}), ("dfs", "dfs", {}),
    ("hypothesis", "hypothesis", {}), ("atheris", "atheris", {}),
    ("atheris-uninstrumented", "atheris", {"instrument": False}),
)


def driver_throughput(label: str, name: str, seconds: float, seed: int = 12345,
                      **kw) -> dict:
    driver = make_driver(name, Target(), seed)
    for k, v in kw.items():
        setattr(driver, k, v)
    case, stats = driver.search(Budget(seconds=seconds))
    t = max(stats.elapsed(), 1e-9)
    return {"driver": label, "seconds": t, "executions": stats.executions,
            "steps": stats.steps, "executions_per_s": stats.executions / t,
            "steps_per_s": stats.steps / t, "reports": sum(stats.titles.values())}


def standard_mix(n: int = 200, seed: int = 1) -> list:
    """``n`` generated programs with the seed of their run: the same on every machine."""
    target = Target()
    out = []
    for i in range(n):
        s = derive_seed(seed, "mix", i)
        prog = target.program(RandomSource(s))
        out.append((prog, s))
    return out


def _run_mix(mix, checkers, seconds: float) -> float:
    """Steps per second running the mix (repeatedly, for about ``seconds``)."""
    steps, t0 = 0, time.perf_counter()
    while True:
        for prog, s in mix:
            src = RandomSource(s)
            src.choose(2)                  # a stream apart from the generation's
            steps += run_program(prog, src, RandomWalk(), checkers=checkers).nsteps
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return steps / dt


def checker_costs(seconds: float = 3.0, n: int = 100) -> dict:
    """Steps per second with every checker, with none, and with each one alone off; the
    cost of a checker is (all but it) / (all), of them all (none) / (all)."""
    mix = standard_mix(n)
    names = list(CHECKERS)
    every = _run_mix(mix, names, seconds)
    none = _run_mix(mix, [], seconds)
    out = {"all_steps_per_s": every, "none_steps_per_s": none, "all_cost": none / every,
           "each": {}}
    for name in names:
        without = _run_mix(mix, [c for c in names if c != name], seconds)
        out["each"][name] = {"without_steps_per_s": without, "cost": without / every}
    return out
