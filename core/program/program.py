"""Programs and ``run_program``.

A program is a setup (processes, files, mappings, initial operations run one after another
before any thread starts), a few threads (user threads on a process, kernel threads doing
khugepaged work), an optional schedule, its config and bug switches. ``run_program`` runs
it on a fresh machine in three phases of one run (setup; the threads; the teardown: every
process exits, files are truncated, the final ``rcu_barrier``), then the end-of-run
checks, and returns an :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bugs import NO_BUGS, BugSet
from ..kernel import Config
from ..kernel.rcu import rcu_barrier
from ..machine import Machine
from ..mm.gup import unpin_user_pages
from ..mm.mmap import exit_mm
from ..mm.picture import mm_picture
from ..mm.setup import boot_world, create_file, create_process, truncate_inode_pages
from ..mm.swap import drain_swap_cache
from ..sim import ReplaySource, site
from ..sim.strategies import RandomWalk, Replay, ScheduleLine
from .ops import Addr, Mmap

__all__ = ["Program", "ThreadSpec", "Outcome", "run_program", "strategy_for", "ProgramError", "Env",
           "RESERVED_THREADS"]


class ProgramError(ValueError):
    """A program that cannot run (an unknown process, file or mapping). ``where`` names
    the part of the program at fault, so a loader can name its line: ("process", name),
    ("file", name), ("setup", index), ("thread", name), ("op", thread, index),
    ("schedule", index)."""

    def __init__(self, msg: str, where: tuple | None = None):
        super().__init__(msg)
        self.where = where


# Threads the machine runs itself: a program's threads cannot take these names.
RESERVED_THREADS = frozenset({"rcu_gp", "rcu_cb", "setup", "teardown"})


@dataclass(frozen=True)
class ThreadSpec:
    name: str
    proc: str | None          # None: a kernel thread
    ops: tuple

    @property
    def kthread(self) -> bool:
        return self.proc is None


@dataclass(frozen=True)
class Program:
    processes: tuple = ()                   # names
    files: tuple = ()                       # (name, pages)
    setup: tuple = ()                       # ops, run in order by the setup thread
    threads: tuple = ()                     # ThreadSpec
    config: Config = field(default_factory=Config)
    bugs: BugSet = NO_BUGS
    schedule: tuple | None = None           # ScheduleLine, "set" directives
    choices: tuple | None = None            # the exact low-level stream, if recorded
    expect: str | None = None
    comments: tuple = ()                    # the story header, kept verbatim

    def validate(self) -> None:
        """Raise :class:`ProgramError` (with ``where``) unless every name is defined once
        and known where it is used, every address falls inside its mapping, and every
        thread may run its operations."""
        procs = set(self.processes)
        if len(procs) != len(self.processes):
            dup = next(p for p in self.processes if self.processes.count(p) > 1)
            raise ProgramError(f"process {dup} defined twice", ("process", dup))
        files: dict[str, int] = {}
        for name, _pages in self.files:
            if name in files:
                raise ProgramError(f"file {name} defined twice", ("file", name))
            files[name] = _pages
        # mapping -> pages; "" -> the address space (for fixed page numbers, @VPN)
        sizes: dict[str, int] = {"": self.config.ptrs_per_pte * self.config.ptrs_per_pmd}
        mappings: dict[str, str | None] = {}     # mapping -> process
        for i, op in enumerate(self.setup):
            where = ("setup", i)
            if not op.in_setup:
                raise ProgramError(f"the setup cannot {op.name} (it is no process's thread)",
                                   where)
            if isinstance(op, Mmap):
                if op.proc not in procs:
                    raise ProgramError(f"setup mmap {op.result}: unknown process {op.proc}",
                                       where)
                if op.file is not None and op.file not in files:
                    raise ProgramError(f"setup mmap {op.result}: unknown file {op.file}", where)
                if op.result in mappings:
                    raise ProgramError(f"mapping {op.result} defined twice", where)
                mappings[op.result] = op.proc
                sizes[op.result] = op.pages
            self._check_addresses(op, sizes, f"setup: {op.text()}", where)
        names: set[str] = set()
        for t in self.threads:
            where = ("thread", t.name)
            if t.name in RESERVED_THREADS:
                raise ProgramError(f"thread name {t.name} is reserved (the machine's own "
                                   f"threads: {', '.join(sorted(RESERVED_THREADS))})", where)
            if t.name in names:
                raise ProgramError(f"thread {t.name} defined twice", where)
            names.add(t.name)
            if t.proc is not None and t.proc not in procs:
                raise ProgramError(f"thread {t.name}: unknown process {t.proc}", where)
            for k, op in enumerate(t.ops):
                if isinstance(op, Mmap):
                    if op.file is not None and op.file not in files:
                        raise ProgramError(f"{t.name}: mmap {op.result}: unknown file {op.file}",
                                           ("op", t.name, k))
                    if op.result in mappings:
                        raise ProgramError(f"mapping {op.result} defined twice",
                                           ("op", t.name, k))
                    mappings[op.result] = t.proc
                    sizes[op.result] = op.pages
        for t in self.threads:
            for k, op in enumerate(t.ops):
                self._check_op(t, k, op, mappings, sizes)
        if len(self.threads) > self.config.cpus:
            extra = self.threads[self.config.cpus]
            raise ProgramError(f"{len(self.threads)} threads but config cpus="
                               f"{self.config.cpus}", ("thread", extra.name))
        for i, item in enumerate(self.schedule or ()):
            if item.thread not in names | RESERVED_THREADS:
                raise ProgramError(f"schedule names unknown thread {item.thread}",
                                   ("schedule", i))

    def _check_op(self, t: ThreadSpec, k: int, op, mappings: dict, sizes: dict) -> None:
        where = ("op", t.name, k)
        if t.kthread and not op.kthread:
            raise ProgramError(f"kernel thread {t.name} cannot {op.name}", where)
        if not t.kthread and not op.user:
            raise ProgramError(f"user thread {t.name} cannot {op.name}", where)
        if op.requires and not getattr(self.config, op.requires):
            raise ProgramError(f"{t.name}: {op.name} needs config {op.requires}=on", where)
        if op.ends_thread and k != len(t.ops) - 1:
            raise ProgramError(f"{t.name}: {op.name} must be the last operation", where)
        for m in op.mappings():
            if m not in mappings:
                raise ProgramError(f"{t.name}: {op.text()}: unknown mapping {m}", where)
            if op.own and mappings[m] != t.proc:
                raise ProgramError(f"{t.name}: {op.text()}: {m} belongs to another process",
                                   where)
        self._check_addresses(op, sizes, f"{t.name}: {op.text()}", where)

    @staticmethod
    def _check_addresses(op, sizes: dict, what: str, where: tuple) -> None:
        for m in op.mappings():
            if m not in sizes:
                raise ProgramError(f"{what}: unknown mapping {m}", where)
        for name in getattr(op, "__dataclass_fields__", ()):
            a = getattr(op, name)
            if isinstance(a, Addr) and not a.mapping:
                if a.offset >= sizes[""]:
                    raise ProgramError(f"{what}: page {a.offset} is past the end of the "
                                       f"address space ({sizes['']} pages)", where)
            elif isinstance(a, Addr) and a.offset >= sizes[a.mapping]:
                raise ProgramError(f"{what}: offset {a.offset} is past the end of "
                                   f"{a.mapping} ({sizes[a.mapping]} pages)", where)


@dataclass
class Mapping:
    proc: object
    start: int
    pages: int


class Env:
    """The run-time state of a program: names to objects, pins, op results."""

    def __init__(self, program: Program, kernel):
        self.program = program
        self.kernel = kernel
        self.world = kernel.world
        self.maps: dict[str, Mapping] = {}
        self.first_maps: dict[str, Mapping] = {}    # where each was first mapped
        self.thread_proc: dict[str, str] = {t.name: t.proc for t in program.threads}
        self.pins: dict[str, list] = {}
        self.exited: set[str] = set()
        self.results: dict[str, list] = {}
        self.pictures: dict[str, str] = {}

    def process(self, name: str):
        return self.world.processes[name]

    def process_of(self, ctx):
        return self.world.processes[self.thread_proc[ctx.name]]

    def file(self, name: str):
        return self.world.files[name]

    def bind(self, name: str, proc, start: int, pages: int) -> None:
        self.maps[name] = Mapping(proc, start, pages)
        self.first_maps.setdefault(name, self.maps[name])

    def mapping(self, name: str) -> Mapping | None:
        return self.maps.get(name)

    def address(self, addr: Addr, ctx) -> tuple:
        """(process, vpn) of an address, or (None, 0) if it names nothing: a mapping's
        page follows the mapping; a fixed one stays where the mapping was first mapped
        (``@m0+3``) or is the page number itself in the thread's process (``@12``)."""
        if not addr.fixed:
            m = self.maps.get(addr.mapping)
            if m is None or not 0 <= addr.offset < m.pages:
                return None, 0
            return m.proc, m.start + addr.offset
        if not addr.mapping:
            return self.process_of(ctx), addr.offset
        m = self.first_maps.get(addr.mapping)
        return (None, 0) if m is None else (m.proc, m.start + addr.offset)


