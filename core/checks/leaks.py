"""kmemleak-like end-of-run scan: objects still allocated after the final ``rcu_barrier``."""

from __future__ import annotations

from ..sim import KernelReport, Report

__all__ = ["leak_scan"]


def leak_scan(kernel) -> None:
    leaks = kernel.alloc.leaks()
    if not leaks:
        return
    first = leaks[0]
    r = Report(f"memory leak: {first.kind}", "leak")
    for obj in leaks[:8]:
        site = obj.alloc_site.name if obj.alloc_site is not None else "?"
        r.add("unreferenced object",
              f"{obj.kind} #{obj.oid} allocated by {obj.alloc_thread} at {site}")
    if len(leaks) > 8:
        r.add("more", f"{len(leaks) - 8} further objects")
    raise KernelReport(r)
