"""The Hypothesis driver's state machine: programs and interleavings grown rule by rule,
shrunk together.

``initialize`` draws the world (config, processes, mappings, the setup's touches) through
the program generator; ``add_operation`` appends one operation to a thread;
``run_until`` appends a schedule piece that stops a thread before one of the sites it
took in the last run ("run T0 until double_pt_lock:spin_lock"), ``run_for`` one that
runs a thread for some steps ("run T1 for 12 steps"); ``randomize_rest`` draws one seed
that schedules everything after the pieces by PCT (without it, the other threads run
before the last piece's thread, then the threads run to their ends in turn). After every rule the
invariant runs the program built so far from scratch with the pieces as its schedule
(the rest by default) and fails on any report of the kernel's checkers (KASAN, lockdep,
the data oracle, accounting, leaks, hangs). Because operations and pieces are rules,
Hypothesis shrinks both at once; the failing case is printed as a ``.kprog``.

Every draw goes through :class:`HypothesisSource`, a choice source over Hypothesis
data, so the generator's "0 is the simplest" convention is also Hypothesis' shrink
direction. The schedule is drawn in pieces (one draw per piece, not per step).
"""

from __future__ import annotations

from hypothesis import note
from hypothesis import target as hypothesis_target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.program.generate import ProgramBuilder
from core.program.program import ThreadSpec, run_program
from core.sim import ChoiceSource, RandomSource, ReplaySource
from core.sim.strategies import PCT, Pieces

from .findings import make_finding
from .target import Case, Target, interleaving_pairs

__all__ = ["HypothesisSource", "PtMachine", "machine_for", "ProgramFailed"]

USER_THREADS = ("T0", "T1", "T2")
THREADS = USER_THREADS + ("K0",)


class ProgramFailed(AssertionError):
    """The program built so far reports: the title, then the ``.kprog``."""


class HypothesisSource(ChoiceSource):
    """Choices drawn from Hypothesis data (which shrinks each toward 0)."""

    def __init__(self, data):
        super().__init__()
        self.data = data

    def _draw(self, n: int) -> int:
        return self.data.draw(st.integers(0, n - 1))


class PtMachine(RuleBasedStateMachine):
    """Grows a program and its schedule; fails when a run of it reports. Subclass it
    (or use :func:`machine_for`) to set ``target`` (bug switches, fixed config), and add
    your own rules and invariants as for any Hypothesis state machine."""

    target = Target()
    max_ops = 2                  # per thread
    stats = None                 # a drivers.Stats, when a driver counts executions
    pair_feedback = True         # target() the most distinct site pairs a run switched at
    last_failure: Case | None = None

    def __init__(self):
        super().__init__()
        self.builder: ProgramBuilder | None = None
        self.procs: dict[str, str] = {}
        self.ops: dict[str, list] = {}
        self.pieces: list = []
        self.rest: tuple[int, int] | None = None     # (PCT depth, seed) after the pieces
        self.best_pairs = 0
        self.last_outcome = None                 # the last run's, for run_until's sites
        self.k_estimate = 300        # PCT's k for the rest of a run: the last run's length
        self.runs = 0                # runs of this example so far

    # -- rules -------------------------------------------------------------------

    @initialize(data=st.data(), rest=st.none() | st.tuples(st.integers(2, 3),
                                                            st.integers(1, 2**32 - 1)))
    def make_world(self, data, rest):
        self.builder = ProgramBuilder(HypothesisSource(data), bugs=self.target.bugs,
                                      fixed=self.target.fixed)
        # Most examples schedule by PCT from the start, so every run of the growing
        # program tries a new interleaving; it shrinks to None (threads in turn).
        self.rest = rest

    @precondition(lambda self: self.builder is not None)
    @rule(data=st.data(), thread=st.sampled_from(THREADS))
    def add_operation(self, data, thread):
        ops = self.ops.get(thread, [])
        if len(ops) >= self.max_ops or (ops and ops[-1].ends_thread):
            return
        if not ops and sum(1 for o in self.ops.values() if o) >= self.builder.config.cpus:
            return                          # one CPU a thread: no room for another
        ops = self.ops.setdefault(thread, [])
        b = self.builder
        b.src = HypothesisSource(data)
        if thread == "K0":
            ops.append(b.kthread_op())
            return
        if thread not in self.procs:
            self.procs[thread] = b.thread_proc(USER_THREADS.index(thread))
        ops.extend(b.user_ops(self.procs[thread]))

    @precondition(lambda self: any(self.ops.values()))
    @rule(thread=st.sampled_from(THREADS), steps=st.integers(1, 64))
    def run_for(self, thread, steps):
        self.pieces.append((thread, steps))

    @precondition(lambda self: self.last_outcome is not None)
    @rule(data=st.data())
    def run_until(self, data):
        by_thread = _sites_by_thread(self.last_outcome)
        names = sorted(by_thread)
        if not names:
            return
        name = names[data.draw(st.integers(0, len(names) - 1))]
        sites = by_thread[name]
        i = data.draw(st.integers(0, len(sites) - 1))
        self.pieces.append((name, sites[i], sites[:i].count(sites[i]) + 1))

    @precondition(lambda self: any(self.ops.values()))
    @rule(depth=st.integers(2, 3), seed=st.integers(1, 2**32 - 1))
    def randomize_rest(self, depth, seed):
        self.rest = (depth, seed)

    # -- the check ---------------------------------------------------------------

    def program(self):
        threads = []
        for name in THREADS:
            ops = self.ops.get(name)
            if ops:
                threads.append(ThreadSpec(name, self.procs.get(name), tuple(ops)))
        return self.builder.build(threads)

    @invariant()
    def runs_without_a_report(self):
        if self.builder is None or not any(self.ops.values()):
            return
        prog = self.program()
        if self.rest is None:
            source, strategy = ReplaySource(()), Pieces(self.pieces, others_first=True)
        else:
            depth, seed = self.rest
            # Every run a new interleaving (the seed and the run's number): the program
            # grows a rule at a time, and re-running an unchanged prefix under the same
            # schedule would only repeat the last run.
            source = RandomSource(seed * 1_000_003 + self.runs)
            strategy = Pieces(self.pieces, PCT(depth=depth, k=self.k_estimate))
        case = Case(prog, run_program(prog, source, strategy), strategy.describe())
        self.runs += 1
        self.k_estimate = max(8, case.threads_steps)
        self.last_outcome = case.outcome
        if self.stats is not None:
            self.stats.add(case)
        if self.pair_feedback:
            self.best_pairs = max(self.best_pairs, len(interleaving_pairs(case)))
        if case.found:
            type(self).last_failure = case
            text = make_finding(case, "ptfuzz's Hypothesis state machine").text()
            note(text)
            raise ProgramFailed(f"{case.outcome.title}\n{text}")

    def teardown(self):
        # Interleaving coverage as Hypothesis' optimisation target: examples whose runs
        # switch between threads at more distinct pairs of sites are preferred.
        if self.pair_feedback and self.best_pairs:
            hypothesis_target(float(self.best_pairs), label="site pairs at switches")


def _sites_by_thread(outcome) -> dict:
    """Thread name -> the sites it took after the setup, in order."""
    trace = outcome.trace
    sites: dict = {}
    for tid, site in trace.steps[outcome.start:]:
        sites.setdefault(trace.names[tid], []).append(site)
    return sites


def machine_for(target: Target, name: str = "PtMachineFor") -> type:
    """A :class:`PtMachine` subclass for ``target``."""
    return type(name, (PtMachine,), {"target": target, "last_failure": None})
