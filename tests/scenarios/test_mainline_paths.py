"""The mainline interleavings of the paths d12c026 and 61f788f changed, each scheduled by
hand so that the path's recheck (or its flush, or its retry) is what decides:

1. ``collapse_pte_mapped_thp`` keeps the pte map (its RCU section) from step 2 to step 4
   and rechecks ``pmd_same`` in step 4 under pml and ptl (``flush_tlb_mm``, goto unlock);
   the switch ``collapse-pte-mapped-thp-nosplit-no-recheck`` restores mainline, which
   skips that recheck when ``ptl == pml``.
2. ``flush_tlb_batched_pending`` flushes first and marks done after, with a ``cmpxchg``
   over ``(pending, flushed)``.
3. ``should_fault_around``: a userfaultfd MISSING registration keeps fault-around, WP
   disables it.
4. ``do_swap_page`` rechecks, once the folio is locked, that the folio it found in the
   swap cache still caches the entry.
5. The retry rule: a retry whose reads another CPU changed is offered at once.
"""

from pathlib import Path

import pytest

from core.program.kprog import loads
from core.program.program import run_program
from core.sim.strategies import Replay, ScheduleLine

from .helpers import (between, control, count, follows, kprog, mark, raced, reschedule, run,
                      steps, with_config)

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]
ROOT = Path(__file__).resolve().parents[2]


def decisive(o, sites, threads=("T0", "T1", "K0", "rcu_gp", "rcu_cb")):
    """The trace lines (``THREAD@SITE``) of ``threads`` at any of ``sites``, in order, up
    to the teardown (exit_mmap's grace periods are not part of the race)."""
    sites = {mark(s) for s in sites}
    out = []
    for line in o.trace.lines():
        thread, _, s = line.partition("@")
        if thread == "teardown":
            break
        if thread in threads and s in sites:
            out.append(line)
    return out


def with_bugs(text: str, bugs: str) -> str:
    first, rest = kprog(text).split("\n", 1)
    return f"{first}\nbugs: {bugs}\n{rest}"


# -- 1. collapse_pte_mapped_thp: step 4's recheck ------------------------------------------

CPM = "collapse_pte_mapped_thp:"

# corpus/findings/collapse-pte-mapped-thp-nosplit-free-pfn0.kprog without its switch and
# its config: the model's default (split ptlocks, the candidate fix).
FINDING = """
    kprog 1
    # m0's write and one-page MADV_DONTNEED leave it an anon_vma (so retract_page_tables
    # skips it) and an empty PTE table. T0's MADV_COLLAPSE builds the huge folio, then
    # collapse_pte_mapped_thp maps the table (pte_offset_map_rw_nolock), takes ptl,
    # clears nothing in step 2 and drops ptl keeping the map; it stops before step 4's
    # pmd_lock. T1's MADV_DONTNEED finds the table empty and reclaims it. T0 takes pml
    # (and, split, the old table's ptl): the pmd_same recheck fails: flush_tlb_mm, goto
    # unlock.
    setup {
      p0 = process
      f0 = file pages=8
      m0 = mmap p0 private f0 pages=8
      write m0+3 value=1
      madvise m0+3 pages=1 DONTNEED
    }
    T0 on p0 {
      madvise m0+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
    schedule {
      T0 until collapse_pte_mapped_thp:pmd_lock
      T1 finish
      *
    }
"""

STEP4_SITES = [CPM + s for s in (
    "step2_spin_unlock", "folio_ref_sub", "pmd_lock", "step4_spin_lock_nested",
    "pmd_same_after_pml", "pmd_changed_flush_tlb_mm", "pmdp_collapse_flush",
    "abort_pte_unmap_unlock", "abort_pte_unmap", "abort_spin_unlock_pml",
    "spin_unlock_ptl", "step4_pte_unmap", "spin_unlock_pml", "mm_dec_nr_ptes")] + [
    "try_get_and_clear_pmd:pmd_clear", "try_to_free_pte:pmd_clear", "tlb_table_flush:call_rcu",
    "pte_free_defer:call_rcu"]

# The recheck's mark: the changed pmd's flush_tlb_mm, then goto unlock.
RECHECK_SPLIT = [f"T0@{CPM}{s}" for s in (
    "pmd_lock", "step4_spin_lock_nested", "pmd_same_after_pml", "pmd_changed_flush_tlb_mm",
    "abort_pte_unmap_unlock", "abort_pte_unmap", "abort_spin_unlock_pml")]
