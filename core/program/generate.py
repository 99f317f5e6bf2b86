"""Generating programs from the choice stream.

Every decision (processes, mappings, initial touches, threads, operations, arguments,
config) is a draw from the same ``ChoiceSource`` that later schedules the run, so one
recorded stream reproduces a generated program and its interleaving together, and
shrinking the stream simplifies both (0 is always the simplest answer: fewer threads,
fewer operations, the first kind, offset 0, the default config).

Arguments are biased toward the same tables: every mapping is one PTE table long and
PMD-aligned, offsets are small, DONTNEED usually covers the whole table (so PT reclaim
runs), and threads of one process share their mappings. ``Swarm`` switches operation
kinds off per run and weights the rest (swarm testing, Groce et al. 2012).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bugs import NO_BUGS
from ..kernel import Config
from .ops import (Addr, Exit, GupFast, KhugepagedScan, Madvise, Mmap, Mremap, Munmap, PagemapRead,
                  Read, Reclaim, UffdCopy, UffdMove, UffdRegister, Unpin, Write)
from .program import Program, ThreadSpec

__all__ = ["Swarm", "generate_program", "CONFIG_CHOICES", "USER_KINDS"]

USER_KINDS = ("read", "write", "dontneed", "free", "collapse", "uffd_move", "uffd_copy",
              "gup_fast", "pagemap_read", "mremap", "munmap", "exit")

# Valid (split_ptlocks, alloc_split_ptlocks, table_free, pt_reclaim); the default first.
CONFIG_CHOICES = (
    (True, False, "rcu", True),
    (True, True, "rcu", True),
    (False, False, "rcu", True),
    (True, False, "semi_rcu", False),
    (True, True, "semi_rcu", False),
    (False, False, "tlb_only", False),
    (True, False, "tlb_only", False),
)


@dataclass
class Swarm:
    """Which operation kinds a run may use, and their weights."""

    weights: dict = field(default_factory=lambda: {k: 1 for k in USER_KINDS})
    khugepaged: bool = True

    @staticmethod
    def draw(src) -> Swarm:
        """Each kind is off with probability 1/4 (but never all off); others get a
        weight 1-3. All zeros: every kind on, weight 1."""
        weights = {}
        for k in USER_KINDS:
            if src.choose(4, "gen:swarm_off") == 3:
                continue
            weights[k] = 1 + src.choose(3, "gen:swarm_weight")
        if not weights:
            weights = {"read": 1, "write": 1}
        return Swarm(weights, src.choose(4, "gen:swarm_khugepaged") != 3)

    def pick(self, src) -> str:
        kinds = [k for k in USER_KINDS if k in self.weights]
        total = sum(self.weights[k] for k in kinds)
        r = src.choose(total, "gen:op")
        for k in kinds:
            r -= self.weights[k]
            if r < 0:
                return k
        return kinds[-1]


_PRESET_KEYS = ("split_ptlocks", "alloc_split_ptlocks", "table_free", "pt_reclaim")


def _config(src, base: Config | None, fixed: dict | None = None) -> Config:
    """The run's config: ``base`` if given; else drawn (a preset of the table-freeing
    options, then the rest), with the values in ``fixed`` (name -> value) kept as given.
    Raises :class:`~core.kernel.ConfigError` if ``fixed`` cannot be built."""
    if base is not None:
        return base
    fixed = fixed or {}
    presets = [c for c in CONFIG_CHOICES
               if all(fixed.get(k, v) == v for k, v in zip(_PRESET_KEYS, c, strict=True))]
    split, alloc, tf, reclaim = (presets or CONFIG_CHOICES)[
        src.choose(len(presets or CONFIG_CHOICES), "gen:config")]
    per_vma = fixed.get("per_vma_lock", src.choose(4, "gen:per_vma_lock") != 3)
    madvise_vma = per_vma and src.choose(4, "gen:per_vma_lock_madvise") != 3
    drawn = dict(split_ptlocks=split, alloc_split_ptlocks=alloc, table_free=tf,
                 pt_reclaim=reclaim, per_vma_lock=per_vma, per_vma_lock_madvise=madvise_vma,
                 fault_around=src.choose(4, "gen:fault_around") != 3,
                 tlb_batch=(8, 3, 4)[src.choose(3, "gen:tlb_batch")])
    drawn.update(fixed)
    # Options left free follow the fixed ones they depend on (Kconfig's "depends on").
    if "pt_reclaim" not in fixed and drawn["table_free"] != "rcu":
        drawn["pt_reclaim"] = False
    if "alloc_split_ptlocks" not in fixed and not drawn["split_ptlocks"]:
        drawn["alloc_split_ptlocks"] = False
    if "per_vma_lock_madvise" not in fixed and not drawn["per_vma_lock"]:
        drawn["per_vma_lock_madvise"] = False
    return Config(**drawn)


def _pick_mapping(src, names: list, focus: str | None):
    """One of ``names`` (None if empty): the run's focus mapping three times in four when
    it is one of them, else uniformly."""
    if not names:
        return None
    if focus in names and src.choose(4, "gen:focus_pick") != 3:
        return focus
    return names[src.choose(len(names), "gen:mapping")]


def _user_op(src, kind: str, own: list, anon: list, filemaps: list, uffd: list, n: int,
             value: int, focus: str | None = None):
    """One operation of ``kind`` on the thread's own mappings, or None if none fits."""
    def off():
        return src.choose(n, "gen:offset")

    def pick(names):
        return _pick_mapping(src, names, focus)

    if kind == "read":
        m = pick(own)
        return Read(Addr(m, off())) if m else None
    if kind == "write":
        m = pick([x for x in own if x not in uffd] or own)
        return Write(Addr(m, off()), value) if m else None
    if kind == "dontneed":
        m = pick(own)
        if not m:
            return None
        if src.choose(4, "gen:partial") == 3:
            start = off()
            return Madvise(Addr(m, start), 1 + src.choose(n - start, "gen:pages"), "DONTNEED")
        return Madvise(Addr(m, 0), n, "DONTNEED")
    if kind == "free":
        m = pick(anon + uffd)
        return Madvise(Addr(m, 0), n, "FREE") if m else None
    if kind == "uffd_copy":
        m = pick(uffd)
        return UffdCopy(Addr(m, off()), 1, value) if m else None
    if kind == "collapse":
        m = pick(filemaps + anon)
        return Madvise(Addr(m, 0), n, "COLLAPSE") if m else None
    if kind == "uffd_move":
        if len(uffd) < 2:
            return None
        d = src.choose(2, "gen:uffd_dir")
        if src.choose(4, "gen:uffd_whole") == 3:            # a whole table (huge pmd move)
            return UffdMove(Addr(uffd[1 - d], 0), Addr(uffd[d], 0), n)
        return UffdMove(Addr(uffd[1 - d], off()), Addr(uffd[d], off()), 1)
    if kind == "gup_fast":
        m = pick(own)
        return GupFast(Addr(m, off()), 1 + src.choose(2, "gen:pages")) if m else None
    if kind == "pagemap_read":
        m = pick(own)
        return PagemapRead(Addr(m, 0), n) if m else None
    if kind == "mremap":
        m = pick(own)
        return Mremap(m) if m else None
    if kind == "munmap":
        m = pick(own)
        return Munmap(m) if m else None
    if kind == "exit":
        return Exit()
    raise ValueError(kind)


