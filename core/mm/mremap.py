"""mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of a whole VMA (mm/mremap.c).

``move_vma``: under the mmap write lock, write-lock the VMA, create the new VMA
(``copy_vma``: linked into the tree, ``i_mmap`` and the anon_vma), move the page tables,
then unmap the old range. ``move_page_tables`` per PMD-sized chunk: a whole table moves
by its pmd (``move_normal_pmd``: with the rmap locks taken *before* the pmd is sampled,
then both pmd locks, then the recheck that the old pmd is still a table, then clear,
populate and flush); otherwise the ptes move one by one (``move_ptes``: the old table
under its lock, the new one mapped without the ``pmd_same`` check because the mmap lock
is held for write and the new entries are none, ``flush_tlb_batched_pending``, and the
TLB flush of the old range *before* the PTE locks are dropped).

A huge pmd moves whole (``move_huge_pmd``, with its deposited table, without the rmap
locks: ``copy_vma`` made a new VMA) when the chunk covers it, and is split first
otherwise. A uffd-armed VMA (no model registration has UFFD_FEATURE_EVENT_REMAP) moves pte
by pte with the uffd-wp state dropped, and the new VMA loses its registration
(``mremap_userfaultfd_prep``).

Simplified: the whole VMA moves to a free range of the same size (no growing or
shrinking, no partial moves, no merging, so ``need_rmap_locks`` is always false).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_write, spin_lock_nested, spin_unlock, up_write
from ..sim import site, spin_site
from .memory import pmd_alloc, pte_alloc
from .huge_memory import __split_huge_pmd, move_huge_pmd
from .memory_zap import free_pgtables, unmap_vmas
from .mmap import get_unmapped_area, vm_area_free, vma_link
from .mmap_lock import mmap_write_lock, mmap_write_unlock, vma_start_write
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu
from .pgtable import (PmdPtr, pud_pmd_table,
                      __pte_offset_map_lock, pmd_clear, pmd_lock, pmd_lockptr,
                      pmd_populate, pmdp_get_lockless, pte_offset_map_rw_nolock, pte_unmap,
                      pte_unmap_unlock, ptep_get, ptep_get_and_clear, set_pte)
from .tlb import flush_tlb_batched_pending, flush_tlb_range
from .types import HugePmd, Pte, PteMarker, PteTable, Vma

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Mm

__all__ = ["do_mremap", "move_page_tables", "move_normal_pmd", "move_ptes"]

S_RMAP_I_MMAP = site("take_rmap_locks:i_mmap_lock_write")
S_RMAP_ANON = site("take_rmap_locks:anon_vma_lock_write")
S_RMAP_DROP_ANON = site("drop_rmap_locks:anon_vma_unlock_write")
S_RMAP_DROP_I_MMAP = site("drop_rmap_locks:i_mmap_unlock_write")


def take_rmap_locks(ctx: Ctx, vma: Vma) -> KGen[None]:
    """mm/mremap.c ``take_rmap_locks``."""
    if vma.file is not None:
        yield from down_write(ctx, vma.file.i_mmap_rwsem, S_RMAP_I_MMAP)
    if vma.anon_vma is not None:
        yield from down_write(ctx, vma.anon_vma.rwsem, S_RMAP_ANON)


def drop_rmap_locks(ctx: Ctx, vma: Vma) -> KGen[None]:
    """mm/mremap.c ``drop_rmap_locks``."""
    if vma.anon_vma is not None:
        yield from up_write(ctx, vma.anon_vma.rwsem, S_RMAP_DROP_ANON)
    if vma.file is not None:
        yield from up_write(ctx, vma.file.i_mmap_rwsem, S_RMAP_DROP_I_MMAP)


S_MNP_NEW = site("move_normal_pmd:new_pmd_none")
S_MNP_LOCK = site("move_normal_pmd:pmd_lock")
S_MNP_LOCK_NEW = site("move_normal_pmd:spin_lock_nested")
S_MNP_READ = site("move_normal_pmd:pmd_read")
S_MNP_CLEAR = site("move_normal_pmd:pmd_clear")
S_MNP_POPULATE = site("move_normal_pmd:pmd_populate")
S_MNP_FLUSH = site("move_normal_pmd:flush_tlb_range")
S_MNP_UNLOCK_NEW = site("move_normal_pmd:spin_unlock_new")
S_MNP_UNLOCK_OLD = site("move_normal_pmd:spin_unlock_old")


def move_normal_pmd(ctx: Ctx, vma: Vma, old_vpn: int, new_vpn: int, old_pmdp: PmdPtr,
                    new_pmdp: PmdPtr) -> KGen[Any]:
    """mm/mremap.c ``move_normal_pmd``: move a whole PTE table by its pmd, under the old
    pmd lock and the new one nested, if the destination pmd is none and the VMA need not
    drop uffd-wp state. Returns False if it could not (the caller then moves the ptes)."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    if (yield from pmdp_get_lockless(ctx, new_pmdp, S_MNP_NEW)) is not None:
        return False
    if vma_has_uffd_without_event_remap(vma):
        return False
    old_ptl = yield from pmd_lock(ctx, mm, old_pmdp, S_MNP_LOCK)
    new_ptl = pmd_lockptr(ctx, mm, new_pmdp)
    if new_ptl is not old_ptl:
        yield from spin_lock_nested(ctx, new_ptl, S_MNP_LOCK_NEW)
    pmd = yield from pmdp_get_lockless(ctx, old_pmdp, S_MNP_READ)
    moved = False
    if type(pmd) is PteTable:                  # racing with collapse or PT reclaim?
        yield from pmd_clear(ctx, old_pmdp, S_MNP_CLEAR)
        yield from pmd_populate(ctx, new_pmdp, pmd, S_MNP_POPULATE)
        for i in range(n):
            ctx.event("page_moved", mm, new_vpn + i, old_vpn + i)
        yield from flush_tlb_range(ctx, mm, old_vpn, old_vpn + n, S_MNP_FLUSH)
        moved = True
    if new_ptl is not old_ptl:
        yield from spin_unlock(ctx, new_ptl, S_MNP_UNLOCK_NEW)
    yield from spin_unlock(ctx, old_ptl, S_MNP_UNLOCK_OLD)
    return moved


