"""The documented lock order of mm/rmap.c is known to lockdep from the start: a path that
takes two of its locks the other way round is reported on its first run."""

from core.kernel import lock_class, spin_lock, spin_unlock
from core.kernel.spinlock import Spinlock
from core.sim import site

from .helpers import Obj, run_threads, static

S_PTL = site("test_order:ptl_lock")
S_XA = site("test_order:xa_lock")
S_XA_UNLOCK = site("test_order:xa_unlock")
S_PTL_UNLOCK = site("test_order:ptl_unlock")


def locks():
    mem = static(Obj())
    return (Spinlock("ptl", lock_class("ptlock"), mem),
            Spinlock("i_pages", lock_class("mapping->i_pages"), mem))


def test_a_pte_lock_under_the_i_pages_lock_is_reported_without_the_other_order_running():
    ptl, xa = locks()

    def inverted(ctx):
        yield from spin_lock(ctx, xa, S_XA)
        yield from spin_lock(ctx, ptl, S_PTL)

    res = run_threads([("T0", inverted)])[0]
    assert res.title == "WARNING: possible circular locking dependency detected"
    assert res.report.detail("new dependency") == (
        "mapping->i_pages -> ptlock: T0 holds i_pages (taken at test_order:xa_lock) and "
        "takes ptl at test_order:ptl_lock")
    assert res.report.detail("existing dependency") == (
        "ptlock -> mapping->i_pages: documented order (mm/rmap.c)")


def test_the_documented_order_is_quiet():
    ptl, xa = locks()

    def ordered(ctx):
        yield from spin_lock(ctx, ptl, S_PTL)
        yield from spin_lock(ctx, xa, S_XA)
        yield from spin_unlock(ctx, xa, S_XA_UNLOCK)
        yield from spin_unlock(ctx, ptl, S_PTL_UNLOCK)

    assert run_threads([("T0", ordered)])[0].title == "pass"