RECHECK_NOSPLIT = [f"T0@{CPM}{s}" for s in (
    "pmd_lock", "pmd_same_after_pml", "pmd_changed_flush_tlb_mm",
    "abort_pte_unmap_unlock", "abort_pte_unmap")]


def test_collapse_pte_mapped_thp_step4_recheck_finds_the_table_reclaimed():
    m = CPM + "pmd_changed_flush_tlb_mm"
    o = raced(FINDING, m)
    assert o.results["T0"] == [["fail"]]
    assert decisive(o, STEP4_SITES) == [
        f"T0@{CPM}step2_spin_unlock",
        "T1@try_get_and_clear_pmd:pmd_clear",        # the pml trylock succeeds (split)
        "T1@tlb_table_flush:call_rcu",
        *RECHECK_SPLIT]
    assert follows(o, "T0", CPM + "pmd_same_after_pml", m)
    assert follows(o, "T0", m, CPM + "abort_pte_unmap_unlock")
    assert follows(o, "T0", CPM + "abort_spin_unlock_pml",
                   CPM + "mmu_notifier_invalidate_range_end")
    # The table is gone and nothing of T0's step 4 touched it.
    assert o.pictures["p0"].splitlines()[:2] == ["p0: nr_ptes=0 rss=anon:0 file:0",
                                                 "  pmd 0: none"]
    # Serially: T0 removes the table and installs the huge pmd (which T1 then zaps); T1
    # first leaves no table, and T0 installs the huge pmd straight away.
    c = control(FINDING, SERIAL, m)
    assert c.results["T0"] == [["succeed"]]
    assert decisive(c, [CPM + "pmd_same_after_pml", CPM + "pmdp_collapse_flush"]) == [
        f"T0@{CPM}pmd_same_after_pml", f"T0@{CPM}pmdp_collapse_flush"]
    c = control(FINDING, SERIAL_REVERSED, m, CPM + "pmd_lock")
    assert c.results["T0"] == [["succeed"]]
    assert c.pictures["p0"].splitlines()[1] == (
        "  pmd 0: huge [F1000 F1001 F1002 F1003 F1004 F1005 F1006 F1007]")


# m2 is a private mapping of f0 with an anon_vma, so retract_page_tables skips it; its
# first table maps the huge folio's eight pages by ptes: collapse_pte_mapped_thp's step 2
# clears eight ptes and step 3 settles their counts. (As test_khugepaged's PTE_MAPPED_THP.)
PTE_MAPPED = """
    kprog 1
    # T0's MADV_COLLAPSE of m2 clears the eight ptes (step 2), drops ptl keeping the map,
    # and stops before step 3. T1's MADV_DONTNEED reclaims the emptied table: its
    # tlb_table_flush queues the free behind a grace period, which begins and waits for
    # T0, still in the RCU section of its map. T0 runs steps 3 and 4 (the recheck fails)
    # and leaves its RCU section (split: and pml); only then can the grace period end and
    # rcu_cb free the table.
    setup {
      p0 = process
      f0 = file pages=16
      m1 = mmap p0 shared f0 pages=8
      m2 = mmap p0 private f0 pages=16
      read m2+0
      write m2+8 value=9
      madvise m1+0 pages=8 COLLAPSE
      read m2+1
    }
    T0 on p0 {
      madvise m2+0 pages=8 COLLAPSE
    }
    T1 on p0 {
      madvise m2+0 pages=8 DONTNEED
    }
    schedule {
      T0 until collapse_pte_mapped_thp:folio_ref_sub
      T1 finish
      rcu_gp until rcu_gp_kthread:wait_readers
      T0 until collapse_pte_mapped_thp:mmu_notifier_invalidate_range_end
      rcu_gp until rcu_gp_kthread:idle
      rcu_cb until rcu_do_batch:invoke
      T0 finish
      *
    }
"""

RCU_SITES = STEP4_SITES + ["rcu_gp_kthread:gp_start", "rcu_gp_kthread:wait_readers",
                           "rcu_gp_kthread:gp_end", "tlb_remove_table_rcu:free_page"]


