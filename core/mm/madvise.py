"""madvise(MADV_DONTNEED), madvise(MADV_FREE) and madvise(MADV_COLLAPSE) (mm/madvise.c,
mm/khugepaged.c), and khugepaged's scan of one file range.

MADV_DONTNEED (v6.16+ shape): one mmu_gather per syscall; for each VMA of the range,
``madvise_dontneed_single_vma`` zaps with ``reclaim_pt`` (so empty PTE tables are freed);
``tlb_finish_mmu`` then flushes and frees. It runs under the mmap read lock here (the
per-VMA read lock of v6.17 is the ``per_vma_lock_madvise`` config of the kernel model II).

MADV_COLLAPSE of a file VMA: drop the mmap lock, ``hpage_collapse_scan_file`` (a range
already held by a PMD-order folio needs only the page-table step) and ``collapse_file``;
then, under the mmap read lock again, ``collapse_pte_mapped_thp(install_pmd=true)``.
khugepaged does the same with ``install_pmd=false`` and its exit checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_read, up_read
from ..sim import site
from .khugepaged import (SCAN_PTE_MAPPED_HUGEPAGE, SCAN_VMA_CHECK, collapse_file,
                         collapse_pte_mapped_thp, hpage_collapse_test_exit, khugepaged_scan_anon)
from .memory_file import vma_suits_huge
from .memory_zap import ZapDetails, zap_page_range_single_batched
from .mmap_lock import lock_vma_under_rcu, vma_end_read
from .folio import folio_trylock, folio_unlock
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu, tlb_remove_tlb_entry
from .pgtable import (PmdPtr, pud_pmd_table,
                      __pte_offset_map_lock, pmdp_get_lockless, pte_unmap_unlock,
                      ptep_get)
from .tlb import flush_tlb_batched_pending
from .folio import add_mm_counter
from .swap import folio_free_swap, free_swap_and_cache
from .types import MM_SWAPENTS, Pte, PteTable, SwapPte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .mmu_gather import MmuGather
    from .types import Mm, Vma

__all__ = ["madvise_dontneed", "madvise_free", "madvise_collapse", "khugepaged_scan_range"]

S_MD_LOCK = site("madvise_lock:mmap_read_lock")
S_MD_UNLOCK = site("madvise_unlock:mmap_read_unlock")
S_MD_VMAS = site("madvise_walk_vmas:find_vma")
S_MD_VMA_FALLBACK = site("try_vma_read_lock:vma_end_read")
S_MD_VMA_END = site("madvise_walk_vmas:vma_end_read")


def try_vma_read_lock(ctx: Ctx, mm: Mm, start: int, end: int) -> KGen[Any]:
    """mm/madvise.c ``try_vma_read_lock``.

    ``try_vma_read_lock``: the range's one VMA, read-locked, unless the range spans
    more than one VMA or the VMA is uffd-armed (then: the mmap lock)."""
    vma = yield from lock_vma_under_rcu(ctx, mm, start)
    if vma is None:
        return None
    if end > vma.end or vma.uffd_armed:
        yield from vma_end_read(ctx, vma, S_MD_VMA_FALLBACK)
        return None
    return vma


def madvise_dontneed(ctx: Ctx, mm: Mm, start: int, npages: int) -> KGen[Any]:
    """mm/madvise.c ``madvise_dontneed_single_vma``.

    mm/madvise.c ``do_madvise(MADV_DONTNEED)`` (v6.17+ shape): ``madvise_lock``, then
    one mmu_gather for the syscall (``madvise_init_tlb``), the walk, ``madvise_finish_tlb``
    and ``madvise_unlock``. In VMA-lock mode (v6.17, ``per_vma_lock_madvise``) the lock
    is taken by the walk, so the gather comes first: the VMA's read lock if one VMA covers
    the range and it is not uffd-armed, else the mmap read lock; ``tlb_finish_mmu`` runs
    after the VMA lock is dropped. Returns 0 or -ENOMEM (a hole in the range)."""
    end = start + npages
    details = ZapDetails(reclaim_pt=True)
    vma = None
    if ctx.config.per_vma_lock_madvise:
        # madvise_lock() takes nothing in VMA-lock mode: madvise_init_tlb(), then the
        # walk read-locks the VMA (or falls back to the mmap read lock).
        tlb = yield from tlb_gather_mmu(ctx, mm)             # madvise_init_tlb()
        vma = yield from try_vma_read_lock(ctx, mm, start, end)
        if vma is not None:
            yield from zap_page_range_single_batched(ctx, tlb, vma, start, npages, details)
            yield from vma_end_read(ctx, vma, S_MD_VMA_END)
            yield from tlb_finish_mmu(ctx, tlb)              # madvise_finish_tlb()
            return 0
        yield from down_read(ctx, mm.mmap_lock, S_MD_LOCK)
    else:
        yield from down_read(ctx, mm.mmap_lock, S_MD_LOCK)   # madvise_lock()
        tlb = yield from tlb_gather_mmu(ctx, mm)             # madvise_init_tlb()
    yield S_MD_VMAS
    ctx.access(mm, S_MD_VMAS, False)
    vmas = [v for v in mm.vmas if v.start < end and start < v.end]
    covered = sum(min(v.end, end) - max(v.start, start) for v in vmas)
    for v in vmas:
        lo, hi = max(v.start, start), min(v.end, end)
        yield from zap_page_range_single_batched(ctx, tlb, v, lo, hi - lo, details)
    yield from tlb_finish_mmu(ctx, tlb)
    yield from up_read(ctx, mm.mmap_lock, S_MD_UNLOCK)
    return 0 if covered == npages else "-ENOMEM"


S_SCAN_FILE = site("hpage_collapse_scan_file:xas_for_each")


def hpage_collapse_scan_file(ctx: Ctx, f, start: int, is_khugepaged: bool) -> KGen[Any]:
    """mm/khugepaged.c ``hpage_collapse_scan_file``.

    Look at the page cache first: a range already held by a PMD-order folio needs only
    its page tables collapsed."""
    yield S_SCAN_FILE
    ctx.access(f, S_SCAN_FILE, False)
    folio = f.page_cache.get(start)
    if folio is not None and folio.npages == ctx.config.ptrs_per_pte:
        return SCAN_PTE_MAPPED_HUGEPAGE
    return (yield from collapse_file(ctx, f, start, is_khugepaged))


S_MC_LOCK = site("madvise_collapse:mmap_read_lock")
S_MC_REVALIDATE = site("madvise_collapse:hugepage_vma_revalidate")
S_MC_UNLOCK = site("madvise_collapse:mmap_read_unlock")
S_MC_LOCK2 = site("madvise_collapse:mmap_read_lock_pte_mapped")
S_MC_UNLOCK2 = site("madvise_collapse:mmap_read_unlock_pte_mapped")


def madvise_collapse(ctx: Ctx, mm: Mm, start: int, npages: int) -> KGen[Any]:
    """mm/khugepaged.c ``madvise_collapse``.

    MADV_COLLAPSE over the PMD-aligned part of [start, start + npages) of a file VMA.
    Returns the results per huge page."""
    n = ctx.config.ptrs_per_pte
    results = []
    addr = start + (-start) % n
    end = start + npages
    while addr + n <= end:
        yield from down_read(ctx, mm.mmap_lock, S_MC_LOCK)
        yield S_MC_REVALIDATE
        ctx.access(mm, S_MC_REVALIDATE, False)
        vma = mm.find_vma(addr)
        if vma is not None and vma.anonymous:
            yield from up_read(ctx, mm.mmap_lock, S_MC_UNLOCK)
            results.append((yield from khugepaged_scan_anon(ctx, mm, addr)))
            addr += n
            continue
        if vma is None or vma.file is None or not vma_suits_huge(ctx, vma, addr):
            yield from up_read(ctx, mm.mmap_lock, S_MC_UNLOCK)
            results.append(SCAN_VMA_CHECK)
            addr += n
            continue
        f, pgoff = vma.file, vma.page_index(addr)
        yield from up_read(ctx, mm.mmap_lock, S_MC_UNLOCK)
        result = yield from hpage_collapse_scan_file(ctx, f, pgoff, False)
        if result == SCAN_PTE_MAPPED_HUGEPAGE:
            yield from down_read(ctx, mm.mmap_lock, S_MC_LOCK2)
            result = yield from collapse_pte_mapped_thp(ctx, mm, addr, True)
            yield from up_read(ctx, mm.mmap_lock, S_MC_UNLOCK2)
        results.append(result)
        addr += n
    return results


S_KH_LOCK = site("khugepaged_scan_mm_slot:mmap_read_lock")
S_KH_VMA = site("khugepaged_scan_mm_slot:find_vma")
S_KH_UNLOCK = site("khugepaged_scan_mm_slot:mmap_read_unlock")
S_KH_LOCK2 = site("khugepaged_scan_mm_slot:mmap_read_lock_pte_mapped")
S_KH_UNLOCK2 = site("khugepaged_scan_mm_slot:mmap_read_unlock_pte_mapped")


def khugepaged_scan_range(ctx: Ctx, mm: Mm, addr: int) -> KGen[Any]:
    """mm/khugepaged.c ``khugepaged_scan_mm_slot``.

    khugepaged's scan of the huge page at ``addr``: an anonymous VMA goes to
    ``khugepaged_scan_anon``; for a file VMA: the exit checks, then
    ``hpage_collapse_scan_file`` and, for a range already huge in the page cache,
    ``collapse_pte_mapped_thp(install_pmd=false)``. khugepaged holds ``mmgrab`` on the mm
    (its mm_slot), so the mm itself stays allocated."""
    n = ctx.config.ptrs_per_pte
    addr -= addr % n
    yield from down_read(ctx, mm.mmap_lock, S_KH_LOCK)
    if (yield from hpage_collapse_test_exit(ctx, mm)):
        yield from up_read(ctx, mm.mmap_lock, S_KH_UNLOCK)
        return "exit"
    yield S_KH_VMA
    ctx.access(mm, S_KH_VMA, False)
    vma = mm.find_vma(addr)
    if vma is not None and vma.anonymous:
        yield from up_read(ctx, mm.mmap_lock, S_KH_UNLOCK)
        return (yield from khugepaged_scan_anon(ctx, mm, addr))
    if vma is None or vma.file is None or not vma_suits_huge(ctx, vma, addr):
        yield from up_read(ctx, mm.mmap_lock, S_KH_UNLOCK)
        return SCAN_VMA_CHECK
    f, pgoff = vma.file, vma.page_index(addr)
    yield from up_read(ctx, mm.mmap_lock, S_KH_UNLOCK)
    result = yield from hpage_collapse_scan_file(ctx, f, pgoff, True)
    if result == SCAN_PTE_MAPPED_HUGEPAGE:
        yield from down_read(ctx, mm.mmap_lock, S_KH_LOCK2)
        if not (yield from hpage_collapse_test_exit(ctx, mm)):
            result = yield from collapse_pte_mapped_thp(ctx, mm, addr, False)
        yield from up_read(ctx, mm.mmap_lock, S_KH_UNLOCK2)
    return result


# -- MADV_FREE ------------------------------------------------------------------------------

S_MF_PMD = site("madvise_free_pte_range:pmd_trans_huge")
S_MF_NOTABLE = site("madvise_free_pte_range:table_vanished")
S_MF_PTE = site("madvise_free_pte_range:ptep_get")
S_MF_TRYLOCK = site("madvise_free_pte_range:folio_trylock")
S_MF_SWAP = site("madvise_free_pte_range:free_swap_and_cache_nr")
S_MF_FOLIO_UNLOCK = site("madvise_free_pte_range:folio_unlock")
S_MF_CLEAR = site("madvise_free_pte_range:clear_young_dirty_ptes")
S_MF_LAZY = site("madvise_free_pte_range:folio_mark_lazyfree")
S_MF_UNLOCK = site("madvise_free_pte_range:spin_unlock")
S_MF_UNMAP = site("madvise_free_pte_range:pte_unmap")
S_MF_WALK_PMD = site("walk_pmd_range:madvise_free_pmd_none")
S_MFREE_LOCK = site("madvise_free:mmap_read_lock")
S_MFREE_UNLOCK = site("madvise_free:mmap_read_unlock")
S_MFREE_VMAS = site("madvise_free:find_vma")
S_MFREE_VMA_END = site("madvise_free:vma_end_read")


def madvise_free_pte_range(ctx: Ctx, tlb: MmuGather, vma: Vma, pmdp: PmdPtr, vpn: int,
                           end: int) -> KGen[None]:
    """mm/madvise.c ``madvise_free_pte_range``: under the PTE lock (no retry if the table
    vanished: the range is skipped), after ``flush_tlb_batched_pending``: drop swap
    entries; for each anonymous page, a folio in the swap cache or dirty is first (under
    a trylock of its lock, and only if exclusively mapped) taken out of the swap cache
    and cleaned; then the pte is made clean and old and the folio lazyfree. Never frees a
    table (the seed series leaves that to a future asynchronous reclaim).

    Read: v6.12 (core/upstream). Simplified: order-0 folios (no large-folio split and
    re-map); no KSM, hwpoison or guard markers."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_MF_PMD)
    if type(cur) is not PteTable:
        return
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, vpn)
    if table is None:
        yield S_MF_NOTABLE
        return
    yield from flush_tlb_batched_pending(ctx, mm)
    for v in range(vpn, end):
        pte = yield from ptep_get(ctx, table, v % n, S_MF_PTE)
        if type(pte) is SwapPte:
            # A swapped-out page is simply dropped (free_swap_and_cache_nr).
            yield S_MF_SWAP
            ctx.access(table, S_MF_SWAP, True)
            table.slots[v % n] = None
            add_mm_counter(ctx, mm, MM_SWAPENTS, -1)
            ctx.event("pte_zapped", vma, v)
            yield from free_swap_and_cache(ctx, pte.slot, S_MF_SWAP)
            continue
        if type(pte) is not Pte or pte.special or not pte.folio.anon:
            continue
        folio = pte.folio
        if folio.swap is not None or folio.dirty:
            # The folio must be cleaned and leave the swap cache first; only its lock
            # and an exclusive mapping allow that.
            if not (yield from folio_trylock(ctx, folio, S_MF_TRYLOCK)):
                continue
            if folio.mapcount != folio.npages:
                yield from folio_unlock(ctx, folio, S_MF_FOLIO_UNLOCK)
                continue
            if folio.swap is not None and not (yield from folio_free_swap(ctx, folio)):
                yield from folio_unlock(ctx, folio, S_MF_FOLIO_UNLOCK)
                continue
            folio.dirty = False                   # folio_clear_dirty()
            yield from folio_unlock(ctx, folio, S_MF_FOLIO_UNLOCK)
        if pte.young or pte.dirty:
            yield S_MF_CLEAR
            ctx.access(table, S_MF_CLEAR, True)
            table.slots[v % n] = Pte(folio, pte.page, pte.write, False, False, False, pte.uffd_wp)
            tlb_remove_tlb_entry(tlb, v)
        yield S_MF_LAZY
        if folio.swap is None:                    # folio_mark_lazyfree(): swap-backed,
            folio.lazyfree = True                 # not in the swap cache
            ctx.event("page_lazyfree", mm, v)
    yield from pte_unmap_unlock(ctx, ptl, S_MF_UNLOCK, S_MF_UNMAP)


