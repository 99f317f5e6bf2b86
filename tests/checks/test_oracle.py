"""The data oracle (core/checks/oracle.py): it reports a load that returns a value other
than the abstract memory's, and moves that memory forward only at the right moments."""

import pytest

from core.checks.oracle import DataOracle
from core.sim import KernelReport

from ..scenarios.helpers import control, raced, steps

STALE_STORE = """
    kprog 1
    # T0's store to the shared file page m1+6 goes through a translation that is still in
    # the page tables, but T2's munmap has already taken m1 out of the VMA tree. The
    # store reaches the page cache all the same, so T1 (another process, same file page)
    # must read 11.
    setup {
      p0 = process
      p1 = process
      f0 = file pages=16
      m1 = mmap p0 shared f0 pages=8
      m4 = mmap p1 shared f0 pages=8
    }
    T0 on p0 {
      write m1+6 value=11
    }
    T1 on p1 {
      read m4+6
    }
    T2 on p0 {
      munmap m1
    }
    schedule {
      T0 until user_write:retry_after_fault
      T0 until user_write:store
      T2 until zap_present_ptes:ptep_get_and_clear_full
      T0 finish
      T2 finish
      T1 finish
      *
    }
"""


def test_a_store_after_the_vma_is_detached_still_reaches_the_file():
    o = raced(STALE_STORE)
    assert o.results == {"setup": [0, 0], "T0": [11], "T1": [11], "T2": [0]}
    assert "vms_gather_munmap_vmas:vma_mark_detached" in steps(o, "T2")
    # Serially: stored before the munmap, or refused (SIGSEGV) after it.
    c = control(STALE_STORE, ["T0 finish", "T2 finish", "T1 finish"])
    assert c.results["T1"] == [11]
    c = control(STALE_STORE, ["T2 finish", "T0 finish", "T1 finish"])
    assert c.results["T0"] == ["segv"] and c.results["T1"] == [1006]


class _Vma:
    file = None
    shared = False

    def page_index(self, vpn):
        return vpn

    def describe(self):
        return "vma m0 [0, 8) anon"


class _Mm:
    oid = 1
    name = "p0"
    pud = None

    def find_vma(self, vpn):
        return _Vma()


class _Ctx:
    name = "T0"


def test_the_oracle_reports_a_load_that_disagrees_with_the_abstract_memory(monkeypatch):
    oracle = DataOracle()
    oracle.ppte = 8
    monkeypatch.setattr(oracle, "_mapped", lambda mm, vpn, folio, page: True)

    class _Folio:
        anon = True
        mapping = None

        def describe(self):
            return "folio #3 (anon)"

    mm, folio = _Mm(), _Folio()
    oracle.on_event(_Ctx(), "user_access", mm, 2, folio, 0, True, 5, False)   # store 5
    oracle.on_event(_Ctx(), "user_access", mm, 2, folio, 0, False, 5, True)   # load 5: fine
    assert oracle.checked == 1
    with pytest.raises(KernelReport) as e:
        oracle.on_event(_Ctx(), "user_access", mm, 2, folio, 0, False, 6, True)
    assert e.value.report.title == "BUG: data corruption: read returned a wrong value"
    # A zapped page reads zero again.
    oracle.on_event(_Ctx(), "pte_zapped", type("V", (), {"mm": mm})(), 2)
    oracle.on_event(_Ctx(), "user_access", mm, 2, folio, 0, False, 0, False)
    assert oracle.checked == 3


COW_SNAPSHOT = """
    kprog 1
    # T0's write to the private file mapping m1+7 copies the page (wp_page_copy) and
    # installs the copy; before T0's store lands, T1 (another process, shared mapping of
    # the same file) writes 12 to the file, and T2 reads m1+7. T2 sees the copy: the
    # file as it was when copied (1007), not the file now.
    setup {
      p0 = process
      p1 = process
      f0 = file pages=16
      m1 = mmap p0 private f0 pages=8
      m4 = mmap p1 shared f0 pages=8
      read m1+7
    }
    T0 on p0 {
      write m1+7 value=11
    }
    T1 on p1 {
      write m4+7 value=12
    }
    T2 on p0 {
      read m1+7
    }
    schedule {
      T0 until wp_page_copy:pte_same_recheck
      T1 finish
      T0 until user_write:retry_after_fault
      T2 finish
      T0 finish
      *
    }
"""


def test_a_private_copy_holds_the_file_as_it_was_when_copied():
    o = raced(COW_SNAPSHOT)
    assert o.results["T0"] == [11] and o.results["T1"] == [12] and o.results["T2"] == [1007]
    assert "wp_page_copy:set_pte_at" in steps(o, "T0")
    c = control(COW_SNAPSHOT, ["T1 finish", "T2 finish", "T0 finish"])
    assert c.results["T2"] == [12]                  # read before the copy: the file
