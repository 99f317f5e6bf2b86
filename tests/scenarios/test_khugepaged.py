"""File THP collapse against PT reclaim and faults: ``retract_page_tables``' pmd state
recheck, rmap's ``map_pte`` retry, ``filemap_lock_folio`` finding its folio replaced, and
``collapse_pte_mapped_thp``'s ``pmd_same`` rechecks (spec 1.6, 1.7, 1.15)."""

from .helpers import control, count, follows, mark, raced, steps

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


RETRACT_PMD_NONE = """
    kprog 1
    # T0's MADV_COLLAPSE of m1 builds the huge folio (unmapping the small ones: m1's table
    # is left empty) and, in retract_page_tables, finds the table locklessly. T1's
    # MADV_DONTNEED reclaims the empty table. T0 takes the pmd lock, check_pmd_state sees
    # a none pmd and drops the lock: no pte_lockptr() on a none pmd, nothing retracted.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
      read m1+0
    }
    T0 on p0 {
      madvise m1+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until retract_page_tables:mmu_notifier_invalidate_range_start
      T1 finish
      *
    }
"""


def test_retract_page_tables_pmd_recheck_finds_none_and_drops_pml():
    # The bail-out has no site of its own: its mark is check_pmd_state followed at once
    # by drop_pml, and no pte_lockptr (m1 is the file's only VMA).
    recheck, drop = "retract_page_tables:check_pmd_state", "retract_page_tables:drop_pml"
    lockptr = mark("retract_page_tables:pte_lockptr")
    o = raced(RETRACT_PMD_NONE, drop)
    assert follows(o, "T0", recheck, drop)
    s = steps(o, "T0")
    assert lockptr not in s and "retract_page_tables:mm_dec_nr_ptes" not in s
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    # The collapse itself succeeds: collapse_pte_mapped_thp installs the huge pmd.
    assert o.results["T0"] == [["succeed"]]
    assert "set_huge_pmd:set_pmd_at" in s
    # Without the race: T0 first retracts the table (pte_lockptr, pmdp_collapse_flush);
    # T1 first leaves no table, so retract skips the VMA before taking pml.
    c = control(RETRACT_PMD_NONE, SERIAL)
    assert not follows(c, "T0", recheck, drop)
    assert follows(c, "T0", recheck, lockptr)
    c = control(RETRACT_PMD_NONE, SERIAL_REVERSED, "retract_page_tables:pmd_lock")
    assert lockptr not in steps(c, "T0")


MAP_PTE_AGAIN = """
    kprog 1
    # collapse_file (T0's MADV_COLLAPSE) try_to_unmap()s the small folio of index 0:
    # map_pte maps m1's table, sees the pte mapping the folio, and stops before taking
    # ptl. T1's MADV_DONTNEED zaps all of m1 and reclaims the table. map_pte takes the
    # detached table's ptl, the pmd_same recheck fails: unlock, unmap, try again; the pmd
    # is none now, so there is nothing to unmap.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
      read m1+0
    }
    T0 on p0 {
      madvise m1+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until map_pte:spin_lock
      T1 finish
      *
    }
"""


def test_map_pte_pmd_same_recheck_fails_and_retries():
    m = "map_pte:again"
    o = raced(MAP_PTE_AGAIN, m, "map_pte:pmd_changed_unlock")
    assert follows(o, "T0", "map_pte:pmd_same", "map_pte:pmd_changed_unlock")
    s = steps(o, "T0")
    i = s.index(m)
    assert s[i + 1:i + 4] == ["__pte_offset_map:rcu_read_lock",
                              "__pte_offset_map:pmdp_get_lockless",
                              "__pte_offset_map:rcu_read_unlock"]
    # Only the first folio's walk found a mapping; the collapse went ahead.
    assert "try_to_unmap_one:ptep_get_and_clear" not in s
    assert o.results["T0"] == [["succeed"]]
    control(MAP_PTE_AGAIN, SERIAL, m)
    control(MAP_PTE_AGAIN, SERIAL_REVERSED, m)


