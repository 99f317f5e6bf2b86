"""Replay by site: "run thread T until it reaches site S", line by line, then the default.

A schedule is a list of :class:`ScheduleLine`. ``T until S`` runs T for at least one step
and stops when T's pending site is S (the ``count``-th time, default the first), that is
just *before* T performs S. ``T finish`` runs T to its end. While T waits at a retry that
only another CPU's step can change, the others take the default steps and the line holds.
When the lines are used up, the ``fallback`` strategy (a random walk over the engine's
source, so an exhausted source gives the default choices) takes over.

Sites, not step counts, make a schedule survive unrelated changes to the model; when it
does not survive (the thread finishes, blocks, or does not exist), the strategy records a
:class:`Drift` naming the line and the site, abandons the remaining lines and continues
with the default, so the caller can say exactly where and whether the title still fired.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..thread import DONE, WAITING
from ..traps import Site
from .base import Strategy
from .random_walk import RandomWalk

__all__ = ["Replay", "ScheduleLine", "ForceChoice", "Drift"]


@dataclass(frozen=True)
class ScheduleLine:
    thread: str
    site: Site | None          # None: run the thread to its end
    count: int = 1
    # Where the line came from, for drift messages (not part of what the line means).
    lineno: int = field(default=0, compare=False)

    def text(self) -> str:
        if self.site is None:
            return f"{self.thread} finish"
        suffix = f" x{self.count}" if self.count != 1 else ""
        return f"{self.thread} until {self.site.name}{suffix}"


@dataclass(frozen=True)
class ForceChoice:
    """``T choose LABEL=V``: the next data choice labelled LABEL that thread T draws
    answers V (several lines for one label answer its successive draws)."""

    thread: str
    label: str
    value: int
    lineno: int = field(default=0, compare=False)

    def text(self) -> str:
        return f"{self.thread} choose {self.label}={self.value}"


@dataclass(frozen=True)
class Drift:
    line: ScheduleLine | ForceChoice
    reason: str

    def message(self) -> str:
        where = f"line {self.line.lineno}: " if self.line.lineno else ""
        return f"schedule drift at {where}'{self.line.text()}': {self.reason}"


class Replay(Strategy):
    name = "replay"

    def __init__(self, lines, fallback: Strategy | None = None, directives=()) -> None:
        self.lines = list(lines)
        self.directives = list(directives)
        self.fallback = fallback if fallback is not None else RandomWalk()

    def attach(self, engine) -> None:
        super().attach(engine)
        self.fallback.attach(engine)
        self.pos = 0
        self.stepped = 0
        self.hits = 0
        self.drift: Drift | None = None
        self.forced: dict = {}
        for d in self.directives:
            self.forced.setdefault((d.thread, d.label), deque()).append(d)
        if self.forced:
            self._source_choose = engine.choose
            engine.choose = self._choose

    def _choose(self, n: int, label: str = "") -> int:
        """Data choices: a forced answer for the running thread, else the source's."""
        t = self.engine.running
        q = self.forced.get((t.name, label)) if t is not None else None
        if q:
            d = q.popleft()
            v = d.value
            if not 0 <= v < n:
                # Never clamped silently: the schedule no longer fits the program.
                if self.drift is None:
                    self.drift = Drift(d, f"{t.name} drew {label} with {n} choices, so "
                                          f"{v} is out of range")
                v = 0
            engine = self.engine
            engine.source.record(n, v, label)
            if n > 1:
                engine.data_choices.append((len(engine.steps) - 1, label, v))
            return v
        return self._source_choose(n, label)

    def finish(self) -> None:
        """After the run: a ``choose`` line no draw consumed is drift too (an unknown
        label, another thread's, or more lines than draws)."""
        if self.drift is not None:
            return
        for (thread, label), q in self.forced.items():
            if q:
                self.drift = Drift(q[0], f"{thread} never drew {label} (again)")
                return

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
            if t not in runnable:
                # At a retry with nothing changed (the engine's retry rule): another CPU
                # must move first, as a spinning CPU waits for the others. The line holds;
                # this one step is the default choice among the others.
                return self.fallback.pick(runnable, cur, keep)
            self.stepped += 1
            return t
        return self.fallback.pick(runnable, cur, keep)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.lines)
