"""GUP: pinning user pages, GUP-fast without locks and IRQs disabled, the slow path
under the mmap lock (mm/gup.c).

``gup_fast`` disables IRQs (which holds off TLB-flush IPIs and
``tlb_remove_table_sync_one``, and is an RCU read-side section), reads the pmd once into a
local copy, maps the table through the copy (``pte_offset_map(&pmd)``), and per pte: read
it, grab the folio, then recheck that the live pmd still equals the copy and the pte is
unchanged; on any change it drops the folio and stops. ``gup_fast`` alone is
``FOLL_FAST_ONLY`` (the ``gup_fast`` operation); ``pin_user_pages_fast`` goes on with the
slow path for the rest (``__get_user_pages``: ``follow_page_mask`` under the mmap read
lock and the page-table locks, faulting in what it cannot follow).
``unpin_user_pages`` and ``unpin_user_pages_dirty_lock`` drop the pins.

Simplified: pins are plain references plus ``pincount`` (no GUP_PIN_COUNTING_BIAS); only
FOLL_PIN | FOLL_WRITE (no FOLL_GET, FOLL_FORCE, FOLL_LONGTERM or unsharing of read-only
anonymous pins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_read, local_irq_disable, local_irq_enable, spin_unlock, up_read
from ..sim import site, spin_site
from .folio import folio_lock, folio_put_now, folio_unlock
from .memory import VM_FAULT_OK, VM_FAULT_NOPAGE, VM_FAULT_RETRY, handle_mm_fault
from .pgtable import (PmdPtr, StackPmd, __pte_offset_map_lock, pmd_lock, pmdp_get_lockless,
                      pte_offset_map, pte_unmap, pte_unmap_unlock, ptep_get, pud_pmd_table)
from .types import HugePmd, Pte, PteTable

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Folio, Mm

__all__ = ["gup_fast", "pin_user_pages_fast", "unpin_user_pages",
           "unpin_user_pages_dirty_lock", "direct_io_read"]

S_IRQ_OFF = site("gup_fast:local_irq_save")
S_IRQ_ON = site("gup_fast:local_irq_restore")
S_PUD = site("gup_fast_pud_range:pud_read")
S_PMD = site("gup_fast_pmd_range:pmdp_get_lockless")
S_PTE = site("gup_fast_pte_range:ptep_get_lockless")
S_GRAB = site("gup_fast_pte_range:try_grab_folio_fast")
S_RECHECK_PMD = site("gup_fast_pte_range:pmd_recheck")
S_RECHECK_PTE = site("gup_fast_pte_range:pte_recheck")
S_BAIL_PUT = site("gup_fast_pte_range:gup_put_folio")
S_UNMAP = site("gup_fast_pte_range:pte_unmap")
S_LEAF_GRAB = site("gup_fast_pmd_leaf:try_grab_folio_fast")
S_LEAF_RECHECK = site("gup_fast_pmd_leaf:pmd_recheck")
S_LEAF_PUT = site("gup_fast_pmd_leaf:gup_put_folio")


def _grab(ctx: Ctx, folio: Folio, site_, refs: int = 1) -> KGen[bool]:
    """``try_grab_folio_fast(FOLL_PIN)``: ``refs`` pins, one per page; fails if the folio
    is already being freed."""
    yield site_
    if folio.refcount <= 0:
        return False
    folio.refcount += refs
    folio.pincount += refs
    return True


def _unpin(ctx: Ctx, folio: Folio, site_, refs: int = 1) -> KGen[None]:
    yield site_
    folio.pincount -= refs
    folio_put_now(ctx, folio, site_, refs)


def gup_fast_pte_range(ctx: Ctx, pmdval, pmdp: PmdPtr, vpn: int, end: int, write: bool,
                       pages) -> KGen[Any]:
    """mm/gup.c ``gup_fast_pte_range``."""
    table, _ = yield from pte_offset_map(ctx, StackPmd(pmdval, pmdp.idx), vpn)
    if table is None:
        return False
    n = ctx.config.ptrs_per_pte
    ok = True
    while vpn < end:
        pte = yield from ptep_get(ctx, table, vpn % n, S_PTE)
        if type(pte) is not Pte or pte.special or (write and not pte.write):
            ok = False
            break
        if not (yield from _grab(ctx, pte.folio, S_GRAB)):
            ok = False
            break
        cur_pmd = yield from pmdp_get_lockless(ctx, pmdp, S_RECHECK_PMD)
        cur_pte = None
        if cur_pmd is pmdval:
            cur_pte = yield from ptep_get(ctx, table, vpn % n, S_RECHECK_PTE)
        if cur_pmd is not pmdval or cur_pte != pte:
            yield from _unpin(ctx, pte.folio, S_BAIL_PUT)
            ok = False
            break
        pages.append((pte.folio, vpn, pte.page))
        ctx.event("pinned", pmdp.table.mm, vpn, pte.folio, pte.page)
        vpn += 1
    yield from pte_unmap(ctx, S_UNMAP)
    return ok


def gup_fast_pmd_leaf(ctx: Ctx, pmdval, pmdp: PmdPtr, vpn: int, end: int, write: bool,
                      pages) -> KGen[Any]:
    """mm/gup.c ``gup_fast_pmd_leaf``: ``record_subpages`` and one grab of a pin per
    page of [vpn, end), dropped together if the pmd changed."""
    if write and not pmdval.write:
        return False
    folio = pmdval.folio
    refs = end - vpn
    if not (yield from _grab(ctx, folio, S_LEAF_GRAB, refs)):
        return False
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_LEAF_RECHECK)
    if cur != pmdval:
        yield from _unpin(ctx, folio, S_LEAF_PUT, refs)
        return False
    n = ctx.config.ptrs_per_pte
    for v in range(vpn, end):
        pages.append((folio, v, v % n))
        ctx.event("pinned", pmdp.table.mm, v, folio, v % n)
    return True


def gup_fast(ctx: Ctx, mm: Mm, start: int, npages: int, write: bool = True) -> KGen[Any]:
    """mm/gup.c ``gup_fast``, ``gup_fast_pmd_range``, ``gup_fast_pud_range``.

    Pin [start, start + npages) as far as possible; returns the pins as (folio, vpn,
    page), one per page."""
    pages: list = []
    yield from _gup_fast(ctx, mm, start, npages, write, pages)
    return pages


def _gup_fast(ctx: Ctx, mm: Mm, start: int, npages: int, write: bool, pages) -> KGen[int]:
    """``gup_fast``'s walk, appending to ``pages``; returns the first page it did not
    pin (``start + nr_pinned``)."""
    n = ctx.config.ptrs_per_pte
    yield from local_irq_disable(ctx, S_IRQ_OFF)
    yield S_PUD
    ctx.access(mm, S_PUD, False)
    pmdt = mm.pud
    vpn, end = start, start + npages
    while pmdt is not None and vpn < end:
        pmdp = PmdPtr(pmdt, vpn // n)
        nxt = min(vpn - vpn % n + n, end)
        pmdval = yield from pmdp_get_lockless(ctx, pmdp, S_PMD)
        if type(pmdval) is HugePmd:
            if not (yield from gup_fast_pmd_leaf(ctx, pmdval, pmdp, vpn, nxt, write, pages)):
                break
        elif type(pmdval) is PteTable:
            before = len(pages)
            if not (yield from gup_fast_pte_range(ctx, pmdval, pmdp, vpn, nxt, write, pages)):
                vpn += len(pages) - before
                break
        else:
            break
        vpn = nxt
    yield from local_irq_enable(ctx, S_IRQ_ON)
    return vpn


S_UNPIN = site("unpin_user_pages:gup_put_folio")


def unpin_user_pages(ctx: Ctx, pages) -> KGen[None]:
    """mm/gup.c ``unpin_user_pages``."""
    for folio, *_ in pages:
        yield from _unpin(ctx, folio, S_UNPIN)


S_DIRTY_LOCK = site("unpin_user_pages_dirty_lock:folio_lock")
S_DIRTY_MARK = site("unpin_user_pages_dirty_lock:folio_mark_dirty")
S_DIRTY_UNLOCK = site("unpin_user_pages_dirty_lock:folio_unlock")
S_DIRTY_UNPIN = site("unpin_user_pages_dirty_lock:gup_put_folio")


def unpin_user_pages_dirty_lock(ctx: Ctx, pages, make_dirty: bool) -> KGen[None]:
    """mm/gup.c ``unpin_user_pages_dirty_lock``: what a direct-I/O read does when the
    device has written the pages: mark each folio dirty (under its lock, if it is not
    dirty already: the data must not be discarded or left unwritten), then unpin."""
    if not make_dirty:
        yield from unpin_user_pages(ctx, pages)
        return
    for folio, *_ in pages:
        yield S_DIRTY_MARK
        ctx.access(folio, S_DIRTY_MARK, False)
        if not folio.dirty:
            yield from folio_lock(ctx, folio, S_DIRTY_LOCK)
            yield S_DIRTY_MARK
            ctx.access(folio, S_DIRTY_MARK, True)
            folio.dirty = True                  # folio_mark_dirty()
            yield from folio_unlock(ctx, folio, S_DIRTY_UNLOCK)
        yield from _unpin(ctx, folio, S_DIRTY_UNPIN)


# -- the slow path -----------------------------------------------------------------------

S_SLOW_LOCK = site("__get_user_pages_locked:mmap_read_lock")
S_SLOW_UNLOCK = site("__get_user_pages_locked:mmap_read_unlock")
S_SLOW_VMA = site("__get_user_pages:gup_vma_lookup")
S_SLOW_RETRY = spin_site("__get_user_pages:retry", own_progress=True)
S_FOLLOW_PMD = site("follow_pmd_mask:pmdp_get_lockless")
S_FOLLOW_HUGE_LOCK = site("follow_pmd_mask:pmd_lock")
S_FOLLOW_HUGE_RECHECK = site("follow_pmd_mask:pmd_recheck")
S_FOLLOW_HUGE_UNLOCK = site("follow_pmd_mask:spin_unlock")
S_FOLLOW_HUGE_GRAB = site("follow_huge_pmd:try_grab_folio")
S_FOLLOW_PTE = site("follow_page_pte:ptep_get")
S_FOLLOW_GRAB = site("follow_page_pte:try_grab_folio")
S_FOLLOW_DIRTY = site("follow_page_pte:folio_mark_dirty")
S_FOLLOW_UNLOCK = site("follow_page_pte:pte_unmap_unlock")
S_FOLLOW_UNMAP = site("follow_page_pte:pte_unmap")


def _grab_locked(ctx: Ctx, folio: Folio, site_) -> KGen[None]:
    """``try_grab_folio(FOLL_PIN)`` under the page-table lock: the mapping holds a
    reference, so it cannot fail."""
    yield site_
    ctx.access(folio, site_, True)
    folio.refcount += 1
    folio.pincount += 1


def follow_page_pte(ctx: Ctx, vma, pmdp: PmdPtr, vpn: int, write: bool) -> KGen[Any]:
    """mm/gup.c ``follow_page_pte``: under the pte lock, a present pte that the access
    may use (``can_follow_write_pte``: writable, for FOLL_WRITE) is pinned; FOLL_TOUCH
    marks a clean folio dirty for a write. Returns ``(folio, page)`` or None (fault it
    in). Simplified: the zero page is never pinned (FOLL_WRITE faults it first)."""
    table, i, ptl = yield from __pte_offset_map_lock(ctx, vma.mm, pmdp, vpn)
    if table is None:
        return None                             # no_page_table()
    pte = yield from ptep_get(ctx, table, i, S_FOLLOW_PTE)
    got = None
    if type(pte) is Pte and not pte.special and (pte.write or not write):
        folio = pte.folio
        yield from _grab_locked(ctx, folio, S_FOLLOW_GRAB)
        ctx.event("pinned", vma.mm, vpn, folio, pte.page)
        if write and not pte.dirty and not folio.dirty:
            yield S_FOLLOW_DIRTY
            ctx.access(folio, S_FOLLOW_DIRTY, True)
            folio.dirty = True                  # folio_mark_dirty()
        got = (folio, pte.page)
    yield from pte_unmap_unlock(ctx, ptl, S_FOLLOW_UNLOCK, S_FOLLOW_UNMAP)
    return got


def follow_pmd_mask(ctx: Ctx, vma, vpn: int, write: bool) -> KGen[Any]:
    """mm/gup.c ``follow_pmd_mask`` (with ``follow_page_mask``'s walk down to it): a
    table goes to ``follow_page_pte``; a huge pmd is rechecked under the pmd lock (it may
    have been split or zapped since the lockless read) and pinned there
    (``follow_huge_pmd``: not for a write through a read-only pmd, which must fault).
    Returns ``(folio, page)`` or None."""
    mm = vma.mm
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return None                             # no_page_table()
    pmdp = PmdPtr(pmdt, vpn // ctx.config.ptrs_per_pte)
    pmdval = yield from pmdp_get_lockless(ctx, pmdp, S_FOLLOW_PMD)
    if pmdval is None or type(pmdval) not in (PteTable, HugePmd):
        return None
    if type(pmdval) is PteTable:
        return (yield from follow_page_pte(ctx, vma, pmdp, vpn, write))
    pml = yield from pmd_lock(ctx, mm, pmdp, S_FOLLOW_HUGE_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_FOLLOW_HUGE_RECHECK)
    if type(cur) is not HugePmd:
        yield from spin_unlock(ctx, pml, S_FOLLOW_HUGE_UNLOCK)
        if type(cur) is PteTable:
            return (yield from follow_page_pte(ctx, vma, pmdp, vpn, write))
        return None
    got = None
    if cur.write or not write:
        yield from _grab_locked(ctx, cur.folio, S_FOLLOW_HUGE_GRAB)
        got = (cur.folio, vpn % ctx.config.ptrs_per_pte)
        ctx.event("pinned", mm, vpn, cur.folio, got[1])
    yield from spin_unlock(ctx, pml, S_FOLLOW_HUGE_UNLOCK)
    return got


def __get_user_pages(ctx: Ctx, mm: Mm, start: int, npages: int, write: bool,
                     pages) -> KGen[Any]:
    """mm/gup.c ``__get_user_pages`` with ``faultin_page``, under the mmap read lock: per
    page, find the VMA (a write to a read-only one is -EFAULT), follow the page tables,
    and where that finds nothing usable fault the page in (``handle_mm_fault``, a write
    fault for FOLL_WRITE) and follow again. Returns 0 or the error that stopped it.

    Simplified: the model's fault handler never drops the mmap lock when called with it,
    so the VM_FAULT_RETRY / -EBUSY relocking of ``__get_user_pages_locked`` is not
    reached; a fault that maps nothing (its pmd or pte changed under it) is followed
    again, as ``case 0: goto retry`` does."""
    vma = None
    for vpn in range(start, start + npages):
        if vma is None or vpn >= vma.end:
            yield S_SLOW_VMA
            ctx.access(mm, S_SLOW_VMA, False)
            vma = mm.find_vma(vpn)              # gup_vma_lookup(), check_vma_flags()
            if vma is None or (write and not vma.writable):
                return "-EFAULT"
        while True:
            got = yield from follow_pmd_mask(ctx, vma, vpn, write)
            if got is not None:
                pages.append((got[0], vpn, got[1]))
                break
            ret = yield from handle_mm_fault(ctx, vma, vpn, write)
            if ret not in (VM_FAULT_OK, VM_FAULT_NOPAGE, VM_FAULT_RETRY):
                return "-EFAULT"                # vm_fault_to_errno()
            yield S_SLOW_RETRY
    return 0


def pin_user_pages_fast(ctx: Ctx, mm: Mm, start: int, npages: int,
                        write: bool = True) -> KGen[Any]:
    """mm/gup.c ``pin_user_pages_fast`` -> ``gup_fast_fallback``: GUP-fast for as much as
    it can pin, then ``__gup_longterm_locked`` -> ``__get_user_pages_locked`` (the mmap
    read lock around ``__get_user_pages``) for the rest. Returns the pins, as
    ``gup_fast`` does; fewer than asked if the slow path failed."""
    pages: list = []
    vpn = yield from _gup_fast(ctx, mm, start, npages, write, pages)
    if vpn < start + npages:
        yield from down_read(ctx, mm.mmap_lock, S_SLOW_LOCK)
        yield from __get_user_pages(ctx, mm, vpn, start + npages - vpn, write, pages)
        yield from up_read(ctx, mm.mmap_lock, S_SLOW_UNLOCK)
    return pages


S_DMA_STORE = site("direct_io_read:dma_store")


def direct_io_read(ctx: Ctx, mm: Mm, start: int, npages: int, value) -> KGen[int]:
    """Model only: model machinery, mirrors no kernel function (a direct-I/O read into
    user memory, as fs/iomap/direct-io.c does it: ``bio_iov_iter_get_pages`` pins the
    buffer (``iov_iter_extract_pages`` -> ``pin_user_pages_fast`` with FOLL_WRITE), the
    device stores the data into the pinned pages, not through any translation, and
    completion unpins them dirty (``bio_release_pages`` ->
    ``unpin_user_pages_dirty_lock``); an io_uring fixed buffer is the same with the pin
    held across requests). Each page's store is its own step, so other CPUs run between
    the pin and the device's stores. Returns the number of pages written.

    Simplified: no ``bio_set_pages_dirty`` before the I/O (the slow path's FOLL_TOUCH and
    the dirtying unpin are what keep the data from being discarded)."""
    pages = yield from pin_user_pages_fast(ctx, mm, start, npages, True)
    for folio, vpn, page in pages:
        yield S_DMA_STORE
        ctx.access(folio, S_DMA_STORE, True)
        folio.data[page] = value
        ctx.event("pinned_store", mm, vpn, folio, page, value)
    yield from unpin_user_pages_dirty_lock(ctx, pages, True)
    return len(pages)
