"""File THP collapse: ``collapse_file``, ``retract_page_tables``, ``collapse_pte_mapped_thp``
(mm/khugepaged.c, v6.14 with the seed patch 6c18ec9af86c; ``collapse_pte_mapped_thp`` as
merged in v6.13 and read in a ~v6.18 copy), and anonymous collapse
(``hpage_collapse_scan_pmd``, ``collapse_huge_page`` with its swap-in and isolation).

``collapse_file`` builds a PMD-order folio from the small page-cache folios of an aligned
range (each locked and unmapped through rmap), puts it in the page cache *locked*, and,
still holding that lock, calls ``retract_page_tables``: for every VMA mapping the range,
with no mmap or VMA lock (only ``i_mmap_rwsem`` read), it takes the pmd lock, rechecks the
pmd's state (the seed patch), takes ptl, and detaches the table with
``pmdp_collapse_flush``, freeing it with ``pte_free_defer``. Faults cannot refill the
table meanwhile because they wait for the locked huge folio.

``collapse_pte_mapped_thp`` (MADV_COLLAPSE's follow-up, and khugepaged's retry) runs under
the mmap read lock with the huge folio locked: it clears the ptes that map the folio,
then detaches and frees the table, rechecking ``pmd_same`` after each point where the
table may have been reclaimed (mainline skips the last recheck when ptl == pml: a
candidate bug, see the function), and optionally installs the huge pmd.

Simplified: files are tmpfs-like and fully populated (no holes, readahead, swap or
dirty/writeback checks); no LRU isolation (the expected reference count is two: the page
cache's and ours); no mmu notifiers (their calls remain scheduling points).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import (down_read, down_write, local_irq_disable, local_irq_enable, sleep_trylock,
                      spin_lock, spin_lock_nested, spin_unlock, tlb_remove_table_sync_one,
                      up_read, up_write)
from ..sim import KernelReport, Report
from ..sim import site
from .folio import (add_mm_counter, folio_add_new_anon_rmap, folio_add_rmap, folio_alloc,
                    folio_get, folio_put, folio_remove_rmap, folio_trylock, folio_unlock,
                    mm_counter)
from .huge_memory import pgtable_trans_huge_deposit
from .mmap_lock import (mmap_read_lock, mmap_read_unlock, mmap_write_lock, mmap_write_unlock,
                        vma_start_write)
from .memory import VM_FAULT_NOPAGE, VM_FAULT_OK, Vmf, do_swap_page, mm_find_pmd, pmd_alloc
from .memory_file import filemap_lock_folio, vma_suits_huge
from .pgtable import (StackPmd, __pte_offset_map_lock, pmd_lock, pmd_pgtable, pmd_populate,
                      pmdp_get_lockless, pte_free_defer, pte_lockptr, pte_offset_map_ro_nolock,
                      pte_offset_map_rw_nolock, pte_unmap, pte_unmap_unlock, ptep_get,
                      ptep_get_and_clear)
from .rmap import try_to_unmap
from .tlb import flush_tlb_mm, pmdp_collapse_flush, try_to_unmap_flush
from .types import MM_ANONPAGES, HugePmd, Pte, PteTable, SwapPte, pmd_same

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .pgtable import PmdPtr
    from .types import Folio, Mm, Vma

__all__ = ["collapse_file", "retract_page_tables", "collapse_pte_mapped_thp",
           "check_pmd_state", "find_pmd_or_thp_or_none", "hpage_collapse_test_exit",
           "SCAN_SUCCEED", "SCAN_FAIL", "SCAN_PMD_NONE", "SCAN_PMD_NULL", "SCAN_PMD_MAPPED",
           "SCAN_PTE_MAPPED_HUGEPAGE"]

(SCAN_SUCCEED, SCAN_FAIL, SCAN_PMD_NONE, SCAN_PMD_NULL, SCAN_PMD_MAPPED, SCAN_PAGE_LOCK,
 SCAN_PAGE_COUNT, SCAN_PAGE_COMPOUND, SCAN_PAGE_NULL, SCAN_VMA_CHECK, SCAN_PTE_UFFD_WP,
 SCAN_PTE_NON_PRESENT, SCAN_PTE_MAPPED_HUGEPAGE) = (
    "succeed", "fail", "pmd_none", "pmd_null", "pmd_mapped", "page_lock", "page_count",
    "page_compound", "page_null", "vma_check", "pte_uffd_wp", "pte_non_present",
    "pte_mapped_hugepage")
SCAN_EXCEED_NONE_PTE, SCAN_PAGE_RO, SCAN_PAGE_ANON = "exceed_none_pte", "page_ro", "page_anon"


def check_pmd_state(ctx: Ctx, pmdp: PmdPtr, site_) -> KGen[Any]:
    """mm/khugepaged.c ``check_pmd_state``.

    One lockless read of the pmd, classified."""
    v = yield from pmdp_get_lockless(ctx, pmdp, site_)
    if v is None:
        return SCAN_PMD_NONE
    if type(v) is HugePmd:
        return SCAN_PMD_MAPPED
    if type(v) is not PteTable:
        return SCAN_PMD_NULL
    return SCAN_SUCCEED


def find_pmd_or_thp_or_none(ctx: Ctx, mm: Mm, vpn: int, site_) -> KGen[Any]:
    """mm/khugepaged.c ``find_pmd_or_thp_or_none``.

    ``mm_find_pmd`` + ``check_pmd_state``: (result, pmd pointer)."""
    pmdp = yield from mm_find_pmd(ctx, mm, vpn)
    if pmdp is None:
        return SCAN_PMD_NULL, None
    return (yield from check_pmd_state(ctx, pmdp, site_)), pmdp


S_TEST_EXIT = site("hpage_collapse_test_exit:mm_users")


def hpage_collapse_test_exit(ctx: Ctx, mm: Mm) -> KGen[Any]:
    """mm/khugepaged.c ``hpage_collapse_test_exit``."""
    yield S_TEST_EXIT
    ctx.access(mm, S_TEST_EXIT, False)
    return mm.mm_users == 0


# -- retract_page_tables ---------------------------------------------------------------------

S_RPT_LOCK = site("retract_page_tables:i_mmap_lock_read")
S_RPT_ANON = site("retract_page_tables:read_anon_vma")
S_RPT_FIND = site("retract_page_tables:find_pmd_or_thp_or_none")
S_RPT_NOTIFY = site("retract_page_tables:mmu_notifier_invalidate_range_start")
S_RPT_PML = site("retract_page_tables:pmd_lock")
S_RPT_RECHECK = site("retract_page_tables:check_pmd_state")
S_RPT_LOCKPTR = site("retract_page_tables:pte_lockptr")
S_RPT_PTL = site("retract_page_tables:spin_lock_nested")
S_RPT_RECHECK_VMA = site("retract_page_tables:recheck_anon_vma_uffd_wp")
S_RPT_CLEAR = site("retract_page_tables:pmdp_collapse_flush")
S_RPT_FLUSH = site("retract_page_tables:flush_tlb_range")
S_RPT_UNLOCK_PTL = site("retract_page_tables:spin_unlock_ptl")
S_RPT_DROP_PML = site("retract_page_tables:drop_pml")
S_RPT_NOTIFY_END = site("retract_page_tables:mmu_notifier_invalidate_range_end")
S_RPT_DEC = site("retract_page_tables:mm_dec_nr_ptes")
S_RPT_UNLOCK = site("retract_page_tables:i_mmap_unlock_read")


def retract_page_tables(ctx: Ctx, f, pgoff: int) -> KGen[None]:
    """mm/khugepaged.c ``retract_page_tables``."""
    n = ctx.config.ptrs_per_pte
    yield from down_read(ctx, f.i_mmap_rwsem, S_RPT_LOCK)
    for vma in list(f.i_mmap):
        if not (vma.pgoff <= pgoff < vma.pgoff + (vma.end - vma.start)):
            continue
        yield S_RPT_ANON
        ctx.access(vma, S_RPT_ANON, False)
        if vma.anon_vma is not None:
            continue
        addr = vma.start + (pgoff - vma.pgoff)
        if addr % n or vma.end < addr + n:
            continue
        mm = vma.mm
        result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, addr, S_RPT_FIND)
        if result != SCAN_SUCCEED:
            continue
        if (yield from hpage_collapse_test_exit(ctx, mm)):
            continue
        if vma.uffd_wp:
            continue
        yield S_RPT_NOTIFY
        success = False
        pml = yield from pmd_lock(ctx, mm, pmdp, S_RPT_PML)
        # BUG(retract-no-pmd-recheck): skip the seed patch's recheck of the pmd state
        # under pml: a table freed meanwhile by PT reclaim leaves a none pmd, and
        # pte_lockptr() then derives a lock from it.
        recheck_ok = True
        if "retract-no-pmd-recheck" not in ctx.bugs:
            recheck_ok = (yield from check_pmd_state(ctx, pmdp, S_RPT_RECHECK)) == SCAN_SUCCEED
        if recheck_ok:
            cur = yield from pmdp_get_lockless(ctx, pmdp, S_RPT_LOCKPTR)
            ptl = pte_lockptr(ctx, mm, cur, S_RPT_LOCKPTR)
            if ptl is not pml:
                yield from spin_lock_nested(ctx, ptl, S_RPT_PTL)
            yield S_RPT_RECHECK_VMA
            ctx.access(vma, S_RPT_RECHECK_VMA, False)
            if vma.anon_vma is None and not vma.uffd_wp:
                pgt_pmd = yield from pmdp_collapse_flush(ctx, vma, addr, pmdp, S_RPT_CLEAR,
                                                         S_RPT_FLUSH)
                success = True
            if ptl is not pml:
                yield from spin_unlock(ctx, ptl, S_RPT_UNLOCK_PTL)
        yield from spin_unlock(ctx, pml, S_RPT_DROP_PML)
        yield S_RPT_NOTIFY_END
        if success:
            yield S_RPT_DEC
            ctx.access(mm, S_RPT_DEC, True)
            mm.nr_ptes -= 1
            yield from pte_free_defer(ctx, mm, pmd_pgtable(pgt_pmd))
    yield from up_read(ctx, f.i_mmap_rwsem, S_RPT_UNLOCK)


# -- collapse_file ------------------------------------------------------------------------------

S_CF_ALLOC = site("collapse_file:alloc_charge_folio")
S_CF_LOCK_NEW = site("collapse_file:__folio_set_locked")
S_CF_XA_IRQ = site("collapse_file:xas_lock_irq")
S_CF_XA_LOCK = site("collapse_file:xa_lock")
S_CF_XA_UNLOCK = site("collapse_file:xa_unlock")
S_CF_XA_IRQ_ON = site("collapse_file:xas_unlock_irq")
S_CF_XA_IRQ2 = site("collapse_file:xas_lock_irq_store")
S_CF_XA_LOCK2 = site("collapse_file:xa_lock_store")
S_CF_XA_UNLOCK2 = site("collapse_file:xa_unlock_store")
S_CF_XA_IRQ2_ON = site("collapse_file:xas_unlock_irq_store")
S_CF_LOAD = site("collapse_file:xas_load")
S_CF_TRYLOCK = site("collapse_file:folio_trylock")
S_CF_GET = site("collapse_file:folio_get")
S_CF_REFCHECK = site("collapse_file:folio_ref_count")
S_CF_COPY = site("collapse_file:copy_mc_highpage")
S_CF_STORE = site("collapse_file:xas_store")
S_CF_UNLOCK_NEW = site("collapse_file:folio_unlock_new")
S_CF_OLD_MAPPING = site("collapse_file:old_folio_mapping_null")
S_CF_UNLOCK_OLD = site("collapse_file:folio_unlock_old")
S_CF_PUT_OLD = site("collapse_file:folio_put_refs_old")
S_CF_ROLLBACK_UNLOCK = site("collapse_file:rollback_folio_unlock")
S_CF_ROLLBACK_PUT = site("collapse_file:rollback_folio_put")
S_CF_PUT_NEW = site("collapse_file:folio_put_new")


def collapse_file(ctx: Ctx, f, start: int, is_khugepaged: bool) -> KGen[Any]:
    """mm/khugepaged.c ``collapse_file``.

    Collapse page-cache indexes [start, start + PMD) of ``f`` into one huge folio."""
    n = ctx.config.ptrs_per_pte
    if start % n or start + n > f.npages:
        return SCAN_FAIL
    new = yield from folio_alloc(ctx, n, False, S_CF_ALLOC)
    yield S_CF_LOCK_NEW
    # __folio_set_locked(): the folio is still private, so no atomic lock is needed.
    yield from sleep_trylock(ctx, new.lock, S_CF_LOCK_NEW)
    new.index = start
    new.mapping = f
    new.uptodate = False
    pagelist = []
    result = SCAN_SUCCEED
    xa = f.i_pages_lock
    for index in range(start, start + n):
        yield from local_irq_disable(ctx, S_CF_XA_IRQ)            # xas_lock_irq()
        yield from spin_lock(ctx, xa, S_CF_XA_LOCK)
        yield S_CF_LOAD
        ctx.access(f, S_CF_LOAD, False)
        old = f.page_cache.get(index)
        if old is None or old.npages != 1:
            result = SCAN_FAIL if old is None else SCAN_PAGE_COMPOUND
        elif not (yield from folio_trylock(ctx, old, S_CF_TRYLOCK)):
            result = SCAN_PAGE_LOCK
        else:
            yield from folio_get(ctx, old, S_CF_GET)
            pagelist.append(old)
        yield from spin_unlock(ctx, xa, S_CF_XA_UNLOCK)           # xas_unlock_irq()
        yield from local_irq_enable(ctx, S_CF_XA_IRQ_ON)
        if result != SCAN_SUCCEED:
            break
        if old.mapcount:
            yield from try_to_unmap(ctx, old)
        yield S_CF_REFCHECK
        if old.refcount != 2 or old.mapcount:
            result = SCAN_PAGE_COUNT
            break
    if result != SCAN_SUCCEED:
        yield from try_to_unmap_flush(ctx)
        for old in pagelist:
            yield from folio_unlock(ctx, old, S_CF_ROLLBACK_UNLOCK)
            yield from folio_put(ctx, old, S_CF_ROLLBACK_PUT)
        new.mapping = None
        yield from folio_unlock(ctx, new, S_CF_UNLOCK_NEW)
        yield from folio_put(ctx, new, S_CF_PUT_NEW)
        return result
    yield from try_to_unmap_flush(ctx)
    for i, old in enumerate(pagelist):
        yield S_CF_COPY
        ctx.access(old, S_CF_COPY, False)
        new.data[i] = old.data[0]
    yield from local_irq_disable(ctx, S_CF_XA_IRQ2)
    yield from spin_lock(ctx, xa, S_CF_XA_LOCK2)
    yield S_CF_STORE
    ctx.access(f, S_CF_STORE, True)
    new.uptodate = True
    new.refcount += n                         # folio_ref_add(): one per page-cache slot
    for index in range(start, start + n):
        f.page_cache[index] = new
    yield from spin_unlock(ctx, xa, S_CF_XA_UNLOCK2)
    yield from local_irq_enable(ctx, S_CF_XA_IRQ2_ON)
    yield from retract_page_tables(ctx, f, start)
    if not is_khugepaged:
        result = SCAN_PTE_MAPPED_HUGEPAGE
    yield from folio_unlock(ctx, new, S_CF_UNLOCK_NEW)
    for old in pagelist:
        yield S_CF_OLD_MAPPING
        old.mapping = None
        yield from folio_unlock(ctx, old, S_CF_UNLOCK_OLD)
        yield from folio_put(ctx, old, S_CF_PUT_OLD, refs=2)
    yield from folio_put(ctx, new, S_CF_PUT_NEW)
    return result


# -- collapse_pte_mapped_thp -------------------------------------------------------------------

S_CPM_VMA = site("collapse_pte_mapped_thp:vma_lookup")
S_CPM_FIND1 = site("collapse_pte_mapped_thp:find_pmd_fast_check")
S_CPM_FIND2 = site("collapse_pte_mapped_thp:find_pmd_or_thp_or_none")
S_CPM_SCAN = site("collapse_pte_mapped_thp:step1_ptep_get")
S_CPM_STEP1_UNLOCK = site("collapse_pte_mapped_thp:step1_spin_unlock")
S_CPM_STEP1_UNMAP = site("collapse_pte_mapped_thp:step1_pte_unmap")
S_CPM_NOTIFY = site("collapse_pte_mapped_thp:mmu_notifier_invalidate_range_start")
S_CPM_UFFD_PML = site("collapse_pte_mapped_thp:uffd_pmd_lock")
S_CPM_NOTABLE = site("collapse_pte_mapped_thp:table_vanished")
S_CPM_PTL = site("collapse_pte_mapped_thp:spin_lock")
S_CPM_PTL_NESTED = site("collapse_pte_mapped_thp:spin_lock_nested")
S_CPM_RECHECK = site("collapse_pte_mapped_thp:pmd_same")
S_CPM_STEP2 = site("collapse_pte_mapped_thp:step2_ptep_get")
S_CPM_CLEAR = site("collapse_pte_mapped_thp:ptep_clear")
S_CPM_STEP2_UNLOCK = site("collapse_pte_mapped_thp:step2_spin_unlock")
S_CPM_STEP3 = site("collapse_pte_mapped_thp:folio_ref_sub")
S_CPM_PML = site("collapse_pte_mapped_thp:pmd_lock")
S_CPM_PML_RECHECK = site("collapse_pte_mapped_thp:pmd_same_after_pml")
S_CPM_PMD_CHANGED = site("collapse_pte_mapped_thp:pmd_changed_flush_tlb_mm")
S_CPM_PTL4 = site("collapse_pte_mapped_thp:step4_spin_lock_nested")
S_CPM_COLLAPSE = site("collapse_pte_mapped_thp:pmdp_collapse_flush")
S_CPM_COLLAPSE_FLUSH = site("collapse_pte_mapped_thp:flush_tlb_range")
S_CPM_UNLOCK_PTL = site("collapse_pte_mapped_thp:spin_unlock_ptl")
S_CPM_STEP4_UNMAP = site("collapse_pte_mapped_thp:step4_pte_unmap")
S_CPM_UNLOCK_PML = site("collapse_pte_mapped_thp:spin_unlock_pml")
S_CPM_NOTIFY_END = site("collapse_pte_mapped_thp:mmu_notifier_invalidate_range_end")
S_CPM_DEC = site("collapse_pte_mapped_thp:mm_dec_nr_ptes")
S_CPM_ABORT_FLUSH = site("collapse_pte_mapped_thp:abort_flush_tlb_mm")
S_CPM_ABORT_REFS = site("collapse_pte_mapped_thp:abort_folio_ref_sub")
S_CPM_ABORT_UNLOCK = site("collapse_pte_mapped_thp:abort_pte_unmap_unlock")
S_CPM_ABORT_UNMAP = site("collapse_pte_mapped_thp:abort_pte_unmap")
S_CPM_ABORT_PML = site("collapse_pte_mapped_thp:abort_spin_unlock_pml")
S_CPM_DROP_UNLOCK = site("collapse_pte_mapped_thp:folio_unlock")
S_CPM_DROP_PUT = site("collapse_pte_mapped_thp:folio_put")
S_SHP_LOCK = site("set_huge_pmd:pmd_lock")
S_SHP_CHECK = site("set_huge_pmd:pmd_none")
S_SHP_SET = site("set_huge_pmd:set_pmd_at")
S_SHP_UNLOCK = site("set_huge_pmd:spin_unlock")


def set_huge_pmd(ctx: Ctx, vma: Vma, haddr: int, pmdp: PmdPtr,
                 folio: Folio) -> KGen[Any]:
    """mm/khugepaged.c ``set_huge_pmd``.

    ``set_huge_pmd`` -> ``do_set_pmd``: map the folio by the pmd if it is none, and
    take the mapping's reference."""
    mm = vma.mm
    pml = yield from pmd_lock(ctx, mm, pmdp, S_SHP_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_SHP_CHECK)
    if cur is not None:
        yield from spin_unlock(ctx, pml, S_SHP_UNLOCK)
        return SCAN_FAIL
    yield S_SHP_SET
    ctx.access(pmdp.table, S_SHP_SET, True)
    add_mm_counter(ctx, mm, mm_counter(folio), ctx.config.ptrs_per_pte)
    folio_add_rmap(ctx, folio)
    folio.refcount += 1
    pmdp.table.slots[pmdp.idx] = HugePmd(folio, False)
    yield from spin_unlock(ctx, pml, S_SHP_UNLOCK)
    return SCAN_SUCCEED


