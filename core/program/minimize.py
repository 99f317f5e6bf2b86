"""Minimizing a reproducer: the fewest threads, operations, arguments and context
switches that still give the same report title.

Delta debugging (Zeller and Hildebrandt, 2002) in passes, each repeated until nothing
changes, every candidate kept only if a replay gives the same title:

1. **Structure**: drop whole threads, then single operations, setup operations,
   processes and files; simplify arguments (fewer pages, offset 0, small values); put
   config options back to their defaults; drop bug switches the title does not need.
   The schedule rides along: lines of a dropped thread go, and after every accepted step
   it is re-derived from the run, so it names only sites the program still reaches.
2. **Schedule**: first fewer preemptions (switches away from a thread that could go on),
   then fewer explicit lines: drop a line, lower an ``xN``, cut the tail that the default
   ("keep running the current thread, then the next") already gives.

The result is written in canonical ``.kprog`` form: the schedule is derived from the
final run (so it replays exactly that run), and a story header is generated that says
what each thread does and the order of the decisive steps. It is validated by replaying
it several times.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, fields, replace

from ..bugs import BugSet
from ..kernel import Config, ConfigError
from ..sim.strategies import ForceChoice, ScheduleLine
from .kprog import KprogError, dumps, loads
from .ops import Mmap, OpError
from .opspec import smaller_ints
from .program import Program, ProgramError, run_program
from .schedule import with_schedule

__all__ = ["Size", "Minimized", "minimize", "size_of", "story"]

# Header lines ptfuzz writes itself (replaced by new ones); other comments are kept.
GENERATED = ("# title:", "# found by:", "# strategy of the run:", "# The schedule is the",
             "# before the named site", "# warning: replaying")
STORY_START, STORY_END = "# story (ptfuzz minimize):", "#   to "


@dataclass(frozen=True)
class Size:
    threads: int
    ops: int                 # thread operations
    setup: int               # setup operations
    lines: int               # explicit schedule lines
    preemptions: int

    def text(self) -> str:
        return (f"{self.threads} threads, {self.ops} operations, {self.setup} setup "
                f"operations, {self.preemptions} preemptions, {self.lines} schedule lines")


@dataclass
class Minimized:
    program: Program
    title: str
    before: Size
    after: Size
    runs: int                # replays tried
    seconds: float
    stable: bool             # every validation replay gave the title


def _preemptions(outcome) -> int:
    return sum(1 for i in outcome.trace.preemptions if i >= outcome.start)


def size_of(prog: Program, outcome) -> Size:
    lines = sum(1 for x in prog.schedule or () if isinstance(x, (ScheduleLine, ForceChoice)))
    return Size(len(prog.threads), sum(len(t.ops) for t in prog.threads), len(prog.setup),
                lines, _preemptions(outcome))


class _Search:
    """The predicate and its bookkeeping: the current program, its outcome, the count."""

    def __init__(self, prog: Program, title: str, deadline: float):
        self.title = title
        self.deadline = deadline
        self.runs = 0
        out = self.attempt(prog)
        if out is None:
            raise ValueError(f"the program does not give '{title}'")
        self.prog, self.out = prog, out

    def attempt(self, prog: Program):
        """The outcome if ``prog`` is valid and gives the title, else None."""
        self.runs += 1
        try:
            prog.validate()
            out = run_program(prog)
        except (ProgramError, ConfigError, OpError, ValueError, KeyError):
            return None
        return out if out.title == self.title else None

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def accept(self, prog: Program, out) -> None:
        """Take ``prog``, with its schedule re-derived from its run."""
        self.prog = with_schedule(prog, out, prog.comments)
        self.out = out

    def try_structure(self, prog: Program) -> bool:
        out = self.attempt(prog)
        if out is None:
            return False
        self.accept(prog, out)
        return True

    def key(self, prog: Program, out) -> tuple:
        s = size_of(prog, out)
        return (s.preemptions, s.lines)

    def try_schedule(self, prog: Program) -> bool:
        """Keep ``prog`` (as it is: its lines are the candidate) if it has fewer
        preemptions, or as many and fewer lines."""
        out = self.attempt(prog)
        if out is None or self.key(prog, out) >= self.key(self.prog, self.out):
            return False
        self.prog, self.out = prog, out
        return True


# -- structure ------------------------------------------------------------------------

def _without_thread(prog: Program, name: str) -> Program:
    threads = tuple(t for t in prog.threads if t.name != name)
    sched = tuple(x for x in prog.schedule or () if getattr(x, "thread", None) != name)
    return replace(prog, threads=threads, schedule=sched)


def _simpler_op(op):
    """Variants of ``op`` with one argument simpler (what simpler means is the
    operation's declaration's: ``Op.simpler``)."""
    return op.simpler()


def _structure_candidates(prog: Program):
    for t in prog.threads:
        yield _without_thread(prog, t.name)
    for i, t in enumerate(prog.threads):
        for j in range(len(t.ops)):
            ops = t.ops[:j] + t.ops[j + 1:]
            if ops:
                threads = prog.threads[:i] + (replace(t, ops=ops),) + prog.threads[i + 1:]
                yield replace(prog, threads=threads)
    for j in range(len(prog.setup) - 1, -1, -1):
        yield replace(prog, setup=prog.setup[:j] + prog.setup[j + 1:])
    for p in prog.processes:
        yield replace(prog, processes=tuple(x for x in prog.processes if x != p))
    for f in prog.files:
        yield replace(prog, files=tuple(x for x in prog.files if x != f))
    if len(prog.bugs) > 1:
        for b in sorted(prog.bugs):
            yield replace(prog, bugs=BugSet(prog.bugs - {b}))
    default = Config()
    for f in fields(Config):
        if getattr(prog.config, f.name) != getattr(default, f.name):
            try:
                cfg = replace(prog.config, **{f.name: getattr(default, f.name)})
            except (ConfigError, ValueError):
                continue
            yield replace(prog, config=cfg)
    for j, op in enumerate(prog.setup):
        if isinstance(op, Mmap):
            continue
        for simpler in _simpler_op(op):
            yield replace(prog, setup=prog.setup[:j] + (simpler,) + prog.setup[j + 1:])
    for i, t in enumerate(prog.threads):
        for j, op in enumerate(t.ops):
            for simpler in _simpler_op(op):
                ops = t.ops[:j] + (simpler,) + t.ops[j + 1:]
                threads = prog.threads[:i] + (replace(t, ops=ops),) + prog.threads[i + 1:]
                yield replace(prog, threads=threads)


def _fixpoint(s: _Search, candidates, attempt) -> bool:
    """Try ``candidates(program)`` in order with ``attempt``; after an accepted one,
    start over from the new program (candidates are made from the program they
    simplify), until none is accepted or time is up. Whether anything was accepted."""
    changed = False
    progress = True
    while progress and not s.out_of_time():
        progress = False
        for cand in candidates(s.prog):
            if s.out_of_time():
                break
            if attempt(cand):
                changed = progress = True
                break
    return changed


def _structure_pass(s: _Search) -> bool:
    return _fixpoint(s, _structure_candidates, s.try_structure)


_NAME = re.compile(r"\b([pmf])(\d+)\b")


def _renumbered(prog: Program) -> Program | None:
    """Processes, files and mappings renumbered p0, f0, m0, ... in order of first use
    (through the text, where every name is a token; None if it does not parse)."""
    text = dumps(replace(prog, comments=(), expect=None))
    body = text.split("\n", 1)[1]
    new: dict = {}
    counts = {"p": 0, "m": 0, "f": 0}
    for m in _NAME.finditer(body):
        if m.group(0) not in new:
            new[m.group(0)] = f"{m.group(1)}{counts[m.group(1)]}"
            counts[m.group(1)] += 1
    if all(k == v for k, v in new.items()):
        return prog
    try:
        out = loads(text.split("\n", 1)[0] + "\n" + _NAME.sub(lambda m: new[m.group(0)], body))
    except KprogError:
        return None
    return replace(out, comments=prog.comments, expect=prog.expect)


def _renamed(prog: Program) -> Program:
    """Threads renamed T0, T1, ... (user) and K0, ... (kernel), in order."""
    names, users, kthreads = {}, 0, 0
    for t in prog.threads:
        if t.kthread:
            names[t.name], kthreads = f"K{kthreads}", kthreads + 1
        else:
            names[t.name], users = f"T{users}", users + 1
    threads = tuple(replace(t, name=names[t.name]) for t in prog.threads)
    sched = tuple(replace(x, thread=names.get(x.thread, x.thread)) if hasattr(x, "thread")
                  else x for x in prog.schedule or ())
    return replace(prog, threads=threads, schedule=sched)


# -- schedule -------------------------------------------------------------------------

def _lines(prog: Program) -> tuple:
    return tuple(prog.schedule or ())


def _trim(s: _Search) -> bool:
    """The shortest prefix of the schedule that still gives the title (the rest left to
    the default), if it is no worse."""
    lines = _lines(s.prog)
    for k in range(len(lines)):
        if s.out_of_time():
            return False
        if s.try_schedule(replace(s.prog, schedule=lines[:k])):
            return True
    return False


def _schedule_candidates(prog: Program):
    lines = _lines(prog)
    for i in range(len(lines) - 1, -1, -1):
        yield replace(prog, schedule=lines[:i] + lines[i + 1:])
    for i, x in enumerate(lines):
        if isinstance(x, ScheduleLine) and x.count > 1:
            for c in smaller_ints(x.count, 1):
                yield replace(prog, schedule=lines[:i] + (replace(x, count=c),)
                              + lines[i + 1:])


def _schedule_pass(s: _Search) -> bool:
    trimmed = _trim(s)
    return _fixpoint(s, _schedule_candidates, s.try_schedule) or trimmed


# -- the story ------------------------------------------------------------------------

def _thread_text(t) -> str:
    where = f"on {t.proc}" if t.proc else "(kernel thread)"
    return f"{t.name} {where}: " + "; ".join(op.text() for op in t.ops)


def story(prog: Program, outcome) -> list[str]:
    """What each thread does and the order of the decisive steps, as comment lines."""
    out = ["# story (ptfuzz minimize):"]
    for t in prog.threads:
        out.append(f"#   {_thread_text(t)}")
    n = 0
    lines = _lines(prog)
    k = 0
    while k < len(lines):
        x = lines[k]
        k += 1
        n += 1
        if isinstance(x, ForceChoice):
            # Consecutive answers to one label of one thread read as one step.
            values = [x.value]
            while (k < len(lines) and isinstance(lines[k], ForceChoice)
                   and (lines[k].thread, lines[k].label) == (x.thread, x.label)):
                values.append(lines[k].value)
                k += 1
            if len(values) == 1:
                out.append(f"#   {n}) {x.thread}'s next '{x.label}' choice is {x.value}")
            else:
                out.append(f"#   {n}) {x.thread}'s next {len(values)} '{x.label}' choices "
                           f"are {', '.join(map(str, values))}")
        elif x.site is None:
            out.append(f"#   {n}) {x.thread} runs to its end")
        else:
            times = f" (the {_nth(x.count)} time)" if x.count != 1 else ""
            out.append(f"#   {n}) {x.thread} runs until just before {x.site.name}{times}")
    rep = outcome.report
    where = f" in {rep.thread} at {rep.site}" if rep is not None and rep.thread else ""
    out.append(f"#   {n + 1}) the rest runs by default; the report fires{where}:")
    out.append(f"#      {outcome.title}")
    return out


def _kept_comments(comments) -> list[str]:
    """The comments a person wrote: without ptfuzz's generated header and story."""
    kept, in_story = [], False
    for c in comments:
        if c.startswith(STORY_START):
            in_story = True
        elif in_story:
            in_story = not c.startswith(STORY_END)
        elif not c.startswith(GENERATED):
            kept.append(c)
    return kept


