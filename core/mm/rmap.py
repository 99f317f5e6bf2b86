"""Reverse mapping: ``try_to_unmap`` and ``folio_referenced`` through ``i_mmap`` (file) or
the anon_vma (anonymous) (mm/rmap.c ``rmap_walk_file``, ``rmap_walk_anon``,
``try_to_unmap_one``, ``folio_referenced_one``; mm/page_vma_mapped.c ``map_pte``,
``page_vma_mapped_walk``).

rmap walkers hold only ``i_mmap_rwsem`` (read): no mmap or VMA lock. So the PTE table can
vanish under them (retraction, PT reclaim), and ``map_pte`` revalidates: map with
``pte_offset_map_rw_nolock``, peek at the entry without the lock, lock ptl, and recheck
``pmd_same``, retrying if the table changed. With ``TTU_BATCH_FLUSH`` the TLB flush is
deferred to ``try_to_unmap_flush``; ``flush_tlb_batched_pending`` makes later PTE-lock
holders of the mm flush first.

Simplified: folios mapped by ptes (PMD mappings are not walked); one anon_vma per VMA
(no fork, so no anon_vma chains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_read, down_read_trylock, spin_lock, spin_unlock, up_read
from ..kernel.rcu import rcu_read_lock, rcu_read_unlock
from ..sim import site, spin_site
from .anon_vma import __put_anon_vma, get_anon_vma_not_zero, put_anon_vma, put_anon_vma_last
from .folio import add_mm_counter, folio_put_now, folio_remove_rmap, mm_counter
from .memory import mm_find_pmd
from .pgtable import (pmdp_get_lockless, pte_offset_map_rw_nolock, pte_unmap, pte_unmap_unlock,
                      ptep_get, ptep_get_and_clear, set_pte)
from .swap import swap_free
from .tlb import set_tlb_ubc_flush_pending
from .types import MM_ANONPAGES, MM_SWAPENTS, Pte, SwapPte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .pgtable import PmdPtr
    from .types import Folio, Mm, Vma

__all__ = ["try_to_unmap", "lazyfree_discardable", "map_pte", "folio_referenced", "rmap_walk",
           "folio_lock_anon_vma_read", "folio_get_anon_vma"]

S_MAP_PTE_PEEK = site("map_pte:ptep_get_lockless")
S_MAP_PTE_SKIP = site("map_pte:pte_unmap")
S_MAP_PTE_LOCK = site("map_pte:spin_lock")
S_MAP_PTE_RECHECK = site("map_pte:pmd_same")
S_MAP_PTE_RETRY_UNLOCK = site("map_pte:pmd_changed_unlock")
S_MAP_PTE_RETRY_UNMAP = site("map_pte:pmd_changed_unmap")
S_MAP_PTE_AGAIN = spin_site("map_pte:again")


def map_pte(ctx: Ctx, mm: Mm, pmdp: PmdPtr, vpn: int, folio: Folio,
            page: int) -> KGen[Any]:
    """mm/page_vma_mapped.c ``map_pte``, ``page_vma_mapped_walk``.

    Returns (table, index, ptl) with ptl held and the table attached, or None if the
    entry does not map the folio page."""
    while True:
        table, i, pmdval, ptl = yield from pte_offset_map_rw_nolock(ctx, mm, pmdp, vpn)
        if table is None:
            return None
        peek = yield from ptep_get(ctx, table, i, S_MAP_PTE_PEEK)
        if type(peek) is not Pte or peek.folio is not folio or peek.page != page:
            yield from pte_unmap(ctx, S_MAP_PTE_SKIP)
            return None
        yield from spin_lock(ctx, ptl, S_MAP_PTE_LOCK)
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_MAP_PTE_RECHECK)
        if cur is pmdval:
            return table, i, ptl
        yield from spin_unlock(ctx, ptl, S_MAP_PTE_RETRY_UNLOCK)
        yield from pte_unmap(ctx, S_MAP_PTE_RETRY_UNMAP)
        yield S_MAP_PTE_AGAIN


S_TTU_CHECK = site("try_to_unmap_one:check_pte")
S_TTU_CLEAR = site("try_to_unmap_one:ptep_get_and_clear")
S_TTU_LAZY_CHECK = site("try_to_unmap_one:lazyfree_ref_count")
S_TTU_LAZY_KEEP = site("try_to_unmap_one:lazyfree_set_pte_at")
S_TTU_DUP = site("try_to_unmap_one:swap_duplicate")
S_TTU_SHARE = site("try_to_unmap_one:folio_try_share_anon_rmap_pte")
S_TTU_PINNED_KEEP = site("try_to_unmap_one:pinned_set_pte_at")
S_TTU_SWAP = site("try_to_unmap_one:set_pte_at_swap_entry")
S_TTU_DONE_UNLOCK = site("page_vma_mapped_walk_done:spin_unlock")
S_TTU_DONE_UNMAP = site("page_vma_mapped_walk_done:pte_unmap")


def lazyfree_discardable(folio: Folio) -> bool:
    """Model only: the inline condition of mm/rmap.c ``try_to_unmap_one`` under which a
    lazily freed (MADV_FREE) folio is discarded: no reference beyond reclaim's own and the
    mappings' (a GUP pin keeps it: 6c8e2a256915, "mm: fix race between MADV_FREE reclaim
    and blkdev direct IO read") and not dirtied again (no VM_DROPPABLE in the model)."""
    return folio.refcount == 1 + folio.mapcount and not folio.dirty


