"""The random driver: generated programs under the uniform random walk (AWS shuttle's
random scheduler), one independent seeded stream per execution."""

from __future__ import annotations

from core.sim import RandomSource
from core.sim.strategies import RandomWalk

from ..target import derive_seed
from .base import StreamDriver

__all__ = ["RandomDriver"]


class RandomDriver(StreamDriver):
    name = "random"

    def cases(self):
        i = 0
        while True:
            src = RandomSource(derive_seed(self.seed, self.name, i))
            yield self.target.run(src, RandomWalk())
            i += 1

    def describe(self) -> str:
        return "random (uniform random walk)"
