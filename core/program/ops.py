"""The operation vocabulary: what a program's threads do.

Each operation is a declaration (its fields, in ``.kprog`` text order, with the helpers of
opspec.py; the kinds that put it in generated programs) plus its ``run(env, ctx)``: a
generator returning the operation's result, which the outcome records. Text, parsing,
mappings, synopsis and minimization derive from the declaration. Addresses are
``mapping+offset`` (``m0+3``): small page offsets into a named mapping, so generated
programs hit the same tables often. A mapping created by a thread at run time can be
named by other threads; until it exists, operations on it return ``"-EFAULT"`` without
touching memory.

Registration order is the generator's drawing order of the kinds (the swarm draws them in
that order, so the quality budgets hold only with it): read, write, the three madvise
kinds, uffd_move, uffd_copy, gup_fast, pagemap_read, mremap, munmap, exit; khugepaged's
scan before kswapd's reclaim.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mm.gup import direct_io_read, gup_fast, unpin_user_pages
from ..mm.madvise import khugepaged_scan_range, madvise_collapse, madvise_dontneed, madvise_free
from ..mm.mmap import do_mmap, do_munmap, exit_mm, mmdrop, task_mm_grab
from ..mm.mprotect import do_mprotect, mwriteprotect_range
from ..mm.mremap import do_mremap
from ..mm.pagewalk import pagemap_read
from ..mm.pt_reclaim_async import pt_reclaim_scan_pmd
from ..mm.uaccess import user_read, user_write
from ..mm.userfaultfd import mfill_atomic, move_pages, userfaultfd_register
from ..mm.vmscan import reclaim_folio_at
from .draws import ANY_OFFSET, TOUCHED, TOUCHED_OR_FIXED, VALUE, WHOLE, Draw, Scope
from .opspec import (EFAULT, MAX_VALUE, OPS, Addr, Gen, ModelGen, Op, OpError, addr, key_int,
                     key_word, mapping, register_op, result, word)

__all__ = ["Addr", "Op", "OPS", "OpError", "Mmap", "Munmap", "Exit", "Read", "Write",
           "Madvise", "UffdRegister", "UffdMove", "UffdCopy", "Mremap", "GupFast", "DioRead",
           "Unpin", "PagemapRead", "KhugepagedScan", "Reclaim", "PtReclaimScan", "register_op",
           "UffdWriteprotect", "Mprotect", "EFAULT"]


def _own(sc: Scope) -> list:
    return sc.own


# -- setup and user operations -------------------------------------------------------------


@register_op
@dataclass(frozen=True)
class Mmap(Op):
    """mmap(2) of an anonymous, shared-file or private-file mapping (the process is named
    in the setup only; a thread maps into its own); ``uffd=`` registers it at once,
    ``at=`` is MAP_FIXED at that page."""

    result: str = result()
    proc: str | None = word((), "PROC", when=lambda in_setup, v: in_setup, default=None,
                            kw_only=True)
    kind: str = word(("anon", "shared", "private"))
    file: str | None = word((), "FILE", when=lambda in_setup, v: v["kind"] != "anon",
                            default=None, kw_only=True)
    pages: int = key_int(minimum=1)
    pgoff: int = key_int("K", default=0)
    uffd: str = key_word(("none", "missing", "wp"), "none")
    at: int | None = key_int("VPN", default=None)
    name = "mmap"

    def run(self, env, ctx) -> ModelGen:
        proc = env.process(self.proc) if self.proc else env.process_of(ctx)
        f = env.file(self.file) if self.file else None
        vma = yield from do_mmap(ctx, proc.mm, self.pages, f, self.pgoff, self.kind == "shared",
                                 self.uffd == "missing", self.uffd == "wp", self.at,
                                 self.result)
        if vma is None:
            return "-ENOMEM"
        env.bind(self.result, proc, vma.start, self.pages)
        return vma.start


@register_op
@dataclass(frozen=True)
class Read(Op):
    """A user read of one page (faulting it in). A fixed address, ``@m0+3`` (where m0
    was first mapped) or ``@12`` (a page number), names the old range after a mremap or
    munmap."""

    addr: Addr = addr(fixed=True)
    name = "read"
    own = True
    kinds = (Gen("read", _own, {"addr": TOUCHED_OR_FIXED}),)

    def run(self, env, ctx) -> ModelGen:
        proc, vpn = env.address(self.addr, ctx)
        if proc is None:
            return EFAULT
        return (yield from user_read(ctx, proc.mm, vpn))


def _not_uffd(sc: Scope) -> list:
    return [m for m in sc.own if m not in sc.uffd] or sc.own


@register_op
@dataclass(frozen=True)
class Write(Op):
    """A user write of ``value=`` to one page (faulting it in, breaking COW); the
    address may be a fixed one, as for ``read``."""

    addr: Addr = addr(fixed=True)
    value: int = key_int("V", maximum=MAX_VALUE)
    name = "write"
    own = True
    # Not into a uffd table where another fits: a missing fault there waits for a
    # UFFDIO_COPY no generated thread may ever make.
    kinds = (Gen("write", _not_uffd, {"addr": TOUCHED_OR_FIXED, "value": VALUE}),)

    def run(self, env, ctx) -> ModelGen:
        proc, vpn = env.address(self.addr, ctx)
        if proc is None:
            return EFAULT
        return (yield from user_write(ctx, proc.mm, vpn, self.value))


def _dontneed(g: Draw):
    """MADV_DONTNEED of the whole table (so PT reclaim runs), a quarter of the time of a
    part of it, from a drawn start."""
    m = g.pick(g.scope.own)
    if not m:
        return None
    if g.choose(4, "gen:partial") == 3:
        start = g.offset(m)
        return Madvise(Addr(m, start), 1 + g.choose(g.n - start, "gen:pages"), "DONTNEED")
    return Madvise(Addr(m, 0), g.n, "DONTNEED")


@register_op
@dataclass(frozen=True)
class Madvise(Op):
    """madvise(2) of a range: MADV_DONTNEED, MADV_FREE or MADV_COLLAPSE."""

    addr: Addr = addr()
    pages: int = key_int(minimum=1)
    advice: str = word(("DONTNEED", "FREE", "COLLAPSE"))
    name = "madvise"
    own = True
    kinds = (Gen("dontneed", make=_dontneed),
             Gen("free", lambda sc: sc.anon + sc.uffd, {"addr": 0, "pages": WHOLE,
                                                        "advice": "FREE"}),
             Gen("collapse", lambda sc: sc.filemaps + sc.anon,
                 {"addr": 0, "pages": WHOLE, "advice": "COLLAPSE"}))

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        mm, end = m.proc.mm, start + self.pages
        if self.advice == "DONTNEED":
            return (yield from _unmapping(ctx, "MADV_DONTNEED", mm, start, end,
                                          madvise_dontneed(ctx, mm, start, self.pages)))
        if self.advice == "FREE":
            return (yield from _unmapping(ctx, "MADV_FREE", mm, start, end,
                                          madvise_free(ctx, mm, start, self.pages)))
        return (yield from madvise_collapse(ctx, mm, start, self.pages))


def _uffd_move(g: Draw):
    """Mostly from the uffd table the setup filled to the other one, sometimes back; a
    quarter of the time a whole table (a huge pmd move)."""
    uffd = g.scope.uffd
    if len(uffd) < 2:
        return None
    s, d = g.scope.uffd_src, next(m for m in uffd if m != g.scope.uffd_src)
    if g.choose(4, "gen:uffd_dir") == 3:
        s, d = d, s
    if g.choose(4, "gen:uffd_whole") == 3:
        return UffdMove(Addr(d, 0), Addr(s, 0), g.n)
    return UffdMove(Addr(d, g.choose(g.n, "gen:offset")), Addr(s, g.offset(s)), 1)


@register_op
@dataclass(frozen=True)
class UffdMove(Op):
    """UFFDIO_MOVE of ``pages=`` pages from SRC to DST (one mm)."""

    dst: Addr = addr("DST+O")
    src: Addr = addr("SRC+O")
    pages: int = key_int(default=1, minimum=1, always=True)
    name = "uffd_move"
    own = True
    kinds = (Gen("uffd_move", make=_uffd_move),)

    def run(self, env, ctx) -> ModelGen:
        d, s = env.mapping(self.dst.mapping), env.mapping(self.src.mapping)
        if d is None or s is None or d.proc is not s.proc:
            return EFAULT
        moved, err = yield from move_pages(ctx, d.proc.mm, d.start + self.dst.offset,
                                           s.start + self.src.offset, self.pages)
        return err or moved


@register_op
@dataclass(frozen=True)
class UffdCopy(Op):
    """UFFDIO_COPY of ``pages=`` pages holding ``value=``."""

    dst: Addr = addr()
    pages: int = key_int(default=1, minimum=1, always=True)
    value: int = key_int("V", default=0, always=True, maximum=MAX_VALUE)
    name = "uffd_copy"
    own = True
    kinds = (Gen("uffd_copy", lambda sc: sc.uffd, {"dst": ANY_OFFSET, "value": VALUE}),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.dst.mapping)
        if m is None:
            return EFAULT
        copied, err = yield from mfill_atomic(ctx, m.proc.mm, m.start + self.dst.offset,
                                              self.pages, self.value)
        return err or copied


def _unmapping(ctx, kind: str, mm, lo: int, hi: int, body: ModelGen) -> ModelGen:
    """Run a syscall that takes the translations of pages [lo, hi), or their write
    permission, away, announcing its entry and its return to the checkers: the data
    oracle orders the caller's and other CPUs' later accesses against the return (its
    TLB flush must be complete by then).

    The entry is announced when the syscall's first step runs, not when the thread's
    generator is primed (which happens before any thread steps): the first trap is
    passed on by hand, and the announcement precedes the step's code."""
    try:
        first = next(body)
    except StopIteration as done:
        return done.value
    yield first
    ctx.event("syscall", "enter", kind, mm, lo, hi)
    ret = yield from body
    ctx.event("syscall", "exit", kind, mm, lo, hi, ret)
    return ret


