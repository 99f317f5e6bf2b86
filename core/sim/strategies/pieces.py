"""Schedules in coarse pieces: "run T1 for 12 steps", "run T0 until it is about to take
site S for the 2nd time", ..., then the fallback.

The Hypothesis driver draws schedules in pieces (one draw per piece, not per step: a
Hypothesis draw costs tens of microseconds), and shrinks them as a list. A piece is

* ``(thread, steps)``: run the thread for that many steps, or
* ``(thread, site, nth)``: run the thread until its pending site is ``site`` and it has
  taken that site ``nth - 1`` times since it started (so it stops just *before* the
  ``nth`` time; counted from the thread's start, not from the piece's, so a piece keeps
  its meaning when the pieces before it change). A piece whose target the thread has
  already passed is skipped.

A piece also ends when its thread blocks, finishes or is held back after a retry; a
piece for a thread that cannot run now is skipped. After the pieces the ``fallback``
decides (by default a random walk over the engine's source, which an exhausted source
turns into "keep running the current thread"). With ``others_first``, the thread of the
last piece is held back while another thread can run: a piece that stops a thread before
a site is a preemption there, not a pause the fallback undoes at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Strategy
from .random_walk import RandomWalk

if TYPE_CHECKING:
    from ..traps import Site

__all__ = ["Pieces"]


class Pieces(Strategy):
    name = "pieces"

    def __init__(self, pieces, fallback: Strategy | None = None,
                 others_first: bool = False) -> None:
        self.pieces = [p for p in pieces if len(p) == 3 or p[1] > 0]
        self.fallback = fallback if fallback is not None else RandomWalk()
        self.others_first = others_first

    def attach(self, engine) -> None:
        super().attach(engine)
        self.fallback.attach(engine)
        self.pos = -1
        self.left = 0
        self.seen = 0           # engine steps already looked at for the current piece
        self.taken = 0          # how often its thread took its site in those steps
        self.held = None                    # the last piece's thread, after the pieces
        self._next_piece()

    def _next_piece(self) -> None:
        self.pos += 1
        if self.pos < len(self.pieces):
            piece = self.pieces[self.pos]
            self.left = piece[1] if len(piece) == 2 else -1
            self.seen = 0
            self.taken = 0
        elif self.others_first and self.pieces:
            self.held = self.pieces[-1][0]

    def _reached(self, t, site: Site, nth: int) -> bool:
        """Whether ``t`` stands before its ``nth`` take of ``site``, or is past it."""
        steps = self.engine.steps
        tid = t.tid
        for i in range(self.seen, len(steps)):      # only the steps since the last look
            if steps[i][0] == tid and steps[i][1] is site:
                self.taken += 1
        self.seen = len(steps)
        return self.taken >= nth or (self.taken == nth - 1 and t.pending is site)

    def pick(self, runnable, cur, keep):
        pieces = self.pieces
        while self.pos < len(pieces):
            piece = pieces[self.pos]
            t = None
            for x in runnable:
                if x.name == piece[0]:
                    t = x
                    break
            if t is None or (self.left == 0 if len(piece) == 2
                             else self._reached(t, piece[1], piece[2])):
                self._next_piece()
                continue
            self.left -= 1
            return t
        held = self.held
        if held is not None and len(runnable) > 1:
            others = [x for x in runnable if x.name != held]
            if len(others) < len(runnable):
                return self.fallback.pick(others, cur, keep and cur in others)
        return self.fallback.pick(runnable, cur, keep)

    def describe(self) -> str:
        def one(p):
            if len(p) == 2:
                return f"{p[0]}x{p[1]}"
            return f"{p[0]} until {p[1].name}" + (f" x{p[2]}" if p[2] != 1 else "")
        return "pieces(" + ", ".join(one(p) for p in self.pieces) + ")"