@pytest.mark.parametrize("split", [True, False], ids=["split", "nosplit"])
def test_collapse_pte_mapped_thp_keeps_its_rcu_section_across_steps_3_and_4(split):
    """The map pte_offset_map_rw_nolock took before step 2 lasts until step 4's unmap:
    the table T1 reclaimed meanwhile is freed only after T0 has left every read-side
    state (with split ptlocks T0 still holds pml after the unmap, which also keeps the
    grace period waiting)."""
    text = PTE_MAPPED if split else with_config(PTE_MAPPED, "split_ptlocks=off")
    o = raced(text, CPM + "pmd_changed_flush_tlb_mm")
    assert o.results["T0"] == [["fail"]]
    assert count(o, "T0", CPM + "ptep_clear") == 8
    reclaim = "T1@try_get_and_clear_pmd:pmd_clear" if split else "T1@try_to_free_pte:pmd_clear"
    recheck = RECHECK_SPLIT if split else RECHECK_NOSPLIT
    assert decisive(o, RCU_SITES) == [
        f"T0@{CPM}step2_spin_unlock",
        reclaim,
        "T1@tlb_table_flush:call_rcu",
        "rcu_gp@rcu_gp_kthread:gp_start",            # T0 is a reader: it waits
        f"T0@{CPM}folio_ref_sub",                    # step 3
        *recheck,                                    # step 4, the stale table's ptl
        "rcu_gp@rcu_gp_kthread:wait_readers",        # woken by T0's last exit
        "rcu_gp@rcu_gp_kthread:gp_end",
        "rcu_cb@tlb_remove_table_rcu:free_page"]
    # The grace period cannot end while T0 is between step 2 and step 4.
    early = reschedule(text, ["T0 until collapse_pte_mapped_thp:folio_ref_sub", "T1 finish",
                              "rcu_gp until rcu_gp_kthread:gp_end"])
    d = run(early)
    assert d.title == "pass"
    line = early.splitlines().index("  rcu_gp until rcu_gp_kthread:gp_end") + 1
    assert d.drift.message() == (
        f"schedule drift at line {line}: 'rcu_gp until rcu_gp_kthread:gp_end': rcu_gp "
        "blocked at rcu_gp_kthread:wait_readers (waiting on rcu_reader_exit)")
    assert between(d, "rcu_gp@rcu_gp_kthread:gp_start", f"T0@{CPM}folio_ref_sub",
                   "rcu_gp@rcu_gp_kthread:gp_end")


def test_collapse_pte_mapped_thp_nosplit_candidate_fix_rechecks():
    """split_ptlocks=off, no switch: ptl == pml, and the candidate fix rechecks anyway."""
    text = with_config(FINDING, "split_ptlocks=off")
    o = raced(text, CPM + "pmd_changed_flush_tlb_mm")
    assert o.results["T0"] == [["fail"]]
    assert decisive(o, STEP4_SITES) == [
        f"T0@{CPM}step2_spin_unlock",
        "T1@try_to_free_pte:pmd_clear",              # the trylock fails: ptl is pml
        "T1@tlb_table_flush:call_rcu",
        *RECHECK_NOSPLIT]
    assert follows(o, "T0", CPM + "abort_pte_unmap", CPM + "mmu_notifier_invalidate_range_end")


FINDING_TITLE = "BUG: KASAN: invalid-free in pte_free_defer"
SWITCH = "collapse-pte-mapped-thp-nosplit-no-recheck"


def test_collapse_pte_mapped_thp_nosplit_no_recheck_frees_pfn_0():
    """Mainline's step 4 without split ptlocks: no recheck, pmdp_collapse_flush clears a
    none pmd and pte_free_defer() frees pfn 0's page."""
    text = with_bugs(with_config(FINDING, "split_ptlocks=off"), SWITCH)
    o = run(text)
    assert o.title == FINDING_TITLE
    assert o.drift is None
    assert o.report.detail("free") == "page (pfn 0) #0 by T0 at pte_free_defer:call_rcu"
    assert decisive(o, STEP4_SITES) == [
        f"T0@{CPM}step2_spin_unlock",
        "T1@try_to_free_pte:pmd_clear",
        "T1@tlb_table_flush:call_rcu",
        f"T0@{CPM}pmd_lock",
        f"T0@{CPM}pmdp_collapse_flush",              # no pmd_same_after_pml
        f"T0@{CPM}spin_unlock_ptl",
        f"T0@{CPM}step4_pte_unmap",
        f"T0@{CPM}mm_dec_nr_ptes",
        "T0@pte_free_defer:call_rcu"]
    # The corpus file is this program and replays to its title.
    path = ROOT / "corpus/findings/collapse-pte-mapped-thp-nosplit-free-pfn0.kprog"
    f = run_program(loads(path.read_text(), str(path)))
    assert f.title == FINDING_TITLE and f.drift is None
    assert f.trace_hash == o.trace_hash


