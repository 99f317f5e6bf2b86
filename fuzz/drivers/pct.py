"""The PCT driver: generated programs under probabilistic concurrency testing (Burckhardt
et al., ASPLOS 2010): random thread priorities and d-1 priority change points among the
first k steps. A bug of depth d is hit with probability at least 1/(n k^(d-1)) per run.

k is the number of steps the run will take; it is not known in advance, so the driver
estimates it per program, before the run, as the sum of the learned lengths of its
operations (each operation kind's mean steps, learned online from the threads of past
runs; the teardown's steps cannot matter for a race between the threads). A bound, not a
typical run: a change point can only fall among the first k steps, and the window of a
race is often late in a long operation (khugepaged's retraction comes after the whole
collapse); but not a loose one either, as the chance to hit a window falls as 1/k. The
depth is drawn per run, 2 or 3: most page-table races need one well-placed preemption, a
few two.
"""

from __future__ import annotations

from core.sim import RandomSource
from core.sim.strategies import PCT

from core.program.program import run_program

from ..target import Case, derive_seed
from .base import StreamDriver

__all__ = ["PctDriver"]


class OpLengths:
    """Mean steps per operation kind, learned from the program threads of past runs (a
    thread's steps shared equally among its operations)."""

    def __init__(self, default: float = 60.0, weight: float = 0.05):
        self.mean: dict[str, float] = {}
        self.default = default
        self.weight = weight

    def estimate(self, prog) -> int:
        return int(sum(self.mean.get(op.name, self.default)
                       for t in prog.threads for op in t.ops))

    def learn(self, case) -> None:
        trace, start = case.outcome.trace, case.outcome.start
        per: dict[int, int] = {}
        names = trace.names
        threads = {t.name: t for t in case.program.threads}
        for tid, _ in trace.steps[start:]:
            if names[tid] == "teardown":
                break
            per[tid] = per.get(tid, 0) + 1
        for tid, n in per.items():
            t = threads.get(names[tid])
            if t is None or not t.ops:
                continue
            share = n / len(t.ops)
            for op in t.ops:
                m = self.mean.get(op.name)
                self.mean[op.name] = share if m is None else m + self.weight * (share - m)


class PctDriver(StreamDriver):
    name = "pct"

    def __init__(self, target, seed: int, depths=(2, 3), k: int | None = None):
        super().__init__(target, seed)
        self.depths = tuple(depths)
        self.fixed_k = k
        self.lengths = OpLengths()

    def k_for(self, prog) -> int:
        if self.fixed_k is not None:
            return self.fixed_k
        return max(8, self.lengths.estimate(prog))

    def cases(self):
        i = 0
        while True:
            src = RandomSource(derive_seed(self.seed, self.name, i))
            depth = self.depths[src.choose(len(self.depths), "pct_depth")]
            prog = self.target.program(src)
            strategy = PCT(depth=depth, k=self.k_for(prog))
            case = Case(prog, run_program(prog, src, strategy), strategy.describe())
            self.lengths.learn(case)
            yield case
            i += 1

    def describe(self) -> str:
        ds = "|".join(map(str, self.depths))
        how = (f"fixed k={self.fixed_k}" if self.fixed_k is not None
               else "k per program from the learned lengths of its operations")
        return f"pct (d={ds}, {how}; n = the run's threads)"