def _unpin_after(g: Draw) -> list:
    return [Unpin()] if g.choose(2, "gen:unpin") else []


@register_op
@dataclass(frozen=True)
class GupFast(Op):
    """get_user_pages_fast with FOLL_PIN | FOLL_WRITE: the pins stay with the thread
    until its ``unpin`` (or its exit)."""

    addr: Addr = addr()
    pages: int = key_int(default=1, minimum=1, always=True)
    name = "gup_fast"
    own = True
    kinds = (Gen("gup_fast", _own, {"addr": TOUCHED,
                                    "pages": lambda g: 1 + g.choose(2, "gen:pages")},
                 after=_unpin_after),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        n = max(0, min(self.pages, m.start + m.pages - start))
        pinned = yield from gup_fast(ctx, m.proc.mm, start, n, write=True)
        env.pins.setdefault(ctx.name, []).extend(pinned)
        return len(pinned)


@register_op
@dataclass(frozen=True)
class DioRead(Op):
    """A direct-I/O read (O_DIRECT, or into an io_uring fixed buffer) of ``pages=`` pages
    holding ``value=``: pin_user_pages_fast with FOLL_WRITE (GUP-fast, then the slow path),
    the device's store into each pinned page, then unpin_user_pages_dirty_lock. The result
    is the number of pages written."""

    addr: Addr = addr()
    pages: int = key_int(default=1, minimum=1, always=True)
    value: int = key_int("V", default=0, always=True, maximum=MAX_VALUE)
    name = "dio_read"
    own = True
    kinds = (Gen("dio_read", _own, {"addr": TOUCHED,
                                    "pages": lambda g: 1 + g.choose(2, "gen:pages"),
                                    "value": VALUE}),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        n = max(0, min(self.pages, m.start + m.pages - start))
        return (yield from direct_io_read(ctx, m.proc.mm, start, n, self.value))


@register_op
@dataclass(frozen=True)
class PagemapRead(Op):
    """A read of /proc/PID/pagemap over the range (any thread may open another process's
    file); one character a page, ``p`` present."""

    addr: Addr = addr()
    pages: int = key_int(minimum=1)
    name = "pagemap_read"
    kinds = (Gen("pagemap_read", _own, {"addr": 0, "pages": WHOLE}),)

    def run(self, env, ctx) -> ModelGen:
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


@register_op
@dataclass(frozen=True)
class Mremap(Op):
    """mremap(2) of the whole mapping (MREMAP_MAYMOVE, and MREMAP_FIXED with ``to=``);
    the name then refers to the new place."""

    target: str = mapping()
    to: int | None = key_int("VPN", default=None)
    name = "mremap"
    own = True
    kinds = (Gen("mremap", _own),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        new = yield from _unmapping(ctx, "mremap", m.proc.mm, m.start, m.start + m.pages,
                                    do_mremap(ctx, m.proc.mm, m.start, m.pages, self.to))
        if isinstance(new, int):
            env.bind(self.target, m.proc, new, m.pages)
        return new


@register_op
@dataclass(frozen=True)
class Munmap(Op):
    """munmap(2) of the whole mapping."""

    target: str = mapping()
    name = "munmap"
    own = True
    kinds = (Gen("munmap", _own),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        return (yield from _unmapping(ctx, "munmap", m.proc.mm, m.start, m.start + m.pages,
                                      do_munmap(ctx, m.proc.mm, m.start, m.start + m.pages)))


@register_op
@dataclass(frozen=True)
class Exit(Op):
    """The thread's process exits (exit_mm); the thread does nothing after it."""

    name = "exit"
    ends_thread = True
    in_setup = False
    kinds = (Gen("exit"),)

    def run(self, env, ctx) -> ModelGen:
        env.exited.add(ctx.name)
        yield from exit_mm(ctx, env.process_of(ctx))
        return 0


@register_op
@dataclass(frozen=True)
class UffdRegister(Op):
    """UFFDIO_REGISTER of the whole mapping, in missing or write-protect mode."""

    target: str = mapping()
    mode: str = word(("missing", "wp"))
    name = "uffd_register"
    own = True

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        return (yield from userfaultfd_register(ctx, m.proc.mm, m.start, self.mode))


def _register_wp(g: Draw) -> list:
    """Half the time the thread registers the mapping in wp mode first (else the ioctl
    works only where the setup or another thread did)."""
    return [UffdRegister(g.m, "wp")] if g.choose(2, "gen:register_wp") else []


@register_op
@dataclass(frozen=True)
class UffdWriteprotect(Op):
    """UFFDIO_WRITEPROTECT of ``pages=`` pages: write-protect them (wp) or resolve the
    protection (resolve); the range must be registered in wp mode (else -ENOENT)."""

    addr: Addr = addr()
    pages: int = key_int(minimum=1)
    mode: str = word(("wp", "resolve"))
    name = "uffd_writeprotect"
    own = True
    kinds = (Gen("uffd_writeprotect", _own,
                 {"addr": 0, "pages": WHOLE,
                  "mode": lambda g: ("wp", "resolve")[g.choose(2, "gen:wp_mode")]},
                 before=_register_wp),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.addr.mapping)
        if m is None:
            return EFAULT
        start = m.start + self.addr.offset
        n = max(0, min(self.pages, m.start + m.pages - start))
        body = mwriteprotect_range(ctx, m.proc.mm, start, n, self.mode == "wp")
        if self.mode == "wp":        # the oracle: no write may bypass it once it returned
            return (yield from _unmapping(ctx, "UFFDIO_WRITEPROTECT", m.proc.mm, start,
                                          start + n, body))
        return (yield from body)


@register_op
@dataclass(frozen=True)
class Mprotect(Op):
    """mprotect(2) of the whole mapping to read-only (ro) or read-write (rw)."""

    target: str = mapping()
    prot: str = word(("ro", "rw"))
    name = "mprotect"
    own = True
    kinds = (Gen("mprotect", _own,
                 {"prot": lambda g: ("ro", "rw")[g.choose(2, "gen:prot")]}),)

    def run(self, env, ctx) -> ModelGen:
        m = env.mapping(self.target)
        if m is None:
            return EFAULT
        body = do_mprotect(ctx, m.proc.mm, m.start, m.pages, self.prot == "rw")
        if self.prot == "ro":        # the oracle: no write may bypass it once it returned
            return (yield from _unmapping(ctx, "mprotect", m.proc.mm, m.start,
                                          m.start + m.pages, body))
        return (yield from body)


@register_op
@dataclass(frozen=True)
class Unpin(Op):
    """unpin_user_pages of every page the thread's ``gup_fast`` calls pinned."""

    name = "unpin"

    def run(self, env, ctx) -> ModelGen:
        pins = env.pins.pop(ctx.name, [])
        yield from unpin_user_pages(ctx, pins)
        return len(pins)


# -- kernel-thread operations -----------------------------------------------------------


class _KthreadOp(Op):
    """A kernel thread's work on the folio or range at one address of a process: it
    holds the mm (khugepaged's mm_slot and kswapd's LRU reference it; ``mmgrab``) and
    does nothing once the process has exited."""

    user = False
    kthread = True

    def run(self, env, ctx) -> ModelGen:
        a = self.addr              # every kernel-thread operation's one field
        m = env.mapping(a.mapping)
        if m is None:
            return EFAULT
        mm = yield from task_mm_grab(ctx, m.proc)
        if mm is None:
            return "exit"
        out = yield from self.work(ctx, mm, m.start + a.offset)
        yield from mmdrop(ctx, mm)
        return out

    def work(self, ctx, mm, vpn) -> ModelGen:
        raise NotImplementedError


def _all(sc: Scope) -> list:
    return sc.own              # a kernel thread's scope holds every mapping


@register_op
@dataclass(frozen=True)
class KhugepagedScan(_KthreadOp):
    """khugepaged collapses the range at that address (file or anonymous)."""

    addr: Addr = addr()
    name = "khugepaged_scan"
    kinds = (Gen("khugepaged_scan", lambda sc: sorted(sc.filemaps + sc.anon), {"addr": 0}),)

    def work(self, ctx, mm, vpn) -> ModelGen:
        return khugepaged_scan_range(ctx, mm, vpn)


@register_op
@dataclass(frozen=True)
class Reclaim(_KthreadOp):
    """kswapd reclaims the folio mapped at that address."""

    addr: Addr = addr()
    name = "reclaim"
    kinds = (Gen("reclaim", _all, {"addr": ANY_OFFSET}),)

    def work(self, ctx, mm, vpn) -> ModelGen:
        return reclaim_folio_at(ctx, mm, vpn)


@register_op
@dataclass(frozen=True)
class PtReclaimScan(_KthreadOp):
    """kptreclaimd's work item for the PTE table covering that address: free it if it is
    empty."""

    addr: Addr = addr()
    name = "pt_reclaim_scan"
    requires = "pt_reclaim_async"
    kinds = (Gen("pt_reclaim_scan", _all, {"addr": 0}),)

    def work(self, ctx, mm, vpn) -> ModelGen:
        return pt_reclaim_scan_pmd(ctx, mm, vpn)
