"""Changing the protection of mapped pages: mprotect(2) and UFFDIO_WRITEPROTECT, both
through ``change_protection`` (mm/mprotect.c, mm/huge_memory.c, mm/userfaultfd.c; read
from Linux 7.3.4, docs/kernel-source-notes-18.md section 1-2).

``change_pmd_range`` walks the pmds of the range: a none pmd is skipped (after
``change_pmd_prepare``, which for uffd-wp on a file VMA first installs a table so that
markers can be written), a huge pmd is changed whole (``change_huge_pmd``) or split, and a
table goes to ``change_pte_range``, which maps it with ``pte_offset_map_lock``. If that
fails the table was freed or collapsed since the pmd was read (khugepaged's
``retract_page_tables``, PT reclaim under MADV_DONTNEED's VMA lock: UFFDIO_WRITEPROTECT
holds only the mmap read lock), and the pmd is looked at again (``goto again``).

Per pte, under the pte lock: a present pte is cleared and rewritten
(``ptep_modify_prot_start``/``_commit``: two stores, so a lockless reader may see it
none in between) with the VMA's new write permission, the uffd-wp bit set (which also
write-protects) or cleared, and, with ``MM_CP_TRY_CHANGE_WRITABLE``, made writable again
where a write fault would only reuse the page (an exclusive anonymous page; a dirty pte
of a shared mapping). A pte whose write bit changed widens the gather's range, and
``tlb_finish_mmu`` flushes it: until then other CPUs may still write through their old
writable TLB entries, which is why ``do_wp_page`` flushes when a flush is pending.

Simplified: whole VMAs only for mprotect (no ``vma_modify_flags`` split or merge) and
read-only or read-write only (no PROT_NONE, NUMA hinting, pkeys, soft-dirty or
uffd-rwp); a swap entry keeps no uffd-wp bit (``pte_swp_mkuffd``: the model's swap ptes
have none), and a huge pmd is split for a uffd-wp change (the model's huge pmds have no
uffd-wp bit); ``ctx->map_changing_lock`` is not modelled (no non-cooperative uffd events).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import spin_unlock
from ..sim import site, spin_site
from .huge_memory import __split_huge_pmd, pmd_trans_huge_lock
from .memory import pte_alloc
from .mmap_lock import (mmap_read_lock, mmap_read_unlock, mmap_write_lock, mmap_write_unlock,
                        vma_start_write)
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu
from .pgtable import (PmdPtr, __pte_offset_map_lock, pmdp_get_lockless, ptep_get,
                      ptep_get_and_clear, pte_unmap_unlock, pud_pmd_table, set_pte)
from .tlb import flush_tlb_batched_pending
from .types import PMD_SPLITTING, UFFD_WP_MARKER, HugePmd, Pte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .mmu_gather import MmuGather
    from .types import Mm, Vma

__all__ = ["MM_CP_TRY_CHANGE_WRITABLE", "MM_CP_UFFD_WP", "MM_CP_UFFD_WP_RESOLVE",
           "change_protection", "do_mprotect", "mwriteprotect_range"]

MM_CP_TRY_CHANGE_WRITABLE = 1
MM_CP_UFFD_WP = 2
MM_CP_UFFD_WP_RESOLVE = 4
EAGAIN = None          # change_pte_range's -EAGAIN: no table under pte_offset_map_lock


def userfaultfd_wp_use_markers(vma: Vma) -> bool:
    """include/linux/userfaultfd_k.h ``userfaultfd_wp_use_markers``: a file VMA
    registered for uffd-wp protects none ptes with markers (anonymous ones only with
    UFFD_FEATURE_WP_UNPOPULATED, which the model does not have)."""
    return vma.uffd_wp and not vma.anonymous


def vma_wants_manual_pte_write_upgrade(vma: Vma) -> bool:
    """mm/vma.h ``vma_wants_manual_pte_write_upgrade``: a writable VMA whose
    ptes stay read-only until a write fault (private ones: COW; shared ones tracked for
    uffd-wp), so a protection change may upgrade the ptes itself."""
    return vma.writable and (not vma.shared or vma.uffd_wp)


def vm_page_prot_write(vma: Vma) -> bool:
    """Model only: model machinery, mirrors no kernel function (the write bit of
    ``vma->vm_page_prot``: set only for a writable shared mapping that needs no write
    notification; private mappings are read-only until the write fault)."""
    return vma.writable and vma.shared and not vma.uffd_wp


def can_change_pte_writable(vma: Vma, pte: Pte) -> bool:
    """mm/mprotect.c ``can_change_pte_writable``: an exclusive anonymous page of a
    private mapping (every anonymous page is, in the model), or a dirty pte of a shared
    one; never a uffd-wp protected pte."""
    if not vma.writable or pte.uffd_wp or pte.special:
        return False
    if not vma.shared:
        return pte.folio.anon
    return pte.dirty


S_CPR_READ = site("change_pte_range:ptep_get")
S_CPR_START = site("change_present_ptes:modify_prot_start_ptes")
S_CPR_COMMIT = site("prot_commit_flush_ptes:modify_prot_commit_ptes")
S_CPR_MARKER = site("change_pte_range:set_pte_at_marker")
S_CPR_CLEAR_MARKER = site("change_softleaf_pte:pte_clear_marker")
S_CPR_UNLOCK = site("change_pte_range:pte_unmap_unlock")
S_CPR_UNMAP = site("change_pte_range:pte_unmap")


def change_pte_range(ctx: Ctx, tlb: MmuGather, vma: Vma, pmdp: PmdPtr, vpn: int, end: int,
                     cp_flags: int) -> KGen[Any]:
    """mm/mprotect.c ``change_pte_range`` with ``change_present_ptes`` and
    ``change_softleaf_pte``: the pages changed, or ``EAGAIN`` if no table could be
    mapped and locked."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, vpn)
    if table is None:
        return EAGAIN
    yield from flush_tlb_batched_pending(ctx, mm)
    uffd_wp = bool(cp_flags & MM_CP_UFFD_WP)
    uffd_resolve = bool(cp_flags & MM_CP_UFFD_WP_RESOLVE)
    pages = 0
    for v in range(vpn, end):
        old = yield from ptep_get(ctx, table, v % n, S_CPR_READ)
        if type(old) is Pte:
            old = yield from ptep_get_and_clear(ctx, table, v % n, S_CPR_START)
            wp = True if uffd_wp else (False if uffd_resolve else old.uffd_wp)
            write = vm_page_prot_write(vma) and not wp
            new = Pte(old.folio, old.page, write, old.dirty, old.young, old.special, wp)
            if (cp_flags & MM_CP_TRY_CHANGE_WRITABLE and not write
                    and can_change_pte_writable(vma, new)):
                new = Pte(old.folio, old.page, True, old.dirty, old.young, old.special, wp)
            yield from set_pte(ctx, table, v % n, new, S_CPR_COMMIT)
            if old.write != new.write:               # x86 pte_needs_flush()
                tlb.adjust_range(v, v + 1)           # tlb_flush_pte_range()
                tlb.cleared_ptes = True
            pages += 1
        elif old is None:
            if uffd_wp and userfaultfd_wp_use_markers(vma):
                yield from set_pte(ctx, table, v % n, UFFD_WP_MARKER, S_CPR_MARKER)
                pages += 1
        elif old is UFFD_WP_MARKER and uffd_resolve:
            yield from set_pte(ctx, table, v % n, None, S_CPR_CLEAR_MARKER)
            pages += 1
    yield from pte_unmap_unlock(ctx, ptl, S_CPR_UNLOCK, S_CPR_UNMAP)
    return pages


