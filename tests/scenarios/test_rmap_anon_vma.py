"""rmap walkers against the end of an anon_vma (mm/rmap.c ``folio_lock_anon_vma_read``,
``folio_get_anon_vma``, ``anon_vma_free``).

Reclaim reaches an anonymous folio's anon_vma through ``folio->mapping`` with no VMA
held, so exit or munmap may free it meanwhile. Each test drives one branch of the
kernel's defence: the RCU read-side section that keeps a just-freed anon_vma valid, the
``folio_mapped`` rechecks, the reference pinned before sleeping on the lock, the walker
that ends up holding the last reference, ``anon_vma_free`` waiting for a reader that won
the trylock, and the ``try_lock`` walks of ``folio_referenced`` that give up on
contention. UFFDIO_MOVE's ``folio_get_anon_vma`` finding the folio unmapped is here too,
and ``map_pte``'s lockless peek at a pte that no longer maps the folio.

Two branches have no test because no modelled caller can reach them: the
``folio->mapping`` rechecks (UFFDIO_MOVE moves a folio only under its folio lock, which
reclaim holds for the whole walk) and ``atomic_inc_not_zero`` failing (the refcount is
zero only inside ``anon_vma_free``, whose write lock a second reclaimer of the same
folio would need, but it cannot lock the folio).
"""

from .helpers import between, control, count, follows, raced, steps

SERIAL = ["K0 finish", "T1 finish"]
SERIAL_REVERSED = ["T1 finish", "K0 finish"]

EXIT_VS_RECLAIM = """
    kprog 1
    # K0 reclaims the folio at m0+0, in one or two passes (the first only clears the
    # accessed bit), while T1's process exits.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
    }
    T1 on p0 {
      exit
    }
    K0 kthread {
      RECLAIMS
    }
    schedule {
      SCHEDULE
      *
    }
"""


def _exit_program(passes: int, schedule: list[str]) -> str:
    return (EXIT_VS_RECLAIM.replace("RECLAIMS", "\n      ".join(["reclaim m0+0"] * passes))
            .replace("SCHEDULE", "\n      ".join(schedule)))


def test_exit_frees_the_anon_vma_inside_the_walkers_rcu_section():
    """K0 reads folio->mapping while the folio is mapped; T1's exit zaps it, unlinks the
    VMA and frees the anon_vma. K0's trylock touches the freed anon_vma, which is still
    valid memory: K0 has been in its RCU read-side section since before the free, and the
    cache is SLAB_TYPESAFE_BY_RCU. Holding the lock, K0 sees the folio unmapped and lets
    go; only then can the grace period end and KASAN poison the anon_vma."""
    m = "folio_lock_anon_vma_read:not_mapped_up_read"
    text = _exit_program(1, ["K0 until folio_lock_anon_vma_read:down_read_trylock",
                             "T1 finish", "K0 finish"])
    o = raced(text, m, "anon_vma_free:kmem_cache_free")
    assert o.results["K0"] == ["reclaimed"] and o.results["T1"] == [0]
    assert between(o, "K0@folio_lock_anon_vma_read:read_folio_mapping",
                   "T1@anon_vma_free:kmem_cache_free",
                   "K0@folio_lock_anon_vma_read:down_read_trylock")
    assert between(o, "K0@" + m, "K0@folio_lock_anon_vma_read:rcu_read_unlock",
                   "rcu_cb@slab_free_after_rcu_debug:kasan_slab_free")
    # Nobody held the rwsem when T1 freed it: no wait.
    assert "anon_vma_free:anon_vma_lock_write" not in steps(o, "T1")
    # No walk: the folio was no longer mapped.
    assert "rmap_walk_anon:anon_vma_unlock_read" not in steps(o, "K0")
    for order in (SERIAL, SERIAL_REVERSED):
        control(_exit_program(1, []), order, m)


