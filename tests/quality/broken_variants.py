"""Deliberately broken variants of the model, for tests only (never bug switches): each
undoes one thing mainline does against an adversary that issue 18 added, so that a
search can show the adversary and its checker at work. ``apply(name, monkeypatch)``
installs one; ``VARIANTS`` says what each breaks and which reports it may produce."""

from __future__ import annotations

import core.mm.khugepaged as khugepaged_module
import core.mm.mmap as mmap_module
import core.mm.mmu_gather as mmu_gather_module
import core.mm.mprotect as mprotect_module
import core.mm.mremap as mremap_module
import core.mm.rmap as rmap_module
import core.mm.tlb as tlb_module
from core.mm.world import tlb_of

__all__ = ["VARIANTS", "apply"]


def _flush_this_cpu(ctx, mm, start, end, site):
    yield site
    tlb_of(ctx).flush_range(mm, start, end, ctx.config.ptrs_per_pte)


def _no_sync(ctx, site):
    return
    yield


_free_pgtables = mmap_module.free_pgtables
_tlb_finish_mmu = mprotect_module.tlb_finish_mmu


def _ignore_neighbours(ctx, tlb, vmas, floor, ceiling, mm_wr_locked=False):
    return _free_pgtables(ctx, tlb, vmas, 0, 0, mm_wr_locked)


def _forget_the_ptes(ctx, tlb):
    tlb.cleared_ptes = False
    tlb.reset_range()
    return _tlb_finish_mmu(ctx, tlb)


# name -> (what it breaks, [(module, attribute, replacement)], title prefixes it may give)
VARIANTS = {
    "collapse-ignores-pins": (
        "khugepaged collapses pages whatever their references (is_refcount_suitable)",
        [(khugepaged_module, "is_refcount_suitable", lambda folio: True)],
        ("BUG: lost write",)),
    "lazyfree-discard-ignores-dirty": (
        "reclaim discards a MADV_FREE page whatever its dirty bit (a page written again "
        "after MADV_FREE is lost)",
        [(rmap_module, "lazyfree_discardable",
          lambda folio: folio.refcount == 1 + folio.mapcount)],
        ("BUG: lost write",)),
    "lazyfree-discard-ignores-refs": (
        "reclaim discards a clean MADV_FREE page whatever its references (before "
        "6c8e2a256915)",
        [(rmap_module, "lazyfree_discardable", lambda folio: not folio.dirty)],
        ("BUG: lost write",)),
    "flush-this-cpu-only": (
        "ranged TLB flushes reach only the flushing CPU",
        [(mmu_gather_module, "flush_tlb_range", _flush_this_cpu),
         (tlb_module, "flush_tlb_range", _flush_this_cpu),
         (mremap_module, "flush_tlb_range", _flush_this_cpu)],
        ("BUG: lost write", "BUG: stale read", "BUG: write-protect bypassed",
         "BUG: KASAN: use-after-free via stale TLB")),
    "collapse-no-sync-ipi": (
        "collapse_huge_page sends no tlb_remove_table_sync_one (harmless with IPI "
        "flushes, a use-after-free with broadcast ones)",
        [(khugepaged_module, "tlb_remove_table_sync_one", _no_sync)],
        ("BUG: KASAN: use-after-free Read in gup_fast_pte_range",)),
    "protection-change-no-flush": (
        "mprotect and UFFDIO_WRITEPROTECT record no pte for the final flush",
        [(mprotect_module, "tlb_finish_mmu", _forget_the_ptes)],
        ("BUG: write-protect bypassed",)),
    "munmap-ignores-neighbours": (
        "munmap frees page tables without its floor and ceiling",
        [(mmap_module, "free_pgtables", _ignore_neighbours)],
        ("BUG: KASAN", "BUG: Bad rss-counter state", "BUG: Bad page", "BUG: kmemleak",
         "general protection fault")),
}


def apply(name: str, monkeypatch) -> tuple:
    """Install variant ``name`` with ``monkeypatch``; returns its title prefixes."""
    _, patches, titles = VARIANTS[name]
    for module, attr, value in patches:
        monkeypatch.setattr(module, attr, value)
    return titles
