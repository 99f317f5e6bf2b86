"""PT reclaim: freeing empty PTE tables from MADV_DONTNEED's zap (mm/pt_reclaim.c, v6.14).

``try_get_and_clear_pmd`` (the fast path: the zap emptied the whole table in one PTE-lock
hold; trylock the pmd lock, in reverse order, and clear the pmd), ``free_pte`` (queue the
table in the mmu_gather), and ``try_to_free_pte`` (the slow path: take pml then ptl in
order and rescan every entry). As in v6.14-v6.19, when split locks are off (ptl is pml)
the fast path's trylock always fails and the slow path runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import spin_lock_nested, spin_trylock, spin_unlock
from ..sim import site
from .mmu_gather import pte_free_tlb
from .pgtable import (pmd_clear, pmd_lock, pmd_lockptr, pmd_pgtable, pmdp_get_lockless,
                      pte_offset_map_rw_nolock, pte_unmap, pte_unmap_unlock, ptep_get)

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .mmu_gather import MmuGather
    from .pgtable import PmdPtr
    from .types import Mm

__all__ = ["reclaim_pt_is_enabled", "try_get_and_clear_pmd", "free_pte", "try_to_free_pte"]


def reclaim_pt_is_enabled(ctx: Ctx, start: int, end: int, details) -> bool:
    """mm/pt_reclaim.c ``reclaim_pt_is_enabled``; mm/memory.c ``pte_table_reclaim_possible``.

    Only when asked to (MADV_DONTNEED) and the range covers the whole table."""
    return (ctx.config.pt_reclaim and details is not None and details.reclaim_pt
            and end - start >= ctx.config.ptrs_per_pte)


S_FAST_TRYLOCK = site("try_get_and_clear_pmd:spin_trylock")
S_FAST_READ = site("try_get_and_clear_pmd:pmdp_get_lockless")
S_FAST_CLEAR = site("try_get_and_clear_pmd:pmd_clear")
S_FAST_UNLOCK = site("try_get_and_clear_pmd:spin_unlock")


def try_get_and_clear_pmd(ctx: Ctx, mm: Mm, pmdp: PmdPtr) -> KGen[Any]:
    """mm/pt_reclaim.c ``try_get_and_clear_pmd``; mm/memory.c ``zap_empty_pte_table``.

    Called with the table's ptl held. Returns ``(True, pmdval)`` once the pmd is
    cleared, ``(False, None)`` if the pmd lock could not be had without waiting."""
    pml = pmd_lockptr(ctx, mm, pmdp)
    if not (yield from spin_trylock(ctx, pml, S_FAST_TRYLOCK)):
        return False, None
    pmdval = yield from pmdp_get_lockless(ctx, pmdp, S_FAST_READ)
    yield from pmd_clear(ctx, pmdp, S_FAST_CLEAR)
    yield from spin_unlock(ctx, pml, S_FAST_UNLOCK)
    return True, pmdval


S_FREE_PTE = site("free_pte:mm_dec_nr_ptes")


def free_pte(ctx: Ctx, mm: Mm, vpn: int, tlb: MmuGather, pmdval) -> KGen[None]:
    """mm/pt_reclaim.c ``free_pte``.

    Queue the detached table (``pmd_pgtable(pmdval)``) in the mmu_gather; one table
    fewer in the mm."""
    yield from pte_free_tlb(ctx, tlb, pmd_pgtable(pmdval), vpn)
    yield S_FREE_PTE
    ctx.access(mm, S_FREE_PTE, True)
    mm.nr_ptes -= 1


S_SLOW_PML = site("try_to_free_pte:pmd_lock")
S_SLOW_NOPTE_UNLOCK = site("try_to_free_pte:no_table_unlock_pml")
S_SLOW_PTL = site("try_to_free_pte:spin_lock_nested")
S_SLOW_SCAN = site("try_to_free_pte:ptep_get")
S_SLOW_BUSY_UNLOCK = site("try_to_free_pte:not_empty_unlock_ptl")
S_SLOW_BUSY_UNMAP = site("try_to_free_pte:not_empty_unmap")
S_SLOW_BUSY_UNLOCK_PML = site("try_to_free_pte:not_empty_unlock_pml")
S_SLOW_UNMAP = site("try_to_free_pte:pte_unmap")
S_SLOW_CLEAR = site("try_to_free_pte:pmd_clear")
S_SLOW_UNLOCK_PTL = site("try_to_free_pte:spin_unlock_ptl")
S_SLOW_UNLOCK_PML = site("try_to_free_pte:spin_unlock_pml")


def try_to_free_pte(ctx: Ctx, mm: Mm, pmdp: PmdPtr, vpn: int,
                    tlb: MmuGather) -> KGen[None]:
    """mm/pt_reclaim.c ``try_to_free_pte``; mm/memory.c ``zap_pte_table_if_empty``.

    The slow path: pml, map (the pmd may be none or huge by now), ptl if different,
    every entry must be none, then clear the pmd and free the table."""
    pml = yield from pmd_lock(ctx, mm, pmdp, S_SLOW_PML)
    table, _, pmdval, ptl = yield from pte_offset_map_rw_nolock(ctx, mm, pmdp, vpn)
    if table is None:
        yield from spin_unlock(ctx, pml, S_SLOW_NOPTE_UNLOCK)
        return
    if ptl is not pml:
        yield from spin_lock_nested(ctx, ptl, S_SLOW_PTL)
    for i in range(ctx.config.ptrs_per_pte):
        if (yield from ptep_get(ctx, table, i, S_SLOW_SCAN)) is not None:
            yield from pte_unmap_unlock(ctx, ptl, S_SLOW_BUSY_UNLOCK, S_SLOW_BUSY_UNMAP)
            if ptl is not pml:
                yield from spin_unlock(ctx, pml, S_SLOW_BUSY_UNLOCK_PML)
            return
    yield from pte_unmap(ctx, S_SLOW_UNMAP)
    yield from pmd_clear(ctx, pmdp, S_SLOW_CLEAR)
    if ptl is not pml:
        yield from spin_unlock(ctx, ptl, S_SLOW_UNLOCK_PTL)
    yield from spin_unlock(ctx, pml, S_SLOW_UNLOCK_PML)
    yield from free_pte(ctx, mm, vpn, tlb, pmdval)
