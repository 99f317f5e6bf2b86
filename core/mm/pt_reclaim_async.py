"""Asynchronous reclaim of empty PTE tables: a design under test, not a kernel feature yet.

The seed series frees empty PTE tables only from MADV_DONTNEED's own zap and leaves the
rest to the future: "For other cases such as madvise(MADV_FREE), consider scanning and
freeing empty PTE pages asynchronously". This module is that future, written the way a
patch would add it to mm/pt_reclaim.c: a kernel thread (``kptreclaimd``) gets work items
(an mm and a PMD-sized range: queued after MADV_FREE, after kswapd unmapped the last pages
of a table, after a zap that could not reclaim) and runs ``pt_reclaim_scan_pmd`` on each.
It is on with the ``pt_reclaim_async`` config; the program operation ``pt_reclaim_scan``
is one work item.

The final design, and why each step is there (docs/async-reclaim.md tells how ptfuzz
found the flaws of the first version, each kept as an ``async-reclaim-...`` switch):

- ``mmap_read_lock``: keeps the VMA tree and the page-table tree above the PTE level
  stable. mremap (moving whole tables) and anonymous collapse hold it for write. Exit's
  ``free_pgtables`` runs under the write lock; munmap frees tables under the read lock
  only after it has detached the VMAs, so:
- a VMA must still cover part of the table (``find_vma_intersection``): a range whose
  VMAs munmap has detached is munmap's to free (``free_pte_range`` clears the pmd with no
  lock at all), and a table shared with a live VMA is never freed by munmap (floor and
  ceiling).
- ``hpage_collapse_test_exit``: nothing to do for an exiting mm (as khugepaged).
- A lockless look first (``pte_offset_map``, under RCU): most tables are not empty, and
  this costs no lock.
- Then, in the order ``try_to_free_pte`` uses, pml and ptl (nested), and everything again
  under both: map the table the pmd holds *now* (it may be none, huge, or another table:
  MADV_DONTNEED, retraction and faults ran meanwhile) and check all its entries are none
  (a fault or UFFDIO_COPY may have filled one; a swap entry or uffd-wp marker is not none).
- ``pmd_clear``, then free through an mmu_gather (``free_pte`` -> ``pte_free_tlb``):
  ``tlb_finish_mmu`` flushes the TLB, paging-structure caches included, and frees the
  table after an RCU grace period, so lockless walkers (``pte_offset_map`` under RCU,
  GUP-fast with IRQs off) never see it freed under them. Faults, UFFDIO_MOVE and rmap
  walkers revalidate the pmd after taking ptl (``pte_offset_map_lock`` or ``pmd_same``).

Simplified: the work queue itself (who queues what, and its dedup) is not modelled, since a
work item may run at any time and the program chooses when; one item scans one table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import spin_lock_nested, spin_unlock
from ..sim import site
from .khugepaged import hpage_collapse_test_exit
from .memory import mm_find_pmd
from .mmap_lock import mmap_read_lock, mmap_read_unlock
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu
from .pgtable import (pmd_clear, pmd_lock, pte_lockptr, pte_offset_map,
                      pte_offset_map_rw_nolock, pte_unmap, ptep_get)
from .pt_reclaim import free_pte
from .types import Pte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .mmu_gather import MmuGather
    from .pgtable import PmdPtr
    from .types import Mm

__all__ = ["pt_reclaim_scan_pmd"]

S_LOCK = site("pt_reclaim_scan_pmd:mmap_read_lock")
S_VMA = site("pt_reclaim_scan_pmd:find_vma_intersection")
S_UNLOCK = site("pt_reclaim_scan_pmd:mmap_read_unlock")
S_PEEK = site("pt_reclaim_scan_pmd:ptep_get_lockless")
S_PEEK_UNMAP = site("pt_reclaim_scan_pmd:pte_unmap")
S_PML = site("pt_reclaim_scan_pmd:pmd_lock")
S_LOCKPTR = site("pt_reclaim_scan_pmd:pte_lockptr")
S_PTL = site("pt_reclaim_scan_pmd:spin_lock_nested")
S_RESCAN = site("pt_reclaim_scan_pmd:ptep_get")
S_GONE_UNLOCK = site("pt_reclaim_scan_pmd:gone_unlock_pml")
S_BUSY_UNLOCK = site("pt_reclaim_scan_pmd:busy_unlock_ptl")
S_BUSY_UNMAP = site("pt_reclaim_scan_pmd:busy_pte_unmap")
S_BUSY_UNLOCK_PML = site("pt_reclaim_scan_pmd:busy_unlock_pml")
S_UNMAP = site("pt_reclaim_scan_pmd:pte_unmap_locked")
S_CLEAR = site("pt_reclaim_scan_pmd:pmd_clear")
S_UNLOCK_PTL = site("pt_reclaim_scan_pmd:spin_unlock_ptl")
S_UNLOCK_PML = site("pt_reclaim_scan_pmd:spin_unlock_pml")


def _all_none(ctx: Ctx, table, site_) -> KGen[Any]:
    """Whether every entry is none: a swap entry or a marker is not (freeing the table
    would lose the swapped data or the uffd-wp protection, and the swap counter)."""
    present_only = "async-reclaim-present-only" in ctx.bugs
    for i in range(ctx.config.ptrs_per_pte):
        pte = yield from ptep_get(ctx, table, i, site_)
        # BUG(async-reclaim-present-only): "empty" taken as "maps no page": swap entries
        # and markers are freed with the table.
        if pte is not None and (type(pte) is Pte or not present_only):
            return False
    return True


def pt_reclaim_scan_pmd(ctx: Ctx, mm: Mm, addr: int) -> KGen[Any]:
    """kptreclaimd's work item: free the PTE table covering ``addr`` if it is empty.
    Returns what happened: ``freed``, ``busy`` (an entry is not none), ``none`` (no table
    there), ``no vma`` or ``exit``."""
    n = ctx.config.ptrs_per_pte
    haddr = addr - addr % n
    yield from mmap_read_lock(ctx, mm, S_LOCK)
    if (yield from hpage_collapse_test_exit(ctx, mm)):
        yield from mmap_read_unlock(ctx, mm, S_UNLOCK)
        return "exit"
    # BUG(async-reclaim-no-vma-check): walk the range without asking whether a VMA still
    # covers it: munmap, under the read lock it downgraded to, frees the same table.
    if "async-reclaim-no-vma-check" not in ctx.bugs:
        yield S_VMA
        ctx.access(mm, S_VMA, False)
        if not any(v.start < haddr + n and haddr < v.end for v in mm.vmas):
            yield from mmap_read_unlock(ctx, mm, S_UNLOCK)
            return "no vma"
    tlb = yield from tlb_gather_mmu(ctx, mm)
    result = "none"
    pmdp = yield from mm_find_pmd(ctx, mm, haddr)
    if pmdp is not None:
        result = yield from _reclaim_table(ctx, mm, pmdp, haddr, tlb)
    yield from tlb_finish_mmu(ctx, tlb)
    yield from mmap_read_unlock(ctx, mm, S_UNLOCK)
    return result


def _reclaim_table(ctx: Ctx, mm: Mm, pmdp: PmdPtr, haddr: int,
                   tlb: MmuGather) -> KGen[Any]:
    # The lockless look: cheap, and wrong as often as it likes.
    table, _ = yield from pte_offset_map(ctx, pmdp, haddr)
    if table is None:
        return "none"
    empty = yield from _all_none(ctx, table, S_PEEK)
    yield from pte_unmap(ctx, S_PEEK_UNMAP)
    if not empty:
        return "busy"
    pml = yield from pmd_lock(ctx, mm, pmdp, S_PML)
    if "async-reclaim-no-rescan" in ctx.bugs:
        # BUG(async-reclaim-no-rescan): trust the lockless look: take the lock of the
        # table seen then and clear whatever the pmd holds now, without mapping it again
        # under pml or rescanning its entries under ptl.
        yield S_LOCKPTR
        pmdval = table
        ptl = pte_lockptr(ctx, mm, table, S_LOCKPTR)
        if ptl is not pml:
            yield from spin_lock_nested(ctx, ptl, S_PTL)
    else:
        # Under pml the pmd cannot change: map what it holds now, lock it, look again.
        table, _, pmdval, ptl = yield from pte_offset_map_rw_nolock(ctx, mm, pmdp, haddr)
        if table is None:
            yield from spin_unlock(ctx, pml, S_GONE_UNLOCK)
            return "none"
        if ptl is not pml:
            yield from spin_lock_nested(ctx, ptl, S_PTL)
        if not (yield from _all_none(ctx, table, S_RESCAN)):
            yield from spin_unlock(ctx, ptl, S_BUSY_UNLOCK)
            yield from pte_unmap(ctx, S_BUSY_UNMAP)
            if ptl is not pml:
                yield from spin_unlock(ctx, pml, S_BUSY_UNLOCK_PML)
            return "busy"
        yield from pte_unmap(ctx, S_UNMAP)
    yield from pmd_clear(ctx, pmdp, S_CLEAR)
    if ptl is not pml:
        yield from spin_unlock(ctx, ptl, S_UNLOCK_PTL)
    yield from spin_unlock(ctx, pml, S_UNLOCK_PML)
    yield from free_pte(ctx, mm, haddr, tlb, pmdval)
    return "freed"
