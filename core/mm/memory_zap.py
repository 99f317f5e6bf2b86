"""Zapping and freeing page tables (mm/memory.c, part 3).

``zap_pte_range`` with its retry loop and PT reclaim, ``do_zap_pte_range``,
``zap_present_ptes``, ``zap_nonpresent_ptes`` (markers), ``zap_huge_pmd``,
``zap_pmd_range``, ``unmap_page_range``, ``unmap_single_vma``,
``zap_page_range_single_batched``, ``unmap_vmas``, and ``free_pgtables`` with
``free_pgd_range``, ``free_pmd_range`` and ``free_pte_range``.

Simplified: one pte at a time (no ``folio_pte_batch``); no delayed rmaps; rmap and rss
are updated in the step that clears the entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_write, spin_unlock, up_write
from ..sim import KernelReport, Report, site
from .anon_vma import put_anon_vma
from .folio import add_mm_counter, folio_remove_rmap, mm_counter
from .huge_memory import __split_huge_pmd, pgtable_trans_huge_withdraw
from .mmap_lock import vma_start_write
from .mmu_gather import (pmd_free_tlb, pte_free_tlb, tlb_flush_mmu, tlb_flush_mmu_tlbonly,
                         tlb_remove_folio, tlb_remove_tlb_entry)
from .pgtable import (PmdPtr, pud_pmd_table,
                      __pte_offset_map_lock, pmd_clear, pmd_lock, pmd_pgtable, pte_free,
                      pmdp_get_lockless, pmdp_huge_get_and_clear, pte_unmap_unlock, ptep_get,
                      ptep_get_and_clear, set_pte)
from .pt_reclaim import free_pte, reclaim_pt_is_enabled, try_get_and_clear_pmd, try_to_free_pte
from .tlb import flush_tlb_batched_pending
from .swap import free_swap_and_cache
from .types import (MM_ANONPAGES, MM_FILEPAGES, MM_SWAPENTS, PMD_SPLITTING, UFFD_WP_MARKER,
                    HugePmd, Pte, PteMarker, PteTable, SwapPte)

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .mmu_gather import MmuGather
    from .types import Vma

__all__ = ["ZapDetails", "zap_pte_range", "zap_pmd_range", "unmap_single_vma",
           "zap_page_range_single_batched", "unmap_vmas", "free_pgtables", "free_pgd_range"]


class ZapDetails:
    """``struct zap_details``: ``reclaim_pt`` (MADV_DONTNEED) and ``drop_marker``
    (``ZAP_FLAG_DROP_MARKER``: munmap and exit drop uffd-wp and guard markers)."""

    __slots__ = ("reclaim_pt", "even_cows", "drop_marker")

    def __init__(self, reclaim_pt: bool = False, drop_marker: bool = False) -> None:
        self.reclaim_pt = reclaim_pt
        self.even_cows = True
        self.drop_marker = drop_marker


S_ZP_CLEAR = site("zap_present_ptes:ptep_get_and_clear_full")
S_ZP_MARKER = site("zap_install_uffd_wp_if_needed:set_pte_at")


def zap_present_ptes(ctx: Ctx, tlb: MmuGather, vma: Vma, table, i: int, vpn: int, details,
                     rss) -> KGen[Any]:
    """mm/memory.c ``zap_present_ptes``, ``zap_present_folio_ptes``.

    mm/memory.c ``zap_present_ptes`` for one pte: clear it; the page's reference goes
    to the mmu_gather, to be dropped after the TLB flush; ``zap_install_uffd_wp_if_needed``
    leaves a uffd-wp marker where the pte carried the uffd-wp bit in a file VMA still
    registered for it (``pte_install_uffd_wp_if_needed``), which keeps the table from
    being reclaimed. Returns (force_flush_and_break, any_skipped).

    Simplified: no delayed rmap or dirty-folio force flush for shared file pages (the
    model has no writeback); swap entries carry no uffd-wp bit (the bit reaches ptes
    only from a marker a fault replaces, until UFFDIO_WRITEPROTECT is modelled)."""
    old = yield from ptep_get_and_clear(ctx, table, i, S_ZP_CLEAR)
    if old is None or type(old) is not Pte:
        # The entry changed under us: impossible while we hold ptl.
        return False, False
    tlb_remove_tlb_entry(tlb, vpn)
    ctx.event("pte_zapped", vma, vpn)
    folio = old.folio
    if not old.special:
        rss[mm_counter(folio)] -= 1
        folio_remove_rmap(ctx, folio, S_ZP_CLEAR)
    any_skipped = False
    # zap_install_uffd_wp_if_needed(): only a write-protected pte leaves a marker.
    if old.uffd_wp and vma.uffd_wp and not vma.anonymous and not details.drop_marker:
        yield from set_pte(ctx, table, i, UFFD_WP_MARKER, S_ZP_MARKER)
        any_skipped = True
    if old.special:
        return False, any_skipped
    full = yield from tlb_remove_folio(ctx, tlb, folio)
    return full, any_skipped


S_ZN_FREE = site("zap_nonpresent_ptes:free_swap_and_cache_nr")
S_ZN_CLEAR = site("zap_nonpresent_ptes:clear_not_present_full_ptes")


def zap_nonpresent_ptes(ctx: Ctx, vma: Vma, table, i: int, vpn: int, entry, details,
                        rss) -> KGen[Any]:
    """mm/memory.c ``zap_nonpresent_ptes``, ``zap_install_uffd_wp_if_needed``.

    mm/memory.c ``zap_nonpresent_ptes`` (v6.12-v6.18): markers are kept (the table
    stays non-empty) unless ``ZAP_FLAG_DROP_MARKER``; a swap entry's swap is freed
    (``free_swap_and_cache_nr``), then the entry is cleared. Simplified: no migration,
    device or hwpoison entries (the model has none), no swap-pte batching."""
    if type(entry) is PteMarker and not details.drop_marker:
        return True
    if type(entry) is SwapPte:
        # free_swap_and_cache_nr() first, then clear_not_present_full_ptes(): a lockless
        # reader may still see the entry after its swap count is gone.
        rss[MM_SWAPENTS] -= 1
        yield S_ZN_FREE
        yield from free_swap_and_cache(ctx, entry.slot, S_ZN_FREE)
    yield from set_pte(ctx, table, i, None, S_ZN_CLEAR)
    if type(entry) is SwapPte:
        ctx.event("pte_zapped", vma, vpn)
    return False


S_DZ_GET = site("do_zap_pte_range:ptep_get")
S_DZ_SKIP = site("do_zap_pte_range:skip_none")


def do_zap_pte_range(ctx: Ctx, tlb: MmuGather, vma: Vma, table, vpn: int, end: int, details,
                     rss) -> KGen[Any]:
    """mm/memory.c ``do_zap_pte_range``.

    Skip a run of none ptes, then zap one entry. Returns (nr, force_flush,
    force_break, any_skipped)."""
    n = ctx.config.ptrs_per_pte
    pte = yield from ptep_get(ctx, table, vpn % n, S_DZ_GET)
    max_nr = end - vpn
    nr = 0
    if pte is None:
        nr = 1
        while nr < max_nr:
            pte = yield from ptep_get(ctx, table, (vpn + nr) % n, S_DZ_SKIP)
            if pte is not None:
                break
            nr += 1
        max_nr -= nr
        if not max_nr:
            return nr, False, False, False
        vpn += nr
    if type(pte) is Pte:
        full, skipped = yield from zap_present_ptes(ctx, tlb, vma, table, vpn % n, vpn,
                                                    details, rss)
        return nr + 1, full, full, skipped
    skipped = yield from zap_nonpresent_ptes(ctx, vma, table, vpn % n, vpn, pte, details, rss)
    return nr + 1, False, False, skipped


S_ZPR_NOTABLE = site("zap_pte_range:table_vanished")
S_ZPR_RESCHED = site("zap_pte_range:need_resched")
S_ZPR_RSS = site("zap_pte_range:add_mm_rss_vec")
S_ZPR_UNLOCK = site("zap_pte_range:spin_unlock")
S_ZPR_UNMAP = site("zap_pte_range:pte_unmap")
S_ZPR_COND_RESCHED = site("zap_pte_range:cond_resched")


def zap_pte_range(ctx: Ctx, tlb: MmuGather, vma: Vma, pmdp: PmdPtr, addr: int, end: int,
                  details) -> KGen[Any]:
    """mm/memory.c ``zap_pte_range`` (v6.14+ with the Feb-2025 fix): zap [addr, end) of
    one table under its ptl, looping (``goto retry``) when it had to drop the lock for
    ``need_resched()`` or a full mmu_gather batch. With PT reclaim, a table emptied in
    one lock hold is detached on the spot (``try_get_and_clear_pmd``) and freed
    (``free_pte``); any other way to the end goes through the rescan of
    ``try_to_free_pte``. Returns how far it got (``addr < end`` if the table vanished)."""
    mm = vma.mm
    start = addr
    can_reclaim_pt = reclaim_pt_is_enabled(ctx, start, end, details)
    direct_reclaim = True
    pmdval = None
    while True:
        force_flush = False
        rss = {MM_ANONPAGES: 0, MM_FILEPAGES: 0, MM_SWAPENTS: 0}
        table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, addr)
        if table is None:
            yield S_ZPR_NOTABLE
            return addr
        yield from flush_tlb_batched_pending(ctx, mm)
        while True:
            yield S_ZPR_RESCHED
            if ctx.choose(2, S_ZPR_RESCHED.name):
                # BUG(reclaim-after-ptl-drop): keep direct_reclaim when the lock is
                # dropped midway, so the fast path later frees a table that a fault
                # refilled while the lock was dropped.
                if "reclaim-after-ptl-drop" not in ctx.bugs:
                    direct_reclaim = False
                break
            nr, ff, force_break, any_skipped = yield from do_zap_pte_range(
                ctx, tlb, vma, table, addr, end, details, rss)
            force_flush = force_flush or ff
            if any_skipped:
                can_reclaim_pt = False
            if force_break:
                addr += nr
                # BUG(reclaim-after-ptl-drop): same on a full-batch break.
                if "reclaim-after-ptl-drop" not in ctx.bugs:
                    direct_reclaim = False
                break
            addr += nr
            if addr == end:
                break
        if can_reclaim_pt and direct_reclaim and addr == end:
            direct_reclaim, pmdval = yield from try_get_and_clear_pmd(ctx, mm, pmdp)
        yield S_ZPR_RSS
        ctx.access(mm, S_ZPR_RSS, True)
        for k, v in rss.items():
            add_mm_counter(ctx, mm, k, v)
        if force_flush:
            yield from tlb_flush_mmu_tlbonly(ctx, tlb)
        yield from pte_unmap_unlock(ctx, ptl, S_ZPR_UNLOCK, S_ZPR_UNMAP)
        if force_flush:
            yield from tlb_flush_mmu(ctx, tlb)
        if addr == end:
            break
        yield S_ZPR_COND_RESCHED
        ctx.might_sleep(S_ZPR_COND_RESCHED)
    if can_reclaim_pt:
        if direct_reclaim:
            yield from free_pte(ctx, mm, start, tlb, pmdval)
        else:
            yield from try_to_free_pte(ctx, mm, pmdp, start, tlb)
    return addr


S_ZH_LOCK = site("zap_huge_pmd:pmd_lock")
S_ZH_CHECK = site("zap_huge_pmd:pmd_trans_huge")
S_ZH_CLEAR = site("zap_huge_pmd:pmdp_huge_get_and_clear_full")
S_ZH_UNLOCK = site("zap_huge_pmd:spin_unlock")
S_ZH_WITHDRAW = site("zap_deposited_table:pgtable_trans_huge_withdraw")
S_ZH_PTE_FREE = site("zap_deposited_table:pte_free")


def zap_huge_pmd(ctx: Ctx, tlb: MmuGather, vma: Vma, pmdp: PmdPtr,
                 vpn: int) -> KGen[Any]:
    """mm/huge_memory.c ``zap_huge_pmd``, ``zap_deposited_table``.

    ``zap_huge_pmd`` (file pmd): under the pmd lock, if still huge: clear it, drop the
    rmap and rss, and hand the folio to the gather. Returns True if it zapped."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    pml = yield from pmd_lock(ctx, mm, pmdp, S_ZH_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_ZH_CHECK)
    if type(cur) is not HugePmd:
        yield from spin_unlock(ctx, pml, S_ZH_UNLOCK)
        return False
    old = yield from pmdp_huge_get_and_clear(ctx, pmdp, S_ZH_CLEAR)
    tlb.adjust_range(vpn, vpn + n)
    tlb.cleared_ptes = True
    for v in range(vpn, vpn + n):
        ctx.event("pte_zapped", vma, v)
    folio_remove_rmap(ctx, old.folio, S_ZH_CLEAR)
    add_mm_counter(ctx, mm, mm_counter(old.folio), -n)
    if vma.anonymous:
        # zap_deposited_table(): the table parked under the huge pmd goes too.
        yield S_ZH_WITHDRAW
        table = pgtable_trans_huge_withdraw(ctx, pmdp, S_ZH_WITHDRAW)
        yield from pte_free(ctx, table, S_ZH_PTE_FREE)
        mm.nr_ptes -= 1
    yield from spin_unlock(ctx, pml, S_ZH_UNLOCK)
    if (yield from tlb_remove_folio(ctx, tlb, old.folio)):
        yield from tlb_flush_mmu(ctx, tlb)
    return True


