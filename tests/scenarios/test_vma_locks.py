"""Per-VMA locks (spec 1.2, 1.3, 1.12, 2.1): ``lock_vma_under_rcu`` failing on a
write-locked or detached VMA and the fallback to the mmap lock, ``vma_start_write``
waiting for the VMA's readers, ``vmf_anon_prepare``'s trylock and VM_FAULT_RETRY,
MADV_DONTNEED in VMA-lock mode and its fallbacks, ``uffd_move_lock``'s fallback, and the
same races with the per-VMA locks configured out."""

from .helpers import (between, control, count, follows, raced, reschedule, steps,
                      with_config)

SERIAL = ["T0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "T0 finish"]
NO_VMA_LOCKS = "per_vma_lock=off per_vma_lock_madvise=off"


def _seq_check_failed(o, thread: str) -> bool:
    """``vma_start_read`` gave up at its first check (the VMA is write-locked): straight
    from the sequence check to the end of the RCU section, no trylock."""
    return follows(o, thread, "vma_start_read:vm_lock_seq", "lock_vma_under_rcu:rcu_read_unlock")


# -- 1. faults against munmap ----------------------------------------------------------------

FAULT_VS_MUNMAP_WRITE_LOCKED = """
    kprog 1
    # T1's munmap takes the mmap write lock, write-locks m0 (vma_start_write) and stops
    # before detaching it. T0's read fault of m0+1: lock_vma_under_rcu finds m0 but its
    # sequence says write-locked, so the fault falls back to lock_mm_and_find_vma and
    # blocks on the mmap lock. munmap detaches m0 and downgrades; T0 gets the read lock,
    # finds no VMA and takes SIGSEGV.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      read m0+1
    }
    T1 on p0 {
      munmap m0
    }
    schedule {
      T1 until vms_gather_munmap_vmas:vma_mark_detached
      T0 until lock_mm_and_find_vma:mmap_read_lock x2
      T1 finish
      T0 finish
      *
    }
"""


def test_fault_on_a_write_locked_vma_falls_back_to_the_mmap_lock():
    m = "lock_mm_and_find_vma:mmap_read_lock"
    o = raced(FAULT_VS_MUNMAP_WRITE_LOCKED, m, "bad_area:mmap_read_unlock")
    assert o.results["T0"] == ["segv"] and o.results["T1"] == [0]
    assert _seq_check_failed(o, "T0")
    s = steps(o, "T0")
    assert "vma_start_read:down_read_trylock" not in s
    assert follows(o, "T0", "lock_vma_under_rcu:rcu_read_unlock", m)
    # It blocked (the site twice) behind munmap's write lock and got in after the
    # downgrade, with the VMA detached.
    assert s.count(m) == 2
    assert between(o, "T0@" + m, "T1@vms_complete_munmap_vmas:mmap_write_downgrade",
                   "T0@lock_mm_and_find_vma:find_vma")
    assert follows(o, "T0", "lock_mm_and_find_vma:find_vma", "bad_area:mmap_read_unlock")
    # The fault never ran: no table walk, no fault under either lock.
    assert "__handle_mm_fault:pmdp_get_lockless" not in s
    assert "do_user_addr_fault:vma_end_read" not in s
    # Without the race: T0 first faults under the VMA lock alone (the zero page); T1
    # first leaves no VMA to find, so vma_start_read is never tried.
    c = control(FAULT_VS_MUNMAP_WRITE_LOCKED, SERIAL, m)
    assert c.results["T0"] == [0]
    assert count(c, "T0", "do_user_addr_fault:vma_end_read") == 1
    c = control(FAULT_VS_MUNMAP_WRITE_LOCKED, SERIAL_REVERSED)
    assert c.results["T0"] == ["segv"]
    assert not _seq_check_failed(c, "T0")
    assert "vma_start_read:vm_lock_seq" not in steps(c, "T0")
    assert count(c, "T0", m) == 1


MUNMAP_WAITS_FOR_FAULT = """
    kprog 1
    # T0's write fault of m0+1 runs under m0's VMA read lock and stops before allocating
    # its folio. T1's munmap takes the mmap write lock and vma_start_write(m0) blocks on
    # the VMA lock: it cannot detach m0 under the fault. T0 maps its page and drops the
    # VMA lock; only then does munmap write-lock, detach and zap m0.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      write m0+1 value=5
    }
    T1 on p0 {
      munmap m0
    }
    schedule {
      T0 until do_anonymous_page:folio_prealloc
      T1 until vma_start_write:down_write x2
      T0 finish
      T1 finish
      *
    }
"""


def test_munmap_vma_start_write_waits_for_a_fault_holding_the_vma_read_lock():
    m = "vma_start_write:down_write"
    o = raced(MUNMAP_WAITS_FOR_FAULT, m)
    assert o.results["T0"] == [5] and o.results["T1"] == [0]
    assert count(o, "T1", m) == 2                    # tried, blocked, retried
    assert between(o, "T1@" + m, "T0@do_user_addr_fault:vma_end_read", "T1@" + m)
    assert between(o, "T0@do_user_addr_fault:vma_end_read", "T1@vma_start_write:up_write",
                   "T1@vms_gather_munmap_vmas:vma_mark_detached")
    # T0 stayed on the VMA lock: no fallback; munmap zapped both pages.
    assert "lock_mm_and_find_vma:mmap_read_lock" not in steps(o, "T0")
    assert count(o, "T1", "zap_present_ptes:ptep_get_and_clear_full") == 2
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(MUNMAP_WAITS_FOR_FAULT, order)
        assert count(c, "T1", m) == 1
    assert control(MUNMAP_WAITS_FOR_FAULT, SERIAL_REVERSED).results["T0"] == ["segv"]


FAULT_FINDS_VMA_DETACHED = """
    kprog 1
    # T0's fault finds m0 in the tree (mas_walk under RCU) and stops before
    # vma_start_read. T1's munmap write-locks, detaches and zaps m0, downgrades (which
    # ends the write lock) and frees the VMA after a grace period. T0's vma_start_read
    # now succeeds (not write-locked any more), but the VMA is detached: it drops the
    # lock and falls back to the mmap lock, which finds nothing: SIGSEGV. T0's RCU read
    # section keeps the freed VMA's memory alive until it is done with it.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      read m0+1
    }
    T1 on p0 {
      munmap m0
    }
    schedule {
      T0 until vma_start_read:vm_lock_seq
      T1 finish
      T0 finish
      *
    }
"""


def test_fault_read_locks_a_detached_vma_and_falls_back():
    m = "lock_vma_under_rcu:vma_end_read"
    o = raced(FAULT_FINDS_VMA_DETACHED, m, "vm_area_free_rcu_cb:kmem_cache_free")
    assert o.results["T0"] == ["segv"]
    s = steps(o, "T0")
    i = s.index("vma_start_read:vm_lock_seq")
    assert s[i:i + 7] == [
        "vma_start_read:vm_lock_seq", "vma_start_read:down_read_trylock",
        "vma_start_read:vm_lock_seq_recheck", "lock_vma_under_rcu:vma_detached_or_moved",
        m, "lock_vma_under_rcu:rcu_read_unlock", "lock_mm_and_find_vma:mmap_read_lock"]
    # munmap was done (VMA freed, by RCU) before T0 read-locked it; the free itself
    # waited for T0's grace period.
    assert between(o, "T1@remove_vma:vm_area_free", "T0@vma_start_read:vm_lock_seq",
                   "T0@lock_vma_under_rcu:rcu_read_unlock")
    lines = list(o.trace.lines())
    assert lines.index("T0@lock_vma_under_rcu:rcu_read_unlock") < lines.index(
        "rcu_cb@vm_area_free_rcu_cb:kmem_cache_free")
    for order in (SERIAL, SERIAL_REVERSED):
        control(FAULT_FINDS_VMA_DETACHED, order, m)


# -- 2. vmf_anon_prepare ---------------------------------------------------------------------

ANON_PREPARE_TRYLOCK = """
    kprog 1
    # m0 has no anon_vma yet. T1 holds the mmap write lock (WRITER, stopped at STOP:
    # m0 is not write-locked). T0's write fault of m0+1 read-locks m0, installs the
    # table and needs an anon_vma: vmf_anon_prepare's mmap_read_trylock fails, so it drops
    # the VMA lock and returns VM_FAULT_RETRY; the fault is retried under the mmap lock
    # (blocking until T1 is done) and prepares the anon_vma there.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m2 = mmap p0 anon pages=8
    }
    T0 on p0 {
      write m0+1 value=5
    }
    T1 on p0 {
      WRITER
    }
    schedule {
      T1 until STOP
      T0 until lock_mm_and_find_vma:mmap_read_lock x2
      T1 finish
      T0 finish
      *
    }
"""

WRITERS = [
    ("m1 = mmap anon pages=8", "vma_link:vma_iter_store"),
    ("uffd_register m2 missing", "userfaultfd_register:userfaultfd_set_vm_flags"),
]


def _anon_prepare_program(writer: str, stop: str) -> str:
    return ANON_PREPARE_TRYLOCK.replace("WRITER", writer).replace("STOP", stop)


def test_vmf_anon_prepare_trylock_fails_and_the_fault_retries_under_the_mmap_lock():
    m = "vmf_anon_prepare:vma_end_read"
    for writer, stop in WRITERS:
        text = _anon_prepare_program(writer, stop)
        o = raced(text, m, "__anon_vma_prepare:set_anon_vma")
        assert o.results["T0"] == [5]
        s = steps(o, "T0")
        assert follows(o, "T0", "vmf_anon_prepare:mmap_read_trylock", m)
        assert follows(o, "T0", m, "lock_mm_and_find_vma:mmap_read_lock")
        assert s.count("lock_mm_and_find_vma:mmap_read_lock") == 2          # blocked
        # The first attempt got as far as installing the table under the VMA lock; the
        # retry under the mmap lock prepares the anon_vma and maps the page.
        assert s.index("pmd_install:pmd_populate") < s.index(m)
        assert s.index(m) < s.index("__anon_vma_prepare:set_anon_vma") < s.index(
            "do_anonymous_page:set_ptes")
        assert s.count("vmf_anon_prepare:read_anon_vma") == 2
        assert "vmf_anon_prepare:mmap_read_unlock" not in s
        assert "do_user_addr_fault:vma_end_read" not in s
        assert follows(o, "T0", "do_anonymous_page:pte_unmap",
                       "do_user_addr_fault:mmap_read_unlock")
        # Without the writer in the way the trylock succeeds and the fault completes
        # under the VMA lock.
        for order in (SERIAL, SERIAL_REVERSED):
            c = control(text, order, m, "lock_mm_and_find_vma:mmap_read_lock")
            assert c.results["T0"] == [5]
            assert follows(c, "T0", "__anon_vma_prepare:anon_vma_unlock_write",
                           "vmf_anon_prepare:mmap_read_unlock")


# -- 3. MADV_DONTNEED under the VMA lock ------------------------------------------------------

DONTNEED_VMA_LOCK_THEN_MUNMAP = """
    kprog 1
    # T0's MADV_DONTNEED read-locks m0 (one VMA, not uffd-armed) and zaps it, reclaiming
    # the table; it stops before adding up the rss. T1's munmap blocks in
    # vma_start_write on T0's VMA lock. T0 drops the VMA lock *before* tlb_finish_mmu:
    # T1 write-locks, detaches, zaps and frees m0 entirely while T0's gathered pages and
    # table are still unflushed; T0's tlb_finish_mmu then flushes and frees them.
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
      munmap m0
    }
    schedule {
      T0 until zap_pte_range:add_mm_rss_vec
      T1 until vma_start_write:down_write x2
      T0 until tlb_finish_mmu:mm_tlb_flush_nested
      T1 finish
      T0 finish
      *
    }
"""


def test_madvise_dontneed_vma_lock_mode_finishes_the_tlb_after_vma_end_read():
    m = "vma_start_write:down_write"
    o = raced(DONTNEED_VMA_LOCK_THEN_MUNMAP, m, "madvise_walk_vmas:vma_end_read")
    assert o.results["T0"] == [0] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert "madvise_lock:mmap_read_lock" not in s and "try_vma_read_lock:vma_end_read" not in s
    assert s.index("madvise_walk_vmas:vma_end_read") < s.index(
        "tlb_finish_mmu:mm_tlb_flush_nested")
    assert follows(o, "T0", "zap_pmd_range:cond_resched", "madvise_walk_vmas:vma_end_read")
    assert follows(o, "T0", "madvise_walk_vmas:vma_end_read", "tlb_finish_mmu:mm_tlb_flush_nested")
    assert count(o, "T0", "try_get_and_clear_pmd:pmd_clear") == 1
    # munmap waited for the VMA lock, then ran to its end inside T0's window.
    assert count(o, "T1", m) == 2
    assert between(o, "T0@madvise_walk_vmas:vma_end_read",
                   "T1@vms_complete_munmap_vmas:mmap_read_unlock",
                   "T0@tlb_finish_mmu:mm_tlb_flush_nested")
    # T0's zapped pages are freed by T0's own flush, after munmap.
    assert count(o, "T0", "tlb_batch_pages_flush:free_pages_and_swap_cache") >= 1
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(DONTNEED_VMA_LOCK_THEN_MUNMAP, order)
        assert count(c, "T1", m) == 1
    c = control(DONTNEED_VMA_LOCK_THEN_MUNMAP, SERIAL)
    assert steps(c, "T0").index("madvise_walk_vmas:vma_end_read") < steps(c, "T0").index(
        "tlb_finish_mmu:mm_tlb_flush_nested")


DONTNEED_UFFD_ARMED = """
    kprog 1
    # T1 registers m0 with userfaultfd; T0's MADV_DONTNEED then read-locks m0, finds it
    # uffd-armed, drops the VMA lock and zaps under the mmap read lock instead, with
    # tlb_finish_mmu before the mmap unlock.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T0 on p0 {
      madvise m0+0 pages=8 DONTNEED
      read m0+0
    }
    T1 on p0 {
      uffd_register m0 missing
    }
    schedule {
      T1 finish
      T0 finish
      *
    }
"""


def test_madvise_dontneed_falls_back_to_the_mmap_lock_for_a_uffd_armed_vma():
    m = "try_vma_read_lock:vma_end_read"
    o = raced(DONTNEED_UFFD_ARMED, m, "madvise_lock:mmap_read_lock")
    # Zapped: the read of the missing page under uffd (no handler) gets SIGBUS.
    assert o.results["T0"] == [0, "sigbus"]
    s = steps(o, "T0")
    assert follows(o, "T0", "lock_vma_under_rcu:rcu_read_unlock", m)
    assert follows(o, "T0", m, "madvise_lock:mmap_read_lock")
    assert "madvise_walk_vmas:vma_end_read" not in s
    assert s.index("tlb_finish_mmu:dec_tlb_flush_pending") < s.index(
        "madvise_unlock:mmap_read_unlock")
    c = control(DONTNEED_UFFD_ARMED, SERIAL, m, "madvise_lock:mmap_read_lock")
    assert c.results["T0"] == [0, 0]
    assert "madvise_walk_vmas:vma_end_read" in steps(c, "T0")


DONTNEED_SPANNING = """
    kprog 1
    # MADV_DONTNEED of RANGE: m0 is [0, 8), m1 [8, 16). A range that runs past m0's end
    # spans two VMAs: try_vma_read_lock drops m0's VMA lock and the zap of both parts
    # runs under the mmap read lock.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=1
      write m0+5 value=5
      write m1+1 value=6
    }
    T0 on p0 {
      madvise RANGE DONTNEED
      read m0+0
      read m0+5
      read m1+1
    }
    schedule {
      T0 finish
      *
    }
"""


def test_madvise_dontneed_falls_back_to_the_mmap_lock_for_a_range_spanning_two_vmas():
    m = "try_vma_read_lock:vma_end_read"
    text = DONTNEED_SPANNING.replace("RANGE", "m0+4 pages=8")
    o = raced(text, m, "madvise_lock:mmap_read_lock")
    assert o.results["setup"][:2] == [0, 8]          # the two VMAs are adjacent
    assert o.results["T0"] == [0, 1, 0, 0]
    assert follows(o, "T0", m, "madvise_lock:mmap_read_lock")
    assert count(o, "T0", "zap_present_ptes:ptep_get_and_clear_full") == 2
    # Within m0 alone the VMA lock suffices.
    c = control(text.replace("m0+4 pages=8", "m0+4 pages=4"), None, m,
                "madvise_lock:mmap_read_lock")
    assert c.results["T0"] == [0, 1, 0, 6]
    assert "madvise_walk_vmas:vma_end_read" in steps(c, "T0")


# -- 6. uffd_move_lock ---------------------------------------------------------------------------

UFFD_MOVE_LOCK_FALLBACK = """
    kprog 1
    # T1 re-registers the source m0 (uffd-wp): under the mmap write lock it write-locks
    # m0 and stops before changing its flags. T0's UFFDIO_MOVE m0+0 -> m1+0 read-locks
    # the destination m1, but lock_vma_under_rcu(m0) fails: uffd_move_lock drops m1's
    # lock and takes the mmap read lock (blocking until T1 is done), then read-locks
    # both VMAs under it (destination, then source nested). The page moves.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      write m1+1 value=2
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
      read m1+0
    }
    T1 on p0 {
      uffd_register m0 wp
    }
    schedule {
      T1 until userfaultfd_register:userfaultfd_set_vm_flags
      T0 until uffd_move_lock:mmap_read_lock x2
      T1 finish
      T0 finish
      *
    }
"""


def test_uffd_move_lock_falls_back_to_the_mmap_lock_when_the_source_is_write_locked():
    m = "uffd_move_lock:vma_start_read_locked_dst"
    o = raced(UFFD_MOVE_LOCK_FALLBACK, m, "uffd_move_lock:vma_start_read_locked_nested_src",
              "uffd_move_lock:vma_end_read_dst")
    assert o.results["T0"] == [1, 7] and o.results["T1"] == [0]
    s = steps(o, "T0")
    # The destination was read-locked per VMA (m1 has an anon_vma), the source failed
    # on its sequence check.
    assert "uffd_lock_vma:mmap_read_lock" not in s
    assert s.count("vma_start_read:vm_lock_seq") == 2
    assert s.count("vma_start_read:down_read_trylock") == 1
    assert _seq_check_failed(o, "T0")
    assert follows(o, "T0", "lock_vma_under_rcu:rcu_read_unlock",
                   "uffd_move_lock:vma_end_read_dst")
    assert s.count("uffd_move_lock:mmap_read_lock") == 2                 # blocked
    assert between(o, "T0@uffd_move_lock:mmap_read_lock",
                   "T1@userfaultfd_register:mmap_write_unlock", "T0@uffd_move_lock:vma_lookup")
    # find_vmas_mm_locked: the destination's anon_vma is already there.
    assert s[s.index("uffd_move_lock:vma_lookup"):][:5] == [
        "uffd_move_lock:vma_lookup", "__anon_vma_prepare:read_anon_vma", m,
        "uffd_move_lock:vma_start_read_locked_nested_src", "uffd_move_lock:mmap_read_unlock"]
    assert "move_present_pte:set_pte_at" in s
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(UFFD_MOVE_LOCK_FALLBACK, order, m, "uffd_move_lock:mmap_read_lock")
        assert c.results["T0"] == [1, 7]


# -- 7. the same races without per-VMA locks ---------------------------------------------------

def test_without_per_vma_locks_the_fault_takes_the_mmap_lock_directly():
    m = "lock_mm_and_find_vma:mmap_read_lock"
    text = with_config(FAULT_VS_MUNMAP_WRITE_LOCKED, NO_VMA_LOCKS)
    o = raced(text, m)
    assert o.results["T0"] == ["segv"]
    sites = o.trace.sites()
    assert "lock_vma_under_rcu:rcu_read_lock" not in sites
    assert "vma_start_read:vm_lock_seq" not in sites
    assert "vma_start_write:__is_vma_write_locked" not in sites
    # The VMA is freed at once, not after a grace period.
    assert "vm_area_free_rcu_cb:kmem_cache_free" not in sites
    s = steps(o, "T0")
    assert s[:2] == ["user_read:load", m]
    assert s.count(m) == 2                                               # blocked
    # With per-VMA locks the same schedule reaches the mmap lock only after a failed
    # vma_start_read, and the VMA is freed by RCU.
    with_locks = raced(FAULT_VS_MUNMAP_WRITE_LOCKED, m, "lock_vma_under_rcu:rcu_read_lock",
                       "vm_area_free_rcu_cb:kmem_cache_free")
    assert with_locks.results["T0"] == ["segv"]
    c = control(text, SERIAL, "lock_vma_under_rcu:rcu_read_lock")
    assert c.results["T0"] == [0] and count(c, "T0", m) == 1


def test_without_per_vma_locks_munmap_waits_for_the_fault_on_the_mmap_lock():
    m = "__vm_munmap:mmap_write_lock"
    text = with_config(MUNMAP_WAITS_FOR_FAULT, NO_VMA_LOCKS).replace(
        "T1 until vma_start_write:down_write x2",
        # munmap's first step: "until" steps once (the attempt, which blocks) and stops.
        "T1 until __vm_munmap:mmap_write_lock")
    o = raced(text, m)
    assert o.results["T0"] == [5] and o.results["T1"] == [0]
    assert count(o, "T1", m) == 2
    assert between(o, "T1@" + m, "T0@do_user_addr_fault:mmap_read_unlock", "T1@" + m)
    assert "vma_start_write:down_write" not in o.trace.sites()
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order, "lock_vma_under_rcu:rcu_read_lock")
        assert count(c, "T1", m) == 1


