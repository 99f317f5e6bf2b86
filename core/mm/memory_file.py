"""File faults (mm/memory.c, part 2, and mm/filemap.c).

``do_fault`` (``do_read_fault``, ``do_cow_fault``, ``do_shared_fault``), ``__do_fault`` with
its table preallocation, ``finish_fault``, ``do_set_pmd``, ``do_fault_around`` with
``filemap_map_pages`` and ``filemap_map_pmd``, ``filemap_get_entry``, ``filemap_lock_folio``,
``filemap_fault``.

The page-cache folio stays locked from ``filemap_fault`` until after ``finish_fault``: this
is what keeps faults out while ``collapse_file`` holds the new huge folio locked.
Simplified: files are tmpfs-like and fully populated (no readahead, no holes); there are
no ``page_mkwrite`` handlers; the fault-around window is the faulting PTE table's span
within the VMA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import rcu_read_lock, rcu_read_unlock, spin_unlock
from ..sim import site, spin_site
from .folio import (add_mm_counter, folio_add_new_anon_rmap, folio_add_rmap, folio_alloc,
                    folio_lock, folio_put, folio_try_get,
                    folio_trylock, folio_unlock, mm_counter)
from .memory import (VM_FAULT_NOPAGE, VM_FAULT_OK, VM_FAULT_SIGBUS, Vmf, pmd_install,
                     pte_alloc, vmf_anon_prepare, vmf_orig_pte_uffd_wp, vmf_pte_changed)
from .pgtable import (__pte_offset_map_lock, pmd_lock, pmdp_get_lockless,
                      pte_alloc_one, pte_free, pte_unmap_unlock,
                      ptep_get)
from .types import MM_ANONPAGES, MM_FILEPAGES, HugePmd, Pte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Folio, Vma

__all__ = ["do_fault", "filemap_fault", "finish_fault", "do_set_pmd",
           "vma_suits_huge"]


def vma_suits_huge(ctx: Ctx, vma: Vma, haddr: int) -> bool:
    """include/linux/huge_mm.h ``thp_vma_suitable_order``.

    ``thp_vma_suitable_order(vma, haddr, PMD_ORDER)``: the whole aligned range lies in
    the VMA and the file offset is aligned the same way."""
    n = ctx.config.ptrs_per_pte
    return (vma.hugepage and vma.start <= haddr and haddr + n <= vma.end
            and (vma.start - vma.pgoff) % n == 0)


# -- the page cache -------------------------------------------------------------------------------

S_GE_RCU = site("filemap_get_entry:rcu_read_lock")
S_GE_LOAD = site("filemap_get_entry:xas_load")
S_GE_GET = site("filemap_get_entry:folio_try_get")
S_GE_RELOAD = site("filemap_get_entry:xas_reload")
S_GE_STALE_PUT = site("filemap_get_entry:folio_put")
S_GE_RETRY = spin_site("filemap_get_entry:repeat")
S_GE_UNLOCK = site("filemap_get_entry:rcu_read_unlock")


def filemap_get_entry(ctx: Ctx, f, index: int) -> KGen[Any]:
    """mm/filemap.c ``filemap_get_entry``: under RCU, load the slot, take a speculative
    reference (which fails on a folio being freed), and reload the slot to be sure the
    folio is still there. Returns the referenced folio or None."""
    yield from rcu_read_lock(ctx, S_GE_RCU)
    while True:
        yield S_GE_LOAD
        ctx.access(f, S_GE_LOAD, False)
        folio = f.page_cache.get(index)
        if folio is None:
            break
        if (yield from folio_try_get(ctx, folio, S_GE_GET)):
            yield S_GE_RELOAD
            ctx.access(f, S_GE_RELOAD, False)
            if f.page_cache.get(index) is folio:
                break
            yield from folio_put(ctx, folio, S_GE_STALE_PUT)
        yield S_GE_RETRY
    yield from rcu_read_unlock(ctx, S_GE_UNLOCK)
    return folio


S_LF_LOCK = site("filemap_lock_folio:folio_lock")
S_LF_CHECK = site("filemap_lock_folio:folio_mapping_check")
S_LF_STALE_UNLOCK = site("filemap_lock_folio:stale_folio_unlock")
S_LF_STALE_PUT = site("filemap_lock_folio:stale_folio_put")
S_LF_RETRY = spin_site("filemap_lock_folio:repeat")


def filemap_lock_folio(ctx: Ctx, f, index: int) -> KGen[Any]:
    """include/linux/pagemap.h ``filemap_lock_folio``; mm/filemap.c ``__filemap_get_folio``.

    ``__filemap_get_folio(FGP_LOCK)``: the referenced, locked folio still in the
    mapping (after sleeping on the lock, a truncation or collapse may have replaced it:
    look again), or None."""
    while True:
        folio = yield from filemap_get_entry(ctx, f, index)
        if folio is None:
            return None
        yield from folio_lock(ctx, folio, S_LF_LOCK)
        yield S_LF_CHECK
        ctx.access(f, S_LF_CHECK, False)
        if folio.mapping is f and f.page_cache.get(index) is folio:
            return folio
        yield from folio_unlock(ctx, folio, S_LF_STALE_UNLOCK)
        yield from folio_put(ctx, folio, S_LF_STALE_PUT)
        yield S_LF_RETRY


def filemap_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/filemap.c ``filemap_fault``.

    ``filemap_fault`` / ``shmem_fault``: the page-cache folio for the faulting index,
    referenced and locked."""
    vma = vmf.vma
    index = vma.page_index(vmf.vpn)
    if index >= vma.file.npages:
        return None
    return (yield from filemap_lock_folio(ctx, vma.file, index))


