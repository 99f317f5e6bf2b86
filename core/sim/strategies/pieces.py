"""Run-length schedules: "run T1 for 12 steps, then T0 for 3, ...", then the default.

The Hypothesis driver draws schedules in coarse pieces (one draw per piece, not per
step: a Hypothesis draw costs tens of microseconds), and shrinks them as a list. A piece
ends early when its thread blocks, finishes or is held back after a retry; a piece for a
thread that cannot run now is skipped. After the pieces, the ``fallback`` decides (by
default a random walk over the engine's source, which an exhausted source turns into
"keep running the current thread").
"""

from __future__ import annotations

from .base import Strategy
from .random_walk import RandomWalk

__all__ = ["Pieces"]


class Pieces(Strategy):
    name = "pieces"

    def __init__(self, pieces, fallback: Strategy | None = None):
        self.pieces = [(name, steps) for name, steps in pieces if steps > 0]
        self.fallback = fallback if fallback is not None else RandomWalk()

    def attach(self, engine) -> None:
        super().attach(engine)
        self.fallback.attach(engine)
        self.pos = 0
        self.left = self.pieces[0][1] if self.pieces else 0

    def _next_piece(self) -> None:
        self.pos += 1
        self.left = self.pieces[self.pos][1] if self.pos < len(self.pieces) else 0

    def pick(self, runnable, cur, keep):
        while self.pos < len(self.pieces):
            name = self.pieces[self.pos][0]
            t = next((x for x in runnable if x.name == name), None)
            if t is None or self.left <= 0:
                self._next_piece()
                continue
            self.left -= 1
            return t
        return self.fallback.pick(runnable, cur, keep)

    def describe(self) -> str:
        return "pieces(" + ", ".join(f"{n}x{s}" for n, s in self.pieces) + ")"