S_ZPMD_READ = site("zap_pmd_range:pmd_read")
S_ZPMD_NONE = site("zap_pmd_range:pmd_none")
S_ZPMD_RESCHED = site("zap_pmd_range:cond_resched")


def zap_pmd_range(ctx: Ctx, tlb: MmuGather, vma: Vma, addr: int, end: int, details) -> KGen[None]:
    """mm/memory.c ``zap_pmd_range``.

    ``zap_pmd_range``: per pmd: split or zap a huge pmd, skip a none pmd, zap a table;
    if ``zap_pte_range`` stopped short (its table vanished), look at the same pmd again."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return
    while addr != end:
        pmdp = PmdPtr(pmdt, addr // n)
        nxt = min(addr - addr % n + n, end)
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_ZPMD_READ)
        if type(cur) is HugePmd or cur is PMD_SPLITTING:      # pmd_trans_huge()
            if nxt - addr != n:
                yield from __split_huge_pmd(ctx, vma, pmdp, addr)
            elif (yield from zap_huge_pmd(ctx, tlb, vma, pmdp, addr)):
                addr = nxt
                continue
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_ZPMD_NONE)
        if cur is None:
            addr = nxt
            continue
        addr = yield from zap_pte_range(ctx, tlb, vma, pmdp, addr, nxt, details)
        yield S_ZPMD_RESCHED
        ctx.might_sleep(S_ZPMD_RESCHED)


def unmap_single_vma(ctx: Ctx, tlb: MmuGather, vma: Vma, start: int, end: int,
                     details) -> KGen[None]:
    """mm/memory.c ``unmap_single_vma``, ``unmap_page_range``.

    ``unmap_single_vma`` -> ``unmap_page_range`` (the PGD to PUD levels are folded;
    ``tlb_start_vma``/``tlb_end_vma`` are no-ops on x86)."""
    start = max(start, vma.start)
    end = min(end, vma.end)
    if start >= end:
        return
    yield from zap_pmd_range(ctx, tlb, vma, start, end, details)


def zap_page_range_single_batched(ctx: Ctx, tlb: MmuGather, vma: Vma, addr: int, size: int,
                                  details) -> KGen[None]:
    """mm/memory.c ``zap_page_range_single_batched``.

    The caller owns the mmu_gather (madvise batches a whole syscall)."""
    yield from unmap_single_vma(ctx, tlb, vma, addr, addr + size, details)


def unmap_vmas(ctx: Ctx, tlb: MmuGather, vmas, start: int, end: int) -> KGen[None]:
    """mm/memory.c ``unmap_vmas``.

    ``unmap_vmas`` (munmap and exit): zap every VMA, dropping markers, never
    reclaiming tables (``free_pgtables`` frees them)."""
    details = ZapDetails(reclaim_pt=False, drop_marker=True)
    for vma in vmas:
        yield from unmap_single_vma(ctx, tlb, vma, start, end, details)


# -- free_pgtables --------------------------------------------------------------------------------

S_UNLINK_ANON_LOCK = site("unlink_anon_vmas:anon_vma_lock_write")
S_UNLINK_ANON_UNLOCK = site("unlink_anon_vmas:anon_vma_unlock_write")
S_UNLINK_FILE_LOCK = site("unlink_file_vma_batch_final:i_mmap_lock_write")
S_UNLINK_FILE_UNLOCK = site("unlink_file_vma_batch_final:i_mmap_unlock_write")
S_FPR_READ = site("free_pmd_range:pmd_none_or_clear_bad")
S_FPTE_READ = site("free_pte_range:pmd_pgtable")
S_FPTE_CLEAR = site("free_pte_range:pmd_clear")
S_FPTE_DEC = site("free_pte_range:mm_dec_nr_ptes")
S_FPUD_CLEAR = site("free_pmd_range:pud_clear")


def unlink_anon_vmas(ctx: Ctx, vma: Vma) -> KGen[None]:
    """mm/rmap.c ``unlink_anon_vmas``.

    ``unlink_anon_vmas``: take the VMA out of its anon_vma's tree under the write lock;
    when the tree is empty, drop the anon_vma's reference after the unlock."""
    av = vma.anon_vma
    if av is None:
        return
    yield from down_write(ctx, av.rwsem, S_UNLINK_ANON_LOCK)
    if vma in av.vmas:
        av.vmas.remove(vma)
    empty = not av.vmas                              # RB_EMPTY_ROOT(&anon_vma->rb_root)
    yield from up_write(ctx, av.rwsem, S_UNLINK_ANON_UNLOCK)
    if empty:
        yield from put_anon_vma(ctx, av)


