"""Page faults and table installation (mm/memory.c, part 1).

``__pmd_alloc``, ``pmd_install``, ``__pte_alloc``/``pte_alloc``, ``__handle_mm_fault``,
``handle_pte_fault``, ``do_anonymous_page``, ``do_wp_page`` (reuse and ``wp_page_copy``),
``__split_huge_pmd`` for file pmds. File faults are in :mod:`memory_file`; zapping and
``free_pgtables`` in :mod:`memory_zap`.

Simplified: order-0 anonymous folios only (no mTHP, no THP on fault: ``create_huge_pmd``
is never taken); no swap, NUMA or protnone entries; every anonymous folio is exclusive
(there is no fork), so a write fault on a present read-only anonymous pte reuses it;
``handle_userfault`` has no handler thread (UFFD_FEATURE_SIGBUS semantics: the fault
fails).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_write, spin_lock, spin_unlock, up_write
from ..sim import site
from .anon_vma import anon_vma_alloc, put_anon_vma
from .folio import (add_mm_counter, folio_add_new_anon_rmap, folio_alloc, folio_get, folio_lock,
                    folio_put, folio_remove_rmap, folio_try_get, folio_unlock, mm_counter)
from .pgtable import (PmdPtr, __pte_offset_map_lock, pmd_alloc_one, pmd_free, pmd_index, pmd_offset,
                      pud_pmd_table,
                      pmd_lock, pmd_populate, pmdp_get_lockless, pte_alloc_one, pte_free,
                      pte_offset_map_rw_nolock, pte_unmap, pte_unmap_unlock, ptep_get, set_pte)
from .swap import (delete_from_swap_cache, swap_free, swapcache_clear, swapcache_prepare,
                   swapcache_wait)
from .huge_memory import __split_huge_pmd
from .tlb import flush_tlb_range, ptep_clear_flush
from .types import MM_ANONPAGES, MM_SWAPENTS, PMD_SPLITTING, UFFD_WP_MARKER, HugePmd, Pte, SwapPte

if TYPE_CHECKING:
    from ..kernel import Spinlock
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .pgtable import PmdPtr
    from .types import Folio, Mm, PteTable, Vma

__all__ = ["Vmf", "vmf_anon_prepare", "pmd_alloc", "pte_alloc", "__pte_alloc", "pmd_install",
           "handle_mm_fault", "anon_vma_prepare", "VM_FAULT_OK", "VM_FAULT_SIGBUS", "VM_FAULT_OOM",
           "VM_FAULT_RETRY", "VM_FAULT_NOPAGE", "mm_find_pmd", "vmf_pte_changed"]

VM_FAULT_OK, VM_FAULT_SIGBUS, VM_FAULT_OOM, VM_FAULT_RETRY, VM_FAULT_NOPAGE = (
    0, "sigbus", "oom", "retry", "nopage")


class Vmf:
    """``struct vm_fault``."""

    __slots__ = ("vma", "mm", "vpn", "write", "pmdp", "table", "idx", "ptl", "orig_pte",
                 "orig_pte_valid", "prealloc_pte", "folio", "vma_locked")

    def __init__(self, vma: Vma, vpn: int, write: bool, vma_locked: bool = False) -> None:
        self.vma_locked = vma_locked     # FAULT_FLAG_VMA_LOCK
        self.vma = vma
        self.mm = vma.mm
        self.vpn = vpn
        self.write = write
        self.pmdp: PmdPtr | None = None
        self.table: PteTable | None = None
        self.idx = 0
        self.ptl: Spinlock | None = None
        self.orig_pte: Any = None
        self.orig_pte_valid = False
        self.prealloc_pte: PteTable | None = None
        self.folio: Folio | None = None


# -- installing tables ----------------------------------------------------------------------

S_PUD_READ = site("__pmd_alloc:pud_read")
S_PMD_ALLOC = site("__pmd_alloc:pmd_alloc_one")
S_PMD_PTLOCK = site("__pmd_alloc:ptlock_alloc")
S_PUD_LOCK = site("__pmd_alloc:pud_lock")
S_PUD_RECHECK = site("__pmd_alloc:pud_present_recheck")
S_PUD_UNLOCK = site("__pmd_alloc:spin_unlock")
S_PMD_LOST = site("__pmd_alloc:pmd_free")


def pmd_alloc(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """``pmd_alloc`` -> mm/memory.c ``__pmd_alloc``: the pmd pointer for ``vpn``,
    allocating the PMD table if the pud is none: allocate, take the pud lock
    (``page_table_lock``), populate if still none, else free the spare, unlock."""
    yield S_PUD_READ
    ctx.access(mm, S_PUD_READ, False)
    if mm.pud is None:
        new = yield from pmd_alloc_one(ctx, mm, S_PMD_ALLOC, S_PMD_PTLOCK)
        yield from spin_lock(ctx, mm.page_table_lock, S_PUD_LOCK)
        yield S_PUD_RECHECK
        ctx.access(mm, S_PUD_RECHECK, True)
        if mm.pud is None:
            mm.nr_pmds += 1
            mm.pud = new
        else:                                    # another has populated it
            yield from pmd_free(ctx, new, S_PMD_LOST)
        yield from spin_unlock(ctx, mm.page_table_lock, S_PUD_UNLOCK)
    return pmd_offset(ctx, mm, vpn, S_PUD_READ)


def mm_find_pmd(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """mm/rmap.c ``mm_find_pmd``.

    ``mm_find_pmd``: the pmd pointer, or None if the PMD table is not there."""
    yield S_PUD_READ
    ctx.access(mm, S_PUD_READ, False)
    pmdt = pud_pmd_table(mm)
    if pmdt is None:
        return None
    return PmdPtr(pmdt, pmd_index(ctx, vpn))


S_INSTALL_LOCK = site("pmd_install:pmd_lock")
S_INSTALL_CHECK = site("pmd_install:pmd_none_recheck")
S_INSTALL_POPULATE = site("pmd_install:pmd_populate")
S_INSTALL_UNLOCK = site("pmd_install:spin_unlock")


def pmd_install(ctx: Ctx, mm: Mm, pmdp: PmdPtr, table) -> KGen[Any]:
    """mm/memory.c ``pmd_install``: under the pmd lock, install ``table`` if the pmd is
    still none. Returns the table if it was *not* installed (the caller frees it)."""
    pml = yield from pmd_lock(ctx, mm, pmdp, S_INSTALL_LOCK)
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_INSTALL_CHECK)
    if cur is None:
        mm.nr_ptes += 1                        # mm_inc_nr_ptes(); smp_wmb();
        yield from pmd_populate(ctx, pmdp, table, S_INSTALL_POPULATE)
        table = None
    yield from spin_unlock(ctx, pml, S_INSTALL_UNLOCK)
    return table


S_PTE_ALLOC_ONE = site("__pte_alloc:pte_alloc_one")
S_PTE_ALLOC_PTLOCK = site("__pte_alloc:ptlock_alloc")
S_PTE_ALLOC_LOST = site("__pte_alloc:pte_free")


def __pte_alloc(ctx: Ctx, mm: Mm, pmdp: PmdPtr) -> KGen[Any]:
    """mm/memory.c ``__pte_alloc``.

    ``__pte_alloc``: allocate, try to install, free the spare if somebody else won."""
    new = yield from pte_alloc_one(ctx, mm, S_PTE_ALLOC_ONE, S_PTE_ALLOC_PTLOCK)
    spare = yield from pmd_install(ctx, mm, pmdp, new)
    if spare is not None:
        yield from pte_free(ctx, spare, S_PTE_ALLOC_LOST)
    return 0


S_PTE_ALLOC_CHECK = site("pte_alloc:pmd_none")


def pte_alloc(ctx: Ctx, mm: Mm, pmdp: PmdPtr) -> KGen[Any]:
    """``pte_alloc()``: ``pmd_none(*pmd) && __pte_alloc()``. Returns 0 (it does not promise
    that the pmd is a table afterwards: callers map with a primitive that can fail)."""
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_PTE_ALLOC_CHECK)
    if cur is None:
        return (yield from __pte_alloc(ctx, mm, pmdp))
    return 0


# -- anon_vma ----------------------------------------------------------------------------------

S_ANON_VMA_READ = site("__anon_vma_prepare:read_anon_vma")
S_ANON_VMA_ALLOC = site("__anon_vma_prepare:anon_vma_alloc")
S_ANON_VMA_AV_LOCK = site("__anon_vma_prepare:anon_vma_lock_write")
S_ANON_VMA_LOCK = site("__anon_vma_prepare:page_table_lock")
S_ANON_VMA_SET = site("__anon_vma_prepare:set_anon_vma")
S_ANON_VMA_UNLOCK = site("__anon_vma_prepare:spin_unlock")
S_ANON_VMA_AV_UNLOCK = site("__anon_vma_prepare:anon_vma_unlock_write")


def anon_vma_prepare(ctx: Ctx, vma: Vma) -> KGen[None]:
    """include/linux/rmap.h ``anon_vma_prepare``; mm/rmap.c ``__anon_vma_prepare``.

    ``anon_vma_prepare``: give the VMA a new anon_vma, published under its own write
    lock and ``page_table_lock`` (a racing fault may have published one first: then the
    new one is put again). Simplified: no ``find_mergeable_anon_vma``."""
    yield S_ANON_VMA_READ
    ctx.access(vma, S_ANON_VMA_READ, False)
    if vma.anon_vma is not None:
        return
    av = yield from anon_vma_alloc(ctx, S_ANON_VMA_ALLOC)
    allocated = av
    mm = vma.mm
    yield from down_write(ctx, av.rwsem, S_ANON_VMA_AV_LOCK)
    yield from spin_lock(ctx, mm.page_table_lock, S_ANON_VMA_LOCK)
    yield S_ANON_VMA_SET
    ctx.access(vma, S_ANON_VMA_SET, True)
    if vma.anon_vma is None:
        vma.anon_vma = av
        av.vmas.append(vma)
        allocated = None
    yield from spin_unlock(ctx, mm.page_table_lock, S_ANON_VMA_UNLOCK)
    yield from up_write(ctx, av.rwsem, S_ANON_VMA_AV_UNLOCK)
    if allocated is not None:
        yield from put_anon_vma(ctx, allocated)


S_AP_READ = site("vmf_anon_prepare:read_anon_vma")
S_AP_TRYLOCK = site("vmf_anon_prepare:mmap_read_trylock")
S_AP_DROP = site("vmf_anon_prepare:vma_end_read")
S_AP_UNLOCK = site("vmf_anon_prepare:mmap_read_unlock")


def vmf_anon_prepare(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/internal.h ``vmf_anon_prepare``; mm/memory.c ``__vmf_anon_prepare``.

    An anon_vma is needed. Under the VMA lock, preparing one needs the mmap lock too:
    try it, and if that fails drop the VMA lock and retry the fault under the mmap lock."""
    vma = vmf.vma
    yield S_AP_READ
    ctx.access(vma, S_AP_READ, False)
    if vma.anon_vma is not None:
        return 0
    if vmf.vma_locked:
        from .mmap_lock import mmap_read_trylock, vma_end_read
        if not (yield from mmap_read_trylock(ctx, vmf.mm, S_AP_TRYLOCK)):
            yield from vma_end_read(ctx, vma, S_AP_DROP)
            return VM_FAULT_RETRY
    yield from anon_vma_prepare(ctx, vma)
    if vmf.vma_locked:
        from .mmap_lock import mmap_read_unlock
        yield from mmap_read_unlock(ctx, vmf.mm, S_AP_UNLOCK)
    return 0


