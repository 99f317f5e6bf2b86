"""The engine: resumes simulated threads, interprets their traps, records the trace.

The engine knows nothing of kernels. It keeps the runnable set (ordered by thread id), asks
the strategy which runnable thread steps next, resumes it until its next trap, parks and
wakes threads on wait queues, and stops the run at the first report, at deadlock (every
live thread parked) or at livelock (the step bound, or too many retries in a row with no
other progress).

The retry rule. A thread that reaches a retry site (``SpinSite``) and whose next attempt
could only repeat the last one (nothing it read has changed) is not offered again until
another thread has stepped: CHESS's fairness rule, which keeps exhaustive search finite
and removes no behaviour. Whether the attempt can differ is the layer above's knowledge
(``retry_progress(thread)``, set by the kernel: has another CPU written what this one
read?); when it can, as after a ``cmpxchg`` or a recheck that failed because another CPU
wrote in between, the thread is offered at once like any other, so "retry before the
writer's next step" stays reachable.

Checkers observe runs through ``step_hooks`` (called after every step) and by raising
:class:`~core.sim.report.KernelReport` from inside a step.
"""

from __future__ import annotations

import os
from bisect import insort
from collections import Counter
from operator import attrgetter

from .invariants import InvariantViolation, check_engine
from .report import KernelReport, Report
from .thread import DONE, RUNNABLE, WAITING, Thread
from .trace import Trace
from .traps import Site, SpinSite, Wait

__all__ = ["Engine", "RunResult"]

_by_tid = attrgetter("tid")


class RunResult:
    """How a run ended: ``report`` is None for a clean run. ``final`` may name a clean
    run's final state (litmus programs do), which then stands in the title after "pass"."""

    __slots__ = ("report", "nsteps", "trace", "final")

    def __init__(self, report: Report | None, nsteps: int, trace: Trace) -> None:
        self.report = report
        self.nsteps = nsteps
        self.trace = trace
        self.final: str | None = None

    @property
    def title(self) -> str:
        if self.report is not None:
            return self.report.title
        return "pass" if self.final is None else f"pass: {self.final}"


