"""Faults against PT reclaim and each other: ``__pte_offset_map_lock``'s ``pmd_same``
retry, ``pmd_install``'s ``pmd_none`` recheck, and the "table vanished" refaults of
``handle_pte_fault``, ``do_anonymous_page`` and ``wp_page_copy`` (spec 1.1, 1.2)."""

from .helpers import control, count, follows, raced, steps

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


PTE_MAP_LOCK_RETRY = """
    kprog 1
    # T0 write-faults m0+1: do_anonymous_page maps table X (pmdval = X) and stops before
    # taking X's ptl. T1's MADV_DONTNEED empties and reclaims X (the pmd is none); T2
    # faults m0+2 and installs a new table Y. T0 takes X's ptl, the recheck sees Y != X,
    # so it unlocks, retries, and maps and locks Y: the page lands in the live table.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      write m0+1 value=5
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    T2 on p0 {
      write m0+2 value=6
    }
    schedule {
      T0 until __pte_offset_map_lock:spin_lock
      T1 finish
      T2 finish
      T0 finish
      *
    }
"""


def test_pte_offset_map_lock_pmd_same_recheck_fails_and_retries():
    m = "__pte_offset_map_lock:recheck_failed_unlock"
    o = raced(PTE_MAP_LOCK_RETRY, m, "__pte_offset_map_lock:again")
    assert o.results["T0"] == [5] and o.results["T2"] == [6]
    s = steps(o, "T0")
    # The retry re-read the pmd, found Y and locked it: one fault, no refault.
    retry = s.index("__pte_offset_map_lock:again")
    assert s[retry + 1:retry + 5] == [
        "__pte_offset_map:rcu_read_lock", "__pte_offset_map:pmdp_get_lockless",
        "__pte_offset_map_lock:spin_lock", "__pte_offset_map_lock:pmd_same_recheck"]
    assert "do_anonymous_page:set_ptes" in s[retry:]
    assert count(o, "T0", "user_write:retry_after_fault") == 1
    control(PTE_MAP_LOCK_RETRY, ["T0 finish", "T1 finish", "T2 finish"], m)
    control(PTE_MAP_LOCK_RETRY, ["T1 finish", "T2 finish", "T0 finish"], m)
    control(PTE_MAP_LOCK_RETRY, None, m)


PMD_INSTALL_RACE = """
    kprog 1
    # Two write faults on the same empty pmd: T0 allocates its table and stops before
    # pmd_install takes the pmd lock; T1 allocates, installs its table and maps its page.
    # T0's pmd_none recheck under the pmd lock fails: it frees its spare table and maps
    # its page into T1's.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
    }
    T0 on p0 {
      write m0+0 value=1
    }
    T1 on p0 {
      write m0+1 value=2
    }
    schedule {
      T0 until pmd_install:pmd_lock
      T1 finish
      *
    }
"""


def test_pmd_install_pmd_none_recheck_fails_and_frees_the_spare():
    m = "__pte_alloc:pte_free"
    o = raced(PMD_INSTALL_RACE, m)
    assert o.results["T0"] == [1] and o.results["T1"] == [2]
    assert follows(o, "T0", "pmd_install:pmd_none_recheck", "pmd_install:spin_unlock")
    assert count(o, "T0", "pmd_install:pmd_populate") == 0
    assert count(o, "T1", "pmd_install:pmd_populate") == 1
    control(PMD_INSTALL_RACE, SERIAL, m)
    control(PMD_INSTALL_RACE, SERIAL_REVERSED, m)
    control(PMD_INSTALL_RACE, None, m)


HANDLE_PTE_FAULT_VANISHED = """
    kprog 1
    # T0 read-faults m0+1: handle_pte_fault sees a table in the pmd and stops before
    # pte_offset_map_rw_nolock reads the pmd. T1's MADV_DONTNEED reclaims the (now empty)
    # table. T0's map fails: handle_pte_fault returns 0 and the access is retried (and
    # faults again, on a none pmd this time).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      read m0+1
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


def test_handle_pte_fault_table_vanished_refaults():
    m = "handle_pte_fault:table_vanished"
    o = raced(HANDLE_PTE_FAULT_VANISHED, m)
    assert o.results["T0"] == [0]
    assert follows(o, "T0", "__pte_offset_map:rcu_read_unlock", m)
    assert follows(o, "T0", m, "do_user_addr_fault:vma_end_read")
    # Load, fault (vanished), load, fault (zero page), load.
    assert count(o, "T0", "user_read:retry_after_fault") == 2
    assert count(o, "T0", "user_read:load") == 3
    c = control(HANDLE_PTE_FAULT_VANISHED, SERIAL, m)
    assert count(c, "T0", "user_read:load") == 2
    control(HANDLE_PTE_FAULT_VANISHED, SERIAL_REVERSED, m)


DO_ANONYMOUS_PAGE_VANISHED = """
    kprog 1
    # T0 write-faults m0+1: the table is there (pte_alloc has nothing to do); T0 stops
    # before allocating its folio (IP-F2). T1's MADV_DONTNEED reclaims the table.
    # pte_offset_map_lock then finds a none pmd: do_anonymous_page releases its folio and
    # returns, and the refault installs a new table.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      write m0+1 value=5
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until do_anonymous_page:folio_prealloc
      T1 finish
      *
    }
"""


def test_do_anonymous_page_table_vanished_releases_the_folio():
    m = "do_anonymous_page:table_vanished"
    o = raced(DO_ANONYMOUS_PAGE_VANISHED, m)
    assert o.results["T0"] == [5]
    assert follows(o, "T0", m, "do_anonymous_page:folio_put")
    # The map failed at the pmd read, not at the pmd_same recheck.
    assert count(o, "T0", "__pte_offset_map_lock:recheck_failed_unlock") == 0
    assert count(o, "T0", "user_write:retry_after_fault") == 2
    control(DO_ANONYMOUS_PAGE_VANISHED, SERIAL, m)
    control(DO_ANONYMOUS_PAGE_VANISHED, SERIAL_REVERSED, m)


WP_PAGE_COPY_VANISHED = """
    kprog 1
    # T0 write-faults m1+2, a read-only pte of a private file mapping: do_wp_page takes a
    # reference, drops ptl and wp_page_copy stops before allocating the copy. T1's
    # MADV_DONTNEED zaps all of m1 and reclaims the table. wp_page_copy's
    # pte_offset_map_lock fails: both folios are released and the access is retried (a
    # COW fault on a none pmd this time).
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 private f0 pages=8
      read m1+0
    }
    T0 on p0 {
      write m1+2 value=5
    }
    T1 on p0 {
      madvise m1+0 pages=8 DONTNEED
    }
    schedule {
      T0 until wp_page_copy:folio_prealloc
      T1 finish
      *
    }
"""


def test_wp_page_copy_table_vanished_refaults():
    m = "wp_page_copy:table_vanished"
    o = raced(WP_PAGE_COPY_VANISHED, m)
    assert o.results["T0"] == [5]
    s = steps(o, "T0")
    i = s.index(m)
    assert s[i + 1:i + 4] == ["wp_page_copy:folio_put_new", "wp_page_copy:folio_put_old",
                              "do_user_addr_fault:vma_end_read"]
    assert "do_cow_fault:copy_user_highpage" in s[i:]
    control(WP_PAGE_COPY_VANISHED, SERIAL, m)
    control(WP_PAGE_COPY_VANISHED, SERIAL_REVERSED, m)
