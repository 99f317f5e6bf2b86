"""TLB flushing without IPIs (``tlb_flush=broadcast``: arm64's TLBI, x86's INVLPGB): a
flush no longer waits for an IRQ-off GUP-fast walk, so ``collapse_huge_page`` sends
``tlb_remove_table_sync_one`` after ``pmdp_collapse_flush`` (mm/khugepaged.c, Jann Horn's
2ba99c5e0881): the old table is deposited under the huge pmd and freed at once by a later
zap (``zap_deposited_table`` -> ``pte_free``), not by RCU, so GUP-fast must be out of it
first. With IPI flushing the flush itself waits; the sync is then redundant (and without
RCU table freeing it is the empty inline)."""

import pytest

from core.kernel import Config, ConfigError

from ..quality.broken_variants import apply
from .helpers import control, raced, reschedule, run, steps, with_config

GUP_VS_COLLAPSE = """
    kprog 1
    # T0's GUP-fast (IRQs off) has read m0's pmd and stops before reading the pte. K0
    # collapses m0: it clears the pmd, flushes, and then sends the sync IPI, which waits
    # until T0 has enabled IRQs. T0 reads the pte from the detached table, grabs the folio,
    # finds the pmd changed and puts it back (no pin). Then T1's MADV_DONTNEED zaps the
    # huge pmd and frees the deposited table.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
    }
    T0 on p0 {
      gup_fast m0+0 pages=1
    }
    K0 kthread {
      khugepaged_scan m0+0
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until gup_fast_pte_range:ptep_get_lockless
      K0 until collapse_huge_page:tlb_remove_table_sync_one
      T0 finish
      K0 finish
      T1 finish
      *
    }
"""
BROADCAST = with_config(GUP_VS_COLLAPSE, "tlb_flush=broadcast")
IPI = with_config(GUP_VS_COLLAPSE, "tlb_flush=ipi")
# K0 runs to its end while T0 is still inside its IRQ-off walk, then T1 frees the table.
SKIP_THE_WAIT = ["T0 until gup_fast_pte_range:ptep_get_lockless", "K0 finish", "T1 finish",
                 "T0 finish"]
SERIAL = ["T0 finish", "K0 finish", "T1 finish"]
BAIL_OUT = "gup_fast_pte_range:gup_put_folio"


def test_with_broadcast_flushes_the_sync_ipi_waits_for_gup_fast_which_backs_off():
    o = raced(BROADCAST, BAIL_OUT)
    assert o.results == {"setup": [0, 7, 9], "T0": [0], "K0": ["succeed"], "T1": [0]}
    t0 = steps(o, "T0")
    assert t0[t0.index("gup_fast_pte_range:pmd_recheck") + 1] == BAIL_OUT
    # The flush did not wait: K0 reached the sync while T0 still had IRQs off.
    k0 = steps(o, "K0")
    assert k0.index("collapse_huge_page:flush_tlb_range") + 2 == \
        k0.index("collapse_huge_page:tlb_remove_table_sync_one")
    # Serially T0 pins the page first, and the collapse finds the extra reference.
    c = control(BROADCAST, SERIAL, BAIL_OUT)
    assert c.results["T0"] == [1] and c.results["K0"] == ["page_count"]


def test_with_ipi_flushes_the_flush_itself_waits_for_gup_fast():
    o = run(IPI)
    assert o.title == "pass"
    assert o.drift.message() == (
        "schedule drift at line 25: 'K0 until collapse_huge_page:tlb_remove_table_sync_one': "
        "K0 blocked at collapse_huge_page:flush_tlb_range (waiting on ipi_done)")


@pytest.fixture
def no_sync(monkeypatch):
    """The broken variant: collapse_huge_page without tlb_remove_table_sync_one."""
    apply("collapse-no-sync-ipi", monkeypatch)


def test_without_the_sync_a_broadcast_flush_lets_gup_fast_read_a_freed_table(no_sync):
    o = run(reschedule(BROADCAST, SKIP_THE_WAIT))
    assert o.title == "BUG: KASAN: use-after-free Read in gup_fast_pte_range"
    assert o.drift is None
    assert o.report.detail("object").startswith("pte table #")
    assert o.report.detail("freed by") == "T1 at zap_deposited_table:pte_free"


def test_without_the_sync_an_ipi_flush_still_waits(no_sync):
    o = run(reschedule(IPI, SKIP_THE_WAIT))
    assert o.title == "pass"
    assert o.drift.message().endswith(
        "K0 blocked at collapse_huge_page:flush_tlb_range (waiting on ipi_done)")


def test_broadcast_flushing_needs_rcu_table_freeing():
    with pytest.raises(ConfigError, match="tlb_flush=broadcast needs table_free=rcu or semi_rcu"):
        Config(tlb_flush="broadcast", table_free="tlb_only", pt_reclaim=False)
    assert Config(tlb_flush="broadcast", table_free="semi_rcu", pt_reclaim=False).tlb_flush == \
        "broadcast"
