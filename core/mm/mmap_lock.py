"""The mmap lock and the per-VMA locks (include/linux/mmap_lock.h, mm/mmap_lock.c,
mm/memory.c ``lock_vma_under_rcu``).

A VMA is write-locked by ``vma_start_write`` under the mmap write lock: it waits for the
VMA's readers, then marks the VMA with the mm's current lock sequence. Every release of
the mmap write lock (unlock or downgrade) bumps the sequence, which releases every VMA
write lock at once. A reader (a page fault, MADV_DONTNEED, a userfaultfd ioctl) takes a
VMA's read lock without the mmap lock (``lock_vma_under_rcu``): it fails if the VMA is
write-locked, detached, or not the one covering the address, and the caller falls back to
the mmap lock.

Simplified: the v6.12-style rwsem per VMA plus sequence numbers (v6.15 folded both into
a reference count with the same semantics); VMAs are freed after a grace period
(``SLAB_TYPESAFE_BY_RCU``), so a lookup under RCU never reads freed memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import (down_read, down_read_trylock, down_write, downgrade_write,
                      rcu_read_lock, rcu_read_unlock, up_read, up_write)
from ..sim import site

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen
    from .types import Mm, Vma

__all__ = ["mmap_read_lock", "mmap_read_unlock", "mmap_read_trylock", "mmap_write_lock",
           "mmap_write_unlock", "mmap_write_downgrade", "vma_start_write", "vma_start_read",
           "vma_end_read", "lock_vma_under_rcu", "vma_write_locked"]


def mmap_read_lock(ctx: Ctx, mm: Mm, site_) -> KGen[None]:
    """include/linux/mmap_lock.h ``mmap_read_lock``."""
    yield from down_read(ctx, mm.mmap_lock, site_)


def mmap_read_trylock(ctx: Ctx, mm: Mm, site_) -> KGen[bool]:
    """include/linux/mmap_lock.h ``mmap_read_trylock``."""
    return (yield from down_read_trylock(ctx, mm.mmap_lock, site_))


def mmap_read_unlock(ctx: Ctx, mm: Mm, site_) -> KGen[None]:
    """include/linux/mmap_lock.h ``mmap_read_unlock``."""
    yield from up_read(ctx, mm.mmap_lock, site_)


def mmap_write_lock(ctx: Ctx, mm: Mm, site_) -> KGen[None]:
    """include/linux/mmap_lock.h ``mmap_write_lock``."""
    yield from down_write(ctx, mm.mmap_lock, site_)


def mmap_write_unlock(ctx: Ctx, mm: Mm, site_) -> KGen[None]:
    """include/linux/mmap_lock.h ``mmap_write_unlock``.

    ``vma_end_write_all`` (the sequence moves on: every VMA write lock is released),
    then the rwsem."""
    mm.mm_lock_seq += 1
    yield from up_write(ctx, mm.mmap_lock, site_)


def mmap_write_downgrade(ctx: Ctx, mm: Mm, site_) -> KGen[None]:
    """include/linux/mmap_lock.h ``mmap_write_downgrade``."""
    mm.mm_lock_seq += 1
    yield from downgrade_write(ctx, mm.mmap_lock, site_)


def vma_write_locked(vma: Vma) -> bool:
    """Model only: a model predicate (the kernel's __is_vma_write_locked compares sequence
    numbers the model does not have)."""
    return vma.vm_lock_seq == vma.mm.mm_lock_seq


S_VSW_CHECK = site("vma_start_write:__is_vma_write_locked")
S_VSW_LOCK = site("vma_start_write:down_write")
S_VSW_UNLOCK = site("vma_start_write:up_write")


def vma_start_write(ctx: Ctx, vma: Vma) -> KGen[None]:
    """include/linux/mm.h ``vma_start_write``.

    Write-lock ``vma`` (the caller holds the mmap write lock): wait for its readers,
    then mark it locked until the mmap write lock is released."""
    if not ctx.config.per_vma_lock:
        return
    yield S_VSW_CHECK
    ctx.access(vma, S_VSW_CHECK, False)
    if vma_write_locked(vma):
        return
    yield from down_write(ctx, vma.vm_lock, S_VSW_LOCK)
    vma.vm_lock_seq = vma.mm.mm_lock_seq
    yield from up_write(ctx, vma.vm_lock, S_VSW_UNLOCK)


S_VSR_SEQ = site("vma_start_read:vm_lock_seq")
S_VSR_TRY = site("vma_start_read:down_read_trylock")
S_VSR_RECHECK = site("vma_start_read:vm_lock_seq_recheck")
S_VSR_UNDO = site("vma_start_read:up_read")


def vma_start_read(ctx: Ctx, vma: Vma) -> KGen[bool]:
    """include/linux/mm.h ``vma_start_read``.

    Try to read-lock ``vma`` without the mmap lock."""
    yield S_VSR_SEQ
    ctx.access(vma, S_VSR_SEQ, False)
    if vma_write_locked(vma):
        return False
    if not (yield from down_read_trylock(ctx, vma.vm_lock, S_VSR_TRY)):
        return False
    yield S_VSR_RECHECK
    if vma_write_locked(vma):
        yield from up_read(ctx, vma.vm_lock, S_VSR_UNDO)
        return False
    return True


def vma_end_read(ctx: Ctx, vma: Vma, site_) -> KGen[None]:
    """include/linux/mm.h ``vma_end_read``."""
    yield from up_read(ctx, vma.vm_lock, site_)


S_LVR_RCU = site("lock_vma_under_rcu:rcu_read_lock")
S_LVR_WALK = site("lock_vma_under_rcu:mas_walk")
S_LVR_CHECK = site("lock_vma_under_rcu:vma_detached_or_moved")
S_LVR_UNDO = site("lock_vma_under_rcu:vma_end_read")
S_LVR_RCU_UNLOCK = site("lock_vma_under_rcu:rcu_read_unlock")


def lock_vma_under_rcu(ctx: Ctx, mm: Mm, vpn: int) -> KGen[Any]:
    """mm/memory.c ``lock_vma_under_rcu``.

    The read-locked VMA covering ``vpn``, or None (fall back to the mmap lock)."""
    if not ctx.config.per_vma_lock:
        return None
    yield from rcu_read_lock(ctx, S_LVR_RCU)
    yield S_LVR_WALK
    ctx.access(mm, S_LVR_WALK, False)
    vma = mm.find_vma(vpn)
    if vma is not None:
        if (yield from vma_start_read(ctx, vma)):
            yield S_LVR_CHECK
            if vma.detached or not vma.start <= vpn < vma.end:
                yield from vma_end_read(ctx, vma, S_LVR_UNDO)
                vma = None
        else:
            vma = None
    yield from rcu_read_unlock(ctx, S_LVR_RCU_UNLOCK)
    return vma
