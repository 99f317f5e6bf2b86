"""File faults and their preallocated tables: fault-around's ``filemap_map_pmd`` when the
pmd was filled or emptied concurrently, and ``__do_fault``'s preallocation freed unused
(spec 1.2, "File faults follow the same pattern")."""

from .helpers import control, count, follows, raced, steps

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


FAULT_AROUND_PMD_FILLED = """
    kprog 1
    # T0 read-faults m1+0 on a none pmd: do_fault_around preallocates a table, locks
    # folio 0 and stops in filemap_map_pmd before its pmd_none check. T1 read-faults m1+1:
    # its fault-around skips the locked folio 0, installs its own preallocated table and
    # maps pages 1-7. T0 finds the pmd filled, does not install, maps page 0 into T1's
    # table, and do_fault frees its unused preallocated table.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
    }
    T0 on p0 {
      read m1+0
    }
    T1 on p0 {
      read m1+1
    }
    schedule {
      T0 until filemap_map_pmd:pmd_none
      T1 finish
      *
    }
"""


def test_fault_around_prealloc_unused_when_the_pmd_was_filled():
    m = "do_fault:pte_free"
    o = raced(FAULT_AROUND_PMD_FILLED, m)
    assert o.results["T0"] == [1000] and o.results["T1"] == [1001]
    s = steps(o, "T0")
    assert "do_fault_around:pte_alloc_one" in s
    assert follows(o, "T0", "filemap_map_pmd:pmd_none", "__pte_offset_map:rcu_read_lock")
    assert "pmd_install:pmd_lock" not in s
    assert count(o, "T0", "filemap_map_pages:set_pte_range") == 1
    assert count(o, "T1", "pmd_install:pmd_populate") == 1
    assert follows(o, "T0", "do_fault_around:rcu_read_unlock", m)
    control(FAULT_AROUND_PMD_FILLED, SERIAL, m)
    control(FAULT_AROUND_PMD_FILLED, SERIAL_REVERSED, m)


DO_FAULT_PREALLOC_UNUSED = """
    kprog 1
    # Without fault-around: T0 read-faults m1+0 on a none pmd, __do_fault preallocates a
    # table and T0 stops before locking folio 0. T1 read-faults m1+1 and installs its own
    # preallocated table. T0's finish_fault finds the pmd filled and maps into T1's table;
    # do_fault frees T0's unused preallocation.
    config: fault_around=off
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
    }
    T0 on p0 {
      read m1+0
    }
    T1 on p0 {
      read m1+1
    }
    schedule {
      T0 until filemap_lock_folio:folio_lock
      T1 finish
      *
    }
"""


def test_do_fault_frees_the_unused_prealloc_pte():
    m = "do_fault:pte_free"
    o = raced(DO_FAULT_PREALLOC_UNUSED, m)
    assert o.results["T0"] == [1000] and o.results["T1"] == [1001]
    s = steps(o, "T0")
    assert "__do_fault:pte_alloc_one" in s and "pmd_install:pmd_lock" not in s
    assert follows(o, "T0", "finish_fault:pmd_none", "__pte_offset_map:rcu_read_lock")
    assert follows(o, "T0", "do_read_fault:folio_unlock", m)
    control(DO_FAULT_PREALLOC_UNUSED, SERIAL, m)
    control(DO_FAULT_PREALLOC_UNUSED, SERIAL_REVERSED, m)


FAULT_AROUND_PMD_EMPTIED = """
    kprog 1
    # m1's table is there, with m1+3 zapped. T0 read-faults m1+3: do_fault_around sees a
    # table (so no preallocation), locks folio 0 and stops before filemap_map_pmd. T1's
    # MADV_DONTNEED of all of m1 reclaims the table. filemap_map_pmd finds the pmd none
    # with nothing to install, pte_offset_map_lock fails, and filemap_map_pages gives
    # the folio back; the fault falls back to __do_fault, which preallocates, and
    # finish_fault installs the table.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
      read m1+0
      madvise m1+3 pages=1 DONTNEED
    }
    T0 on p0 {
      read m1+3
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until filemap_map_pmd:pmd_trans_huge
      T1 finish
      *
    }
"""


def test_fault_around_table_vanished_falls_back_to_do_fault():
    m = "filemap_map_pages:notable_folio_unlock"
    o = raced(FAULT_AROUND_PMD_EMPTIED, m)
    assert o.results["T0"] == [1003]
    s = steps(o, "T0")
    assert "do_fault_around:pte_alloc_one" not in s
    assert follows(o, "T0", "filemap_map_pmd:pmd_none", "__pte_offset_map:rcu_read_lock")
    assert follows(o, "T0", "__pte_offset_map:rcu_read_unlock", m)
    assert "__do_fault:pte_alloc_one" in s
    assert count(o, "T0", "pmd_install:pmd_populate") == 1
    assert "do_fault:pte_free" not in s
    control(FAULT_AROUND_PMD_EMPTIED, SERIAL, m)
    control(FAULT_AROUND_PMD_EMPTIED, SERIAL_REVERSED, m)