S_CHP_SET = site("change_huge_pmd:set_pmd_at")
S_CHP_UNLOCK = site("change_huge_pmd:spin_unlock")


def change_huge_pmd(ctx: Ctx, tlb: MmuGather, vma: Vma, pmdp: PmdPtr, vpn: int,
                    cp_flags: int) -> KGen[int]:
    """mm/huge_memory.c ``change_huge_pmd``: under the pmd lock, if the pmd is still
    huge, rewrite it with the new write permission; returns the pages changed (0: not
    huge any more, look at the pmd again). Simplified: the pmd is rewritten in one store
    (``pmdp_invalidate_ad`` then ``set_pmd_at`` in the kernel; a lockless reader's pmd
    recheck sees the change either way); only mprotect reaches it (a uffd-wp change
    splits)."""
    n = ctx.config.ptrs_per_pte
    pml = yield from pmd_trans_huge_lock(ctx, vma.mm, pmdp)
    if pml is None:
        return 0
    old = yield from pmdp_get_lockless(ctx, pmdp, S_CHP_SET)
    write = vma.writable and (vm_page_prot_write(vma) or (
        cp_flags & MM_CP_TRY_CHANGE_WRITABLE and old.folio.anon and not vma.shared))
    ctx.access(pmdp.table, S_CHP_SET, True)
    pmdp.table.slots[pmdp.idx] = HugePmd(old.folio, bool(write))
    if old.write != bool(write):                     # huge_pmd_needs_flush()
        tlb.adjust_range(vpn, vpn + n)               # tlb_flush_pmd_range()
        tlb.cleared_ptes = True
    yield from spin_unlock(ctx, pml, S_CHP_UNLOCK)
    return n


