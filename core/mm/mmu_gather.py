"""mmu_gather: batched TLB flushing, page freeing and page-table freeing.

Kernel files: mm/mmu_gather.c, include/asm-generic/tlb.h, arch/x86/mm/pgtable.c
(``___pte_free_tlb``). The guarantee: gathered data pages are freed only after the TLB
flush; gathered tables are freed after the flush and, depending on ``table_free``:

``rcu``       (x86 since v6.15; ``MMU_GATHER_RCU_TABLE_FREE`` with ``CONFIG_PT_RECLAIM``)
              batches go to ``call_rcu``; when no batch page can be had, the single table
              is freed by ``call_rcu`` too (``__tlb_remove_table_one``).
``semi_rcu``  batches by ``call_rcu``; the single-table fallback waits for an IPI
              (``tlb_remove_table_sync_one``) and frees at once: enough for IRQ-off walkers
              (GUP-fast), not for ``rcu_read_lock`` walkers.
``tlb_only``  (x86 <= v6.13 without PARAVIRT) the destructor runs at queue time and the
              page is freed with the data pages right after the TLB flush.

The ptlock (with ``alloc_split_ptlocks``) is freed by ``pagetable_dtor``, which runs where
the table page is freed (since v6.14), so lock and page die together.

Simplified: one kind of page entry (no encoded nr_pages), no delayed rmap
(``tlb_flush_rmaps``): rmaps are removed at zap time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import tlb_remove_table_sync_one
from ..kernel.rcu import call_rcu_now
from ..sim import site
from .folio import folio_put_now
from .pgtable import pagetable_dtor, pmd_free, pte_free
from .swap import free_swap_cache
from .tlb import flush_tlb_range
from .types import GatherBatch, PmdTable, PteTable, TableBatch

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen, Site
    from .types import Mm

__all__ = ["MmuGather", "tlb_gather_mmu", "tlb_finish_mmu", "tlb_flush_mmu",
           "tlb_flush_mmu_tlbonly", "tlb_remove_tlb_entry", "tlb_remove_folio",
           "pte_free_tlb", "pmd_free_tlb", "tlb_remove_table", "tlb_table_flush"]


class MmuGather:
    """``struct mmu_gather`` (on the stack of the thread that owns it)."""

    __slots__ = ("mm", "fullmm", "pages", "nr_active", "batches", "batch", "freed_tables",
                 "cleared_ptes", "start", "end", "need_flush_all")

    def __init__(self, mm: Mm, fullmm: bool = False) -> None:
        self.mm = mm
        self.fullmm = fullmm
        self.pages: list = []        # folios (and, in tlb_only mode, tables) to free
        self.nr_active = 0           # entries in the active batch
        self.batches: list[GatherBatch] = []
        self.batch: TableBatch | None = None
        self.freed_tables = False
        self.cleared_ptes = False
        self.need_flush_all = False
        self.start: int | None = None
        self.end: int | None = None

    def adjust_range(self, start: int, end: int) -> None:
        self.start = start if self.start is None else min(self.start, start)
        self.end = end if self.end is None else max(self.end, end)

    def reset_range(self) -> None:
        self.start = self.end = None
        self.freed_tables = self.cleared_ptes = False


S_GATHER = site("tlb_gather_mmu:inc_tlb_flush_pending")


def tlb_gather_mmu(ctx: Ctx, mm: Mm, fullmm: bool = False) -> KGen[Any]:
    """mm/mmu_gather.c ``tlb_gather_mmu``, ``__tlb_gather_mmu``.

    ``tlb_gather_mmu`` / ``tlb_gather_mmu_fullmm``: returns the gather."""
    yield S_GATHER
    ctx.access(mm, S_GATHER, True)
    mm.tlb_flush_pending += 1
    return MmuGather(mm, fullmm)


def tlb_remove_tlb_entry(tlb: MmuGather, vpn: int) -> None:
    """Record that the translation of ``vpn`` must be flushed."""
    tlb.adjust_range(vpn, vpn + 1)
    tlb.cleared_ptes = True


S_NEXT_BATCH = site("tlb_next_batch:__get_free_page")


def tlb_remove_folio(ctx: Ctx, tlb: MmuGather, page_obj) -> KGen[Any]:
    """mm/mmu_gather.c ``__tlb_remove_folio_pages_size``, ``tlb_next_batch``.

    ``__tlb_remove_folio_pages`` / ``tlb_remove_page``: hand a page reference to the
    gather. Returns True when the batch is full and no next batch could be had (the
    caller then sets ``force_flush`` and ``force_break``)."""
    tlb.pages.append(page_obj)
    tlb.nr_active += 1
    if tlb.nr_active < ctx.config.tlb_batch - 1:
        return False
    # tlb_next_batch(): the on-stack batch is full; get another page, if allowed.
    # Simplified: mainline reuses batch->next pages kept from an earlier flush in the same
    # gather; the model allocates a new one each time, so it forces a flush a little
    # more often (never less).
    if len(tlb.batches) >= ctx.config.tlb_max_batches:
        return True
    b = yield from ctx.kernel.alloc.alloc(ctx, GatherBatch(), S_NEXT_BATCH, may_fail=True)
    if b is None:
        return True
    tlb.batches.append(b)
    tlb.nr_active = 0
    return False


S_FLUSH_TLB = site("tlb_flush_mmu_tlbonly:flush_tlb_mm_range")


def tlb_flush_mmu_tlbonly(ctx: Ctx, tlb: MmuGather) -> KGen[None]:
    """include/asm-generic/tlb.h ``tlb_flush_mmu_tlbonly``."""
    if not (tlb.freed_tables or tlb.cleared_ptes or tlb.need_flush_all):
        return
    if tlb.fullmm or tlb.need_flush_all or tlb.start is None:
        start, end = 0, ctx.config.ptrs_per_pmd * ctx.config.ptrs_per_pte
    else:
        start, end = tlb.start, tlb.end
    tlb.reset_range()
    tlb.need_flush_all = False
    yield from flush_tlb_range(ctx, tlb.mm, start, end, S_FLUSH_TLB)


# -- tables -----------------------------------------------------------------------------------

S_TABLE_BATCH = site("tlb_remove_table:__get_free_page")
S_TABLE_ONE_RCU = site("__tlb_remove_table_one:call_rcu")
S_TABLE_ONE_SYNC = site("__tlb_remove_table_one:tlb_remove_table_sync_one")
S_TABLE_ONE_FREE = site("__tlb_remove_table_one:__tlb_remove_table")
S_TABLE_FLUSH_RCU = site("tlb_table_flush:call_rcu")
S_TABLE_RCU_FREE = site("tlb_remove_table_rcu:__tlb_remove_table")
S_TABLE_RCU_BATCH = site("tlb_remove_table_rcu:free_page")
S_ONE_RCU_FREE = site("__tlb_remove_table_one_rcu:__tlb_remove_table")
S_PTE_FREE_TLB_DTOR = site("___pte_free_tlb:pagetable_dtor")


def pte_free_tlb(ctx: Ctx, tlb: MmuGather, table, vpn: int) -> KGen[None]:
    """arch/x86/mm/pgtable.c ``___pte_free_tlb``.

    ``pte_free_tlb``: note the range and that tables were freed, then x86
    ``___pte_free_tlb``."""
    tlb.adjust_range(vpn, vpn + 1)
    tlb.freed_tables = True
    if type(table) is PteTable:
        table.life = "queued"
    mode = ctx.config.table_free
    if mode == "tlb_only":
        # <= v6.13 without PARAVIRT: pagetable_pte_dtor(); tlb_remove_page().
        yield S_PTE_FREE_TLB_DTOR
        yield from pagetable_dtor(ctx, table)
        if (yield from tlb_remove_folio(ctx, tlb, table)):
            yield from tlb_flush_mmu(ctx, tlb)
        return
    if "ptlock-free-immediate" in ctx.bugs:
        # BUG(ptlock-free-immediate): the destructor (ptlock_free) runs when the table
        # is queued, as x86's ___pte_free_tlb did before v6.14, while the page itself is
        # freed only after the grace period: a walker that mapped the table under RCU
        # then takes a lock that is already freed.
        yield S_PTE_FREE_TLB_DTOR
        yield from pagetable_dtor(ctx, table)
    yield from tlb_remove_table(ctx, tlb, table)


def pmd_free_tlb(ctx: Ctx, tlb: MmuGather, table, vpn: int) -> KGen[None]:
    """arch/x86/mm/pgtable.c ``___pmd_free_tlb``.

    ``pmd_free_tlb``: x86 ``___pmd_free_tlb`` frees PMD tables the same way."""
    yield from pte_free_tlb(ctx, tlb, table, vpn)


def tlb_remove_table(ctx: Ctx, tlb: MmuGather, table) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_remove_table``."""
    if tlb.batch is None:
        b = yield from ctx.kernel.alloc.alloc(ctx, TableBatch(), S_TABLE_BATCH, may_fail=True)
        if b is None:
            yield from tlb_flush_mmu_tlbonly(ctx, tlb)       # tlb_table_invalidate()
            yield from tlb_remove_table_one(ctx, table)
            return
        tlb.batch = b
    tlb.batch.tables.append(table)
    if len(tlb.batch.tables) >= ctx.config.table_batch:
        yield from tlb_table_flush(ctx, tlb)