# -- the fault entry ------------------------------------------------------------------------------

S_FAULT_PMD = site("__handle_mm_fault:pmdp_get_lockless")


def handle_mm_fault(ctx: Ctx, vma: Vma, vpn: int, write: bool,
                    vma_locked: bool = False) -> KGen[Any]:
    """mm/memory.c ``handle_mm_fault``, ``__handle_mm_fault``.

    ``handle_mm_fault`` -> ``__handle_mm_fault``. The caller holds the mmap read lock
    or (``vma_locked``) the VMA's read lock, which keeps ``vma`` stable. Returns 0 or a
    VM_FAULT code; VM_FAULT_RETRY means the VMA lock was dropped: retry under the mmap
    lock."""
    vmf = Vmf(vma, vpn, write, vma_locked)
    vmf.pmdp = yield from pmd_alloc(ctx, vma.mm, vpn)
    orig_pmd = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_FAULT_PMD)
    # pmd_trans_huge(): an invalidated pmd being split still is one (x86 keeps _PAGE_PSE).
    if orig_pmd is PMD_SPLITTING or type(orig_pmd) is HugePmd:
        if orig_pmd is PMD_SPLITTING or not write or orig_pmd.write:  # type: ignore[union-attr]
            yield from huge_pmd_set_accessed(ctx, vmf, orig_pmd)
            return VM_FAULT_OK          # the access retries and the walk fills the TLB
        # wp_huge_pmd(): split and fall back to ptes.
        yield from __split_huge_pmd(ctx, vma, vmf.pmdp, vpn)
    return (yield from handle_pte_fault(ctx, vmf))


