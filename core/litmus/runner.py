"""Run litmus programs: once under a strategy, under a hand-written schedule, or
exhaustively."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..machine import Machine
from ..sim import explore, lookup_site
from ..sim.choices import ReplaySource
from ..sim.strategies import Replay, ScheduleLine
from .programs import LITMUS, Litmus

__all__ = ["run_litmus", "run_schedule", "explore_litmus", "Exploration", "get"]


def get(name: str) -> Litmus:
    try:
        return LITMUS[name]
    except KeyError:
        raise KeyError(f"unknown litmus program {name!r} (known: {', '.join(LITMUS)})") from None


def run_litmus(lit: Litmus, source, strategy, config=None):
    m = Machine(source, strategy, config=config, checkers=lit.checkers)
    state = lit.setup(m)
    for name, fn in lit.threads:
        m.spawn(name, fn, state, what=f"{lit.name}:{name}")
    res = m.run()
    if res.report is None and lit.final is not None:
        res.final = lit.final(state)
    return res


def schedule_lines(pairs) -> list[ScheduleLine]:
    """Lines from ``(thread, site or None[, count])`` tuples."""
    return [ScheduleLine(p[0], lookup_site(p[1]) if p[1] is not None else None,
                         p[2] if len(p) > 2 else 1, i + 1)
            for i, p in enumerate(pairs)]


def run_schedule(lit: Litmus, name: str, config=None):
    """Run one of the program's hand-written schedules; returns (result, strategy) so the
    caller can look at drift."""
    pairs, _ = lit.schedules[name]
    strategy = Replay(schedule_lines(pairs))
    return run_litmus(lit, ReplaySource([]), strategy, config), strategy


@dataclass
class Exploration:
    runs: int
    outcomes: Counter
    complete: bool

    def missing(self, lit: Litmus) -> set:
        return {o for o in lit.reachable if o not in self.outcomes}

    def forbidden(self, lit: Litmus) -> set:
        return {o for o in lit.never if o in self.outcomes}


def explore_litmus(lit: Litmus, bound: int | None = None, limit: int | None = 100_000,
                   config=None) -> Exploration:
    bound = lit.bound if bound is None else bound
    outcomes: Counter = Counter()
    n = 0
    for res in explore(lambda src, strat: run_litmus(lit, src, strat, config), bound, limit):
        outcomes[res.title] += 1
        n += 1
    return Exploration(n, outcomes, limit is None or n < limit)
