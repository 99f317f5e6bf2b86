"""Protection changes (core/mm/mprotect.py: mprotect(2) and UFFDIO_WRITEPROTECT through
``change_protection``) and the write-protect fault (issue 18).

UFFDIO_WRITEPROTECT holds only the mmap read lock, so PT reclaim (MADV_DONTNEED under the
VMA's read lock) can free the table between ``change_pmd_range``'s pmd read and
``change_pte_range``'s ``pte_offset_map_lock``: the map fails and the pmd is looked at
again (``goto again``). The flush is deferred to ``tlb_finish_mmu``; a protection change
that forgets to record its ptes for it (a broken variant, in
tests/quality/broken_variants.py) leaves other CPUs writing through their old writable TLB
entries after the syscall returned, which the data oracle reports."""

import pytest

from ..quality.broken_variants import apply
from .helpers import control, raced, run, steps

WP_VS_RECLAIM = """
    kprog 1
    # T0's UFFDIO_WRITEPROTECT has read m0's pmd (a table) and stops before locking it.
    # T1's MADV_DONTNEED zaps the table and frees it (PT reclaim). T0's map finds the pmd
    # changed under the lock, then none: change_pte_range returns -EAGAIN, and the pmd,
    # read again, is none: nothing to protect.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+3 value=8
      uffd_register m0 wp
    }
    T0 on p0 {
      uffd_writeprotect m0+0 pages=8 wp
      write m0+0 value=1
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until __pte_offset_map_lock:spin_lock
      T1 finish
      T0 finish
      *
    }
"""
AGAIN = "change_pmd_range:again"


def test_a_table_freed_under_uffdio_writeprotect_is_looked_at_again():
    o = raced(WP_VS_RECLAIM, AGAIN)
    # Nothing was left to protect: the write faults in a new page.
    assert o.results == {"setup": [0, 7, 8, 0], "T0": [0, 1], "T1": [0]}
    t0 = steps(o, "T0")
    i = t0.index(AGAIN)
    assert t0[i - 1] == "__pte_offset_map:rcu_read_unlock"        # the map found no table
    assert t0[i + 1] == "change_pmd_range:pmd_none"
    assert t0.count("change_present_ptes:modify_prot_start_ptes") == 0
    # Serially the pages are protected first, and the write traps (SIGBUS: no handler).
    c = control(WP_VS_RECLAIM, ["T0 finish", "T1 finish"], AGAIN)
    assert c.results["T0"] == [0, "sigbus"]
    assert steps(c, "T0").count("change_present_ptes:modify_prot_start_ptes") == 2


WP_FAULT_FLUSH = """
    kprog 1
    # T1's UFFDIO_WRITEPROTECT resolves m1 (a private file mapping: its page-cache pages
    # stay read-only) and stops before its final flush. T0's write to m1+0 faults: the
    # pte is read-only without the uffd-wp bit, so do_wp_page copies the page; a flush is
    # pending on the mm, so it first flushes the page's translation everywhere.
    setup {
      p0 = process
      f0 = file pages=16
      m1 = mmap p0 private f0 pages=8
      read m1+0
      uffd_register m1 wp
    }
    T0 on p0 {
      write m1+0 value=5
      read m1+0
    }
    T1 on p0 {
      uffd_writeprotect m1+0 pages=8 resolve
    }
    schedule {
      T1 until tlb_finish_mmu:mm_tlb_flush_nested
      T0 finish
      *
    }
"""


def test_a_write_fault_during_a_deferred_uffd_flush_flushes_the_page_first():
    o = raced(WP_FAULT_FLUSH, "do_wp_page:flush_tlb_page")
    assert o.results["T0"] == [5, 5]
    t0 = steps(o, "T0")
    assert t0.index("do_wp_page:flush_tlb_page") < t0.index(
        "wp_page_copy:ptep_clear_flush")
    control(WP_FAULT_FLUSH, ["T1 finish", "T0 finish"], "do_wp_page:flush_tlb_page")


STALE_WRITABLE = """
    kprog 1
    # T0 writes m0+0 (its TLB keeps a writable, dirty entry); T1's OP returns; T0 writes
    # again. The protection change must have flushed T0's entry, so the second write
    # faults: SIGSEGV after mprotect, SIGBUS (no uffd handler) after UFFDIO_WRITEPROTECT.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      uffd_register m0 wp
    }
    T0 on p0 {
      write m0+0 value=5
      write m0+0 value=6
    }
    T1 on p0 {
      OP
    }
    schedule {
      T0 until user_write:store x2
      T1 finish
      T0 finish
      *
    }
"""
PROTECT = {"mprotect m0 ro": ("mprotect", "segv"),
           "uffd_writeprotect m0+0 pages=8 wp": ("UFFDIO_WRITEPROTECT", "sigbus")}
BYPASSED = ("BUG: write-protect bypassed: store through a TLB entry the protection change "
            "should have flushed")


@pytest.mark.parametrize("op", sorted(PROTECT))
def test_a_write_after_the_protection_change_returned_faults(op):
    o = raced(STALE_WRITABLE.replace("OP", op))
    assert o.results["T0"] == [5, PROTECT[op][1]]


@pytest.mark.parametrize("op", sorted(PROTECT))
def test_a_protection_change_that_records_no_flush_is_reported(monkeypatch, op):
    apply("protection-change-no-flush", monkeypatch)
    o = run(STALE_WRITABLE.replace("OP", op))
    assert o.title == BYPASSED and o.drift is None
    assert o.report.detail("syscall") == (f"{PROTECT[op][0]} of pages [0, 8) by T1 had "
                                          f"returned; the TLB entry predates it")