def __tlb_remove_table(ctx: Ctx, table, site: Site) -> KGen[None]:
    """arch/x86/include/asm/tlb.h ``__tlb_remove_table``.

    ``pagetable_dtor_free``: dtor (ptlock_free), then the page."""
    if type(table) is PmdTable:
        yield from pmd_free(ctx, table, site)
    else:
        yield from pte_free(ctx, table, site)


def _one_rcu(ctx: Ctx, table) -> KGen[None]:
    yield from __tlb_remove_table(ctx, table, S_ONE_RCU_FREE)


def tlb_remove_table_one(ctx: Ctx, table) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_remove_table_one``.

    The single-table fallback (``__tlb_remove_table_one``)."""
    semi = ctx.config.table_free == "semi_rcu"
    # BUG(pt-reclaim-semi-rcu): with PT reclaim, x86 kept the generic semi-RCU fallback
    # (IPI, then free at once) until v4 10/11 of the series: the IPI waits for IRQ-off
    # walkers only, so an rcu_read_lock walker (pte_offset_map) reads a freed table.
    if "pt-reclaim-semi-rcu" in ctx.bugs and ctx.config.pt_reclaim:
        semi = True
    if semi:
        yield from tlb_remove_table_sync_one(ctx, S_TABLE_ONE_SYNC)
        yield from __tlb_remove_table(ctx, table, S_TABLE_ONE_FREE)
        return
    yield S_TABLE_ONE_RCU
    ctx.kernel.alloc.queue_free(ctx, table, S_TABLE_ONE_RCU)
    call_rcu_now(ctx, _one_rcu, table, site=S_TABLE_ONE_RCU)


def tlb_remove_table_rcu(ctx: Ctx, batch: TableBatch) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_remove_table_rcu``.

    The batch's RCU callback (``__tlb_remove_table_free``)."""
    for table in batch.tables:
        yield from __tlb_remove_table(ctx, table, S_TABLE_RCU_FREE)
    yield from ctx.kernel.alloc.free(ctx, batch, S_TABLE_RCU_BATCH, TableBatch)


