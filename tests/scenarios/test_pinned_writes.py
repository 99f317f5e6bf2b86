"""Writes through GUP pins (``dio_read``: pin_user_pages_fast, the device's stores,
unpin_user_pages_dirty_lock) and the data oracle's order of user accesses against the
syscalls that take translations away (issue 18).

Each adversary has its recheck: khugepaged gives up a collapse when a page has more
references than its mappings (``is_refcount_suitable``, SCAN_PAGE_COUNT), and the
unmapping syscalls flush every CPU's TLB before they return. The broken variants (in
tests/quality/broken_variants.py) include a khugepaged that ignores pins and a TLB flush
that reaches only the flushing CPU (``flush_tlb_page`` where ``flush_tlb_range`` was
needed)."""

import pytest

from ..quality.broken_variants import apply
from .helpers import control, raced, reschedule, run, steps

PIN_VS_COLLAPSE = """
    kprog 1
    # T0's direct-I/O read has pinned m0+0 (GUP-fast) and stops before the device's
    # store. khugepaged (K0) scans m0: the pinned page has a reference beyond its
    # mapping, so the collapse gives up (SCAN_PAGE_COUNT). The store lands in the page
    # still mapped there, and T0's read returns it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
    }
    T0 on p0 {
      dio_read m0+0 pages=1 value=5
      read m0+0
    }
    K0 kthread {
      khugepaged_scan m0+0
    }
    schedule {
      T0 until direct_io_read:dma_store
      K0 finish
      T0 finish
      *
    }
"""


def test_a_pinned_page_is_not_collapsed_and_the_device_store_is_read_back():
    o = raced(PIN_VS_COLLAPSE)
    assert o.results == {"setup": [0, 7, 9], "T0": [1, 5], "K0": ["page_count"]}
    assert "collapse_huge_page:mmap_write_lock" not in steps(o, "K0")
    # Without the pin in the way khugepaged collapses m0, and T0 pins the huge page.
    c = control(PIN_VS_COLLAPSE, ["K0 finish", "T0 finish"])
    assert c.results == {"setup": [0, 7, 9], "T0": [1, 5], "K0": ["succeed"]}


def test_a_collapse_that_ignores_pins_loses_the_device_store(monkeypatch):
    apply("collapse-ignores-pins", monkeypatch)
    o = run(PIN_VS_COLLAPSE)
    assert o.title == "BUG: lost write: a device store through a pin is not at the pinned address"
    assert o.report.detail("read") == "p0 page 0 (vma m0 [0, 8) anon) returned 7, expected 5"
    assert o.results["K0"] == ["succeed"]


PIN_VS_DONTNEED = """
    kprog 1
    # T1's MADV_DONTNEED zaps m0+0 while T0's pin holds the page: the device's store goes
    # into the orphaned page, and T0 then reads a fresh zero page. Nothing is lost that
    # the program could still see.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
    }
    T0 on p0 {
      dio_read m0+0 pages=1 value=5
      read m0+0
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until direct_io_read:dma_store
      T1 finish
      T0 finish
      *
    }
"""


def test_a_page_zapped_under_a_pin_takes_the_store_with_it():
    o = raced(PIN_VS_DONTNEED)
    assert o.results == {"setup": [0, 7], "T0": [1, 0], "T1": [0]}
    c = control(PIN_VS_DONTNEED, ["T0 finish", "T1 finish"])
    assert c.results["T0"] == [1, 5]


def test_the_slow_path_faults_in_what_gup_fast_cannot_pin():
    text = """
        kprog 1
        setup {
          p0 = process
          m0 = mmap p0 anon pages=8
          write m0+0 value=7
        }
        T0 on p0 {
          dio_read m0+0 pages=3 value=5
          read m0+1
        }
    """
    o = raced(text)
    assert o.results["T0"] == [3, 5]
    t0 = steps(o, "T0")
    assert t0.count("gup_fast_pte_range:try_grab_folio_fast") == 1
    assert t0.count("follow_page_pte:try_grab_folio") == 2
    assert t0.count("unpin_user_pages_dirty_lock:gup_put_folio") == 3
    assert o.pictures["p0"].splitlines()[1] == "  pmd 0: table [A5 A5 A5 .. .. .. .. ..]"


