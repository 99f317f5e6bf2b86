"""User loads and stores: the TLB, the hardware page walk, and the page-fault entry.

A user access is one step: look the translation up in this CPU's TLB; on a miss (or a
store through a clean or read-only entry) walk the page tables in the same atomic step
(start from the paging-structure cache if it holds the table, else read the pmd), set
the accessed and dirty bits, fill the TLB and do the access. If the walk finds nothing
usable, take the page fault (arch/x86/mm/fault.c ``do_user_addr_fault`` ->
``lock_mm_and_find_vma`` -> ``handle_mm_fault``) and try again.

Accesses through a TLB or paging-structure-cache entry are reported to the checkers as
such (``ctx.cached_access``): KASAN calls one to a freed folio or table a "use-after-free
via stale TLB" (a flush that should have come before the free did not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_read, up_read
from ..sim import site, spin_site
from .memory import VM_FAULT_OK, VM_FAULT_RETRY, handle_mm_fault
from .mmap_lock import lock_vma_under_rcu, vma_end_read
from .types import HugePmd, Pte, PteTable
from .world import tlb_of

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Mm
    from .world import Tlb

__all__ = ["user_read", "user_write", "do_user_addr_fault", "SEGV"]

SEGV = "segv"


def _walk(ctx: Ctx, mm: Mm, vpn: int, write: bool, tlb: Tlb, site_):
    """The hardware walk: (folio, page, writable, dirty) or None (fault)."""
    n = ctx.config.ptrs_per_pte
    pmdi, i = divmod(vpn, n)
    table = tlb.psc.get((mm.oid, pmdi))
    if table is not None:
        ctx.cached_access(table, site_, False, "paging-structure cache")
    if table is None:
        pmdt = mm.pud
        if pmdt is None:
            return None
        ctx.access(pmdt, site_, False)
        v = pmdt.slots[pmdi]
        if type(v) is HugePmd:
            if write and not v.write:
                return None
            return v.folio, i, v.write, v.write
        if type(v) is not PteTable:
            return None
        table = v
    ctx.access(table, site_, False)
    pte = table.slots[i]
    if type(pte) is not Pte or (write and not pte.write):
        tlb.psc[(mm.oid, pmdi)] = table
        return None
    if not pte.young or (write and not pte.dirty):
        ctx.access(table, site_, True)
        pte = Pte(pte.folio, pte.page, pte.write, pte.dirty or write, True, pte.special,
                  pte.uffd_wp)
        table.slots[i] = pte
    tlb.psc[(mm.oid, pmdi)] = table
    return pte.folio, pte.page, pte.write, pte.dirty


def _try_access(ctx: Ctx, mm: Mm, vpn: int, write: bool, value, site_):
    """One atomic user access. Returns (done, value read)."""
    tlb = tlb_of(ctx)
    key = (mm.oid, vpn)
    e = tlb.entries.get(key)
    cached = e is not None and (not write or (e[2] and e[3]))
    if cached:
        folio, page = e[0], e[1]
        ctx.cached_access(folio, site_, write, "TLB")
    else:
        e = _walk(ctx, mm, vpn, write, tlb, site_)
        if e is None:
            # A page fault invalidates the faulting address's TLB and paging-structure
            # cache entries (Intel SDM 4.10.4.1), so a stale, more restrictive entry
            # cannot make the access fault forever.
            tlb.entries.pop(key, None)
            tlb.psc.pop((mm.oid, vpn // ctx.config.ptrs_per_pte), None)
            return False, None
        tlb.entries[key] = e
        folio, page = e[0], e[1]
        ctx.access(folio, site_, write)
    if write:
        folio.data[page] = value
        got = value
    else:
        got = folio.data[page]
    ctx.event("user_access", mm, vpn, folio, page, write, got, cached)
    return True, got


S_FAULT_LOCK = site("lock_mm_and_find_vma:mmap_read_lock")
S_FAULT_FIND = site("lock_mm_and_find_vma:find_vma")
S_FAULT_UNLOCK = site("do_user_addr_fault:mmap_read_unlock")
S_FAULT_BAD = site("bad_area:mmap_read_unlock")


S_VMA_FAULT_BAD = site("do_user_addr_fault:vma_end_read_bad_area")
S_VMA_FAULT_DONE = site("do_user_addr_fault:vma_end_read")


def do_user_addr_fault(ctx: Ctx, mm: Mm, vpn: int, write: bool) -> KGen[Any]:
    """arch/x86/mm/fault.c ``do_user_addr_fault``.

    The page-fault handler: first under the VMA's read lock (``lock_vma_under_rcu``);
    if there is none to be had, or the fault asks for a retry, find the VMA under the mmap
    read lock and fault again."""
    vma = yield from lock_vma_under_rcu(ctx, mm, vpn)
    if vma is not None:
        if write and not vma.writable:
            yield from vma_end_read(ctx, vma, S_VMA_FAULT_BAD)
            return SEGV
        ret = yield from handle_mm_fault(ctx, vma, vpn, write, vma_locked=True)
        if ret != VM_FAULT_RETRY:
            yield from vma_end_read(ctx, vma, S_VMA_FAULT_DONE)
            return ret
    yield from down_read(ctx, mm.mmap_lock, S_FAULT_LOCK)
    yield S_FAULT_FIND
    ctx.access(mm, S_FAULT_FIND, False)
    vma = mm.find_vma(vpn)
    if vma is None or (write and not vma.writable):
        yield from up_read(ctx, mm.mmap_lock, S_FAULT_BAD)
        return SEGV
    ret = yield from handle_mm_fault(ctx, vma, vpn, write)
    yield from up_read(ctx, mm.mmap_lock, S_FAULT_UNLOCK)
    return ret


S_READ = site("user_read:load")
# After a fault the access is retried: at once if the fault changed something (it mapped
# the page: the CPU's own stores count), else, when it returned without mapping (the pmd
# or pte changed under it), after another CPU has stepped (a retry loop).
S_READ_RETRY = spin_site("user_read:retry_after_fault", own_progress=True)
S_WRITE = site("user_write:store")
S_WRITE_RETRY = spin_site("user_write:retry_after_fault", own_progress=True)


def _access(ctx: Ctx, mm: Mm, vpn: int, write: bool, value, s_access, s_retry) -> KGen[Any]:
    while True:
        yield s_access
        done, got = _try_access(ctx, mm, vpn, write, value, s_access)
        if done:
            return got
        ret = yield from do_user_addr_fault(ctx, mm, vpn, write)
        if ret != VM_FAULT_OK and ret not in ("nopage", "retry"):
            return ret
        yield s_retry


def user_read(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """A user load: the value, or ``"segv"``/``"sigbus"``/``"oom"``."""
    return (yield from _access(ctx, mm, vpn, False, None, S_READ, S_READ_RETRY))


def user_write(ctx: Ctx, mm: Mm, vpn: int, value) -> KGen[Any]:
    """Model only: model machinery, mirrors no kernel function (a user store through the
    TLB)."""
    return (yield from _access(ctx, mm, vpn, True, value, S_WRITE, S_WRITE_RETRY))
