from core.kernel import (down_read, down_write, downgrade_write, lock_class, sleep_lock,
                         sleep_trylock, sleep_unlock, spin_lock, spin_lock_nested,
                         spin_trylock, spin_unlock, up_read, up_write)
from core.kernel.rwsem import RwSem
from core.kernel.sleeplock import SleepLock
from core.kernel.spinlock import Spinlock
from core.sim import site

from .helpers import Obj, run_threads, static

PT = lock_class("test_ptlock")
MM = lock_class("test_mmap_lock")


def spinlocks():
    mem = static(Obj())
    return mem, Spinlock("pml", PT, mem), Spinlock("ptl", PT, mem)


S_PML = site("test_nested:lock_pml")
S_PTL = site("test_nested:lock_ptl")
S_UPTL = site("test_nested:unlock_ptl")
S_UPML = site("test_nested:unlock_pml")


def test_same_class_needs_a_nesting_annotation():
    _, pml, ptl = spinlocks()

    def annotated(ctx):
        yield from spin_lock(ctx, pml, S_PML)
        yield from spin_lock_nested(ctx, ptl, S_PTL)
        yield from spin_unlock(ctx, ptl, S_UPTL)
        yield from spin_unlock(ctx, pml, S_UPML)

    def plain(ctx):
        yield from spin_lock(ctx, pml, S_PML)
        yield from spin_lock(ctx, ptl, S_PTL)

    assert run_threads([("T0", annotated)])[0].title == "pass"
    res = run_threads([("T0", plain)])[0]
    assert res.title == "WARNING: possible recursive locking detected"
    assert res.report.detail("already held") == "pml (spin) taken at test_nested:lock_pml"


S_REV_PTL = site("test_reverse:lock_ptl")
S_REV_TRY = site("test_reverse:trylock_pml")
S_REV_UPML = site("test_reverse:unlock_pml")
S_REV_UPTL = site("test_reverse:unlock_ptl")


def test_reverse_order_is_allowed_only_as_a_trylock():
    """The try_get_and_clear_pmd pattern: trylock pml while holding ptl."""
    _, pml, ptl = spinlocks()

    def forward(ctx):
        yield from spin_lock(ctx, pml, S_PML)
        yield from spin_lock_nested(ctx, ptl, S_PTL)
        yield from spin_unlock(ctx, ptl, S_UPTL)
        yield from spin_unlock(ctx, pml, S_UPML)

    def reverse(ctx):
        yield from spin_lock_nested(ctx, ptl, S_REV_PTL)
        got = yield from spin_trylock(ctx, pml, S_REV_TRY)
        if got:
            yield from spin_unlock(ctx, pml, S_REV_UPML)
        yield from spin_unlock(ctx, ptl, S_REV_UPTL)

    res, _, _ = run_threads([("T0", forward), ("T1", reverse)], [("T0", None), ("T1", None)])
    assert res.title == "pass"


S_HOLD = site("test_holder:lock")
S_FREE = site("test_holder:kfree")
S_WAITER = site("test_waiter:lock")


def test_a_waiter_stays_parked_on_a_lock_whose_memory_is_freed():
    mem = Obj()
    lock = Spinlock("ptlock", PT, mem)

    def holder(ctx):
        ctx.kernel.alloc.register(ctx, mem, S_HOLD)
        yield from spin_lock(ctx, lock, S_HOLD)
        yield from ctx.kernel.alloc.free(ctx, mem, S_FREE)

    def waiter(ctx):
        yield from spin_lock(ctx, lock, S_WAITER)

    res, strategy, _ = run_threads([("T0", holder), ("T1", waiter)],
                                   [("T0", "test_holder:kfree"), ("T1", None)])
    assert strategy.drift.reason == "T1 blocked at test_waiter:lock (waiting on ptlock)"
    # T0 frees the memory of a lock it still holds and returns to user space with it.
    assert res.title == "WARNING: lock held when returning to user space!"


