"""Address spaces: mm creation, ``mmap``, ``munmap``, ``exit_mmap`` and the mm's end.

Kernel files: mm/mmap.c (``do_mmap``, ``exit_mmap``), mm/vma.c (``do_vmi_align_munmap``,
``vms_gather_munmap_vmas``, ``vms_complete_munmap_vmas``, ``vms_clear_ptes``), kernel/fork.c
(``mmput``, ``__mmdrop``, ``check_mm``).

Simplified: ``munmap`` takes whole VMAs (no ``__split_vma``); no VMA merging; the mm's
reference counts are ``mm_users`` (threads and ``mmget``) and ``mm_count`` (``mmgrab``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_write, up_write
from ..kernel.rcu import call_rcu_now
from ..sim import KernelReport, Report, site
from .memory_zap import free_pgtables, unmap_vmas
from .mmap_lock import (mmap_read_lock, mmap_read_unlock, mmap_write_downgrade, mmap_write_lock,
                        mmap_write_unlock, vma_start_write)
from .mmu_gather import tlb_finish_mmu, tlb_gather_mmu
from .types import MM_ANONPAGES, MM_FILEPAGES, MM_SWAPENTS, Mm, Vma

if TYPE_CHECKING:
    from ..kernel.context import Ctx, Kernel
    from ..sim.traps import KGen

__all__ = ["vm_area_free", "mm_alloc", "get_unmapped_area", "do_mmap", "do_munmap", "mmput",
           "mmget_not_zero", "mmgrab", "mmdrop", "exit_mmap", "check_mm", "vma_link",
           "task_mm_grab", "exit_mm"]


def mm_alloc(kernel: Kernel, name: str, pid: int) -> Mm:
    """kernel/fork.c ``mm_alloc``.

    A new, empty mm (set up before the run: allocated outside any thread)."""
    mm = Mm(name, pid)
    kernel.alloc.register(None, mm, S_MM_ALLOC)
    mm.mm_users = 1
    mm.mm_count = 1
    return mm


S_MM_ALLOC = site("mm_alloc:allocate_mm")


def get_unmapped_area(ctx: Ctx, mm: Mm, npages: int, at: int | None = None):
    """First fit, aligned to a PMD for mappings of at least a PMD (as
    ``thp_get_unmapped_area`` does), or exactly ``at`` if it is free."""
    n = ctx.config.ptrs_per_pte
    total = n * ctx.config.ptrs_per_pmd
    taken = [(v.start, v.end) for v in mm.vmas]

    def free(s: int) -> bool:
        return 0 <= s and s + npages <= total and all(s + npages <= a or b <= s for a, b in taken)

    if at is not None:
        return at if free(at) else None
    step = n if npages >= n else 1
    for s in range(0, total, step):
        if free(s):
            return s
    return None


S_VMA_ALLOC = site("vm_area_alloc:kmem_cache_alloc")
S_LINK_I_MMAP = site("vma_link_file:i_mmap_lock_write")
S_LINK_I_MMAP_UNLOCK = site("vma_link_file:i_mmap_unlock_write")
S_LINK_STORE = site("vma_link:vma_iter_store")


def vma_link(ctx: Ctx, mm: Mm, vma: Vma) -> KGen[None]:
    """mm/vma.c ``vma_link``: write-lock the new VMA, insert it into the mm's VMA tree and,
    for a file, into ``i_mmap``. Simplified: the file is linked before the tree store,
    all under the mmap write lock."""
    if ctx.config.per_vma_lock:
        # vma_start_write(): the VMA is not yet visible, so its lock is uncontended; it
        # stays write-locked (faults under the VMA lock fall back to the mmap lock) until
        # the mmap write lock is released, e.g. while mremap moves its page tables.
        vma.vm_lock_seq = mm.mm_lock_seq
    if vma.file is not None:
        f = vma.file
        yield from down_write(ctx, f.i_mmap_rwsem, S_LINK_I_MMAP)
        f.i_mmap.append(vma)
        yield from up_write(ctx, f.i_mmap_rwsem, S_LINK_I_MMAP_UNLOCK)
    yield S_LINK_STORE
    ctx.access(mm, S_LINK_STORE, True)
    mm.vmas.append(vma)
    mm.vmas.sort(key=lambda v: v.start)


S_MMAP_LOCK = site("do_mmap:mmap_write_lock")
S_MMAP_UNLOCK = site("do_mmap:mmap_write_unlock")


def do_mmap(ctx: Ctx, mm: Mm, npages: int, file=None, pgoff: int = 0, shared: bool = False,
            uffd_missing: bool = False, uffd_wp: bool = False, at: int | None = None,
            name: str = "") -> KGen[Any]:
    """mm/mmap.c ``do_mmap``.

    ``vm_mmap_pgoff`` -> ``do_mmap`` -> ``mmap_region`` under the mmap write lock.
    Returns the VMA, or None if there is no room."""
    yield from mmap_write_lock(ctx, mm, S_MMAP_LOCK)
    start = get_unmapped_area(ctx, mm, npages, at)
    vma = None
    if start is not None:
        if file is None:
            pgoff = start                     # an anonymous VMA's pgoff is its address
        vma = Vma(mm, start, start + npages, file, pgoff, shared, uffd_missing, uffd_wp,
                  name=name)
        vma = yield from ctx.kernel.alloc.alloc(ctx, vma, S_VMA_ALLOC)
        yield from vma_link(ctx, mm, vma)
    yield from mmap_write_unlock(ctx, mm, S_MMAP_UNLOCK)
    return vma


S_MUNMAP_LOCK = site("__vm_munmap:mmap_write_lock")
S_MUNMAP_DETACH = site("vms_gather_munmap_vmas:vma_mark_detached")
S_MUNMAP_DOWNGRADE = site("vms_complete_munmap_vmas:mmap_write_downgrade")
S_MUNMAP_REMOVE = site("remove_vma:vm_area_free")
S_MUNMAP_UNLOCK = site("vms_complete_munmap_vmas:mmap_read_unlock")
S_MUNMAP_NOTHING = site("__vm_munmap:mmap_write_unlock")


def do_munmap(ctx: Ctx, mm: Mm, start: int, end: int) -> KGen[Any]:
    """mm/vma.c ``do_vmi_align_munmap``, ``vms_gather_munmap_vmas``, ``vms_complete_munmap_vmas``.

    ``__vm_munmap`` -> ``do_vmi_align_munmap``: detach the VMAs in [start, end) under
    the mmap write lock, downgrade it, then zap and free the tables with only the read
    lock ("VMAs were isolated before we downgraded mmap_lock"). Whole VMAs only."""
    yield from mmap_write_lock(ctx, mm, S_MUNMAP_LOCK)
    victims = [v for v in mm.vmas if start <= v.start and v.end <= end]
    if not victims:
        yield from mmap_write_unlock(ctx, mm, S_MUNMAP_NOTHING)
        return 0
    lo, hi = victims[0].start, victims[-1].end
    prev = [v for v in mm.vmas if v.end <= lo]
    nxt = [v for v in mm.vmas if v.start >= hi]
    floor = prev[-1].end if prev else 0
    ceiling = nxt[0].start if nxt else 0
    for v in victims:
        yield from vma_start_write(ctx, v)       # waits for faults and madvise on it
    yield S_MUNMAP_DETACH
    ctx.access(mm, S_MUNMAP_DETACH, True)
    for v in victims:
        v.detached = True
        mm.vmas.remove(v)
    yield from mmap_write_downgrade(ctx, mm, S_MUNMAP_DOWNGRADE)
    # vms_clear_ptes()
    tlb = yield from tlb_gather_mmu(ctx, mm)
    yield from unmap_vmas(ctx, tlb, victims, lo, hi)
    yield from free_pgtables(ctx, tlb, victims, floor, ceiling)
    yield from tlb_finish_mmu(ctx, tlb)
    for v in victims:
        yield from vm_area_free(ctx, v, S_MUNMAP_REMOVE)
    yield from mmap_read_unlock(ctx, mm, S_MUNMAP_UNLOCK)
    return 0


def _vm_area_free_rcu(ctx: Ctx, vma: Vma) -> KGen[None]:
    yield from ctx.kernel.alloc.free(ctx, vma, S_VMA_FREE_RCU, Vma)


S_VMA_FREE_RCU = site("vm_area_free_rcu_cb:kmem_cache_free")


def vm_area_free(ctx: Ctx, vma: Vma, site_) -> KGen[None]:
    """kernel/fork.c ``vm_area_free``.

    ``vm_area_free``: with per-VMA locks, after a grace period (lookups under RCU may
    still be reading it)."""
    yield site_
    if ctx.config.per_vma_lock:
        ctx.kernel.alloc.queue_free(ctx, vma, site_)
        call_rcu_now(ctx, _vm_area_free_rcu, vma, site=site_)
    else:
        ctx.kernel.alloc.free_now(ctx, vma, site_, Vma)


# -- the end of an mm -----------------------------------------------------------------------------

S_MMPUT = site("mmput:atomic_dec_and_test")
S_MMGET = site("mmget_not_zero:atomic_inc_not_zero")
S_MMGRAB = site("mmgrab:atomic_inc")
S_MMDROP = site("mmdrop:atomic_dec_and_test")
S_MMFREE = site("__mmdrop:free_mm")


def mmget_not_zero(ctx: Ctx, mm: Mm) -> KGen[bool]:
    """include/linux/sched/mm.h ``mmget_not_zero``."""
    yield S_MMGET
    ctx.access(mm, S_MMGET, True)
    if mm.mm_users == 0:
        return False
    mm.mm_users += 1
    return True


def mmgrab(ctx: Ctx, mm: Mm) -> KGen[None]:
    """include/linux/sched/mm.h ``mmgrab``."""
    yield S_MMGRAB
    ctx.access(mm, S_MMGRAB, True)
    mm.mm_count += 1


S_TASK_MM = site("get_task_mm:task_lock")
S_EXIT_MM = site("exit_mm:task_lock")


def task_mm_grab(ctx: Ctx, proc) -> KGen[Any]:
    """``mm_access`` for /proc and khugepaged's mm_slot: the task's mm, with ``mmgrab``,
    or None once the task has exited."""
    yield S_TASK_MM
    mm = proc.task_mm
    if mm is None:
        return None
    ctx.access(mm, S_TASK_MM, True)
    mm.mm_count += 1
    return mm


def exit_mm(ctx: Ctx, proc) -> KGen[None]:
    """kernel/exit.c ``exit_mm``.

    A thread of ``proc`` exits: the last one clears task->mm; then ``mmput``."""
    yield S_EXIT_MM
    proc.threads -= 1
    if proc.threads == 0:
        proc.task_mm = None
    yield from mmput(ctx, proc.mm)


def mmput(ctx: Ctx, mm: Mm) -> KGen[None]:
    """kernel/fork.c ``mmput``, ``__mmput``.

    Drop a user; the last one tears the address space down."""
    yield S_MMPUT
    ctx.access(mm, S_MMPUT, True)
    mm.mm_users -= 1
    if mm.mm_users == 0:
        yield from exit_mmap(ctx, mm)
        yield from mmdrop(ctx, mm)


def mmdrop(ctx: Ctx, mm: Mm) -> KGen[None]:
    """include/linux/sched/mm.h ``mmdrop``; kernel/fork.c ``__mmdrop``."""
    yield S_MMDROP
    ctx.access(mm, S_MMDROP, True)
    mm.mm_count -= 1
    if mm.mm_count == 0:
        check_mm(ctx, mm)
        yield from ctx.kernel.alloc.free(ctx, mm, S_MMFREE, Mm)


def check_mm(ctx: Ctx, mm: Mm) -> None:
    """kernel/fork.c ``check_mm``: counters that are not back to zero."""
    for counter in (MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS):
        if mm.rss[counter]:
            r = Report("BUG: Bad rss-counter state", "accounting")
            r.add("mm", f"{mm.name} type:{counter} val:{mm.rss[counter]}")
            raise KernelReport(r)
    if mm.nr_ptes:
        r = Report("BUG: non-zero pgtables_bytes on freeing mm", "accounting")
        r.add("mm", f"{mm.name} nr_ptes:{mm.nr_ptes}")
        raise KernelReport(r)
    if mm.nr_pmds:
        r = Report("BUG: non-zero pgtables_bytes on freeing mm", "accounting")
        r.add("mm", f"{mm.name} nr_pmds:{mm.nr_pmds}")
        raise KernelReport(r)


S_EXIT_READ = site("exit_mmap:mmap_read_lock")
S_EXIT_READ_UNLOCK = site("exit_mmap:mmap_read_unlock")
S_EXIT_OOM_SKIP = site("exit_mmap:set_mmf_oom_skip")
S_EXIT_WRITE = site("exit_mmap:mmap_write_lock")
S_EXIT_REMOVE = site("exit_mmap:remove_vma")
S_EXIT_WRITE_UNLOCK = site("exit_mmap:mmap_write_unlock")


def exit_mmap(ctx: Ctx, mm: Mm) -> KGen[None]:
    """mm/mmap.c ``exit_mmap``: zap everything under the read lock, then (MMF_OOM_SKIP,
    write lock) free every table and VMA."""
    yield from mmap_read_lock(ctx, mm, S_EXIT_READ)
    vmas = list(mm.vmas)
    tlb = yield from tlb_gather_mmu(ctx, mm, fullmm=True)
    total = ctx.config.ptrs_per_pte * ctx.config.ptrs_per_pmd
    yield from unmap_vmas(ctx, tlb, vmas, 0, total)
    yield from mmap_read_unlock(ctx, mm, S_EXIT_READ_UNLOCK)
    yield S_EXIT_OOM_SKIP
    ctx.access(mm, S_EXIT_OOM_SKIP, True)
    mm.oom_skip = True
    yield from mmap_write_lock(ctx, mm, S_EXIT_WRITE)
    yield from free_pgtables(ctx, tlb, vmas, 0, 0, mm_wr_locked=True)
    yield from tlb_finish_mmu(ctx, tlb)
    for v in vmas:
        yield S_EXIT_REMOVE
        ctx.access(mm, S_EXIT_REMOVE, True)
        v.detached = True
        mm.vmas.remove(v)
        yield from vm_area_free(ctx, v, S_EXIT_REMOVE)
    mm.exited = True
    yield from mmap_write_unlock(ctx, mm, S_EXIT_WRITE_UNLOCK)