def madvise_free_single_vma(ctx: Ctx, tlb: MmuGather, vma: Vma, start: int, end: int) -> KGen[None]:
    """mm/madvise.c ``madvise_free_single_vma``."""
    start, end = max(start, vma.start), min(end, vma.end)
    n = ctx.config.ptrs_per_pte
    mm = vma.mm
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return
    while start < end:
        nxt = min(start - start % n + n, end)
        pmdp = PmdPtr(pmdt, start // n)
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_MF_WALK_PMD)
        if cur is not None:
            yield from madvise_free_pte_range(ctx, tlb, vma, pmdp, start, nxt)
        start = nxt


def madvise_free(ctx: Ctx, mm: Mm, start: int, npages: int) -> KGen[Any]:
    """``do_madvise(MADV_FREE)``: the same lock modes as MADV_DONTNEED; anonymous VMAs only
    (-EINVAL otherwise). Returns 0 or an error."""
    end = start + npages
    vma = None
    err: int | str = 0
    if ctx.config.per_vma_lock_madvise:
        tlb = yield from tlb_gather_mmu(ctx, mm)
        vma = yield from try_vma_read_lock(ctx, mm, start, end)
        if vma is not None:
            if vma.anonymous:
                yield from madvise_free_single_vma(ctx, tlb, vma, start, end)
            else:
                err = "-EINVAL"
            yield from vma_end_read(ctx, vma, S_MFREE_VMA_END)
            yield from tlb_finish_mmu(ctx, tlb)
            return err
        yield from down_read(ctx, mm.mmap_lock, S_MFREE_LOCK)
    else:
        yield from down_read(ctx, mm.mmap_lock, S_MFREE_LOCK)
        tlb = yield from tlb_gather_mmu(ctx, mm)
    yield S_MFREE_VMAS
    ctx.access(mm, S_MFREE_VMAS, False)
    for v in [v for v in mm.vmas if v.start < end and start < v.end]:
        if not v.anonymous:
            err = "-EINVAL"
            break
        yield from madvise_free_single_vma(ctx, tlb, v, start, end)
    yield from tlb_finish_mmu(ctx, tlb)
    yield from up_read(ctx, mm.mmap_lock, S_MFREE_UNLOCK)
    return err
