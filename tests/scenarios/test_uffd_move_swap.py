"""UFFDIO_MOVE of a swap entry (mm/userfaultfd.c ``move_pages_pte``'s !pte_present branch
and ``move_swap_pte``, v6.16+): the swap pte moves as such; a swap-cache folio is locked
and moved along (its anon_vma and index follow, for the swap-in that finds it later); and
an entry that a swap-in claims between the lockless read and the move is left alone
(-EAGAIN: ``SWAP_HAS_CACHE`` under both ptls), so ``move_pages`` retries the page."""

from .helpers import control, raced, steps

MOVE_SWAPPED = """
    kprog 1
    # m0+0 holds 7 and has been swapped out (its folio freed: nothing caches the entry).
    # T0 moves it to m1+0 and reads it there. T1 faults m0+0 in: its swap-in claims the
    # entry (swapcache_prepare sets SWAP_HAS_CACHE) while T0 is between reading the swap
    # pte and taking both ptls; T0's move_swap_pte sees the claim and backs off
    # (-EAGAIN). T1 maps the page; move_pages retries it, now present, and moves it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      write m1+1 value=2
      uffd_register m0 missing
      uffd_register m1 missing
      reclaim m0+0
      reclaim m0+0
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
      read m1+0
    }
    T1 on p0 {
      read m0+0
    }
    schedule {
      T0 until move_swap_pte:swap_map_has_cache
      T1 until do_swap_page:swap_read_folio
      T0 until move_pages:eagain_retry
      T1 finish
      T0 finish
      *
    }
"""


def test_a_swap_entry_claimed_by_a_swap_in_is_not_moved_until_it_is_mapped():
    m = "move_swap_pte:swap_map_has_cache"
    o = raced(MOVE_SWAPPED, m, "move_present_pte:set_pte_at")
    s = steps(o, "T0")
    # The first attempt backed off after the has-cache check; the retry moved the page
    # T1 had mapped meanwhile.
    i = s.index(m)
    assert s[i + 1] == "double_pt_unlock:spin_unlock"
    assert "move_swap_pte:ptep_get_and_clear" not in s
    assert s.count("move_pages:eagain_retry") == 1
    assert o.results["T0"] == [1, 7] and o.results["T1"] == [7]


def test_a_swap_entry_moves_as_such():
    c = control(MOVE_SWAPPED, ["T0 finish", "T1 finish"], "move_present_pte:set_pte_at")
    s = steps(c, "T0")
    assert "move_swap_pte:set_pte_at" in s
    assert "move_pages_pte:filemap_get_folio_swapcache" in s
    # m1+0 is swapped in from the moved entry and reads 7; m0+0 is now empty.
    assert c.results["T0"] == [1, 7] and c.results["T1"] == ["sigbus"]
