"""Typed kernel objects and the allocator that tracks their lifetime (the shadow state).

Every object with a lifetime (PTE and PMD tables, separately allocated ptlocks, folios,
VMAs, mm structs, mmu_gather batch pages) is a :class:`KObject` and goes through this
allocator. Its shadow state says whether its memory may be touched:

``UNALLOCATED``  never came from the allocator (a wild pointer)
``ALLOCATED``    live
``RCU_PENDING``  its free is queued behind a grace period: still valid memory
``QUARANTINED``  freed; KASAN holds the memory back from reuse
``FREED``        freed and out of quarantine: the memory may have been reused

Ids come from a counter and are never reused within a run, so a stale reference is
always recognised, however long ago the object was freed. Checking is not done here:
allocation and free call the kernel's hooks, where KASAN (``core.kasan``) and the leak
scan look at the shadow state.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx, Kernel

__all__ = ["KObject", "Allocator", "UNALLOCATED", "ALLOCATED", "RCU_PENDING", "QUARANTINED",
           "FREED", "VALID_STATES"]

UNALLOCATED, ALLOCATED, RCU_PENDING, QUARANTINED, FREED = (
    "unallocated", "allocated", "rcu-pending", "quarantined", "freed")
VALID_STATES = (ALLOCATED, RCU_PENDING)


class KObject:
    """Base of every lifetime-tracked object. ``kind`` names the type in reports; ``slab``
    says whether it is a slab object (``slab-use-after-free``) or a page."""

    __slots__ = ("oid", "kstate", "alloc_site", "alloc_thread", "free_site", "free_thread",
                 "queued_site", "queued_thread", "wv")
    kind = "object"
    slab = True
    alloc_site: Site | None
    free_site: Site | None
    queued_site: Site | None
    alloc_thread: str | None
    free_thread: str | None
    queued_thread: str | None

    def __init__(self) -> None:
        self.oid = 0
        self.wv = 0                  # the last store to it: seq << 8 | tid (retry rule)
        self.kstate = UNALLOCATED
        self.alloc_site = self.free_site = self.queued_site = None
        self.alloc_thread = self.free_thread = self.queued_thread = None

    def describe(self) -> str:
        return f"{self.kind} #{self.oid} ({self.kstate})"

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class Allocator:
    """Gives out ids, keeps the live set (in allocation order, for a deterministic leak
    scan) and the KASAN-style quarantine of recently freed objects."""

    def __init__(self, kernel: Kernel, quarantine: int) -> None:
        self.kernel = kernel
        self.next_oid = 1
        self.live: dict[int, KObject] = {}
        self.quarantine: deque[KObject] = deque()
        self.quarantine_size = quarantine

    def alloc(self, ctx: Ctx, obj: KObject, site: Site, may_fail: bool = False) -> KGen[Any]:
        """``obj = yield from alloc(ctx, Obj(...), site)``. With ``may_fail`` (GFP_NOWAIT)
        the failure is a choice; it returns None then."""
        yield site
        if may_fail and ctx.choose(2, site.name) == 1:
            return None
        self.register(ctx, obj, site)
        return obj

    def register(self, ctx: Ctx, obj: KObject, site: Site) -> KObject:
        """Allocate ``obj`` now, within the current step (for objects created together
        with another allocation, or set up before the run)."""
        obj.oid = self.next_oid
        self.next_oid += 1
        obj.kstate = ALLOCATED
        obj.alloc_site = site
        obj.alloc_thread = ctx.name if ctx is not None else "setup"
        self.live[obj.oid] = obj
        return obj

    def free(self, ctx: Ctx, obj: KObject, site: Site, expect: type | None = None) -> KGen[None]:
        """``yield from free(ctx, obj, site)``: a scheduling point, then the free. With
        ``expect``, freeing an object of another type is an invalid free."""
        yield site
        self.free_now(ctx, obj, site, expect)

    def free_now(self, ctx: Ctx, obj: KObject, site: Site, expect: type | None = None) -> None:
        for h in self.kernel.hooks.free:
            h(ctx, obj, site, expect, False)
        self.live.pop(obj.oid, None)
        obj.kstate = QUARANTINED
        obj.free_site = site
        obj.free_thread = ctx.name
        q = self.quarantine
        q.append(obj)
        while len(q) > self.quarantine_size:
            q.popleft().kstate = FREED

    def queue_free(self, ctx: Ctx, obj: KObject, site: Site) -> None:
        """Mark ``obj`` as queued for an RCU-deferred free (still valid memory)."""
        for h in self.kernel.hooks.free:
            h(ctx, obj, site, None, True)
        obj.kstate = RCU_PENDING
        obj.queued_site = site
        obj.queued_thread = ctx.name

    def leaks(self) -> list[KObject]:
        return list(self.live.values())
