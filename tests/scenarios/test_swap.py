"""Swap-in against other faults and PT reclaim (mm/memory.c ``do_swap_page``, spec 1.13):
the swap pte is read without the PTE lock, the page is read back with no lock held, and
only then is the entry rechecked under ``pte_offset_map_lock``: ``pte_same`` (another
fault mapped it first) or the table gone (MADV_DONTNEED zapped the entry and reclaimed the
table)."""

from core.program.kprog import loads
from core.program.program import run_program
from core.sim.explore import ScheduleOdometer, explore

from .helpers import control, kprog, raced, reschedule, steps

SWAPPED = """
    kprog 1
    # m0+0 holds 7 and has been swapped out (two reclaim passes: the first clears the
    # accessed bit). T0 faults it in and stops before locking the folio it read back.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      reclaim m0+0
      reclaim m0+0
    }
    T0 on p0 {
      read m0+0
    }
    T1 on p0 {
      OPS
    }
    schedule {
      T0 until do_swap_page:folio_lock_or_retry
      T1 finish
      T0 finish
      *
    }
"""

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]


def _program(ops: str) -> str:
    return SWAPPED.replace("OPS", ops)


def test_swap_in_waits_for_another_swap_in_of_the_same_entry():
    """T0 claimed the entry (swapcache_prepare: SWAP_HAS_CACHE) and read the page back;
    T1's fault on the same entry loses the claim and sleeps on swapcache_wq until T0 has
    mapped the page and cleared the claim; T1's retried access finds T0's page. Without
    the claim (before v6.8's 13ddaf26be32) T1 read the slot after T0 freed it: a 2-worker
    campaign found that in the model as a slab-use-after-free in do_swap_page."""
    relax = "do_swap_page:schedule_timeout_uninterruptible"
    text = reschedule(_program("read m0+0"), [
        "T0 until do_swap_page:folio_lock_or_retry",
        f"T1 until {relax} x2",                      # the second take is the sleep
    ])
    o = raced(text, relax, "do_swap_page:swapcache_clear")
    assert o.results["T0"] == [7] and o.results["T1"] == [7]
    s = steps(o, "T1")
    i = s.index("do_swap_page:swapcache_prepare")
    assert s[i:i + 4] == ["do_swap_page:swapcache_prepare", relax, relax,
                          "do_swap_page:out_page_folio_put"]
    assert "do_swap_page:set_pte_at" in steps(o, "T0")
    assert "do_swap_page:set_pte_at" not in steps(o, "T1")
    assert o.pictures["p0"].splitlines()[1] == "  pmd 0: table [A7 .. .. .. .. .. .. ..]"
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order, relax)
        assert c.results["T0"] == [7] and c.results["T1"] == [7]


def test_swap_in_finds_the_table_reclaimed():
    """T1's MADV_DONTNEED zaps the swap entry (freeing the slot) and reclaims the now
    empty table: T0's pte_offset_map_lock fails, T0 drops the page it read and the retried
    access reads zero, the data having been discarded."""
    m = "do_swap_page:table_vanished"
    text = _program("madvise m0+0 pages=8 DONTNEED")
    o = raced(text, m, "try_get_and_clear_pmd:pmd_clear")
    assert o.results["T0"] == [0] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert s[s.index(m):][:3] == [m, "do_swap_page:folio_unlock", "do_swap_page:folio_put"]
    assert o.pictures["p0"].splitlines()[0] == "p0: nr_ptes=1 rss=anon:0 file:0"
    c = control(text, SERIAL, m)
    assert c.results["T0"] == [7]
    c = control(text, SERIAL_REVERSED, m, "do_swap_page:swap_read_folio")
    assert c.results["T0"] == [0]


# The campaign's reproducer (minimized by ptfuzz): kswapd swaps the private file
# mapping's anonymous copy out while two threads read it back.
TWO_SWAP_INS = """
    kprog 1
    setup {
      p0 = process
      f0 = file pages=16
      m0 = mmap p0 private f0 pages=8
      write m0+5 value=1
    }
    T0 on p0 {
      read m0+5
    }
    T1 on p0 {
      read m0+5
    }
    K0 kthread {
      reclaim m0+5
      reclaim m0+5
    }
"""


def test_two_swap_ins_of_one_entry_pass_in_every_one_preemption_interleaving():
    prog = loads(kprog(TWO_SWAP_INS))
    titles = [o.title for o in explore(lambda src, st: run_program(prog, src, st), bound=1,
                                       limit=20_000, source=ScheduleOdometer)]
    # Exact: enumeration is deterministic. 4,238 before issue 15: RCU callbacks now run
    # on their own thread, and the swap-in rechecks the swap-cache folio's identity.
    assert len(titles) == 17192
    assert set(titles) == {"pass"}
