"""UFFDIO_COPY's two pmd reads and its ``pte_offset_map_lock`` against PT reclaim (spec
1.12), and MADV_FREE: ``madvise_free_pte_range`` on a reclaimed table, and a lazyfree page
written again while reclaim is unmapping it (spec 1.13)."""

from .helpers import between, control, count, follows, raced, steps, with_config

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


# -- 4. UFFDIO_COPY ----------------------------------------------------------------------------

UFFD_COPY = """
    kprog 1
    # T0's UFFDIO_COPY of m0+1 (uffd-armed, no table yet) finds the pmd none and
    # __pte_alloc installs a fresh, empty table; T0 stops at STOP. T1's MADV_DONTNEED of
    # the whole table (under the mmap lock: m0 is uffd-armed) finds it empty and reclaims
    # it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8 uffd=missing
    }
    T0 on p0 {
      uffd_copy m0+1 pages=1 value=7
      read m0+1
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until STOP
      T1 finish
      T0 finish
      *
    }
"""

# Without the race the copy lands and reads back.
COPIED = [1, 7]


def _copy_program(stop: str) -> str:
    return UFFD_COPY.replace("STOP", stop)


def test_uffd_copy_second_pmd_read_finds_the_pmd_none_again():
    # The second lockless pmd read (after __pte_alloc) sees none: -EEXIST, nothing
    # allocated or mapped; the page stays missing (SIGBUS without a handler).
    m = "mfill_atomic:pmdp_get_lockless_again"
    text = _copy_program(m)
    o = raced(text, m, "try_get_and_clear_pmd:pmd_clear")
    assert o.results["T0"] == ["-EEXIST", "sigbus"] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert follows(o, "T0", "pmd_install:spin_unlock", "mfill_atomic:pmdp_get_lockless_again")
    assert follows(o, "T0", m, "uffd_mfill_unlock:vma_end_read")
    assert "mfill_atomic_pte_copy:folio_prealloc" not in s
    # The table T0 installed is the one T1 reclaimed, between T0's two pmd reads.
    assert between(o, "T0@pmd_install:pmd_populate", "T1@try_get_and_clear_pmd:pmd_clear",
                   "T0@" + m)
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    # -EEXIST has no site of its own: the mark is the second read going straight to the
    # unlock.
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order)
        assert c.results["T0"] == COPIED
        assert not follows(c, "T0", m, "uffd_mfill_unlock:vma_end_read")
        assert follows(c, "T0", m, "mfill_atomic_pte_copy:folio_prealloc")


def test_uffd_copy_table_vanishes_before_pte_offset_map_lock():
    # Both pmd reads saw the table; T1 reclaims it while T0 fills its folio.
    # mfill_atomic_install_pte's pte_offset_map_lock fails: -EAGAIN, the folio is dropped.
    m = "mfill_atomic_install_pte:table_vanished"
    text = _copy_program("mfill_atomic_pte_copy:copy_from_user")
    o = raced(text, m, "mfill_atomic_pte:folio_put")
    assert o.results["T0"] == ["-EAGAIN", "sigbus"] and o.results["T1"] == [0]
    s = steps(o, "T0")
    i = s.index(m)
    assert s[i - 3:i] == ["__pte_offset_map:rcu_read_lock", "__pte_offset_map:pmdp_get_lockless",
                          "__pte_offset_map:rcu_read_unlock"]
    assert s[i + 1:i + 4] == ["mfill_atomic_pte:folio_put", "mfill_atomic:cond_resched",
                              "uffd_mfill_unlock:vma_end_read"]
    # Both pmd reads were before the reclaim; the map after it.
    assert between(o, "T0@mfill_atomic:pmdp_get_lockless_again",
                   "T1@try_get_and_clear_pmd:pmd_clear", "T0@" + m)
    assert "mfill_atomic_install_pte:set_pte_at" not in s
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order, m, "mfill_atomic_pte:folio_put")
        assert c.results["T0"] == COPIED


# -- 5. MADV_FREE --------------------------------------------------------------------------------

MADV_FREE_VANISHED = """
    kprog 1
    # T0's MADV_FREE of m0 (under m0's VMA lock) sees a table in the pmd and stops in
    # pte_offset_map_lock before reading the pmd. T1's MADV_DONTNEED zaps m0+0 and
    # reclaims the now empty table. T0's map fails: the range is skipped (no retry).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      madvise m0+0 pages=8 FREE
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until __pte_offset_map:pmdp_get_lockless
      T1 finish
      T0 finish
      *
    }
"""