def test_collapse_pte_mapped_thp_no_recheck_switch_with_split_ptlocks_still_rechecks():
    """With split ptlocks, mainline rechecks (ptl != pml): the switch changes nothing."""
    text = with_bugs(FINDING, SWITCH)
    o = raced(text, CPM + "pmd_changed_flush_tlb_mm")
    assert o.results["T0"] == [["fail"]]
    assert decisive(o, STEP4_SITES) == [
        f"T0@{CPM}step2_spin_unlock", "T1@try_get_and_clear_pmd:pmd_clear",
        "T1@tlb_table_flush:call_rcu", *RECHECK_SPLIT]
    assert o.trace_hash == run(FINDING).trace_hash


# -- 2. flush_tlb_batched_pending -----------------------------------------------------------

# K0 (kswapd) reclaims m1's file pages 0 and 1 of p0 (the setup's passes cleared their
# accessed bits): try_to_unmap_one clears the pte and defers the flush, raising the mm's
# pending count; the flush itself (try_to_unmap_flush) comes later. Meanwhile two PTE-lock
# holders of the same mm, on other tables: T0's MADV_DONTNEED of m1+8 (zap_pte_range) and
# T1's MADV_FREE of the anonymous m2 (madvise_free_pte_range).
BATCHED = """
    kprog 1
    # {story}
    setup {{
      p0 = process
      f0 = file pages=24
      m1 = mmap p0 shared f0 pages=24
      m2 = mmap p0 anon pages=8
      read m1+0
      read m1+8
      write m2+0 value=5
      reclaim m1+0
      reclaim m1+1
    }}
    T0 on p0 {{
      madvise m1+8 pages=1 DONTNEED
    }}
    T1 on p0 {{
      madvise m2+0 pages=8 FREE
    }}
    K0 kthread {{
      reclaim m1+0
      reclaim m1+1
    }}
    schedule {{
{lines}
      *
    }}
"""

BATCHED_SITES = ["try_to_unmap_one:ptep_get_and_clear", "try_to_unmap_flush:flush_tlb_multi",
                 "flush_tlb_batched_pending:atomic_read", "flush_tlb_batched_pending:flush_tlb_mm",
                 "flush_tlb_batched_pending:atomic_cmpxchg"]
DEFER = "K0@try_to_unmap_one:ptep_get_and_clear"
K0_FLUSH = "K0@try_to_unmap_flush:flush_tlb_multi"
READ, FLUSH, DONE = ("flush_tlb_batched_pending:atomic_read",
                     "flush_tlb_batched_pending:flush_tlb_mm",
                     "flush_tlb_batched_pending:atomic_cmpxchg")


def _batched(story, lines):
    return BATCHED.format(story=story, lines="\n".join(f"      {x}" for x in lines))


def _batched_run(story, lines):
    o = raced(_batched(story, lines), FLUSH)
    assert o.results == {"setup": [0, 24, 1000, 1008, 5, "referenced", "referenced"],
                         "T0": [0], "T1": [0], "K0": ["unmapped", "unmapped"]}
    return o


def test_flush_tlb_batched_pending_both_read_before_the_cmpxchg_both_flush():
    o = _batched_run(
        "K0 defers the flush of m1+0; T0 reads pending != flushed and flushes; T1 reads "
        "before T0's cmpxchg and flushes too.",
        ["K0 until try_to_unmap_flush:flush_tlb_multi",
         "T0 until flush_tlb_batched_pending:atomic_cmpxchg",
         "T1 until flush_tlb_batched_pending:atomic_cmpxchg",
         "T0 finish", "T1 finish"])
    assert decisive(o, BATCHED_SITES) == [
        DEFER,
        f"T0@{READ}", f"T0@{FLUSH}",
        f"T1@{READ}", f"T1@{FLUSH}",
        f"T0@{DONE}", f"T1@{DONE}",
        K0_FLUSH,                                    # reclaim's own flush comes last
        DEFER, K0_FLUSH]                             # (the second page, serially)
    assert follows(o, "T0", DONE, "zap_pte_range:need_resched")
    assert follows(o, "T1", DONE, "madvise_free_pte_range:ptep_get")


def test_flush_tlb_batched_pending_read_after_the_cmpxchg_does_not_flush():
    o = _batched_run(
        "K0 defers the flush of m1+0; T0 flushes and marks it done; T1 reads after T0's "
        "cmpxchg: nothing pending, no flush.",
        ["K0 until try_to_unmap_flush:flush_tlb_multi",
         "T0 until zap_pte_range:need_resched",
         "T1 finish", "T0 finish"])
    assert decisive(o, BATCHED_SITES) == [
        DEFER,
        f"T0@{READ}", f"T0@{FLUSH}", f"T0@{DONE}",
        f"T1@{READ}",
        K0_FLUSH, DEFER, K0_FLUSH]
    assert follows(o, "T1", READ, "madvise_free_pte_range:ptep_get")