def collapse_pte_mapped_thp(ctx: Ctx, mm: Mm, addr: int, install_pmd: bool) -> KGen[Any]:
    """mm/khugepaged.c ``collapse_pte_mapped_thp``, ``try_collapse_pte_mapped_thp``.

    mm/khugepaged.c ``collapse_pte_mapped_thp`` as merged in v6.13 ("use
    pte_offset_map_rw_nolock()", v5) and unchanged in these steps through v6.18 (read
    from a ~v6.18 linux-next copy and a 2026 copy, see docs/upstream-anchors.md): step 1
    checks the ptes under ``pte_offset_map_lock``; the notifier; pml early for a
    uffd-armed private VMA; ``pte_offset_map_rw_nolock`` + ptl + ``pmd_same``; step 2
    clears the ptes, drops ptl but keeps the map (its RCU section) until step 4; step 3
    the counts; step 4 retakes pml (and the stale table's ptl) and rechecks the pmd,
    ``flush_tlb_mm`` + ``goto unlock`` if it changed; ``pmdp_collapse_flush``,
    ``pte_unmap_unlock``, ``pte_free_defer``; step 5 maybe the huge pmd. The caller holds
    the mmap read lock. Returns a SCAN_* result.

    Differs from mainline only by the candidate fix of switch
    ``collapse-pte-mapped-thp-nosplit-no-recheck`` (the step-4 recheck also when
    ``ptl == pml``). Simplified: one pte at a time (no ``folio_pte_batch``); the
    notifier calls are scheduling points without listeners."""
    n = ctx.config.ptrs_per_pte
    haddr = addr - addr % n
    yield S_CPM_VMA
    ctx.access(mm, S_CPM_VMA, False)
    vma = mm.find_vma(haddr)
    if vma is None or vma.file is None or not (vma.start <= haddr and haddr + n <= vma.end):
        return SCAN_VMA_CHECK
    result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, haddr, S_CPM_FIND1)
    if result == SCAN_PMD_MAPPED:
        return result
    if not vma_suits_huge(ctx, vma, haddr):
        return SCAN_VMA_CHECK
    if vma.uffd_wp:
        return SCAN_PTE_UFFD_WP
    folio = yield from filemap_lock_folio(ctx, vma.file, vma.page_index(haddr))
    if folio is None:
        return SCAN_PAGE_NULL
    result = yield from _collapse_locked(ctx, mm, vma, haddr, folio, install_pmd)
    yield from folio_unlock(ctx, folio, S_CPM_DROP_UNLOCK)
    yield from folio_put(ctx, folio, S_CPM_DROP_PUT)
    return result


