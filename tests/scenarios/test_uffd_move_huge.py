"""UFFDIO_MOVE of an anonymous huge pmd (mm/userfaultfd.c ``move_pages``, mm/huge_memory.c
``move_pages_huge_pmd``) against the paths that change either pmd while it has dropped the
source pmd lock to pin the folio and its anon_vma: its ``pmd_same`` recheck of both pmds,
``folio_get_anon_vma`` finding the folio unmapped, and the split when the destination pmd
is in the way."""

from .helpers import between, control, count, follows, raced, steps

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]

MOVE_HUGE = """
    kprog 1
    # m0 is one anonymous huge pmd (collapsed in the setup). T0 moves all of it to m1;
    # it stops at STOP, having dropped the source pmd lock. T1 then runs OPS.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
      madvise m0+0 pages=8 COLLAPSE
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=8
    }
    T1 on p0 {
      OPS
    }
    schedule {
      T0 until STOP
      T1 finish
      T0 finish
      *
    }
"""

# Serially the whole pmd moves (or, if T1 went first, it finds what T1 left).
MOVED = [8]


def _program(ops: str, stop: str) -> str:
    return MOVE_HUGE.replace("OPS", ops).replace("STOP", stop)


def test_move_huge_pmd_destination_pmd_changed_then_the_source_is_split():
    """T1's fault on the uffd-armed destination installs a table there (then SIGBUS) while
    T0 pins the folio: T0's pmd_same recheck of the destination fails (-EAGAIN). The
    retry finds the destination pmd in the way: the source is split, and the page-by-page
    move refuses the pte-mapped THP (-EBUSY). Nothing moved, no data lost."""
    m = "move_pages:split_spin_unlock"
    text = _program("read m1+0", "move_pages_huge_pmd:anon_vma_lock_write")
    o = raced(text, m, "move_pages_huge_pmd:pmd_same")
    assert o.results["T0"] == ["-EBUSY"] and o.results["T1"] == ["sigbus"]
    s = steps(o, "T0")
    assert follows(o, "T0", "move_pages_huge_pmd:pmd_same", "double_pt_unlock:spin_unlock")
    assert "move_pages_huge_pmd:pmdp_huge_clear_flush" not in s
    assert between(o, "T0@move_pages_huge_pmd:src_spin_unlock", "T1@pmd_install:pmd_populate",
                   "T0@move_pages_huge_pmd:pmd_same")
    assert count(o, "T0", "move_pages:eagain_retry") == 1
    assert s.index("move_pages:eagain_retry") < s.index(m) < s.index(
        "__split_huge_pmd_locked:pgtable_trans_huge_withdraw")
    assert o.pictures["p0"].splitlines()[1:3] == [
        "  pmd 0: table [A7 A0 A0 A0 A0 A9 A0 A0]", "  pmd 1: table [.. .. .. .. .. .. .. ..]"]
    # Serially: T0 first moves the whole pmd; T1 first leaves a table in the way, so T0
    # splits at once and never gets as far as the recheck.
    c = control(text, SERIAL, m, "move_pages:eagain_retry")
    assert c.results["T0"] == MOVED
    c = control(text, SERIAL_REVERSED, "move_pages_huge_pmd:pmd_same")
    assert c.results["T0"] == ["-EBUSY"]


def test_move_huge_pmd_source_split_under_it():
    """T1's MADV_DONTNEED of one page splits the source pmd (zap_pmd_range) while T0 pins
    the folio: the source pmd_same recheck fails (-EAGAIN); the retry sees a table and
    moves pte by pte, and the first page is gone (-ENOENT)."""
    m = "move_pages_huge_pmd:pmd_same"
    text = _program("madvise m0+0 pages=1 DONTNEED", "move_pages_huge_pmd:anon_vma_lock_write")
    o = raced(text, m, "__split_huge_pmd_locked:pmd_populate")
    assert o.results["T0"] == ["-ENOENT"] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert follows(o, "T0", m, "double_pt_unlock:spin_unlock")
    assert "move_pages_huge_pmd:pmdp_huge_clear_flush" not in s
    assert between(o, "T0@move_pages_huge_pmd:src_spin_unlock",
                   "T1@__split_huge_pmd_locked:pmd_populate", "T0@" + m)
    assert s.index("move_pages:eagain_retry") < s.index("move_pages_pte:src_ptep_get")
    assert o.pictures["p0"].splitlines()[1] == "  pmd 0: table [.. A0 A0 A0 A0 A9 A0 A0]"
    c = control(text, SERIAL, "move_pages:eagain_retry")
    assert c.results["T0"] == MOVED


