"""Replay by site: "run thread T until it reaches site S", line by line, then the default.

A schedule is a list of :class:`ScheduleLine`. ``T until S`` runs T for at least one step
and stops when T's pending site is S (the ``count``-th time, default the first), that is
just *before* T performs S. ``T finish`` runs T to its end. When the lines are used up,
the ``fallback`` strategy (a random walk over the engine's source, so an exhausted source
gives the default choices) takes over.

Sites, not step counts, make a schedule survive unrelated changes to the model; when it
does not survive (the thread finishes, blocks, or does not exist), the strategy records a
:class:`Drift` naming the line and the site, abandons the remaining lines and continues
with the default, so the caller can say exactly where and whether the title still fired.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..thread import DONE, WAITING
from ..traps import Site
from .base import Strategy
from .random_walk import RandomWalk

__all__ = ["Replay", "ScheduleLine", "Drift"]


@dataclass(frozen=True)
class ScheduleLine:
    thread: str
    site: Site | None          # None: run the thread to its end
    count: int = 1
    lineno: int = 0            # where the line came from, for drift messages

    def text(self) -> str:
        if self.site is None:
            return f"{self.thread} finish"
        suffix = f" x{self.count}" if self.count != 1 else ""
        return f"{self.thread} until {self.site.name}{suffix}"


@dataclass(frozen=True)
class Drift:
    line: ScheduleLine
    reason: str

    def message(self) -> str:
        where = f"line {self.line.lineno}: " if self.line.lineno else ""
        return f"schedule drift at {where}'{self.line.text()}': {self.reason}"


class Replay(Strategy):
    name = "replay"

    def __init__(self, lines, fallback: Strategy | None = None):
        self.lines = list(lines)
        self.fallback = fallback if fallback is not None else RandomWalk()

    def attach(self, engine) -> None:
        super().attach(engine)
        self.fallback.attach(engine)
        self.pos = 0
        self.stepped = 0
        self.hits = 0
        self.drift: Drift | None = None

    def _advance(self) -> None:
        self.pos += 1
        self.stepped = 0
        self.hits = 0

    def _drift(self, line: ScheduleLine, reason: str) -> None:
        self.drift = Drift(line, reason)
        self.pos = len(self.lines)

    def pick(self, runnable, cur, keep):
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            try:
                t = self.engine.thread(line.thread)
            except KeyError:
                self._drift(line, f"there is no thread {line.thread}")
                break
            if self.stepped and line.site is not None and t.pending is line.site:
                self.hits += 1
                if self.hits >= line.count:
                    self._advance()
                    continue
            if t.state is DONE:
                if line.site is None:
                    self._advance()
                    continue
                self._drift(line, f"{t.name} finished without reaching {line.site.name}")
                break
            if t.state is WAITING:
                self._drift(line, f"{t.name} blocked at {t.pending.name} "
                                  f"(waiting on {t.waitq.name})")
                break
            self.stepped += 1
            return t
        return self.fallback.pick(runnable, cur, keep)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.lines)