def _collapse_locked(ctx: Ctx, mm: Mm, vma: Vma, haddr: int, folio: Folio,
                     install_pmd: bool) -> KGen[Any]:
    n = ctx.config.ptrs_per_pte
    if folio.npages != n:
        return SCAN_PAGE_COMPOUND
    result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, haddr, S_CPM_FIND2)
    if result == SCAN_PMD_NONE:
        return (yield from _maybe_install(ctx, vma, haddr, folio, install_pmd))
    if result != SCAN_SUCCEED:
        return result
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, haddr)
    if table is None:
        return SCAN_FAIL
    # step 1: every mapped pte maps the right page of the folio
    for i in range(n):
        pte = yield from ptep_get(ctx, table, i, S_CPM_SCAN)
        if pte is None:
            continue
        if type(pte) is not Pte or pte.folio is not folio or pte.page != i:
            yield from pte_unmap_unlock(ctx, ptl, S_CPM_ABORT_UNLOCK, S_CPM_ABORT_UNMAP)
            return SCAN_PTE_NON_PRESENT if type(pte) is not Pte else SCAN_FAIL
    yield from pte_unmap_unlock(ctx, ptl, S_CPM_STEP1_UNLOCK, S_CPM_STEP1_UNMAP)
    yield S_CPM_NOTIFY
    pml = None
    if vma.uffd_armed and not vma.shared:
        pml = yield from pmd_lock(ctx, mm, pmdp, S_CPM_UFFD_PML)
    nr_ptes = 0
    table, _, pgt_pmd, ptl2 = yield from pte_offset_map_rw_nolock(ctx, mm, pmdp, haddr)
    if table is None:
        yield S_CPM_NOTABLE
        return (yield from _abort(ctx, mm, folio, 0, None, ptl, pml, S_CPM_NOTABLE))
    ptl = ptl2
    if pml is None:
        yield from spin_lock(ctx, ptl, S_CPM_PTL)
    elif ptl is not pml:
        yield from spin_lock_nested(ctx, ptl, S_CPM_PTL_NESTED)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_CPM_RECHECK)
    if not pmd_same(pgt_pmd, cur):
        return (yield from _abort(ctx, mm, folio, 0, table, ptl, pml, S_CPM_RECHECK))
    # step 2: clear the ptes (no flush: pmdp_collapse_flush will do it)
    for i in range(n):
        pte = yield from ptep_get(ctx, table, i, S_CPM_STEP2)
        if pte is None:
            continue
        if type(pte) is not Pte or pte.folio is not folio or pte.page != i:
            return (yield from _abort(ctx, mm, folio, nr_ptes, table, ptl, pml, S_CPM_STEP2))
        yield from ptep_get_and_clear(ctx, table, i, S_CPM_CLEAR)
        folio_remove_rmap(ctx, folio, S_CPM_CLEAR)
        nr_ptes += 1
    # The map stays: the RCU section pte_offset_map_rw_nolock entered lasts until
    # step 4's pte_unmap_unlock, so the table's memory cannot be freed meanwhile.
    if pml is None:
        yield from spin_unlock(ctx, ptl, S_CPM_STEP2_UNLOCK)
    # step 3: references and counters
    if nr_ptes:
        yield S_CPM_STEP3
        folio.refcount -= nr_ptes
        add_mm_counter(ctx, mm, mm_counter(folio), -nr_ptes)
    # step 4: remove the (now empty) table. ptl was dropped, so PT reclaim may have
    # freed it: the pmd is rechecked under both locks. (Mainline rechecks only when
    # ptl != pml: see the switch below.)
    if pml is None:
        pml = yield from pmd_lock(ctx, mm, pmdp, S_CPM_PML)
        if ptl is not pml:
            yield from spin_lock_nested(ctx, ptl, S_CPM_PTL4)
        # BUG(collapse-pte-mapped-thp-nosplit-no-recheck): mainline rechecks only when
        # ptl != pml; with ptl == pml the table may have been reclaimed since step 2.
        if ptl is not pml or "collapse-pte-mapped-thp-nosplit-no-recheck" not in ctx.bugs:
            cur = yield from pmdp_get_lockless(ctx, pmdp, S_CPM_PML_RECHECK)
            if not pmd_same(pgt_pmd, cur):
                yield from flush_tlb_mm(ctx, mm, S_CPM_PMD_CHANGED)
                # goto unlock: the counts were settled in step 3
                return (yield from _abort(ctx, mm, folio, 0, table, ptl, pml,
                                          S_CPM_PMD_CHANGED))
    old = yield from pmdp_collapse_flush(ctx, vma, haddr, pmdp, S_CPM_COLLAPSE,
                                         S_CPM_COLLAPSE_FLUSH)
    yield from pte_unmap_unlock(ctx, ptl, S_CPM_UNLOCK_PTL, S_CPM_STEP4_UNMAP)
    if ptl is not pml:
        yield from spin_unlock(ctx, pml, S_CPM_UNLOCK_PML)
    yield S_CPM_NOTIFY_END
    yield S_CPM_DEC
    ctx.access(mm, S_CPM_DEC, True)
    mm.nr_ptes -= 1
    yield from pte_free_defer(ctx, mm, pmd_pgtable(old))
    return (yield from _maybe_install(ctx, vma, haddr, folio, install_pmd))