S_HSA_LOCK = site("huge_pmd_set_accessed:pmd_lock")
S_HSA_SAME = site("huge_pmd_set_accessed:pmd_same")
S_HSA_UNLOCK = site("huge_pmd_set_accessed:spin_unlock")


def huge_pmd_set_accessed(ctx: Ctx, vmf: Vmf, orig_pmd) -> KGen[None]:
    """mm/huge_memory.c ``huge_pmd_set_accessed``: under the pmd lock (so a fault on a
    pmd being split waits for the split), mark the huge pmd young if it is unchanged.
    Simplified: the accessed and dirty bits of a huge pmd are not modelled."""
    pml = yield from pmd_lock(ctx, vmf.mm, vmf.pmdp, S_HSA_LOCK)
    yield from pmdp_get_lockless(ctx, vmf.pmdp, S_HSA_SAME)   # touch_pmd() if pmd_same
    yield from spin_unlock(ctx, pml, S_HSA_UNLOCK)


S_HPF_PMD_NONE = site("handle_pte_fault:pmd_none")
S_HPF_PTE_READ = site("handle_pte_fault:ptep_get_lockless")
S_HPF_UNMAP_NONE = site("handle_pte_fault:pte_unmap_none")
S_HPF_LOCK = site("handle_pte_fault:spin_lock")
S_HPF_RECHECK = site("handle_pte_fault:pte_same_recheck")
S_HPF_SET = site("handle_pte_fault:ptep_set_access_flags")
S_HPF_UNLOCK = site("handle_pte_fault:spin_unlock")
S_HPF_UNMAP = site("handle_pte_fault:pte_unmap")
S_HPF_VANISHED = site("handle_pte_fault:table_vanished")


