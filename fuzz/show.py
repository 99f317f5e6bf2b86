"""A run as swim lanes: one column per thread (each runs on a CPU of its own), one row per
step, the decisive steps marked; the reproducer's story and the report's first lines
first.

Marks: ``>>`` a preemption (this thread took the CPU from one that could have gone on),
``<<`` the preempted thread resuming, ``A`` / ``Q`` / ``F`` the step that allocated,
queued for freeing or freed the object the report is about, ``o`` a step that touched
that object (a lockless read, a clearing write), ``*`` any other step the report names
(where a lock was taken, ...), ``!!`` the step where the report fired. Under each marked
step, what it touched and the locks its thread held after it (``show_run`` observes a
replay for that). Both views fold long stretches of one thread with no mark (the text
into "... N steps ...", the HTML page into a closed ``<details>``; ``full=True`` shows
every row); the page is self-contained (inline style, no script, no network resource).
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass

__all__ = ["Lanes", "lanes", "only", "render_text", "render_html", "show_run", "escape"]

MARK_TEXT = {"preempt": ">>", "resume": "<<", "alloc": "A", "queue": "Q", "free": "F",
             "touch": "o", "named": "*", "report": "!!"}
MARK_HELP = {"preempt": "preempts a thread that could have gone on",
             "resume": "the preempted thread resumes", "alloc": "allocates the object",
             "queue": "queues the object's free", "free": "frees the object",
             "touch": "touches the object the report is about",
             "named": "a step the report names",
             "report": "the report fires"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """``text`` with control characters written out (``\\x1b``): what a file says never
    drives the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                        else f"\\u{ord(m.group()):04x}", text)


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
    story: tuple = ()       # the reproducer's comment lines, escaped
    notes: dict | None = None   # step index -> what it touched and the locks held after


_HISTORY = {"allocated by": "alloc", "free queued by": "queue", "freed by": "free"}
_AT = re.compile(r"(?:^|\s)(\S+) at (\w+:\w+)")
_TAKEN = re.compile(r"taken at (\w+:\w+)")


def _last_step(steps, names, thread, site) -> int | None:
    for i in range(len(steps) - 1, -1, -1):
        tid, s = steps[i]
        if s.name == site and (thread is None or names[tid] == thread):
            return i
    return None


def _history_steps(report, steps, names):
    """(mark, step index) for the steps the report names: the allocated/queued/freed-by
    details (A, Q, F), and any other "THREAD at SITE" or "taken at SITE" in any report
    kind (*): where a lock still held was taken, where a thread hangs."""
    out = []
    if report is None:
        return out
    for key, text in report.details:
        mark = _HISTORY.get(key, "named")
        found = [(m.group(1), m.group(2)) for m in _AT.finditer(text)]
        found += [(None, m.group(1)) for m in _TAKEN.finditer(text)]
        for thread, site in found:
            i = _last_step(steps, names, thread, site)
            if i is not None:
                out.append((mark, i))
    return out


def _object_of(report) -> str | None:
    """The object a report is about (``pte table #4``), as ``describe()`` begins."""
    text = report.detail("object") if report is not None else None
    m = re.match(r"(.+? #\d+)", text or "")
    return m.group(1) if m else None


def lanes(outcome, notes: dict | None = None, story=()) -> Lanes:
    """The lanes of ``outcome``'s run after its setup; ``notes`` (from ``show_run``) adds
    what each step touched and the locks held, and marks the steps that touched the
    report's object."""
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
        if i >= start and mark not in marks.get(i, ()):
            marks.setdefault(i, []).append(mark)
    obj = _object_of(outcome.report)
    if obj and notes:
        # Each thread's first and last touch of the report's object: the lockless read
        # that starts a race, the clearing write that ends a table's life.
        ends: dict[int, list] = {}
        for i in sorted(notes):
            if i >= start and any(t.split(" ", 1)[1].startswith(obj + " ")
                                  for t in notes[i][0]):
                ends.setdefault(steps[i][0], []).append(i)
        for found in ends.values():
            for i in {found[0], found[-1]}:
                if not marks.get(i):
                    marks.setdefault(i, []).append("touch")
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
    return Lanes([names[t] for t in order], rows, outcome.title, report, start,
                 tuple(escape(c) for c in story), notes)


def show_run(prog):
    """Replay ``prog`` observing every step: what it touched (each object's
    ``describe()`` when touched) and the locks its thread held after it. Returns
    (outcome, notes). The observers only read, so the run is the plain replay's."""
    from core.program.program import run_program

    notes: dict[int, tuple] = {}
    touched: dict[int, list] = {}

    def observe(kernel):
        engine = kernel.engine

        def access(ctx, obj, site, write):
            d = f"{'wrote' if write else 'read'} {obj.describe()}"
            seen = touched.setdefault(len(engine.steps) - 1, [])
            if d not in seen:
                seen.append(d)

        def step(t):
            i = len(engine.steps) - 1
            held = [f"{h.lock.name} ({h.mode})" for h in t.ctx.held] if t.ctx is not None \
                else []
            notes[i] = (tuple(touched.pop(i, ())), tuple(held))

        kernel.hooks.access.insert(0, access)      # before a checker can stop the run
        engine.step_hooks.append(step)

    out = run_program(prog, observe=observe)
    for i, t in touched.items():                    # the last step, stopped by a report
        notes.setdefault(i, (tuple(t), ()))
    return out, notes


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
    return Lanes(keep, rows, ln.title, ln.report, ln.skipped, ln.story, ln.notes)


