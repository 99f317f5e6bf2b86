"""A run as swim lanes: one column per CPU (a thread runs on its own CPU), one row per
step, the decisive steps marked.

Marks: ``>>`` a preemption (this thread took the CPU from one that could have gone on),
``<<`` the preempted thread resuming, ``A`` / ``Q`` / ``F`` the step that allocated,
queued for freeing or freed the object the report is about, ``!!`` the step where the
report fired. The terminal view folds long stretches of one thread with no mark into
"... N steps ..." (``full=True`` shows every row); the HTML page shows every row and is
self-contained (inline style, no script, no network resource).
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass

__all__ = ["Lanes", "lanes", "only", "render_text", "render_html"]

MARK_TEXT = {"preempt": ">>", "resume": "<<", "alloc": "A", "queue": "Q", "free": "F",
             "report": "!!"}
MARK_HELP = {"preempt": "preempts a thread that could have gone on",
             "resume": "the preempted thread resumes", "alloc": "allocates the object",
             "queue": "queues the object's free", "free": "frees the object",
             "report": "the report fires"}


@dataclass
class Row:
    index: int              # step number in the whole run
    lane: int
    site: str
    marks: tuple


@dataclass
class Lanes:
    names: list             # lane -> thread name
    rows: list
    title: str
    report: str             # the formatted report, or ""
    skipped: int            # setup steps not shown


def _history_steps(report, steps, names):
    """(mark, step index) for the report's allocated/queued/freed-by details."""
    out = []
    if report is None:
        return out
    for key, mark in (("allocated by", "alloc"), ("free queued by", "queue"),
                      ("freed by", "free")):
        text = report.detail(key)
        m = re.match(r"(\S+) at (\S+)", text or "")
        if not m:
            continue
        for i in range(len(steps) - 1, -1, -1):
            tid, site = steps[i]
            if names[tid] == m.group(1) and site.name == m.group(2):
                out.append((mark, i))
                break
    return out


def lanes(outcome) -> Lanes:
    """The lanes of ``outcome``'s run after its setup."""
    trace = outcome.trace
    steps, names = trace.steps, trace.names
    start = outcome.start
    marks: dict[int, list] = {}
    for i in trace.preemptions:
        if i < start:
            continue
        marks.setdefault(i, []).append("preempt")
        prev = steps[i - 1][0]
        for j in range(i + 1, len(steps)):
            if steps[j][0] == prev:
                marks.setdefault(j, []).append("resume")
                break
    for mark, i in _history_steps(outcome.report, steps, names):
        if i >= start:
            marks.setdefault(i, []).append(mark)
    if outcome.report is not None and len(steps) > start:
        marks.setdefault(len(steps) - 1, []).append("report")
    order: list = []
    for tid, _ in steps[start:]:
        if tid not in order:
            order.append(tid)
    lane_of = {tid: k for k, tid in enumerate(order)}
    rows = [Row(i, lane_of[tid], site.name, tuple(marks.get(i, ())))
            for i, (tid, site) in enumerate(steps) if i >= start]
    report = outcome.report.format() if outcome.report is not None else ""
    return Lanes([names[t] for t in order], rows, outcome.title, report, start)


OTHER = -1                  # the lane of a row whose thread is not shown


def only(ln: Lanes, names) -> Lanes:
    """``ln`` with the lanes of ``names`` only (in the run's order); the other threads'
    rows stay, in lane ``OTHER``, so the text view can fold them and still show their
    marks (a report in teardown). Raises ValueError for a name not in the run."""
    unknown = [n for n in names if n not in ln.names]
    if unknown:
        raise ValueError(f"no thread {unknown[0]} in this run (threads: {', '.join(ln.names)})")
    keep = [n for n in ln.names if n in names]
    new_lane = {ln.names.index(n): k for k, n in enumerate(keep)}
    rows = [Row(r.index, new_lane.get(r.lane, OTHER),
                r.site if r.lane in new_lane else f"{ln.names[r.lane]}: {r.site}", r.marks)
            for r in ln.rows]
    return Lanes(keep, rows, ln.title, ln.report, ln.skipped)


def _cell(text: str, width: int) -> str:
    if len(text) > width:
        text = text[:width - 1] + "~"
    return text.ljust(width)