def _maybe_install(ctx: Ctx, vma: Vma, haddr: int, folio: Folio, install_pmd: bool) -> KGen[Any]:
    if not install_pmd:
        return SCAN_SUCCEED
    pmdp = yield from pmd_alloc(ctx, vma.mm, haddr)
    return (yield from set_huge_pmd(ctx, vma, haddr, pmdp, folio))


def _abort(ctx: Ctx, mm: Mm, folio: Folio, nr_ptes: int, table, ptl, pml, site_) -> KGen[Any]:
    """The ``abort:`` label: undo the counts, unlock what is held."""
    if nr_ptes:
        yield from flush_tlb_mm(ctx, mm, S_CPM_ABORT_FLUSH)
        yield S_CPM_ABORT_REFS
        folio.refcount -= nr_ptes
        add_mm_counter(ctx, mm, mm_counter(folio), -nr_ptes)
    if table is not None:
        yield from pte_unmap_unlock(ctx, ptl, S_CPM_ABORT_UNLOCK, S_CPM_ABORT_UNMAP)
    if pml is not None and pml is not ptl:
        yield from spin_unlock(ctx, pml, S_CPM_ABORT_PML)
    yield S_CPM_NOTIFY_END
    return SCAN_FAIL



# -- anonymous collapse -----------------------------------------------------------------------