def handle_pte_fault(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``handle_pte_fault``: a none pmd defers the table to
    ``do_pte_missing``; otherwise map with ``pte_offset_map_rw_nolock`` and a dummy pmdval
    (a matching non-none pte proves the table is still attached), and return 0 (refault)
    if it vanished. Simplified: a marker goes to ``do_pte_missing`` directly; mainline's
    ``handle_pte_marker`` also clears a stale uffd-wp marker in a VMA no longer
    registered (``pte_marker_clear``) and SIGSEGVs on a guard marker (the model has no
    guard markers, and no unregistration)."""
    cur = yield from pmdp_get_lockless(ctx, vmf.pmdp, S_HPF_PMD_NONE)
    if cur is None:
        vmf.table = None
        vmf.orig_pte_valid = False
    else:
        table, i, _dummy, ptl = yield from pte_offset_map_rw_nolock(ctx, vmf.mm, vmf.pmdp,
                                                                    vmf.vpn)
        if table is None:
            yield S_HPF_VANISHED
            return VM_FAULT_OK
        vmf.table, vmf.idx, vmf.ptl = table, i, ptl
        vmf.orig_pte = yield from ptep_get(ctx, table, i, S_HPF_PTE_READ)
        vmf.orig_pte_valid = True
        if type(vmf.orig_pte) is SwapPte:
            return (yield from do_swap_page(ctx, vmf))
        if vmf.orig_pte is None or type(vmf.orig_pte) is not Pte:
            yield from pte_unmap(ctx, S_HPF_UNMAP_NONE)
            vmf.table = None
    if vmf.table is None:
        return (yield from do_pte_missing(ctx, vmf))
    yield from spin_lock(ctx, vmf.ptl, S_HPF_LOCK)
    entry = yield from ptep_get(ctx, vmf.table, vmf.idx, S_HPF_RECHECK)
    if entry != vmf.orig_pte:
        yield from pte_unmap_unlock(ctx, vmf.ptl, S_HPF_UNLOCK, S_HPF_UNMAP)
        return VM_FAULT_OK
    if vmf.write and not entry.write:
        return (yield from do_wp_page(ctx, vmf, entry))
    new = Pte(entry.folio, entry.page, entry.write, entry.dirty or vmf.write, True,
              entry.special, entry.uffd_wp)
    if new != entry:
        yield from set_pte(ctx, vmf.table, vmf.idx, new, S_HPF_SET)
    yield from pte_unmap_unlock(ctx, vmf.ptl, S_HPF_UNLOCK, S_HPF_UNMAP)
    return VM_FAULT_OK


def do_pte_missing(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_pte_missing``."""
    if vmf.vma.anonymous:
        return (yield from do_anonymous_page(ctx, vmf))
    from .memory_file import do_fault  # file faults build on this module
    return (yield from do_fault(ctx, vmf))


def vmf_pte_changed(vmf: Vmf, cur) -> bool:
    """mm/memory.c ``vmf_pte_changed``.

    ``vmf_pte_changed``: against the pte read earlier, or against none."""
    if vmf.orig_pte_valid:
        return cur != vmf.orig_pte
    return cur is not None


S_ANON_FOLIO = site("do_anonymous_page:folio_prealloc")
S_ANON_CHANGED_UNLOCK = site("do_anonymous_page:pte_changed_unlock")
S_ANON_CHANGED_UNMAP = site("do_anonymous_page:pte_changed_unmap")
S_ANON_RELEASE = site("do_anonymous_page:folio_put")
S_ANON_RECHECK = site("do_anonymous_page:vmf_pte_changed")
S_ANON_SET = site("do_anonymous_page:set_ptes")
S_ANON_UNLOCK = site("do_anonymous_page:spin_unlock")
S_ANON_UNMAP = site("do_anonymous_page:pte_unmap")
S_ANON_UFFD_UNLOCK = site("do_anonymous_page:uffd_unlock")
S_ANON_UFFD_UNMAP = site("do_anonymous_page:uffd_unmap")
S_ANON_NOTABLE = site("do_anonymous_page:table_vanished")


def do_anonymous_page(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_anonymous_page``: ``pte_alloc``; for a read, map the zero page;
    for a write, prepare the anon_vma, allocate the folio (the table may be reclaimed
    meanwhile: IP-F2), then ``pte_offset_map_lock`` (refault if it fails), recheck the
    pte under the lock, account, add the rmap and only then ``set_ptes``."""
    vma, mm = vmf.vma, vmf.mm
    if vma.shared:
        return VM_FAULT_SIGBUS
    yield from pte_alloc(ctx, mm, vmf.pmdp)
    if not vmf.write:
        entry = Pte(ctx.kernel.world.zero_folio, 0, False, False, True, True)
        folio = None
    else:
        ret = yield from vmf_anon_prepare(ctx, vmf)
        if ret:
            return ret
        folio = yield from folio_alloc(ctx, 1, True, S_ANON_FOLIO)
        entry = Pte(folio, 0, vma.writable, vma.writable, True, False)
    table, i, ptl = yield from __pte_offset_map_lock(ctx, mm, vmf.pmdp, vmf.vpn)
    if table is None:
        yield S_ANON_NOTABLE
        if folio is not None:
            yield from folio_put(ctx, folio, S_ANON_RELEASE)
        return VM_FAULT_OK
    cur = yield from ptep_get(ctx, table, i, S_ANON_RECHECK)
    if vmf_pte_changed(vmf, cur):
        yield from pte_unmap_unlock(ctx, ptl, S_ANON_CHANGED_UNLOCK, S_ANON_CHANGED_UNMAP)
        if folio is not None:
            yield from folio_put(ctx, folio, S_ANON_RELEASE)
        return VM_FAULT_OK
    if vma.uffd_missing:
        yield from pte_unmap_unlock(ctx, ptl, S_ANON_UFFD_UNLOCK, S_ANON_UFFD_UNMAP)
        if folio is not None:
            yield from folio_put(ctx, folio, S_ANON_RELEASE)
        return VM_FAULT_SIGBUS               # handle_userfault() without a handler
    if vmf_orig_pte_uffd_wp(vmf):            # setpte: pte_mkuffd_wp() (write-protects)
        entry = Pte(entry.folio, 0, False, entry.dirty, True, entry.special, True)
    yield S_ANON_SET
    ctx.access(table, S_ANON_SET, True)
    if folio is not None:
        add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
        folio_add_new_anon_rmap(ctx, folio, vma, vmf.vpn)
    table.slots[i] = entry
    yield from pte_unmap_unlock(ctx, ptl, S_ANON_UNLOCK, S_ANON_UNMAP)
    return VM_FAULT_OK


def vmf_orig_pte_uffd_wp(vmf: Vmf) -> bool:
    """mm/memory.c ``vmf_orig_pte_uffd_wp``.

    include/linux/mm.h ``vmf_orig_pte_uffd_wp``: the fault replaces a uffd-wp marker,
    so the new pte inherits the write protection."""
    return vmf.orig_pte_valid and vmf.orig_pte == UFFD_WP_MARKER


# -- swap-in ------------------------------------------------------------------------------

S_SW_UNMAP = site("do_swap_page:pte_unmap_same")
S_SW_CACHE = site("do_swap_page:swap_cache_get_folio")
S_SW_GET = site("do_swap_page:folio_try_get")
S_SW_ALLOC = site("do_swap_page:vma_alloc_folio")
S_SW_PREPARE = site("do_swap_page:swapcache_prepare")
S_SW_PREPARE_PUT = site("do_swap_page:out_page_folio_put")
S_SW_READ = site("do_swap_page:swap_read_folio")
S_SW_LOCK = site("do_swap_page:folio_lock_or_retry")
S_SW_IDENTITY = site("do_swap_page:folio_test_swapcache")
S_SW_RECHECK = site("do_swap_page:pte_same")
S_SW_NOMAP_UNLOCK = site("do_swap_page:out_nomap_unlock")
S_SW_NOMAP_UNMAP = site("do_swap_page:out_nomap_unmap")
S_SW_NOTABLE = site("do_swap_page:table_vanished")
S_SW_SET = site("do_swap_page:set_pte_at")
S_SW_UNLOCK = site("do_swap_page:spin_unlock")
S_SW_PTE_UNMAP = site("do_swap_page:pte_unmap")
S_SW_FOLIO_UNLOCK = site("do_swap_page:folio_unlock")
S_SW_PUT = site("do_swap_page:folio_put")
S_SW_CLEAR = site("do_swap_page:swapcache_clear")


def do_swap_page(ctx: Ctx, vmf: Vmf) -> KGen[Any]:
    """mm/memory.c ``do_swap_page``: find the page in the swap cache or read it back,
    lock it, recheck the swap pte under the PTE lock (``pte_same``), map it, and free
    the swap entry (and, the page being exclusive, its swap-cache slot). A swap-in that
    skips the swap cache (``SWP_SYNCHRONOUS_IO``) claims the entry with
    ``swapcache_prepare`` before reading it and clears the claim at the end (the v6.8 fix
    13ddaf26be32, "mm/swap: fix race when skipping swapcache"); if the claim fails it
    backs off and the fault is retried. A folio found in the swap cache is rechecked,
    once locked, to still be the swap cache's folio for this entry (``out_page``
    otherwise, and the fault is retried).

    Read: the v6.12 body (core/upstream) and the v6.14-v6.18 changes to its swap-cache
    part. Simplified: order-0 folios only (no mTHP swap-in), no readahead (a cache miss
    is read synchronously), no KSM copy, no swapoff (the device is always there), the
    exclusive-page reuse for a write is done by the write fault that follows."""
    vma, mm = vmf.vma, vmf.mm
    entry = vmf.orig_pte
    slot = entry.slot
    yield from pte_unmap(ctx, S_SW_UNMAP)
    yield S_SW_CACHE
    # The swap cache is an xarray of the swap device, valid memory whatever became of the
    # entry (get_swap_device() pins the device); the model keeps it on the slot, which a
    # racing swap-in may have freed by now, so this lookup is not shadow-checked.
    folio = slot.folio
    if folio is not None and not (yield from folio_try_get(ctx, folio, S_SW_GET)):
        folio = None
    claimed = False
    from_cache = folio is not None
    if folio is None:
        ret = yield from vmf_anon_prepare(ctx, vmf)
        if ret:
            return ret
        folio = yield from folio_alloc(ctx, 1, True, S_SW_ALLOC)
        if not (yield from swapcache_prepare(ctx, slot, S_SW_PREPARE)):
            # Another swap-in has the entry (wait for it to finish), or finished and freed
            # it; either way the fault is retried.
            yield from swapcache_wait(ctx, slot)
            yield from folio_put(ctx, folio, S_SW_PREPARE_PUT)
            return VM_FAULT_OK
        claimed = True
        yield S_SW_READ
        ctx.access(slot, S_SW_READ, False)
        folio.data[0] = slot.data
    yield from folio_lock(ctx, folio, S_SW_LOCK)
    if from_cache:
        # The pin and the pte_same below do not stop folio_free_swap() (another
        # swap-in that mapped the page, or reclaim) from taking the folio out of the
        # swap cache meanwhile: recheck that it still caches this entry.
        yield S_SW_IDENTITY
        if folio.swap is not slot:
            yield from folio_unlock(ctx, folio, S_SW_FOLIO_UNLOCK)
            yield from folio_put(ctx, folio, S_SW_PUT)
            return VM_FAULT_OK
    table, i, ptl = yield from __pte_offset_map_lock(ctx, mm, vmf.pmdp, vmf.vpn)
    if table is None:
        yield S_SW_NOTABLE
    else:
        cur = yield from ptep_get(ctx, table, i, S_SW_RECHECK)
        if cur != entry:
            yield from pte_unmap_unlock(ctx, ptl, S_SW_NOMAP_UNLOCK, S_SW_NOMAP_UNMAP)
            table = None
    if table is None:
        yield from folio_unlock(ctx, folio, S_SW_FOLIO_UNLOCK)
        yield from folio_put(ctx, folio, S_SW_PUT)
        if claimed:
            yield S_SW_CLEAR
            swapcache_clear(ctx, slot, S_SW_CLEAR)
        return VM_FAULT_OK
    yield S_SW_SET
    ctx.access(table, S_SW_SET, True)
    add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
    add_mm_counter(ctx, mm, MM_SWAPENTS, -1)
    folio_add_new_anon_rmap(ctx, folio, vma, vmf.vpn)
    table.slots[i] = Pte(folio, 0, vma.writable, vmf.write, True, False)
    swap_free(ctx, slot, S_SW_SET)
    if folio.swap is slot:
        delete_from_swap_cache(ctx, folio, S_SW_SET)     # folio_free_swap()
    yield from pte_unmap_unlock(ctx, ptl, S_SW_UNLOCK, S_SW_PTE_UNMAP)
    yield from folio_unlock(ctx, folio, S_SW_FOLIO_UNLOCK)
    if claimed:
        yield S_SW_CLEAR
        swapcache_clear(ctx, slot, S_SW_CLEAR)
    return VM_FAULT_OK


# -- write-protect faults ---------------------------------------------------------------------

S_WP_REUSE = site("wp_page_reuse:ptep_set_access_flags")
S_WP_REUSE_UNLOCK = site("wp_page_reuse:spin_unlock")
S_WP_REUSE_UNMAP = site("wp_page_reuse:pte_unmap")
S_WP_DROP_UNLOCK = site("do_wp_page:spin_unlock")
S_WP_DROP_UNMAP = site("do_wp_page:pte_unmap")
S_WP_GET = site("do_wp_page:folio_get")
S_WP_UFFD_UNLOCK = site("do_wp_page:uffd_wp_pte_unmap_unlock")
S_WP_UFFD_UNMAP = site("do_wp_page:uffd_wp_pte_unmap")
S_WP_FLUSH_PENDING = site("do_wp_page:mm_tlb_flush_pending")
S_WP_FLUSH_PAGE = site("do_wp_page:flush_tlb_page")
S_COPY_ALLOC = site("wp_page_copy:folio_prealloc")
S_COPY_DATA = site("wp_page_copy:__wp_page_copy_user")
S_COPY_RECHECK = site("wp_page_copy:pte_same_recheck")
S_COPY_CLEAR = site("wp_page_copy:ptep_clear_flush")
S_COPY_FLUSH = site("wp_page_copy:flush_tlb_page")
S_COPY_SET = site("wp_page_copy:set_pte_at")
S_COPY_UNLOCK = site("wp_page_copy:spin_unlock")
S_COPY_UNMAP = site("wp_page_copy:pte_unmap")
S_COPY_PUT_NEW = site("wp_page_copy:folio_put_new")
S_COPY_PUT_OLD = site("wp_page_copy:folio_put_old")
S_COPY_NOTABLE = site("wp_page_copy:table_vanished")


def do_wp_page(ctx: Ctx, vmf: Vmf, entry: Pte) -> KGen[Any]:
    """mm/memory.c ``do_wp_page``, ``wp_page_reuse`` (7.3.4): with ptl held, a pte
    write-protected by userfaultfd in a VMA registered for it goes to
    ``handle_userfault(VM_UFFD_WP)`` (no handler thread in the model: SIGBUS, as for
    missing faults); in a uffd-wp VMA with a flush pending (UFFDIO_WRITEPROTECT defers
    its flush to ``tlb_finish_mmu``) the page's translation is flushed before it is
    reused or copied, so no other CPU keeps writing through a stale writable entry.
    Then reuse an exclusive anonymous page or a shared file page (``wp_page_reuse``),
    else copy (``wp_page_copy``). Simplified: no async uffd-wp mode (its ``pte_clear_uffd``
    without a fault), no unshare faults; every anonymous page is exclusive (no fork)."""
    vma = vmf.vma
    folio = entry.folio
    if vma.uffd_wp and entry.uffd_wp:                       # userfaultfd_pte_wp()
        yield from pte_unmap_unlock(ctx, vmf.ptl, S_WP_UFFD_UNLOCK, S_WP_UFFD_UNMAP)
        return VM_FAULT_SIGBUS                              # handle_userfault(VM_UFFD_WP)
    if vma.uffd_wp:
        yield S_WP_FLUSH_PENDING
        ctx.access(vmf.mm, S_WP_FLUSH_PENDING, False)
        if vmf.mm.tlb_flush_pending:                        # mm_tlb_flush_pending()
            yield from flush_tlb_range(ctx, vmf.mm, vmf.vpn, vmf.vpn + 1, S_WP_FLUSH_PAGE)
    if not entry.special and (folio.anon or vma.shared):
        new = Pte(folio, entry.page, True, True, True, False, entry.uffd_wp)
        yield from set_pte(ctx, vmf.table, vmf.idx, new, S_WP_REUSE)
        yield from pte_unmap_unlock(ctx, vmf.ptl, S_WP_REUSE_UNLOCK, S_WP_REUSE_UNMAP)
        return VM_FAULT_OK
    if not entry.special:
        yield from folio_get(ctx, folio, S_WP_GET)
    yield from pte_unmap_unlock(ctx, vmf.ptl, S_WP_DROP_UNLOCK, S_WP_DROP_UNMAP)
    return (yield from wp_page_copy(ctx, vmf, entry))


def wp_page_copy(ctx: Ctx, vmf: Vmf, orig: Pte) -> KGen[Any]:
    """mm/memory.c ``wp_page_copy``.

    ``wp_page_copy``: a private copy of the page, installed if the pte is unchanged
    (``pte_same`` on the non-none orig proves the table is still attached)."""
    vma, mm = vmf.vma, vmf.mm
    old = None if orig.special else orig.folio
    ret = yield from vmf_anon_prepare(ctx, vmf)
    if ret:
        if old is not None:
            yield from folio_put(ctx, old, S_COPY_PUT_OLD)
        return ret
    new_folio = yield from folio_alloc(ctx, 1, True, S_COPY_ALLOC)
    yield S_COPY_DATA
    if old is not None:
        ctx.access(old, S_COPY_DATA, False)
        new_folio.data[0] = old.data[orig.page]
    table, i, ptl = yield from __pte_offset_map_lock(ctx, mm, vmf.pmdp, vmf.vpn)
    if table is None:
        yield S_COPY_NOTABLE
        yield from folio_put(ctx, new_folio, S_COPY_PUT_NEW)
        if old is not None:
            yield from folio_put(ctx, old, S_COPY_PUT_OLD)
        return VM_FAULT_OK
    cur = yield from ptep_get(ctx, table, i, S_COPY_RECHECK)
    if cur == orig:
        yield from ptep_clear_flush(ctx, vma, table, i, vmf.vpn, S_COPY_CLEAR, S_COPY_FLUSH)
        yield S_COPY_SET
        ctx.access(table, S_COPY_SET, True)
        add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
        folio_add_new_anon_rmap(ctx, new_folio, vma, vmf.vpn)
        table.slots[i] = Pte(new_folio, 0, True, True, True, False)
        # The private copy is what this address holds from now on: the old page as it
        # was when copied (a store to the file since then does not reach it).
        ctx.event("page_filled", mm, vmf.vpn, new_folio.data[0])
        if old is not None:
            add_mm_counter(ctx, mm, mm_counter(old), -1)
            folio_remove_rmap(ctx, old, S_COPY_SET)
        new_folio = None
    yield from pte_unmap_unlock(ctx, ptl, S_COPY_UNLOCK, S_COPY_UNMAP)
    if new_folio is not None:
        yield from folio_put(ctx, new_folio, S_COPY_PUT_NEW)
    if old is not None:
        # The reference do_wp_page took, and (on success) the old mapping's reference.
        yield from folio_put(ctx, old, S_COPY_PUT_OLD, refs=1 if new_folio is not None else 2)
    return VM_FAULT_OK