def generate_program(src, config: Config | None = None, swarm: Swarm | None = None,
                     bugs=NO_BUGS, max_threads: int = 3, max_ops: int = 3,
                     fixed: dict | None = None) -> Program:
    """A random program drawn from ``src`` (with ``config``, or a drawn config keeping the
    values in ``fixed``)."""
    cfg = _config(src, config, fixed)
    n = cfg.ptrs_per_pte
    sw = swarm if swarm is not None else Swarm.draw(src)
    nprocs = 1 + src.choose(2, "gen:nprocs")
    procs = [f"p{i}" for i in range(nprocs)]
    files = (("f0", 2 * n),)
    setup: list = []
    owner: dict[str, str] = {}
    kinds: dict[str, str] = {}
    # p0: an anonymous table, a file table, two uffd-registered anonymous tables.
    setup.append(Mmap("m0", "anon", n, proc="p0"))
    fkind = ("shared", "private")[src.choose(2, "gen:file_kind")]
    setup.append(Mmap("m1", fkind, n, "f0", proc="p0"))
    owner.update(m0="p0", m1="p0")
    kinds.update(m0="anon", m1="file")
    with_uffd = src.choose(3, "gen:uffd") == 2
    if with_uffd:
        setup.append(Mmap("m2", "anon", n, proc="p0"))
        setup.append(Mmap("m3", "anon", n, proc="p0"))
        owner.update(m2="p0", m3="p0")
        kinds.update(m2="uffd", m3="uffd")
    if nprocs == 2:
        setup.append(Mmap("m4", "shared", n, "f0", proc="p1"))
        setup.append(Mmap("m5", "anon", n, proc="p1"))
        owner.update(m4="p1", m5="p1")
        kinds.update(m4="file", m5="anon")
    # Initial touches, so that tables exist and hold pages.
    for _ in range(src.choose(4, "gen:touches")):
        m = sorted(owner)[src.choose(len(owner), "gen:touch_mapping")]
        if src.choose(2, "gen:touch_kind") or kinds[m] != "file":
            setup.append(Write(Addr(m, src.choose(n, "gen:offset")), 1 + len(setup)))
        else:
            setup.append(Read(Addr(m, src.choose(n, "gen:offset"))))
    if with_uffd:
        if src.choose(4, "gen:uffd_thp") == 3:
            # A full table collapsed into a huge pmd before it is registered (uffd-armed
            # ranges with holes do not collapse), for UFFDIO_MOVE of huge pmds.
            m = ("m2", "m3")[src.choose(2, "gen:uffd_thp_mapping")]
            setup.extend(Write(Addr(m, i), 1 + len(setup)) for i in range(n))
            setup.append(Madvise(Addr(m, 0), n, "COLLAPSE"))
        setup.append(UffdRegister("m2", "missing"))
        setup.append(UffdRegister("m3", "missing"))
    # Half the runs focus on one mapping: most operations of every thread then hit the
    # same table, where the races are (a swarm over mappings, as over operation kinds).
    focus = None
    if src.choose(2, "gen:focus"):
        focus = sorted(owner)[src.choose(len(owner), "gen:focus_mapping")]
    nthreads = 2 + src.choose(max_threads - 1, "gen:nthreads")
    threads = []
    value = 10
    for t in range(nthreads):
        proc = procs[src.choose(nprocs, "gen:thread_proc")] if t else "p0"
        own = sorted(m for m, p in owner.items() if p == proc)
        anon = [m for m in own if kinds[m] == "anon"]
        fmaps = [m for m in own if kinds[m] == "file"]
        uffd = [m for m in own if kinds[m] == "uffd"]
        ops = []
        for _ in range(1 + src.choose(max_ops, "gen:nops")):
            kind = sw.pick(src)
            value += 1
            op = _user_op(src, kind, own, anon, fmaps, uffd, n, value, focus)
            if op is None:
                continue
            if isinstance(op, GupFast) and src.choose(2, "gen:unpin"):
                ops.append(op)
                op = Unpin()
            ops.append(op)
            if isinstance(op, Exit):
                break
        if ops:
            threads.append(ThreadSpec(f"T{t}", proc, tuple(ops)))
    if sw.khugepaged and src.choose(3, "gen:khugepaged") == 2:
        kops = []
        for _ in range(1 + src.choose(2, "gen:kthread_ops")):
            if src.choose(2, "gen:kthread_kind"):
                m = _pick_mapping(src, sorted(owner), focus)
                kops.append(Reclaim(Addr(m, src.choose(n, "gen:offset"))))
            else:
                targets = sorted(m for m, k in kinds.items() if k in ("file", "anon"))
                m = _pick_mapping(src, targets, focus)
                kops.append(KhugepagedScan(Addr(m, 0)))
        threads.append(ThreadSpec("K0", None, tuple(kops)))
    prog = Program(tuple(procs), files, tuple(setup), tuple(threads), cfg, bugs)
    prog.validate()
    return prog