def test_flush_tlb_batched_pending_cmpxchg_fails_when_another_flush_was_deferred():
    """K0 defers a second flush between T0's read and T0's cmpxchg: the cmpxchg (over the
    batch T0 read) fails and leaves it pending, so T1, reading after it, flushes again.
    A plain store of "all done" would have lost the second deferral."""
    o = _batched_run(
        "K0 defers m1+0's flush; T0 reads and flushes; K0 defers m1+1's; T0's cmpxchg "
        "fails; T1 flushes.",
        ["K0 until try_to_unmap_flush:flush_tlb_multi",
         "T0 until flush_tlb_batched_pending:atomic_cmpxchg",
         "K0 until try_to_unmap_flush:flush_tlb_multi",
         "T0 finish", "T1 finish"])
    assert decisive(o, BATCHED_SITES) == [
        DEFER,
        f"T0@{READ}", f"T0@{FLUSH}",
        K0_FLUSH, DEFER,
        f"T0@{DONE}",
        f"T1@{READ}", f"T1@{FLUSH}", f"T1@{DONE}",
        K0_FLUSH]


# -- 3. fault-around with userfaultfd --------------------------------------------------------

UFFD_READ = """
    kprog 1
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
      REGISTER
    }
    T0 on p0 {
      read m1+3
    }
"""

FAULT_AROUND_SITES = ["do_fault_around:pmd_none", "do_fault_around:pte_alloc_one",
                      "do_fault_around:rcu_read_lock", "do_fault_around:rcu_read_unlock"]


def _uffd(register: str):
    o = run(UFFD_READ.replace("REGISTER", register))
    assert o.title == "pass" and o.drift is None
    assert o.results["T0"] == [1003]
    return o


def test_fault_around_runs_with_a_uffd_missing_registration():
    o = _uffd("uffd_register m1 missing")
    s = steps(o, "T0")
    assert [x for x in s if x.startswith("do_fault_around:")] == FAULT_AROUND_SITES
    assert follows(o, "T0", "handle_pte_fault:pmd_none", "do_fault_around:pmd_none")
    assert count(o, "T0", "filemap_map_pages:set_pte_range") == 8
    assert o.pictures["p0"].splitlines()[:2] == [
        "p0: nr_ptes=1 rss=anon:0 file:8",
        "  pmd 0: table [F1000 F1001 F1002 F1003 F1004 F1005 F1006 F1007]"]
    # Exactly the steps of the same fault with no registration.
    assert s == steps(_uffd(""), "T0")


def test_fault_around_is_disabled_by_a_uffd_wp_registration():
    o = _uffd("uffd_register m1 wp")
    s = steps(o, "T0")
    assert [x for x in s if x.startswith(("do_fault_around:", "filemap_map_pages:"))] == []
    # The pmd is none: do_read_fault goes straight to __do_fault.
    assert follows(o, "T0", "handle_pte_fault:pmd_none", "__do_fault:pmd_none")
    assert o.pictures["p0"].splitlines()[:2] == [
        "p0: nr_ptes=1 rss=anon:0 file:1", "  pmd 0: table [.. .. .. F1003 .. .. .. ..]"]


