"""PT reclaim in MADV_DONTNEED's zap: the slow path's rescan, the fast path's failed
trylock, and ``zap_pte_range``'s retry pass on a vanished table (spec 1.3)."""

from .helpers import control, count, follows, raced, steps

NEED_RESCHED_AFTER_FIRST_ZAP = [
    "T1 choose zap_pte_range:need_resched=0",
    "T1 choose zap_pte_range:need_resched=1",
]


RESCAN_FINDS_REFAULT = """
    kprog 1
    # T1's MADV_DONTNEED zaps m0+0, then need_resched() breaks it out of the loop: it drops
    # the PTE lock (direct_reclaim = false). T0 write-faults m0+0 again into the same,
    # still attached table. T1 retries, zaps m0+1 and, having dropped the lock midway,
    # takes the slow path: try_to_free_pte rescans the table under pml + ptl, finds T0's
    # page and gives up. The table and T0's page stay.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
      write m0+1 value=2
    }
    T0 on p0 {
      write m0+0 value=5
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T1 choose zap_pte_range:need_resched=0
      T1 choose zap_pte_range:need_resched=1
      T1 until zap_pte_range:cond_resched
      T0 finish
      T1 finish
      *
    }
"""


def test_try_to_free_pte_rescan_finds_an_entry_and_gives_up():
    m = "try_to_free_pte:not_empty_unlock_ptl"
    o = raced(RESCAN_FINDS_REFAULT, m, "try_to_free_pte:not_empty_unlock_pml")
    assert o.results["T0"] == [5]
    s = steps(o, "T1")
    # The rescan stopped at entry 0 (T0's page), and the pmd was never cleared.
    assert s[s.index("try_to_free_pte:spin_lock_nested") + 1:][:2] == [
        "try_to_free_pte:ptep_get", m]
    assert "try_to_free_pte:pmd_clear" not in s
    assert "try_get_and_clear_pmd:spin_trylock" not in s
    # Without the race the same need_resched break rescans an empty table and frees it.
    for order in (["T0 finish", "T1 finish"], ["T1 finish", "T0 finish"]):
        c = control(RESCAN_FINDS_REFAULT, NEED_RESCHED_AFTER_FIRST_ZAP + order, m)
        assert count(c, "T1", "try_to_free_pte:pmd_clear") == 1


TRYLOCK_FAILS = """
    kprog 1
    # T0 write-faults m0+8 (the second PTE table of m0: an empty pmd) and stops inside
    # pmd_install holding the pmd lock (the PMD table's split lock, shared by both
    # pmds). T1's MADV_DONTNEED empties the first table in one PTE-lock hold, but its
    # spin_trylock of pml fails: it must take the slow path, which waits for pml, rescans
    # and frees the table.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=16
      write m0+0 value=1
    }
    T0 on p0 {
      write m0+8 value=2
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until pmd_install:pmd_none_recheck
      T1 until try_to_free_pte:pmd_lock
      T0 finish
      T1 finish
      *
    }
"""


def test_try_get_and_clear_pmd_trylock_fails_and_takes_the_slow_path():
    m = "try_to_free_pte:pmd_lock"
    o = raced(TRYLOCK_FAILS, m, "try_to_free_pte:pmd_clear", "free_pte:mm_dec_nr_ptes")
    assert o.results["T0"] == [2] and o.results["T1"] == [0]
    s = steps(o, "T1")
    assert follows(o, "T1", "try_get_and_clear_pmd:spin_trylock", "zap_pte_range:add_mm_rss_vec")
    assert "try_get_and_clear_pmd:pmd_clear" not in s
    # T0 held pml across T1's trylock.
    lines = list(o.trace.lines())
    trylock = lines.index("T1@try_get_and_clear_pmd:spin_trylock")
    assert lines.index("T0@pmd_install:pmd_lock") < trylock < lines.index(
        "T0@pmd_install:spin_unlock")
    for order in (["T0 finish", "T1 finish"], ["T1 finish", "T0 finish"]):
        c = control(TRYLOCK_FAILS, order, m)
        assert count(c, "T1", "try_get_and_clear_pmd:pmd_clear") == 1


ZAP_RETRY_TABLE_VANISHED = """
    kprog 1
    # T1's MADV_DONTNEED zaps m0+0 and breaks out for need_resched(), dropping the PTE
    # lock. T0's MADV_DONTNEED of the same range zaps m0+1 and reclaims the table. T1's
    # retry pass cannot map the table: zap_pte_range returns short, and zap_pmd_range
    # reads the same pmd again, finds it none and moves on.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
      write m0+1 value=2
    }
    T0 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T1 choose zap_pte_range:need_resched=0
      T1 choose zap_pte_range:need_resched=1
      T1 until zap_pte_range:cond_resched
      T0 finish
      T1 finish
      *
    }
"""


def test_zap_pte_range_retry_finds_the_table_vanished():
    m = "zap_pte_range:table_vanished"
    o = raced(ZAP_RETRY_TABLE_VANISHED, m)
    assert o.results == {"setup": [0, 1, 2], "T0": [0], "T1": [0]}
    s = steps(o, "T1")
    i = s.index(m)
    assert s[i + 1:i + 4] == ["zap_pmd_range:cond_resched", "zap_pmd_range:pmd_read",
                              "zap_pmd_range:pmd_none"]
    # The short return skipped T1's own reclaim; T0 freed the table.
    assert "try_to_free_pte:pmd_lock" not in s
    assert count(o, "T0", "try_get_and_clear_pmd:pmd_clear") == 1
    # T0 first reclaims the table before T1 reaches zap_pte_range: T1 draws no
    # need_resched there (a choose line nothing draws is drift).
    control(ZAP_RETRY_TABLE_VANISHED, ["T0 finish", "T1 finish"], m)
    control(ZAP_RETRY_TABLE_VANISHED, NEED_RESCHED_AFTER_FIRST_ZAP + ["T1 finish", "T0 finish"],
            m)
