"""Walkers against PT reclaim: UFFDIO_MOVE's destination checks, GUP-fast's pmd and pte
rechecks, and the pagemap walk's ``ACTION_AGAIN`` (spec 1.11, 1.12, 1.16)."""

from .helpers import between, control, count, follows, raced, steps

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


UFFD_MOVE_DST_PMD_CHANGED = """
    kprog 1
    # T0's UFFDIO_MOVE of m0+0 to m1+0 allocates and maps the destination table (its
    # pmdval kept), samples both ptes and stops before double_pt_lock(). T1's
    # MADV_DONTNEED over m1 finds the destination table empty and reclaims it. T0 locks
    # both ptls: both ptes are unchanged, but the destination pmd is not, so
    # is_pte_pages_stable fails and move_pages retries the page with -EAGAIN: the retry
    # allocates a new destination table and moves the page into it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
      read m1+0
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until double_pt_lock:spin_lock
      T1 finish
      *
    }
"""


def test_move_pages_pte_dst_pmd_recheck_fails_and_retries_with_eagain():
    m = "move_pages:eagain_retry"
    o = raced(UFFD_MOVE_DST_PMD_CHANGED, m)
    assert o.results["T0"] == [1, 7]
    # The first attempt passed both pte checks and failed on the pmd.
    assert follows(o, "T0", "is_pte_pages_stable:dst_pmd", "double_pt_unlock:spin_unlock")
    assert count(o, "T0", "is_pte_pages_stable:dst_pmd") == 2
    assert count(o, "T0", "move_present_pte:set_pte_at") == 1
    assert count(o, "T0", "pmd_install:pmd_populate") == 2
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    control(UFFD_MOVE_DST_PMD_CHANGED, SERIAL, m)
    c = control(UFFD_MOVE_DST_PMD_CHANGED, SERIAL_REVERSED, m)
    assert c.results["T0"] == [1, 7]


UFFD_MOVE_DST_TABLE_VANISHED = """
    kprog 1
    # T0's UFFDIO_MOVE of m0+0 to m1+0 installs the destination table and stops before
    # move_pages_pte's pte_offset_map_rw_nolock reads the destination pmd. T1's
    # MADV_DONTNEED over m1 reclaims the empty table. The map fails: move_pages_pte
    # returns -EAGAIN at once and move_pages retries the page (installing a new table).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until __pte_offset_map:pmdp_get_lockless
      T1 finish
      *
    }
"""


def test_move_pages_pte_dst_table_vanished_retries_with_eagain():
    m = "move_pages_pte:dst_table_vanished"
    o = raced(UFFD_MOVE_DST_TABLE_VANISHED, m, "move_pages:eagain_retry")
    assert o.results["T0"] == [1]
    assert follows(o, "T0", "__pte_offset_map:rcu_read_unlock", m)
    assert count(o, "T0", "double_pt_lock:spin_lock") == 1
    assert count(o, "T0", "pmd_install:pmd_populate") == 2
    control(UFFD_MOVE_DST_TABLE_VANISHED, SERIAL, m, "move_pages:eagain_retry")
    control(UFFD_MOVE_DST_TABLE_VANISHED, SERIAL_REVERSED, m, "move_pages:eagain_retry")


GUP_FAST = """
    kprog 1
    # T0's GUP-fast (IRQs off) reads the pmd into its copy, maps the table through it,
    # reads the pte of m0+0 and grabs the folio, and stops before rechecking. T1's
    # MADV_DONTNEED of {what} and reaches tlb_finish_mmu, whose TLB-flush IPI must wait
    # for T0 to enable IRQs. T0's recheck fails: it drops the folio and pins nothing.
    setup {{
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }}
    T0 on p0 {{
      gup_fast m0+0 pages=1
      unpin
    }}
    T1 on p0 {{
      madvise m0+0 pages={pages} DONTNEED
    }}
    schedule {{
      T0 until gup_fast_pte_range:pmd_recheck
      T1 until tlb_flush_mmu_tlbonly:flush_tlb_mm_range x2
      T0 finish
      T1 finish
      *
    }}
"""
GUP_FAST_PMD_CHANGED = GUP_FAST.format(
    what="the whole table zaps m0+0 and reclaims the table (the pmd is none)", pages=8)