S_MP_OLD_NOTABLE = site("move_ptes:old_table_vanished")
S_MP_NEW_NOTABLE = site("move_ptes:new_table_vanished")
S_MP_NEW_UNMAP_OLD = site("move_ptes:new_vanished_unlock_old")
S_MP_NEW_UNMAP_OLD2 = site("move_ptes:new_vanished_unmap_old")
S_MP_LOCK_NEW = site("move_ptes:spin_lock_nested")
S_MP_CLEAR = site("move_ptes:get_and_clear_full_ptes")
S_MP_SET = site("move_ptes:set_ptes")
S_MP_READ = site("move_ptes:ptep_get")
S_MP_FLUSH = site("move_ptes:flush_tlb_range")
S_MP_UNLOCK_NEW = site("move_ptes:spin_unlock_new")
S_MP_UNMAP_NEW = site("move_ptes:pte_unmap_new")
S_MP_UNLOCK_OLD = site("move_ptes:spin_unlock_old")
S_MP_UNMAP_OLD = site("move_ptes:pte_unmap_old")


def vma_has_uffd_without_event_remap(vma: Vma) -> bool:
    """include/linux/userfaultfd_k.h ``vma_has_uffd_without_event_remap``.

    include/linux/userfaultfd_k.h: a uffd-armed VMA whose context lacks
    UFFD_FEATURE_EVENT_REMAP (no model registration asks for it): mremap must not carry
    uffd-wp state over, so ptes are moved one by one with the bit cleared (v6.13,
    0cef0bb836e3, "mm: clear uffd-wp PTE/PMD state on mremap()")."""
    return vma.uffd_armed


