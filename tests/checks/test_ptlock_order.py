"""Page-table lock order by level (core/checks/ptlock_order.py): a PMD table's lock taken
while a PTE table's lock of the same mm is held is reported, though lockdep sees one lock
class; the documented order, a trylock, another mm's tables and the fixed model are
silent."""

from core.kernel import spin_lock, spin_lock_nested, spin_trylock, spin_unlock
from core.kernel.spinlock import Spinlock
from core.mm.types import PTLOCK_CLASS, Mm, PmdTable, Ptlock, PteTable
from core.sim import site
from tests.kernel.helpers import run_threads, static

S_A = site("test_ptlock_order:first")
S_B = site("test_ptlock_order:second")
S_UA = site("test_ptlock_order:unlock_first")
S_UB = site("test_ptlock_order:unlock_second")
TITLE = "WARNING: possible circular locking dependency detected (pte lock before pmd lock)"


def _tables(alloc=False, mm=None):
    mm = mm or static(Mm("p0", 1))
    pmd, pte = static(PmdTable(4, mm)), static(PteTable(8, mm))
    for t in (pmd, pte):
        name = f"ptl of {t.kind}"
        if alloc:                   # ALLOC_SPLIT_PTLOCKS: the lock lives in a Ptlock
            t.ptlock = static(Ptlock(name))
            t.ptlock.table = t
            t.ptl = t.ptlock.spin
        else:
            t.ptl = Spinlock(name, PTLOCK_CLASS, t)
    return pmd, pte


def _two(first, second, take=spin_lock_nested):
    def body(ctx):
        yield from spin_lock(ctx, first, S_A)
        yield from take(ctx, second, S_B)
        yield from spin_unlock(ctx, second, S_UB)
        yield from spin_unlock(ctx, first, S_UA)
    return body


def test_pte_lock_before_pmd_lock_is_reported_with_both_sites():
    for alloc in (False, True):
        pmd, pte = _tables(alloc)
        res = run_threads([("T0", _two(pte.ptl, pmd.ptl))])[0]
        assert res.title == TITLE
        assert res.report.detail("held") == \
            "ptl of pte table (spin) taken at test_ptlock_order:first"
        assert res.report.detail("taking") == "ptl of pmd table at test_ptlock_order:second"


def test_the_documented_order_a_trylock_and_another_mm_are_silent():
    pmd, pte = _tables()
    assert run_threads([("T0", _two(pmd.ptl, pte.ptl))])[0].title == "pass"

    def trylock(ctx, lock, site_):
        ok = yield from spin_trylock(ctx, lock, site_)
        assert ok
    assert run_threads([("T0", _two(pte.ptl, pmd.ptl, trylock))])[0].title == "pass"
    other_pmd, _ = _tables(mm=static(Mm("p1", 2)))
    assert run_threads([("T0", _two(pte.ptl, other_pmd.ptl))])[0].title == "pass"


def test_the_wrong_order_deadlocks_without_the_check():
    """What the report stands for: two CPUs, one in each order, hang."""
    pmd, pte = _tables()
    res = run_threads([("T0", _two(pte.ptl, pmd.ptl)), ("T1", _two(pmd.ptl, pte.ptl))],
                      [("T0", "test_ptlock_order:second"), ("T1", "test_ptlock_order:second"),
                       ("T0", None)], checkers=["kasan", "leaks", "oracle"])[0]
    assert res.title == "INFO: task hung in test_ptlock_order"