def unlink_file_vma(ctx: Ctx, vma: Vma) -> KGen[None]:
    """mm/vma.c ``unlink_file_vma_batch_final``."""
    f = vma.file
    if f is None:
        return
    yield from down_write(ctx, f.i_mmap_rwsem, S_UNLINK_FILE_LOCK)
    if vma in f.i_mmap:
        f.i_mmap.remove(vma)
    yield from up_write(ctx, f.i_mmap_rwsem, S_UNLINK_FILE_UNLOCK)


def free_pte_range(ctx: Ctx, tlb: MmuGather, pmdp: PmdPtr, vpn: int) -> KGen[None]:
    """mm/memory.c ``free_pte_range``.

    Clear the pmd with no lock at all and queue the table: the VMAs are unreachable
    (unlinked from rmap, write-locked or detached) and were zapped already."""
    mm = tlb.mm
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_FPTE_READ)
    token = pmd_pgtable(cur)
    yield from pmd_clear(ctx, pmdp, S_FPTE_CLEAR)
    yield from pte_free_tlb(ctx, tlb, token, vpn)
    yield S_FPTE_DEC
    ctx.access(mm, S_FPTE_DEC, True)
    mm.nr_ptes -= 1


def free_pmd_range(ctx: Ctx, tlb: MmuGather, addr: int, end: int, floor: int,
                   ceiling: int) -> KGen[None]:
    """mm/memory.c ``free_pmd_range``."""
    mm = tlb.mm
    n = ctx.config.ptrs_per_pte
    total = n * ctx.config.ptrs_per_pmd
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return
    start = addr
    while addr != end:
        pmdp = PmdPtr(pmdt, addr // n)
        nxt = min(addr - addr % n + n, end)
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_FPR_READ)
        if cur is not None:
            if type(cur) is not PteTable:
                # pmd_none_or_clear_bad(): anything but a table here is a bad pmd.
                r = Report("BUG: Bad pmd in free_pmd_range", "bad-pmd")
                r.add("pmd", f"pmd {pmdp.idx} still holds a {type(cur).__name__}")
                raise KernelReport(r)
            yield from free_pte_range(ctx, tlb, pmdp, addr)
        addr = nxt
    # The PMD table itself, if [floor, ceiling) covers all of it (PUD_MASK rounding).
    start -= start % total
    if start < floor:
        return
    if ceiling:
        ceiling -= ceiling % total
        if not ceiling:
            return
        if end - 1 > ceiling - 1:
            return
    yield S_FPUD_CLEAR
    ctx.access(mm, S_FPUD_CLEAR, True)
    mm.pud = None
    mm.nr_pmds -= 1
    yield from pmd_free_tlb(ctx, tlb, pmdt, start)