S_SP_PTE = site("hpage_collapse_scan_pmd:ptep_get")
S_SP_UNLOCK = site("hpage_collapse_scan_pmd:spin_unlock")
S_SP_UNMAP = site("hpage_collapse_scan_pmd:pte_unmap")
S_SP_FIND = site("hpage_collapse_scan_pmd:find_pmd_or_thp_or_none")


def is_refcount_suitable(folio: Folio) -> bool:
    """mm/khugepaged.c ``is_refcount_suitable``: no references beyond the mappings' and
    the swap cache's (a GUP pin, for one, makes the page uncollapsible)."""
    return folio.refcount == folio.mapcount + (folio.npages if folio.swap is not None else 0)


def hpage_collapse_scan_pmd(ctx: Ctx, mm: Mm, vma: Vma, haddr: int) -> KGen[Any]:
    """mm/khugepaged.c ``hpage_collapse_scan_pmd`` (v6.12 body in core/upstream; the
    checks are the same through v6.18): look at the table under its lock. Swap entries are
    counted (``unmapped``: ``collapse_huge_page`` swaps them in first); none and zero-page
    ptes are allowed unless the VMA is uffd-armed (a fault there must reach the handler);
    a uffd-wp pte refuses; every present page must be anonymous, unlocked and without
    references beyond its mappings' and the swap cache's (``is_refcount_suitable``: a GUP
    pin refuses); at least one pte must be writable (``SCAN_PAGE_RO``: a table of only
    none, zero-page or swap entries is not collapsed). The check is racy by design:
    ``__collapse_huge_page_isolate`` repeats it on the detached table.

    Returns ``(result, unmapped)``. Simplified: no max_ptes_none/swap/shared limits (the
    model's tables are small: MADV_COLLAPSE's unlimited rules), no young/referenced
    heuristic, no NUMA node choice, no LRU flag (reclaim's isolation shows as its
    reference); large anonymous folios refuse (``SCAN_PAGE_COMPOUND``)."""
    n = ctx.config.ptrs_per_pte
    result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, haddr, S_SP_FIND)
    if result != SCAN_SUCCEED:
        return result, 0
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, haddr)
    if table is None:
        return SCAN_PMD_NULL, 0
    unmapped = 0
    writable = False
    result = SCAN_SUCCEED
    for i in range(n):
        pte = yield from ptep_get(ctx, table, i, S_SP_PTE)
        if type(pte) is SwapPte:
            unmapped += 1
            continue
        if pte is None or (type(pte) is Pte and pte.special):
            if vma.uffd_armed:
                result = SCAN_EXCEED_NONE_PTE
                break
            continue
        if type(pte) is not Pte:                       # a marker
            result = SCAN_FAIL
            break
        if pte.uffd_wp:
            result = SCAN_PTE_UFFD_WP
            break
        writable = writable or pte.write
        folio = pte.folio
        if not folio.anon:
            result = SCAN_PAGE_ANON
            break
        if folio.npages != 1:
            result = SCAN_PAGE_COMPOUND
            break
        if folio.lock.owner is not None:               # folio_test_locked()
            result = SCAN_PAGE_LOCK
            break
        if not is_refcount_suitable(folio):            # GUP pins and other references
            result = SCAN_PAGE_COUNT
            break
    if result == SCAN_SUCCEED and not writable:
        result = SCAN_PAGE_RO
    yield from pte_unmap_unlock(ctx, ptl, S_SP_UNLOCK, S_SP_UNMAP)
    return result, unmapped