def test_anon_vma_free_waits_for_a_reader_that_won_the_trylock():
    """T1 drops the anon_vma's last reference and stops before rwsem_is_locked(); K0
    wins the trylock on it. T1 sees the rwsem held and takes and drops the write lock,
    which waits for K0 to see the folio unmapped and unlock; only then is it freed."""
    m = "anon_vma_free:anon_vma_lock_write"
    text = _exit_program(1, ["K0 until folio_lock_anon_vma_read:down_read_trylock",
                             "T1 until anon_vma_free:rwsem_is_locked",
                             "K0 until folio_lock_anon_vma_read:reread_folio_mapping",
                             "T1 until anon_vma_free:anon_vma_lock_write x2",
                             "K0 finish", "T1 finish"])
    o = raced(text, m, "folio_lock_anon_vma_read:not_mapped_up_read")
    assert o.results["T1"] == [0]
    assert count(o, "T1", m) == 2                                     # blocked once
    assert between(o, "T1@put_anon_vma:atomic_dec_and_test",
                   "K0@folio_lock_anon_vma_read:down_read_trylock",
                   "T1@anon_vma_free:rwsem_is_locked")
    assert between(o, "K0@folio_lock_anon_vma_read:not_mapped_up_read",
                   "T1@anon_vma_free:anon_vma_unlock_write",
                   "T1@anon_vma_free:kmem_cache_free")
    for order in (SERIAL, SERIAL_REVERSED):
        control(_exit_program(1, []), order, m)


def test_pinned_walker_finds_the_folio_unmapped_and_frees_the_anon_vma():
    """K0's second pass passes folio_referenced and enters try_to_unmap's walk, which
    sleeps rather than give up: T1's exit holds the anon_vma write lock (unlinking the
    VMA, after zapping the folio), so the trylock fails and K0 pins the anon_vma. T1
    drops its reference (not the last). K0's folio_mapped recheck fails: it puts the
    anon_vma, and that last reference frees it."""
    m = "folio_lock_anon_vma_read:pinned_rcu_read_unlock"
    text = _exit_program(2, ["K0 until folio_lock_anon_vma_read:down_read_trylock x3",
                             "T1 until unlink_anon_vmas:anon_vma_unlock_write",
                             "K0 until folio_lock_anon_vma_read:folio_mapped",
                             "T1 finish", "K0 finish"])
    o = raced(text, m, "folio_lock_anon_vma_read:atomic_inc_not_zero")
    assert o.results["K0"] == ["referenced", "reclaimed"] and o.results["T1"] == [0]
    k = steps(o, "K0")
    assert k[k.index("folio_lock_anon_vma_read:atomic_inc_not_zero"):][:6] == [
        "folio_lock_anon_vma_read:atomic_inc_not_zero", "folio_lock_anon_vma_read:folio_mapped",
        m, "put_anon_vma:atomic_dec_and_test", "anon_vma_free:rwsem_is_locked",
        "anon_vma_free:kmem_cache_free"]
    t = steps(o, "T1")
    assert "put_anon_vma:atomic_dec_and_test" in t and "anon_vma_free:kmem_cache_free" not in t
    assert "folio_lock_anon_vma_read:anon_vma_lock_read" not in k
    for order in (SERIAL, SERIAL_REVERSED):
        control(_exit_program(2, []), order, m, "folio_lock_anon_vma_read:atomic_inc_not_zero")


MREMAP_VS_RECLAIM = """
    kprog 1
    # T1 moves m0 (one whole table: move_normal_pmd, under the anon_vma write lock) to
    # page 16, then unmaps it or reads the page back. K0 reclaims the folio at m0+1
    # (the first pass only clears the accessed bit; the name follows the mapping once
    # mremap has returned).
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+1 value=1
    }
    T1 on p0 {
      mremap m0 to=16
      OPS
    }
    K0 kthread {
      RECLAIMS
    }
    schedule {
      SCHEDULE
      *
    }
"""

# K0 stops before try_to_unmap's walk (its third), T1 stops holding the rmap locks, then
# K0 fails the trylock, pins the anon_vma and blocks on the lock.
PIN_AND_SLEEP = ["K0 until folio_lock_anon_vma_read:rcu_read_lock x3",
                 "T1 until drop_rmap_locks:anon_vma_unlock_write",
                 "K0 until folio_lock_anon_vma_read:anon_vma_lock_read x2",
                 "T1 finish", "K0 finish"]


def _mremap_program(ops: str, schedule: list[str], passes: int = 2) -> str:
    return (MREMAP_VS_RECLAIM.replace("OPS", ops)
            .replace("RECLAIMS", "\n      ".join(["reclaim m0+1"] * passes))
            .replace("SCHEDULE", "\n      ".join(schedule)))