def test_madvise_free_pte_range_skips_a_table_that_vanished():
    m = "madvise_free_pte_range:table_vanished"
    o = raced(MADV_FREE_VANISHED, m, "try_get_and_clear_pmd:pmd_clear")
    assert o.results["T0"] == [0] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert s[s.index("madvise_free_pte_range:pmd_trans_huge") + 1:][:4] == [
        "__pte_offset_map:rcu_read_lock", "__pte_offset_map:pmdp_get_lockless",
        "__pte_offset_map:rcu_read_unlock", m]
    assert follows(o, "T0", m, "madvise_free:vma_end_read")
    assert "madvise_free_pte_range:ptep_get" not in s
    assert "flush_tlb_batched_pending:atomic_read" not in s
    # Both ran under m0's VMA read lock, concurrently.
    assert "madvise_free:mmap_read_lock" not in s
    assert "madvise_walk_vmas:vma_end_read" in steps(o, "T1")
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(MADV_FREE_VANISHED, order, m)
        assert c.results["T0"] == [0]
    c = control(MADV_FREE_VANISHED, SERIAL, m)
    assert count(c, "T0", "madvise_free_pte_range:folio_mark_lazyfree") == 1


LAZYFREE_WRITTEN_AGAIN = """
    kprog 1
    # T0's MADV_FREE makes m0+0 clean, old and lazyfree. K0's reclaim finds it not
    # referenced and, in try_to_unmap_one, stops before clearing its pte (PTE lock held).
    # T1 writes m0+0 again: the hardware walk sets the dirty bit (it takes no lock).
    # ptep_get_and_clear then returns a dirty pte, which dirties the folio: the post-clear
    # check keeps the page (made swap-backed, the pte restored) and T1 reads its new
    # value back.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      madvise m0+0 pages=8 FREE
    }
    T1 on p0 {
      write m0+0 value=7
      read m0+0
    }
    K0 kthread {
      reclaim m0+0
    }
    schedule {
      T0 finish
      K0 until try_to_unmap_one:ptep_get_and_clear
      T1 until user_read:load
      K0 finish
      T1 finish
      *
    }
"""


def test_lazyfree_page_written_again_during_reclaim_is_kept():
    m = "try_to_unmap_one:lazyfree_set_pte_at"
    o = raced(LAZYFREE_WRITTEN_AGAIN, m, "madvise_free_pte_range:folio_mark_lazyfree")
    assert o.results["T1"] == [7, 7] and o.results["K0"] == ["still mapped"]
    # The store went straight through the page tables (no fault), between reclaim's
    # check and its clear.
    assert steps(o, "T1")[:2] == ["user_write:store", "user_read:load"]
    assert between(o, "K0@try_to_unmap_one:check_pte", "T1@user_write:store",
                   "K0@try_to_unmap_one:ptep_get_and_clear")
    assert follows(o, "K0", "try_to_unmap_one:ptep_get_and_clear",
                   "try_to_unmap_one:lazyfree_ref_count")
    assert follows(o, "K0", "try_to_unmap_one:lazyfree_ref_count", m)
    assert "shrink_folio_list:free_folio" not in steps(o, "K0")
    # Without the race: reclaim first discards the clean lazyfree page (the write then
    # faults in a new one); the write first makes it young, so reclaim only ages it.
    c = control(LAZYFREE_WRITTEN_AGAIN, ["T0 finish", "K0 finish", "T1 finish"], m)
    assert c.results["K0"] == ["reclaimed"] and c.results["T1"] == [7, 7]
    assert "user_write:retry_after_fault" in steps(c, "T1")
    c = control(LAZYFREE_WRITTEN_AGAIN, ["T0 finish", "T1 finish", "K0 finish"], m)
    assert c.results["K0"] == ["referenced"] and c.results["T1"] == [7, 7]


def test_uffd_copy_races_the_same_under_the_mmap_lock_without_per_vma_locks():
    config = "per_vma_lock=off per_vma_lock_madvise=off"
    for stop, mark, result in (
            ("mfill_atomic:pmdp_get_lockless_again", "mfill_atomic:pmdp_get_lockless_again",
             "-EEXIST"),
            ("mfill_atomic_pte_copy:copy_from_user", "mfill_atomic_install_pte:table_vanished",
             "-EAGAIN")):
        text = with_config(_copy_program(stop), config)
        o = raced(text, mark, "mfill_atomic:mmap_read_lock", "mfill_atomic:mmap_read_unlock")
        assert o.results["T0"] == [result, "sigbus"]
        s = steps(o, "T0")
        assert s[0] == "mfill_atomic:mmap_read_lock"
        assert "uffd_mfill_unlock:vma_end_read" not in s
        assert "lock_vma_under_rcu:rcu_read_lock" not in o.trace.sites()
        # The reclaim ran under the mmap read lock T0 also held.
        assert "madvise_lock:mmap_read_lock" in steps(o, "T1")
        c = control(text, SERIAL)
        assert c.results["T0"] == COPIED


SWAP_CACHE_ONLY = """
    kprog 1
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    K0 kthread {
      reclaim m0+0
    }
    schedule {
      K0 until folio_lock_anon_vma_read:rcu_read_lock
      T1 until tlb_finish_mmu:mm_tlb_flush_nested
      K0 until shrink_folio_list:keep_locked_folio_unlock
      T1 finish
      K0 finish
      *
    }
"""