def test_without_per_vma_lock_madvise_dontneed_holds_the_mmap_lock_through_the_flush():
    m = "__vm_munmap:mmap_write_lock"
    # munmap's first step: "until" steps once (the attempt, which blocks) and stops.
    text = reschedule(with_config(DONTNEED_VMA_LOCK_THEN_MUNMAP, "per_vma_lock_madvise=off"), [
        "T0 until zap_pte_range:add_mm_rss_vec", "T1 until __vm_munmap:mmap_write_lock",
        "T0 finish", "T1 finish"])
    o = raced(text, m, "madvise_lock:mmap_read_lock")
    assert o.results["T0"] == [0] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert "lock_vma_under_rcu:rcu_read_lock" not in s
    assert s.index("tlb_finish_mmu:dec_tlb_flush_pending") < s.index(
        "madvise_unlock:mmap_read_unlock")
    # munmap waited for the mmap lock, which T0 held until after its flush.
    assert count(o, "T1", m) == 2
    assert between(o, "T1@" + m, "T0@madvise_unlock:mmap_read_unlock", "T1@" + m)
    assert count(o, "T1", "vma_start_write:down_write") == 1             # uncontended
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order, "madvise_walk_vmas:vma_end_read")
        assert count(c, "T1", m) == 1


def test_without_per_vma_locks_uffd_move_waits_on_the_mmap_lock():
    m = "move_pages:mmap_read_lock"
    # move_pages' first step is the mmap lock: "until" makes the attempt, which blocks.
    text = reschedule(with_config(UFFD_MOVE_LOCK_FALLBACK, NO_VMA_LOCKS), [
        "T1 until userfaultfd_register:userfaultfd_set_vm_flags", "T0 until " + m,
        "T1 finish", "T0 finish"])
    o = raced(text, m, "move_present_pte:set_pte_at")
    assert o.results["T0"] == [1, 7] and o.results["T1"] == [0]
    assert count(o, "T0", m) == 2
    assert between(o, "T0@" + m, "T1@userfaultfd_register:mmap_write_unlock", "T0@" + m)
    assert not any(s.startswith(("uffd_move_lock:", "uffd_lock_vma:", "lock_vma_under_rcu:"))
                   for s in o.trace.sites())
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(text, order, "uffd_move_lock:mmap_read_lock")
        assert count(c, "T0", m) == 1