@dataclass
class Outcome:
    title: str                      # "pass" or the report's title
    report: object                  # core.sim.Report or None
    trace: object                   # core.sim.Trace
    nsteps: int
    results: dict                   # thread -> [op result]
    drift: object = None            # core.sim.strategies.Drift or None
    pictures: dict = field(default_factory=dict)   # process -> page tables before teardown
    start: int = 0                  # the trace's first step after the setup

    @property
    def trace_hash(self) -> str:
        return self.trace.hash()


class _Sequential(RandomWalk):
    """The setup phase: the current thread runs until it blocks, with no draws."""

    def pick(self, runnable, cur, keep):
        if keep:
            return cur
        return runnable[0]


def _zero(n, label=""):
    return 0


def _thread_body(env: Env, spec: ThreadSpec):
    def body(ctx):
        results = env.results.setdefault(spec.name, [])
        for op in spec.ops:
            r = yield from op.run(env, ctx)
            results.append(r)
            ctx.user_return(op.text())
    return body


S_TEARDOWN_BARRIER = site("teardown:final_rcu_barrier")


def _teardown(env: Env):
    def body(ctx):
        env.pictures = {name: mm_picture(p.mm) for name, p in env.world.processes.items()
                        if p.mm.kstate == "allocated"}
        live = [p.mm for p in env.world.processes.values()
                if p.mm.kstate == "allocated" and not p.mm.exited]
        steps = _teardown_steps(env, ctx)
        first = next(steps, None)
        if first is None:
            return
        yield first
        # Every thread has finished: the checkers may read all of memory now. This runs
        # in the teardown's first step, before that step's code (code before the first
        # yield runs when the thread is created, where a report could not be raised).
        ctx.event("quiescent", live)
        yield from steps
    return body