STALE_TLB = """
    kprog 1
    # T0 stores to ADDR (its TLB now holds a writable, dirty entry), T1's OP returns,
    # then T0 stores again. The syscall's TLB flush must have removed T0's entry, so the
    # second store faults (munmap: SIGSEGV; MADV_DONTNEED: a new page).
    setup {
      p0 = process
      f0 = file pages=16
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 shared f0 pages=8
    }
    T0 on p0 {
      write ADDR value=5
      write ADDR value=6
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
STALE = {
    "munmap": ("m1+0", "munmap m1", [5, "segv"]),
    "MADV_DONTNEED of a file page": ("m1+0", "madvise m1+0 pages=8 DONTNEED", [5, 6]),
    "MADV_FREE": ("m0+0", "madvise m0+0 pages=8 FREE", [5, 6]),
    "mremap": ("m0+0", "mremap m0", [5, "segv"]),
}
LOST = "BUG: lost write: store through a TLB entry the unmap should have flushed"


def _stale(case: str) -> str:
    where, op, _ = STALE[case]
    return STALE_TLB.replace("ADDR", where).replace("OP", op)


@pytest.fixture
def local_flush(monkeypatch):
    """The broken variant: every ranged flush reaches only the CPU that sends it."""
    apply("flush-this-cpu-only", monkeypatch)


@pytest.mark.parametrize("case", sorted(STALE))
def test_the_unmapping_syscalls_flush_before_they_return(case):
    o = raced(_stale(case))
    assert o.results["T0"] == STALE[case][2]


@pytest.mark.parametrize("case", sorted(STALE))
def test_a_store_through_an_entry_left_behind_after_the_syscall_returned_is_reported(
        local_flush, case):
    o = run(_stale(case))
    assert o.title == LOST
    assert o.drift is None
    kind = {"munmap": "munmap", "mremap": "mremap", "MADV_FREE": "MADV_FREE",
            "MADV_DONTNEED of a file page": "MADV_DONTNEED"}[case]
    assert o.report.detail("syscall").startswith(f"{kind} of pages [")
    assert o.report.detail("syscall").endswith("by T1 had returned; the TLB entry predates it")


def test_a_store_while_the_syscall_is_still_flushing_is_ordered_before_it(local_flush):
    """The same broken flush, but T0's second store comes before munmap returns: a
    store racing with munmap may land (ordered before it), so that is no report."""
    text = reschedule(_stale("munmap"), ["T0 until user_write:store x2",
                                          "T1 until vms_complete_munmap_vmas:mmap_read_unlock",
                                          "T0 finish", "T1 finish"])
    o = run(text)
    assert o.title == "pass" and o.drift is None
    assert o.results["T0"] == [5, 6]


LAZYFREE_REWRITTEN = """
    kprog 1
    # T1's MADV_FREE makes m0+0 lazily freeable; T0 writes it again (the walk sets the
    # pte's dirty bit), and kswapd (K0), its second pass past the young bit, keeps the
    # page (dirty again: folio_set_swapbacked): the write is not lost.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
    }
    T0 on p0 {
      write m0+0 value=8
      read m0+0
    }
    T1 on p0 {
      madvise m0+0 pages=8 FREE
    }
    K0 kthread {
      reclaim m0+0
      reclaim m0+0
    }
    schedule {
      T1 finish
      T0 until user_read:load
      K0 finish
      T0 finish
      *
    }
"""


def test_a_page_written_again_after_madv_free_is_kept_by_reclaim():
    o = raced(LAZYFREE_REWRITTEN, "try_to_unmap_one:lazyfree_set_pte_at")
    assert o.results["T0"] == [8, 8]


def test_reclaim_that_discards_a_rewritten_lazyfree_page_loses_the_write(monkeypatch):
    """A reclaim that trusts the folio's lazyfree mark and ignores the dirty bit."""
    apply("lazyfree-discard-ignores-dirty", monkeypatch)
    o = run(LAZYFREE_REWRITTEN)
    assert o.title == "BUG: lost write: reclaim discarded a page written after MADV_FREE"
    assert o.report.detail("page") == ("p0 page 0 (vma m0 [0, 8) anon) held 8, written after "
                                       "it was made lazily freeable")


