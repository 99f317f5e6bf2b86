"""KASAN-like shadow checks: every access and every free consults the object's shadow
state (kept by the allocator, ``core.kernel.alloc``)."""

from __future__ import annotations

from ..kernel.alloc import ALLOCATED, FREED, QUARANTINED, RCU_PENDING, UNALLOCATED
from ..sim import KernelReport
from .report import bad_access, bad_free, stale_access

__all__ = ["Kasan", "install"]


class Kasan:
    def install(self, kernel) -> Kasan:
        kernel.hooks.access.append(self.check_access)
        kernel.hooks.cached.append(self.check_cached)
        kernel.hooks.free.append(self.check_free)
        return self

    def check_access(self, ctx, obj, site, write) -> None:
        st = obj.kstate
        if st is ALLOCATED or st is RCU_PENDING:
            return
        raise KernelReport(bad_access(ctx, obj, site, write))

    def check_cached(self, ctx, obj, site, write, cache) -> None:
        st = obj.kstate
        if st is ALLOCATED or st is RCU_PENDING:
            return
        raise KernelReport(stale_access(ctx, obj, site, write, cache))

    def check_free(self, ctx, obj, site, expect, queued) -> None:
        st = obj.kstate
        if st is QUARANTINED or st is FREED:
            raise KernelReport(bad_free(ctx, obj, site, "double"))
        if st is RCU_PENDING and queued:
            raise KernelReport(bad_free(ctx, obj, site, "double"))
        if st is UNALLOCATED:
            raise KernelReport(bad_free(ctx, obj, site, "object was never allocated"))
        if expect is not None and not isinstance(obj, expect):
            raise KernelReport(bad_free(ctx, obj, site,
                                        f"freeing a {obj.kind} as a {expect.kind}"))


def install(kernel) -> Kasan:
    return Kasan().install(kernel)
