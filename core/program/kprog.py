"""The ``.kprog`` text format: readable, editable, replayable reproducers.

::

    kprog 1
    # title: ...            (comment lines before the first block are the story header)
    bugs: pt-reclaim-semi-rcu
    config: table_free=rcu split_ptlocks=on

    setup {
      p0 = process
      f0 = file pages=16
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      pagemap_read m0+0 pages=8
    }
    K0 kthread {
      khugepaged_scan m1+0
    }
    schedule {
      T0 until __pte_offset_map_lock:spin_lock
      T1 choose zap_pte_range:need_resched=1
      T1 finish
      *
    }
    choices { 0 1 1 0 }
    expect: BUG: KASAN: use-after-free Read in __pte_offset_map_lock

Loading is strict: an unknown key, operation, process, mapping, bug, config or site is an
error naming the file and line. Writing is canonical: loading what was written gives the
same program.
"""

from __future__ import annotations

import re

from ..bugs import BugError, BugSet
from ..kernel import Config, ConfigError
from ..kernel.config import parse_int
from ..sim import lookup_site
from ..sim.strategies import ForceChoice, ScheduleLine
from .ops import OPS, OpError
from .opspec import MAX_PAGES, is_name
from .program import Program, ProgramError, ThreadSpec

__all__ = ["KprogError", "loads", "load", "dumps", "dump", "VERSION", "MAX_FILE"]