PIN_VS_LAZYFREE_RECLAIM = """
    kprog 1
    # T1's MADV_FREE makes m0+0 lazily freeable; T0's direct-I/O read pins it and stops
    # before the device's store. kswapd (K0) finds the page clean but pinned (a reference
    # beyond its own and the mapping's) and keeps it: the store lands and T0 reads it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
    }
    T0 on p0 {
      dio_read m0+0 pages=1 value=5
      read m0+0
    }
    T1 on p0 {
      madvise m0+0 pages=8 FREE
    }
    K0 kthread {
      reclaim m0+0
    }
    schedule {
      T1 finish
      T0 until direct_io_read:dma_store
      K0 finish
      T0 finish
      *
    }
"""


def test_reclaim_keeps_a_pinned_lazyfree_page():
    o = raced(PIN_VS_LAZYFREE_RECLAIM, "try_to_unmap_one:lazyfree_set_pte_at")
    assert o.results["T0"] == [1, 5] and o.results["K0"] == ["still mapped"]


def test_reclaim_that_discards_a_pinned_lazyfree_page_loses_the_device_store(monkeypatch):
    """Before 6c8e2a256915 reclaim discarded a clean lazyfree page without looking at
    its references: the direct-I/O read's data went into a discarded page."""
    apply("lazyfree-discard-ignores-refs", monkeypatch)
    o = run(PIN_VS_LAZYFREE_RECLAIM)
    assert o.title == "BUG: lost write: a device store through a pin is not at the pinned address"
    assert o.report.detail("read") == "p0 page 0 (vma m0 [0, 8) anon) returned 0, expected 5"
    # The store first, then the discard before the unpin dirties the folio: reported
    # when reclaim discards the page.
    o = run(reschedule(PIN_VS_LAZYFREE_RECLAIM, [
        "T1 finish", "T0 until unpin_user_pages_dirty_lock:folio_mark_dirty", "K0 finish",
        "T0 finish"]))
    assert o.title == "BUG: lost write: reclaim discarded a page written after MADV_FREE"


PIN_VS_MREMAP = """
    kprog 1
    # T0's direct-I/O read pins m0+0; T1's mremap moves m0 (and the pinned page with
    # it) before the device's store. The store lands in the moved page: T0 reads it at
    # m0+0, which now names the new place.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
    }
    T0 on p0 {
      dio_read m0+0 pages=1 value=1
      read m0+0
    }
    T1 on p0 {
      mremap m0
    }
    schedule {
      T0 until direct_io_read:dma_store
      T1 finish
      *
    }
"""


def test_a_pinned_page_moved_by_mremap_takes_the_store_along():
    o = raced(PIN_VS_MREMAP, "move_normal_pmd:pmd_populate")
    assert o.results == {"setup": [0], "T0": [1, 1], "T1": [8]}


LAZYFREE_MOVED = """
    kprog 1
    # T1's MADV_FREE makes m0+5 lazily freeable and stops before its final flush; T0's
    # mremap moves m0, the page with it; kswapd (K0) then discards the page at its new
    # address. Nobody wrote it after the MADV_FREE: a legitimate discard (the oracle's
    # lazyfree mark follows the page, as the data does).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+5 value=1
    }
    T0 on p0 {
      mremap m0
      read m0+5
    }
    T1 on p0 {
      madvise m0+0 pages=6 FREE
    }
    K0 kthread {
      reclaim m0+5
      reclaim m0+5
    }
    schedule {
      T1 until tlb_finish_mmu:mm_tlb_flush_nested
      T0 until user_read:load
      K0 finish
      *
    }
"""


def test_a_lazyfree_page_moved_by_mremap_may_still_be_discarded():
    o = raced(LAZYFREE_MOVED, "try_to_unmap_one:lazyfree_ref_count")
    assert o.results["T0"] == [8, 0]


def test_the_lost_store_is_reported_when_every_thread_is_done_even_unread(monkeypatch):
    """Once all threads have finished the oracle reads every mapped page: the store the
    collapse lost shows though T0 never reads m0+0 again."""
    apply("collapse-ignores-pins", monkeypatch)
    o = run(PIN_VS_COLLAPSE.replace("      read m0+0\n", ""))
    assert o.title == "BUG: lost write: a device store through a pin is not at the pinned address"
    assert o.report.thread == "teardown"
    assert o.report.detail("read") == "p0 page 0 (vma m0 [0, 8) anon) returned 7, expected 5"
    # Fixed, the same program passes and the final reads find every page as written.
    monkeypatch.undo()
    assert raced(PIN_VS_COLLAPSE.replace("      read m0+0\n", "")).results["T0"] == [1]
