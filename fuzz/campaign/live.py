"""Progress while a campaign runs, and its summary at the end.

On a terminal: a live panel (rich) with the elapsed time, executions per second, site
and site-pair coverage, reports and a line per driver. Elsewhere (a log, CI): a plain
line every ``PLAIN_EVERY`` seconds. The summary names each report title, how often it
fired, when and by which driver it was first found, and its reproducer's path.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Live", "summary_markdown", "summary_text", "summary_json"]

PLAIN_EVERY = 10.0


def _rate(rec: dict, prev: dict | None) -> float:
    if not prev or rec["t"] <= prev["t"]:
        return rec["executions"] / max(rec["t"], 1e-9)
    return (rec["executions"] - prev["executions"]) / (rec["t"] - prev["t"])


class Live:
    def __init__(self, header: str, stream=None, rich: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.header = header
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.rich = tty if rich is None else rich
        self.prev: dict | None = None
        self.last_plain = 0.0
        self.notes: list = []
        self._live = None
        if self.rich:
            try:
                from rich.console import Console
                from rich.live import Live as RichLive
            except ImportError:
                self.rich = False
            else:
                self.console = Console(file=self.stream)
                self._live = RichLive(console=self.console, refresh_per_second=2,
                                      transient=False)
                self._live.start()

    def note(self, text: str) -> None:
        if self._live is not None:
            self.notes = (self.notes + [text])[-5:]
        else:
            print(text, file=self.stream, flush=True)

    def update(self, rec: dict, crashes: dict) -> None:
        rate = _rate(rec, self.prev)
        self.prev = rec
        if self._live is not None:
            self._live.update(self._panel(rec, rate, crashes))
            return
        now = time.monotonic()
        if now - self.last_plain < PLAIN_EVERY:
            return
        self.last_plain = now
        print(f"[{rec['t']:6.0f}s] {rec['executions']:,} execs ({rate:,.0f}/s), "
              f"{rec['sites']} sites, {rec['pairs']} site pairs, {rec['reports']} reports",
              file=self.stream, flush=True)

    def _panel(self, rec: dict, rate: float, crashes: dict):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        top = Text(f"{self.header}\n{rec['t']:.0f} s   {rec['executions']:,} executions "
                   f"({rate:,.0f}/s)   coverage: {rec['sites']} sites, {rec['pairs']} "
                   f"site pairs   reports: {rec['reports']}   worker restarts: "
                   f"{rec['restarts']}")
        drivers = Table("driver", "executions", "steps", box=None)
        for d, r in sorted(rec["drivers"].items()):
            drivers.add_row(d, f"{r['executions']:,}", f"{r['steps']:,}")
        reports = Table("report", "count", "first (s)", "by", box=None)
        for c in sorted(crashes.values(), key=lambda c: c.first_seconds):
            reports.add_row(c.title, str(c.count), f"{c.first_seconds:.1f}", c.driver)
        parts = [top, drivers]
        if crashes:
            parts.append(reports)
        parts += [Text(n, style="dim") for n in self.notes]
        return Group(*parts)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def summary_json(result) -> dict:
    return {"directory": result.directory, "seconds": round(result.seconds, 3),
            "executions": result.executions, "steps": result.steps,
            "items": result.items, "sites": result.sites, "pairs": result.pairs,
            "restarts": result.restarts, "interrupted": result.interrupted,
            "error": result.error, "drivers": result.by_driver,
            "reports": [dict(c.counts(), title=c.title, reproducer=c.path, new=c.new)
                        for c in sorted(result.crashes.values(),
                                        key=lambda c: c.first_seconds)]}


def summary_text(result, width: int = 100) -> str:
    lines = [f"campaign {result.directory}: {result.seconds:.0f} s in total, "
             f"{result.executions:,} executions ({result.steps:,} steps), "
             f"{result.items} work items, {result.sites} sites and {result.pairs} site "
             f"pairs reached, {result.restarts} worker restarts"
             + (" (interrupted)" if result.interrupted else "")]
    for d, r in sorted(result.by_driver.items()):
        lines.append(f"  {d:11} {r['executions']:>10,} executions")
    if result.error:
        lines.append(f"stopped early: {result.error}")
    if not result.crashes:
        lines.append("no reports" if not result.error and result.executions else
                     "no reports (but the campaign did not run to its end)")
    for c in sorted(result.crashes.values(), key=lambda c: c.first_seconds):
        new = "" if c.new else " (known before this run)"
        lines.append(f"report: {c.title}{new}")
        lines.append(f"  {c.count} times, first after {c.first_seconds:.1f} s by {c.driver} "
                     f"(item {c.first_item}); reproducer: {c.path}")
    return "\n".join(lines)


def summary_markdown(result) -> str:
    out = [f"# Campaign {result.directory}", "",
           f"{result.seconds:.0f} s, {result.executions:,} executions, {result.items} work "
           f"items, {result.sites} sites, {result.pairs} site pairs, {result.restarts} "
           "worker restarts" + (", interrupted" if result.interrupted else ""), "",
           "| driver | executions | steps |", "|---|---|---|"]
    for d, r in sorted(result.by_driver.items()):
        out.append(f"| {d} | {r['executions']:,} | {r['steps']:,} |")
    out += ["", "| report | count | first (s) | driver | reproducer |",
            "|---|---|---|---|---|"]
    for c in sorted(result.crashes.values(), key=lambda c: c.first_seconds):
        out.append(f"| {c.title} | {c.count} | {c.first_seconds:.1f} | {c.driver} | "
                   f"{c.path} |")
    return "\n".join(out)
