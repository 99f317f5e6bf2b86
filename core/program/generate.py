"""Generating programs from the choice stream.

Every decision (processes, mappings, initial touches, threads, operations, arguments,
config) is a draw from the same ``ChoiceSource`` that later schedules the run, so one
recorded stream reproduces a generated program and its interleaving together, and
shrinking the stream simplifies both (0 is always the simplest answer: fewer threads,
fewer operations, the first kind, offset 0, the default config).

Arguments are biased toward the same tables: every mapping is one PTE table long and
PMD-aligned, offsets are small and half the time one the setup touched, DONTNEED usually
covers the whole table (so PT reclaim runs), threads of one process share their mappings,
and most runs have a focus mapping most operations target. Programs are small: two
threads of one operation half the time. ``Swarm`` switches operation kinds off per run
and weights the rest (swarm testing, Groce et al. 2012).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bugs import NO_BUGS
from ..kernel import Config
from .draws import Draw, Scope, draw_op
from .ops import Addr, Madvise, Mmap, Read, UffdRegister, Write
from .opspec import KINDS, gen_kinds
from .program import Program, ThreadSpec

__all__ = ["Swarm", "ProgramBuilder", "generate_program", "CONFIG_CHOICES", "USER_KINDS",
           "Scope"]

# The user operations' kinds (operations declare them: ops.py), in drawing order.
USER_KINDS = tuple(k.name for k in gen_kinds(kthread=False))

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
    kinds: tuple = USER_KINDS       # every kind the run could use, in drawing order

    @staticmethod
    def draw(src, kinds: tuple = USER_KINDS) -> Swarm:
        """Half the time a narrow swarm: two to four kinds, so that a given pair of
        operations (a collapse and a zap, a move and a zap) meets in one run in tens of
        runs, not hundreds. Otherwise each kind is off with probability 1/4 (but never
        all off) and the others get a weight 1-3. All zeros: every kind on, weight 1."""
        weights = {}
        if src.choose(2, "gen:swarm_narrow"):
            for _ in range(2 + src.choose(3, "gen:swarm_kinds")):
                weights[kinds[src.choose(len(kinds), "gen:swarm_kind")]] = 1
            return Swarm(weights, src.choose(4, "gen:swarm_khugepaged") != 3, kinds)
        for k in kinds:
            if src.choose(4, "gen:swarm_off") == 3:
                continue
            weights[k] = 1 + src.choose(3, "gen:swarm_weight")
        if not weights:
            weights = {"read": 1, "write": 1}
        return Swarm(weights, src.choose(4, "gen:swarm_khugepaged") != 3, kinds)

    def pick(self, src) -> str:
        kinds = [k for k in self.kinds if k in self.weights]
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
    presets = presets or list(CONFIG_CHOICES)
    if fixed.get("pt_reclaim_async") and "table_free" not in fixed:
        presets = [c for c in presets if c[2] == "rcu"] or presets
    # The first preset (the kernel's default, PT reclaim on) half the time: it is what
    # runs on machines, and what most of the page-table races need.
    pick = 0 if src.choose(2, "gen:config_default") == 0 else src.choose(len(presets),
                                                                          "gen:config")
    split, alloc, tf, reclaim = presets[pick]
    per_vma = fixed.get("per_vma_lock", src.choose(4, "gen:per_vma_lock") != 3)
    madvise_vma = per_vma and src.choose(4, "gen:per_vma_lock_madvise") != 3
    drawn = dict(split_ptlocks=split, alloc_split_ptlocks=alloc, table_free=tf,
                 pt_reclaim=reclaim, per_vma_lock=per_vma, per_vma_lock_madvise=madvise_vma,
                 fault_around=src.choose(4, "gen:fault_around") != 3,
                 tlb_batch=(8, 3, 4)[src.choose(3, "gen:tlb_batch")],
                 # A quarter of the runs flush TLBs by hardware broadcast (arm64, INVLPGB).
                 tlb_flush="broadcast" if src.choose(4, "gen:tlb_flush") == 3 else "ipi")
    drawn.update(fixed)
    # Options left free follow the fixed ones they depend on (Kconfig's "depends on").
    if "pt_reclaim" not in fixed and drawn["table_free"] != "rcu":
        drawn["pt_reclaim"] = False
    if "tlb_flush" not in fixed and drawn["table_free"] == "tlb_only":
        drawn["tlb_flush"] = "ipi"
    if "alloc_split_ptlocks" not in fixed and not drawn["split_ptlocks"]:
        drawn["alloc_split_ptlocks"] = False
    if "per_vma_lock_madvise" not in fixed and not drawn["per_vma_lock"]:
        drawn["per_vma_lock_madvise"] = False
    return Config(**drawn)


def _small(src, lo: int, hi: int, label: str) -> int:
    """A count in [lo, hi], ``lo`` half the time: most races need two threads of one
    operation each, and small programs run fast and leave PCT fewer steps to choose from."""
    if hi <= lo or src.choose(2, label) == 0:
        return lo
    return lo + src.choose(hi - lo + 1, label)


class ProgramBuilder:
    """A generated program, built in two stages from one choice source: the world
    (config, swarm, processes, mappings, the setup's touches, the focus mapping) when
    made, then operations one at a time (``user_ops``, ``kthread_op``), then ``build``.
    :func:`generate_program` does it all at once; the Hypothesis machine adds operations
    as its rules fire."""

    def __init__(self, src, config: Config | None = None, swarm: Swarm | None = None,
                 bugs=NO_BUGS, fixed: dict | None = None):
        self.src = src
        self.bugs = bugs
        self.config = cfg = _config(src, config, fixed)
        self.n = n = cfg.ptrs_per_pte
        self.kthread_kinds = gen_kinds(kthread=True, config=cfg)
        self.swarm = swarm if swarm is not None else Swarm.draw(
            src, USER_KINDS + tuple(k.name for k in gen_kinds(kthread=False, config=cfg)))
        nprocs = 1 + src.choose(2, "gen:nprocs")
        self.procs = [f"p{i}" for i in range(nprocs)]
        self.files = (("f0", 2 * n),)
        self.setup: list = []
        self.owner: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.touched: dict[str, list[int]] = {}
        self.value = 10
        self._mappings(nprocs)
        self._touches()
        # Most runs focus on one mapping: most operations of every thread then hit the
        # same table, where the races are (a swarm over mappings, as over operation kinds).
        self.focus = None
        if src.choose(4, "gen:focus") != 3:
            self.focus = sorted(self.owner)[src.choose(len(self.owner), "gen:focus_mapping")]
            # With uffd, half the time the table UFFDIO_MOVE fills (empty at the start,
            # so zaps reclaim it), where the move races with faults and reclaim.
            if self.with_uffd and src.choose(2, "gen:focus_uffd"):
                self.focus = self.uffd_dst

    def _map(self, name: str, proc: str, kind: str, how: str, file=None) -> None:
        self.setup.append(Mmap(name, how, self.n, proc=proc, file=file))
        self.owner[name] = proc
        self.kinds[name] = kind

    def _mappings(self, nprocs: int) -> None:
        """p0: an anonymous table, a file table, maybe two uffd-registered anonymous
        tables; p1 (if any): a shared mapping of the same file and an anonymous table."""
        src = self.src
        self._map("m0", "p0", "anon", "anon")
        self._map("m1", "p0", "file", ("shared", "private")[src.choose(2, "gen:file_kind")],
                  "f0")
        self.with_uffd = src.choose(3, "gen:uffd") == 2
        self.uffd_src = self.uffd_dst = None
        if self.with_uffd:
            self._map("m2", "p0", "uffd", "anon")
            self._map("m3", "p0", "uffd", "anon")
        if nprocs == 2:
            self._map("m4", "p1", "file", "shared", "f0")
            self._map("m5", "p1", "anon", "anon")

    def _touch(self, m: str, offset: int, write: bool) -> None:
        self.setup.append(Write(Addr(m, offset), 1 + len(self.setup)) if write
                          else Read(Addr(m, offset)))
        self.touched.setdefault(m, []).append(offset)

    def _touches(self) -> None:
        """Initial touches, so that tables exist and hold pages; the uffd tables get a
        page or two to move, or become a huge pmd."""
        src, n = self.src, self.n
        for _ in range(src.choose(4, "gen:touches")):
            m = sorted(self.owner)[src.choose(len(self.owner), "gen:touch_mapping")]
            write = bool(src.choose(2, "gen:touch_kind")) or self.kinds[m] != "file"
            self._touch(m, src.choose(n, "gen:offset"), write)
        if not self.with_uffd:
            return
        m = ("m2", "m3")[src.choose(2, "gen:uffd_thp_mapping")]
        self.uffd_src, self.uffd_dst = m, ("m3" if m == "m2" else "m2")
        if src.choose(4, "gen:uffd_thp") == 3:
            # A full table collapsed into a huge pmd before it is registered (uffd-armed
            # ranges with holes do not collapse), for UFFDIO_MOVE of huge pmds.
            for i in range(n):
                self._touch(m, i, True)
            self.setup.append(Madvise(Addr(m, 0), n, "COLLAPSE"))
        else:
            for _ in range(1 + src.choose(2, "gen:uffd_touches")):
                self._touch(m, src.choose(n, "gen:offset"), True)
        self.setup.append(UffdRegister("m2", "missing"))
        self.setup.append(UffdRegister("m3", "missing"))

    def thread_proc(self, index: int) -> str:
        """The process of user thread ``index`` (T0 is always in p0)."""
        if index == 0:
            return "p0"
        return self.procs[self.src.choose(len(self.procs), "gen:thread_proc")]

    def _scope(self, names: list) -> Scope:
        kinds = self.kinds
        return Scope(names, [m for m in names if kinds[m] == "anon"],
                     [m for m in names if kinds[m] == "file"],
                     [m for m in names if kinds[m] == "uffd"], self.n, self.focus,
                     self.touched, self.uffd_src)

    def user_ops(self, proc: str) -> list:
        """The operations of one more user-thread step in ``proc`` (none if the drawn
        kind has no target; a kind may add the operations that precede it, drawn after
        it: a uffd-wp registration, and those that follow it: a GUP-fast's unpin)."""
        scope = self._scope(sorted(m for m, p in self.owner.items() if p == proc))
        self.value += 1
        g = Draw(self.src, scope, self.value)
        kind = KINDS[self.swarm.pick(self.src)]
        op = draw_op(kind, g)
        if op is None:
            return []
        before = kind.before(g) if kind.before else []
        return before + [op] + (kind.after(g) if kind.after else [])

    def kthread_op(self):
        """A base kernel thread's operation (khugepaged's scan of a table, kswapd's
        reclaim of a page); half the time an extension's when the config enables one
        (kptreclaimd's scan of a table, with ``pt_reclaim_async``)."""
        src = self.src
        extra = self.kthread_kinds
        if extra and src.choose(2, "gen:kthread_extra"):
            kind = extra[src.choose(len(extra), "gen:kthread_extra_kind")] if len(extra) > 1 \
                else extra[0]
        else:
            base = gen_kinds(kthread=True)
            kind = base[src.choose(len(base), "gen:kthread_kind")]
        return draw_op(kind, Draw(src, self._scope(sorted(self.owner)), self.value))

    def build(self, threads) -> Program:
        prog = Program(tuple(self.procs), self.files, tuple(self.setup), tuple(threads),
                       self.config, self.bugs)
        prog.validate()
        return prog


def generate_program(src, config: Config | None = None, swarm: Swarm | None = None,
                     bugs=NO_BUGS, max_threads: int = 3, max_ops: int = 3,
                     fixed: dict | None = None) -> Program:
    """A random program drawn from ``src`` (with ``config``, or a drawn config keeping the
    values in ``fixed``)."""
    b = ProgramBuilder(src, config, swarm, bugs, fixed)
    cpus = b.config.cpus                 # one CPU a thread (Program.validate)
    max_threads = min(max_threads, cpus)
    threads = []
    for t in range(_small(src, min(2, max_threads), max_threads, "gen:nthreads")):
        proc = b.thread_proc(t)
        ops: list = []
        for _ in range(_small(src, 1, max_ops, "gen:nops")):
            ops.extend(b.user_ops(proc))
            if ops and ops[-1].ends_thread:
                break
        if ops:
            threads.append(ThreadSpec(f"T{t}", proc, tuple(ops)))
    # A kernel thread a third of the time; two thirds when an extension's kernel thread
    # is enabled (it is the feature under test), with one operation more: kswapd needs
    # two passes to swap a page out (the first clears the accessed bit), which
    # kptreclaimd's scan then has to see.
    extra = bool(b.kthread_kinds)
    if len(threads) < cpus and b.swarm.khugepaged and \
            src.choose(3, "gen:khugepaged") >= 2 - extra:
        kops = [b.kthread_op() for _ in range(1 + src.choose(2 + extra, "gen:kthread_ops"))]
        threads.append(ThreadSpec("K0", None, tuple(kops)))
    return b.build(threads)