GUP_FAST_PTE_CHANGED = GUP_FAST.format(
    what="m0+0 alone zaps its pte (no reclaim: the pmd is unchanged)", pages=1)


def _ipi_waited_for_gup_fast(o):
    # T1's first flush step sends the IPI and blocks; it completes only after T0's bail-out
    # and local_irq_restore.
    assert count(o, "T1", "tlb_flush_mmu_tlbonly:flush_tlb_mm_range") == 2
    assert between(o, "T1@tlb_flush_mmu_tlbonly:flush_tlb_mm_range",
                   "T0@gup_fast_pte_range:gup_put_folio", "T0@gup_fast:local_irq_restore")
    lines = list(o.trace.lines())
    assert lines.index("T0@gup_fast:local_irq_restore") < max(
        i for i, x in enumerate(lines) if x == "T1@tlb_flush_mmu_tlbonly:flush_tlb_mm_range")


def test_gup_fast_pmd_recheck_fails_after_grabbing_the_folio():
    m = "gup_fast_pte_range:gup_put_folio"
    o = raced(GUP_FAST_PMD_CHANGED, m)
    assert o.results["T0"] == [0, 0]
    assert follows(o, "T0", "gup_fast_pte_range:pmd_recheck", m)
    assert "gup_fast_pte_range:pte_recheck" not in steps(o, "T0")
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    _ipi_waited_for_gup_fast(o)
    c = control(GUP_FAST_PMD_CHANGED, SERIAL, m)
    assert c.results["T0"] == [1, 1]
    c = control(GUP_FAST_PMD_CHANGED, SERIAL_REVERSED, m)
    assert c.results["T0"] == [0, 0]


def test_gup_fast_pte_recheck_fails_with_the_pmd_unchanged():
    m = "gup_fast_pte_range:gup_put_folio"
    o = raced(GUP_FAST_PTE_CHANGED, m)
    assert o.results["T0"] == [0, 0]
    assert follows(o, "T0", "gup_fast_pte_range:pmd_recheck", "gup_fast_pte_range:pte_recheck")
    assert follows(o, "T0", "gup_fast_pte_range:pte_recheck", m)
    assert "try_get_and_clear_pmd:spin_trylock" not in steps(o, "T1")
    _ipi_waited_for_gup_fast(o)
    c = control(GUP_FAST_PTE_CHANGED, SERIAL, m)
    assert c.results["T0"] == [1, 1]
    c = control(GUP_FAST_PTE_CHANGED, SERIAL_REVERSED, m)
    assert c.results["T0"] == [0, 0]


PAGEMAP_ACTION_AGAIN = """
    kprog 1
    # T0 reads /proc/self/pagemap over m0: walk_pmd_range sees a table and
    # pagemap_pmd_range stops before pte_offset_map_lock reads the pmd. T1's MADV_DONTNEED
    # reclaims the table. The map fails, the walk returns ACTION_AGAIN and reads the pmd
    # again: none, a hole.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      pagemap_read m0+0 pages=8
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until __pte_offset_map:pmdp_get_lockless
      T1 finish
      *
    }
"""


def test_pagemap_walk_table_vanished_action_again():
    m = "pagemap_pmd_range:action_again"
    o = raced(PAGEMAP_ACTION_AGAIN, m, "walk_pmd_range:action_again")
    assert o.results["T0"] == ["........"]
    s = steps(o, "T0")
    i = s.index(m)
    assert s[i + 1:i + 3] == ["walk_pmd_range:action_again", "walk_pmd_range:pmd_none"]
    c = control(PAGEMAP_ACTION_AGAIN, SERIAL, m)
    assert c.results["T0"] == ["p......."]
    c = control(PAGEMAP_ACTION_AGAIN, SERIAL_REVERSED, m)
    assert c.results["T0"] == ["........"]
