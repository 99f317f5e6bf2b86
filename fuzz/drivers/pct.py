"""The PCT driver: generated programs under probabilistic concurrency testing (Burckhardt
et al., ASPLOS 2010): random thread priorities and d-1 priority change points among the
first k steps. A bug of depth d is hit with probability at least 1/(n k^(d-1)) per run.

k is the number of steps the run will take; it is not known in advance, so the driver
estimates it online as the 90th percentile of the steps the program threads took in the
last runs (the teardown's steps cannot matter for a race between them). A bound, not a
median: a change point can only fall among the first k steps, and the window of a race
is often late in a long operation (khugepaged's retraction comes after the whole
collapse). The depth is drawn per
run, 2 or 3: most page-table races need one well-placed preemption, a few two.
"""

from __future__ import annotations

from collections import deque
from statistics import quantiles

from core.sim import RandomSource
from core.sim.strategies import PCT

from ..target import derive_seed
from .base import StreamDriver

__all__ = ["PctDriver"]


class PctDriver(StreamDriver):
    name = "pct"

    def __init__(self, target, seed: int, depths=(2, 3), k: int | None = None,
                 window: int = 64):
        super().__init__(target, seed)
        self.depths = tuple(depths)
        self.fixed_k = k
        self.recent: deque[int] = deque([300], maxlen=window)

    def k(self) -> int:
        if self.fixed_k is not None:
            return self.fixed_k
        if len(self.recent) < 2:
            return self.recent[0]
        return max(8, int(quantiles(self.recent, n=10)[-1]))

    def cases(self):
        i = 0
        while True:
            src = RandomSource(derive_seed(self.seed, self.name, i))
            depth = self.depths[src.choose(len(self.depths), "pct_depth")]
            case = self.target.run(src, PCT(depth=depth, k=self.k()))
            self.recent.append(case.threads_steps)
            yield case
            i += 1

    def describe(self) -> str:
        ds = "|".join(map(str, self.depths))
        how = "fixed" if self.fixed_k is not None else "estimated online"
        return f"pct (d={ds}, k={self.k()} {how}; n = the run's threads)"
