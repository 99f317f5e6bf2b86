from core.kernel import (local_irq_disable, local_irq_enable, rcu_read_lock, rcu_read_unlock,
                         smp_call_function)
from core.litmus import LITMUS, run_schedule
from core.sim import site

from .helpers import run_threads


def test_use_after_grace_period_report_names_alloc_queue_and_free_sites():
    res, _ = run_schedule(LITMUS["rcu-leaky-reader"], "read-after-gp")
    r = res.report
    assert r.title == "BUG: KASAN: slab-use-after-free Read in litmus_leaky_reader"
    assert r.thread == "T0" and r.site == "litmus_leaky_reader:load_val"
    assert r.detail("access") == ("Read of litmus item #1 by T0 at "
                                  "litmus_leaky_reader:load_val")
    assert r.detail("allocated by") == "setup at litmus_setup:alloc"
    assert r.detail("free queued by") == "T1 at litmus_updater:call_rcu"
    assert r.detail("freed by") == "rcu_cb at litmus_free_item:kfree"
    assert r.detail("memory") == "freed object still in KASAN quarantine"
    assert r.schedule[-1] == "T0@litmus_leaky_reader:load_val"


def test_grace_period_waits_for_a_reader_that_entered_first():
    res, strategy = run_schedule(LITMUS["rcu-reader"], "reader-first")
    assert res.title == "pass" and strategy.drift is None
    lines = list(res.trace.lines())
    # The free runs only after the reader has left its section.
    assert lines.index("rcu_cb@litmus_free_item:kfree") > lines.index(
        "T0@litmus_reader:rcu_read_unlock")


def test_ipi_sync_waits_for_an_irq_off_section():
    lit = LITMUS["ipi-sync-irqoff"]
    from core.litmus.runner import run_litmus, schedule_lines
    from core.sim import ReplaySource
    from core.sim.strategies import Replay
    strategy = Replay(schedule_lines([("T0", "litmus_irqoff:local_irq_enable"), ("T1", None)]))
    res = run_litmus(lit, ReplaySource([]), strategy)
    assert res.title == "pass"
    # T1 could not finish: it blocked in the sync until T0 enabled IRQs.
    assert strategy.drift.reason == ("T1 blocked at litmus_ipi_sync:tlb_remove_table_sync_one"
                                     " (waiting on ipi_done)")
    lines = list(res.trace.lines())
    assert lines.index("T1@litmus_ipi_sync:done") > lines.index(
        "T0@litmus_irqoff:local_irq_enable")


def test_ipi_sync_does_not_wait_for_an_rcu_section():
    res, strategy = run_schedule(LITMUS["ipi-sync-rcu"], "sync-inside-section")
    assert strategy.drift is None
    assert res.title == "litmus: IPI sync returned during an rcu_read_lock section"


S_OFF = site("test_ipi_sender:local_irq_disable")
S_SEND = site("test_ipi_sender:smp_call_function")
S_ON = site("test_ipi_sender:local_irq_enable")


def test_sending_an_ipi_with_irqs_off_is_a_warning():
    def sender(ctx):
        yield from local_irq_disable(ctx, S_OFF)
        yield from smp_call_function(ctx, lambda c: None, S_SEND)
        yield from local_irq_enable(ctx, S_ON)
    res, _, _ = run_threads([("T0", sender)])
    assert res.title == "WARNING in smp_call_function_many_cond"


S_R_LOCK = site("test_rcu_nesting:rcu_read_lock")
S_R_LOCK2 = site("test_rcu_nesting:rcu_read_lock_nested")
S_R_UNLOCK = site("test_rcu_nesting:rcu_read_unlock")
S_R_UNLOCK2 = site("test_rcu_nesting:rcu_read_unlock_outer")


def test_rcu_nesting_and_unbalanced_unlock():
    def nested(ctx):
        yield from rcu_read_lock(ctx, S_R_LOCK)
        yield from rcu_read_lock(ctx, S_R_LOCK2)
        yield from rcu_read_unlock(ctx, S_R_UNLOCK)
        assert ctx.in_rcu_reader()
        yield from rcu_read_unlock(ctx, S_R_UNLOCK2)
        assert not ctx.in_rcu_reader()
        yield from rcu_read_unlock(ctx, S_R_UNLOCK)
    res, _, _ = run_threads([("T0", nested)])
    assert res.title == "WARNING: bad unlock balance detected!"
    assert res.report.detail("releasing") == (
        "rcu_read_lock at test_rcu_nesting:rcu_read_unlock, which T0 does not hold")


def test_open_rcu_section_at_return_to_user():
    def leaves_open(ctx):
        yield from rcu_read_lock(ctx, S_R_LOCK)
    res, _, _ = run_threads([("T0", leaves_open)])
    assert res.title == "WARNING: lock held when returning to user space!"
    assert res.report.detail("held locks") == (
        "rcu_read_lock (rcu) taken at test_rcu_nesting:rcu_read_lock")