S_CPMD_NONE = site("change_pmd_range:pmd_none")
S_CPMD_READ = site("change_pmd_range:pmdp_get_lockless")
S_CPMD_AGAIN = spin_site("change_pmd_range:again")


def change_pmd_range(ctx: Ctx, tlb: MmuGather, vma: Vma, start: int, end: int,
                     cp_flags: int) -> KGen[int]:
    """mm/mprotect.c ``change_pmd_range`` (with ``change_protection_range`` and
    ``change_pud_range`` above it: the pud is read once, a none pud changes nothing)."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return 0
    populate = bool(cp_flags & MM_CP_UFFD_WP) and userfaultfd_wp_use_markers(vma)
    split_needed = bool(cp_flags & (MM_CP_UFFD_WP | MM_CP_UFFD_WP_RESOLVE))
    pages = 0
    addr = start
    while addr < end:
        nxt = min(addr - addr % n + n, end)
        pmdp = PmdPtr(pmdt, addr // n)
        while True:                                   # again:
            if populate:
                yield from pte_alloc(ctx, mm, pmdp)  # change_pmd_prepare()
            cur = yield from pmdp_get_lockless(ctx, pmdp, S_CPMD_NONE)
            if cur is None:
                break
            cur = yield from pmdp_get_lockless(ctx, pmdp, S_CPMD_READ)
            if type(cur) is HugePmd or cur is PMD_SPLITTING:
                if nxt - addr != n or split_needed:
                    yield from __split_huge_pmd(ctx, vma, pmdp, addr)
                    if populate:
                        yield from pte_alloc(ctx, mm, pmdp)
                else:
                    ret = yield from change_huge_pmd(ctx, tlb, vma, pmdp, addr, cp_flags)
                    if ret:
                        pages += ret
                        break
            ret = yield from change_pte_range(ctx, tlb, vma, pmdp, addr, nxt, cp_flags)
            if ret is EAGAIN:
                yield S_CPMD_AGAIN
                continue
            pages += ret
            break
        addr = nxt
    return pages


def change_protection(ctx: Ctx, tlb: MmuGather, vma: Vma, start: int, end: int,
                      cp_flags: int) -> KGen[int]:
    """mm/mprotect.c ``change_protection``: the pages of [start, end) of ``vma`` get the
    VMA's protection and the uffd-wp change of ``cp_flags``; the flush is the caller's
    (``tlb_finish_mmu``)."""
    return (yield from change_pmd_range(ctx, tlb, vma, start, end, cp_flags))


S_MP_LOCK = site("do_mprotect_pkey:mmap_write_lock")
S_MP_FIND = site("do_mprotect_pkey:vma_find")
S_MP_FLAGS = site("mprotect_fixup:vma_flags_reset_once")
S_MP_UNLOCK = site("do_mprotect_pkey:mmap_write_unlock")


def do_mprotect(ctx: Ctx, mm: Mm, start: int, npages: int, writable: bool) -> KGen[Any]:
    """mm/mprotect.c ``do_mprotect_pkey`` and ``mprotect_fixup``: under the mmap write
    lock, one gather for the syscall; the VMA is write-locked (waiting for faults and
    MADV_DONTNEED under its read lock), its flags changed, its ptes changed, and
    ``tlb_finish_mmu`` flushes before the lock is dropped. Returns 0 or -ENOMEM."""
    yield from mmap_write_lock(ctx, mm, S_MP_LOCK)
    yield S_MP_FIND
    ctx.access(mm, S_MP_FIND, False)
    vma = mm.find_vma(start)
    if vma is None or vma.start != start or vma.end != start + npages:
        yield from mmap_write_unlock(ctx, mm, S_MP_UNLOCK)
        return "-ENOMEM"
    tlb = yield from tlb_gather_mmu(ctx, mm)
    if vma.writable != writable:                  # mprotect_fixup(): same flags, no work
        yield from vma_start_write(ctx, vma)
        yield S_MP_FLAGS
        ctx.access(vma, S_MP_FLAGS, True)
        vma.writable = writable
        flags = MM_CP_TRY_CHANGE_WRITABLE if vma_wants_manual_pte_write_upgrade(vma) else 0
        yield from change_protection(ctx, tlb, vma, vma.start, vma.end, flags)
    yield from tlb_finish_mmu(ctx, tlb)
    yield from mmap_write_unlock(ctx, mm, S_MP_UNLOCK)
    return 0


S_MWP_LOCK = site("mwriteprotect_range:mmap_read_lock")
S_MWP_FIND = site("mwriteprotect_range:for_each_vma_range")
S_MWP_UNLOCK = site("mwriteprotect_range:mmap_read_unlock")


def mwriteprotect_range(ctx: Ctx, mm: Mm, start: int, npages: int,
                        enable_wp: bool) -> KGen[Any]:
    """mm/userfaultfd.c ``mwriteprotect_range`` and ``uffd_wp_range``: under the mmap
    read lock only (faults, UFFDIO_COPY and MADV_DONTNEED run alongside), each VMA of the
    range must be registered for uffd-wp (else -ENOENT); each gets its own gather,
    ``change_protection`` with MM_CP_UFFD_WP or MM_CP_UFFD_WP_RESOLVE (and the write
    upgrade where the VMA wants it), and its flush. Returns 0 or the error."""
    yield from mmap_read_lock(ctx, mm, S_MWP_LOCK)
    yield S_MWP_FIND
    ctx.access(mm, S_MWP_FIND, False)
    end = start + npages
    vmas = [v for v in mm.vmas if v.start < end and start < v.end]
    err: int | str = "-ENOENT"
    for vma in vmas:
        if not vma.uffd_wp:
            err = "-ENOENT"
            break
        flags = MM_CP_UFFD_WP if enable_wp else MM_CP_UFFD_WP_RESOLVE
        if not enable_wp and vma_wants_manual_pte_write_upgrade(vma):
            flags |= MM_CP_TRY_CHANGE_WRITABLE
        tlb = yield from tlb_gather_mmu(ctx, mm)
        yield from change_protection(ctx, tlb, vma, max(start, vma.start), min(end, vma.end),
                                     flags)
        yield from tlb_finish_mmu(ctx, tlb)
        err = 0
    yield from mmap_read_unlock(ctx, mm, S_MWP_UNLOCK)
    return err