S_SWAPIN_PTE = site("__collapse_huge_page_swapin:ptep_get_lockless")
S_SWAPIN_UNLOCK = site("__collapse_huge_page_swapin:mmap_read_unlock")
S_SWAPIN_UNMAP = site("__collapse_huge_page_swapin:pte_unmap")


def __collapse_huge_page_swapin(ctx: Ctx, mm: Mm, vma: Vma, haddr: int,
                                pmdp: PmdPtr) -> KGen[Any]:
    """mm/khugepaged.c ``__collapse_huge_page_swapin`` (mmap read lock held): walk the
    table locklessly (``pte_offset_map_ro_nolock``, ``ptep_get_lockless``) and run
    ``do_swap_page`` on each swap entry, remapping after each. On failure the mmap lock
    is dropped (the caller goes to ``out_nolock``).

    Simplified: ``do_swap_page``'s folio lock sleeps with the mmap lock held (the kernel's
    FAULT_FLAG_ALLOW_RETRY would drop it and fail with SCAN_PAGE_LOCK instead)."""
    n = ctx.config.ptrs_per_pte
    table = None
    for i in range(n):
        if table is None:
            table, _, _ptl = yield from pte_offset_map_ro_nolock(ctx, mm, pmdp, haddr + i)
            if table is None:
                yield from mmap_read_unlock(ctx, mm, S_SWAPIN_UNLOCK)
                return SCAN_PMD_NULL
        orig = yield from ptep_get(ctx, table, i, S_SWAPIN_PTE)
        if type(orig) is not SwapPte:
            continue
        vmf = Vmf(vma, haddr + i, False)
        vmf.pmdp = pmdp
        vmf.orig_pte = orig
        vmf.orig_pte_valid = True
        ret = yield from do_swap_page(ctx, vmf)      # unmaps the table first
        table = None
        if ret not in (VM_FAULT_OK, VM_FAULT_NOPAGE):
            yield from mmap_read_unlock(ctx, mm, S_SWAPIN_UNLOCK)
            return SCAN_FAIL
    if table is not None:
        yield from pte_unmap(ctx, S_SWAPIN_UNMAP)
    return SCAN_SUCCEED


S_HR_FIND = site("hugepage_vma_revalidate:vma_lookup")


def hugepage_vma_revalidate(ctx: Ctx, mm: Mm, haddr: int) -> KGen[Any]:
    """mm/khugepaged.c ``hugepage_vma_revalidate``.

    The VMA at ``haddr`` if it is still an anonymous VMA covering the huge page."""
    yield S_HR_FIND
    ctx.access(mm, S_HR_FIND, False)
    if mm.mm_users == 0:
        return None
    vma = mm.find_vma(haddr)
    n = ctx.config.ptrs_per_pte
    if (vma is None or not vma.anonymous or vma.shared or not vma.hugepage
            or not (vma.start <= haddr and haddr + n <= vma.end) or vma.anon_vma is None):
        return None
    return vma


