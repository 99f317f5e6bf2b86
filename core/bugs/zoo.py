"""The public zoo: six historical mistakes of the page-table lifetime code.

Each switch is tested at the line its fix changed (``# BUG(name):`` marks it). Titles are
what the bug produces in the model (the regression reproducer pins which one).
"""

from __future__ import annotations

from .registry import BugSwitch, register

__all__ = ["ZOO"]

ZOO = [
    register(BugSwitch(
        "retract-no-pmd-recheck",
        "retract_page_tables() skips the pmd state recheck after taking the pmd lock (the "
        "seed patch reverted): a table PT reclaim freed meanwhile leaves a none pmd, and "
        "pte_lockptr() is derived from it",
        "mainline 6c18ec9af86c (v4 01/11 \"mm: khugepaged: recheck pmd state in "
        "retract_page_tables()\")",
        "core/mm/khugepaged.py",
        "general protection fault in pte_lockptr")),
    register(BugSwitch(
        "uffd-move-no-dst-pmd-recheck",
        "move_pages_pte() does not check pmd_same() on the destination pmd after taking the "
        "PTE locks: the destination table may have been reclaimed and replaced, and the "
        "page is moved into the detached one",
        "mainline dd95d2782a25 (v4 02/11 \"mm: userfaultfd: recheck dst_pmd entry in "
        "move_pages_pte()\")",
        "core/mm/userfaultfd.py",
        "BUG: Bad rss-counter state")),
    register(BugSwitch(
        "pt-reclaim-semi-rcu",
        "with PT reclaim, the single-table fallback of tlb_remove_table() frees after an "
        "IPI instead of after a grace period: an rcu_read_lock walker (pte_offset_map) is "
        "not waited for",
        "mainline 718b13861d22 (\"x86: mm: free page table pages by RCU instead of semi "
        "RCU\")",
        "core/mm/mmu_gather.py",
        "BUG: KASAN: use-after-free Read in handle_pte_fault",
        also=("BUG: KASAN: use-after-free", "BUG: KASAN: slab-use-after-free"))),
    register(BugSwitch(
        "ptlock-free-immediate",
        "with ALLOC_SPLIT_PTLOCKS, the ptlock object is freed (pagetable_dtor) when the table "
        "is queued for freeing, not with the table after the grace period",
        "v4 12/11 \"mm: pgtable: make ptlock be freed by RCU\" (later the dtor moved into "
        "__tlb_remove_table); syzbot 1c58afed1cfd2f57efee",
        "core/mm/mmu_gather.py",
        "BUG: KASAN: slab-use-after-free Read in __pte_offset_map_lock",
        also=("BUG: KASAN: slab-use-after-free",))),
    register(BugSwitch(
        "reclaim-after-ptl-drop",
        "zap_pte_range() keeps direct_reclaim after dropping the PTE lock midway "
        "(need_resched or a full batch), so the fast path frees a table that a fault "
        "refilled while the lock was dropped",
        "\"mm: pgtable: fix incorrect reclaim of non-empty PTE pages\" (Qi Zheng, Feb 2025)",
        "core/mm/memory_zap.py",
        "BUG: Bad rss-counter state")),
    register(BugSwitch(
        "pte-map-lock-no-pmd-same",
        "__pte_offset_map_lock() returns without rechecking pmd_same() after taking the PTE "
        "lock: a writer writes into a detached (and then freed) table",
        "the 2023 rule that every PTE writer revalidates (Hugh Dickins, \"mm: "
        "pte_offset_map_lock() may fail\"); 2.4 of process_addrs.rst",
        "core/mm/pgtable.py",
        "BUG: Bad rss-counter state",
        also=("BUG: KASAN: invalid-free", "BUG: KASAN: use-after-free"))),
    register(BugSwitch(
        "collapse-vma-lock-after-pmd-check",
        "collapse_huge_page() checks the pmd before write-locking the VMA: a MADV_DONTNEED "
        "running under the VMA's read lock (v6.17) reclaims the table after the check, and "
        "the collapse re-installs pfn 0's page as the table when it backs off (modelled as "
        "a bad pmd)",
        "\"mm: khugepaged: move vma_start_write() before check_pmd_still_valid()\" "
        "(Barry Song, Aug 2025; found by syzkaller, linux-next)",
        "core/mm/khugepaged.py",
        "BUG: Bad pmd in __pte_offset_map")),
]