def test_folio_left_only_in_the_swap_cache_is_freed_by_the_final_reclaim_pass():
    """Reclaim adds the folio to the swap cache after DONTNEED zapped it; __remove_mapping
    is busy (DONTNEED's mmu_gather still holds a reference) and DONTNEED's
    free_swap_cache trylock loses to reclaim's folio lock. The kernel keeps the folio on
    the LRU for a later pass; the teardown's drain_swap_cache is that pass, so this is
    no leak (it was reported as one before the drain existed)."""
    o = raced(SWAP_CACHE_ONLY, "free_swap_cache:folio_trylock",
              "drain_swap_cache:__remove_mapping")
    assert o.results["K0"] == ["busy"]
    assert "free_swap_cache:folio_free_swap" not in steps(o, "T1")
    # Serially, DONTNEED or reclaim lets go of the folio itself: nothing to drain.
    for order in (["T1 finish", "K0 finish"], ["K0 finish", "T1 finish"]):
        control(SWAP_CACHE_ONLY, order, "drain_swap_cache:__remove_mapping")


LAZYFREE_PINNED = """
    kprog 1
    # T0's MADV_FREE makes m0+0 clean, old and lazyfree. K0's reclaim checks it (not
    # referenced, not pinned: nothing is pinned yet) and stops before clearing its pte.
    # T1's GUP-fast pins the page (it sees the pte, takes a reference, rechecks). K0
    # clears the pte; its post-clear check finds a reference beyond the mappings' and
    # its own (ref_count != 1 + map_count): it restores the pte and keeps the page, so
    # the data a device may be writing through the pin is not thrown away
    # (6c8e2a256915, "mm: fix race between MADV_FREE reclaim and blkdev direct IO read").
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      madvise m0+0 pages=8 FREE
    }
    T1 on p0 {
      gup_fast m0+0 pages=1
      unpin
    }
    K0 kthread {
      reclaim m0+0
    }
    schedule {
      T0 finish
      K0 until try_to_unmap_one:ptep_get_and_clear
      T1 until unpin_user_pages:gup_put_folio
      K0 finish
      T1 finish
      *
    }
"""


def test_lazyfree_page_pinned_during_reclaim_is_kept():
    m = "try_to_unmap_one:lazyfree_set_pte_at"
    o = raced(LAZYFREE_PINNED, m, "madvise_free_pte_range:folio_mark_lazyfree")
    assert o.results["K0"] == ["still mapped"]
    assert follows(o, "K0", "try_to_unmap_one:lazyfree_ref_count", m)
    assert between(o, "K0@try_to_unmap_one:check_pte", "T1@gup_fast:local_irq_restore",
                   "K0@try_to_unmap_one:ptep_get_and_clear")
    assert "shrink_folio_list:free_folio" not in steps(o, "K0")
    # Reclaim before the pin: the clean lazyfree page is discarded, GUP-fast finds no
    # page (and pins nothing).
    c = control(LAZYFREE_PINNED, ["T0 finish", "K0 finish", "T1 finish"], m)
    assert c.results["K0"] == ["reclaimed"]


ANON_PINNED = """
    kprog 1
    # K0's first pass finds m0+0 young and only ages it. Its second finds it not pinned,
    # adds it to the swap cache and stops before clearing its pte. T1's GUP-fast pins
    # it. K0 clears the pte, takes a swap count, and folio_try_share_anon_rmap_pte()
    # refuses a page that may be pinned: the swap count is dropped, the pte restored,
    # and the page stays mapped (the pin keeps writing to the page the process maps).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T1 on p0 {
      gup_fast m0+0 pages=1
      unpin
    }
    K0 kthread {
      reclaim m0+0
      reclaim m0+0
    }
    schedule {
      K0 until try_to_unmap_one:ptep_get_and_clear
      T1 until unpin_user_pages:gup_put_folio
      K0 finish
      T1 finish
      *
    }
"""


def test_anon_page_pinned_during_reclaim_stays_mapped():
    m = "try_to_unmap_one:pinned_set_pte_at"
    o = raced(ANON_PINNED, m)
    assert o.results["K0"] == ["referenced", "still mapped"]
    assert follows(o, "K0", "try_to_unmap_one:swap_duplicate",
                   "try_to_unmap_one:folio_try_share_anon_rmap_pte")
    assert follows(o, "K0", "try_to_unmap_one:folio_try_share_anon_rmap_pte", m)
    assert "try_to_unmap_one:set_pte_at_swap_entry" not in steps(o, "K0")
    # Reclaim first: swapped out (GUP-fast then finds a swap entry and pins nothing).
    c = control(ANON_PINNED, ["K0 finish", "T1 finish"], m)
    assert c.results["K0"] == ["referenced", "reclaimed"]