def render_text(ln: Lanes, width: int = 100, full: bool = False) -> str:
    """The lanes for a terminal, at most ``width`` columns."""
    n = max(1, len(ln.names))
    num = 5
    col = max(12, (width - num) // n)
    out = [f"{ln.title}", f"(setup: {ln.skipped} steps, not shown)"]
    out.append(" " * num + "".join(_cell(name, col) for name in ln.names).rstrip())
    out.append(" " * num + "".join(_cell("-" * (col - 1), col) for _ in ln.names).rstrip())
    rows = ln.rows
    k = 0
    while k < len(rows):
        r = rows[k]
        if r.lane == OTHER:
            # Threads not shown: one line per stretch, and any marked step in full.
            j = k
            while j < len(rows) and rows[j].lane == OTHER and not rows[j].marks:
                j += 1
            if j > k:
                who = sorted({rows[x].site.split(":", 1)[0] for x in range(k, j)})
                out.append(" " * num + f"({j - k} steps of {', '.join(who)})")
                k = j
                continue
            mark = "".join(MARK_TEXT[m] for m in r.marks)
            out.append(f"{r.index:>{num - 1}} {mark} {r.site}")
            k += 1
            continue
        if not full and not r.marks:
            # A stretch of one thread with no mark: show its ends, fold the middle.
            j = k
            while j < len(rows) and rows[j].lane == r.lane and not rows[j].marks:
                j += 1
            if j - k > 5:
                for x in (rows[k], rows[k + 1]):
                    out.append(_line(x, n, col, num))
                out.append(" " * num + " " * (col * r.lane)
                           + _cell(f"... {j - k - 4} steps ...", col).rstrip())
                for x in (rows[j - 2], rows[j - 1]):
                    out.append(_line(x, n, col, num))
                k = j
                continue
        out.append(_line(r, n, col, num))
        k += 1
    used = sorted({m for r in rows for m in r.marks}, key=list(MARK_TEXT).index)
    if used:
        out.extend(textwrap.wrap("marks: " + "; ".join(f"{MARK_TEXT[m]} {MARK_HELP[m]}"
                                                       for m in used), width))
    return "\n".join(line[:width].rstrip() for line in out)


def _line(r: Row, n: int, col: int, num: int) -> str:
    mark = "".join(MARK_TEXT[m] for m in r.marks)
    text = f"{mark} {r.site}" if mark else r.site
    cells = [" " * col] * n
    cells[r.lane] = _cell(text, col)
    return f"{r.index:>{num - 1}} " + "".join(cells)


_STYLE = """
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-family: monospace; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 1px 6px; text-align: left; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; }
td.n { color: #888; text-align: right; }
tr.preempt td.on, tr.resume td.on { background: #fff3c4; }
tr.alloc td.on, tr.queue td.on, tr.free td.on { background: #d8ecff; }
tr.report td.on { background: #ffd0d0; font-weight: bold; }
pre { background: #f6f6f6; padding: 0.5em; }
"""


def render_html(ln: Lanes, source: str = "") -> str:
    """A self-contained HTML page: the lanes (every step), the report, the program."""
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in ln.names)
    body = []
    for r in ln.rows:
        cls = " ".join(r.marks)
        mark = "".join(MARK_TEXT[m] for m in r.marks)
        cells = []
        for lane in range(len(ln.names)):
            if lane == r.lane:
                text = f"{mark} {r.site}" if mark else r.site
                why = ", ".join(MARK_HELP[m] for m in r.marks)
                cells.append(f'<td class="on" title="{e(why)}">{e(text)}</td>')
            else:
                cells.append("<td></td>")
        body.append(f'<tr class="{cls}"><td class="n">{r.index}</td>{"".join(cells)}</tr>')
    legend = "".join(f"<li><code>{e(MARK_TEXT[m])}</code> {e(MARK_HELP[m])}</li>"
                     for m in MARK_TEXT)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{e(ln.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{e(ln.title)}</h1>\n"
        f"<p>One column per CPU, one row per step; the setup's {ln.skipped} steps are not "
        "shown.</p>\n"
        f"<ul>{legend}</ul>\n"
        f"<table>\n<thead><tr><th>step</th>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body) + "\n</tbody>\n</table>\n"
        + (f"<h2>Report</h2>\n<pre>{e(ln.report)}</pre>\n" if ln.report else "")
        + (f"<h2>Program</h2>\n<pre>{e(source)}</pre>\n" if source else "")
        + "</body>\n</html>\n")
