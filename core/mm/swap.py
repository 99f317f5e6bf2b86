"""Swap entries and the swap cache (mm/swapfile.c, mm/swap_state.c), as much as reclaim
and faults on swapped-out anonymous pages need.

A slot is allocated when reclaim adds a folio to the swap cache (``add_to_swap``); each
pte that ``try_to_unmap`` turns into a swap entry holds one count on it; the data is
written to the slot (``pageout``) after the TLB flush; the swap cache lets go of the folio
in ``__remove_mapping``. ``swap_free`` drops one count; the slot is freed when no entry,
no swap-cache folio and no swap-in's ``SWAP_HAS_CACHE`` claim refer to it.

Simplified: no swap devices, clusters or readahead; writeback is synchronous; swap-in of
an entry that is not in the swap cache skips the cache, as on a ``SWP_SYNCHRONOUS_IO``
device (zram), claiming the entry with ``swapcache_prepare`` first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sim import Wait, site
from .folio import folio_put, folio_put_now, folio_try_get, folio_trylock, folio_unlock
from .types import SwapSlot

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Folio

__all__ = ["add_to_swap", "swap_free", "delete_from_swap_cache", "free_swap_cache",
           "free_swap_and_cache", "drain_swap_cache", "swapcache_prepare", "swapcache_clear",
           "swapcache_wait"]

S_ADD = site("add_to_swap:folio_alloc_swap")


def add_to_swap(ctx: Ctx, folio: Folio) -> KGen[Any]:
    """mm/swap_state.c ``add_to_swap``.

    Give the folio a slot and put it in the swap cache (which holds a reference)."""
    slot = yield from ctx.kernel.alloc.alloc(ctx, SwapSlot(folio), S_ADD)
    folio.swap = slot
    folio.refcount += 1
    return slot


def _maybe_free(ctx: Ctx, slot, site_) -> None:
    if slot.count == 0 and slot.folio is None and not slot.has_cache:
        ctx.kernel.alloc.free_now(ctx, slot, site_, SwapSlot)


def swapcache_prepare(ctx: Ctx, slot, site_) -> KGen[bool]:
    """mm/swapfile.c ``swapcache_prepare``: set ``SWAP_HAS_CACHE`` in the entry's
    swap_map byte for a swap-in that skips the swap cache. Fails (-EEXIST) if a swap-cache
    folio or another such swap-in holds it, or (-ENOENT) if the entry was freed meanwhile,
    e.g. by a racing swap-in that finished. swap_map is never freed memory, so its state
    is read without a shadow check (a freed slot keeps count 0)."""
    yield site_
    if slot.has_cache or slot.folio is not None or slot.count == 0:
        return False
    slot.has_cache = True
    return True


def swapcache_clear(ctx: Ctx, slot, site_) -> None:
    """mm/swapfile.c ``swapcache_clear``.

    ``swapcache_clear`` and ``wake_up(&swapcache_wq)``: drop the claim (the caller
    yielded at ``site_``), wake the swap-ins that lost it; the slot is freed if nothing
    else refers to it."""
    ctx.access(slot, site_, True)
    slot.has_cache = False
    slot.waitq.wake_all()
    _maybe_free(ctx, slot, site_)


S_RELAX = site("do_swap_page:schedule_timeout_uninterruptible")


def swapcache_wait(ctx: Ctx, slot) -> KGen[None]:
    """A swap-in that lost the claim "relaxes a bit to prevent rapid repeated page
    faults": it sleeps on swapcache_wq until the holder clears the claim (modelled as a
    wait without the kernel's one-jiffy timeout, so a holder that never clears shows as a
    hang). An entry that was freed has no holder: no sleep."""
    yield S_RELAX
    if slot.has_cache:
        yield Wait(slot.waitq, S_RELAX)


def swap_free(ctx: Ctx, slot, site_) -> None:
    """include/linux/swap.h ``swap_free``.

    Drop one swap entry's count (the caller yielded at ``site_``)."""
    ctx.access(slot, site_, True)
    slot.count -= 1
    _maybe_free(ctx, slot, site_)


def delete_from_swap_cache(ctx: Ctx, folio: Folio, site_) -> None:
    """mm/swap_state.c ``delete_from_swap_cache``.

    The swap cache lets go of ``folio`` (and its reference)."""
    slot = folio.swap
    folio.swap = None
    ctx.access(slot, site_, True)
    slot.folio = None
    folio_put_now(ctx, folio, site_)
    _maybe_free(ctx, slot, site_)


S_FSC_TRYLOCK = site("free_swap_cache:folio_trylock")
S_FSC_FREE = site("free_swap_cache:folio_free_swap")
S_FSC_UNLOCK = site("free_swap_cache:folio_unlock")


