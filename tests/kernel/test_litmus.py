"""The litmus programs of core/litmus, explored exhaustively and under their schedules."""

import pytest

from core.litmus import LITMUS, explore_litmus, run_schedule

# Exhaustive outcome counts (no preemption bound). They change only when the engine's
# exploration, a primitive's interleaving points or a litmus program changes; update them
# deliberately, with the reason in the commit.
EXPECTED = {
    # Unchanged since callbacks moved from the grace-period kthread to their own thread
    # (rcu_cb): its wake-up step is its first invocation, so a single callback adds no
    # interleavings here.
    "rcu-reader": {"pass": 472},
    "rcu-leaky-reader": {"BUG: KASAN: slab-use-after-free Read in litmus_leaky_reader": 5,
                         "pass": 491},
    "ipi-sync-irqoff": {"pass": 13},
    "ipi-sync-rcu": {"litmus: IPI sync returned during an rcu_read_lock section": 1,
                     "pass": 19},
    "synchronize-rcu": {"pass": 54},
    "abba": {"WARNING: possible circular locking dependency detected": 16},
    "abba-no-lockdep": {"INFO: task hung in litmus_abba_t0": 4, "pass": 12},
    "irq-spin-vs-ipi": {"INFO: task hung in litmus_irq_spinner": 4, "pass": 9},
    "recursive": {"WARNING: possible recursive locking detected": 1},
    "sleep-in-rcu": {"BUG: sleeping function called from invalid context": 1},
    "unlock-balance": {"WARNING: bad unlock balance detected!": 1},
    "held-at-return": {"WARNING: lock held when returning to user space!": 1},
    "double-free": {"BUG: KASAN: double-free in litmus_double_free": 1},
    "invalid-free": {"BUG: KASAN: invalid-free in litmus_invalid_free": 1},
    "leak": {"memory leak: litmus item": 1},
    "livelock": {"livelock in litmus_spinner": 1},
    "spin-until-set": {"pass": 2},
    # Under the old retry rule (a retry waits for another thread's step whatever it
    # read) this was 6 runs, without the two "read 0,1" outcomes.
    "cmpxchg-retry": {"pass: read 0 final 2": 1, "pass: read 0,2 final 12": 3,
                      "pass: read 0,1 final 2": 1, "pass: read 0,1,2 final 12": 1,
                      "pass: read 2 final 12": 1, "pass: read 1 final 2": 1,
                      "pass: read 1,2 final 12": 1},
    "rcu-cb-pending": {"pass: ran a by the look, a in all": 507,
                       "pass: ran - by the look, a in all": 126},
    # bound 2 (the program's own bound): unbounded, rcu-barrier has 13,158 runs and
    # rcu-cb-order more than 200,000.
    "rcu-barrier": {"pass: ran ab by the look, ab in all": 420,
                    "pass: ran a by the look, ab in all": 1128,
                    "pass: ran ba by the look, ba in all": 331},
    "rcu-cb-order": {"pass: ran abc": 2350, "pass: ran acb": 2102, "pass: ran cab": 2000},
}


def test_every_litmus_program_has_expected_counts():
    assert set(EXPECTED) == set(LITMUS)


@pytest.mark.parametrize("name", sorted(LITMUS))
def test_exhaustive_outcomes(name):
    lit = LITMUS[name]
    ex = explore_litmus(lit)
    assert ex.complete
    assert dict(ex.outcomes) == EXPECTED[name]
    assert not ex.missing(lit) and not ex.forbidden(lit)


SCHEDULES = [(n, s) for n, lit in sorted(LITMUS.items()) for s in lit.schedules]


@pytest.mark.parametrize("name,schedule", SCHEDULES)
def test_hand_written_schedules(name, schedule):
    lit = LITMUS[name]
    res, strategy = run_schedule(lit, schedule)
    assert strategy.drift is None
    assert res.title == lit.schedules[schedule][1]


def test_bounded_exploration_is_a_subset():
    lit = LITMUS["abba-no-lockdep"]
    ex0 = explore_litmus(lit, bound=0)
    # Without preemption each thread runs to its end or its first block: no deadlock.
    assert dict(ex0.outcomes) == {"pass": ex0.runs}
    ex1 = explore_litmus(lit, bound=1)
    assert ex1.outcomes["INFO: task hung in litmus_abba_t0"] >= 1
    assert ex1.runs < explore_litmus(lit).runs