def free_pgd_range(ctx: Ctx, tlb: MmuGather, addr: int, end: int, floor: int,
                   ceiling: int) -> KGen[None]:
    """mm/memory.c ``free_pgd_range``: free only the tables that lie wholly inside
    [floor, ceiling) (``ceiling`` 0 means no ceiling), rounding to PMD boundaries."""
    n = ctx.config.ptrs_per_pte
    addr -= addr % n
    if addr < floor:
        addr += n
    if ceiling:
        ceiling -= ceiling % n
        if not ceiling:
            return
        if end - 1 > ceiling - 1:
            end -= n
    if addr > end - 1:
        return
    yield from free_pmd_range(ctx, tlb, addr, end, floor, ceiling)


def free_pgtables(ctx: Ctx, tlb: MmuGather, vmas, floor: int, ceiling: int,
                  mm_wr_locked: bool = False) -> KGen[None]:
    """mm/memory.c ``free_pgtables``.

    ``free_pgtables``: per VMA (in address order), hide it from rmap (anon_vma and
    i_mmap, write-locked) and then free the tables it alone covers. Not grouped: each
    VMA frees its own range against the next VMA's start (the kernel's grouping of nearby
    VMAs is an optimisation with the same result)."""
    for k, vma in enumerate(vmas):
        nxt = vmas[k + 1] if k + 1 < len(vmas) else None
        if mm_wr_locked:
            yield from vma_start_write(ctx, vma)
        yield from unlink_anon_vmas(ctx, vma)
        yield from unlink_file_vma(ctx, vma)
        yield from free_pgd_range(ctx, tlb, vma.start, vma.end, floor,
                                  nxt.start if nxt is not None else ceiling)