def _cell(text: str, width: int) -> str:
    """``text`` in ``width`` columns: a site's function stays whole where it can, its
    event losing its middle (``~``), not its end."""
    if len(text) > width:
        func, colon, event = text.rpartition(":")
        keep = width - len(func) - len(colon) - 1        # room for the event, less "~"
        if colon and keep >= 4:
            head = (keep + 1) // 2
            text = f"{func}{colon}{event[:head]}~{event[len(event) - (keep - head):]}"
        else:
            half = (width - 1) // 2
            text = text[:half] + "~" + text[len(text) - (width - 1 - half):]
    return text.ljust(width)


def _note(ln: Lanes, r: Row) -> str | None:
    if not r.marks or not ln.notes or r.index not in ln.notes:
        return None
    touched, locks = ln.notes[r.index]
    parts = []
    if touched:
        parts.append("touched " + ", ".join(touched))
    parts.append("holding " + (", ".join(locks) if locks else "no lock"))
    return "; ".join(parts)


def render_text(ln: Lanes, width: int = 100, full: bool = False) -> str:
    """The lanes for a terminal, at most ``width`` columns."""
    n = max(1, len(ln.names))
    num = 5
    col = max(12, (width - num) // n)
    out = [f"{ln.title}"]
    if ln.report:
        out += ["  " + x for x in ln.report.split("\n")[1:6] if x.strip()
                and not x.startswith("    schedule")]
    if ln.story:
        out += [""] + [x[:width] for x in ln.story]
    out += ["", f"threads (setup: {ln.skipped} steps, not shown):"]
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
        note = _note(ln, r)
        if note:
            out.extend(" " * num + " " * (col * r.lane) + "  " + x
                       for x in textwrap.wrap(note, max(30, width - num - col * r.lane - 2)))
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
pre.report { background: #ffecec; }
div.note { color: #555; font-size: 11px; white-space: normal; max-width: 40em; }
details summary { color: #888; cursor: pointer; }
"""


def _html_row(ln: Lanes, r: Row, e) -> str:
    cls = " ".join(r.marks)
    mark = "".join(MARK_TEXT[m] for m in r.marks)
    cells = []
    for lane in range(len(ln.names)):
        if lane == r.lane:
            text = f"{mark} {r.site}" if mark else r.site
            note = _note(ln, r)
            why = ", ".join(MARK_HELP[m] for m in r.marks)
            extra = f'<div class="note">{e(note)}</div>' if note else ""
            cells.append(f'<td class="on" title="{e(why)}">{e(text)}{extra}</td>')
        else:
            cells.append("<td></td>")
    return f'<tr class="{cls}"><td class="n">{r.index}</td>{"".join(cells)}</tr>'


def _html_body(ln: Lanes, e, full: bool) -> list:
    """The table's rows; a stretch of one thread with no mark longer than 5 rows folds
    into a closed <details> (its ends stay in view), as in the terminal."""
    rows, body, k = ln.rows, [], 0
    span = len(ln.names) + 1
    while k < len(rows):
        r = rows[k]
        j = k
        while not full and j < len(rows) and rows[j].lane == r.lane and not rows[j].marks:
            j += 1
        if j - k > 5:
            body += [_html_row(ln, x, e) for x in rows[k:k + 2]]
            inner = "".join(_html_row(ln, x, e) for x in rows[k + 2:j - 2])
            who = ln.names[r.lane] if r.lane != OTHER else "other threads"
            body.append(f'<tr><td class="n"></td><td colspan="{span - 1}"><details>'
                        f"<summary>{j - k - 4} steps of {e(who)}</summary><table>{inner}"
                        "</table></details></td></tr>")
            body += [_html_row(ln, x, e) for x in rows[j - 2:j]]
            k = j
            continue
        body.append(_html_row(ln, r, e))
        k += 1
    return body


def render_html(ln: Lanes, source: str = "", full: bool = False) -> str:
    """A self-contained HTML page: the story, the report's head, the lanes (long unmarked
    stretches folded, ``full`` to unfold), the whole report, the program."""
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in ln.names)
    legend = "".join(f"<li><code>{e(MARK_TEXT[m])}</code> {e(MARK_HELP[m])}</li>"
                     for m in MARK_TEXT)
    first = "\n".join(x for x in ln.report.split("\n")[1:6]
                      if x.strip() and not x.startswith("    schedule"))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{e(ln.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{e(ln.title)}</h1>\n"
        + (f"<pre class=\"report\">{e(first)}</pre>\n" if first else "")
        + (f"<h2>Story</h2>\n<pre>{e(chr(10).join(ln.story))}</pre>\n" if ln.story else "")
        + "<h2>Threads</h2>\n"
        f"<p>One column per thread (each on a CPU of its own), one row per step; the "
        f"setup's {ln.skipped} steps are not shown. Under a marked step: what it touched "
        "and the locks its thread held after it.</p>\n"
        f"<ul>{legend}</ul>\n"
        f"<table>\n<thead><tr><th>step</th>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(_html_body(ln, e, full)) + "\n</tbody>\n</table>\n"
        + (f"<h2>Report</h2>\n<pre>{e(ln.report)}</pre>\n" if ln.report else "")
        + (f"<h2>Program</h2>\n<pre>{e(source)}</pre>\n" if source else "")
        + "</body>\n</html>\n")
