"""A failing case made durable: a ``.kprog`` with the failing interleaving as schedule
lines, a story header saying how it was found, checked to replay to the same title
before it is written (atomically) into the output folder."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from core.program.kprog import dump, dumps, loads
from core.program.program import run_program
from core.program.schedule import with_schedule

__all__ = ["Finding", "make_finding", "slug", "write_program"]


def slug(title: str, limit: int = 60) -> str:
    """A file-name fragment from a report title."""
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s[:limit].rstrip("-") or "report"


@dataclass
class Finding:
    title: str
    program: object               # the replayable Program
    report: str                   # the report, formatted
    replays: bool                 # whether replaying the program gives the same title
    replay_title: str

    def text(self) -> str:
        return dumps(self.program)

    def write(self, folder: str, suffix: str = "") -> str:
        """Write into ``folder`` (created if needed); returns the path. The name is the
        title's slug and a hash of the content, so two findings never overwrite."""
        return write_program(folder, self.title, self.program, suffix)


def write_program(folder: str, title: str, program, suffix: str = "") -> str:
    """Write ``program`` atomically as ``<title slug>-<content hash><suffix>.kprog``."""
    os.makedirs(folder, exist_ok=True)
    digest = hashlib.blake2b(dumps(program).encode(), digest_size=4).hexdigest()
    path = os.path.join(folder, f"{slug(title)}-{digest}{suffix}.kprog")
    dump(program, path)
    return path


def make_finding(case, found_by: str) -> Finding:
    """The finding for a failing ``case``; ``found_by`` says which command and which
    execution found it (it goes into the story header)."""
    out = case.outcome
    header = [f"# title: {out.title}",
              f"# found by: {found_by}",
              f"# strategy of the run: {case.how}",
              "# The schedule is the failing interleaving: each line runs a thread until just",
              "# before the named site (or to its end); 'choose' lines force a data choice."]
    prog = with_schedule(case.program, out, header)
    again = run_program(loads(dumps(prog)))
    if again.title != out.title:
        prog = with_schedule(case.program, out, header + [
            f"# warning: replaying this schedule gave '{again.title}'"])
    return Finding(out.title, prog, out.report.format(), again.title == out.title,
                   again.title)
