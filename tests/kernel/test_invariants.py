"""The engine and the substrate check their own invariants after every step (the test
suite turns the checks on: tests/conftest.py); a model that breaks one gets a
``model error: invariant: ...`` report naming it, the same on every replay."""

import pytest

from core.kernel import Config, lock_class, spin_lock, spin_unlock
from core.kernel.spinlock import Spinlock
from core.machine import Machine
from core.sim import Engine, ReplaySource, Wait, WaitQueue, site
from core.sim.strategies import PCT, RandomWalk

from .helpers import Obj, run_threads, static

LK = lock_class("test_inv_lock")
S_A = site("test_invariants:a")
S_B = site("test_invariants:b")
S_LOCK = site("test_invariants:lock")
S_UNLOCK = site("test_invariants:unlock")


def test_the_suite_checks_invariants():
    assert Config().check_invariants


def _lock():
    return Spinlock("inv", LK, static(Obj()))


def test_clean_locking_breaks_nothing():
    lk = _lock()

    def t(ctx):
        yield from spin_lock(ctx, lk, S_LOCK)
        yield from spin_unlock(ctx, lk, S_UNLOCK)

    assert run_threads([("T0", t), ("T1", t)])[0].title == "pass"


def test_owner_without_the_held_entry():
    lk = _lock()

    def sneaky(ctx):
        yield S_A
        lk.owner = ctx               # takes the lock without spin_lock's bookkeeping
        yield S_B
        lk.owner = None
        lk.wq.wake_all()

    def waiter(ctx):
        yield from spin_lock(ctx, lk, S_LOCK)
        yield from spin_unlock(ctx, lk, S_UNLOCK)

    res = run_threads([("T0", sneaky), ("T1", waiter)],
                      [("T0", "test_invariants:b"), ("T1", "test_invariants:lock"),
                       ("T1", None)])[0]
    assert res.title == "model error: invariant: lock owner does not hold it"
    assert res.report.detail("detail") == "inv owned by T0, awaited by T1"


def test_preempt_count_follows_the_spinlocks():
    def leaky(ctx):
        yield S_A
        ctx.preempt_count += 1       # preempt_disable() with no model of it
        yield S_B
        ctx.preempt_count -= 1

    res = run_threads([("T0", leaky)])[0]
    assert res.title == "model error: invariant: preempt count is not the spinlocks held"
    assert res.report.detail("detail") == "T0: count 1, 0 held"
    assert res.report.thread == "T0" and res.report.site == "test_invariants:a"


def test_lost_wakeup():
    lk = _lock()

    def unlock_without_wake(ctx):
        yield from spin_lock(ctx, lk, S_LOCK)
        yield S_A
        ctx.held.pop()
        ctx.preempt_count -= 1
        lk.owner = None              # spin_unlock without wake_all
        yield S_B

    def waiter(ctx):
        yield from spin_lock(ctx, lk, S_LOCK)
        yield from spin_unlock(ctx, lk, S_UNLOCK)

    res = run_threads([("T0", unlock_without_wake), ("T1", waiter)],
                      [("T0", "test_invariants:a"), ("T1", None)])[0]
    assert res.title == "model error: invariant: thread waits on a free lock (lost wake-up)"


def _engine(strategy, check=True):
    return Engine(ReplaySource(()), strategy, check_invariants=check)


def _steps(*sites):
    def make(thread):
        def g():
            yield from sites
        return g()
    return make


def test_wait_queue_holds_a_thread_not_waiting_on_it():
    q = WaitQueue("q")

    def t0(thread):
        def g():
            yield S_A
            q.waiters.append(thread)     # on a queue, but not parked
            yield S_B
        return g()

    def t1(thread):
        def g():
            yield Wait(q, S_A)           # parked on it (never woken: a hang otherwise)
        return g()

    e = _engine(RandomWalk())
    e.spawn("T0", t0)
    e.spawn("T1", t1)
    res = e.run()
    assert res.title == "model error: invariant: wait queue holds a thread not waiting on it"
    assert res.report.detail("detail") == "T0 (runnable) on q"


def test_off_means_off():
    q = WaitQueue("q")

    def t0(thread):
        def g():
            yield S_A
            q.waiters.append(thread)
            yield S_B
        return g()

    e = _engine(RandomWalk(), check=False)
    e.spawn("T0", t0)
    assert e.run().title == "pass"


def test_pct_priorities_are_distinct():
    s = PCT(depth=2, k=10)
    e = _engine(s)
    e.spawn("T0", _steps(S_A, S_B))
    e.spawn("T1", _steps(S_A, S_B))
    s.attach(e)
    s._start(e.threads)
    s.check_invariants()
    s.prio[1] = s.prio[0]
    with pytest.raises(Exception, match="PCT priorities not distinct: T0=.*, T1="):
        s.check_invariants()


def test_the_report_replays():
    def leaky(ctx):
        yield S_A
        ctx.preempt_count += 1
        yield S_B

    titles = set()
    for _ in range(2):
        m = Machine(ReplaySource(()), RandomWalk())
        m.spawn("T0", leaky, what="T0")
        titles.add(m.run().title)
    assert titles == {"model error: invariant: preempt count is not the spinlocks held"}
