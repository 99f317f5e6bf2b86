"""KASAN report wording: titles in the kernel's words, bodies with the object's history."""

from __future__ import annotations

from ..kernel.alloc import FREED, QUARANTINED, UNALLOCATED
from ..sim import Report

__all__ = ["bad_access", "bad_free", "stale_access"]


def _history(r: Report, obj) -> Report:
    r.add("object", obj.describe())
    if obj.alloc_site is not None:
        r.add("allocated by", f"{obj.alloc_thread} at {obj.alloc_site.name}")
    if obj.queued_site is not None:
        r.add("free queued by", f"{obj.queued_thread} at {obj.queued_site.name}")
    if obj.free_site is not None:
        r.add("freed by", f"{obj.free_thread} at {obj.free_site.name}")
    if obj.kstate == QUARANTINED:
        r.add("memory", "freed object still in KASAN quarantine")
    elif obj.kstate == FREED:
        r.add("memory", "freed object left quarantine: its memory may have been reused")
    return r


def _callback_note(r: Report, ctx) -> Report:
    cb = ctx.data.get("rcu_callback")
    if cb is not None:
        r.add("in RCU callback", f"queued by {cb.thread} at {cb.site.name}")
    return r


def bad_access(ctx, obj, site, write: bool) -> Report:
    if obj.kstate == UNALLOCATED:
        bug = "wild-memory-access"
    else:
        bug = "slab-use-after-free" if obj.slab else "use-after-free"
    rw = "Write" if write else "Read"
    r = Report(f"BUG: KASAN: {bug} {rw} in {site.func}", "kasan", thread=ctx.name, site=site.name)
    r.add("access", f"{rw} of {obj.kind} #{obj.oid} by {ctx.name} at {site.name}")
    return _callback_note(_history(r, obj), ctx)


def bad_free(ctx, obj, site, why: str) -> Report:
    kind = "double-free" if obj.kstate not in (UNALLOCATED,) and why == "double" else "invalid-free"
    r = Report(f"BUG: KASAN: {kind} in {site.func}", "kasan", thread=ctx.name, site=site.name)
    r.add("free", f"{obj.kind} #{obj.oid} by {ctx.name} at {site.name}")
    if why not in ("double",):
        r.add("reason", why)
    return _callback_note(_history(r, obj), ctx)


def stale_access(ctx, obj, site, write: bool, cache: str) -> Report:
    rw = "store" if write else "load"
    r = Report(f"BUG: KASAN: use-after-free via stale TLB in {site.func}", "stale-tlb",
               thread=ctx.name, site=site.name)
    r.add("access", f"{rw} through a stale {cache} entry")
    return _history(r, obj)
