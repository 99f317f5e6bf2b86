"""Candidate bugs of current mainline that ptfuzz found while modelling it.

The model follows mainline line by line (each function's docstring says which version
it read). Where that code is wrong, the model's default carries the smallest candidate
fix, so that soaks and campaigns of the fixed model keep meaning "nothing new", and the
switch restores mainline exactly, at the line the fix changes (``# BUG(name):``). Each has
a reproducer with its story and the kernel lines in ``corpus/findings/``. They are
candidates: found by reading and by the model, not yet confirmed on a kernel built with
the configuration they need.
"""

from __future__ import annotations

from .registry import BugSwitch, register

__all__ = ["MAINLINE"]

MAINLINE = [
    register(BugSwitch(
        "collapse-pte-mapped-thp-nosplit-no-recheck",
        "collapse_pte_mapped_thp() (mainline since v6.13, 'mm: khugepaged: "
        "collapse_pte_mapped_thp() use pte_offset_map_rw_nolock()') rechecks the pmd in "
        "step 4 only when ptl != pml. Without split PTE ptlocks (ptl == pml == "
        "mm->page_table_lock) nothing is rechecked after step 2 dropped the lock, so a "
        "MADV_DONTNEED that reclaims the emptied table (PT reclaim, v6.14) in between "
        "makes step 4 clear a none pmd, decrement nr_ptes twice and pte_free_defer() pfn "
        "0's page",
        "candidate: recheck pmd_same() under pml whether or not ptl == pml "
        "(corpus/findings/collapse-pte-mapped-thp-nosplit-free-pfn0.kprog)",
        "core/mm/khugepaged.py",
        "BUG: KASAN: invalid-free in pte_free_defer",
        also=("BUG: non-zero pgtables_bytes", "BUG: Bad page"),
        group="mainline", config=("split_ptlocks=off", "pt_reclaim=on"))),
]
