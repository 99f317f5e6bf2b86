"""Reports: what a checker found, with a stable first-line title.

A checker that finds a bug raises :class:`KernelReport`; the engine catches it, stops the
run (a run stops at its first report) and attaches the schedule. The title is the
de-duplication key, in the kernel's own words where the kernel has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Report", "KernelReport"]


@dataclass
class Report:
    title: str
    kind: str                       # checker family: kasan, lockdep, hung, livelock, ...
    thread: str | None = None       # the thread that was running
    site: str | None = None         # the site it was executing
    details: list[tuple[str, str]] = field(default_factory=list)   # ("access", "..."), ...
    schedule: list[str] = field(default_factory=list)              # filled in by the engine

    def add(self, key: str, text: str) -> Report:
        self.details.append((key, text))
        return self

    def detail(self, key: str) -> str | None:
        for k, v in self.details:
            if k == key:
                return v
        return None

    def format(self) -> str:
        lines = [self.title]
        if self.thread is not None:
            lines.append(f"  thread: {self.thread} at {self.site}")
        width = max((len(k) for k, _ in self.details), default=0)
        for k, v in self.details:
            lines.append(f"  {k.ljust(width)}: {v}")
        if self.schedule:
            lines.append("  schedule (last steps, thread@site):")
            lines.extend(f"    {s}" for s in self.schedule)
        return "\n".join(lines)


class KernelReport(Exception):
    """Raised by a checker to stop the run with ``report``."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.title)
        self.report = report