LOCK_FOLIO_STALE = """
    kprog 1
    # T0's MADV_COLLAPSE has locked and unmapped all eight small folios of f0 (it stops
    # before copying them). T1 read-faults m1+3: fault-around cannot trylock any folio,
    # so filemap_fault looks up index 3, takes a reference on the small folio and sleeps
    # on its lock. T0 replaces the folios with the huge one and unlocks the old ones (their
    # mapping is gone). T1 wakes, sees the folio is no longer f0's, unlocks and drops it,
    # and looks again: it finds the huge folio, already mapped by the huge pmd T0's
    # collapse installed, and reads through it.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
    }
    T0 on p0 {
      madvise m1+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      read m1+3
    }
    schedule {
      T0 until collapse_file:copy_mc_highpage
      T1 until filemap_lock_folio:folio_lock x2
      T0 finish
      T1 finish
      *
    }
"""


def test_filemap_lock_folio_finds_the_folio_replaced_after_sleeping():
    m = "filemap_lock_folio:stale_folio_unlock"
    o = raced(LOCK_FOLIO_STALE, m, "filemap_lock_folio:repeat")
    assert o.results["T1"] == [1003]
    assert o.results["T0"] == [["succeed"]]
    # T1 slept on the old folio's lock while T0 finished the collapse.
    lines = list(o.trace.lines())
    first, second = [i for i, x in enumerate(lines) if x == "T1@filemap_lock_folio:folio_lock"][:2]
    assert "T0@collapse_file:xas_store" in lines[first:second]
    assert "T0@collapse_file:folio_unlock_old" in lines[first:second]
    assert follows(o, "T1", "filemap_lock_folio:folio_mapping_check", m)
    # The second lookup found the huge folio and kept it.
    assert count(o, "T1", "filemap_lock_folio:folio_mapping_check") == 2
    assert count(o, "T1", "filemap_lock_folio:stale_folio_unlock") == 1
    control(LOCK_FOLIO_STALE, SERIAL, m)
    control(LOCK_FOLIO_STALE, SERIAL_REVERSED, m)


# m2 is a private mapping of f0 with an anon_vma (the COW of m2+8), so retract_page_tables
# skips it and its table survives the collapse of f0's first huge page (done through m1);
# the read of m2+1 then maps the huge folio's pages by ptes in that table. T0's
# MADV_COLLAPSE of m2 finds the range already huge in the page cache and goes straight to
# collapse_pte_mapped_thp, which T1's MADV_DONTNEED of m2's first table races.
PTE_MAPPED_THP = """
    kprog 1
    # {story}
    setup {{
      p0 = process
      f0 = file pages=16
      m1 = mmap p0 shared f0 pages=8
      m2 = mmap p0 private f0 pages=16
      read m2+0
      write m2+8 value=9
      madvise m1+0 pages=8 COLLAPSE
      read m2+1
    }}
    T0 on p0 {{
      madvise m2+0 pages=8 COLLAPSE
    }}
    T1 on p0 {{
      madvise m2+0 pages=8 DONTNEED
    }}
    schedule {{
      T0 until {site}
      T1 finish
      *
    }}
"""


def _pte_mapped_thp_control(program, m):
    # T0 alone removes the table and installs the huge pmd; after T1 there is no table
    # left, and T0 only installs the huge pmd.
    c = control(program, SERIAL, m)
    assert c.results["T0"] == [["succeed"]]
    assert count(c, "T0", "collapse_pte_mapped_thp:pmdp_collapse_flush") == 1
    c = control(program, SERIAL_REVERSED, m)
    assert c.results["T0"] == [["succeed"]]
    assert count(c, "T0", "collapse_pte_mapped_thp:pmdp_collapse_flush") == 0
    assert count(c, "T0", "set_huge_pmd:set_pmd_at") == 1


def test_collapse_pte_mapped_thp_pmd_changed_after_retaking_pml():
    program = PTE_MAPPED_THP.format(
        story="T0 cleared the ptes and dropped ptl, keeping the map (IP-C2); T1 reclaims "
              "the empty table; T0's pmd_same recheck under pml and ptl fails: "
              "flush_tlb_mm, goto unlock.",
        site="collapse_pte_mapped_thp:pmd_lock")
    m = "collapse_pte_mapped_thp:pmd_changed_flush_tlb_mm"
    o = raced(program, m)
    assert o.results["T0"] == [["fail"]]
    # Mainline (v6.13+): take pml, then the stale table's ptl (its memory kept by the
    # RCU section the map entered), then recheck.
    assert follows(o, "T0", "collapse_pte_mapped_thp:step4_spin_lock_nested",
                   "collapse_pte_mapped_thp:pmd_same_after_pml")
    assert follows(o, "T0", "collapse_pte_mapped_thp:pmd_same_after_pml", m)
    s = steps(o, "T0")
    assert count(o, "T0", "collapse_pte_mapped_thp:ptep_clear") == 8
    assert "collapse_pte_mapped_thp:pmdp_collapse_flush" not in s
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    _pte_mapped_thp_control(program, m)