def try_to_unmap_one(ctx: Ctx, folio: Folio, vma: Vma, vpn: int, page: int) -> KGen[Any]:
    """mm/rmap.c ``try_to_unmap_one`` for a pte-mapped order-0 page, with
    TTU_BATCH_FLUSH (both callers, reclaim and ``collapse_file``, pass it), after
    ``map_pte``'s recheck with ptl held (v6.12 body in core/upstream; the present-pte
    part is unchanged through v6.18 but for batching large folios).

    The pte is cleared with ``ptep_get_and_clear`` and its flush deferred
    (``set_tlb_ubc_flush_pending``: x86 defers whenever the mm may be live on another
    CPU, which the model assumes always); a dirty pte dirties the folio. Then, *after*
    the clear, the rechecks that close the races with GUP-fast:

    * a lazyfree (MADV_FREE, not swap-backed) page is discarded only if
      ``ref_count == 1 + map_count`` (no reference beyond the mappings' and the
      isolation's: a GUP pin taken after reclaim's checks shows here) and the folio is
      clean; otherwise the pte is restored, the folio made swap-backed again, and the
      walk stops (6c8e2a256915, "mm: fix race between MADV_FREE reclaim and blkdev
      direct IO read");
    * an exclusive anonymous page becomes a swap entry only if
      ``folio_try_share_anon_rmap_pte`` succeeds, which it does not while the folio
      may be pinned (GUP-fast pins after checking the pte; this clears the pte and then
      checks the pin, so one of the two sees the other); otherwise the swap count is
      dropped, the pte restored and the walk stops.

    Returns False if the walk must stop (the folio stays mapped).

    Simplified: every anonymous page is exclusive (no fork); no mlock, hwpoison,
    device-exclusive, uffd-wp or soft-dirty bits; ``arch_unmap_one`` is a no-op (x86)."""
    mm = vma.mm
    pmdp = yield from mm_find_pmd(ctx, mm, vpn)
    if pmdp is None:
        return True
    found = yield from map_pte(ctx, mm, pmdp, vpn, folio, page)
    if found is None:
        return True
    table, i, ptl = found
    ok = True
    cur = yield from ptep_get(ctx, table, i, S_TTU_CHECK)
    if type(cur) is Pte and cur.folio is folio and cur.page == page:
        old = yield from ptep_get_and_clear(ctx, table, i, S_TTU_CLEAR)
        set_tlb_ubc_flush_pending(ctx, mm)
        if old.dirty:
            folio.dirty = True                    # folio_mark_dirty()
        discard = True
        if folio.anon and folio.lazyfree:
            # smp_mb(); ref_count = folio_ref_count(); map_count = folio_mapcount();
            yield S_TTU_LAZY_CHECK
            ctx.access(folio, S_TTU_LAZY_CHECK, False)
            if lazyfree_discardable(folio):
                add_mm_counter(ctx, mm, MM_ANONPAGES, -1)
                ctx.event("page_discarded", vma, vpn)   # the page reads zero again
            else:
                yield from set_pte(ctx, table, i, old, S_TTU_LAZY_KEEP)
                folio.lazyfree = False            # folio_set_swapbacked()
                discard = ok = False
        elif folio.anon:
            slot = folio.swap
            yield S_TTU_DUP
            ctx.access(slot, S_TTU_DUP, True)
            slot.count += 1                       # swap_duplicate()
            yield S_TTU_SHARE
            ctx.access(folio, S_TTU_SHARE, False)
            if folio.pincount:                    # folio_maybe_dma_pinned(): may not share
                swap_free(ctx, slot, S_TTU_SHARE)
                yield from set_pte(ctx, table, i, old, S_TTU_PINNED_KEEP)
                discard = ok = False
            else:
                yield S_TTU_SWAP
                ctx.access(table, S_TTU_SWAP, True)
                table.slots[i] = SwapPte(slot)
                add_mm_counter(ctx, mm, MM_ANONPAGES, -1)
                add_mm_counter(ctx, mm, MM_SWAPENTS, 1)
        else:
            add_mm_counter(ctx, mm, mm_counter(folio), -1)
        if discard:
            folio_remove_rmap(ctx, folio, S_TTU_CLEAR)
            folio_put_now(ctx, folio, S_TTU_CLEAR)
    yield from pte_unmap_unlock(ctx, ptl, S_TTU_DONE_UNLOCK, S_TTU_DONE_UNMAP)
    return ok


