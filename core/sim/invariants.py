"""The engine's own invariants, checked as it runs (as Shuttle asserts its scheduler's).

A violation is a mistake in the model or the engine, not in the kernel modelled: the run
ends with a ``model error: invariant: ...`` report, a finding with a reproducer like any
other, which the fixed model must never produce. The layers above add their own checks to
``Engine.invariant_checks`` (the kernel's: every held lock's owner is the CPU holding it).

Checked after every step with ``Engine(check_invariants=True)`` (config
``check_invariants``: on in the test suite and the soak, off by default in fuzzing, where
the checks would cost about 70% of the executions: docs/model.md):

* the runnable list is exactly the runnable threads, each once, in thread-id order;
* a waiting thread is on its wait queue exactly once, and every thread on a wait queue
  is waiting on that queue (so a waiter is on exactly one queue);
* a finished thread has no pending site; the live count is the unfinished non-daemon
  threads;
* the strategy's own (PCT: priorities distinct).
"""

from __future__ import annotations

from .thread import RUNNABLE, WAITING

__all__ = ["InvariantViolation", "check_engine"]


class InvariantViolation(Exception):
    """A broken invariant of the engine or the substrate. ``what`` is the stable part of
    the message (the report's title); ``detail`` names the threads and objects."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"{what}: {detail}" if detail else what)
        self.what = what
        self.detail = detail


def check_engine(engine) -> None:
    runnable = engine.runnable
    nrun = len(runnable)
    i = live = 0
    waiting = None
    for t in engine.threads:                 # in thread-id order, as runnable is
        st = t.state
        if st is RUNNABLE:
            if i >= nrun or runnable[i] is not t:
                raise InvariantViolation(
                    "runnable list disagrees with thread states",
                    f"runnable {[x.name for x in runnable]}, {t.name} is runnable")
            i += 1
            if t.waitq is not None:
                raise InvariantViolation("runnable thread still names a wait queue",
                                         f"{t.name} on {t.waitq.name}")
        elif st is WAITING:
            q = t.waitq
            if q is None or q.waiters.count(t) != 1:
                raise InvariantViolation(
                    "waiting thread not on its wait queue exactly once",
                    f"{t.name} on {q.name if q else None}")
            if waiting is None:
                waiting = {}
            waiting[id(q)] = q
        else:
            if t.pending is not None:
                raise InvariantViolation("finished thread has a pending site",
                                         f"{t.name} at {t.pending.name}")
            continue
        if not t.daemon:
            live += 1
    if i != nrun:
        raise InvariantViolation("runnable list disagrees with thread states",
                                 f"runnable {[x.name for x in runnable]}")
    if live != engine.live:
        raise InvariantViolation("live count disagrees with thread states",
                                 f"count {engine.live}, unfinished {live}")
    if waiting:
        for q in waiting.values():
            for w in q.waiters:
                if w.state is not WAITING or w.waitq is not q:
                    raise InvariantViolation("wait queue holds a thread not waiting on it",
                                             f"{w.name} ({w.state}) on {q.name}")
    engine.strategy.check_invariants()