class Engine:
    """Runs threads to completion under ``strategy``, drawing from ``source``.

    ``step_bound`` caps the steps of a run; ``spin_bound`` caps the retries one thread
    makes while no other thread takes a step. Both end the run with a ``livelock in ...``
    report. ``check_invariants``: check the engine's invariants, and those the layers
    above add to ``invariant_checks``, after every step (core/sim/invariants.py); a
    violation ends the run with a ``model error: invariant: ...`` report.
    """

    def __init__(self, source, strategy, *, step_bound: int = 100_000, spin_bound: int = 500,
                 check_invariants: bool = False) -> None:
        self.source = source
        self.strategy = strategy
        self.step_bound = step_bound
        self.spin_bound = spin_bound
        self.threads: list[Thread] = []
        self.runnable: list[Thread] = []
        self.steps: list = []
        self.step_hooks: list = []
        self.running: Thread | None = None
        self.live = 0               # non-daemon threads not yet done
        self.data_choices: list = []  # (step index, label, value) of each data choice
        self.preemptions: list = []   # step indices where a thread that could go on was
                                      # switched away from (CHESS's preemptions)
        self.choose = self._choose_data  # data choices; a strategy may interpose (replay)
        self.retry_progress = None  # thread -> bool: may its retry differ? (None: never)
        self.invariant_checks: list = [check_engine] if check_invariants else []
        strategy.attach(self)

    def _choose_data(self, n: int, label: str = "") -> int:
        """A data choice (not a scheduling one) by the thread now stepping: drawn from
        the source and noted with its step, so a schedule can force it again."""
        v = self.source.choose(n, label)
        if n > 1:
            self.data_choices.append((len(self.steps) - 1, label, v))
        return v

    # -- threads -------------------------------------------------------------------

    def spawn(self, name: str, make_gen, daemon: bool = False) -> Thread:
        """Create a thread from ``make_gen(thread) -> generator`` and run it up to its
        first trap. By convention a thread performs no shared action before its first
        trap, so priming it is not a step and needs no scheduling decision."""
        t = Thread(self, len(self.threads), name, None, daemon)
        t.gen = make_gen(t)
        self.threads.append(t)
        if not daemon:
            self.live += 1
        insort(self.runnable, t, key=_by_tid)
        try:
            trap = next(t.gen)
        except StopIteration:
            self._finish(t)
        else:
            self._apply(t, trap)
        return t

    def wake(self, t: Thread) -> None:
        if t.state is WAITING:
            t.state = RUNNABLE
            t.waitq = None
            insort(self.runnable, t, key=_by_tid)

    def thread(self, name: str) -> Thread:
        for t in self.threads:
            if t.name == name:
                return t
        raise KeyError(name)

    def _finish(self, t: Thread) -> None:
        t.state = DONE
        t.pending = None
        self.runnable.remove(t)
        if not t.daemon:
            self.live -= 1

    def _stuck(self, t: Thread) -> bool:
        """At a retry site: would re-running ``t`` only repeat its last attempt?"""
        progress = self.retry_progress
        return progress is None or not progress(t)

    def _apply(self, t: Thread, trap) -> None:
        tp = type(trap)
        if tp is Site:
            t.pending = trap
            t.spun = False
        elif tp is SpinSite:
            t.pending = trap
            t.spun = self._stuck(t)
        elif tp is Wait:
            t.pending = trap.site
            t.spun = False
            t.state = WAITING
            t.waitq = trap.waitq
            trap.waitq.waiters.append(t)
            self.runnable.remove(t)
        else:
            raise TypeError(f"thread {t.name} spinner {trap!r}, which is not a trap")

    # -- the run loop ----------------------------------------------------------------

    def run(self) -> RunResult:
        try:
            report = self._loop()
        except KernelReport as e:
            report = e.report
        if report is not None:
            report.schedule = self.trace().tail()
        return RunResult(report, len(self.steps), self.trace())

    def _loop(self) -> Report | None:
        runnable = self.runnable
        record = self.steps.append
        pick = self.strategy.pick
        after = bool(self.step_hooks or self.invariant_checks)
        step_bound = self.step_bound
        spin_bound = self.spin_bound
        spinner = None              # the thread now retrying, if any
        spins = 0                   # its retries since another thread last stepped
        cur = None
        keep = False
        nsteps = len(self.steps)
        while self.live:
            if not runnable:
                return self._deadlock()
            if spinner is None or not spinner.spun or len(runnable) == 1:
                t = pick(runnable, cur, keep)
            else:
                # A thread that has just reached a retry site with nothing changed is not
                # offered again until another thread has stepped (the retry rule above).
                t = pick([x for x in runnable if x is not spinner], cur, keep)
            if keep and t is not cur:
                self.preemptions.append(nsteps)
            s = t.pending
            record((t.tid, s))
            self.running = t
            t.steps += 1
            cur = t
            try:
                trap = t.gen.send(None)
            except StopIteration:
                self._finish(t)
                keep, spins, spinner = False, 0, None
            except KernelReport as e:
                return self._attributed(e.report, t, s)
            except Exception as e:                      # noqa: BLE001
                return self._model_error(t, s, e)
            else:
                tp = type(trap)
                if tp is Site:
                    t.pending = trap
                    t.spun = False
                    keep = True
                    if t is not spinner:
                        spins = 0
                        spinner = None
                elif tp is SpinSite:
                    t.pending = trap
                    t.spun = self._stuck(t)
                    keep = False
                    if t is not spinner:
                        spins = 0
                        spinner = t
                    spins += 1
                    if spins > spin_bound:
                        return self._livelock(
                            trap, f"{spins} retries in a row with no other progress")
                else:
                    self._apply(t, trap)
                    keep, spins, spinner = False, 0, None
            if after:
                r = self._after_step(t, s)
                if r is not None:
                    return r
            nsteps += 1
            if nsteps >= step_bound:
                return self._livelock(None, f"step bound {step_bound} reached")
        self.running = None
        return None

    def _after_step(self, t: Thread, s: Site) -> Report | None:
        """The step hooks (checkers may raise a report), then the invariant checks."""
        for h in self.step_hooks:
            h(t)
        for check in self.invariant_checks:
            try:
                check(self)
            except InvariantViolation as e:
                return self._invariant_report(t, s, e)
        return None

    @staticmethod
    def _attributed(r: Report, t: Thread, s: Site) -> Report:
        """A report raised in ``t``'s step at ``s``, attributed to it unless it names
        its own thread."""
        if r.thread is None:
            r.thread, r.site = t.name, s.name
        return r

    def _model_error(self, t, s, e: Exception) -> Report:
        """A Python exception inside a step: the model (or a bug switch) reached a state
        it has no answer for. It is a finding like any report, with a reproducer, never a
        crash of the fuzzer; the fixed model must never produce one."""
        import traceback
        frames = traceback.extract_tb(e.__traceback__)
        where = frames[-1].name if frames else s.func
        r = Report(f"model error: {type(e).__name__} in {where}", "model-error",
                   thread=t.name, site=s.name)
        r.add("exception", f"{type(e).__name__}: {e}")
        for fr in frames[-6:]:
            r.add("at", f"{os.path.basename(fr.filename)}:{fr.lineno} {fr.name}")
        return r

    def _invariant_report(self, t, s, e: InvariantViolation) -> Report:
        """A broken invariant after ``t``'s step at ``s``: a model error (the title
        names the invariant; the detail which threads and objects)."""
        r = Report(f"model error: invariant: {e.what}", "model-error", thread=t.name,
                   site=s.name)
        if e.detail:
            r.add("detail", e.detail)
        return r

    def _deadlock(self) -> Report:
        stuck = [t for t in self.threads if t.state is WAITING]
        first = next((t for t in stuck if not t.daemon), stuck[0])
        r = Report(f"INFO: task hung in {first.pending.func}", "hung",
                   thread=first.name, site=first.pending.name)
        r.add("reason", "every live thread is blocked")
        for t in stuck:
            r.add(f"blocked {t.name}", f"at {t.pending.name} on {t.waitq.name}")
        return r

    def _livelock(self, spin: Site | None, reason: str) -> Report:
        """A livelock report: at a retry site, ``livelock in FUNC``; at the step bound,
        ``livelock in FUNC (step bound N reached)`` with the busiest recent function, so a
        long legal program is not mistaken for a retry loop that never ends."""
        if spin is None:
            recent = Counter(s.func for _, s in self.steps[-1000:])
            func = min(recent.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            title = f"livelock in {func} (step bound {self.step_bound} reached)"
        else:
            title = f"livelock in {spin.func}"
        r = Report(title, "livelock")
        if self.running is not None:
            r.thread = self.running.name
            r.site = self.running.pending.name if self.running.pending else None
        r.add("reason", reason)
        return r

    # -- results ---------------------------------------------------------------------

    def trace(self) -> Trace:
        names = {t.tid: t.name for t in self.threads}
        pending = {t.tid: t.pending for t in self.threads}
        src = self.source
        return Trace(self.steps, names, src.values, src.bounds, self.data_choices, pending,
                     self.preemptions)