S_FLAV_RCU = site("folio_lock_anon_vma_read:rcu_read_lock")
S_FLAV_MAPPING = site("folio_lock_anon_vma_read:read_folio_mapping")
S_FLAV_TRYLOCK = site("folio_lock_anon_vma_read:down_read_trylock")
S_FLAV_REREAD = site("folio_lock_anon_vma_read:reread_folio_mapping")
S_FLAV_MOVED_UP = site("folio_lock_anon_vma_read:mapping_changed_up_read")
S_FLAV_MOVED_RCU = site("folio_lock_anon_vma_read:mapping_changed_rcu_read_unlock")
S_FLAV_UNMAPPED_UP = site("folio_lock_anon_vma_read:not_mapped_up_read")
S_FLAV_INC = site("folio_lock_anon_vma_read:atomic_inc_not_zero")
S_FLAV_PIN_RECHECK = site("folio_lock_anon_vma_read:folio_mapped")
S_FLAV_PIN_RCU = site("folio_lock_anon_vma_read:pinned_rcu_read_unlock")
S_FLAV_LOCK = site("folio_lock_anon_vma_read:anon_vma_lock_read")
S_FLAV_MOVED_UNLOCK = site("folio_lock_anon_vma_read:mapping_changed_unlock_read")
S_FLAV_DEC = site("folio_lock_anon_vma_read:atomic_dec_and_test")
S_FLAV_LAST_UNLOCK = site("folio_lock_anon_vma_read:last_ref_unlock_read")
S_FLAV_OUT_RCU = site("folio_lock_anon_vma_read:rcu_read_unlock")
S_FLAV_RETRY = spin_site("folio_lock_anon_vma_read:retry")


