"""How a generated operation's arguments are drawn: the thread's :class:`Scope`, the draw
context :class:`Draw` an operation's :class:`~.opspec.Gen` kinds use, and the named
draws they declare (``TOUCHED``, ``ANY_OFFSET``, ``WHOLE``, ``VALUE``).

Every draw is ``src.choose(n, "gen:label")`` on the run's one choice stream, 0 the
simplest answer (see generate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .opspec import Addr, Gen, Op

__all__ = ["Scope", "Draw", "pick_mapping", "draw_op", "TOUCHED", "TOUCHED_OR_FIXED",
           "ANY_OFFSET", "WHOLE", "VALUE"]


def pick_mapping(src, names: list, focus: str | None):
    """One of ``names`` (None if empty): the run's focus mapping three times in four when
    it is one of them, else uniformly."""
    if not names:
        return None
    if focus in names and src.choose(4, "gen:focus_pick") != 3:
        return focus
    return names[src.choose(len(names), "gen:mapping")]


@dataclass
class Scope:
    """What a thread's operations may target: its process's mappings by kind (a kernel
    thread's: every mapping), the run's focus mapping, and the offsets the setup touched
    (where pages are)."""

    own: list
    anon: list
    filemaps: list
    uffd: list
    n: int
    focus: str | None
    touched: dict
    uffd_src: str | None = None     # the uffd table the setup filled

    def offset(self, src, m: str) -> int:
        """An offset in ``m``: half the time one the setup touched (a page is there)."""
        pages = self.touched.get(m)
        if pages and src.choose(2, "gen:touched_offset"):
            return pages[src.choose(len(pages), "gen:touched_pick")]
        return src.choose(self.n, "gen:offset")

    def pick(self, src, names: list) -> str | None:
        """One of ``names``, the focus mapping most of the time (None if empty)."""
        return pick_mapping(src, names, self.focus)


class Draw:
    """The context of one operation's draws: the choice source, the thread's scope, the
    program's next value to write, and the mapping picked from the kind's targets."""

    def __init__(self, src, scope: Scope, value: int):
        self.src = src
        self.scope = scope
        self.value = value
        self.n = scope.n
        self.m: str | None = None

    def choose(self, n: int, label: str) -> int:
        return self.src.choose(n, label)

    def pick(self, names: list) -> str | None:
        return self.scope.pick(self.src, names)

    def offset(self, m: str) -> int:
        return self.scope.offset(self.src, m)


def TOUCHED(g: Draw) -> int:
    """An offset of the picked mapping, half the time one the setup touched."""
    return g.offset(g.m)


def TOUCHED_OR_FIXED(g: Draw) -> Addr:
    """``TOUCHED``'s offset; one time in eight as a fixed address (``@m0+3``): where
    that page was first mapped, which after a mremap or munmap is the old range."""
    return Addr(g.m, g.offset(g.m), g.choose(8, "gen:fixed_addr") == 7)


def ANY_OFFSET(g: Draw) -> int:
    return g.choose(g.n, "gen:offset")


def WHOLE(g: Draw) -> int:
    """A whole table's pages (MADV_DONTNEED of all of it is what makes PT reclaim run)."""
    return g.n


def VALUE(g: Draw) -> int:
    return g.value


def draw_op(kind: Gen, g: Draw) -> Op | None:
    """An operation of ``kind`` (None when nothing fits): its ``make``, or the mapping
    picked from its targets and then each field in text order, an address's offset by
    its draw (``TOUCHED`` by default), other fields by theirs or their default."""
    if kind.make is not None:
        return kind.make(g)
    op = kind.op
    assert op is not None, f"kind {kind.name} is not registered"
    if kind.targets is not None:
        g.m = g.pick(kind.targets(g.scope))
        if g.m is None:
            return None
    values: dict[str, Any] = {}
    for name, spec, _ in op.specs():
        how: Callable | int | str | None = kind.args.get(name)
        if spec.kind == "mapping":
            values[name] = g.m
        elif spec.kind == "addr":
            how = TOUCHED if how is None else how
            v = how(g) if callable(how) else how
            values[name] = v if isinstance(v, Addr) else Addr(g.m, v)
        elif how is not None:
            values[name] = how(g) if callable(how) else how
    return op(**values)
