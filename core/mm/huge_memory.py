"""Huge pmds: splitting them, and the deposited page table of anonymous THPs
(mm/huge_memory.c ``__split_huge_pmd``, ``__split_huge_pmd_locked``, ``zap_deposited_table``;
mm/pgtable-generic.c ``pgtable_trans_huge_deposit``/``withdraw``).

Splitting a file pmd only unmaps it (the pages come back as ptes by faulting). Splitting an
anonymous pmd keeps the mapping: under the pmd lock, the pmd is invalidated (not present,
still huge, so lockless walkers back off) and flushed, the deposited table is withdrawn
and filled with one pte per subpage, and then installed in the pmd.

Simplified: no soft-dirty, uffd-wp or migration bits; the folio itself is not split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import spin_lock_nested, spin_unlock
from ..sim import KernelReport, Report, site
from .folio import add_mm_counter, folio_put_now, folio_remove_rmap, mm_counter
from .pgtable import (pmd_lock, pmd_lockptr, pmd_populate, pmdp_get_lockless,
                      pmdp_huge_get_and_clear)
from .tlb import flush_tlb_range
from .types import PMD_SPLITTING, HugePmd, Pte, PteTable

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .pgtable import PmdPtr
    from .types import Mm, Vma

__all__ = ["__split_huge_pmd", "pgtable_trans_huge_deposit", "pgtable_trans_huge_withdraw",
           "pmd_trans_huge_lock", "move_huge_pmd"]

S_THP_CHECK = site("pmd_trans_huge_lock:pmd_trans_huge")
S_THP_LOCK = site("pmd_trans_huge_lock:pmd_lock")
S_THP_RECHECK = site("pmd_trans_huge_lock:recheck")
S_THP_NOT_HUGE = site("pmd_trans_huge_lock:spin_unlock")


def pmd_trans_huge_lock(ctx: Ctx, mm: Mm, pmdp: PmdPtr) -> KGen[Any]:
    """include/linux/huge_mm.h ``pmd_trans_huge_lock`` (``__pmd_trans_huge_lock``): if
    the pmd looks huge (an invalidated pmd being split does too), take the pmd lock and
    recheck; returns the held lock if it still is a huge pmd, else None (unlocked)."""
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_THP_CHECK)
    if type(cur) is not HugePmd and cur is not PMD_SPLITTING:
        return None
    pml = yield from pmd_lock(ctx, mm, pmdp, S_THP_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_THP_RECHECK)
    if type(cur) is HugePmd:
        return pml
    yield from spin_unlock(ctx, pml, S_THP_NOT_HUGE)
    return None


def pgtable_trans_huge_deposit(pmdp: PmdPtr, table: PteTable) -> None:
    """mm/pgtable-generic.c ``pgtable_trans_huge_deposit``.

    Park ``table`` under the huge pmd (the caller holds the pmd lock)."""
    pmdp.table.deposit[pmdp.idx] = table
    table.life = "deposited"
    table.where = None


def pgtable_trans_huge_withdraw(ctx: Ctx, pmdp: PmdPtr, site_) -> PteTable:
    """mm/pgtable-generic.c ``pgtable_trans_huge_withdraw``."""
    table = pmdp.table.deposit.pop(pmdp.idx, None)
    if table is None:
        r = Report("kernel BUG at mm/pgtable-generic.c:pgtable_trans_huge_withdraw", "bug-on")
        r.add("pmd", f"no table deposited under pmd {pmdp.idx}")
        raise KernelReport(r)
    ctx.access(table, site_, True)
    return table


S_SPLIT_LOCK = site("__split_huge_pmd:pmd_lock")
S_SPLIT_CHECK = site("__split_huge_pmd:pmd_trans_huge")
S_SPLIT_CLEAR = site("__split_huge_pmd_locked:pmdp_huge_clear_flush")
S_SPLIT_INVALIDATE = site("__split_huge_pmd_locked:pmdp_invalidate")
S_SPLIT_FLUSH = site("__split_huge_pmd_locked:flush_tlb_range")
S_SPLIT_PUT = site("__split_huge_pmd_locked:folio_put")
S_SPLIT_WITHDRAW = site("__split_huge_pmd_locked:pgtable_trans_huge_withdraw")
S_SPLIT_FILL = site("__split_huge_pmd_locked:set_ptes")
S_SPLIT_POPULATE = site("__split_huge_pmd_locked:pmd_populate")
S_SPLIT_UNLOCK = site("__split_huge_pmd:spin_unlock")


def __split_huge_pmd(ctx: Ctx, vma: Vma, pmdp: PmdPtr, vpn: int) -> KGen[None]:
    """mm/huge_memory.c ``__split_huge_pmd``, ``__split_huge_pmd_locked``.

    Split the huge pmd covering ``vpn`` (if it still is one, under the pmd lock)."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    haddr = vpn - vpn % n
    pml = yield from pmd_lock(ctx, mm, pmdp, S_SPLIT_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_SPLIT_CHECK)
    if type(cur) is HugePmd:
        if vma.anonymous:
            yield from _split_anon_locked(ctx, vma, pmdp, haddr, cur)
        else:
            old = yield from pmdp_huge_get_and_clear(ctx, pmdp, S_SPLIT_CLEAR)
            yield from flush_tlb_range(ctx, mm, haddr, haddr + n, S_SPLIT_FLUSH)
            folio = old.folio
            yield S_SPLIT_PUT
            folio_remove_rmap(ctx, folio, S_SPLIT_PUT)
            add_mm_counter(ctx, mm, mm_counter(folio), -n)
            folio_put_now(ctx, folio, S_SPLIT_PUT)
    yield from spin_unlock(ctx, pml, S_SPLIT_UNLOCK)