def folio_lock_anon_vma_read(ctx: Ctx, folio: Folio, try_lock: bool) -> KGen[Any]:
    """mm/rmap.c ``folio_lock_anon_vma_read``: ``(anon_vma, contended)``, the folio's
    anon_vma read-locked, or None if the folio is no longer mapped (its anon_vma may be
    gone) or if, with ``try_lock``, the lock was contended (``rwc->contended``).

    The walker holds no VMA, so the anon_vma may be freed under it: everything happens
    under ``rcu_read_lock`` (the cache is ``SLAB_TYPESAFE_BY_RCU``) and only a still
    mapped folio proves its anon_vma alive. The trylock path rechecks ``folio_mapped``
    with the lock held (``anon_vma_free`` waits for such a holder); the sleeping path
    pins the anon_vma first (``atomic_inc_not_zero``). Both recheck ``folio->mapping``,
    which UFFDIO_MOVE's ``folio_move_anon_rmap`` changes (under the folio lock: so not
    while reclaim, the only caller here, holds it)."""
    while True:                                          # retry:
        yield from rcu_read_lock(ctx, S_FLAV_RCU)
        yield S_FLAV_MAPPING
        av = folio.anon_vma                              # READ_ONCE(folio->mapping)
        if av is None or not folio.mapcount:
            yield from rcu_read_unlock(ctx, S_FLAV_OUT_RCU)
            return None, False
        if (yield from down_read_trylock(ctx, av.rwsem, S_FLAV_TRYLOCK)):
            yield S_FLAV_REREAD
            if folio.anon_vma is not av:
                yield from up_read(ctx, av.rwsem, S_FLAV_MOVED_UP)
                yield from rcu_read_unlock(ctx, S_FLAV_MOVED_RCU)
                yield S_FLAV_RETRY
                continue
            if not folio.mapcount:
                yield from up_read(ctx, av.rwsem, S_FLAV_UNMAPPED_UP)
                av = None
            yield from rcu_read_unlock(ctx, S_FLAV_OUT_RCU)
            return av, False
        if try_lock:
            yield from rcu_read_unlock(ctx, S_FLAV_OUT_RCU)
            return None, True
        yield S_FLAV_INC                                 # trylock failed: pin, then sleep
        if not get_anon_vma_not_zero(ctx, av, S_FLAV_INC):
            yield from rcu_read_unlock(ctx, S_FLAV_OUT_RCU)
            return None, False
        yield S_FLAV_PIN_RECHECK
        if not folio.mapcount:
            yield from rcu_read_unlock(ctx, S_FLAV_PIN_RCU)
            yield from put_anon_vma(ctx, av)
            return None, False
        yield from rcu_read_unlock(ctx, S_FLAV_PIN_RCU)
        yield from down_read(ctx, av.rwsem, S_FLAV_LOCK)
        if folio.anon_vma is not av:
            yield from up_read(ctx, av.rwsem, S_FLAV_MOVED_UNLOCK)
            yield from put_anon_vma(ctx, av)
            yield S_FLAV_RETRY
            continue
        yield S_FLAV_DEC
        if put_anon_vma_last(ctx, av, S_FLAV_DEC):
            # The last reference: put_anon_vma() would deadlock on anon_vma_free()'s
            # write lock, so unlock first.
            yield from up_read(ctx, av.rwsem, S_FLAV_LAST_UNLOCK)
            yield from __put_anon_vma(ctx, av)
            return None, False
        return av, False


S_FGAV_RCU = site("folio_get_anon_vma:rcu_read_lock")
S_FGAV_MAPPING = site("folio_get_anon_vma:read_folio_mapping")
S_FGAV_INC = site("folio_get_anon_vma:atomic_inc_not_zero")
S_FGAV_RECHECK = site("folio_get_anon_vma:folio_mapped")
S_FGAV_RCU_UNLOCK = site("folio_get_anon_vma:rcu_read_unlock")


def folio_get_anon_vma(ctx: Ctx, folio: Folio) -> KGen[Any]:
    """mm/rmap.c ``folio_get_anon_vma``: a reference on the folio's anon_vma, or None if
    the folio is not mapped (then the anon_vma may be freed: the reference taken under
    ``rcu_read_lock`` is dropped again)."""
    yield from rcu_read_lock(ctx, S_FGAV_RCU)
    yield S_FGAV_MAPPING
    av = folio.anon_vma                                  # READ_ONCE(folio->mapping)
    if av is None or not folio.mapcount:
        yield from rcu_read_unlock(ctx, S_FGAV_RCU_UNLOCK)
        return None
    yield S_FGAV_INC
    if not get_anon_vma_not_zero(ctx, av, S_FGAV_INC):
        yield from rcu_read_unlock(ctx, S_FGAV_RCU_UNLOCK)
        return None
    yield S_FGAV_RECHECK
    if not folio.mapcount:
        yield from rcu_read_unlock(ctx, S_FGAV_RCU_UNLOCK)
        yield from put_anon_vma(ctx, av)
        return None
    yield from rcu_read_unlock(ctx, S_FGAV_RCU_UNLOCK)
    return av


S_RMAP_TRYLOCK = site("rmap_walk_file:i_mmap_trylock_read")
S_RMAP_LOCK = site("rmap_walk_file:i_mmap_lock_read")
S_RMAP_UNLOCK = site("rmap_walk_file:i_mmap_unlock_read")
S_RMAP_ANON_UNLOCK = site("rmap_walk_anon:anon_vma_unlock_read")