S_CH_ALLOC = site("collapse_huge_page:alloc_charge_folio")
S_CH_READ_LOCK = site("collapse_huge_page:mmap_read_lock")
S_CH_READ_UNLOCK = site("collapse_huge_page:mmap_read_unlock")
S_CH_WRITE_LOCK = site("collapse_huge_page:mmap_write_lock")
S_CH_WRITE_UNLOCK = site("collapse_huge_page:mmap_write_unlock")
S_CH_VALID = site("check_pmd_still_valid:find_pmd_or_thp_or_none")
S_CH_AV_LOCK = site("collapse_huge_page:anon_vma_lock_write")
S_CH_AV_UNLOCK = site("collapse_huge_page:anon_vma_unlock_write")
S_CH_NOTIFY = site("collapse_huge_page:mmu_notifier_invalidate_range_start")
S_CH_PML = site("collapse_huge_page:pmd_lock")
S_CH_CLEAR = site("collapse_huge_page:pmdp_collapse_flush")
S_CH_FLUSH = site("collapse_huge_page:flush_tlb_range")
S_CH_PML_UNLOCK = site("collapse_huge_page:spin_unlock_pml")
S_CH_SYNC = site("collapse_huge_page:tlb_remove_table_sync_one")
S_CH_ISO_PTE = site("__collapse_huge_page_isolate:ptep_get")
S_CH_ISO_LOCK = site("__collapse_huge_page_isolate:folio_trylock")
S_CH_ISO_UNLOCK = site("__collapse_huge_page_isolate:folio_unlock")
S_CH_PTL_UNLOCK = site("collapse_huge_page:spin_unlock_pte_ptl")
S_CH_FAIL_UNMAP = site("collapse_huge_page:fail_pte_unmap")
S_CH_FAIL_PML = site("collapse_huge_page:fail_pmd_lock")
S_CH_FAIL_POPULATE = site("collapse_huge_page:pmd_populate_old_table")
S_CH_FAIL_UNLOCK = site("collapse_huge_page:fail_spin_unlock")
S_CH_COPY = site("__collapse_huge_page_copy:copy_mc_user_highpage")
S_CH_COPY_LOCK = site("__collapse_huge_page_copy_succeeded:spin_lock")
S_CH_COPY_CLEAR = site("__collapse_huge_page_copy_succeeded:ptep_clear")
S_CH_COPY_UNLOCK = site("__collapse_huge_page_copy_succeeded:spin_unlock")
S_CH_COPY_FREE = site("__collapse_huge_page_copy_succeeded:free_folio_and_swap_cache")
S_CH_COPY_NONE = site("__collapse_huge_page_copy_succeeded:add_mm_counter")
S_CH_UNMAP = site("collapse_huge_page:pte_unmap")
S_CH_SET_LOCK = site("collapse_huge_page:pmd_lock_set")
S_CH_SET = site("collapse_huge_page:set_pmd_at")
S_CH_SET_UNLOCK = site("collapse_huge_page:spin_unlock_set")
S_CH_PUT_NEW = site("collapse_huge_page:folio_put_new")


def _bug_on_pmd_not_none(ctx: Ctx, pmdp: PmdPtr, site_) -> None:
    ctx.access(pmdp.table, site_, False)
    if pmdp.table.slots[pmdp.idx] is not None:
        r = Report("kernel BUG at mm/khugepaged.c:collapse_huge_page", "bug-on")
        r.add("BUG_ON", f"!pmd_none(*pmd) at {site_.name}")
        raise KernelReport(r)