# -- do_fault -------------------------------------------------------------------------------------

S_DF_FREE_PREALLOC = site("do_fault:pte_free")


def do_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_fault``.

    ``do_fault``: read, COW or shared fault; an unused preallocated table is freed at
    once at the end (it was never published)."""
    vma = vmf.vma
    if not vmf.write:
        ret = yield from do_read_fault(ctx, vmf)
    elif not vma.shared:
        ret = yield from do_cow_fault(ctx, vmf)
    else:
        ret = yield from do_shared_fault(ctx, vmf)
    if vmf.prealloc_pte is not None:
        table, vmf.prealloc_pte = vmf.prealloc_pte, None
        yield from pte_free(ctx, table, S_DF_FREE_PREALLOC)
    return ret


S_DO_FAULT_PMD = site("__do_fault:pmd_none")
S_DO_FAULT_PREALLOC = site("__do_fault:pte_alloc_one")
S_DO_FAULT_PREALLOC_PTL = site("__do_fault:ptlock_alloc")


def __do_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``__do_fault``.

    ``__do_fault``: preallocate a table if the pmd is none (before taking the folio
    lock), then ``->fault``; returns the locked folio or None."""
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_DO_FAULT_PMD)
    if cur is None and vmf.prealloc_pte is None:
        vmf.prealloc_pte = yield from pte_alloc_one(ctx, vmf.mm, S_DO_FAULT_PREALLOC,
                                                    S_DO_FAULT_PREALLOC_PTL)
    folio = yield from filemap_fault(ctx, vmf)
    return folio


S_RF_UNLOCK = site("do_read_fault:folio_unlock")
S_RF_PUT = site("do_read_fault:folio_put")


def should_fault_around(ctx: Ctx, vmf: Vmf) -> bool:
    """mm/memory.c ``should_fault_around`` (v6.12-v6.18): the mapping has ``->map_pages``
    (every model file does), ``uffd_disable_fault_around()`` is false (only VM_UFFD_WP and
    VM_UFFD_MINOR registrations disable it: a MISSING registration keeps fault-around,
    which maps only pages already in the page cache), and ``fault_around_bytes`` is more
    than a page (config ``fault_around``)."""
    return ctx.config.fault_around and not vmf.vma.uffd_wp


def do_read_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_read_fault``, ``should_fault_around``; include/linux/userfaultfd_k.h
    ``uffd_disable_fault_around``.

    mm/memory.c ``do_read_fault``: fault around first, else ``__do_fault`` and
    ``finish_fault``."""
    if should_fault_around(ctx, vmf):
        ret = yield from do_fault_around(ctx, vmf)
        if ret:
            return ret
    folio = yield from __do_fault(ctx, vmf)
    if folio is None:
        return VM_FAULT_SIGBUS
    ret = yield from finish_fault(ctx, vmf, folio, None)
    yield from folio_unlock(ctx, folio, S_RF_UNLOCK)
    if ret:
        yield from folio_put(ctx, folio, S_RF_PUT)
    return VM_FAULT_OK if ret == VM_FAULT_NOPAGE else ret


S_COW_ALLOC = site("do_cow_fault:folio_prealloc")
S_COW_COPY = site("do_cow_fault:copy_user_highpage")
S_COW_UNLOCK = site("do_cow_fault:folio_unlock")
S_COW_PUT = site("do_cow_fault:folio_put")
S_COW_PUT_NEW = site("do_cow_fault:folio_put_cow")


def do_cow_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_cow_fault``."""
    vma = vmf.vma
    ret = yield from vmf_anon_prepare(ctx, vmf)
    if ret:
        return ret
    cow = yield from folio_alloc(ctx, 1, True, S_COW_ALLOC)
    folio = yield from __do_fault(ctx, vmf)
    if folio is None:
        yield from folio_put(ctx, cow, S_COW_PUT_NEW)
        return VM_FAULT_SIGBUS
    yield S_COW_COPY
    ctx.access(folio, S_COW_COPY, False)
    cow.data[0] = folio.data[vma.page_index(vmf.vpn) - folio.index]
    ret = yield from finish_fault(ctx, vmf, folio, cow)
    yield from folio_unlock(ctx, folio, S_COW_UNLOCK)
    yield from folio_put(ctx, folio, S_COW_PUT)
    if ret:
        yield from folio_put(ctx, cow, S_COW_PUT_NEW)
    return VM_FAULT_OK if ret == VM_FAULT_NOPAGE else ret


