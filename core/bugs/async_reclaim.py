"""The flaws ptfuzz found in versions of asynchronous PTE-table reclaim.

Not historical kernel bugs: the first two were in the first draft of
``core/mm/pt_reclaim_async.py``; the third is a tempting simplification checked before it
could be proposed (docs/async-reclaim.md tells how each was found, in order, and shows its
reproducer). Each needs ``pt_reclaim_async=on``; each is kept at the line its fix changed
(``# BUG(name):``), with a minimized reproducer in corpus/async-reclaim.
"""

from __future__ import annotations

from .registry import BugSwitch, register

__all__ = ["ASYNC_RECLAIM"]

_NEEDS = ("pt_reclaim_async=on",)
_FILE = "core/mm/pt_reclaim_async.py"

ASYNC_RECLAIM = [
    register(BugSwitch(
        "async-reclaim-no-rescan",
        "pt_reclaim_scan_pmd() trusts its lockless look: under pml and ptl it neither maps "
        "the table the pmd holds now nor rescans its entries, so it frees a table a fault "
        "filled meanwhile, or clears a table that replaced the one it looked at",
        "docs/async-reclaim.md, flaw 1",
        _FILE,
        "BUG: Bad rss-counter state",
        also=("BUG: KASAN:", "memory leak:", "BUG: non-zero pgtables_bytes",
              "BUG: data corruption", "BUG: Bad page"),
        group="async-reclaim", config=_NEEDS)),
    register(BugSwitch(
        "async-reclaim-no-vma-check",
        "pt_reclaim_scan_pmd() does not check that a VMA still covers the table: munmap, "
        "under the mmap read lock it downgraded to, frees the same table in "
        "free_pgtables() with no lock",
        "docs/async-reclaim.md, flaw 2",
        _FILE,
        "BUG: KASAN: double-free in tlb_table_flush",
        also=("BUG: KASAN:", "BUG: Bad pmd"),
        group="async-reclaim", config=_NEEDS)),
    register(BugSwitch(
        "async-reclaim-present-only",
        "pt_reclaim_scan_pmd() takes \"empty\" as \"maps no page\": a table holding only "
        "swap entries (kswapd swapped its pages out) or uffd-wp markers is freed with them, "
        "and the swapped data and the swap-entry count with it",
        "docs/async-reclaim.md, flaw 3",
        _FILE,
        "BUG: Bad rss-counter state",
        also=("BUG: data corruption", "BUG: Bad page"),
        group="async-reclaim", config=_NEEDS)),
]