def test_try_to_unmap_pins_the_anon_vma_and_sleeps_on_the_contended_lock():
    """try_to_unmap's walk (no try_lock) finds the anon_vma write-locked by mremap: it
    pins the anon_vma, leaves its RCU section and sleeps on the lock; woken after the
    move, it drops its pin (not the last) and unmaps the folio at its new address."""
    m = "folio_lock_anon_vma_read:anon_vma_lock_read"
    text = _mremap_program("read m0+1", PIN_AND_SLEEP)
    o = raced(text, m, "folio_lock_anon_vma_read:atomic_inc_not_zero",
              "folio_lock_anon_vma_read:atomic_dec_and_test")
    assert o.results["K0"] == ["referenced", "reclaimed"] and o.results["T1"] == [16, 1]
    k = steps(o, "K0")
    assert count(o, "K0", m) == 2                                     # blocked once
    assert k[k.index("folio_lock_anon_vma_read:atomic_inc_not_zero"):][:5] == [
        "folio_lock_anon_vma_read:atomic_inc_not_zero", "folio_lock_anon_vma_read:folio_mapped",
        "folio_lock_anon_vma_read:pinned_rcu_read_unlock", m, m]
    # The pin was not the last reference: K0 keeps the lock and walks.
    assert "folio_lock_anon_vma_read:last_ref_unlock_read" not in k
    assert k.index("folio_lock_anon_vma_read:atomic_dec_and_test") < k.index(
        "try_to_unmap_one:check_pte")
    assert between(o, "K0@" + m, "T1@drop_rmap_locks:anon_vma_unlock_write", "K0@" + m)
    assert "try_to_unmap_one:set_pte_at_swap_entry" in k
    # Unmapped at the new address, after T1 read it there.
    assert o.pictures["p0"].splitlines()[3] == "  pmd 2: table [.. S1 .. .. .. .. .. ..]"
    for order in (SERIAL, SERIAL_REVERSED):
        c = control(_mremap_program("read m0+1", []), order, m)
        assert c.results["T1"] == [16, 1]


def test_the_walker_that_holds_the_last_reference_frees_the_anon_vma():
    """As above, but T1 unmaps the moved range before K0 gets the lock: the VMAs'
    reference goes with it, and K0's pin is the last. K0 unlocks before freeing
    (put_anon_vma would deadlock on anon_vma_free's write lock) and skips the walk."""
    m = "folio_lock_anon_vma_read:last_ref_unlock_read"
    text = _mremap_program("munmap m0", PIN_AND_SLEEP)
    o = raced(text, m)
    assert o.results["K0"] == ["referenced", "reclaimed"] and o.results["T1"] == [16, 0]
    k = steps(o, "K0")
    assert k[k.index(m):][:3] == [m, "anon_vma_free:rwsem_is_locked",
                                  "anon_vma_free:kmem_cache_free"]
    assert "try_to_unmap_one:check_pte" not in k
    t = steps(o, "T1")
    assert "put_anon_vma:atomic_dec_and_test" in t and "anon_vma_free:kmem_cache_free" not in t
    for order in (SERIAL, SERIAL_REVERSED):
        control(_mremap_program("munmap m0", []), order, m)


def test_folio_referenced_gives_up_on_a_contended_anon_vma_lock():
    """folio_referenced walks with try_lock: finding the anon_vma write-locked by
    mremap, it returns -1 at once (no pin, no sleep) and reclaim keeps the folio."""
    text = _mremap_program("read m0+1", [
        "K0 until folio_lock_anon_vma_read:rcu_read_lock",
        "T1 until drop_rmap_locks:anon_vma_unlock_write", "K0 finish", "T1 finish"], 1)
    o = raced(text)
    assert o.results["K0"] == ["contended"] and o.results["T1"] == [16, 1]
    assert follows(o, "K0", "folio_lock_anon_vma_read:down_read_trylock",
                   "folio_lock_anon_vma_read:rcu_read_unlock")
    assert "folio_lock_anon_vma_read:atomic_inc_not_zero" not in steps(o, "K0")
    # (K0's address is taken when it starts, so after the move it finds nothing there.)
    for order, result in ((SERIAL, ["referenced"]), (SERIAL_REVERSED, ["none"])):
        c = control(_mremap_program("read m0+1", [], 1), order)
        assert c.results["K0"] == result


FILE_MREMAP_VS_RECLAIM = """
    kprog 1
    # The same with a shared file mapping: mremap holds i_mmap_rwsem for write.
    setup {
      p0 = process
      f0 = file pages=8
      m0 = mmap p0 shared f0 pages=8
      read m0+1
    }
    T1 on p0 {
      mremap m0 to=16
    }
    K0 kthread {
      reclaim m0+1
    }
    schedule {
      K0 until rmap_walk_file:i_mmap_trylock_read
      T1 until drop_rmap_locks:i_mmap_unlock_write
      K0 finish
      T1 finish
      *
    }
"""


