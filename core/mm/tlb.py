"""TLB flushing: ranged, whole-mm, and the batched flush of ``try_to_unmap``.

Kernel files: arch/x86/mm/tlb.c (``flush_tlb_mm_range``, ``flush_tlb_multi``,
``arch_tlbbatch_flush``), mm/rmap.c (``set_tlb_ubc_flush_pending``,
``try_to_unmap_flush``, ``flush_tlb_batched_pending``), mm/pgtable-generic.c
(``ptep_clear_flush``, ``pmdp_collapse_flush``).

With ``tlb_flush=ipi`` (x86 without INVLPGB) a flush is an IPI: this CPU flushes at
once, every other CPU when it takes the IPI (only with IRQs enabled), and the flusher
waits for all, so an IRQ-off walker (GUP-fast) holds the flush back. With
``tlb_flush=broadcast`` (arm64's ``TLBI ...IS`` + ``DSB ISH``, x86's INVLPGB + TLBSYNC
since v6.15) the hardware invalidates every CPU's TLB within the flusher's step, with no
interrupt: nobody waits for an IRQ-off walker, which is why collapse_huge_page sends
``tlb_remove_table_sync_one`` and why those architectures free page tables by RCU.

Simplified: the IPI goes to every CPU (a superset of ``mm_cpumask``); x86 broadcasts only
for an mm with a global ASID (one active on several CPUs) and IPIs otherwise, the model
broadcasts every flush of the run; ranged flushes always drop the paging-structure cache
entries of the range too (INVLPG does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import READ_ONCE, cmpxchg, smp_call_function
from ..sim import site
from .pgtable import pmdp_huge_get_and_clear, ptep_get_and_clear
from .world import tlb_of

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen, Site
    from .pgtable import PmdPtr
    from .types import Mm, Vma

__all__ = ["flush_tlb_range", "flush_tlb_mm", "ptep_clear_flush", "pmdp_collapse_flush",
           "set_tlb_ubc_flush_pending", "try_to_unmap_flush", "flush_tlb_batched_pending"]


def _flush_on_each_cpu(ctx: Ctx, handler, site: Site) -> KGen[None]:
    """Model only: model machinery, mirrors no kernel function (how a flush reaches the
    CPUs: ``native_flush_tlb_multi``'s IPIs, or a hardware broadcast, by ``tlb_flush``)."""
    if ctx.config.tlb_flush == "broadcast":
        yield site
        handler(ctx)
        for other in ctx.kernel.cpus:
            if other is not ctx:
                handler(other)
        return
    yield from smp_call_function(ctx, handler, site, wait=True, include_self=True)


def flush_tlb_range(ctx: Ctx, mm: Mm, start: int, end: int, site: Site) -> KGen[None]:
    """arch/x86/mm/tlb.c ``flush_tlb_mm_range``.

    ``flush_tlb_mm_range(mm, start, end, ...)``: flush [start, end) on every CPU."""
    ppte = ctx.config.ptrs_per_pte

    def handler(c) -> None:
        tlb_of(c).flush_range(mm, start, end, ppte)

    yield from _flush_on_each_cpu(ctx, handler, site)


def flush_tlb_mm(ctx: Ctx, mm: Mm, site: Site) -> KGen[None]:
    """Model only: x86 flush_tlb_mm is a macro, not a function: extract_function reads
    function definitions only (flush_tlb_mm_range, anchored)."""
    def handler(c) -> None:
        tlb_of(c).flush_mm(mm)

    yield from _flush_on_each_cpu(ctx, handler, site)


def ptep_clear_flush(ctx: Ctx, vma: Vma, table, i, vpn: int, site_clear: Site,
                     site_flush: Site) -> KGen[Any]:
    """mm/pgtable-generic.c ``ptep_clear_flush``.

    Clear a pte and flush its translation everywhere; returns the old pte."""
    old = yield from ptep_get_and_clear(ctx, table, i, site_clear)
    yield from flush_tlb_range(ctx, vma.mm, vpn, vpn + 1, site_flush)
    return old


def pmdp_collapse_flush(ctx: Ctx, vma: Vma, haddr: int, pmdp: PmdPtr, site_clear: Site,
                        site_flush: Site) -> KGen[Any]:
    """mm/pgtable-generic.c ``pmdp_collapse_flush``.

    mm/pgtable-generic.c: clear the pmd atomically, then flush the PMD range (a
    synchronous IPI, while the caller holds pml and ptl)."""
    old = yield from pmdp_huge_get_and_clear(ctx, pmdp, site_clear)
    yield from flush_tlb_range(ctx, vma.mm, haddr, haddr + ctx.config.ptrs_per_pte, site_flush)
    return old


# -- batched flushes of try_to_unmap (mm/rmap.c) --------------------------------------------

def set_tlb_ubc_flush_pending(ctx: Ctx, mm: Mm) -> None:
    """mm/rmap.c ``set_tlb_ubc_flush_pending`` (v6.12-v6.18; the stored body under
    core/upstream): defer the flush of an unmapped pte: note the mm in this CPU's batch
    and count one more pending flush in ``mm->tlb_flush_batched``, so that a later
    PTE-lock holder (``flush_tlb_batched_pending``) flushes first. The mm word holds
    ``(pending, flushed)``; ``atomic_inc`` raises ``pending``.

    Simplified: done in the caller's step (the ``atomic_read`` that only guards the
    counter's overflow reset and the ``atomic_inc`` are one step; the overflow reset at
    TLB_FLUSH_BATCH_PENDING_LARGE never happens in a run this short); the caller only
    defers present (``pte_accessible``) ptes."""
    ctx.data.setdefault("tlb_ubc", []).append(mm)
    ctx.note(mm, True)
    pending, flushed = mm.tlb_flush_batched
    mm.tlb_flush_batched = (pending + 1, flushed)


S_UBC_FLUSH = site("try_to_unmap_flush:flush_tlb_multi")


def try_to_unmap_flush(ctx: Ctx) -> KGen[None]:
    """mm/rmap.c ``try_to_unmap_flush``.

    Flush everything this CPU deferred (``arch_tlbbatch_flush``)."""
    pending = ctx.data.pop("tlb_ubc", [])
    if not pending:
        return
    mms = list(dict.fromkeys(pending))

    def handler(c) -> None:
        t = tlb_of(c)
        for mm in mms:
            t.flush_mm(mm)

    yield from _flush_on_each_cpu(ctx, handler, S_UBC_FLUSH)


S_BATCHED_READ = site("flush_tlb_batched_pending:atomic_read")
S_BATCHED_FLUSH = site("flush_tlb_batched_pending:flush_tlb_mm")
S_BATCHED_DONE = site("flush_tlb_batched_pending:atomic_cmpxchg")


def flush_tlb_batched_pending(ctx: Ctx, mm: Mm) -> KGen[None]:
    """mm/rmap.c ``flush_tlb_batched_pending`` (v6.12-v6.18): called under a PTE lock
    before changing ptes. If a reclaimer deferred flushes for this mm that nobody has done
    (``pending != flushed``), flush the whole mm first (``arch_flush_tlb_batched_pending``
    = ``flush_tlb_mm`` on x86), and only then mark them done, with a ``cmpxchg`` that
    fails (leaving the flush pending for the next PTE-lock holder) if another flush was
    deferred meanwhile."""
    batch = yield from READ_ONCE(ctx, mm, "tlb_flush_batched", S_BATCHED_READ)
    pending, flushed = batch
    if pending != flushed:
        yield from flush_tlb_mm(ctx, mm, S_BATCHED_FLUSH)
        yield from cmpxchg(ctx, mm, "tlb_flush_batched", batch, (pending, pending),
                           S_BATCHED_DONE)
