"""/proc/pid/pagemap: ``pagemap_read`` -> ``walk_page_range`` -> ``walk_pmd_range`` ->
``pagemap_pmd_range`` (mm/pagewalk.c, fs/proc/task_mmu.c).

``pagemap_read`` holds an ``mm_users`` reference (``mmget_not_zero``) and the mmap read
lock. Per pmd: a none pmd is a hole; a huge pmd is read under the pmd lock
(``pmd_trans_huge_lock``); otherwise the ptes are read under ``pte_offset_map_lock``, and
if the table vanished (the map failed) ``ACTION_AGAIN`` makes the walk read the pmd again.

The entries read are returned (present/none per page) so tests can check them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_read, spin_unlock, up_read
from ..sim import site, spin_site
from .huge_memory import pmd_trans_huge_lock
from .mmap import mmget_not_zero, mmput
from .pgtable import (PmdPtr, pud_pmd_table, __pte_offset_map_lock, pmdp_get_lockless,
                      pte_unmap_unlock, ptep_get)
from .types import Pte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Mm, PmdTable

__all__ = ["pagemap_read"]

S_PM_LOCK = site("pagemap_read:mmap_read_lock")
S_PM_UNLOCK = site("pagemap_read:mmap_read_unlock")
S_PM_VMAS = site("walk_page_range:find_vma")
S_WPR_PMD = site("walk_pmd_range:pmd_none")
S_WPR_AGAIN = spin_site("walk_pmd_range:action_again")
S_THP_UNLOCK = site("pagemap_pmd_range:huge_unlock")
S_PTE_READ = site("pagemap_pmd_range:ptep_get")
S_PTE_UNLOCK = site("pagemap_pmd_range:pte_unmap_unlock")
S_PTE_UNMAP = site("pagemap_pmd_range:pte_unmap")
S_PTE_NOTABLE = site("pagemap_pmd_range:action_again")


def pagemap_pmd_range(ctx: Ctx, mm: Mm, pmdp: PmdPtr, vpn: int, end: int,
                      out: dict) -> KGen[Any]:
    """fs/proc/task_mmu.c ``pagemap_pmd_range``.

    Returns False for ``ACTION_AGAIN``."""
    pml = yield from pmd_trans_huge_lock(ctx, mm, pmdp)
    if pml is not None:
        for v in range(vpn, end):
            out[v] = "present"
        yield from spin_unlock(ctx, pml, S_THP_UNLOCK)
        return True
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, vpn)
    if table is None:
        yield S_PTE_NOTABLE
        return False
    n = ctx.config.ptrs_per_pte
    for v in range(vpn, end):
        pte = yield from ptep_get(ctx, table, v % n, S_PTE_READ)
        out[v] = "present" if type(pte) is Pte else ("none" if pte is None else "swap")
    yield from pte_unmap_unlock(ctx, ptl, S_PTE_UNLOCK, S_PTE_UNMAP)
    return True


def walk_pmd_range(ctx: Ctx, mm: Mm, pmdt: PmdTable, vpn: int, end: int,
                   out: dict) -> KGen[None]:
    """mm/pagewalk.c ``walk_pmd_range``: the PMD table ``walk_pud_range`` found (read
    once: ``pmd_offset(pud, addr)``, then ``pmd++``)."""
    n = ctx.config.ptrs_per_pte
    while vpn < end:
        nxt = min(vpn - vpn % n + n, end)
        pmdp = PmdPtr(pmdt, vpn // n)
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_WPR_PMD)
        if cur is None:
            for v in range(vpn, nxt):
                out[v] = "none"                 # pte_hole
            vpn = nxt
            continue
        if not (yield from pagemap_pmd_range(ctx, mm, pmdp, vpn, nxt, out)):
            yield S_WPR_AGAIN
            continue
        vpn = nxt


def pagemap_read(ctx: Ctx, mm: Mm, start: int, npages: int) -> KGen[Any]:
    """fs/proc/task_mmu.c ``pagemap_read``.

    Returns {vpn: "present"|"none"|"swap"} for the mapped pages of the range, or None
    if the mm has no users any more."""
    if not (yield from mmget_not_zero(ctx, mm)):
        return None
    out: dict = {}
    yield from down_read(ctx, mm.mmap_lock, S_PM_LOCK)
    yield S_PM_VMAS
    ctx.access(mm, S_PM_VMAS, False)
    end = start + npages
    spans = [(max(v.start, start), min(v.end, end)) for v in mm.vmas
             if v.start < end and start < v.end]
    for lo, hi in spans:
        pmdt = pud_pmd_table(mm)               # walk_pud_range(): pud_none -> a hole
        if pmdt is not None:
            yield from walk_pmd_range(ctx, mm, pmdt, lo, hi, out)
    yield from up_read(ctx, mm.mmap_lock, S_PM_UNLOCK)
    yield from mmput(ctx, mm)
    return out
