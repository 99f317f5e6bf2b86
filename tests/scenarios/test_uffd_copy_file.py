"""UFFDIO_COPY into a MAP_PRIVATE file (tmpfs) mapping (issue 18): a new anonymous folio
goes into the file VMA's table, without the page-cache lock, after ``uffd_lock_vma`` has
given the VMA an anon_vma. That is the writer ``retract_page_tables`` rechecks the VMA's
anon_vma against under the pte lock: a table that now holds an anonymous page must not be
retracted (freed) with the file collapse."""

from .helpers import control, raced, steps

COPY_VS_RETRACT = """
    kprog 1
    # khugepaged (K0) collapses f0's first range: it unmaps the file pages from m1
    # (try_to_unmap), and retract_page_tables finds m1 without an anon_vma and stops
    # before taking its pmd lock. T0's UFFDIO_COPY into m1+5 prepares m1's anon_vma and
    # installs an anonymous page into the (now empty) table. K0 takes the locks and
    # rechecks: m1 has an anon_vma now, so the table stays.
    setup {
      p0 = process
      f0 = file pages=16
      m1 = mmap p0 private f0 pages=8
      read m1+0
      read m1+1
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_copy m1+5 value=9
      read m1+5
      read m1+1
    }
    K0 kthread {
      khugepaged_scan m1+0
    }
    schedule {
      K0 until retract_page_tables:pmd_lock
      T0 until user_read:load x2
      K0 finish
      T0 finish
      *
    }
"""
RECHECK = "retract_page_tables:recheck_anon_vma_uffd_wp"


def test_retract_rechecks_the_anon_vma_a_uffd_copy_set_and_keeps_the_table():
    o = raced(COPY_VS_RETRACT, RECHECK)
    assert o.results == {"setup": [0, 1000, 1001, 0], "T0": [1, 9, 1001], "K0": ["succeed"]}
    k0 = steps(o, "K0")
    # The first look found no anon_vma; the recheck under the pte lock did.
    assert k0[k0.index(RECHECK) + 1] == "retract_page_tables:spin_unlock_ptl"
    assert "retract_page_tables:pmdp_collapse_flush" not in k0
    # The anonymous page stays where the copy put it; the read of m1+1 mapped the file's
    # new (collapsed) pages around it.
    assert o.pictures["p0"].splitlines()[1] == \
        "  pmd 0: table [F1000 F1001 F1002 F1003 F1004 A9 F1006 F1007]"
    # Serially, khugepaged first: the table is retracted (freed), the copy then installs
    # its page in a new one.
    c = control(COPY_VS_RETRACT, ["K0 finish", "T0 finish"])
    assert "retract_page_tables:pmdp_collapse_flush" in steps(c, "K0")
    assert c.results["T0"] == [1, 9, 1001]
