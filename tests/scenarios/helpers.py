"""Helpers for the scenario tests: load and run ``.kprog`` text, swap its schedule, and
read a thread's steps out of the trace."""

from __future__ import annotations

import re
import textwrap

from core.program.kprog import loads
from core.program.program import Outcome, run_program
from core.sim import lookup_site

__all__ = ["kprog", "reschedule", "with_config", "run", "raced", "control", "mark", "Steps",
           "steps", "follows", "count", "between"]

_SCHEDULE = re.compile(r"^schedule \{\n.*?^\}\n", re.S | re.M)


def kprog(text: str) -> str:
    """Normalise an indented triple-quoted program to ``.kprog`` text."""
    return textwrap.dedent(text).strip("\n") + "\n"


def reschedule(text: str, lines: list[str] | None) -> str:
    """``text`` with its schedule block replaced by ``lines`` (then ``*``), or removed
    (``None``: the default order, each thread to its end in turn)."""
    text = kprog(text)
    block = ""
    if lines is not None:
        block = "schedule {\n" + "".join(f"  {line}\n" for line in lines) + "  *\n}\n"
    new, n = _SCHEDULE.subn(lambda _: block, text)
    assert n == 1, "the program must have exactly one schedule block"
    return new


def with_config(text: str, config: str) -> str:
    """``text`` with a ``config:`` line (``K=V ...``) after its first line."""
    first, rest = kprog(text).split("\n", 1)
    return f"{first}\nconfig: {config}\n{rest}"


def run(text: str) -> Outcome:
    return run_program(loads(kprog(text)))


def mark(name: str) -> str:
    """A site name, checked to exist: a misspelt mark would make ``not in`` vacuous."""
    lookup_site(name)
    return name


def _check_followed(o: Outcome) -> None:
    assert o.title == "pass", o.report
    assert o.drift is None, o.drift.message()


def raced(text: str, *marks: str) -> Outcome:
    """Run the program with its racing schedule: it passes, follows the schedule and
    reaches every mark."""
    o = run(text)
    _check_followed(o)
    sites = o.trace.sites()
    for m in marks:
        assert mark(m) in sites, f"{m} not reached"
    return o


def control(text: str, lines: list[str] | None, *marks: str) -> Outcome:
    """Run the program with ``lines`` instead of its schedule: it passes, follows the
    schedule and reaches none of the marks."""
    o = run(reschedule(text, lines))
    _check_followed(o)
    sites = o.trace.sites()
    for m in marks:
        assert mark(m) not in sites, f"{m} reached without the race"
    return o


class Steps(list):
    """A thread's sites in order; membership, ``index`` and ``count`` check that the site
    they are asked about exists."""

    def __contains__(self, site) -> bool:
        return super().__contains__(mark(site))

    def index(self, site, *args) -> int:
        return super().index(mark(site), *args)

    def count(self, site) -> int:
        return super().count(mark(site))

    def __getitem__(self, i):
        r = super().__getitem__(i)
        return Steps(r) if isinstance(i, slice) else r


def steps(o: Outcome, thread: str) -> Steps:
    """The sites ``thread`` executed, in order."""
    prefix = thread + "@"
    return Steps(line[len(prefix):] for line in o.trace.lines() if line.startswith(prefix))


def follows(o: Outcome, thread: str, first: str, then: str) -> bool:
    """Whether ``thread``'s step right after some ``first`` is ``then``."""
    first, then = mark(first), mark(then)
    s = steps(o, thread)
    return any(a == first and b == then for a, b in zip(s, s[1:], strict=False))


def count(o: Outcome, thread: str, site: str) -> int:
    return steps(o, thread).count(mark(site))


def between(o: Outcome, a: str, b: str, c: str) -> bool:
    """Whether trace lines ``a``, ``b``, ``c`` (``THREAD@SITE``) occur in that order,
    each occurrence the first after the previous one."""
    lines = list(o.trace.lines())
    try:
        i = lines.index(a)
        j = lines.index(b, i + 1)
        lines.index(c, j + 1)
    except ValueError:
        return False
    return True
