"""IRQ-off sections and IPIs.

An IPI reaches a CPU only while that CPU has IRQs enabled: at once if they are enabled
when it is sent, otherwise when the CPU next enables them (its handler then runs first).
The sender waits until every target has run the handler. So an IRQ-off section (GUP-fast)
holds back a TLB-flush IPI or ``tlb_remove_table_sync_one``, while an ``rcu_read_lock``
section with IRQs on does not: exactly the distinction PT reclaim's RCU freeing is about.
CPUs whose thread has finished are idle with IRQs on.

Handlers are plain functions ``handler(target_ctx)`` run atomically on the target (a TLB
flush changes only that CPU's state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import KernelReport, Report, Wait, WaitQueue

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx, Kernel

__all__ = ["Smp", "local_irq_disable", "local_irq_enable", "smp_call_function",
           "tlb_remove_table_sync_one"]


class _Call:
    __slots__ = ("handler", "remaining", "site", "sender")

    def __init__(self, handler, site: Site, sender) -> None:
        self.handler = handler
        self.remaining = 0
        self.site = site
        self.sender = sender


class Smp:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.wq = WaitQueue("ipi_done")

    def deliver_pending(self, ctx: Ctx) -> None:
        """Run the handlers of IPIs that waited for ``ctx`` to enable IRQs."""
        pending, ctx.ipi_pending = ctx.ipi_pending, []
        for call in pending:
            call.handler(ctx)
            call.remaining -= 1
        if pending:
            self.wq.wake_all()


def local_irq_disable(ctx: Ctx, site: Site) -> KGen[None]:
    """``local_irq_disable`` / ``local_irq_save`` (nesting like save/restore)."""
    yield site
    ctx.irq_disabled += 1


def local_irq_enable(ctx: Ctx, site: Site) -> KGen[None]:
    """``local_irq_enable`` / ``local_irq_restore``: pending IPIs are taken here."""
    yield site
    ctx.irq_disabled -= 1
    if ctx.irq_disabled == 0:
        if ctx.ipi_pending:
            ctx.kernel.smp.deliver_pending(ctx)
        ctx.quiesce_check()


def smp_call_function(ctx: Ctx, handler, site: Site, wait: bool = True,
                      include_self: bool = False) -> KGen[None]:
    """``smp_call_function_many_cond``: run ``handler`` on every other CPU (and, with
    ``include_self``, on this one at once, as ``on_each_cpu`` does) and, with ``wait``,
    wait until all have run it."""
    yield site
    if include_self:
        handler(ctx)
    if ctx.irq_disabled:
        r = Report("WARNING in smp_call_function_many_cond", "irq")
        r.add("reason", "cross-CPU call with IRQs disabled can deadlock against the target")
        raise KernelReport(r)
    smp = ctx.kernel.smp
    call = _Call(handler, site, ctx.name)
    for other in ctx.kernel.cpus:
        if other is ctx:
            continue
        if other.irq_disabled:
            other.ipi_pending.append(call)
            call.remaining += 1
        else:
            handler(other)
    if wait:
        while call.remaining:
            yield Wait(smp.wq, site)


def _noop(ctx: Ctx) -> None:
    pass


def tlb_remove_table_sync_one(ctx: Ctx, site: Site) -> KGen[None]:
    """mm/mmu_gather.c: an IPI to every CPU that waits until each has had IRQs enabled
    after the call. It does not wait for ``rcu_read_lock`` sections.

    Without ``CONFIG_MMU_GATHER_RCU_TABLE_FREE`` (``table_free=tlb_only``) it is the
    empty inline of include/asm-generic/tlb.h: there the TLB flush's own IPI is what
    waits for IRQ-off walkers (and ``tlb_flush=broadcast`` is refused with it)."""
    if ctx.config.table_free == "tlb_only":
        return
    yield from smp_call_function(ctx, _noop, site, wait=True)