def _nth(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


# -- the entry point ------------------------------------------------------------------

def minimize(prog: Program, title: str | None = None, seconds: float = 60.0,
             validate: int = 20) -> Minimized:
    """The smallest program found within ``seconds`` that gives ``title`` (default: the
    title ``prog`` replays to). Raises ValueError if ``prog`` does not give it."""
    t0 = time.monotonic()
    if title is None:
        title = run_program(prog).title
        if title == "pass":
            raise ValueError("the program passes: nothing to minimize")
    s = _Search(prog, title, t0 + seconds)
    before = size_of(prog, s.out)
    s.accept(s.prog, s.out)
    _trim(s)
    for _ in range(8):
        changed = _structure_pass(s)
        changed |= _schedule_pass(s)
        if not changed or s.out_of_time():
            break
    # Canonical form: threads renamed in order, the schedule of the final run, trimmed,
    # with a generated story.
    renamed = _renamed(s.prog)
    if renamed != s.prog:
        s.try_structure(renamed)
    renumbered = _renumbered(s.prog)
    if renumbered is not None and renumbered != s.prog:
        s.try_structure(renumbered)
    s.accept(s.prog, s.out)                 # s.out is always the run of s.prog
    _trim(s)
    after = size_of(s.prog, s.out)
    kept = _kept_comments(prog.comments)
    header = [f"# title: {title}"] + kept + story(s.prog, s.out) + [
        f"# minimized from {before.text()}",
        f"#   to {after.text()}"]
    result = replace(s.prog, comments=tuple(header), expect=title, choices=None)
    stable = all(run_program(result).title == title for _ in range(max(1, validate)))
    return Minimized(result, title, before, after, s.runs, time.monotonic() - t0, stable)