def test_collapse_pte_mapped_thp_table_vanished_after_step_one():
    program = PTE_MAPPED_THP.format(
        story="T0 checked the ptes and dropped ptl (IP-C1); T1 zaps them and reclaims the "
              "table; T0's pte_offset_map_rw_nolock fails.",
        site="collapse_pte_mapped_thp:mmu_notifier_invalidate_range_start")
    m = "collapse_pte_mapped_thp:table_vanished"
    o = raced(program, m)
    assert o.results["T0"] == [["fail"]]
    assert follows(o, "T0", "__pte_offset_map:rcu_read_unlock", m)
    assert count(o, "T0", "collapse_pte_mapped_thp:ptep_clear") == 0
    _pte_mapped_thp_control(program, m)


def test_collapse_pte_mapped_thp_pmd_same_after_rw_nolock_fails():
    program = PTE_MAPPED_THP.format(
        story="T0 mapped the table with pte_offset_map_rw_nolock and stops before taking "
              "ptl; T1 zaps it and reclaims it; T0's pmd_same recheck under ptl fails.",
        site="collapse_pte_mapped_thp:spin_lock")
    # The abort label is shared with step 1's checks: the mark is the recheck followed by
    # the abort's unlock.
    recheck = "collapse_pte_mapped_thp:pmd_same"
    abort = "collapse_pte_mapped_thp:abort_pte_unmap_unlock"
    o = raced(program, abort)
    assert o.results["T0"] == [["fail"]]
    assert follows(o, "T0", recheck, abort)
    assert count(o, "T0", "collapse_pte_mapped_thp:step2_ptep_get") == 0
    _pte_mapped_thp_control(program, abort)


UFFD_ARMED_TABLE_VANISHED = """
    kprog 1
    # As above, but m2 is registered with userfaultfd (missing mode): for a uffd-armed
    # private VMA collapse_pte_mapped_thp takes the pmd lock before mapping the table
    # again. T1 reclaims the table between step 1 and that pmd lock: the map fails with
    # pml held, and the abort path releases pml. (With split_ptlocks=off it does not:
    # see corpus/findings/collapse-pte-mapped-thp-pml-leak.kprog.)
    setup {
      p0 = process
      f0 = file pages=16
      m1 = mmap p0 shared f0 pages=8
      m2 = mmap p0 private f0 pages=16
      read m2+0
      write m2+8 value=9
      madvise m1+0 pages=8 COLLAPSE
      read m2+1
      uffd_register m2 missing
    }
    T0 on p0 {
      madvise m2+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      madvise m2+0 pages=8 DONTNEED
    }
    schedule {
      T0 until collapse_pte_mapped_thp:uffd_pmd_lock
      T1 finish
      *
    }
"""


def test_collapse_pte_mapped_thp_table_vanished_with_pml_held():
    m = "collapse_pte_mapped_thp:table_vanished"
    o = raced(UFFD_ARMED_TABLE_VANISHED, m, "collapse_pte_mapped_thp:abort_spin_unlock_pml")
    assert o.results["T0"] == [["fail"]]
    s = steps(o, "T0")
    i = s.index("collapse_pte_mapped_thp:uffd_pmd_lock")
    assert s[i + 1:i + 6] == [
        "__pte_offset_map:rcu_read_lock", "__pte_offset_map:pmdp_get_lockless",
        "__pte_offset_map:rcu_read_unlock", m, "collapse_pte_mapped_thp:abort_spin_unlock_pml"]
    for order, pml_steps in ((SERIAL, 1), (SERIAL_REVERSED, 0)):
        c = control(UFFD_ARMED_TABLE_VANISHED, order, m)
        assert c.results["T0"] == [["succeed"]]
        assert count(c, "T0", "collapse_pte_mapped_thp:uffd_pmd_lock") == pml_steps
