"""The dfs driver: bounded-preemption exhaustive search (as CHESS and loom do) over each
generated program in turn: every schedule with at most ``bound`` preemptions and at most
one data choice off its default (an allocation failure, ``need_resched()``) runs exactly
once (an odometer over the choice stream, :class:`~core.sim.explore.ScheduleOdometer`),
up to ``limit`` runs per program; then the next program. It finds the bugs whose
interleaving fits the bound in the programs it reaches; it is for small programs and
exact answers, not for speed, so its programs are small: two threads of one operation
each (the shape of every reproducer in the regression corpus, on which
``tests/quality/test_dfs_reproducers.py`` shows it finds each public bug)."""

from __future__ import annotations

from core.program.program import run_program
from core.sim import RandomSource
from core.sim.explore import ScheduleOdometer, explore

from ..target import Case, derive_seed
from .base import StreamDriver

__all__ = ["DfsDriver"]


class DfsDriver(StreamDriver):
    name = "dfs"

    def __init__(self, target, seed: int, bound: int = 1, limit: int = 2000):
        super().__init__(target, seed)
        self.bound = bound
        self.limit = limit

    def cases(self):
        i = 0
        while True:
            src = RandomSource(derive_seed(self.seed, self.name, i))
            prog = self.target.program(src, max_threads=2, max_ops=1)

            def run_once(src, strategy, prog=prog):
                return Case(prog, run_program(prog, src, strategy), strategy.describe())

            yield from explore(run_once, bound=self.bound, limit=self.limit,
                               source=ScheduleOdometer)
            i += 1

    def describe(self) -> str:
        return (f"dfs (preemption bound {self.bound}, one data choice off its default, at "
                f"most {self.limit} runs a program)")
