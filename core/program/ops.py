"""The operation vocabulary: what a program's threads do.

Each operation knows its ``.kprog`` text, how to parse it back, and how to run itself on
a CPU (``run(env, ctx)`` is a generator returning the operation's result, which the
outcome records). Addresses are ``mapping+offset`` (``m0+3``): small page offsets into a
named mapping, so generated programs hit the same tables often. A mapping created by a
thread at run time can be named by other threads; until it exists, operations on it
return ``"-EFAULT"`` without touching memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mm.gup import gup_fast, unpin_user_pages
from ..mm.madvise import khugepaged_scan_range, madvise_collapse, madvise_dontneed, madvise_free
from ..mm.mmap import do_mmap, do_munmap, exit_mm, mmdrop, task_mm_grab
from ..mm.mremap import do_mremap
from ..mm.pagewalk import pagemap_read
from ..mm.pt_reclaim_async import pt_reclaim_scan_pmd
from ..mm.uaccess import user_read, user_write
from ..mm.userfaultfd import mfill_atomic, move_pages, userfaultfd_register
from ..mm.vmscan import reclaim_folio_at

__all__ = ["Addr", "Op", "OPS", "OpError", "Mmap", "Munmap", "Exit", "Read", "Write",
           "Madvise", "UffdRegister", "UffdMove", "UffdCopy", "Mremap", "GupFast", "Unpin",
           "PagemapRead", "KhugepagedScan", "Reclaim", "PtReclaimScan", "register_op"]


class OpError(ValueError):
    """A malformed operation (the loader adds file and line)."""


@dataclass(frozen=True)
class Addr:
    mapping: str
    offset: int = 0

    def text(self) -> str:
        return f"{self.mapping}+{self.offset}"

    @staticmethod
    def parse(s: str) -> Addr:
        name, plus, off = s.partition("+")
        if not name.isidentifier():
            raise OpError(f"bad address {s!r} (expected mapping+offset, like m0+3)")
        try:
            return Addr(name, int(off) if plus else 0)
        except ValueError:
            raise OpError(f"bad offset in address {s!r}") from None


EFAULT = "-EFAULT"


def _int(kv: dict, key: str, default=None, minimum: int = 0) -> int:
    if key not in kv:
        if default is None:
            raise OpError(f"missing {key}=")
        return default
    try:
        v = int(kv.pop(key), 0)
    except ValueError:
        raise OpError(f"{key}= takes an integer") from None
    if v < minimum:
        raise OpError(f"{key}= must be at least {minimum}")
    return v


def _done(args, kv) -> None:
    if args:
        raise OpError(f"unexpected argument {args[0]!r}")
    if kv:
        raise OpError(f"unknown key {next(iter(kv))}=")


class Op:
    name = "op"
    user = True          # user threads may run it
    kthread = False      # kernel threads may run it
    requires = None      # a boolean config option that must be on (the op's feature)
    own = False          # its mappings must belong to the thread's own process

    def text(self) -> str:
        raise NotImplementedError

    def run(self, env, ctx):
        raise NotImplementedError

    def mappings(self) -> tuple:
        """Names of the mappings the operation refers to."""
        return ()


@dataclass(frozen=True)
class Mmap(Op):
    """``NAME = mmap [PROC] anon|shared FILE|private FILE pages=N [pgoff=K]
    [uffd=missing|wp] [at=VPN]`` (the process is given in the setup only)."""

    result: str
    kind: str
    pages: int
    file: str | None = None
    pgoff: int = 0
    uffd: str = "none"
    at: int | None = None
    proc: str | None = None
    name = "mmap"

    def text(self) -> str:
        parts = [f"{self.result} = mmap"]
        if self.proc:
            parts.append(self.proc)
        parts.append(self.kind)
        if self.file:
            parts.append(self.file)
        parts.append(f"pages={self.pages}")
        if self.pgoff:
            parts.append(f"pgoff={self.pgoff}")
        if self.uffd != "none":
            parts.append(f"uffd={self.uffd}")
        if self.at is not None:
            parts.append(f"at={self.at}")
        return " ".join(parts)

    @staticmethod
    def parse(result, args, kv, in_setup):
        if result is None:
            raise OpError("mmap needs a name: NAME = mmap ...")
        args = list(args)
        kinds = ("anon", "shared", "private")
        proc = args.pop(0) if in_setup and args and args[0] not in kinds else None
        if in_setup and proc is None:
            raise OpError("a setup mmap names its process: NAME = mmap PROC ...")
        if not args:
            raise OpError("mmap needs anon, shared FILE or private FILE")
        kind = args.pop(0)
        if kind not in ("anon", "shared", "private"):
            raise OpError(f"mmap kind must be anon, shared or private, not {kind!r}")
        f = None
        if kind != "anon":
            if not args:
                raise OpError(f"mmap {kind} needs a file")
            f = args.pop(0)
        uffd = kv.pop("uffd", "none")
        if uffd not in ("none", "missing", "wp"):
            raise OpError("uffd= takes missing or wp")
        op = Mmap(result, kind, _int(kv, "pages", minimum=1), f, _int(kv, "pgoff", 0), uffd,
                  _int(kv, "at") if "at" in kv else None, proc)
        _done(args, kv)
        return op

    def run(self, env, ctx):
        proc = env.process(self.proc) if self.proc else env.process_of(ctx)
        f = env.file(self.file) if self.file else None
        vma = yield from do_mmap(ctx, proc.mm, self.pages, f, self.pgoff, self.kind == "shared",
                                 self.uffd == "missing", self.uffd == "wp", self.at,
                                 self.result)
        if vma is None:
            return "-ENOMEM"
        env.bind(self.result, proc, vma.start, self.pages)
        return vma.start


@dataclass(frozen=True)
class Munmap(Op):
    target: str
    name = "munmap"
    own = True

    def text(self) -> str:
        return f"munmap {self.target}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("munmap takes one mapping")
        _done([], kv)
        return Munmap(args[0])

    def mappings(self):
        return (self.target,)

    def run(self, env, ctx):
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        return (yield from do_munmap(ctx, m.proc.mm, m.start, m.start + m.pages))


@dataclass(frozen=True)
class Exit(Op):
    name = "exit"

    def text(self) -> str:
        return "exit"

    @staticmethod
    def parse(result, args, kv, in_setup):
        _done(args, kv)
        return Exit()

    def run(self, env, ctx):
        env.exited.add(ctx.name)
        yield from exit_mm(ctx, env.process_of(ctx))
        return 0


@dataclass(frozen=True)
class Read(Op):
    addr: Addr
    name = "read"
    own = True

    def text(self) -> str:
        return f"read {self.addr.text()}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("read takes one address")
        _done([], kv)
        return Read(Addr.parse(args[0]))

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None or not 0 <= self.addr.offset < m.pages:
            return EFAULT
        return (yield from user_read(ctx, m.proc.mm, m.start + self.addr.offset))


@dataclass(frozen=True)
class Write(Op):
    addr: Addr
    value: int
    name = "write"
    own = True

    def text(self) -> str:
        return f"write {self.addr.text()} value={self.value}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("write takes one address and value=")
        op = Write(Addr.parse(args[0]), _int(kv, "value"))
        _done([], kv)
        return op

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None or not 0 <= self.addr.offset < m.pages:
            return EFAULT
        return (yield from user_write(ctx, m.proc.mm, m.start + self.addr.offset, self.value))


ADVICE = ("DONTNEED", "FREE", "COLLAPSE")


@dataclass(frozen=True)
class Madvise(Op):
    addr: Addr
    pages: int
    advice: str
    name = "madvise"
    own = True

    def text(self) -> str:
        return f"madvise {self.addr.text()} pages={self.pages} {self.advice}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 2:
            raise OpError("madvise takes an address, pages= and an advice")
        if args[1] not in ADVICE:
            raise OpError(f"advice must be one of {', '.join(ADVICE)}, not {args[1]!r}")
        op = Madvise(Addr.parse(args[0]), _int(kv, "pages", minimum=1), args[1])
        _done([], kv)
        return op

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        if self.advice == "DONTNEED":
            return (yield from madvise_dontneed(ctx, m.proc.mm, start, self.pages))
        if self.advice == "FREE":
            return (yield from madvise_free(ctx, m.proc.mm, start, self.pages))
        return (yield from madvise_collapse(ctx, m.proc.mm, start, self.pages))


@dataclass(frozen=True)
class UffdMove(Op):
    dst: Addr
    src: Addr
    pages: int = 1
    name = "uffd_move"
    own = True

    def text(self) -> str:
        return f"uffd_move {self.dst.text()} {self.src.text()} pages={self.pages}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 2:
            raise OpError("uffd_move takes a destination and a source address")
        op = UffdMove(Addr.parse(args[0]), Addr.parse(args[1]), _int(kv, "pages", 1, 1))
        _done([], kv)
        return op

    def mappings(self):
        return (self.dst.mapping, self.src.mapping)

    def run(self, env, ctx):
        d, s = env.mapping(self.dst.mapping), env.mapping(self.src.mapping)
        if d is None or s is None or d.proc is not s.proc:
            return EFAULT
        moved, err = yield from move_pages(ctx, d.proc.mm, d.start + self.dst.offset,
                                           s.start + self.src.offset, self.pages)
        return err or moved


@dataclass(frozen=True)
class GupFast(Op):
    addr: Addr
    pages: int = 1
    name = "gup_fast"
    own = True

    def text(self) -> str:
        return f"gup_fast {self.addr.text()} pages={self.pages}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("gup_fast takes one address and pages=")
        op = GupFast(Addr.parse(args[0]), _int(kv, "pages", 1, 1))
        _done([], kv)
        return op

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        n = max(0, min(self.pages, m.start + m.pages - start))
        pinned = yield from gup_fast(ctx, m.proc.mm, start, n, write=True)
        env.pins.setdefault(ctx.name, []).extend(pinned)
        return len(pinned)


@dataclass(frozen=True)
class Unpin(Op):
    name = "unpin"

    def text(self) -> str:
        return "unpin"

    @staticmethod
    def parse(result, args, kv, in_setup):
        _done(args, kv)
        return Unpin()

    def run(self, env, ctx):
        pins = env.pins.pop(ctx.name, [])
        yield from unpin_user_pages(ctx, pins)
        return len(pins)


@dataclass(frozen=True)
class PagemapRead(Op):
    addr: Addr
    pages: int
    name = "pagemap_read"

    def text(self) -> str:
        return f"pagemap_read {self.addr.text()} pages={self.pages}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("pagemap_read takes one address and pages=")
        op = PagemapRead(Addr.parse(args[0]), _int(kv, "pages", minimum=1))
        _done([], kv)
        return op

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        # /proc/PID/pagemap: open (mm_access: mmgrab), read, close (mmdrop).
        mm = yield from task_mm_grab(ctx, m.proc)
        if mm is None:
            return "-ESRCH"
        out = yield from pagemap_read(ctx, mm, m.start + self.addr.offset, self.pages)
        yield from mmdrop(ctx, mm)
        if out is None:
            return "-ESRCH"
        return "".join("p" if out.get(v) == "present" else "." for v in
                       range(m.start + self.addr.offset, m.start + self.addr.offset + self.pages))


class _KthreadOp(Op):
    """A kernel thread's work on the folio or range at one address of a process: it
    holds the mm (khugepaged's mm_slot and kswapd's LRU reference it; ``mmgrab``) and
    does nothing once the process has exited."""

    user = False
    kthread = True

    def text(self) -> str:
        return f"{self.name} {self.addr.text()}"

    @classmethod
    def parse(cls, result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError(f"{cls.name} takes one address")
        _done([], kv)
        return cls(Addr.parse(args[0]))

    def mappings(self):
        return (self.addr.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        mm = yield from task_mm_grab(ctx, m.proc)
        if mm is None:
            return "exit"
        result = yield from self.work(ctx, mm, m.start + self.addr.offset)
        yield from mmdrop(ctx, mm)
        return result


@dataclass(frozen=True)
class KhugepagedScan(_KthreadOp):
    """``khugepaged_scan M+O``: khugepaged collapses the range at that address (file or
    anonymous)."""

    addr: Addr
    name = "khugepaged_scan"

    def work(self, ctx, mm, vpn):
        return khugepaged_scan_range(ctx, mm, vpn)


@dataclass(frozen=True)
class Reclaim(_KthreadOp):
    """``reclaim M+O``: kswapd reclaims the folio mapped at that address."""

    addr: Addr
    name = "reclaim"

    def work(self, ctx, mm, vpn):
        return reclaim_folio_at(ctx, mm, vpn)


@dataclass(frozen=True)
class PtReclaimScan(_KthreadOp):
    """``pt_reclaim_scan M+O``: kptreclaimd's work item for the PTE table covering that
    address: free it if it is empty (needs ``pt_reclaim_async=on``)."""

    addr: Addr
    name = "pt_reclaim_scan"
    requires = "pt_reclaim_async"

    def work(self, ctx, mm, vpn):
        return pt_reclaim_scan_pmd(ctx, mm, vpn)


@dataclass(frozen=True)
class UffdRegister(Op):
    """``uffd_register NAME missing|wp``: UFFDIO_REGISTER the whole mapping."""

    target: str
    mode: str
    name = "uffd_register"
    own = True

    def text(self) -> str:
        return f"uffd_register {self.target} {self.mode}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 2 or args[1] not in ("missing", "wp"):
            raise OpError("uffd_register takes a mapping and missing or wp")
        _done([], kv)
        return UffdRegister(args[0], args[1])

    def mappings(self):
        return (self.target,)

    def run(self, env, ctx):
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        return (yield from userfaultfd_register(ctx, m.proc.mm, m.start, self.mode))


@dataclass(frozen=True)
class UffdCopy(Op):
    """``uffd_copy DST pages=N value=V``: UFFDIO_COPY of pages holding V."""

    dst: Addr
    pages: int = 1
    value: int = 0
    name = "uffd_copy"
    own = True

    def text(self) -> str:
        return f"uffd_copy {self.dst.text()} pages={self.pages} value={self.value}"

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("uffd_copy takes one address, pages= and value=")
        op = UffdCopy(Addr.parse(args[0]), _int(kv, "pages", 1, 1), _int(kv, "value", 0))
        _done([], kv)
        return op

    def mappings(self):
        return (self.dst.mapping,)

    def run(self, env, ctx):
        m = env.mapping(self.dst.mapping)
        if m is None:
            return EFAULT
        copied, err = yield from mfill_atomic(ctx, m.proc.mm, m.start + self.dst.offset,
                                              self.pages, self.value)
        return err or copied


@dataclass(frozen=True)
class Mremap(Op):
    """``mremap NAME [to=VPN]``: move the whole mapping (MREMAP_MAYMOVE, and
    MREMAP_FIXED with ``to=``); the name then refers to the new place."""

    target: str
    to: int | None = None
    name = "mremap"
    own = True

    def text(self) -> str:
        return f"mremap {self.target}" + (f" to={self.to}" if self.to is not None else "")

    @staticmethod
    def parse(result, args, kv, in_setup):
        if len(args) != 1:
            raise OpError("mremap takes one mapping and optionally to=")
        op = Mremap(args[0], _int(kv, "to") if "to" in kv else None)
        _done([], kv)
        return op

    def mappings(self):
        return (self.target,)

    def run(self, env, ctx):
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        new = yield from do_mremap(ctx, m.proc.mm, m.start, m.pages, self.to)
        if isinstance(new, int):
            env.bind(self.target, m.proc, new, m.pages)
        return new


OPS: dict[str, type] = {}


def register_op(cls: type) -> type:
    """Add an operation to the vocabulary under ``cls.name`` (its ``.kprog`` keyword);
    usable as a class decorator. docs/extending.md shows a new operation end to end."""
    if cls.name in OPS:
        raise ValueError(f"operation {cls.name!r} registered twice")
    OPS[cls.name] = cls
    return cls


for _cls in (Mmap, Munmap, Mremap, Exit, Read, Write, Madvise, UffdRegister, UffdMove,
             UffdCopy, GupFast, Unpin, PagemapRead, KhugepagedScan, Reclaim, PtReclaimScan):
    register_op(_cls)