def _mappings(folio: Folio, vmas):
    """(vma, vpn, page) for every VMA that may map a page of the folio."""
    out = []
    for vma in vmas:
        for page in range(folio.npages):
            index = folio.index + page
            if vma.pgoff <= index < vma.pgoff + (vma.end - vma.start):
                out.append((vma, vma.start + (index - vma.pgoff), page))
    return out


def rmap_walk(ctx: Ctx, folio: Folio, one, try_lock: bool = False) -> KGen[Any]:
    """mm/rmap.c ``rmap_walk`` (``rmap_walk_anon`` with ``folio_lock_anon_vma_read`` as
    its ``anon_lock``, ``rmap_walk_file``): call ``one(vma, vpn, page)`` (a generator
    returning False to stop) for every possible mapping, under the rmap lock (read).
    With ``try_lock`` a contended lock ends the walk at once. Returns True if it did
    (``rwc->contended``)."""
    if folio.anon:
        av, contended = yield from folio_lock_anon_vma_read(ctx, folio, try_lock)
        if av is None:
            return contended
        for vma, vpn, page in _mappings(folio, list(av.vmas)):
            if not (yield from one(vma, vpn, page)):
                break
        yield from up_read(ctx, av.rwsem, S_RMAP_ANON_UNLOCK)
        return False
    f = folio.mapping
    if not (yield from down_read_trylock(ctx, f.i_mmap_rwsem, S_RMAP_TRYLOCK)):
        if try_lock:
            return True
        yield from down_read(ctx, f.i_mmap_rwsem, S_RMAP_LOCK)
    for vma, vpn, page in _mappings(folio, list(f.i_mmap)):
        if not (yield from one(vma, vpn, page)):
            break
    yield from up_read(ctx, f.i_mmap_rwsem, S_RMAP_UNLOCK)
    return False


def try_to_unmap(ctx: Ctx, folio: Folio) -> KGen[None]:
    """mm/rmap.c ``try_to_unmap``.

    Unmap every mapping of ``folio`` (``TTU_BATCH_FLUSH``: the TLB flush is deferred to
    ``try_to_unmap_flush``). The caller holds the folio lock."""
    def one(vma: Vma, vpn: int, page) -> KGen[Any]:
        return (yield from try_to_unmap_one(ctx, folio, vma, vpn, page))
    yield from rmap_walk(ctx, folio, one)


S_REF_YOUNG = site("folio_referenced_one:ptep_clear_young_notify")
S_REF_UNLOCK = site("folio_referenced_one:spin_unlock")
S_REF_UNMAP = site("folio_referenced_one:pte_unmap")


def folio_referenced(ctx: Ctx, folio: Folio) -> KGen[Any]:
    """mm/rmap.c ``folio_referenced``, ``folio_referenced_one``.

    mm/rmap.c ``folio_referenced`` (the folio locked by the caller): how many mappings
    were accessed since the last look, clearing the accessed bits (without a TLB flush,
    as x86 does); -1 if an rmap lock was contended (``try_lock``: reclaim keeps the
    folio for later rather than wait). Simplified: the walk does not stop early once
    ``mapcount`` mappings were seen."""
    if not folio.mapcount:
        return 0
    count = [0]

    def one(vma: Vma, vpn: int, page) -> KGen[Any]:
        pmdp = yield from mm_find_pmd(ctx, vma.mm, vpn)
        if pmdp is None:
            return True
        found = yield from map_pte(ctx, vma.mm, pmdp, vpn, folio, page)
        if found is None:
            return True
        table, i, ptl = found
        yield S_REF_YOUNG
        ctx.access(table, S_REF_YOUNG, True)
        pte = table.slots[i]
        if type(pte) is Pte and pte.folio is folio and pte.young:
            count[0] += 1
            table.slots[i] = Pte(folio, pte.page, pte.write, pte.dirty, False, pte.special,
                                 pte.uffd_wp)
        yield from pte_unmap_unlock(ctx, ptl, S_REF_UNLOCK, S_REF_UNMAP)
        return True

    if (yield from rmap_walk(ctx, folio, one, try_lock=True)):
        return -1
    return count[0]
