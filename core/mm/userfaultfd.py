"""UFFDIO_MOVE (``move_pages`` -> ``move_pages_pte``), UFFDIO_COPY (``mfill_atomic``) and
UFFDIO_REGISTER (mm/userfaultfd.c, v6.14+).

Per page: find both pmds (allocating the destination's table), then in
``move_pages_pte``: map both tables (the destination's pmd value is kept, the source's is
a dummy: a matching non-none source pte proves its table), sample both ptes under their
locks one at a time, pin down the source folio (reference, folio lock, anon_vma lock; each
may sleep, after unmapping, and retry), then take both PTE locks in address order
(``double_pt_lock``) and check ``is_pte_pages_stable``: both ptes unchanged *and* the
destination pmd unchanged (the recheck of 02/11: the destination pte was none, so
``pte_same`` on it proves nothing about its table). Then clear and flush the source pte,
move the rmap and set the destination pte. A swap entry moves as such (``move_swap_pte``),
its swap-cache folio, if any, locked and moved along. -EAGAIN makes ``move_pages`` retry
the page.

The ioctl holds the two VMAs' read locks (``uffd_move_lock``), or the mmap read lock
without per-VMA locks. A huge source pmd (``pmd_trans_huge_lock``) moves whole with
``move_pages_huge_pmd`` when the range covers it and the destination pmd is none, and is
split first otherwise. Simplified: a pte-mapped large folio is not split (the move fails
with -EBUSY); no zero-page moves; no migration entries (none exist in the model); the
four lockless pmd reads of the sanity check are one step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import (down_read, down_write, down_write_trylock, spin_lock, spin_lock_nested,
                      spin_unlock, up_read, up_write)
from ..sim import site, spin_site
from .anon_vma import put_anon_vma
from .folio import (add_mm_counter, folio_add_new_anon_rmap, folio_alloc, folio_get, folio_lock,
                    folio_move_anon_rmap, folio_put, folio_trylock, folio_try_get,
                    folio_unlock)
from .huge_memory import (__split_huge_pmd, pgtable_trans_huge_deposit,
                          pgtable_trans_huge_withdraw, pmd_trans_huge_lock)
from .memory import __pte_alloc, anon_vma_prepare, mm_find_pmd, pmd_alloc, pte_alloc
from .mmap_lock import (lock_vma_under_rcu, mmap_read_lock, mmap_read_unlock, mmap_write_lock,
                        mmap_write_unlock, vma_end_read, vma_start_write)
from .pgtable import (__pte_offset_map_lock, pmd_lockptr, pmdp_get_lockless,
                      pmdp_huge_get_and_clear, pte_offset_map_rw_nolock, pte_unmap,
                      pte_unmap_unlock, ptep_get, ptep_get_and_clear, set_pte)
from .rmap import folio_get_anon_vma
from .tlb import flush_tlb_range, ptep_clear_flush
from .types import MM_ANONPAGES, HugePmd, Pte, PteMarker, SwapPte

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .pgtable import PmdPtr
    from .types import Folio, Mm, Vma

__all__ = ["move_pages", "move_pages_pte", "userfaultfd_register", "mfill_atomic", "double_pt_lock",
           "double_pt_unlock", "EAGAIN", "EEXIST", "ENOENT", "EINVAL", "EBUSY"]

EAGAIN, EEXIST, ENOENT, EINVAL, EBUSY, ENOMEM = (
    "-EAGAIN", "-EEXIST", "-ENOENT", "-EINVAL", "-EBUSY", "-ENOMEM")


def _lock_key(lock):
    return lock.mem.oid


S_DPL_1 = site("double_pt_lock:spin_lock")
S_DPL_2 = site("double_pt_lock:spin_lock_nested")
S_DPU_1 = site("double_pt_unlock:spin_unlock")
S_DPU_2 = site("double_pt_unlock:spin_unlock_second")


def double_pt_lock(ctx: Ctx, ptl1, ptl2) -> KGen[None]:
    """mm/userfaultfd.c ``double_pt_lock``.

    Lock both in address order (here: the order of the lock's memory), once if they
    are the same lock."""
    if _lock_key(ptl1) > _lock_key(ptl2):
        ptl1, ptl2 = ptl2, ptl1
    yield from spin_lock(ctx, ptl1, S_DPL_1)
    if ptl1 is not ptl2:
        yield from spin_lock_nested(ctx, ptl2, S_DPL_2)


def double_pt_unlock(ctx: Ctx, ptl1, ptl2) -> KGen[None]:
    """mm/userfaultfd.c ``double_pt_unlock``."""
    yield from spin_unlock(ctx, ptl1, S_DPU_1)
    if ptl1 is not ptl2:
        yield from spin_unlock(ctx, ptl2, S_DPU_2)


S_STABLE_SRC = site("is_pte_pages_stable:src_pte")
S_STABLE_DST = site("is_pte_pages_stable:dst_pte")
S_STABLE_PMD = site("is_pte_pages_stable:dst_pmd")


def is_pte_pages_stable(ctx: Ctx, dst, src, orig_dst, orig_src, dst_pmdp: PmdPtr,
                        dst_pmdval) -> KGen[Any]:
    """mm/userfaultfd.c ``is_pte_pages_stable``."""
    if (yield from ptep_get(ctx, src[0], src[1], S_STABLE_SRC)) != orig_src:
        return False
    if (yield from ptep_get(ctx, dst[0], dst[1], S_STABLE_DST)) != orig_dst:
        return False
    # BUG(uffd-move-no-dst-pmd-recheck): skip the destination pmd recheck (before
    # dd95d2782a25): the destination table may have been freed by PT reclaim and a new
    # one installed, and the page is moved into the detached one.
    if "uffd-move-no-dst-pmd-recheck" in ctx.bugs:
        return True
    cur = yield from pmdp_get_lockless(ctx, dst_pmdp, S_STABLE_PMD)
    return cur is dst_pmdval


S_MP_CLEAR = site("move_present_pte:ptep_clear_flush")
S_MP_FLUSH = site("move_present_pte:flush_tlb_page")
S_MP_REPIN = site("move_present_pte:set_pte_at_src")
S_MP_SET = site("move_present_pte:set_pte_at")


def move_present_pte(ctx: Ctx, dst_vma: Vma, src_vma: Vma, dst_vpn: int, src_vpn: int, dst, src,
                     orig_dst, orig_src, dst_pmdp: PmdPtr, dst_pmdval, dst_ptl, src_ptl,
                     folio: Folio) -> KGen[Any]:
    """mm/userfaultfd.c ``move_present_pte``."""
    yield from double_pt_lock(ctx, dst_ptl, src_ptl)
    err: int | str = 0
    if not (yield from is_pte_pages_stable(ctx, dst, src, orig_dst, orig_src, dst_pmdp,
                                           dst_pmdval)):
        err = EAGAIN
    elif folio.npages > 1 or folio.pincount or folio.mapcount != 1:
        err = EBUSY
    else:
        old = yield from ptep_clear_flush(ctx, src_vma, src[0], src[1], src_vpn, S_MP_CLEAR,
                                          S_MP_FLUSH)
        if folio.pincount:
            yield from set_pte(ctx, src[0], src[1], old, S_MP_REPIN)
            err = EBUSY
        else:
            yield S_MP_SET
            ctx.access(dst[0], S_MP_SET, True)
            folio_move_anon_rmap(folio, dst_vma, dst_vpn)
            dst[0].slots[dst[1]] = Pte(folio, 0, True, True, True, False)
            ctx.event("page_moved", dst_vma.mm, dst_vpn, src_vpn)
    yield from double_pt_unlock(ctx, dst_ptl, src_ptl)
    return err


S_MSP_IDENTITY = site("move_swap_pte:folio_test_swapcache")
S_MSP_HAS_CACHE = site("move_swap_pte:swap_map_has_cache")
S_MSP_CLEAR = site("move_swap_pte:ptep_get_and_clear")
S_MSP_SET = site("move_swap_pte:set_pte_at")


def move_swap_pte(ctx: Ctx, dst_vma: Vma, dst_vpn: int, src_vpn: int, dst, src, orig_dst, orig_src,
                  dst_pmdp: PmdPtr, dst_pmdval, dst_ptl, src_ptl, src_folio: Folio,
                  slot) -> KGen[Any]:
    """mm/userfaultfd.c ``move_swap_pte`` (v6.16+, after 0ea148a799198518, "mm:
    userfaultfd: fix race of userfaultfd_move and swap cache"): a swap-cache folio, locked
    by the caller, must still cache this entry; under both ptls the ptes and the
    destination pmd must be as read; then the cached folio (if any) follows the pte to
    the destination VMA (``folio_move_anon_rmap`` and its index, since a later swap-in
    finds it in the swap cache), or, with none found before, the entry must still not be
    cached (a folio swapped in and out again meanwhile, ``SWAP_HAS_CACHE``): -EAGAIN
    otherwise. The swap pte moves; no TLB flush (it was not present)."""
    if src_folio is not None:
        yield S_MSP_IDENTITY
        if src_folio.swap is not slot:
            return EAGAIN
    yield from double_pt_lock(ctx, dst_ptl, src_ptl)
    if not (yield from is_pte_pages_stable(ctx, dst, src, orig_dst, orig_src, dst_pmdp,
                                           dst_pmdval)):
        yield from double_pt_unlock(ctx, dst_ptl, src_ptl)
        return EAGAIN
    if src_folio is not None:
        folio_move_anon_rmap(src_folio, dst_vma, dst_vpn)
    else:
        # READ_ONCE(si->swap_map[offset]) & SWAP_HAS_CACHE: the swap map is the device's
        # memory, valid whatever became of the entry (not shadow-checked).
        yield S_MSP_HAS_CACHE
        if slot.folio is not None or slot.has_cache:
            yield from double_pt_unlock(ctx, dst_ptl, src_ptl)
            return EAGAIN
    old = yield from ptep_get_and_clear(ctx, src[0], src[1], S_MSP_CLEAR)
    yield from set_pte(ctx, dst[0], dst[1], old, S_MSP_SET)
    ctx.event("page_moved", dst_vma.mm, dst_vpn, src_vpn)
    yield from double_pt_unlock(ctx, dst_ptl, src_ptl)
    return 0


S_MPP_DST_NOTABLE = site("move_pages_pte:dst_table_vanished")
S_MPP_SRC_NOTABLE = site("move_pages_pte:src_table_vanished")
S_MPP_SANITY = site("move_pages_pte:pmd_sanity")
S_MPP_DST_LOCK = site("move_pages_pte:dst_spin_lock")
S_MPP_DST_READ = site("move_pages_pte:dst_ptep_get")
S_MPP_DST_UNLOCK = site("move_pages_pte:dst_spin_unlock")
S_MPP_SRC_LOCK = site("move_pages_pte:src_spin_lock")
S_MPP_SRC_READ = site("move_pages_pte:src_ptep_get")
S_MPP_SRC_UNLOCK = site("move_pages_pte:src_spin_unlock")
S_MPP_GET_LOCK = site("move_pages_pte:folio_get_spin_lock")
S_MPP_GET_RECHECK = site("move_pages_pte:folio_get_pte_same")
S_MPP_GET = site("move_pages_pte:folio_get")
S_MPP_GET_UNLOCK = site("move_pages_pte:folio_get_spin_unlock")
S_MPP_TRYLOCK = site("move_pages_pte:folio_trylock")
S_MPP_SWAPCACHE = site("move_pages_pte:filemap_get_folio_swapcache")
S_MPP_SWAPCACHE_PUT = site("move_pages_pte:swapcache_large_folio_put")
S_MPP_SLEEP_UNMAP_SRC = site("move_pages_pte:folio_lock_unmap_src")
S_MPP_SLEEP_UNMAP_DST = site("move_pages_pte:folio_lock_unmap_dst")
S_MPP_FOLIO_LOCK = site("move_pages_pte:folio_lock")
S_MPP_AV_TRY = site("move_pages_pte:anon_vma_trylock_write")
S_MPP_AV_UNMAP_SRC = site("move_pages_pte:anon_vma_lock_unmap_src")
S_MPP_AV_UNMAP_DST = site("move_pages_pte:anon_vma_lock_unmap_dst")
S_MPP_AV_LOCK = site("move_pages_pte:anon_vma_lock_write")
S_MPP_RETRY = spin_site("move_pages_pte:retry")
S_MPP_OUT_AV = site("move_pages_pte:anon_vma_unlock_write")
S_MPP_OUT_UNLOCK = site("move_pages_pte:folio_unlock")
S_MPP_OUT_PUT = site("move_pages_pte:folio_put")
S_MPP_OUT_UNMAP_DST = site("move_pages_pte:pte_unmap_dst")
S_MPP_OUT_UNMAP_SRC = site("move_pages_pte:pte_unmap_src")


def move_pages_pte(ctx: Ctx, mm: Mm, dst_pmdp: PmdPtr, src_pmdp: PmdPtr,
                   dst_vma: Vma, src_vma: Vma, dst_vpn: int, src_vpn: int) -> KGen[Any]:
    """mm/userfaultfd.c ``move_pages_pte``."""
    src_folio: Folio | None = None
    src_folio_pte: Any = None
    anon_vma = None
    dst_mapped = src_mapped = False
    err: int | str = 0
    while True:                                      # retry:
        dst_table, dst_i, dst_pmdval, dst_ptl = yield from pte_offset_map_rw_nolock(
            ctx, mm, dst_pmdp, dst_vpn)
        if dst_table is None:
            yield S_MPP_DST_NOTABLE
            err = EAGAIN
            break
        dst_mapped = True
        src_table, src_i, _dummy, src_ptl = yield from pte_offset_map_rw_nolock(
            ctx, mm, src_pmdp, src_vpn)
        if src_table is None:
            yield S_MPP_SRC_NOTABLE
            err = EAGAIN
            break
        src_mapped = True
        yield S_MPP_SANITY
        ctx.access(dst_pmdp.table, S_MPP_SANITY, False)
        d, s = dst_pmdp.table.slots[dst_pmdp.idx], src_pmdp.table.slots[src_pmdp.idx]
        if d is None or s is None or type(d) is HugePmd or type(s) is HugePmd:
            err = EINVAL
            break
        yield from spin_lock(ctx, dst_ptl, S_MPP_DST_LOCK)
        orig_dst = yield from ptep_get(ctx, dst_table, dst_i, S_MPP_DST_READ)
        yield from spin_unlock(ctx, dst_ptl, S_MPP_DST_UNLOCK)
        if orig_dst is not None:
            err = EEXIST
            break
        yield from spin_lock(ctx, src_ptl, S_MPP_SRC_LOCK)
        orig_src = yield from ptep_get(ctx, src_table, src_i, S_MPP_SRC_READ)
        yield from spin_unlock(ctx, src_ptl, S_MPP_SRC_UNLOCK)
        if orig_src is None:
            err = ENOENT
            break
        if src_folio is not None and src_folio_pte != orig_src:
            err = EAGAIN
            break
        if type(orig_src) is SwapPte:
            # !pte_present: an exclusive swap entry (no fork: every one is). Look for
            # its swap-cache folio (get_swap_device() always succeeds: no swapoff).
            slot = orig_src.slot
            if src_folio is None:
                yield S_MPP_SWAPCACHE
                cached = slot.folio
                if cached is not None and (yield from folio_try_get(ctx, cached,
                                                                    S_MPP_SWAPCACHE)):
                    if cached.npages > 1:
                        yield from folio_put(ctx, cached, S_MPP_SWAPCACHE_PUT)
                        err = EBUSY
                        break
                    src_folio, src_folio_pte = cached, orig_src
                    if not (yield from folio_trylock(ctx, cached, S_MPP_TRYLOCK)):
                        yield from pte_unmap(ctx, S_MPP_SLEEP_UNMAP_SRC)
                        yield from pte_unmap(ctx, S_MPP_SLEEP_UNMAP_DST)
                        dst_mapped = src_mapped = False
                        yield from folio_lock(ctx, cached, S_MPP_FOLIO_LOCK)
                        yield S_MPP_RETRY
                        continue
            err = yield from move_swap_pte(ctx, dst_vma, dst_vpn, src_vpn,
                                           (dst_table, dst_i), (src_table, src_i), orig_dst,
                                           orig_src, dst_pmdp, dst_pmdval, dst_ptl, src_ptl,
                                           src_folio, slot)
            break
        if type(orig_src) is not Pte or orig_src.special:
            err = EBUSY                  # zero page and markers: not modelled
            break
        if src_folio is None:
            yield from spin_lock(ctx, src_ptl, S_MPP_GET_LOCK)
            cur = yield from ptep_get(ctx, src_table, src_i, S_MPP_GET_RECHECK)
            if cur != orig_src:
                yield from spin_unlock(ctx, src_ptl, S_MPP_GET_UNLOCK)
                err = EAGAIN
                break
            folio = orig_src.folio
            if not folio.anon or folio.mapcount != 1:
                yield from spin_unlock(ctx, src_ptl, S_MPP_GET_UNLOCK)
                err = EBUSY
                break
            yield from folio_get(ctx, folio, S_MPP_GET)
            src_folio, src_folio_pte = folio, orig_src
            yield from spin_unlock(ctx, src_ptl, S_MPP_GET_UNLOCK)
            if not (yield from folio_trylock(ctx, folio, S_MPP_TRYLOCK)):
                yield from pte_unmap(ctx, S_MPP_SLEEP_UNMAP_SRC)
                yield from pte_unmap(ctx, S_MPP_SLEEP_UNMAP_DST)
                dst_mapped = src_mapped = False
                yield from folio_lock(ctx, folio, S_MPP_FOLIO_LOCK)
                yield S_MPP_RETRY
                continue
        if anon_vma is None:
            # folio_referenced walks the anon_vma without the folio lock: serialize
            # against it with the anon_vma lock.
            av = yield from folio_get_anon_vma(ctx, src_folio)
            if av is None:
                err = EAGAIN                     # unmapped from under us
                break
            if not (yield from down_write_trylock(ctx, av.rwsem, S_MPP_AV_TRY)):
                yield from pte_unmap(ctx, S_MPP_AV_UNMAP_SRC)
                yield from pte_unmap(ctx, S_MPP_AV_UNMAP_DST)
                dst_mapped = src_mapped = False
                yield from down_write(ctx, av.rwsem, S_MPP_AV_LOCK)
                anon_vma = av
                yield S_MPP_RETRY
                continue
            anon_vma = av
        err = yield from move_present_pte(ctx, dst_vma, src_vma, dst_vpn, src_vpn,
                                          (dst_table, dst_i), (src_table, src_i), orig_dst,
                                          orig_src, dst_pmdp, dst_pmdval, dst_ptl, src_ptl,
                                          src_folio)
        break
    if anon_vma is not None:
        yield from up_write(ctx, anon_vma.rwsem, S_MPP_OUT_AV)
        yield from put_anon_vma(ctx, anon_vma)
    if src_folio is not None:
        if src_folio.lock.owner is ctx:
            yield from folio_unlock(ctx, src_folio, S_MPP_OUT_UNLOCK)
        yield from folio_put(ctx, src_folio, S_MPP_OUT_PUT)
    if dst_mapped:
        yield from pte_unmap(ctx, S_MPP_OUT_UNMAP_DST)
    if src_mapped:
        yield from pte_unmap(ctx, S_MPP_OUT_UNMAP_SRC)
    return err


S_MHP_READ = site("move_pages_huge_pmd:src_pmdval")
S_MHP_BAIL = site("move_pages_huge_pmd:spin_unlock")
S_MHP_GET = site("move_pages_huge_pmd:folio_get")
S_MHP_UNLOCK = site("move_pages_huge_pmd:src_spin_unlock")
S_MHP_FOLIO_LOCK = site("move_pages_huge_pmd:folio_lock")
S_MHP_AV_LOCK = site("move_pages_huge_pmd:anon_vma_lock_write")
S_MHP_RECHECK = site("move_pages_huge_pmd:pmd_same")
S_MHP_CLEAR = site("move_pages_huge_pmd:pmdp_huge_clear_flush")
S_MHP_FLUSH = site("move_pages_huge_pmd:flush_tlb_range")
S_MHP_REPIN = site("move_pages_huge_pmd:set_pmd_at_src")
S_MHP_SET = site("move_pages_huge_pmd:set_pmd_at")
S_MHP_DEPOSIT = site("move_pages_huge_pmd:pgtable_trans_huge_withdraw")
S_MHP_AV_UNLOCK = site("move_pages_huge_pmd:anon_vma_unlock_write")
S_MHP_FOLIO_UNLOCK = site("move_pages_huge_pmd:folio_unlock")
S_MHP_PUT = site("move_pages_huge_pmd:folio_put")


def move_pages_huge_pmd(ctx: Ctx, mm: Mm, dst_pmdp: PmdPtr, src_pmdp: PmdPtr,
                        dst_pmdval, dst_vma: Vma, src_vma: Vma, dst_vpn: int, src_vpn: int,
                        src_ptl) -> KGen[Any]:
    """mm/huge_memory.c ``move_pages_huge_pmd``: move a whole huge pmd, entered with the
    source pmd lock held (``pmd_trans_huge_lock``). Pin the folio (reference, then with
    the lock dropped, folio lock and the anon_vma write lock, which rmap walkers that do
    not take the folio lock need), take both pmd locks and recheck both pmds with
    ``pmd_same``; then clear and flush the source pmd, move the rmap, set the
    destination pmd and move the deposited table with it.

    Simplified: no huge zero pmd, no migration entries; PageAnonExclusive holds (no
    fork)."""
    n = ctx.config.ptrs_per_pte
    src_pmdval = yield from pmdp_get_lockless(ctx, src_pmdp, S_MHP_READ)
    if dst_pmdval is not None or src_vpn % n or dst_vpn % n:
        yield from spin_unlock(ctx, src_ptl, S_MHP_BAIL)
        return EINVAL
    if type(src_pmdval) is not HugePmd:
        yield from spin_unlock(ctx, src_ptl, S_MHP_BAIL)
        return ENOENT
    folio = src_pmdval.folio
    yield from folio_get(ctx, folio, S_MHP_GET)
    yield from spin_unlock(ctx, src_ptl, S_MHP_UNLOCK)
    err: int | str = 0
    yield from folio_lock(ctx, folio, S_MHP_FOLIO_LOCK)
    # split_huge_page walks the anon_vma without the folio lock: serialize against it
    # with the anon_vma lock.
    anon_vma = yield from folio_get_anon_vma(ctx, folio)
    if anon_vma is None:
        err = EAGAIN
    else:
        yield from down_write(ctx, anon_vma.rwsem, S_MHP_AV_LOCK)
        dst_ptl = pmd_lockptr(ctx, mm, dst_pmdp)
        yield from double_pt_lock(ctx, src_ptl, dst_ptl)
        yield S_MHP_RECHECK
        ctx.access(src_pmdp.table, S_MHP_RECHECK, False)
        if (src_pmdp.table.slots[src_pmdp.idx] is not src_pmdval
                or dst_pmdp.table.slots[dst_pmdp.idx] is not dst_pmdval):
            err = EAGAIN
        elif folio.pincount:                         # folio_maybe_dma_pinned()
            err = EBUSY
        else:
            old = yield from pmdp_huge_get_and_clear(ctx, src_pmdp, S_MHP_CLEAR)
            yield from flush_tlb_range(ctx, mm, src_vpn, src_vpn + n, S_MHP_FLUSH)
            if folio.pincount:                       # pinned from under us: put it back
                yield S_MHP_REPIN
                ctx.access(src_pmdp.table, S_MHP_REPIN, True)
                src_pmdp.table.slots[src_pmdp.idx] = old
                err = EBUSY
            else:
                folio_move_anon_rmap(folio, dst_vma, dst_vpn)
                yield S_MHP_SET
                ctx.access(dst_pmdp.table, S_MHP_SET, True)
                # Follow mremap: the entry is dirty (and writable) after the move.
                dst_pmdp.table.slots[dst_pmdp.idx] = HugePmd(folio, True)
                for i in range(n):
                    ctx.event("page_moved", mm, dst_vpn + i, src_vpn + i)
                yield S_MHP_DEPOSIT
                table = pgtable_trans_huge_withdraw(ctx, src_pmdp, S_MHP_DEPOSIT)
                pgtable_trans_huge_deposit(dst_pmdp, table)
        yield from double_pt_unlock(ctx, src_ptl, dst_ptl)
        yield from up_write(ctx, anon_vma.rwsem, S_MHP_AV_UNLOCK)
        yield from put_anon_vma(ctx, anon_vma)
    yield from folio_unlock(ctx, folio, S_MHP_FOLIO_UNLOCK)
    yield from folio_put(ctx, folio, S_MHP_PUT)
    return err


S_MOVE_LOCK = site("move_pages:mmap_read_lock")
S_MOVE_UNLOCK = site("move_pages:mmap_read_unlock")
S_MOVE_VMAS = site("find_vmas_mm_locked:find_vma_and_prepare_anon")
S_MOVE_DST_PMD = site("move_pages:dst_pmdp_get_lockless")
S_MOVE_SRC_PMD = site("move_pages:src_pmd_none")
S_MOVE_AGAIN = spin_site("move_pages:eagain_retry")
S_MOVE_SPLIT_UNLOCK = site("move_pages:split_spin_unlock")
S_MOVE_RESCHED = site("move_pages:cond_resched")


S_UL_PREPARE = site("uffd_lock_vma:find_vma_and_prepare_anon")
S_UL_DROP = site("uffd_lock_vma:vma_end_read_no_anon_vma")
S_UL_MMAP = site("uffd_lock_vma:mmap_read_lock")
S_UL_VMA = site("uffd_lock_vma:vma_start_read_locked")
S_UL_MMAP_UNLOCK = site("uffd_lock_vma:mmap_read_unlock")
S_UML_DROP_DST = site("uffd_move_lock:vma_end_read_dst")
S_UML_MMAP = site("uffd_move_lock:mmap_read_lock")
S_UML_FIND = site("uffd_move_lock:vma_lookup")
S_UML_DST = site("uffd_move_lock:vma_start_read_locked_dst")
S_UML_SRC = site("uffd_move_lock:vma_start_read_locked_nested_src")
S_UML_MMAP_UNLOCK = site("uffd_move_lock:mmap_read_unlock")
S_UMU_SRC = site("uffd_move_unlock:vma_end_read_src")
S_UMU_DST = site("uffd_move_unlock:vma_end_read_dst")


def find_vma_and_prepare_anon(ctx: Ctx, mm: Mm, vpn: int, site_) -> KGen[Any]:
    """mm/userfaultfd.c ``find_vma_and_prepare_anon`` (mmap lock held): the VMA at
    ``vpn``, given an anon_vma if it is private, so that pages moved or copied into it
    belong to an anon_vma rmap can find."""
    yield site_
    ctx.access(mm, site_, False)
    vma = mm.find_vma(vpn)
    if vma is not None and not vma.shared:
        yield from anon_vma_prepare(ctx, vma)
    return vma


def uffd_lock_vma(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """mm/userfaultfd.c ``uffd_lock_vma``.

    The VMA at ``vpn`` read-locked (per-VMA lock), with an anon_vma prepared (under the
    mmap lock if one is needed)."""
    vma = yield from lock_vma_under_rcu(ctx, mm, vpn)
    if vma is not None:
        if vma.shared or vma.anon_vma is not None:
            return vma
        yield from vma_end_read(ctx, vma, S_UL_DROP)
    yield from mmap_read_lock(ctx, mm, S_UL_MMAP)
    vma = yield from find_vma_and_prepare_anon(ctx, mm, vpn, S_UL_PREPARE)
    if vma is not None:
        yield from down_read(ctx, vma.vm_lock, S_UL_VMA)
    yield from mmap_read_unlock(ctx, mm, S_UL_MMAP_UNLOCK)
    return vma


def find_vmas_mm_locked(ctx: Ctx, mm: Mm, dst: int, src: int, site_) -> KGen[Any]:
    """mm/userfaultfd.c ``find_vmas_mm_locked`` (mmap lock held): the destination VMA
    with its anon_vma prepared, and the source VMA (None, None if either is missing)."""
    dst_vma = yield from find_vma_and_prepare_anon(ctx, mm, dst, site_)
    if dst_vma is None:
        return None, None
    if dst_vma.start <= src < dst_vma.end:
        return dst_vma, dst_vma
    src_vma = mm.find_vma(src)                       # vma_lookup()
    return (dst_vma, src_vma) if src_vma is not None else (None, None)


def uffd_move_lock(ctx: Ctx, mm: Mm, dst: int, src: int) -> KGen[Any]:
    """mm/userfaultfd.c ``uffd_move_lock``.

    Read-lock the destination and source VMAs (mm/userfaultfd.c): per VMA if it can,
    else both under the mmap lock (destination first, source nested)."""
    dst_vma = yield from uffd_lock_vma(ctx, mm, dst)
    if dst_vma is None:
        return None, None
    if dst_vma.start <= src < dst_vma.end:
        return dst_vma, dst_vma
    src_vma = yield from lock_vma_under_rcu(ctx, mm, src)
    if src_vma is not None:
        return dst_vma, src_vma
    yield from vma_end_read(ctx, dst_vma, S_UML_DROP_DST)
    yield from mmap_read_lock(ctx, mm, S_UML_MMAP)
    dst_vma, src_vma = yield from find_vmas_mm_locked(ctx, mm, dst, src, S_UML_FIND)
    if dst_vma is not None and src_vma is not None:
        yield from down_read(ctx, dst_vma.vm_lock, S_UML_DST)
        if src_vma is not dst_vma:
            yield from down_read(ctx, src_vma.vm_lock, S_UML_SRC, subclass=1)
    else:
        dst_vma = src_vma = None
    yield from mmap_read_unlock(ctx, mm, S_UML_MMAP_UNLOCK)
    return dst_vma, src_vma


def uffd_move_unlock(ctx: Ctx, dst_vma: Vma, src_vma: Vma) -> KGen[None]:
    """mm/userfaultfd.c ``uffd_move_unlock``."""
    if src_vma is not dst_vma:
        yield from vma_end_read(ctx, src_vma, S_UMU_SRC)
    yield from vma_end_read(ctx, dst_vma, S_UMU_DST)


def move_pages(ctx: Ctx, mm: Mm, dst: int, src: int, npages: int) -> KGen[Any]:
    """mm/userfaultfd.c ``move_pages``.

    UFFDIO_MOVE of [src, src + npages) to [dst, ...). Returns (pages moved, error).
    Holds the two VMAs' read locks (or, without per-VMA locks, the mmap read lock)."""
    per_vma = ctx.config.per_vma_lock
    if per_vma:
        dst_vma, src_vma = yield from uffd_move_lock(ctx, mm, dst, src)
        if dst_vma is None:
            return 0, EINVAL
    else:
        yield from down_read(ctx, mm.mmap_lock, S_MOVE_LOCK)
        dst_vma, src_vma = yield from find_vmas_mm_locked(ctx, mm, dst, src, S_MOVE_VMAS)
    err: int | str = 0
    moved = 0
    if (dst_vma is None or src_vma is None or dst + npages > dst_vma.end
            or src + npages > src_vma.end or not dst_vma.anonymous or not src_vma.anonymous
            or dst_vma.shared or src_vma.shared or not dst_vma.uffd_armed
            or not src_vma.uffd_armed or src_vma.anon_vma is None):
        err = EINVAL
    n = ctx.config.ptrs_per_pte
    while not err and moved < npages:
        d, s = dst + moved, src + moved
        src_pmdp = yield from mm_find_pmd(ctx, mm, s)
        if src_pmdp is None:
            err = ENOENT
            break
        dst_pmdp = yield from pmd_alloc(ctx, mm, d)
        dval = yield from pmdp_get_lockless(ctx, dst_pmdp, S_MOVE_DST_PMD)
        if type(dval) is HugePmd:
            err = EEXIST
            break
        step = 1
        src_pml = yield from pmd_trans_huge_lock(ctx, mm, src_pmdp)
        if src_pml is not None:
            # move_splits_huge_pmd(), or a destination table in the way: split the source
            # pmd and move its pages one by one. (PageAnonExclusive holds: no fork.)
            if s % n or d % n or npages - moved < n or dval is not None:
                yield from spin_unlock(ctx, src_pml, S_MOVE_SPLIT_UNLOCK)
                yield from __split_huge_pmd(ctx, src_vma, src_pmdp, s)
                continue
            e = yield from move_pages_huge_pmd(ctx, mm, dst_pmdp, src_pmdp, dval, dst_vma,
                                               src_vma, d, s, src_pml)
            step = n
        else:
            sval = yield from pmdp_get_lockless(ctx, src_pmdp, S_MOVE_SRC_PMD)
            if sval is None:
                err = ENOENT
                break
            # (pte_alloc(src_pmd) has nothing to do: the pmd is not none.)
            if (yield from pte_alloc(ctx, mm, dst_pmdp)):
                err = ENOMEM
                break
            e = yield from move_pages_pte(ctx, mm, dst_pmdp, src_pmdp, dst_vma, src_vma, d, s)
        yield S_MOVE_RESCHED
        if e == EAGAIN:
            yield S_MOVE_AGAIN
            continue
        if e:
            err = e
            break
        moved += step
    if per_vma:
        yield from uffd_move_unlock(ctx, dst_vma, src_vma)
    else:
        yield from up_read(ctx, mm.mmap_lock, S_MOVE_UNLOCK)
    return moved, err


S_REG_LOCK = site("userfaultfd_register:mmap_write_lock")
S_REG_FIND = site("userfaultfd_register:vma_lookup")
S_REG_SET = site("userfaultfd_register:userfaultfd_set_vm_flags")
S_REG_UNLOCK = site("userfaultfd_register:mmap_write_unlock")


def userfaultfd_register(ctx: Ctx, mm: Mm, vpn: int, mode: str) -> KGen[Any]:
    """fs/userfaultfd.c ``userfaultfd_register``.

    UFFDIO_REGISTER of the VMA at ``vpn`` (whole VMA), under the mmap write lock."""
    yield from mmap_write_lock(ctx, mm, S_REG_LOCK)
    yield S_REG_FIND
    ctx.access(mm, S_REG_FIND, False)
    vma = mm.find_vma(vpn)
    err: int | str = 0
    if vma is None:
        err = EINVAL
    else:
        yield from vma_start_write(ctx, vma)       # userfaultfd_set_vm_flags()
        yield S_REG_SET
        ctx.access(vma, S_REG_SET, True)
        if mode == "missing":
            vma.uffd_missing = True
        else:
            vma.uffd_wp = True
    yield from mmap_write_unlock(ctx, mm, S_REG_UNLOCK)
    return err


# -- UFFDIO_COPY ------------------------------------------------------------------------------

S_MF_UNLOCK_VMA = site("uffd_mfill_unlock:vma_end_read")
S_MF_LOCK = site("mfill_atomic:mmap_read_lock")
S_MF_UNLOCK = site("mfill_atomic:mmap_read_unlock")
S_MF_VMA = site("mfill_atomic:validate_dst_vma")
S_MF_PMD = site("mfill_atomic:pmdp_get_lockless")
S_MF_PMD_AGAIN = site("mfill_atomic:pmdp_get_lockless_again")
S_MF_RESCHED = site("mfill_atomic:cond_resched")
S_MFC_ALLOC = site("mfill_atomic_pte_copy:folio_prealloc")
S_MFC_COPY = site("mfill_atomic_pte_copy:copy_from_user")
S_MFI_NOTABLE = site("mfill_atomic_install_pte:table_vanished")
S_MFI_READ = site("mfill_atomic_install_pte:ptep_get")
S_MFI_EXIST_UNLOCK = site("mfill_atomic_install_pte:eexist_unlock")
S_MFI_EXIST_UNMAP = site("mfill_atomic_install_pte:eexist_unmap")
S_MFI_SET = site("mfill_atomic_install_pte:set_pte_at")
S_MFI_UNLOCK = site("mfill_atomic_install_pte:spin_unlock")
S_MFI_UNMAP = site("mfill_atomic_install_pte:pte_unmap")
S_MFI_PUT = site("mfill_atomic_pte:folio_put")


def mfill_atomic_install_pte(ctx: Ctx, mm: Mm, vma: Vma, pmdp: PmdPtr, vpn: int,
                             folio: Folio) -> KGen[Any]:
    """mm/userfaultfd.c ``mfill_atomic_install_pte``: map the filled folio if the
    destination pte is still none or a marker (``pte_none_mostly``: a uffd-wp marker may
    be overwritten), rmap and counter before ``set_pte_at``. -EAGAIN if the table
    vanished since the pmd checks. Simplified: no UFFDIO_COPY_MODE_WP (the new pte never
    carries the uffd-wp bit)."""
    table, i, ptl = yield from __pte_offset_map_lock(ctx, mm, pmdp, vpn)
    if table is None:
        yield S_MFI_NOTABLE
        return EAGAIN
    cur = yield from ptep_get(ctx, table, i, S_MFI_READ)
    if cur is not None and type(cur) is not PteMarker:        # !pte_none_mostly()
        yield from pte_unmap_unlock(ctx, ptl, S_MFI_EXIST_UNLOCK, S_MFI_EXIST_UNMAP)
        return EEXIST
    yield S_MFI_SET
    ctx.access(table, S_MFI_SET, True)
    folio_add_new_anon_rmap(ctx, folio, vma, vpn)
    add_mm_counter(ctx, mm, MM_ANONPAGES, 1)
    table.slots[i] = Pte(folio, 0, vma.writable, True, True, False)
    ctx.event("page_filled", mm, vpn, folio.data[0])
    yield from pte_unmap_unlock(ctx, ptl, S_MFI_UNLOCK, S_MFI_UNMAP)
    return 0


def mfill_atomic_pte(ctx: Ctx, mm: Mm, vma: Vma, pmdp: PmdPtr, vpn: int,
                     value) -> KGen[Any]:
    """mm/userfaultfd.c ``mfill_atomic_pte``, ``mfill_atomic_pte_copy``.

    ``mfill_atomic_pte_copy``: a new anonymous folio holding the user's data, then
    install it; the folio is dropped if that fails."""
    folio = yield from folio_alloc(ctx, 1, True, S_MFC_ALLOC)
    yield S_MFC_COPY
    folio.data[0] = value
    err = yield from mfill_atomic_install_pte(ctx, mm, vma, pmdp, vpn, folio)
    if err:
        yield from folio_put(ctx, folio, S_MFI_PUT)
    return err


def mfill_atomic(ctx: Ctx, mm: Mm, dst: int, npages: int, value) -> KGen[Any]:
    """UFFDIO_COPY (mm/userfaultfd.c ``mfill_atomic``): per page, allocate the table if the
    pmd is none, read the pmd **again** (it may be none again, or huge: -EEXIST), then
    install under the PTE lock. Returns (pages copied, error). Into an anonymous or a
    MAP_PRIVATE file (tmpfs) mapping: the VMA has an anon_vma before any pte is installed
    (``uffd_lock_vma``), which is what ``retract_page_tables`` rechecks under the pte lock.
    Simplified: MAP_SHARED shmem destinations (``shmem_mfill_atomic_pte``, the folio added
    to the page cache) are refused with -EINVAL; no ZEROPAGE, CONTINUE or POISON."""
    per_vma = ctx.config.per_vma_lock
    if per_vma:
        vma = yield from uffd_lock_vma(ctx, mm, dst)
    else:
        yield from mmap_read_lock(ctx, mm, S_MF_LOCK)
        yield S_MF_VMA
        ctx.access(mm, S_MF_VMA, False)
        vma = mm.find_vma(dst)
        if vma is not None and not vma.shared:
            yield from anon_vma_prepare(ctx, vma)
    copied = 0
    err: int | str = 0
    # Anonymous and MAP_PRIVATE file (tmpfs) destinations: a new anonymous folio goes into
    # the table, in a file VMA too ("for the MAP_PRIVATE case the robustness check only
    # happens in the pagetable"), never into the page cache. MAP_SHARED file destinations
    # (shmem_mfill_atomic_pte) are not modelled.
    if vma is None or not vma.uffd_armed or vma.shared or dst + npages > vma.end:
        err = EINVAL
    while not err and copied < npages:
        vpn = dst + copied
        pmdp = yield from pmd_alloc(ctx, mm, vpn)
        val = yield from pmdp_get_lockless(ctx, pmdp, S_MF_PMD)
        if val is None:
            yield from __pte_alloc(ctx, mm, pmdp)
        val = yield from pmdp_get_lockless(ctx, pmdp, S_MF_PMD_AGAIN)
        if val is None or type(val) is HugePmd:
            err = EEXIST
            break
        e = yield from mfill_atomic_pte(ctx, mm, vma, pmdp, vpn, value)
        yield S_MF_RESCHED
        if e:
            err = e
            break
        copied += 1
    if vma is not None:
        if per_vma:
            yield from vma_end_read(ctx, vma, S_MF_UNLOCK_VMA)
        else:
            yield from mmap_read_unlock(ctx, mm, S_MF_UNLOCK)
    elif not per_vma:
        yield from mmap_read_unlock(ctx, mm, S_MF_UNLOCK)
    return copied, err