S_SF_UNLOCK = site("do_shared_fault:folio_unlock")
S_SF_PUT = site("do_shared_fault:folio_put")


def do_shared_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_shared_fault``."""
    folio = yield from __do_fault(ctx, vmf)
    if folio is None:
        return VM_FAULT_SIGBUS
    ret = yield from finish_fault(ctx, vmf, folio, None)
    yield from folio_unlock(ctx, folio, S_SF_UNLOCK)
    if ret:
        yield from folio_put(ctx, folio, S_SF_PUT)
    return VM_FAULT_OK if ret == VM_FAULT_NOPAGE else ret


# -- finish_fault and do_set_pmd ------------------------------------------------------------------

S_FIN_PMD = site("finish_fault:pmd_none")
S_FIN_CHANGED_UNLOCK = site("finish_fault:pte_changed_unlock")
S_FIN_CHANGED_UNMAP = site("finish_fault:pte_changed_unmap")
S_FIN_RECHECK = site("finish_fault:vmf_pte_changed")
S_FIN_SET = site("finish_fault:set_pte_range")
S_FIN_UNLOCK = site("finish_fault:spin_unlock")
S_FIN_UNMAP = site("finish_fault:pte_unmap")
S_FIN_NOTABLE = site("finish_fault:table_vanished")


def finish_fault(ctx: Ctx, vmf: Vmf, folio: Folio, cow) -> KGen[Any]:
    """mm/memory.c ``finish_fault``.

    ``finish_fault``: install the table (the preallocated one, or ``pte_alloc``) or a
    huge pmd, then map the page under the PTE lock after rechecking the pte. The folio
    reference the fault took becomes the mapping's. Returns 0 or VM_FAULT_NOPAGE."""
    vma, mm = vmf.vma, vmf.mm
    ppte = ctx.config.ptrs_per_pte
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_FIN_PMD)
    if cur is None:
        haddr = vmf.vpn - vmf.vpn % ppte
        if cow is None and folio.npages == ppte and vma_suits_huge(ctx, vma, haddr):
            ret = yield from do_set_pmd(ctx, vmf, folio)
            if ret != "fallback":
                return ret
        if vmf.prealloc_pte is not None:
            table, vmf.prealloc_pte = vmf.prealloc_pte, None
            vmf.prealloc_pte = yield from pmd_install(ctx, mm, vmf.pmdp, table)
        else:
            yield from pte_alloc(ctx, mm, vmf.pmdp)
    table, i, ptl = yield from __pte_offset_map_lock(ctx, mm, vmf.pmdp, vmf.vpn)
    if table is None:
        yield S_FIN_NOTABLE
        return VM_FAULT_NOPAGE
    cur = yield from ptep_get(ctx, table, i, S_FIN_RECHECK)
    if vmf_pte_changed(vmf, cur):
        yield from pte_unmap_unlock(ctx, ptl, S_FIN_CHANGED_UNLOCK, S_FIN_CHANGED_UNMAP)
        return VM_FAULT_NOPAGE
    yield S_FIN_SET
    ctx.access(table, S_FIN_SET, True)
    if cow is not None:
        folio_add_new_anon_rmap(ctx, cow, vma, vmf.vpn)
        wp = vmf_orig_pte_uffd_wp(vmf)        # set_pte_range(): pte_mkuffd_wp()
        table.slots[i] = Pte(cow, 0, not wp, True, True, False, wp)
        # The private copy holds the file page as it was when copied.
        ctx.event("page_filled", vma.mm, vmf.vpn, cow.data[0])
        add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
    else:
        page = vma.page_index(vmf.vpn) - folio.index
        folio_add_rmap(ctx, folio)
        w = vmf.write and vma.shared
        wp = vmf_orig_pte_uffd_wp(vmf)
        table.slots[i] = Pte(folio, page, w and not wp, w, True, False, wp)
        add_mm_counter(ctx, mm, mm_counter(folio), 1)
    yield from pte_unmap_unlock(ctx, ptl, S_FIN_UNLOCK, S_FIN_UNMAP)
    return VM_FAULT_OK