def collapse_huge_page(ctx: Ctx, mm: Mm, haddr: int, unmapped: int = 0) -> KGen[Any]:
    """mm/khugepaged.c ``collapse_huge_page``, ``check_pmd_still_valid``,
    ``__collapse_huge_page_isolate``, ``__collapse_huge_page_copy``,
    ``__collapse_huge_page_copy_succeeded``.

    mm/khugepaged.c ``collapse_huge_page`` (entered without the mmap lock): allocate the
    huge folio; under the mmap read lock revalidate, find the pmd and swap in the
    scan's swap entries (``__collapse_huge_page_swapin``); then under the mmap write lock
    revalidate, write-lock the VMA *before* checking the pmd (the Aug-2025 fix: so no
    MADV_DONTNEED under the VMA lock can reclaim the table after the check), take the
    anon_vma lock, detach the table (``pmdp_collapse_flush``), IPI-sync GUP-fast, map the
    detached table through the saved pmd value, isolate every page (the scan's rules
    again; on failure the old table goes back), copy, clear the old ptes, and install the
    huge pmd with the old table deposited under it. The old table is never freed here.

    Read: v6.12 (core/upstream) with the Aug-2025 reordering. Simplified as the scan; no
    memcg charge failures."""
    n = ctx.config.ptrs_per_pte
    new = yield from folio_alloc(ctx, n, True, S_CH_ALLOC)
    yield from mmap_read_lock(ctx, mm, S_CH_READ_LOCK)
    vma = yield from hugepage_vma_revalidate(ctx, mm, haddr)
    result, pmdp = (SCAN_VMA_CHECK, None)
    if vma is not None:
        result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, haddr, S_CH_VALID)
    if result == SCAN_SUCCEED and unmapped:
        result = yield from __collapse_huge_page_swapin(ctx, mm, vma, haddr, pmdp)
        if result != SCAN_SUCCEED:                  # out_nolock: the lock is dropped
            yield from folio_put(ctx, new, S_CH_PUT_NEW)
            return result
    yield from mmap_read_unlock(ctx, mm, S_CH_READ_UNLOCK)
    if result != SCAN_SUCCEED:
        yield from folio_put(ctx, new, S_CH_PUT_NEW)
        return result
    yield from mmap_write_lock(ctx, mm, S_CH_WRITE_LOCK)
    vma = yield from hugepage_vma_revalidate(ctx, mm, haddr)
    result = SCAN_VMA_CHECK
    if vma is not None:
        # BUG(collapse-vma-lock-after-pmd-check): check the pmd before write-locking the
        # VMA, as before the Aug-2025 fix: a MADV_DONTNEED under the VMA's read lock can
        # still reclaim the table between the check and vma_start_write().
        if "collapse-vma-lock-after-pmd-check" not in ctx.bugs:
            yield from vma_start_write(ctx, vma)
        result, pmdp = yield from find_pmd_or_thp_or_none(ctx, mm, haddr, S_CH_VALID)
    if result != SCAN_SUCCEED:
        yield from mmap_write_unlock(ctx, mm, S_CH_WRITE_UNLOCK)
        yield from folio_put(ctx, new, S_CH_PUT_NEW)
        return result
    if "collapse-vma-lock-after-pmd-check" in ctx.bugs:
        yield from vma_start_write(ctx, vma)
    av = vma.anon_vma
    yield from down_write(ctx, av.rwsem, S_CH_AV_LOCK)
    yield S_CH_NOTIFY
    pml = yield from pmd_lock(ctx, mm, pmdp, S_CH_PML)
    old_pmd = yield from pmdp_collapse_flush(ctx, vma, haddr, pmdp, S_CH_CLEAR, S_CH_FLUSH)
    yield from spin_unlock(ctx, pml, S_CH_PML_UNLOCK)
    yield from tlb_remove_table_sync_one(ctx, S_CH_SYNC)
    saved = StackPmd(old_pmd, pmdp.idx)
    table, _, pte_ptl = yield from __pte_offset_map_lock(ctx, mm, saved, haddr)
    isolated = []
    ok = table is not None
    if ok:
        # __collapse_huge_page_isolate(): the scan's rules again, on the detached table.
        writable = False
        for i in range(n):
            pte = yield from ptep_get(ctx, table, i, S_CH_ISO_PTE)
            if pte is None or (type(pte) is Pte and pte.special):
                if vma.uffd_armed:                       # SCAN_EXCEED_NONE_PTE
                    ok = False
                    break
                continue
            if (type(pte) is not Pte or pte.uffd_wp or not pte.folio.anon
                    or pte.folio.npages != 1):
                ok = False
                break
            if not (yield from folio_trylock(ctx, pte.folio, S_CH_ISO_LOCK)):
                ok = False                               # SCAN_PAGE_LOCK
                break
            if not is_refcount_suitable(pte.folio):      # SCAN_PAGE_COUNT
                yield from folio_unlock(ctx, pte.folio, S_CH_ISO_UNLOCK)
                ok = False
                break
            isolated.append(pte.folio)
            writable = writable or pte.write
        if ok and not writable:
            ok = False                                   # SCAN_PAGE_RO
        yield from spin_unlock(ctx, pte_ptl, S_CH_PTL_UNLOCK)
    if not ok:
        for folio in isolated:
            yield from folio_unlock(ctx, folio, S_CH_ISO_UNLOCK)
        if table is not None:
            yield from pte_unmap(ctx, S_CH_FAIL_UNMAP)
        pml = yield from pmd_lock(ctx, mm, pmdp, S_CH_FAIL_PML)
        yield S_CH_FAIL_POPULATE
        _bug_on_pmd_not_none(ctx, pmdp, S_CH_FAIL_POPULATE)
        yield from pmd_populate(ctx, pmdp, pmd_pgtable(old_pmd), S_CH_FAIL_POPULATE)
        yield from spin_unlock(ctx, pml, S_CH_FAIL_UNLOCK)
        yield from up_write(ctx, av.rwsem, S_CH_AV_UNLOCK)
        yield from mmap_write_unlock(ctx, mm, S_CH_WRITE_UNLOCK)
        yield from folio_put(ctx, new, S_CH_PUT_NEW)
        return SCAN_FAIL
    yield from up_write(ctx, av.rwsem, S_CH_AV_UNLOCK)
    # __collapse_huge_page_copy(): copy, then clear the old ptes and drop the old pages.
    for i in range(n):
        pte = table.slots[i]
        yield S_CH_COPY
        ctx.access(table, S_CH_COPY, False)
        if type(pte) is Pte and not pte.special:
            ctx.access(pte.folio, S_CH_COPY, False)
            new.data[i] = pte.folio.data[pte.page]
    # __collapse_huge_page_copy_succeeded(): a none or zero-page pte is now backed by the
    # huge page too (a zero-page pte is cleared under ptl, "mostly unnecessary": the
    # table is detached); a page is released (unlocked) first, then its pte cleared under
    # ptl, then the page freed.
    for i in range(n):
        pte = table.slots[i]
        add = False
        if type(pte) is Pte and not pte.special:
            yield from folio_unlock(ctx, pte.folio, S_CH_ISO_UNLOCK)   # release_pte_folio
            yield from spin_lock(ctx, pte_ptl, S_CH_COPY_LOCK)
            yield from ptep_get_and_clear(ctx, table, i, S_CH_COPY_CLEAR)
            folio_remove_rmap(ctx, pte.folio, S_CH_COPY_CLEAR)
            yield from spin_unlock(ctx, pte_ptl, S_CH_COPY_UNLOCK)
            yield from folio_put(ctx, pte.folio, S_CH_COPY_FREE)
        elif pte is not None:                                           # the zero page
            add = True
            yield from spin_lock(ctx, pte_ptl, S_CH_COPY_LOCK)
            yield from ptep_get_and_clear(ctx, table, i, S_CH_COPY_CLEAR)
            yield from spin_unlock(ctx, pte_ptl, S_CH_COPY_UNLOCK)
        else:
            add = True
        if add:
            yield S_CH_COPY_NONE
            add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
    yield from pte_unmap(ctx, S_CH_UNMAP)
    pml = yield from pmd_lock(ctx, mm, pmdp, S_CH_SET_LOCK)
    yield S_CH_SET
    _bug_on_pmd_not_none(ctx, pmdp, S_CH_SET)
    ctx.access(pmdp.table, S_CH_SET, True)
    folio_add_new_anon_rmap(ctx, new, vma, haddr)
    pgtable_trans_huge_deposit(pmdp, pmd_pgtable(old_pmd))
    pmdp.table.slots[pmdp.idx] = HugePmd(new, vma.writable)
    yield from spin_unlock(ctx, pml, S_CH_SET_UNLOCK)
    yield from mmap_write_unlock(ctx, mm, S_CH_WRITE_UNLOCK)
    return SCAN_SUCCEED


S_KHA_LOCK = site("khugepaged_scan_mm_slot:mmap_read_lock_anon")
S_KHA_UNLOCK = site("khugepaged_scan_mm_slot:mmap_read_unlock_anon")


def khugepaged_scan_anon(ctx: Ctx, mm: Mm, addr: int) -> KGen[Any]:
    """khugepaged (or MADV_COLLAPSE) on an anonymous huge page: scan under the mmap read
    lock, then ``collapse_huge_page`` (which drops it and takes the write lock)."""
    n = ctx.config.ptrs_per_pte
    haddr = addr - addr % n
    yield from mmap_read_lock(ctx, mm, S_KHA_LOCK)
    vma = yield from hugepage_vma_revalidate(ctx, mm, haddr)
    result = SCAN_VMA_CHECK
    unmapped = 0
    if vma is not None:
        result, unmapped = yield from hpage_collapse_scan_pmd(ctx, mm, vma, haddr)
    yield from mmap_read_unlock(ctx, mm, S_KHA_UNLOCK)
    if result != SCAN_SUCCEED:
        return result
    return (yield from collapse_huge_page(ctx, mm, haddr, unmapped))