FAULT_AROUND_UFFD_RACE = """
    kprog 1
    # m1 is registered with userfaultfd (MISSING); its table is there, with m1+3 zapped.
    # T0 read-faults m1+3: fault-around runs, locks folio 0 and stops before
    # filemap_map_pmd. T1's MADV_DONTNEED of all of m1 reclaims the table. filemap_map_pmd
    # finds the pmd none, pte_offset_map_lock fails, filemap_map_pages gives the folio
    # back, and the fault falls back to __do_fault and finish_fault.
    setup {
      p0 = process
      f0 = file pages=8
      m1 = mmap p0 shared f0 pages=8
      read m1+0
      madvise m1+3 pages=1 DONTNEED
      uffd_register m1 MODE
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


def test_fault_around_of_a_uffd_missing_mapping_finds_the_table_reclaimed():
    m = "filemap_map_pages:notable_folio_unlock"
    text = FAULT_AROUND_UFFD_RACE.replace("MODE", "missing")
    o = raced(text, m)
    assert o.results["T0"] == [1003]
    assert follows(o, "T0", "__pte_offset_map:rcu_read_unlock", m)
    assert follows(o, "T0", "do_fault_around:rcu_read_unlock", "__do_fault:pmd_none")
    assert count(o, "T1", "try_get_and_clear_pmd:pmd_clear") == 1
    assert between(o, "T0@next_uptodate_folio:folio_trylock", "T1@try_get_and_clear_pmd:pmd_clear",
                   "T0@filemap_map_pmd:pmd_trans_huge")
    control(text, SERIAL, m)
    control(text, SERIAL_REVERSED, m)
    # With a WP registration there is no fault-around to stop in.
    wp = run(FAULT_AROUND_UFFD_RACE.replace("MODE", "wp"))
    assert wp.title == "pass" and wp.results["T0"] == [1003]
    assert wp.drift.message() == (
        "schedule drift at line 22: 'T0 until filemap_map_pmd:pmd_trans_huge': T0 finished "
        "without reaching filemap_map_pmd:pmd_trans_huge")
    assert "do_fault_around:rcu_read_lock" not in steps(wp, "T0")


# -- 4. do_swap_page: the swap-cache folio's identity ---------------------------------------

SWAP_CACHE_RACE = """
    kprog 1
    # m0+0 holds 7; the setup's reclaim pass cleared its accessed bit. K0's reclaim adds
    # the folio to the swap cache, turns the pte into a swap entry, writes the page out,
    # and stops before __remove_mapping. T0 read-faults m0+0: do_swap_page finds the folio
    # in the swap cache, takes a reference and stops before folio_lock. K0 sees the extra
    # reference and keeps the folio (in the swap cache). T1 read-faults m0+0, finds the
    # same folio, locks it, maps it and, the entry freed, takes it out of the swap cache.
    # T0 locks the folio: it no longer caches the entry; T0 lets it go and the retried
    # access reads through T1's mapping.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      reclaim m0+0
    }
    T0 on p0 {
      read m0+0
    }
    T1 on p0 {
      read m0+0
    }
    K0 kthread {
      reclaim m0+0
    }
    schedule {
      K0 until __remove_mapping:folio_ref_freeze
      T0 until do_swap_page:folio_lock_or_retry
      K0 finish
      T1 until user_read:retry_after_fault
      T0 finish
      T1 finish
      *
    }
"""

SW = "do_swap_page:"
SWAP_SITES = [SW + s for s in ("swap_cache_get_folio", "folio_try_get", "swapcache_prepare",
                               "folio_lock_or_retry", "folio_test_swapcache", "pte_same",
                               "set_pte_at", "folio_unlock", "folio_put")] + [
    "try_to_unmap_one:set_pte_at_swap_entry", "__remove_mapping:folio_ref_freeze",
    "user_read:retry_after_fault"]


def test_do_swap_page_finds_the_swap_cache_folio_taken_out_and_retries():
    m = SW + "folio_test_swapcache"
    o = raced(SWAP_CACHE_RACE, m)
    assert o.results == {"setup": [0, 7, "referenced"], "T0": [7], "T1": [7], "K0": ["busy"]}
    assert decisive(o, SWAP_SITES) == [
        "K0@try_to_unmap_one:set_pte_at_swap_entry",
        f"T0@{SW}swap_cache_get_folio", f"T0@{SW}folio_try_get",
        "K0@__remove_mapping:folio_ref_freeze",      # busy: T0's reference
        f"T1@{SW}swap_cache_get_folio", f"T1@{SW}folio_try_get",
        f"T1@{SW}folio_lock_or_retry", f"T1@{SW}folio_test_swapcache",
        f"T1@{SW}pte_same", f"T1@{SW}set_pte_at",    # maps it, frees the entry and the
        f"T1@{SW}folio_unlock",                      # swap-cache slot
        f"T0@{SW}folio_lock_or_retry", f"T0@{SW}folio_test_swapcache",
        f"T0@{SW}folio_unlock", f"T0@{SW}folio_put",  # out_page
        "T0@user_read:retry_after_fault",
        "T1@user_read:retry_after_fault"]
    s = steps(o, "T0")
    assert s[s.index(m):][:6] == [m, SW + "folio_unlock", SW + "folio_put",
                                  "do_user_addr_fault:vma_end_read",
                                  "user_read:retry_after_fault", "user_read:load"]
    assert SW + "pte_same" not in s and "__pte_offset_map_lock:spin_lock" not in s
    assert o.pictures["p0"].splitlines()[:2] == ["p0: nr_ptes=1 rss=anon:1 file:0",
                                                 "  pmd 0: table [A7 .. .. .. .. .. .. ..]"]
    # Without T1 overtaking, T0's recheck passes: it maps the folio and takes it out of
    # the swap cache itself; T1 then reads through T0's mapping.
    c = control(SWAP_CACHE_RACE, ["K0 until __remove_mapping:folio_ref_freeze",
                                  "T0 until do_swap_page:folio_lock_or_retry",
                                  "K0 finish", "T0 finish", "T1 finish"])
    assert c.results["T0"] == [7] and c.results["T1"] == [7]
    assert follows(c, "T0", m, "__pte_offset_map:rcu_read_lock")
    assert SW + "set_pte_at" in steps(c, "T0")
    assert steps(c, "T1") == ["user_read:load"]
    # Reclaim done first: the folio is freed and the swap cache empty; T0's swap-in
    # skips it (claims the entry, reads the slot) and no identity recheck is needed.
    c = control(SWAP_CACHE_RACE, ["K0 finish", "T0 finish", "T1 finish"], m)
    assert c.results["K0"] == ["reclaimed"] and c.results["T0"] == [7]
    assert follows(c, "T0", SW + "vma_alloc_folio", SW + "swapcache_prepare")
    assert follows(c, "T0", SW + "folio_lock_or_retry", "__pte_offset_map:rcu_read_lock")
    assert steps(c, "T1") == ["user_read:load"]


# -- 5. the retry rule in a real path: __pte_offset_map_lock's again ------------------------

RETRY_AT_ONCE = """
    kprog 1
    # T0 write-faults m0+1: do_anonymous_page maps table X and stops before taking its
    # ptl. T1's MADV_DONTNEED empties X, clears the pmd (try_get_and_clear_pmd) and drops
    # X's ptl, and stops there (runnable, its table free still to come). T0 takes X's ptl;
    # the pmd_same recheck fails; it unlocks and retries at once, before T1's next step:
    # the pmd is none now, so the fault sees the table vanished and refaults.
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
      T0 until __pte_offset_map_lock:spin_lock
      T1 until zap_pte_range:pte_unmap
      T0 until __pte_offset_map:pmdp_get_lockless
      *
    }
