"""madvise(MADV_DONTNEED) and madvise(MADV_COLLAPSE) (mm/madvise.c, mm/khugepaged.c), and
khugepaged's scan of one file range.

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

from ..kernel import down_read, up_read
from ..sim import site
from .khugepaged import (SCAN_PTE_MAPPED_HUGEPAGE, SCAN_VMA_CHECK, collapse_file,
                         collapse_pte_mapped_thp, hpage_collapse_test_exit)
from .memory_file import vma_suits_huge
from .memory_zap import ZapDetails, zap_page_range_single_batched
from .mmap_lock import lock_vma_under_rcu, vma_end_read
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu

__all__ = ["madvise_dontneed", "madvise_collapse", "khugepaged_scan_file"]

S_MD_LOCK = site("madvise_lock:mmap_read_lock")
S_MD_UNLOCK = site("madvise_unlock:mmap_read_unlock")
S_MD_VMAS = site("madvise_walk_vmas:find_vma")
S_MD_VMA_FALLBACK = site("try_vma_read_lock:vma_end_read")
S_MD_VMA_END = site("madvise_walk_vmas:vma_end_read")


def try_vma_read_lock(ctx, mm, start: int, end: int):
    """``try_vma_read_lock``: the range's one VMA, read-locked, unless the range spans
    more than one VMA or the VMA is uffd-armed (then: the mmap lock)."""
    vma = yield from lock_vma_under_rcu(ctx, mm, start)
    if vma is None:
        return None
    if end > vma.end or vma.uffd_armed:
        yield from vma_end_read(ctx, vma, S_MD_VMA_FALLBACK)
        return None
    return vma


def madvise_dontneed(ctx, mm, start: int, npages: int):
    """``do_madvise(MADV_DONTNEED)`` (v6.16+ shape): one mmu_gather for the syscall;
    under the VMA's read lock if that suffices (v6.17, ``per_vma_lock_madvise``), else the
    mmap read lock; ``tlb_finish_mmu`` runs after the VMA lock is dropped. Returns 0 or
    -ENOMEM (a hole in the range)."""
    end = start + npages
    details = ZapDetails(reclaim_pt=True)
    tlb = yield from tlb_gather_mmu(ctx, mm)                 # madvise_init_tlb()
    vma = None
    if ctx.config.per_vma_lock_madvise:
        vma = yield from try_vma_read_lock(ctx, mm, start, end)
    if vma is not None:
        yield from zap_page_range_single_batched(ctx, tlb, vma, start, npages, details)
        yield from vma_end_read(ctx, vma, S_MD_VMA_END)
        yield from tlb_finish_mmu(ctx, tlb)                  # madvise_finish_tlb()
        return 0
    yield from down_read(ctx, mm.mmap_lock, S_MD_LOCK)
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


def hpage_collapse_scan_file(ctx, f, start: int, is_khugepaged: bool):
    """Look at the page cache first: a range already held by a PMD-order folio needs only
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


def madvise_collapse(ctx, mm, start: int, npages: int):
    """MADV_COLLAPSE over the PMD-aligned part of [start, start + npages) of a file VMA.
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


def khugepaged_scan_file(ctx, mm, addr: int):
    """khugepaged's scan of the huge page at ``addr`` of a file VMA: the exit checks, then
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