S_SETPMD_LOCK = site("do_set_pmd:pmd_lock")
S_SETPMD_CHECK = site("do_set_pmd:pmd_none")
S_SETPMD_SET = site("do_set_pmd:set_pmd_at")
S_SETPMD_UNLOCK = site("do_set_pmd:spin_unlock")


def do_set_pmd(ctx: Ctx, vmf: Vmf, folio: Folio) -> KGen[Any]:
    """mm/memory.c ``do_set_pmd``.

    ``do_set_pmd``: map a PMD-order page-cache folio with a huge pmd if the pmd is
    still none under the pmd lock; otherwise fall back to ptes."""
    vma, mm = vmf.vma, vmf.mm
    pml = yield from pmd_lock(ctx, mm, vmf.pmdp, S_SETPMD_LOCK)
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_SETPMD_CHECK)
    if cur is not None:
        yield from spin_unlock(ctx, pml, S_SETPMD_UNLOCK)
        return "fallback"
    yield S_SETPMD_SET
    t = vmf.pmdp.table
    ctx.access(t, S_SETPMD_SET, True)
    add_mm_counter(ctx, mm, mm_counter(folio), ctx.config.ptrs_per_pte)
    folio_add_rmap(ctx, folio)
    t.slots[vmf.pmdp.idx] = HugePmd(folio, vmf.write and vma.shared)
    yield from spin_unlock(ctx, pml, S_SETPMD_UNLOCK)
    return VM_FAULT_OK


# -- fault-around ---------------------------------------------------------------------------------

S_FA_PMD = site("do_fault_around:pmd_none")
S_FA_PREALLOC = site("do_fault_around:pte_alloc_one")
S_FA_PREALLOC_PTL = site("do_fault_around:ptlock_alloc")
S_FA_RCU = site("do_fault_around:rcu_read_lock")
S_FA_RCU_UNLOCK = site("do_fault_around:rcu_read_unlock")


