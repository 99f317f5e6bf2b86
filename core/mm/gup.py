"""GUP-fast: pinning user pages without locks, with IRQs disabled (mm/gup.c).

``gup_fast`` disables IRQs (which holds off TLB-flush IPIs and
``tlb_remove_table_sync_one``, and is an RCU read-side section), reads the pmd once into a
local copy, maps the table through the copy (``pte_offset_map(&pmd)``), and per pte: read
it, grab the folio, then recheck that the live pmd still equals the copy and the pte is
unchanged; on any change it drops the folio and stops. The rest would go to slow GUP;
this model is ``FOLL_FAST_ONLY`` (what it could not pin it does not pin).
``unpin_user_pages`` drops the pins.

Simplified: pins are plain references plus ``pincount`` (no GUP_PIN_COUNTING_BIAS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import local_irq_disable, local_irq_enable
from ..sim import site
from .folio import folio_put_now
from .pgtable import PmdPtr, StackPmd, pmdp_get_lockless, pte_offset_map, pte_unmap, ptep_get
from .types import HugePmd, Pte, PteTable

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Folio, Mm

__all__ = ["gup_fast", "unpin_user_pages"]

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


def _grab(ctx: Ctx, folio: Folio, site_) -> KGen[bool]:
    """``try_grab_folio_fast(FOLL_PIN)``: fails if the folio is already being freed."""
    yield site_
    if folio.refcount <= 0:
        return False
    folio.refcount += 1
    folio.pincount += 1
    return True


def _unpin(ctx: Ctx, folio: Folio, site_) -> KGen[None]:
    yield site_
    folio.pincount -= 1
    folio_put_now(ctx, folio, site_)


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
        pages.append((pte.folio, vpn))
        vpn += 1
    yield from pte_unmap(ctx, S_UNMAP)
    return ok


def gup_fast_pmd_leaf(ctx: Ctx, pmdval, pmdp: PmdPtr, vpn: int, end: int, write: bool,
                      pages) -> KGen[Any]:
    """mm/gup.c ``gup_fast_pmd_leaf``."""
    if write and not pmdval.write:
        return False
    folio = pmdval.folio
    if not (yield from _grab(ctx, folio, S_LEAF_GRAB)):
        return False
    cur = yield from pmdp_get_lockless(ctx, pmdp, S_LEAF_RECHECK)
    if cur != pmdval:
        yield from _unpin(ctx, folio, S_LEAF_PUT)
        return False
    pages.append((folio, vpn))
    return True


def gup_fast(ctx: Ctx, mm: Mm, start: int, npages: int, write: bool = True) -> KGen[Any]:
    """mm/gup.c ``gup_fast``, ``gup_fast_pmd_range``, ``gup_fast_pud_range``.

    Pin [start, start + npages) as far as possible; returns the pinned (folio, vpn)s."""
    n = ctx.config.ptrs_per_pte
    pages: list = []
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
            if not (yield from gup_fast_pte_range(ctx, pmdval, pmdp, vpn, nxt, write, pages)):
                break
        else:
            break
        vpn = nxt
    yield from local_irq_enable(ctx, S_IRQ_ON)
    return pages


S_UNPIN = site("unpin_user_pages:gup_put_folio")


def unpin_user_pages(ctx: Ctx, pages) -> KGen[None]:
    """mm/gup.c ``unpin_user_pages``."""
    for folio, _ in pages:
        yield from _unpin(ctx, folio, S_UNPIN)
