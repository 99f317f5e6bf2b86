"""Anonymous collapse (mm/khugepaged.c ``collapse_huge_page``, spec 1.7): khugepaged scans
under the mmap read lock, drops it to allocate, and must revalidate everything under the
mmap write lock: the VMA (``hugepage_vma_revalidate``), the pmd (``check_pmd_still_valid``)
and, after detaching the table, every page (``__collapse_huge_page_isolate``, which puts
the old table back if one page cannot be isolated). The ordering of ``vma_start_write``
before the pmd check has its own bug switch (collapse-vma-lock-after-pmd-check)."""

from .helpers import control, count, follows, raced, steps

SERIAL = ["K0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "K0 finish"]

COLLAPSE = """
    kprog 1
    # khugepaged (K0) scans m0, which holds two pages, and stops before taking the mmap
    # write lock to collapse it; T1 then runs OPS.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
    }
    K0 kthread {
      khugepaged_scan m0+0
    }
    T1 on p0 {
      OPS
    }
    schedule {
      K0 until collapse_huge_page:mmap_write_lock
      T1 finish
      K0 finish
      *
    }
"""

COLLAPSED = "  pmd 0: huge [A7 A0 A0 A0 A0 A9 A0 A0]"


def _program(ops: str) -> str:
    return COLLAPSE.replace("OPS", ops)


def _last_followed_by(o, thread: str, site: str, then: str) -> bool:
    """Whether the last ``site`` of ``thread`` is followed by ``then``."""
    s = steps(o, thread)
    i = len(s) - 1 - s[::-1].index(site)
    return s[i + 1] == then


def test_collapse_revalidation_finds_the_vma_gone():
    """T1 unmaps m0 between the scan and the write lock: hugepage_vma_revalidate fails
    (SCAN_VMA_CHECK) and the new folio is dropped."""
    text = _program("munmap m0")
    o = raced(text, "collapse_huge_page:folio_put_new")
    assert o.results["K0"] == ["vma_check"] and o.results["T1"] == [0]
    assert _last_followed_by(o, "K0", "hugepage_vma_revalidate:vma_lookup",
                   "collapse_huge_page:mmap_write_unlock")
    assert "vma_start_write:down_write" not in steps(o, "K0")
    c = control(text, SERIAL, "collapse_huge_page:folio_put_new")
    assert c.results["K0"] == ["succeed"]
    c = control(text, SERIAL_REVERSED, "collapse_huge_page:alloc_charge_folio")
    assert c.results["K0"] == ["vma_check"]


def test_collapse_pmd_check_finds_the_table_reclaimed():
    """T1's MADV_DONTNEED of the whole table reclaims it between the scan and the write
    lock: the VMA is still there, but check_pmd_still_valid (after vma_start_write) finds
    the pmd none (SCAN_PMD_NULL); nothing is detached."""
    text = _program("madvise m0+0 pages=8 DONTNEED")
    o = raced(text, "collapse_huge_page:folio_put_new", "try_get_and_clear_pmd:pmd_clear")
    assert o.results["K0"] == ["pmd_none"] and o.results["T1"] == [0]
    k = steps(o, "K0")
    assert k.count("check_pmd_still_valid:find_pmd_or_thp_or_none") == 2
    assert _last_followed_by(o, "K0", "check_pmd_still_valid:find_pmd_or_thp_or_none",
                   "collapse_huge_page:mmap_write_unlock")
    last_check = len(k) - 1 - k[::-1].index("check_pmd_still_valid:find_pmd_or_thp_or_none")
    assert (k.index("collapse_huge_page:mmap_write_lock") < k.index("vma_start_write:down_write")
            < last_check)
    assert "collapse_huge_page:pmdp_collapse_flush" not in k
    c = control(text, SERIAL, "collapse_huge_page:folio_put_new")
    assert c.results["K0"] == ["succeed"]


def test_collapse_puts_the_old_table_back_when_a_page_was_pinned():
    """T1's GUP-fast pins m0+0 after the scan (the scan saw no pin). K0 detaches the table
    (pmdp_collapse_flush, then the IPI sync that waits out GUP-fast), but isolation finds
    the pin: the old table goes back into the pmd (SCAN_FAIL), pages and data intact."""
    m = "collapse_huge_page:pmd_populate_old_table"
    text = _program("gup_fast m0+0 pages=1")
    o = raced(text, m)
    assert o.results["K0"] == ["fail"] and o.results["T1"] == [1]
    k = steps(o, "K0")
    assert k.index("collapse_huge_page:tlb_remove_table_sync_one") < k.index(
        "__collapse_huge_page_isolate:ptep_get") < k.index(m)
    assert count(o, "K0", "__collapse_huge_page_isolate:ptep_get") == 1   # the first page
    assert follows(o, "K0", "collapse_huge_page:fail_pmd_lock", m)
    assert "collapse_huge_page:set_pmd_at" not in k
    assert o.pictures["p0"].splitlines()[1] == "  pmd 0: table [A7 .. .. .. .. A9 .. ..]"
    # Pinned after the collapse, the huge page is pinned; pinned first, the scan refuses
    # (SCAN_PAGE_COUNT): either way the old table is never put back.
    c = control(text, SERIAL, m)
    assert c.results["K0"] == ["succeed"]
    assert c.pictures["p0"].splitlines()[1] == COLLAPSED
    c = control(text, SERIAL_REVERSED, m, "collapse_huge_page:alloc_charge_folio")
    assert c.results["K0"] == ["page_count"]


SWAPPED_COLLAPSE = """
    kprog 1
    # m0+5 has been swapped out (two reclaim passes). khugepaged's scan counts its swap
    # entry, and collapse_huge_page swaps it in under the mmap read lock
    # (__collapse_huge_page_swapin: a lockless walk, do_swap_page on each swap entry)
    # before taking the write lock. T1 reads m0+5 meanwhile.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
      reclaim m0+5
      reclaim m0+5
    }
    K0 kthread {
      khugepaged_scan m0+0
    }
    T1 on p0 {
      read m0+5
    }
    schedule {
      K0 until do_swap_page:pte_same
      T1 until do_swap_page:schedule_timeout_uninterruptible
      K0 until collapse_huge_page:mmap_write_lock
      T1 finish
      K0 finish
      *
    }
"""


def test_collapse_swaps_in_the_scan_s_swap_entries_first():
    m = "__collapse_huge_page_swapin:ptep_get_lockless"
    o = raced(SWAPPED_COLLAPSE, m, "do_swap_page:pte_same")
    # T1's swap-in found the entry claimed by K0's (swapcache_prepare) and waited; it
    # retried after K0 had mapped the page, and read it before K0 collapsed the table.
    assert o.results["T1"] == [9] and o.results["K0"] == ["succeed"]
    s = steps(o, "K0")
    assert s.index(m) < s.index("collapse_huge_page:mmap_write_lock")
    assert s.count("do_swap_page:set_pte_at") == 1
    assert o.pictures["p0"].splitlines()[1] == COLLAPSED


def test_a_uffd_armed_range_with_holes_is_not_collapsed():
    """A none pte in a uffd-armed VMA: a fault there must reach the handler, so the scan
    refuses (SCAN_EXCEED_NONE_PTE) rather than back it with the huge page."""
    text = COLLAPSE.replace("      write m0+5 value=9\n",
                            "      write m0+5 value=9\n      uffd_register m0 missing\n")
    c = control(text.replace("OPS", "read m0+0"), SERIAL, "collapse_huge_page:mmap_write_lock")
    assert c.results["K0"] == ["exceed_none_pte"]