UFFD_MOVE_FRESH_DESTINATION = """
    kprog 1
    config: per_vma_lock=off per_vma_lock_madvise=off
    # Without per-VMA locks, UFFDIO_MOVE takes the mmap read lock and finds both VMAs with
    # find_vmas_mm_locked, which gives the never-faulted destination m1 its anon_vma. So
    # the moved page belongs to an anon_vma, and reclaim (K0) finds it through rmap and
    # swaps it out.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      uffd_register m0 missing
      uffd_register m1 missing
    }
    T0 on p0 {
      uffd_move m1+0 m0+0 pages=1
    }
    K0 kthread {
      reclaim m1+0
      reclaim m1+0
    }
    schedule {
      T0 finish
      K0 finish
      *
    }
"""


def test_uffd_move_under_the_mmap_lock_prepares_the_destinations_anon_vma():
    o = raced(UFFD_MOVE_FRESH_DESTINATION, "__anon_vma_prepare:set_anon_vma")
    assert o.results["T0"] == [1] and o.results["K0"] == ["referenced", "reclaimed"]
    s = steps(o, "T0")
    assert s[:3] == ["move_pages:mmap_read_lock",
                     "find_vmas_mm_locked:find_vma_and_prepare_anon",
                     "__anon_vma_prepare:read_anon_vma"]
    assert "try_to_unmap_one:set_pte_at_swap_entry" in steps(o, "K0")
    assert o.pictures["p0"].splitlines()[2] == "  pmd 1: table [S7 .. .. .. .. .. .. ..]"