def test_folio_referenced_gives_up_on_a_contended_i_mmap_lock():
    o = raced(FILE_MREMAP_VS_RECLAIM)
    assert o.results["K0"] == ["contended"] and o.results["T1"] == [16]
    assert follows(o, "K0", "rmap_walk_file:i_mmap_trylock_read",
                   "shrink_folio_list:keep_locked_folio_unlock")
    assert "rmap_walk_file:i_mmap_lock_read" not in steps(o, "K0")
    for order, result in ((SERIAL, ["referenced"]), (SERIAL_REVERSED, ["none"])):
        c = control(FILE_MREMAP_VS_RECLAIM, order)
        assert c.results["K0"] == result


UFFD_MOVE_VS_DONTNEED = """
    kprog 1
    # T0 moves m0+0 to m1+0. It has the source folio referenced and locked when T1's
    # MADV_DONTNEED (under the VMA read lock, like T0) zaps the page.
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
      madvise m0+0 pages=1 DONTNEED
    }
    schedule {
      T0 until folio_get_anon_vma:rcu_read_lock
      T1 finish
      T0 finish
      *
    }
"""


def test_uffd_move_finds_the_source_folio_unmapped_when_pinning_its_anon_vma():
    """folio_get_anon_vma sees the folio no longer mapped: no reference, -EAGAIN; the
    retry finds the source pte gone (-ENOENT) and nothing moved."""
    o = raced(UFFD_MOVE_VS_DONTNEED)
    assert o.results["T0"] == ["-ENOENT", "sigbus"] and o.results["T1"] == [0]
    s = steps(o, "T0")
    assert follows(o, "T0", "folio_get_anon_vma:read_folio_mapping",
                   "folio_get_anon_vma:rcu_read_unlock")
    assert "folio_get_anon_vma:atomic_inc_not_zero" not in s
    assert follows(o, "T0", "folio_get_anon_vma:rcu_read_unlock", "move_pages_pte:folio_unlock")
    assert count(o, "T0", "move_pages:eagain_retry") == 1
    assert "move_present_pte:set_pte_at" not in s
    for order, moved in ((["T0 finish", "T1 finish"], [1, 7]),
                         (["T1 finish", "T0 finish"], ["-ENOENT", "sigbus"])):
        c = control(UFFD_MOVE_VS_DONTNEED, order, "move_pages:eagain_retry")
        assert c.results["T0"] == moved


PTE_MAPPED_THP = """
    kprog 1
    # m0 is a THP, pte-mapped after a split (MADV_DONTNEED of its last page). K0's
    # folio_referenced walks its pages; after it peeked at the first, T1 zaps the second.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+0 value=1
      write m0+1 value=2
      write m0+2 value=3
      madvise m0+0 pages=8 COLLAPSE
      madvise m0+7 pages=1 DONTNEED
    }
    K0 kthread {
      reclaim m0+0
    }
    T1 on p0 {
      madvise m0+1 pages=1 DONTNEED
    }
    schedule {
      K0 until map_pte:ptep_get_lockless x2
      T1 finish
      K0 finish
      *
    }
"""


def test_map_pte_peek_skips_a_pte_that_no_longer_maps_the_folio():
    """map_pte peeks at each pte without the lock; the second page's pte was zapped, so
    it unmaps the table and moves on without taking the PTE lock (as it does for the
    page zapped in the setup)."""
    m = "map_pte:pte_unmap"
    o = raced(PTE_MAPPED_THP, m)
    assert o.results["K0"] == ["referenced"] and o.results["T1"] == [0]
    k = steps(o, "K0")
    assert count(o, "K0", m) == 2                                     # pages 1 and 7
    assert k.count("map_pte:spin_lock") == 6
    assert between(o, "K0@map_pte:pmd_same", "T1@zap_present_ptes:ptep_get_and_clear_full",
                   "K0@map_pte:ptep_get_lockless")
    for order in (["K0 finish", "T1 finish"], ["T1 finish", "K0 finish"]):
        c = control(PTE_MAPPED_THP, order)
        assert count(c, "K0", m) == 1 + (order[0] == "T1 finish")