"""


class OfferedReplay(Replay):
    """A replay that notes, at every pick, the threads the engine held back (runnable
    but left out of the offer: the retry rule's stuck retrier), and every answer of the
    kernel's ``retry_progress``. ``old_rule``: the rule before 61f788f (a retry always
    waits for another thread's step), by taking ``retry_progress`` away."""

    def __init__(self, lines, old_rule=False):
        super().__init__(lines)
        self.old_rule = old_rule

    def attach(self, engine):
        super().attach(engine)
        self.held_back = []
        self.retries = []
        if self.old_rule:
            engine.retry_progress = None
            return
        progress = engine.retry_progress

        def noted(t):
            r = progress(t)
            self.retries.append((t.name, t.pending.name, r))
            return r

        engine.retry_progress = noted

    def pick(self, runnable, cur, keep):
        self.held_back += [(t.name, t.pending.name) for t in self.engine.runnable
                           if t not in runnable]
        return super().pick(runnable, cur, keep)


def _offered_run(text, old_rule=False):
    prog = loads(kprog(text))
    strategy = OfferedReplay([x for x in prog.schedule if isinstance(x, ScheduleLine)],
                             old_rule)
    return run_program(prog, None, strategy), strategy


def test_pte_offset_map_lock_retries_before_the_writer_steps_again():
    again = "__pte_offset_map_lock:again"
    o = raced(RETRY_AT_ONCE, again, "__pte_offset_map_lock:recheck_failed_unlock")
    assert o.results["T0"] == [5] and o.results["T1"] == [0]
    lines = [x for x in o.trace.lines() if x.startswith(("T0@", "T1@"))]
    i = lines.index("T1@try_get_and_clear_pmd:pmd_clear")
    j = lines.index(f"T0@{again}")
    # T1's last steps before T0's recheck, then T0's failed recheck and its retry, and
    # T1's next step only after that.
    assert lines[i:j + 5] == [
        "T1@try_get_and_clear_pmd:pmd_clear", "T1@try_get_and_clear_pmd:spin_unlock",
        "T1@zap_pte_range:add_mm_rss_vec", "T1@zap_pte_range:spin_unlock",
        "T0@__pte_offset_map_lock:spin_lock", "T0@__pte_offset_map_lock:pmd_same_recheck",
        "T0@__pte_offset_map_lock:recheck_failed_unlock",
        "T0@__pte_offset_map_lock:recheck_failed_unmap",
        f"T0@{again}",
        "T0@__pte_offset_map:rcu_read_lock", "T0@__pte_offset_map:pmdp_get_lockless",
        "T0@__pte_offset_map:rcu_read_unlock", "T0@do_anonymous_page:table_vanished"]
    assert between(o, f"T0@{again}", "T0@__pte_offset_map:pmdp_get_lockless",
                   "T1@zap_pte_range:pte_unmap")
    # The engine offered T0's retry at once (T1 had written the pmd T0 read: the kernel
    # answered "it can differ"), and the access retried after each of T0's own faults
    # too (``own_progress``: the fault's own stores, its VMA lock's count among them,
    # count), so nothing was held back.
    refault = "user_write:retry_after_fault"
    o2, strategy = _offered_run(RETRY_AT_ONCE)
    assert o2.trace_hash == o.trace_hash and o2.drift is None
    assert strategy.retries == [("T0", again, True), ("T0", refault, True),
                                ("T0", refault, True)]
    assert strategy.held_back == []
    # Under the old rule the engine holds T0's retry back until T1 has stepped: the
    # same schedule then gets T1's next step first (the replay lets the others take the
    # default step while its line's thread is held back).
    o3, strategy = _offered_run(RETRY_AT_ONCE, old_rule=True)
    assert o3.title == "pass" and o3.drift is None
    assert strategy.held_back == [("T0", again), ("T0", refault)]
    lines = [x for x in o3.trace.lines() if x.startswith(("T0@", "T1@"))]
    j = lines.index(f"T0@{again}")
    assert lines[j - 2:j + 1] == ["T0@__pte_offset_map_lock:recheck_failed_unmap",
                                  "T1@zap_pte_range:pte_unmap", f"T0@{again}"]


# -- the uffd-wp bit: markers only where a pte carried it ------------------------------------

UFFD_WP_ZAP = """
    kprog 1
    # m0, a shared file mapping registered for uffd-wp, has its ptes mapped by faults
    # that replaced nothing (so none carries the uffd-wp bit: nothing write-protected
    # them). T0's MADV_DONTNEED of the whole table zaps them: zap_install_uffd_wp_if_needed
    # leaves no marker, so the table is empty and PT reclaim frees it.
    setup {
      p0 = process
      f0 = file pages=8
      m0 = mmap p0 shared f0 pages=8
      uffd_register m0 wp
      read m0+0
      read m0+5
    }
    T0 on p0 {
      madvise m0+0 pages=8 DONTNEED
    }
"""


def test_a_zap_leaves_a_uffd_wp_marker_only_where_the_pte_was_write_protected():
    o = run(UFFD_WP_ZAP)
    assert o.title == "pass"
    s = steps(o, "T0")
    assert "zap_install_uffd_wp_if_needed:set_pte_at" not in s
    assert "try_get_and_clear_pmd:pmd_clear" in s
    assert o.pictures["p0"].splitlines()[1] == "  pmd 0: none"


MREMAP_UFFD = """
    kprog 1
    # m0 (anonymous, registered for userfaultfd without UFFD_FEATURE_EVENT_REMAP) is
    # moved by mremap: move_normal_pmd() refuses to move its table whole
    # (vma_has_uffd_without_event_remap), so move_ptes() moves the ptes one by one.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=3
      uffd_register m0 missing
    }
    T0 on p0 {
      mremap m0
      read m0+0
    }
"""


def test_mremap_of_a_uffd_armed_vma_moves_ptes_not_the_table():
    o = run(MREMAP_UFFD)
    assert o.title == "pass" and o.results["T0"][1] == 3
    s = steps(o, "T0")
    assert "move_normal_pmd:pmd_clear" not in s and "move_ptes:set_ptes" in s
    plain = run(MREMAP_UFFD.replace("      uffd_register m0 missing\n", ""))
    assert "move_normal_pmd:pmd_clear" in steps(plain, "T0")


MREMAP_HUGE = """
    kprog 1
    # m0's table has been collapsed to a huge pmd (MADV_COLLAPSE). T0's mremap moves it
    # whole with move_huge_pmd, without the rmap locks: copy_vma() made a new VMA, which
    # rmap walks after the old one (need_rmap_locks = false).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+5 value=9
      madvise m0+0 pages=8 COLLAPSE
    }
    T0 on p0 {
      mremap m0
      read m0+5
    }
"""


def test_mremap_moves_a_huge_pmd_without_the_rmap_locks():
    o = run(MREMAP_HUGE)
    assert o.title == "pass" and o.results["T0"][1] == 9
    s = steps(o, "T0")
    assert follows(o, "T0", "move_huge_pmd:pgtable_trans_huge_withdraw",
                   "move_huge_pmd:set_pmd_at")
    assert "take_rmap_locks:anon_vma_lock_write" not in s
    assert "__split_huge_pmd:pmd_lock" not in s