def free_swap_cache(ctx: Ctx, folio: Folio) -> KGen[None]:
    """mm/swap_state.c ``free_swap_cache``.

    ``free_swap_cache``: a folio leaving the page tables leaves the swap cache too if
    nothing maps it and no swap entry refers to its slot (and its lock can be had)."""
    if folio.swap is None or folio.mapcount:
        return
    if not (yield from folio_trylock(ctx, folio, S_FSC_TRYLOCK)):
        return
    yield S_FSC_FREE
    slot = folio.swap
    if slot is not None and not folio.mapcount and slot.count == 0:
        delete_from_swap_cache(ctx, folio, S_FSC_FREE)
    yield from folio_unlock(ctx, folio, S_FSC_UNLOCK)


S_FFS = site("folio_free_swap:delete_from_swap_cache")


def folio_free_swap(ctx: Ctx, folio: Folio) -> KGen[Any]:
    """mm/swapfile.c ``folio_free_swap`` (folio locked): if no swap entry refers to the
    folio's slot any more, take it out of the swap cache and mark it dirty (its only copy
    is now in memory). Returns whether it did."""
    slot = folio.swap
    if slot is None:
        return False
    yield S_FFS
    ctx.access(slot, S_FFS, False)
    if slot.count:                                      # folio_swapped()
        return False
    delete_from_swap_cache(ctx, folio, S_FFS)
    folio.dirty = True
    return True


S_TRS_LOOKUP = site("__try_to_reclaim_swap:filemap_get_entry")
S_TRS_GET = site("__try_to_reclaim_swap:folio_try_get")
S_TRS_TRYLOCK = site("__try_to_reclaim_swap:folio_trylock")
S_TRS_FREE = site("__try_to_reclaim_swap:delete_from_swap_cache")
S_TRS_UNLOCK = site("__try_to_reclaim_swap:folio_unlock")
S_TRS_PUT = site("__try_to_reclaim_swap:folio_put")


def free_swap_and_cache(ctx: Ctx, slot, site_) -> KGen[None]:
    """mm/swapfile.c ``free_swap_and_cache_nr``: drop a swap entry (the caller yielded at
    ``site_``); if only the swap cache still holds the slot, ``__try_to_reclaim_swap``
    (``TTRS_UNMAPPED``): take a reference on the cached folio (the caller has none),
    trylock it, and delete it from the swap cache if nothing maps it."""
    swap_free(ctx, slot, site_)
    if slot.count or slot.folio is None:
        return
    yield S_TRS_LOOKUP
    ctx.access(slot, S_TRS_LOOKUP, False)
    folio = slot.folio                                  # filemap_get_folio()
    if folio is None or not (yield from folio_try_get(ctx, folio, S_TRS_GET)):
        return
    if (yield from folio_trylock(ctx, folio, S_TRS_TRYLOCK)):
        yield S_TRS_FREE
        if folio.swap is slot and not folio.mapcount and not slot.count:
            delete_from_swap_cache(ctx, folio, S_TRS_FREE)
        yield from folio_unlock(ctx, folio, S_TRS_UNLOCK)
    yield from folio_put(ctx, folio, S_TRS_PUT)


S_DRAIN_TRYLOCK = site("drain_swap_cache:folio_trylock")
S_DRAIN_REMOVE = site("drain_swap_cache:__remove_mapping")
S_DRAIN_UNLOCK = site("drain_swap_cache:folio_unlock")
S_DRAIN_PUT = site("drain_swap_cache:folio_put")


def drain_swap_cache(ctx: Ctx) -> KGen[None]:
    """Stands in for the reclaim passes after the run: the model has no LRU, so a folio
    that only the swap cache still refers to (reclaim's ``__remove_mapping`` lost to a
    concurrent unmap's reference, whose ``free_swap_cache`` trylock lost to reclaim's
    folio lock) would otherwise look leaked. In the kernel the folio stays on the LRU
    and the next ``shrink_folio_list`` frees it: this is that pass, for such folios only
    (unmapped, no swap entry left, no reference but the swap cache's)."""
    slots = sorted((o for o in ctx.kernel.alloc.live.values()
                    if isinstance(o, SwapSlot) and o.folio is not None), key=lambda o: o.oid)
    for slot in slots:
        folio = slot.folio
        if folio is None or folio.mapcount or slot.count or folio.refcount != 1:
            continue
        folio.refcount += 1                      # isolated from the LRU
        if (yield from folio_trylock(ctx, folio, S_DRAIN_TRYLOCK)):
            yield S_DRAIN_REMOVE
            if folio.swap is slot and not folio.mapcount and not slot.count \
                    and folio.refcount == 2:
                delete_from_swap_cache(ctx, folio, S_DRAIN_REMOVE)
            yield from folio_unlock(ctx, folio, S_DRAIN_UNLOCK)
        yield from folio_put(ctx, folio, S_DRAIN_PUT)