def _split_anon_locked(ctx: Ctx, vma: Vma, pmdp: PmdPtr, haddr: int,
                       old: HugePmd) -> KGen[None]:
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    yield S_SPLIT_INVALIDATE
    ctx.access(pmdp.table, S_SPLIT_INVALIDATE, True)
    pmdp.table.slots[pmdp.idx] = PMD_SPLITTING
    yield from flush_tlb_range(ctx, mm, haddr, haddr + n, S_SPLIT_FLUSH)
    yield S_SPLIT_WITHDRAW
    table = pgtable_trans_huge_withdraw(ctx, pmdp, S_SPLIT_WITHDRAW)
    yield S_SPLIT_FILL
    ctx.access(table, S_SPLIT_FILL, True)
    folio = old.folio
    for i in range(n):
        table.slots[i] = Pte(folio, i, old.write, old.write, True, False)
    # One pte mapping (and reference) per subpage instead of the one pmd mapping.
    folio.mapcount += n - 1
    folio.refcount += n - 1
    yield from pmd_populate(ctx, pmdp, table, S_SPLIT_POPULATE)


S_MVH_NEW = site("move_huge_pmd:new_pmd_none")
S_MVH_LOCK = site("move_huge_pmd:pmd_lock")
S_MVH_CHECK = site("move_huge_pmd:pmd_trans_huge")
S_MVH_NOT_HUGE = site("move_huge_pmd:spin_unlock_not_huge")
S_MVH_LOCK_NEW = site("move_huge_pmd:spin_lock_nested")
S_MVH_CLEAR = site("move_huge_pmd:pmdp_huge_get_and_clear")
S_MVH_DEPOSIT = site("move_huge_pmd:pgtable_trans_huge_withdraw")
S_MVH_SET = site("move_huge_pmd:set_pmd_at")
S_MVH_FLUSH = site("move_huge_pmd:flush_pmd_tlb_range")
S_MVH_UNLOCK_NEW = site("move_huge_pmd:spin_unlock_new")
S_MVH_UNLOCK_OLD = site("move_huge_pmd:spin_unlock_old")


def move_huge_pmd(ctx: Ctx, vma: Vma, old_vpn: int, new_vpn: int, old_pmdp: PmdPtr,
                  new_pmdp: PmdPtr) -> KGen[Any]:
    """mm/huge_memory.c ``move_huge_pmd`` (mremap, under the mmap write lock and the rmap
    locks): if the new pmd is none and the old one still is huge under its lock
    (``__pmd_trans_huge_lock``), move the entry and its deposited table, and flush the
    old range before the locks are dropped. Returns False if it could not (the caller
    splits the pmd).

    Simplified: the kernel moves the deposited table only if the two pmd locks differ
    (``pmd_move_must_withdraw``: with one lock, the deposit list is shared); the model
    keeps one deposit per pmd, so it always moves it."""
    mm = vma.mm
    n = ctx.config.ptrs_per_pte
    if (yield from pmdp_get_lockless(ctx, new_pmdp, S_MVH_NEW)) is not None:
        return False
    old_ptl = yield from pmd_lock(ctx, mm, old_pmdp, S_MVH_LOCK)
    cur = yield from pmdp_get_lockless(ctx, old_pmdp, S_MVH_CHECK)
    if type(cur) is not HugePmd:
        yield from spin_unlock(ctx, old_ptl, S_MVH_NOT_HUGE)
        return False
    new_ptl = pmd_lockptr(ctx, mm, new_pmdp)
    if new_ptl is not old_ptl:
        yield from spin_lock_nested(ctx, new_ptl, S_MVH_LOCK_NEW)
    pmd = yield from pmdp_huge_get_and_clear(ctx, old_pmdp, S_MVH_CLEAR)
    if vma.anonymous:
        yield S_MVH_DEPOSIT
        table = pgtable_trans_huge_withdraw(ctx, old_pmdp, S_MVH_DEPOSIT)
        pgtable_trans_huge_deposit(new_pmdp, table)
    yield S_MVH_SET
    ctx.access(new_pmdp.table, S_MVH_SET, True)
    new_pmdp.table.slots[new_pmdp.idx] = pmd
    for i in range(n):
        ctx.event("page_moved", mm, new_vpn + i, old_vpn + i)
    yield from flush_tlb_range(ctx, mm, old_vpn, old_vpn + n, S_MVH_FLUSH)
    if new_ptl is not old_ptl:
        yield from spin_unlock(ctx, new_ptl, S_MVH_UNLOCK_NEW)
    yield from spin_unlock(ctx, old_ptl, S_MVH_UNLOCK_OLD)
    return True