def test_move_huge_pmd_folio_unmapped_before_its_anon_vma_is_pinned():
    """T1's MADV_DONTNEED of the whole pmd zaps the THP (deposited table and all) after T0
    took its folio reference: folio_get_anon_vma finds it unmapped (-EAGAIN, no pmd lock
    taken); the retry finds the source pmd none (-ENOENT)."""
    text = _program("madvise m0+0 pages=8 DONTNEED", "folio_get_anon_vma:rcu_read_lock")
    o = raced(text)
    assert o.results["T0"] == ["-ENOENT"] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert follows(o, "T0", "folio_get_anon_vma:read_folio_mapping",
                   "folio_get_anon_vma:rcu_read_unlock")
    assert follows(o, "T0", "folio_get_anon_vma:rcu_read_unlock",
                   "move_pages_huge_pmd:folio_unlock")
    assert "move_pages_huge_pmd:pmd_same" not in s
    assert count(o, "T0", "move_pages:eagain_retry") == 1
    assert "zap_deposited_table:pte_free" in steps(o, "T1")
    assert o.pictures["p0"].splitlines()[0] == "p0: nr_ptes=0 rss=anon:0 file:0"
    c = control(text, SERIAL, "move_pages:eagain_retry")
    assert c.results["T0"] == MOVED


FAULT_DURING_SPLIT = """
    kprog 1
    # T0 moves one page of the huge pmd m0, so it splits it first: it stops with the pmd
    # lock held and the pmd invalidated (pmdp_invalidate, then the TLB flush). T1 reads
    # m0+3: its TLB entry is gone, the fault sees a huge pmd (an invalidated pmd still is
    # one) and huge_pmd_set_accessed waits for the pmd lock; when the split is done the
    # pmd is a table, pmd_same fails, and the retried load goes through the new pte.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=1
      write m0+1 value=2
      write m0+2 value=3
      write m0+3 value=4
      write m0+4 value=5
      write m0+5 value=6
      write m0+6 value=7
      write m0+7 value=8
      madvise m0+0 pages=8 COLLAPSE
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
    }
    T1 on p0 {
      read m0+3
    }
    schedule {
      T0 until __split_huge_pmd_locked:flush_tlb_range
      T1 until huge_pmd_set_accessed:pmd_lock x2
      T0 finish
      T1 finish
      *
    }
"""


def test_a_fault_on_a_pmd_being_split_waits_for_the_split():
    m = "huge_pmd_set_accessed:pmd_lock"
    o = raced(FAULT_DURING_SPLIT, m)
    assert o.results["T0"] == ["-EBUSY"] and o.results["T1"] == [4]
    t = steps(o, "T1")
    assert t[t.index("__handle_mm_fault:pmdp_get_lockless"):] == [
        "__handle_mm_fault:pmdp_get_lockless", m, m, "huge_pmd_set_accessed:pmd_same",
        "huge_pmd_set_accessed:spin_unlock", "do_user_addr_fault:vma_end_read",
        "user_read:retry_after_fault", "user_read:load"]
    assert between(o, "T1@" + m, "T0@__split_huge_pmd:spin_unlock", "T1@" + m)
    # No pte fault path: the fault never mistook the invalidated pmd for a table.
    assert "handle_pte_fault:pmd_none" not in t
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(FAULT_DURING_SPLIT, order, m)
        assert c.results["T1"] == [4]