def test_a_waiter_rechecks_the_lock_memory_after_waking():
    mem = Obj()
    lock = Spinlock("ptlock", PT, mem)
    s_unlock = site("test_freeing_holder:unlock")
    s_free = site("test_freeing_holder:kfree")

    def holder(ctx):
        ctx.kernel.alloc.register(ctx, mem, S_HOLD)
        yield from spin_lock(ctx, lock, S_HOLD)
        yield from spin_unlock(ctx, lock, s_unlock)
        yield from ctx.kernel.alloc.free(ctx, mem, s_free)

    def waiter(ctx):
        yield from spin_lock(ctx, lock, S_WAITER)

    # T1 parks on the lock; T0 unlocks (waking T1) and frees; T1 wakes into freed memory.
    res, _, _ = run_threads([("T0", holder), ("T1", waiter)],
                            [("T0", "test_freeing_holder:unlock"), ("T1", "test_waiter:lock"),
                             ("T1", "test_waiter:lock"), ("T0", None)])
    assert res.title == "BUG: KASAN: slab-use-after-free Read in test_waiter"


S_R1 = site("test_reader:down_read")
S_R1U = site("test_reader:up_read")
S_W = site("test_writer:down_write")
S_WD = site("test_writer:downgrade_write")
S_WU = site("test_writer:up_read")
S_R2 = site("test_late_reader:down_read")
S_R2U = site("test_late_reader:up_read")


def rwsem_threads():
    mem = static(Obj())
    sem = RwSem("mmap_lock", MM, mem)
    log = []

    def reader(ctx):
        yield from down_read(ctx, sem, S_R1)
        log.append("R1 in")
        yield from up_read(ctx, sem, S_R1U)

    def writer(ctx):
        yield from down_write(ctx, sem, S_W)
        log.append("W in")
        yield from downgrade_write(ctx, sem, S_WD)
        log.append("W downgraded")
        yield from up_read(ctx, sem, S_WU)

    def late_reader(ctx):
        yield from down_read(ctx, sem, S_R2)
        log.append("R2 in")
        yield from up_read(ctx, sem, S_R2U)

    return log, [("R1", reader), ("W", writer), ("R2", late_reader)]


def test_a_waiting_writer_holds_back_new_readers_until_downgrade():
    log, threads = rwsem_threads()
    # R1 holds the lock; W queues; R2 must queue behind W; R1 leaves; W gets it; after
    # W downgrades, R2 gets in while W still holds it for read.
    res, strategy, _ = run_threads(threads, [("R1", "test_reader:up_read"),
                                             ("W", None)])
    assert strategy.drift.reason == "W blocked at test_writer:down_write (waiting on mmap_lock)"
    assert res.title == "pass"
    assert log == ["R1 in", "W in", "W downgraded", "R2 in"]


S_FL = site("test_folio:lock")
S_FT = site("test_folio:trylock")
S_FU = site("test_folio:unlock")


def test_sleeping_lock_trylock_and_sleep_under_spinlock():
    mem, pml, _ = spinlocks()
    folio = SleepLock("folio", lock_class("test_folio_lock", nests=True), mem)
    got = []

    def trier(ctx):
        ok = yield from sleep_trylock(ctx, folio, S_FT)
        got.append(ok)
        if ok:
            yield from sleep_unlock(ctx, folio, S_FU)

    def holder(ctx):
        yield from sleep_lock(ctx, folio, S_FL)
        yield S_FL_HOLD
        yield from sleep_unlock(ctx, folio, S_FU)

    res, _, _ = run_threads([("T0", holder), ("T1", trier)],
                            [("T0", "test_folio:hold"), ("T1", None)])
    assert res.title == "pass" and got == [False]

    def sleeps_atomic(ctx):
        yield from spin_lock(ctx, pml, S_PML)
        yield from sleep_lock(ctx, folio, S_FL)
    res = run_threads([("T0", sleeps_atomic)])[0]
    assert res.title == "BUG: sleeping function called from invalid context"
    assert res.report.detail("state") == "in_atomic(): 1, irqs_disabled(): 0, rcu nesting: 0"


S_FL_HOLD = site("test_folio:hold")


def test_rwsem_write_held_twice_is_recursive():
    def twice(ctx, sem):
        yield from down_write(ctx, sem, S_W)
        yield from down_write(ctx, sem, S_W)

    def balanced(ctx, sem):
        yield from down_write(ctx, sem, S_W)
        yield from up_write(ctx, sem, S_WU)

    for body, title in ((twice, "WARNING: possible recursive locking detected"),
                        (balanced, "pass")):
        sem = RwSem("mmap_lock", MM, static(Obj()))
        assert run_threads([("T0", body, sem)])[0].title == title
