"""Page-table primitives: entry accessors, table allocation and freeing, split page-table
locks, the ``pte_offset_map`` family and ``pte_free_defer``.

Kernel files: mm/pgtable-generic.c (``__pte_offset_map``, ``pte_offset_map_ro_nolock``,
``pte_offset_map_rw_nolock``, ``__pte_offset_map_lock``, ``pte_free_defer``,
``pmdp_collapse_flush``, ``pmd_clear_bad``), include/linux/mm.h (``pte_lockptr``,
``pmd_lockptr``, ``ptlock_init``/``ptlock_free``, ``pagetable_dtor``), mm/memory.c
(``ptlock_alloc``), include/asm-generic/pgalloc.h (``pte_alloc_one``, ``pte_free``).

A pmd pointer is a :class:`PmdPtr` (the PMD table and an index) or a :class:`StackPmd`
(a copy on the stack, as GUP-fast and ``collapse_huge_page`` map through: reading it is
not a shared access). A pte pointer is a table and an index. Simplified: no HIGHPTE
kmap; ``pmdp_get_lockless`` is one atomic read (x86-64).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import KObject, Spinlock, rcu_read_lock, rcu_read_unlock, spin_lock, spin_unlock
from ..kernel.rcu import call_rcu_now
from ..sim import KernelReport, Report, site, spin_site
from .types import (PMD_BAD, PTLOCK_CLASS, HugePmd, PmdTable, PteTable, Ptlock,
                    pmd_same)

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen, Site
    from .types import Mm

__all__ = [
    "PmdPtr", "StackPmd", "pmd_index", "pte_index", "pmdp_get_lockless", "pmd_populate",
    "pmd_clear", "pmdp_huge_get_and_clear", "ptep_get", "set_pte", "ptep_get_and_clear",
    "pte_lockptr", "pmd_lockptr", "pmd_lock", "pte_alloc_one", "pte_free", "pagetable_dtor",
    "pmd_alloc_one", "__pte_offset_map", "pte_offset_map", "pte_offset_map_ro_nolock",
    "pte_offset_map_rw_nolock", "__pte_offset_map_lock", "pte_unmap", "pte_unmap_unlock",
    "pte_free_defer", "pte_free_now", "pmd_pgtable", "PFN0_PAGE", "pmd_kind", "pmd_free",
    "pud_pmd_table", "pmd_offset",
]


class PmdPtr:
    """``pmd_t *``: entry ``idx`` of PMD table ``table``."""

    __slots__ = ("table", "idx")

    def __init__(self, table: PmdTable, idx: int) -> None:
        self.table = table
        self.idx = idx

    def __repr__(self) -> str:
        return f"<pmd {self.idx} of pmd table #{self.table.oid}>"


class StackPmd:
    """A pmd value copied to the stack (``pmd_t _pmd``), mapped through ``&_pmd``."""

    __slots__ = ("value", "idx")

    def __init__(self, value, idx: int) -> None:
        self.value = value
        self.idx = idx


class _Pfn0Page(KObject):
    """``pmd_pgtable()`` of a pmd that is not a table: the struct page of pfn 0."""

    __slots__ = ()
    kind = "page (pfn 0)"
    slab = False
    ptlock = None           # not a page table: no split lock to free


PFN0_PAGE = _Pfn0Page()


def pud_pmd_table(mm: Mm) -> PmdTable | None:
    """``pud_offset()`` + ``pud_none_or_clear_bad()`` on the folded PGD/P4D/PUD entry:
    the PMD table the pud points to, or None (``pud_none``). A walk reads it once and
    then indexes that table (``pmd_offset(pud, addr)``, ``pmd++``), so a walker whose
    PMD table is freed under it touches freed memory, as in the kernel, instead of
    picking up whatever the pud holds now.

    Simplified: not a scheduling point of its own. The pud changes only when the PMD
    table is allocated (once) or freed (exit, or munmap of everything the table
    covers), and the load merges into the walk's previous step; the table accesses that
    follow are scheduling points and shadow-checked."""
    return mm.pud


def pmd_offset(ctx: Ctx, mm: Mm, vpn: int, site: Site) -> PmdPtr:
    """include/linux/pgtable.h ``pmd_offset(pud, addr)`` where the caller has checked
    the pud (or just populated it): if the pud is none again, the kernel computes a
    pointer into pfn 0's page from the empty entry, so the model reports the oops rather
    than pretending the walk found nothing."""
    pmdt = mm.pud
    if pmdt is None:
        r = Report("general protection fault in pmd_offset", "oops")
        r.add("pud", f"the pud of {mm.name} is none: its PMD table was freed under the walk")
        r.add("called from", site.name)
        raise KernelReport(r)
    return PmdPtr(pmdt, vpn // ctx.config.ptrs_per_pte)


def pmd_index(ctx: Ctx, vpn: int) -> int:
    """include/linux/pgtable.h ``pmd_index``."""
    return vpn // ctx.config.ptrs_per_pte


def pte_index(ctx: Ctx, vpn: int) -> int:
    """include/linux/pgtable.h ``pte_index``."""
    return vpn % ctx.config.ptrs_per_pte


def pmd_kind(v) -> str:
    """Model only: model machinery, mirrors no kernel function (classifies a pmd value)."""
    if v is None:
        return "none"
    if type(v) is PteTable:
        return "table"
    if type(v) is HugePmd:
        return "huge"
    return v.name


def pmd_pgtable(v):
    """``pmd_pgtable()``: the table a pmd value points to (pfn 0's page if it is none)."""
    return v if type(v) is PteTable else PFN0_PAGE


# -- entry accessors (each one scheduling point and one shadow-checked access) ----------

def pmdp_get_lockless(ctx: Ctx, pmdp: PmdPtr | StackPmd, site: Site) -> KGen[Any]:
    """include/linux/pgtable.h ``pmdp_get_lockless``."""
    if isinstance(pmdp, StackPmd):
        return pmdp.value
    yield site
    t = pmdp.table
    ctx.access(t, site, False)
    return t.slots[pmdp.idx]


def pmd_populate(ctx: Ctx, pmdp: PmdPtr, table: PteTable, site: Site) -> KGen[None]:
    """arch/x86/include/asm/pgalloc.h ``pmd_populate``.

    Install ``table``. Given ``pmd_pgtable()`` of a pmd that was not a table, the
    kernel installs pfn 0's page as a page table; the model has no such table and
    writes ``PMD_BAD`` instead, so the next walker of that pmd reports it."""
    yield site
    t = pmdp.table
    ctx.access(t, site, True)
    if type(table) is not PteTable:
        t.slots[pmdp.idx] = PMD_BAD
        return
    t.slots[pmdp.idx] = table
    table.life = "installed"
    table.where = pmdp.idx


def _detached(old) -> None:
    if type(old) is PteTable:
        old.life = "detached"
        old.where = None


def pmd_clear(ctx: Ctx, pmdp: PmdPtr, site: Site) -> KGen[None]:
    """Model only: x86 pmd_clear is a macro, not a function: extract_function reads function
    definitions only (paravirt, native_pmd_clear)."""
    yield site
    t = pmdp.table
    ctx.access(t, site, True)
    old = t.slots[pmdp.idx]
    t.slots[pmdp.idx] = None
    _detached(old)


def pmdp_huge_get_and_clear(ctx: Ctx, pmdp: PmdPtr, site: Site) -> KGen[Any]:
    """arch/x86/include/asm/pgtable.h ``pmdp_huge_get_and_clear``.

    An atomic exchange with none; returns the old value."""
    yield site
    t = pmdp.table
    ctx.access(t, site, True)
    old = t.slots[pmdp.idx]
    t.slots[pmdp.idx] = None
    _detached(old)
    return old


def ptep_get(ctx: Ctx, table: PteTable, i: int, site: Site) -> KGen[Any]:
    """include/linux/pgtable.h ``ptep_get``.

    ``ptep_get`` / ``ptep_get_lockless``."""
    yield site
    ctx.access(table, site, False)
    return table.slots[i]


def set_pte(ctx: Ctx, table: PteTable, i: int, value, site: Site) -> KGen[None]:
    """``set_pte_at`` / ``set_ptes`` (one entry) / ``pte_clear``."""
    yield site
    ctx.access(table, site, True)
    table.slots[i] = value


def ptep_get_and_clear(ctx: Ctx, table: PteTable, i: int, site: Site) -> KGen[Any]:
    """arch/x86/include/asm/pgtable.h ``ptep_get_and_clear``."""
    yield site
    ctx.access(table, site, True)
    old = table.slots[i]
    table.slots[i] = None
    return old


# -- locks -------------------------------------------------------------------------------

def pte_lockptr(ctx: Ctx, mm: Mm, pmdval, site: Site | None=None) -> Spinlock:
    """include/linux/mm.h ``pte_lockptr(mm, &pmdval)``: the lock of the table the value
    points to. Without split locks it is ``mm->page_table_lock``. Deriving a lock from a
    value that is not a table: with ALLOC_SPLIT_PTLOCKS the kernel follows a wild
    ``ptdesc->ptl`` pointer (an oops); with the lock embedded in the ptdesc it locks a
    spinlock inside pfn 0's (or a huge page's) struct page, silent corruption. The model
    reports "general protection fault" in both cases: the mistake is the same, and a
    silent spinlock in a random struct page would leave no trace to report."""
    if not ctx.config.split_ptlocks:
        return mm.page_table_lock
    if type(pmdval) is not PteTable:
        r = Report("general protection fault in pte_lockptr", "oops")
        r.add("pmd", f"{pmd_kind(pmdval)} value has no page table behind it")
        if site is not None:
            r.add("called from", site.name)
        raise KernelReport(r)
    return pmdval.ptl


def pmd_lockptr(ctx: Ctx, mm: Mm, pmdp: PmdPtr) -> Spinlock:
    """include/linux/mm.h ``pmd_lockptr``.

    The split lock of the PMD table holding the entry, or ``page_table_lock``."""
    if not ctx.config.split_ptlocks or type(pmdp) is StackPmd:
        return mm.page_table_lock
    return pmdp.table.ptl


def pmd_lock(ctx: Ctx, mm: Mm, pmdp: PmdPtr, site: Site) -> KGen[Any]:
    """include/linux/mm.h ``pmd_lock``.

    ``pmd_lock()``: take and return the pmd's lock."""
    pml = pmd_lockptr(ctx, mm, pmdp)
    yield from spin_lock(ctx, pml, site)
    return pml


# -- allocation and freeing of tables ------------------------------------------------------

def _ptlock_init(ctx: Ctx, table, site_ptlock: Site) -> KGen[Any]:
    """``ptlock_init``: allocate the lock if it does not fit in the ptdesc, then init it."""
    cfg = ctx.config
    mm = table.mm
    if not cfg.split_ptlocks:
        table.ptl = mm.page_table_lock
        return True
    name = f"ptl of {table.kind} #{table.oid}"
    if cfg.alloc_split_ptlocks:
        lk = yield from ctx.kernel.alloc.alloc(ctx, Ptlock(name), site_ptlock)
        lk.table = table
        table.ptlock = lk
        table.ptl = lk.spin
    else:
        table.ptl = Spinlock(name, PTLOCK_CLASS, table)
    return True


def pte_alloc_one(ctx: Ctx, mm: Mm, site_page: Site, site_ptlock: Site) -> KGen[Any]:
    """arch/x86/mm/pgtable.c ``pte_alloc_one``; include/asm-generic/pgalloc.h
    ``__pte_alloc_one_noprof``.

    ``pte_alloc_one``: a zeroed table page plus its ptlock (``pagetable_pte_ctor``)."""
    table = yield from ctx.kernel.alloc.alloc(ctx, PteTable(ctx.config.ptrs_per_pte, mm),
                                              site_page)
    yield from _ptlock_init(ctx, table, site_ptlock)
    return table


def pmd_alloc_one(ctx: Ctx, mm: Mm, site_page: Site, site_ptlock: Site) -> KGen[Any]:
    """include/asm-generic/pgalloc.h ``pmd_alloc_one_noprof``."""
    table = yield from ctx.kernel.alloc.alloc(ctx, PmdTable(ctx.config.ptrs_per_pmd, mm),
                                              site_page)
    yield from _ptlock_init(ctx, table, site_ptlock)
    return table


S_PTLOCK_FREE = site("ptlock_free:kmem_cache_free")


def pagetable_dtor(ctx: Ctx, table) -> KGen[None]:
    """include/linux/mm.h ``pagetable_pte_dtor``.

    ``pagetable_dtor``: ``ptlock_free`` (a kmem_cache free when the lock was allocated).
    pfn 0's page (``pmd_pgtable()`` of a none pmd, under a bug switch) has no ptlock: the
    free that follows reports it."""
    if table.ptlock is not None:
        lk, table.ptlock = table.ptlock, None
        yield from ctx.kernel.alloc.free(ctx, lk, S_PTLOCK_FREE, Ptlock)


def pte_free(ctx: Ctx, table, site: Site) -> KGen[None]:
    """include/asm-generic/pgalloc.h ``pte_free``.

    ``pte_free`` = ``pagetable_dtor_free``: destructor, then the page."""
    yield from pagetable_dtor(ctx, table)
    if type(table) is PteTable:
        table.life = "freed"
    yield from ctx.kernel.alloc.free(ctx, table, site, PteTable)


def pmd_free(ctx: Ctx, table, site: Site) -> KGen[None]:
    """include/asm-generic/pgalloc.h ``pmd_free``."""
    yield from pagetable_dtor(ctx, table)
    yield from ctx.kernel.alloc.free(ctx, table, site, PmdTable)


# -- pte_offset_map and friends ----------------------------------------------------------------

S_MAP_RCU = site("__pte_offset_map:rcu_read_lock")
S_MAP_PMD = site("__pte_offset_map:pmdp_get_lockless")
S_MAP_NOMAP = site("__pte_offset_map:rcu_read_unlock")


def __pte_offset_map(ctx: Ctx, pmdp: PmdPtr | StackPmd, vpn: int) -> KGen[Any]:
    """mm/pgtable-generic.c ``___pte_offset_map``: enter RCU, read the pmd once, and map the
    table the *value* points to. Returns ``(table, index, pmdval)``; table is None (and
    the RCU section left) if the pmd is none, migration, huge or bad (a bad pmd is
    cleared, without a lock, as ``pmd_clear_bad`` does)."""
    yield from rcu_read_lock(ctx, S_MAP_RCU)
    pmdval = yield from pmdp_get_lockless(ctx, pmdp, S_MAP_PMD)
    if type(pmdval) is PteTable:
        return pmdval, pte_index(ctx, vpn), pmdval
    if pmdval is PMD_BAD:
        # pmd_clear_bad(): pmd_ERROR() prints "bad pmd", then the entry is cleared
        # without a lock. Nothing in the fixed model writes a bad pmd.
        r = Report("BUG: Bad pmd in __pte_offset_map", "bad-pmd")
        r.add("pmd", f"pmd {pmdp.idx} is bad")
        raise KernelReport(r)
    yield from rcu_read_unlock(ctx, S_MAP_NOMAP)
    return None, 0, pmdval


def pte_offset_map(ctx: Ctx, pmdp: PmdPtr | StackPmd, vpn: int) -> KGen[Any]:
    """include/linux/mm.h ``pte_offset_map``.

    ``pte_offset_map``: map without a lock (read-only use, may be stale)."""
    table, i, _ = yield from __pte_offset_map(ctx, pmdp, vpn)
    return table, i


def pte_offset_map_ro_nolock(ctx: Ctx, mm: Mm, pmdp: PmdPtr, vpn: int) -> KGen[Any]:
    """mm/pgtable-generic.c ``pte_offset_map_ro_nolock``.

    Map and return the lock the caller may take; it must not modify the table."""
    table, i, pmdval = yield from __pte_offset_map(ctx, pmdp, vpn)
    ptl = pte_lockptr(ctx, mm, pmdval) if table is not None else None
    return table, i, ptl


def pte_offset_map_rw_nolock(ctx: Ctx, mm: Mm, pmdp: PmdPtr, vpn: int) -> KGen[Any]:
    """mm/pgtable-generic.c ``pte_offset_map_rw_nolock``.

    Map and return ``(table, index, pmdval, ptl)``. After taking ``ptl`` the caller
    must prove the table is still attached (``pmd_same`` with ``pmdval``, or ``pte_same``
    on a non-none entry) before writing."""
    table, i, pmdval = yield from __pte_offset_map(ctx, pmdp, vpn)
    ptl = pte_lockptr(ctx, mm, pmdval) if table is not None else None
    return table, i, pmdval, ptl


S_LOCK_PTL = site("__pte_offset_map_lock:spin_lock")
S_LOCK_RECHECK = site("__pte_offset_map_lock:pmd_same_recheck")
S_LOCK_RETRY_UNLOCK = site("__pte_offset_map_lock:recheck_failed_unlock")
S_LOCK_RETRY_UNMAP = site("__pte_offset_map_lock:recheck_failed_unmap")
S_LOCK_AGAIN = spin_site("__pte_offset_map_lock:again")


def __pte_offset_map_lock(ctx: Ctx, mm: Mm, pmdp: PmdPtr | StackPmd, vpn: int) -> KGen[Any]:
    """mm/pgtable-generic.c ``__pte_offset_map_lock``: map, lock the table's ptl, then
    recheck that the pmd still points to the same table (retrying if not). On success the
    table stays attached while ptl is held. Returns ``(table, index, ptl)`` or
    ``(None, 0, None)``."""
    while True:
        table, i, pmdval = yield from __pte_offset_map(ctx, pmdp, vpn)
        if table is None:
            return None, 0, None
        ptl = pte_lockptr(ctx, mm, pmdval)
        yield from spin_lock(ctx, ptl, S_LOCK_PTL)
        # BUG(pte-map-lock-no-pmd-same): return the table without rechecking the pmd.
        if "pte-map-lock-no-pmd-same" in ctx.bugs:
            return table, i, ptl
        cur = yield from pmdp_get_lockless(ctx, pmdp, S_LOCK_RECHECK)
        if pmd_same(pmdval, cur):
            return table, i, ptl
        yield from spin_unlock(ctx, ptl, S_LOCK_RETRY_UNLOCK)
        yield from rcu_read_unlock(ctx, S_LOCK_RETRY_UNMAP)
        yield S_LOCK_AGAIN


def pte_unmap(ctx: Ctx, site: Site) -> KGen[None]:
    """include/linux/pgtable.h ``pte_unmap``.

    ``pte_unmap``: leave the RCU section ``pte_offset_map`` entered."""
    yield from rcu_read_unlock(ctx, site)


def pte_unmap_unlock(ctx: Ctx, ptl, site_unlock: Site, site_unmap: Site) -> KGen[None]:
    """``pte_unmap_unlock``: unlock first, then leave RCU."""
    yield from spin_unlock(ctx, ptl, site_unlock)
    yield from rcu_read_unlock(ctx, site_unmap)


# -- pte_free_defer -----------------------------------------------------------------------

S_DEFER_CALL = site("pte_free_defer:call_rcu")
S_FREE_NOW = site("pte_free_now:pte_free")


def pte_free_now(ctx: Ctx, table) -> KGen[None]:
    """mm/pgtable-generic.c ``pte_free_now``.

    The RCU callback of ``pte_free_defer``: ``pte_free`` (dtor, then the page)."""
    yield from pte_free(ctx, table, S_FREE_NOW)


def pte_free_defer(ctx: Ctx, mm: Mm, table) -> KGen[None]:
    """mm/pgtable-generic.c ``pte_free_defer``: free after a grace period, for tables that
    RCU readers may still be walking (retract_page_tables, collapse_pte_mapped_thp)."""
    yield S_DEFER_CALL
    ctx.kernel.alloc.queue_free(ctx, table, S_DEFER_CALL)
    if type(table) is PteTable:
        table.life = "queued"
    call_rcu_now(ctx, pte_free_now, table, site=S_DEFER_CALL)