def _teardown_steps(env: Env, ctx):
    for name in sorted(env.pins):
        yield from unpin_user_pages(ctx, env.pins.pop(name))
    for pname in env.program.processes:
        proc = env.process(pname)
        while proc.threads > 0:
            yield from exit_mm(ctx, proc)
    for fname, _ in env.program.files:
        yield from truncate_inode_pages(ctx, env.file(fname))
    yield from drain_swap_cache(ctx)
    yield from rcu_barrier(ctx, S_TEARDOWN_BARRIER)


def strategy_for(program: Program, strategy):
    """``strategy``, or the program's own schedule (a Replay), or the random walk."""
    if strategy is not None:
        return strategy
    if program.schedule is not None:
        return Replay([x for x in program.schedule if isinstance(x, ScheduleLine)],
                      directives=[x for x in program.schedule if not isinstance(x, ScheduleLine)])
    return RandomWalk()


def run_program(program: Program, source=None, strategy=None, checkers=None,
                bugs: BugSet | None = None, observe=None) -> Outcome:
    """Run ``program``. Without a source, its recorded ``choices`` (or none: the default
    choices) are replayed; without a strategy, its schedule (or the random walk over the
    source). ``observe(kernel)``, if given, installs observers (``ptfuzz show``'s) after
    the checkers; it must not change the run."""
    if source is None:
        source = ReplaySource(program.choices or ())
    strategy = strategy_for(program, strategy)
    m = Machine(source, _Sequential(), program.config,
                program.bugs if bugs is None else bugs, checkers)
    kernel, engine = m.kernel, m.engine
    if observe is not None:
        observe(kernel)
    boot_world(kernel)
    for name, pages in program.files:
        create_file(kernel, name, pages)
    for name in program.processes:
        create_process(kernel, name)
    env = Env(program, kernel)
    for t in program.threads:
        if t.proc is not None:
            env.process(t.proc).threads += 1
    for p in kernel.world.processes.values():
        p.mm.mm_users = max(p.threads, 1)
        if p.threads == 0:
            p.threads = 1                      # the process's own reference (teardown)
    # Phase 0: the setup, sequentially, with no choices drawn.
    real_choose = engine.choose
    engine.choose = _zero
    if program.setup:
        m.spawn("setup", _thread_body(env, ThreadSpec("setup", None, program.setup)),
                what="setup")
        res = engine.run()
        if res.report is not None:
            engine.choose = real_choose
            return Outcome(res.title, res.report, res.trace, res.nsteps, env.results)
    # Phase 1: the threads, under the strategy.
    start = len(engine.steps)
    engine.choose = real_choose
    engine.strategy = strategy
    strategy.attach(engine)
    for t in program.threads:
        kernel.spawn(t.name, _thread_body(env, t))
    res = m.run(teardown=_teardown(env))
    finish = getattr(strategy, "finish", None)
    if finish is not None and res.report is None:
        finish()
    drift = getattr(strategy, "drift", None)
    return Outcome(res.title, res.report, res.trace, res.nsteps, env.results, drift,
                   env.pictures, start)
