"""Reclaim of one folio (mm/vmscan.c ``shrink_folio_list``), as kswapd would do it.

The reclaimer finds the folio mapped at an address (standing in for taking it off the
LRU), isolates it (a reference), locks it (trylock: reclaim never waits), asks
``folio_referenced`` whether it was accessed (then it is activated, not reclaimed), adds
an anonymous folio to the swap cache, unmaps it everywhere through rmap with the TLB
flush batched (``TTU_BATCH_FLUSH``), flushes, writes it to swap (``pageout``), and frees
it if nobody took a reference meanwhile (``__remove_mapping``'s refcount freeze).

Simplified: file folios are only unmapped (they stay in the page cache: no writeback);
large anonymous folios are not reclaimed (the kernel splits them first); no LRU lists, no
dirty-folio throttling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sim import site
from .folio import folio_put, folio_try_get, folio_trylock, folio_unlock
from .rmap import folio_referenced, try_to_unmap
from .swap import add_to_swap, delete_from_swap_cache
from .tlb import try_to_unmap_flush
from .types import Pte, PteTable

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Folio, Mm

__all__ = ["reclaim_folio_at", "shrink_folio"]

S_PICK = site("isolate_lru_folios:pick")
S_ISOLATE = site("isolate_lru_folios:folio_try_get")
S_TRYLOCK = site("shrink_folio_list:folio_trylock")
S_KEEP_UNLOCK = site("shrink_folio_list:keep_locked_folio_unlock")
S_PUTBACK = site("shrink_folio_list:putback_folio_put")
S_PAGEOUT = site("pageout:swap_writepage")
S_REMOVE = site("__remove_mapping:folio_ref_freeze")
S_FREE_UNLOCK = site("shrink_folio_list:folio_unlock")
S_FREE_PUT = site("shrink_folio_list:free_folio")


def shrink_folio(ctx: Ctx, folio: Folio) -> KGen[Any]:
    """mm/vmscan.c ``shrink_folio_list`` for one isolated (referenced) folio, in its
    order (v6.12 body in core/upstream, unchanged in these steps through v6.18): trylock;
    ``folio_referenced``; a swap-backed anonymous folio not yet in the swap cache is kept
    if it may be pinned, else added to it; ``try_to_unmap`` (TTU_BATCH_FLUSH), kept if
    still mapped; kept if pinned now that it is unmapped; the deferred flush; pageout;
    freed if only the expected references remain (``folio_ref_freeze`` /
    ``__remove_mapping``). Returns what happened."""
    if not (yield from folio_trylock(ctx, folio, S_TRYLOCK)):
        yield from folio_put(ctx, folio, S_PUTBACK)
        return "locked"
    result = "reclaimed"
    referenced = yield from folio_referenced(ctx, folio)
    if referenced == -1:
        result = "contended"                         # rmap lock contended: FOLIOREF_KEEP
    elif referenced:
        result = "referenced"                        # FOLIOREF_ACTIVATE
    elif folio.anon and folio.npages > 1:
        result = "large"                             # would be split first: not modelled
    else:
        if folio.anon and not folio.lazyfree and folio.swap is None:
            if folio.pincount:                       # folio_maybe_dma_pinned()
                result = "pinned"                    # keep_locked
            else:
                yield from add_to_swap(ctx, folio)
        if result == "reclaimed" and folio.mapcount:
            yield from try_to_unmap(ctx, folio)
            if folio.mapcount:
                result = "still mapped"              # activate_locked
        if result == "reclaimed" and folio.pincount:
            # Unmapped, so it cannot be newly pinned: one pinned before is kept.
            result = "pinned"                        # activate_locked
        if result == "reclaimed":
            yield from try_to_unmap_flush(ctx)
            if folio.swap is not None:
                yield S_PAGEOUT
                ctx.access(folio, S_PAGEOUT, False)
                ctx.access(folio.swap, S_PAGEOUT, True)
                folio.swap.data = folio.data[0]
            yield S_REMOVE
            expected = 1 + (folio.swap is not None) + (0 if folio.anon else folio.npages)
            if folio.refcount != expected:
                result = "busy"                      # somebody took a reference
            elif folio.swap is not None:
                delete_from_swap_cache(ctx, folio, S_REMOVE)
            elif not folio.anon:
                result = "unmapped"                  # file: stays in the page cache
    yield from folio_unlock(ctx, folio, S_FREE_UNLOCK if result == "reclaimed" else
                            S_KEEP_UNLOCK)
    yield from folio_put(ctx, folio, S_FREE_PUT if result == "reclaimed" else S_PUTBACK)
    return result


def reclaim_folio_at(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """kswapd's work item: reclaim the folio mapped at ``vpn``, if any. Finding it stands
    in for taking a folio off an LRU list, which touches no page table: so it is not a
    shadow-checked access, and the speculative reference fails on a folio being freed."""
    yield S_PICK
    n = ctx.config.ptrs_per_pte
    pmdt = mm.pud
    folio = None
    if pmdt is not None:
        v = pmdt.slots[vpn // n]
        if type(v) is PteTable:
            pte = v.slots[vpn % n]
            if type(pte) is Pte and not pte.special:
                folio = pte.folio
    if folio is None or not (yield from folio_try_get(ctx, folio, S_ISOLATE)):
        return "none"
    return (yield from shrink_folio(ctx, folio))