def tlb_table_flush(ctx: Ctx, tlb: MmuGather) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_table_flush``."""
    if tlb.batch is None:
        return
    yield from tlb_flush_mmu_tlbonly(ctx, tlb)                # tlb_table_invalidate()
    batch, tlb.batch = tlb.batch, None
    yield S_TABLE_FLUSH_RCU
    for table in batch.tables:
        ctx.kernel.alloc.queue_free(ctx, table, S_TABLE_FLUSH_RCU)
    call_rcu_now(ctx, tlb_remove_table_rcu, batch, site=S_TABLE_FLUSH_RCU)


# -- flushing and finishing ----------------------------------------------------------------

S_FREE_PAGES = site("tlb_batch_pages_flush:free_pages_and_swap_cache")
S_FREE_TABLE_PAGE = site("tlb_batch_pages_flush:free_table_page")
S_FREE_BATCH = site("tlb_batch_list_free:free_pages")
S_FINISH = site("tlb_finish_mmu:mm_tlb_flush_nested")
S_FINISH_DEC = site("tlb_finish_mmu:dec_tlb_flush_pending")


def tlb_batch_pages_flush(ctx: Ctx, tlb: MmuGather) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_batch_pages_flush``."""
    pages, tlb.pages = tlb.pages, []
    tlb.nr_active = 0
    for p in pages:
        if type(p) is PteTable or type(p) is PmdTable:
            if type(p) is PteTable:
                p.life = "freed"
            yield from ctx.kernel.alloc.free(ctx, p, S_FREE_TABLE_PAGE, type(p))
        else:
            yield from free_swap_cache(ctx, p)      # free_pages_and_swap_cache()
            yield S_FREE_PAGES
            folio_put_now(ctx, p, S_FREE_PAGES)


def tlb_flush_mmu(ctx: Ctx, tlb: MmuGather) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_flush_mmu``."""
    yield from tlb_flush_mmu_tlbonly(ctx, tlb)
    yield from tlb_table_flush(ctx, tlb)                      # tlb_flush_mmu_free()
    yield from tlb_batch_pages_flush(ctx, tlb)


def tlb_finish_mmu(ctx: Ctx, tlb: MmuGather) -> KGen[None]:
    """mm/mmu_gather.c ``tlb_finish_mmu``."""
    yield S_FINISH
    ctx.access(tlb.mm, S_FINISH, False)
    if tlb.mm.tlb_flush_pending > 1:
        # Another thread is changing this mm's ptes concurrently: flush everything.
        tlb.fullmm = True
        tlb.reset_range()
        tlb.freed_tables = True
    yield from tlb_flush_mmu(ctx, tlb)
    for b in tlb.batches:
        yield from ctx.kernel.alloc.free(ctx, b, S_FREE_BATCH, GatherBatch)
    tlb.batches = []
    yield S_FINISH_DEC
    ctx.access(tlb.mm, S_FINISH_DEC, True)
    tlb.mm.tlb_flush_pending -= 1