VERSION = 1
MAX_FILE = 1 << 20             # bytes: reproducers are a few hundred
# Blanks are spaces and tabs only (\s would take Unicode separators and control characters).
_THREAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]+(on[ \t]+([A-Za-z_][A-Za-z0-9_]*)|kthread)"
                     r"[ \t]*\{$")
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.+)$")
_BLANKS = re.compile(r"[ \t]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _words(text: str) -> list[str]:
    return [w for w in _BLANKS.split(text) if w]


class KprogError(ValueError):
    """A malformed ``.kprog``: ``path:line: message``."""

    def __init__(self, path: str, lineno: int, msg: str):
        super().__init__(f"{path}:{lineno}: {msg}" if lineno else f"{path}: {msg}")
        self.path = path
        self.lineno = lineno


def _split_op(text: str):
    result = None
    m = _ASSIGN.match(text)
    if m and "=" not in m.group(1):
        result, text = m.group(1), m.group(2)
    words = _words(text)
    name, rest = words[0], words[1:]
    args, kv = [], {}
    for w in rest:
        k, eq, v = w.partition("=")
        if eq:
            if k in kv:
                raise OpError(f"{k}= given twice")
            kv[k] = v
        else:
            args.append(w)
    return result, name, args, kv


def _parse_op(text: str, in_setup: bool):
    result, name, args, kv = _split_op(text)
    cls = OPS.get(name)
    if cls is None:
        raise OpError(f"unknown operation {name!r} (known: {', '.join(OPS)})")
    return cls.parse(result, args, kv, in_setup)


def _parse_schedule_line(text: str, lineno: int):
    if text == "*":
        return "*"
    words = _words(text)
    if not is_name(words[0]):
        raise OpError(f"bad thread name {words[0]!r}")
    if len(words) >= 2 and words[1] == "finish" and len(words) == 2:
        return ScheduleLine(words[0], None, 1, lineno)
    if len(words) in (3, 4) and words[1] == "until":
        try:
            s = lookup_site(words[2])
        except KeyError:
            raise OpError(f"unknown site {words[2]!r}") from None
        count = 1
        if len(words) == 4:
            if not re.fullmatch(r"x[1-9][0-9]{0,5}", words[3]):
                raise OpError(f"bad occurrence {words[3]!r} (expected xN, N up to 999999)")
            count = int(words[3][1:])
        return ScheduleLine(words[0], s, count, lineno)
    if len(words) == 3 and words[1] == "choose":
        label, eq, v = words[2].rpartition("=")
        if not eq or not label:
            raise OpError("choose takes LABEL=VALUE")
        try:
            value = parse_int(v)
        except ValueError:
            raise OpError(f"choose value {v!r} is not an integer") from None
        if not 0 <= value < 1 << 16:
            raise OpError(f"choose value {value} must be from 0 to 65535")
        return ForceChoice(words[0], label, value, lineno)
    raise OpError(f"bad schedule line {text!r} (expected 'T until SITE [xN]', 'T finish', "
                  f"'T choose LABEL=V' or '*')")


class _Reader:
    """The loader's state while it reads a file line by line: what each line adds to the
    program, the block (setup, a thread, the schedule) it is in, and the line each part
    came from (so an error found later, by ``Program.validate``, names its line)."""

    def __init__(self, path: str):
        self.path = path
        self.comments: list[str] = []
        self.bugs: list[str] = []
        self.bugs_line = 0
        self.config_items: list[tuple[int, str]] = []
        self.processes: list[str] = []
        self.files: list[tuple[str, int]] = []
        self.setup: list = []
        self.threads: list[ThreadSpec] = []
        self.schedule: list | None = None
        self.choices: list[int] | None = None
        self.expect: str | None = None
        self.seen_setup = False
        self.seen_block = False
        self.block = None          # ("setup"|"thread"|"schedule", data)
        self.lines: dict[tuple, int] = {}   # ProgramError.where -> line

    def line(self, lineno: int, raw: str) -> None:
        line = raw.strip(" \t")
        if not line:
            return
        if line.startswith("#"):
            if not self.seen_block and self.block is None:
                self.comments.append(raw.rstrip(" \t"))
            return
        bad = _CONTROL.search(line)
        if bad:
            raise OpError(f"control character U+{ord(bad.group()):04X} (only comments may "
                          f"hold one)")
        if self.block is not None:
            self._block_line(lineno, line)
        else:
            self._top_line(lineno, line)

    def _define(self, where: tuple, lineno: int, what: str) -> None:
        if where in self.lines:
            raise OpError(f"{what} defined twice (first at line {self.lines[where]})")
        self.lines[where] = lineno

    def _block_line(self, lineno: int, line: str) -> None:
        kind, data = self.block
        if line == "}":
            if kind == "thread":
                name, proc, ops = data
                self.threads.append(ThreadSpec(name, proc, tuple(ops)))
            self.block = None
        elif kind == "setup":
            m = _ASSIGN.match(line)
            word = _words(m.group(2))[0] if m else None
            if word == "process":
                if m.group(2).strip() != "process":
                    raise OpError("process takes no arguments")
                self._define(("process", m.group(1)), lineno, f"process {m.group(1)}")
                self.processes.append(m.group(1))
            elif word == "file":
                self.files.append((m.group(1), self._file_pages(m.group(2))))
                self._define(("file", m.group(1)), lineno, f"file {m.group(1)}")
            else:
                self.lines[("setup", len(self.setup))] = lineno
                self.setup.append(_parse_op(line, True))
        elif kind == "thread":
            self.lines[("op", data[0], len(data[2]))] = lineno
            data[2].append(_parse_op(line, False))
        else:
            item = _parse_schedule_line(line, lineno)
            if self.schedule and self.schedule[-1] == "*":
                raise OpError("nothing may follow '*'")
            if item != "*":
                self.lines[("schedule", len(self.schedule))] = lineno
            self.schedule.append(item)

    @staticmethod
    def _file_pages(text: str) -> int:
        _, _, args, kv = _split_op(text)
        if args or set(kv) != {"pages"}:
            raise OpError("file takes pages=N")
        try:
            pages = parse_int(kv["pages"])
        except ValueError:
            raise OpError("pages= takes an integer") from None
        if not 1 <= pages <= MAX_PAGES:
            raise OpError(f"file pages= must be from 1 to {MAX_PAGES}")
        return pages

    def _top_line(self, lineno: int, line: str) -> None:
        if line.startswith("choices"):
            m = re.fullmatch(r"choices\s*\{([0-9 \t]*)\}", line)
            if not m:
                raise OpError("choices { N N ... } on one line")
            if self.choices is not None:
                raise OpError("choices given twice")
            self.choices = [int(x) for x in _words(m.group(1))]
            if any(x >= 1 << 16 for x in self.choices):
                raise OpError("a choice must be below 65536")
            return
        key, colon, value = line.partition(":")
        if colon and key == "bugs":
            self.bugs.extend(x for x in _words(value.replace(",", " ")))
            self.bugs_line = self.bugs_line or lineno
        elif colon and key == "config":
            self.config_items.extend((lineno, x) for x in _words(value))
        elif colon and key == "expect":
            if self.expect is not None:
                raise OpError("expect: given twice")
            self.expect = value.strip(" \t")
        elif line == "setup {":
            if self.seen_setup:
                raise OpError("a second setup block")
            self.seen_setup = True
            self._open("setup", None)
        elif line == "schedule {":
            if self.schedule is not None:
                raise OpError("a second schedule block")
            self.schedule = []
            self._open("schedule", None)
        elif m := _THREAD.match(line):
            self._define(("thread", m.group(1)), lineno, f"thread {m.group(1)}")
            self._open("thread", (m.group(1), m.group(3), []))
        else:
            raise OpError(f"unexpected line {line!r}")

    def _open(self, kind: str, data) -> None:
        self.block = (kind, data)
        self.seen_block = True

    def _config(self) -> Config:
        try:
            return Config().parse([item for _, item in self.config_items])
        except ConfigError as e:
            # Name the line of the item that is wrong on its own, else the last config
            # line (a combination of values the kernel cannot be built with).
            lineno = self.config_items[-1][0]
            for ln, item in self.config_items:
                try:
                    Config.check_item(item)
                except ConfigError:
                    lineno = ln
                    break
            raise KprogError(self.path, lineno, str(e)) from None

    def program(self) -> Program:
        try:
            bugset = BugSet.parse(self.bugs)
        except BugError as e:
            raise KprogError(self.path, self.bugs_line, str(e)) from None
        config = self._config()
        sched = None
        if self.schedule is not None:
            sched = tuple(x for x in self.schedule if x != "*")
        choices = tuple(self.choices) if self.choices is not None else None
        prog = Program(tuple(self.processes), tuple(self.files), tuple(self.setup),
                       tuple(self.threads), config, bugset, sched, choices, self.expect,
                       tuple(self.comments))
        try:
            prog.validate()
        except ProgramError as e:
            where = e.where
            lineno = self.lines.get(where, 0) if where else 0
            if not lineno and where and where[0] == "op":
                lineno = self.lines.get(("thread", where[1]), 0)
            raise KprogError(self.path, lineno, str(e)) from None
        return prog


def _lines(text: str) -> list[str]:
    """Lines as an editor counts them: split at \\n only (a \\r before it dropped), not
    at the form feeds, NELs and line separators ``str.splitlines`` also splits at."""
    return [x[:-1] if x.endswith("\r") else x for x in text.split("\n")]


def loads(text: str, path: str = "<string>") -> Program:
    lines = _lines(text)
    if text.endswith("\n"):
        lines.pop()
    if not lines or lines[0].strip(" \t") != f"kprog {VERSION}":
        raise KprogError(path, 1, f"not a kprog file (the first line must be 'kprog {VERSION}')")
    r = _Reader(path)
    for lineno, raw in enumerate(lines[1:], start=2):
        try:
            r.line(lineno, raw)
        except (OpError, ValueError) as e:
            raise KprogError(path, lineno, str(e)) from None
    if r.block is not None:
        raise KprogError(path, len(lines), f"unterminated {r.block[0]} block")
    return r.program()


def load(path: str) -> Program:
    """Read a ``.kprog`` file: UTF-8 (a file that is not is an error naming the line and
    byte), at most MAX_FILE bytes."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE + 1)
    except OSError as e:
        raise KprogError(path, 0, e.strerror or str(e)) from None
    if len(data) > MAX_FILE:
        raise KprogError(path, 0, f"larger than {MAX_FILE} bytes: not a reproducer")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        raise KprogError(path, lineno, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset "
                                       f"{e.start})") from None
    if "\0" in text:
        lineno = text.count("\n", 0, text.index("\0")) + 1
        raise KprogError(path, lineno, "a NUL byte: not a text file")
    return loads(text, path)


def dumps(prog: Program) -> str:
    out = [f"kprog {VERSION}"]
    out.extend(prog.comments)
    if prog.bugs:
        out.append(f"bugs: {prog.bugs.text()}")
    diff = prog.config.diff()
    if diff:
        def fmt(v):
            return ("on" if v else "off") if isinstance(v, bool) else str(v)
        out.append("config: " + " ".join(f"{k}={fmt(v)}" for k, v in diff.items()))
    out.append("")
    out.append("setup {")
    for p in prog.processes:
        out.append(f"  {p} = process")
    for name, pages in prog.files:
        out.append(f"  {name} = file pages={pages}")
    for op in prog.setup:
        out.append(f"  {op.text()}")
    out.append("}")
    for t in prog.threads:
        head = f"{t.name} kthread {{" if t.kthread else f"{t.name} on {t.proc} {{"
        out.append(head)
        for op in t.ops:
            out.append(f"  {op.text()}")
        out.append("}")
    if prog.schedule is not None:
        out.append("schedule {")
        for item in prog.schedule:
            out.append(f"  {item.text()}")
        out.append("  *")
        out.append("}")
    if prog.choices is not None:
        out.append("choices { " + " ".join(str(c) for c in prog.choices) + " }")
    if prog.expect is not None:
        out.append(f"expect: {prog.expect}")
    return "\n".join(out) + "\n"


def dump(prog: Program, path: str) -> None:
    """Write atomically (a reader never sees half a file)."""
    import os
    import tempfile
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".kprog-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dumps(prog))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