def do_fault_around(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_fault_around``."""
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_FA_PMD)
    if cur is None:
        vmf.prealloc_pte = yield from pte_alloc_one(ctx, vmf.mm, S_FA_PREALLOC,
                                                    S_FA_PREALLOC_PTL)
    yield from rcu_read_lock(ctx, S_FA_RCU)
    ret = yield from filemap_map_pages(ctx, vmf)
    yield from rcu_read_unlock(ctx, S_FA_RCU_UNLOCK)
    return ret


S_FMP_NEXT = site("next_uptodate_folio:xas_find")
S_FMP_TRYLOCK = site("next_uptodate_folio:folio_trylock")
S_FMP_GET = site("next_uptodate_folio:folio_try_get")
S_FMP_RELOAD = site("next_uptodate_folio:xas_reload")
S_FMP_SKIP_PUT = site("next_uptodate_folio:folio_put")
S_FMP_NOTABLE_UNLOCK = site("filemap_map_pages:notable_folio_unlock")
S_FMP_NOTABLE_PUT = site("filemap_map_pages:notable_folio_put")
S_FMP_PTE = site("filemap_map_pages:ptep_get")
S_FMP_SET = site("filemap_map_pages:set_pte_range")
S_FMP_FOLIO_UNLOCK = site("filemap_map_pages:folio_unlock")
S_FMP_FOLIO_PUT = site("filemap_map_pages:folio_put")
S_FMP_UNLOCK = site("filemap_map_pages:spin_unlock")
S_FMP_UNMAP = site("filemap_map_pages:pte_unmap")
S_FMP_PMD_HUGE = site("filemap_map_pmd:pmd_trans_huge")
S_FMP_PMD_NONE = site("filemap_map_pmd:pmd_none")
S_FMP_PMD_UNLOCK = site("filemap_map_pmd:folio_unlock")
S_FMP_PMD_PUT = site("filemap_map_pmd:folio_put")


def _window(ctx: Ctx, vmf: Vmf):
    n = ctx.config.ptrs_per_pte
    base = vmf.vpn - vmf.vpn % n
    return max(base, vmf.vma.start), min(base + n, vmf.vma.end)


def next_uptodate_folio(ctx: Ctx, vmf: Vmf, vpn: int, end: int) -> KGen[Any]:
    """mm/filemap.c ``next_uptodate_folio``.

    The next page-cache folio at or after ``vpn`` that is uptodate and can be locked
    without sleeping (``folio_trylock``), referenced (speculatively, with the slot
    reloaded); and its first vpn in the window. The caller is under RCU."""
    vma = vmf.vma
    f = vma.file
    while vpn < end:
        index = vma.page_index(vpn)
        yield S_FMP_NEXT
        ctx.access(f, S_FMP_NEXT, False)
        folio = f.page_cache.get(index)
        if folio is not None and (yield from folio_try_get(ctx, folio, S_FMP_GET)):
            yield S_FMP_RELOAD
            ctx.access(f, S_FMP_RELOAD, False)
            if f.page_cache.get(index) is folio:
                if (yield from folio_trylock(ctx, folio, S_FMP_TRYLOCK)):
                    if folio.mapping is f and folio.uptodate:
                        return folio, vpn
                    yield from folio_unlock(ctx, folio, S_FMP_FOLIO_UNLOCK)
            yield from folio_put(ctx, folio, S_FMP_SKIP_PUT)
        vpn += 1
    return None, end


def filemap_map_pmd(ctx: Ctx, vmf: Vmf, folio: Folio) -> KGen[Any]:
    """mm/filemap.c ``filemap_map_pmd``.

    Returns True when the fault is handled at the PMD level (a huge pmd is there or
    was just installed); otherwise installs the preallocated table if the pmd is none."""
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_FMP_PMD_HUGE)
    if type(cur) is HugePmd:
        yield from folio_unlock(ctx, folio, S_FMP_PMD_UNLOCK)
        yield from folio_put(ctx, folio, S_FMP_PMD_PUT)
        return True
    n = ctx.config.ptrs_per_pte
    haddr = vmf.vpn - vmf.vpn % n
    if cur is None and folio.npages == n and vma_suits_huge(ctx, vmf.vma, haddr):
        ret = yield from do_set_pmd(ctx, vmf, folio)
        if ret == VM_FAULT_OK:
            yield from folio_unlock(ctx, folio, S_FMP_PMD_UNLOCK)
            return True
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_FMP_PMD_NONE)
    if cur is None and vmf.prealloc_pte is not None:
        table, vmf.prealloc_pte = vmf.prealloc_pte, None
        vmf.prealloc_pte = yield from pmd_install(ctx, vmf.mm, vmf.pmdp, table)
    return False


def filemap_map_pages(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/filemap.c ``filemap_map_pages``, under the caller's ``rcu_read_lock``: map every
    uptodate, lockable page-cache page of the window whose pte is none, read-only."""
    vma, mm = vmf.vma, vmf.mm
    start, end = _window(ctx, vmf)
    folio, vpn = yield from next_uptodate_folio(ctx, vmf, start, end)
    if folio is None:
        return VM_FAULT_OK
    if (yield from filemap_map_pmd(ctx, vmf, folio)):
        return VM_FAULT_NOPAGE
    table, _, ptl = yield from __pte_offset_map_lock(ctx, mm, vmf.pmdp, vpn)
    if table is None:
        yield from folio_unlock(ctx, folio, S_FMP_NOTABLE_UNLOCK)
        yield from folio_put(ctx, folio, S_FMP_NOTABLE_PUT)
        return VM_FAULT_OK
    ret: int | str = VM_FAULT_OK
    mapped = 0
    n = ctx.config.ptrs_per_pte
    while folio is not None:
        first = folio.index
        while vpn < end and first <= vma.page_index(vpn) < first + folio.npages:
            cur = yield from ptep_get(ctx, table, vpn % n, S_FMP_PTE)
            if cur is None:
                yield S_FMP_SET
                ctx.access(table, S_FMP_SET, True)
                folio.refcount += 1           # each mapping holds a reference
                folio_add_rmap(ctx, folio)
                table.slots[vpn % n] = Pte(folio, vma.page_index(vpn) - first, False, False,
                                           True, False)
                mapped += 1
                if vpn == vmf.vpn:
                    ret = VM_FAULT_NOPAGE
            vpn += 1
        yield from folio_unlock(ctx, folio, S_FMP_FOLIO_UNLOCK)
        yield from folio_put(ctx, folio, S_FMP_FOLIO_PUT)      # the lookup's reference
        folio, vpn = yield from next_uptodate_folio(ctx, vmf, vpn, end)
    add_mm_counter(ctx, mm, MM_FILEPAGES, mapped)
    yield from pte_unmap_unlock(ctx, ptl, S_FMP_UNLOCK, S_FMP_UNMAP)
    return ret
