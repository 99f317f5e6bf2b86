"""Reverse mapping: ``try_to_unmap`` of a file folio through ``i_mmap``
(mm/rmap.c ``rmap_walk_file``, ``try_to_unmap_one``; mm/page_vma_mapped.c ``map_pte``,
``page_vma_mapped_walk``).

rmap walkers hold only ``i_mmap_rwsem`` (read): no mmap or VMA lock. So the PTE table can
vanish under them (retraction, PT reclaim), and ``map_pte`` revalidates: map with
``pte_offset_map_rw_nolock``, peek at the entry without the lock, lock ptl, and recheck
``pmd_same``, retrying if the table changed. With ``TTU_BATCH_FLUSH`` the TLB flush is
deferred to ``try_to_unmap_flush``; ``flush_tlb_batched_pending`` makes later PTE-lock
holders of the mm flush first.

Simplified: order-0 file folios mapped by ptes (what ``collapse_file`` unmaps).
"""

from __future__ import annotations

from ..kernel import down_read, spin_lock, spin_unlock, up_read
from ..sim import site, spin_site
from .folio import add_mm_counter, folio_put_now, folio_remove_rmap, mm_counter
from .memory import mm_find_pmd
from .pgtable import (pmdp_get_lockless, pte_offset_map_rw_nolock, pte_unmap, pte_unmap_unlock,
                      ptep_get, ptep_get_and_clear)
from .tlb import set_tlb_ubc_flush_pending
from .types import Pte

__all__ = ["try_to_unmap", "map_pte"]

S_MAP_PTE_PEEK = site("map_pte:ptep_get_lockless")
S_MAP_PTE_SKIP = site("map_pte:pte_unmap")
S_MAP_PTE_LOCK = site("map_pte:spin_lock")
S_MAP_PTE_RECHECK = site("map_pte:pmd_same")
S_MAP_PTE_RETRY_UNLOCK = site("map_pte:pmd_changed_unlock")
S_MAP_PTE_RETRY_UNMAP = site("map_pte:pmd_changed_unmap")
S_MAP_PTE_AGAIN = spin_site("map_pte:again")


def map_pte(ctx, mm, pmdp, vpn: int, folio, page: int):
    """Returns (table, index, ptl) with ptl held and the table attached, or None if the
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
S_TTU_DONE_UNLOCK = site("page_vma_mapped_walk_done:spin_unlock")
S_TTU_DONE_UNMAP = site("page_vma_mapped_walk_done:pte_unmap")


def try_to_unmap_one(ctx, folio, vma, vpn: int, page: int):
    mm = vma.mm
    pmdp = yield from mm_find_pmd(ctx, mm, vpn)
    if pmdp is None:
        return
    found = yield from map_pte(ctx, mm, pmdp, vpn, folio, page)
    if found is None:
        return
    table, i, ptl = found
    cur = yield from ptep_get(ctx, table, i, S_TTU_CHECK)
    if type(cur) is Pte and cur.folio is folio and cur.page == page:
        yield from ptep_get_and_clear(ctx, table, i, S_TTU_CLEAR)
        set_tlb_ubc_flush_pending(ctx, mm)
        add_mm_counter(ctx, mm, mm_counter(folio), -1)
        folio_remove_rmap(ctx, folio, S_TTU_CLEAR)
        folio_put_now(ctx, folio, S_TTU_CLEAR)
    yield from pte_unmap_unlock(ctx, ptl, S_TTU_DONE_UNLOCK, S_TTU_DONE_UNMAP)


S_RMAP_LOCK = site("rmap_walk_file:i_mmap_lock_read")
S_RMAP_UNLOCK = site("rmap_walk_file:i_mmap_unlock_read")


def try_to_unmap(ctx, folio):
    """Unmap every pte mapping ``folio`` (a page-cache folio), batching the TLB flush."""
    f = folio.mapping
    yield from down_read(ctx, f.i_mmap_rwsem, S_RMAP_LOCK)
    for vma in list(f.i_mmap):
        for page in range(folio.npages):
            index = folio.index + page
            if vma.pgoff <= index < vma.pgoff + (vma.end - vma.start):
                vpn = vma.start + (index - vma.pgoff)
                yield from try_to_unmap_one(ctx, folio, vma, vpn, page)
    yield from up_read(ctx, f.i_mmap_rwsem, S_RMAP_UNLOCK)