def move_ptes(ctx: Ctx, vma: Vma, old_pmdp: PmdPtr, old_vpn: int, old_end: int,
              new_pmdp: PmdPtr, new_vpn: int) -> KGen[Any]:
    """mm/mremap.c ``move_ptes``: both tables mapped and locked (old with
    ``pte_offset_map_lock``, new with ``pte_offset_map_rw_nolock`` nested), each non-none
    entry cleared and set at the new address, a present one forcing the TLB flush before
    the locks drop; with ``vma_has_uffd_without_event_remap`` the uffd-wp bit is cleared
    and uffd-wp markers are dropped. Returns 0 or -EAGAIN (a table vanished: the caller
    retries the chunk). Simplified: one pte at a time (no batching)."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    old_table, _, old_ptl = yield from __pte_offset_map_lock(ctx, mm, old_pmdp, old_vpn)
    if old_table is None:
        yield S_MP_OLD_NOTABLE
        return "-EAGAIN"
    new_table, _, _dummy, new_ptl = yield from pte_offset_map_rw_nolock(ctx, mm, new_pmdp,
                                                                        new_vpn)
    if new_table is None:
        yield S_MP_NEW_NOTABLE
        yield from pte_unmap_unlock(ctx, old_ptl, S_MP_NEW_UNMAP_OLD, S_MP_NEW_UNMAP_OLD2)
        return "-EAGAIN"
    if new_ptl is not old_ptl:
        yield from spin_lock_nested(ctx, new_ptl, S_MP_LOCK_NEW)
    yield from flush_tlb_batched_pending(ctx, mm)
    force_flush = False
    clear_uffd_wp = vma_has_uffd_without_event_remap(vma)
    for k in range(old_end - old_vpn):
        if (yield from ptep_get(ctx, old_table, (old_vpn + k) % n, S_MP_READ)) is None:
            continue
        old = yield from ptep_get_and_clear(ctx, old_table, (old_vpn + k) % n, S_MP_CLEAR)
        if type(old) is Pte:
            force_flush = True
        ctx.event("page_moved", mm, new_vpn + k, old_vpn + k)
        if clear_uffd_wp and type(old) is PteMarker:
            continue                                  # the uffd-wp marker is dropped
        if clear_uffd_wp and type(old) is Pte and old.uffd_wp:
            old = Pte(old.folio, old.page, old.write, old.dirty, old.young, old.special)
        yield from set_pte(ctx, new_table, (new_vpn + k) % n, old, S_MP_SET)
    if force_flush:
        # Flush before the PTE locks are dropped: nobody may use the old translations.
        yield from flush_tlb_range(ctx, mm, old_vpn, old_end, S_MP_FLUSH)
    if new_ptl is not old_ptl:
        yield from spin_unlock(ctx, new_ptl, S_MP_UNLOCK_NEW)
    yield from pte_unmap(ctx, S_MP_UNMAP_NEW)
    yield from pte_unmap_unlock(ctx, old_ptl, S_MP_UNLOCK_OLD, S_MP_UNMAP_OLD)
    return 0


S_MR_UFFD_DROP = site("mremap_userfaultfd_prep:clear_uffd_flags")
S_MPT_OLD_PMD = site("get_old_pmd:pmd_read")
S_MPT_OLD_NONE = site("move_page_tables:pmd_none")
S_MPT_AGAIN = spin_site("move_page_tables:again")


def move_page_tables(ctx: Ctx, vma: Vma, old_vpn: int, new_vma: Vma, new_vpn: int,
                     npages: int) -> KGen[Any]:
    """mm/mremap.c ``move_page_tables``: per extent, a huge pmd moves whole
    (``move_huge_pmd``) or is split; a whole table moves by its pmd (``move_normal_pmd``,
    always under the rmap locks); else the ptes move one by one (``move_ptes``, -EAGAIN
    retries the extent). ``need_rmap_locks`` (copy_vma()'s answer) is false for a new,
    unmerged VMA, the only kind this model makes: rmap walks it after the old one, so a
    walker sees the entry at the old address or the new one, and the huge-pmd and pte
    moves take no rmap locks."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    done = 0
    while done < npages:
        o, nw = old_vpn + done, new_vpn + done
        extent = min(n - o % n, n - nw % n, npages - done)
        pmdt = pud_pmd_table(mm)              # get_old_pmd(): a fresh walk per extent
        if pmdt is None:
            break
        old_pmdp = PmdPtr(pmdt, o // n)
        cur = yield from pmdp_get_lockless(ctx, old_pmdp, S_MPT_OLD_PMD)
        if cur is None:
            done += extent
            continue
        new_pmdp = yield from pmd_alloc(ctx, mm, nw)
        if type(cur) is HugePmd:
            if extent == n:
                # move_pgt_entry(HPAGE_PMD, ..., need_rmap_locks = false)
                moved = yield from move_huge_pmd(ctx, vma, o, nw, old_pmdp, new_pmdp)
                if moved:
                    done += extent
                    continue
            yield from __split_huge_pmd(ctx, vma, old_pmdp, o)
        elif extent == n and type(cur) is PteTable:
            # move_pgt_entry(NORMAL_PMD, ..., need_rmap_locks = true)
            yield from take_rmap_locks(ctx, vma)
            moved = yield from move_normal_pmd(ctx, vma, o, nw, old_pmdp, new_pmdp)
            yield from drop_rmap_locks(ctx, vma)
            if moved:
                done += extent
                continue
        if (yield from pmdp_get_lockless(ctx, old_pmdp, S_MPT_OLD_NONE)) is None:
            done += extent                      # a file huge pmd split to nothing
            continue
        yield from pte_alloc(ctx, mm, new_pmdp)
        if (yield from move_ptes(ctx, vma, old_pmdp, o, o + extent, new_pmdp, nw)):
            yield S_MPT_AGAIN
            continue
        done += extent
    return done


S_MR_LOCK = site("mremap:mmap_write_lock")
S_MR_FIND = site("mremap:vma_lookup")
S_MR_UNLOCK = site("mremap:mmap_write_unlock")
S_MR_VMA_ALLOC = site("copy_vma:vm_area_dup")
S_MR_ANON = site("copy_vma:anon_vma_clone")
S_MR_DETACH = site("do_vmi_munmap:vma_mark_detached")
S_MR_REMOVE = site("do_vmi_munmap:remove_vma")


def do_mremap(ctx: Ctx, mm: Mm, old_vpn: int, npages: int, new_vpn: int | None) -> KGen[Any]:
    """Move the VMA starting at ``old_vpn`` (``npages`` long) to ``new_vpn`` (or the first
    free range). Returns the new start or an error."""
    yield from mmap_write_lock(ctx, mm, S_MR_LOCK)
    yield S_MR_FIND
    ctx.access(mm, S_MR_FIND, False)
    vma = mm.find_vma(old_vpn)
    if vma is None or vma.start != old_vpn or vma.end != old_vpn + npages:
        yield from mmap_write_unlock(ctx, mm, S_MR_UNLOCK)
        return "-EFAULT"
    dest = get_unmapped_area(ctx, mm, npages, new_vpn)
    if dest is None:
        yield from mmap_write_unlock(ctx, mm, S_MR_UNLOCK)
        return "-ENOMEM"
    yield from vma_start_write(ctx, vma)
    pgoff = vma.pgoff
    new = Vma(mm, dest, dest + npages, vma.file, pgoff, vma.shared, vma.uffd_missing,
              vma.uffd_wp, vma.hugepage, vma.name)
    new = yield from ctx.kernel.alloc.alloc(ctx, new, S_MR_VMA_ALLOC)
    yield S_MR_ANON
    if vma.anon_vma is not None:
        new.anon_vma = vma.anon_vma
        vma.anon_vma.vmas.append(new)
    yield from vma_link(ctx, mm, new)
    yield from move_page_tables(ctx, vma, old_vpn, new, dest, npages)
    if new.uffd_armed:
        # mremap_userfaultfd_prep(): without UFFD_FEATURE_EVENT_REMAP (no model
        # registration has it) the new VMA drops its userfaultfd context and flags.
        yield S_MR_UFFD_DROP
        ctx.access(new, S_MR_UFFD_DROP, True)
        new.uffd_missing = new.uffd_wp = False
    # do_vmi_munmap() of the old range, with the mmap write lock kept.
    yield S_MR_DETACH
    ctx.access(mm, S_MR_DETACH, True)
    vma.detached = True
    mm.vmas.remove(vma)
    prev = [v for v in mm.vmas if v.end <= vma.start]
    nxt = [v for v in mm.vmas if v.start >= vma.end]
    tlb = yield from tlb_gather_mmu(ctx, mm)
    yield from unmap_vmas(ctx, tlb, [vma], vma.start, vma.end)
    yield from free_pgtables(ctx, tlb, [vma], prev[-1].end if prev else 0,
                             nxt[0].start if nxt else 0, mm_wr_locked=True)
    yield from tlb_finish_mmu(ctx, tlb)
    yield from vm_area_free(ctx, vma, S_MR_REMOVE)
    yield from mmap_write_unlock(ctx, mm, S_MR_UNLOCK)
    return dest
