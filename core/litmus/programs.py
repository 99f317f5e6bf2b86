"""Litmus programs: tiny kernel programs that pin down what each primitive guarantees.

Each program states, for exhaustive exploration, which outcomes (report titles, or
``pass``) must be reachable and which must never happen, and gives hand-written schedules
with their exact outcome. They are the substrate's specification in executable form: the
tests run them, and ``ptfuzz litmus`` explores them and prints what it found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kernel import (ALLOCATED, READ_ONCE, WRITE_ONCE, KObject, call_rcu, cmpxchg,
                      rcu_barrier,
                      local_irq_disable,
                      local_irq_enable, lock_class, rcu_read_lock, rcu_read_unlock, spin_lock,
                      spin_unlock, synchronize_rcu, tlb_remove_table_sync_one, xchg)
from ..kernel.rwsem import RwSem, down_read, up_read
from ..kernel.spinlock import Spinlock
from ..sim import KernelReport, Report, site, spin_site

__all__ = ["Litmus", "LITMUS", "Box", "Item"]


class Item(KObject):
    """A slab object with one value."""

    __slots__ = ("val",)
    kind = "litmus item"

    def __init__(self, val: int = 0):
        super().__init__()
        self.val = val


class Box(KObject):
    """Shared state: a published pointer, flags, and a log of observed events."""

    __slots__ = ("ptr", "flag", "inside")
    kind = "litmus box"

    def __init__(self):
        super().__init__()
        self.ptr = None
        self.flag = 0
        self.inside = False


class Log(KObject):
    """Shared state of the programs that name their final state: a word (``flag``), what
    the threads saw or ran in order (``seen``), and what a thread found when it looked
    (``look``)."""

    __slots__ = ("flag", "seen", "look")
    kind = "litmus log"

    def __init__(self):
        super().__init__()
        self.flag = 0
        self.seen = []
        self.look = None


@dataclass
class Litmus:
    name: str
    doc: str
    setup: object                       # setup(machine) -> state
    threads: list                       # [(name, fn(ctx, state))]
    reachable: set = field(default_factory=set)     # outcomes some interleaving must show
    never: set = field(default_factory=set)         # outcomes no interleaving may show
    schedules: dict = field(default_factory=dict)   # name -> ([(thread, site|None)], outcome)
    checkers: tuple | None = None       # None: every checker
    bound: int | None = None            # preemption bound for exploration
    final: object = None                # state -> str: names a clean run's final state,
                                        # so its outcome is "pass: <final>"


def _litmus_report(title: str, why: str):
    return KernelReport(Report(title, "litmus").add("observed", why))


def _setup_box(machine, with_item: bool = True):
    alloc = machine.kernel.alloc
    box = Box()
    box.kstate = ALLOCATED         # a static object, outside the leak scan
    if with_item:
        box.ptr = alloc.register(None, Item(1), S_SETUP)
    return box


S_SETUP = site("litmus_setup:alloc")

# --- RCU: a reader inside its section keeps the object alive ---------------------------

S_RD_LOCK = site("litmus_reader:rcu_read_lock")
S_RD_PTR = site("litmus_reader:load_ptr")
S_RD_VAL = site("litmus_reader:load_val")
S_RD_UNLOCK = site("litmus_reader:rcu_read_unlock")
S_UP_XCHG = site("litmus_updater:unpublish")
S_UP_CALL = site("litmus_updater:call_rcu")
S_CB_FREE = site("litmus_free_item:kfree")


def _free_item(ctx, item):
    yield from ctx.kernel.alloc.free(ctx, item, S_CB_FREE, Item)


def reader(ctx, box):
    yield from rcu_read_lock(ctx, S_RD_LOCK)
    item = yield from READ_ONCE(ctx, box, "ptr", S_RD_PTR)
    if item is not None:
        yield from READ_ONCE(ctx, item, "val", S_RD_VAL)
    yield from rcu_read_unlock(ctx, S_RD_UNLOCK)


def updater(ctx, box):
    old = yield from xchg(ctx, box, "ptr", None, S_UP_XCHG)
    ctx.kernel.alloc.queue_free(ctx, old, S_UP_CALL)
    yield from call_rcu(ctx, _free_item, old, site=S_UP_CALL)


S_LK_LOCK = site("litmus_leaky_reader:rcu_read_lock")
S_LK_PTR = site("litmus_leaky_reader:load_ptr")
S_LK_UNLOCK = site("litmus_leaky_reader:rcu_read_unlock")
S_LK_VAL = site("litmus_leaky_reader:load_val")


def leaky_reader(ctx, box):
    """Keeps the pointer past its read-side section: the bug RCU cannot cover."""
    yield from rcu_read_lock(ctx, S_LK_LOCK)
    item = yield from READ_ONCE(ctx, box, "ptr", S_LK_PTR)
    yield from rcu_read_unlock(ctx, S_LK_UNLOCK)
    if item is not None:
        yield from READ_ONCE(ctx, item, "val", S_LK_VAL)


UAF_LEAKY = "BUG: KASAN: slab-use-after-free Read in litmus_leaky_reader"

# --- IPI sync versus IRQ-off and rcu_read_lock sections ------------------------------

S_IRQ_OFF = site("litmus_irqoff:local_irq_disable")
S_IRQ_IN = site("litmus_irqoff:inside")
S_IRQ_ON = site("litmus_irqoff:local_irq_enable")
S_RCUSEC_LOCK = site("litmus_rcu_section:rcu_read_lock")
S_RCUSEC_IN = site("litmus_rcu_section:inside")
S_RCUSEC_UNLOCK = site("litmus_rcu_section:rcu_read_unlock")
S_SYNC = site("litmus_ipi_sync:tlb_remove_table_sync_one")
S_SYNC_DONE = site("litmus_ipi_sync:done")
S_GP_SYNC = site("litmus_sync_rcu:synchronize_rcu")
S_GP_DONE = site("litmus_sync_rcu:done")

IPI_DURING_IRQOFF = "litmus: IPI sync returned during an IRQ-off section"
IPI_DURING_RCU = "litmus: IPI sync returned during an rcu_read_lock section"
GP_DURING_RCU = "litmus: synchronize_rcu returned during an rcu_read_lock section"


def irqoff_section(ctx, box):
    yield from local_irq_disable(ctx, S_IRQ_OFF)
    yield S_IRQ_IN
    box.inside = True
    yield from local_irq_enable(ctx, S_IRQ_ON)
    box.inside = False
    box.flag += 1


def rcu_section(ctx, box):
    yield from rcu_read_lock(ctx, S_RCUSEC_LOCK)
    yield S_RCUSEC_IN
    box.inside = True
    yield from rcu_read_unlock(ctx, S_RCUSEC_UNLOCK)
    box.inside = False
    box.flag += 1


def _still_inside(box, sample) -> bool:
    """Is the section that was open at ``sample`` time still open? (``flag`` counts the
    sections the other CPU has left.)"""
    was_inside, exits = sample
    return was_inside and box.inside and box.flag == exits


def _waiter(wait, sample_site, done_site, title):
    """A thread that notes whether the other CPU is inside its section, waits with
    ``wait``, and reports ``title`` if that same section is still open afterwards."""
    def waiter(ctx, box):
        yield sample_site
        sample = (box.inside, box.flag)
        yield from wait(ctx)
        yield done_site
        if _still_inside(box, sample):
            raise _litmus_report(title, "the section open when the wait began is still open")
    return waiter


S_SYNC_SAMPLE = site("litmus_ipi_sync:sample")
S_GP_SAMPLE = site("litmus_sync_rcu:sample")


def _ipi_syncer(title):
    return _waiter(lambda ctx: tlb_remove_table_sync_one(ctx, S_SYNC), S_SYNC_SAMPLE,
                   S_SYNC_DONE, title)


rcu_syncer = _waiter(lambda ctx: synchronize_rcu(ctx, S_GP_SYNC), S_GP_SAMPLE, S_GP_DONE,
                     GP_DURING_RCU)

# --- lockdep: ABBA, AA, balance, context, return to user -----------------------------

LOCK_A = lock_class("litmus_lock_a")
LOCK_B = lock_class("litmus_lock_b")
S_T0_A = site("litmus_abba_t0:lock_a")
S_T0_B = site("litmus_abba_t0:lock_b")
S_T0_UB = site("litmus_abba_t0:unlock_b")
S_T0_UA = site("litmus_abba_t0:unlock_a")
S_T1_B = site("litmus_abba_t1:lock_b")
S_T1_A = site("litmus_abba_t1:lock_a")
S_T1_UA = site("litmus_abba_t1:unlock_a")
S_T1_UB = site("litmus_abba_t1:unlock_b")


class Locks:
    def __init__(self, box):
        self.a = Spinlock("litmus lock A", LOCK_A, box)
        self.b = Spinlock("litmus lock B", LOCK_B, box)
        self.sem = RwSem("litmus rwsem", lock_class("litmus_rwsem"), box)


def _setup_locks(machine):
    return Locks(_setup_box(machine, with_item=False))


def abba_t0(ctx, locks):
    yield from spin_lock(ctx, locks.a, S_T0_A)
    yield from spin_lock(ctx, locks.b, S_T0_B)
    yield from spin_unlock(ctx, locks.b, S_T0_UB)
    yield from spin_unlock(ctx, locks.a, S_T0_UA)


def abba_t1(ctx, locks):
    yield from spin_lock(ctx, locks.b, S_T1_B)
    yield from spin_lock(ctx, locks.a, S_T1_A)
    yield from spin_unlock(ctx, locks.a, S_T1_UA)
    yield from spin_unlock(ctx, locks.b, S_T1_UB)


CIRCULAR = "WARNING: possible circular locking dependency detected"
HUNG_T0 = "INFO: task hung in litmus_abba_t0"

S_AA_1 = site("litmus_aa:lock")
S_AA_2 = site("litmus_aa:lock_again")


def aa(ctx, locks):
    yield from spin_lock(ctx, locks.a, S_AA_1)
    yield from spin_lock(ctx, locks.a, S_AA_2)


S_SLEEP_RCU = site("litmus_sleep_in_rcu:rcu_read_lock")
S_SLEEP_DOWN = site("litmus_sleep_in_rcu:down_read")
S_SLEEP_UP = site("litmus_sleep_in_rcu:up_read")
S_SLEEP_UNRCU = site("litmus_sleep_in_rcu:rcu_read_unlock")


def sleep_in_rcu(ctx, locks):
    yield from rcu_read_lock(ctx, S_SLEEP_RCU)
    yield from down_read(ctx, locks.sem, S_SLEEP_DOWN)
    yield from up_read(ctx, locks.sem, S_SLEEP_UP)
    yield from rcu_read_unlock(ctx, S_SLEEP_UNRCU)


S_BAL = site("litmus_unbalanced:spin_unlock")


def unbalanced(ctx, locks):
    yield from spin_unlock(ctx, locks.a, S_BAL)


S_HELD = site("litmus_forgets_unlock:spin_lock")


def forgets_unlock(ctx, locks):
    yield from spin_lock(ctx, locks.a, S_HELD)

# --- IRQ-off spin against an IPI: a real deadlock lockdep cannot see ------------------

S_IRQ_SPIN_OFF = site("litmus_irq_spinner:local_irq_disable")
S_IRQ_SPIN_LOCK = site("litmus_irq_spinner:spin_lock")
S_IRQ_SPIN_UNLOCK = site("litmus_irq_spinner:spin_unlock")
S_IRQ_SPIN_ON = site("litmus_irq_spinner:local_irq_enable")
S_FLUSH_LOCK = site("litmus_flusher:spin_lock")
S_FLUSH_SYNC = site("litmus_flusher:tlb_remove_table_sync_one")
S_FLUSH_UNLOCK = site("litmus_flusher:spin_unlock")


def irq_spinner(ctx, locks):
    yield from local_irq_disable(ctx, S_IRQ_SPIN_OFF)
    yield from spin_lock(ctx, locks.a, S_IRQ_SPIN_LOCK)
    yield from spin_unlock(ctx, locks.a, S_IRQ_SPIN_UNLOCK)
    yield from local_irq_enable(ctx, S_IRQ_SPIN_ON)


def flusher(ctx, locks):
    yield from spin_lock(ctx, locks.a, S_FLUSH_LOCK)
    yield from tlb_remove_table_sync_one(ctx, S_FLUSH_SYNC)
    yield from spin_unlock(ctx, locks.a, S_FLUSH_UNLOCK)


HUNG_SPINNER = "INFO: task hung in litmus_irq_spinner"

# --- allocator: double free, invalid free, leak ----------------------------------------

S_DF_1 = site("litmus_double_free:kfree")
S_DF_2 = site("litmus_double_free:kfree_again")
S_INV = site("litmus_invalid_free:kfree")
S_LEAK = site("litmus_leaker:kmalloc")


def double_free(ctx, box):
    yield from ctx.kernel.alloc.free(ctx, box.ptr, S_DF_1, Item)
    yield from ctx.kernel.alloc.free(ctx, box.ptr, S_DF_2, Item)


def invalid_free(ctx, box):
    yield from ctx.kernel.alloc.free(ctx, box.ptr, S_INV, Box)


def leaker(ctx, box):
    yield from ctx.kernel.alloc.alloc(ctx, Item(2), S_LEAK)

# --- livelock: a retry loop nobody ends ----------------------------------------------------

S_SPIN_READ = site("litmus_spinner:read_flag")
S_SPIN_RETRY = spin_site("litmus_spinner:retry")


def spinner(ctx, box):
    while True:
        flag = yield from READ_ONCE(ctx, box, "flag", S_SPIN_READ)
        if flag:
            return
        yield S_SPIN_RETRY


S_SET_FLAG = site("litmus_setter:write_flag")


def setter(ctx, box):
    yield from WRITE_ONCE(ctx, box, "flag", 1, S_SET_FLAG)


# --- a retry after a failed cmpxchg reads what the writer left -------------------------

S_CAS_READ = site("litmus_cas_adder:read")
S_CAS_CMPXCHG = site("litmus_cas_adder:cmpxchg")
S_CAS_RETRY = spin_site("litmus_cas_adder:retry")
S_W1 = site("litmus_two_writes:write_1")
S_W2 = site("litmus_two_writes:write_2")


def cas_adder(ctx, log):
    """``do { old = READ_ONCE(v); } while (cmpxchg(&v, old, old + 10) != old);`` noting
    each value read in ``log.seen``."""
    while True:
        old = yield from READ_ONCE(ctx, log, "flag", S_CAS_READ)
        log.seen.append(old)
        if (yield from cmpxchg(ctx, log, "flag", old, old + 10, S_CAS_CMPXCHG)) == old:
            return
        yield S_CAS_RETRY


def two_writes(ctx, log):
    yield from WRITE_ONCE(ctx, log, "flag", 1, S_W1)
    yield from WRITE_ONCE(ctx, log, "flag", 2, S_W2)


def _setup_log(machine):
    log = Log()
    log.kstate = ALLOCATED         # a static object, outside the leak scan
    return log


def _cas_final(log) -> str:
    return f"read {','.join(map(str, log.seen))} final {log.flag}"


# --- RCU callbacks: invoked on their own schedule, per CPU -------------------------------

S_CB_CALL = site("litmus_cb_queuer:call_rcu")
S_CB_CALL2 = site("litmus_cb_queuer:call_rcu_second")
S_CB_SYNC1 = site("litmus_cb_queuer:synchronize_rcu")
S_CB_SYNC2 = site("litmus_cb_queuer:synchronize_rcu_again")
S_CB_BARRIER = site("litmus_cb_queuer:rcu_barrier")
S_CB_LOOK = site("litmus_cb_queuer:look")
S_CB_RUN = site("litmus_cb_note:run")


def _cb_note(ctx, log, tag):
    yield S_CB_RUN
    log.seen.append(tag)


def _queuer(tags, then=None):
    """Queue one callback per tag (on this CPU); with ``then`` (a wait), wait and note
    which callbacks have run by then."""
    def queuer(ctx, log):
        for i, tag in enumerate(tags):
            yield from call_rcu(ctx, _cb_note, log, tag, site=(S_CB_CALL, S_CB_CALL2)[i])
        if then is not None:
            yield from then(ctx)
            yield S_CB_LOOK
            log.look = "".join(log.seen) or "-"
    return queuer


def _two_syncs(ctx):
    yield from synchronize_rcu(ctx, S_CB_SYNC1)
    yield from synchronize_rcu(ctx, S_CB_SYNC2)


def _barrier(ctx):
    yield from rcu_barrier(ctx, S_CB_BARRIER)


def _cb_final(log) -> str:
    return f"ran {log.look or '?'} by the look, {''.join(log.seen) or '-'} in all"


def _box_with_item(machine):
    return _setup_box(machine, with_item=True)


def _lines(*pairs):
    return list(pairs)


LITMUS: dict[str, Litmus] = {}


def _add(lit: Litmus) -> None:
    LITMUS[lit.name] = lit


_add(Litmus(
    "rcu-reader",
    "An object freed by call_rcu stays valid for a reader that entered its section first.",
    _box_with_item, [("T0", reader), ("T1", updater)],
    reachable={"pass"}, never={UAF_LEAKY},
    schedules={"reader-first": (_lines(("T0", "litmus_reader:load_val"), ("T1", None),
                                       ("rcu_gp", "rcu_gp_kthread:wait_readers")), "pass")},
))
_add(Litmus(
    "rcu-leaky-reader",
    "A reader that keeps the pointer past rcu_read_unlock reads freed memory once the "
    "grace period has run the callback.",
    _box_with_item, [("T0", leaky_reader), ("T1", updater)],
    reachable={"pass", UAF_LEAKY},
    schedules={"read-after-gp": (_lines(("T0", "litmus_leaky_reader:load_val"), ("T1", None),
                                        ("rcu_gp", "rcu_gp_kthread:idle"),
                                        ("rcu_cb", "rcu_do_batch:invoke")), UAF_LEAKY)},
))
_add(Litmus(
    "ipi-sync-irqoff",
    "tlb_remove_table_sync_one waits for a CPU that has IRQs disabled.",
    lambda m: _setup_box(m, with_item=False), [("T0", irqoff_section),
                                               ("T1", _ipi_syncer(IPI_DURING_IRQOFF))],
    reachable={"pass"}, never={IPI_DURING_IRQOFF},
))
_add(Litmus(
    "ipi-sync-rcu",
    "tlb_remove_table_sync_one does not wait for an rcu_read_lock section.",
    lambda m: _setup_box(m, with_item=False), [("T0", rcu_section),
                                               ("T1", _ipi_syncer(IPI_DURING_RCU))],
    reachable={"pass", IPI_DURING_RCU},
    schedules={"sync-inside-section": (_lines(("T0", "litmus_rcu_section:rcu_read_unlock"),
                                              ("T1", None)), IPI_DURING_RCU)},
))
_add(Litmus(
    "synchronize-rcu",
    "synchronize_rcu waits for a reader that was inside its section when it was called.",
    lambda m: _setup_box(m, with_item=False), [("T0", rcu_section), ("T1", rcu_syncer)],
    reachable={"pass"}, never={GP_DURING_RCU},
))
_add(Litmus(
    "abba",
    "Two locks taken in opposite orders: lockdep reports the cycle on every schedule, "
    "including those where no deadlock happens.",
    _setup_locks, [("T0", abba_t0), ("T1", abba_t1)],
    reachable={CIRCULAR}, never={"pass", HUNG_T0},
    schedules={"serial": (_lines(("T0", None), ("T1", None)), CIRCULAR)},
))
_add(Litmus(
    "abba-no-lockdep",
    "The same program without lockdep: the real deadlock is reported as a hung task.",
    _setup_locks, [("T0", abba_t0), ("T1", abba_t1)],
    reachable={"pass", HUNG_T0}, checkers=("kasan", "leaks"),
    schedules={"deadlock": (_lines(("T0", "litmus_abba_t0:lock_b"),
                                   ("T1", "litmus_abba_t1:lock_a")), HUNG_T0)},
))
_add(Litmus(
    "irq-spin-vs-ipi",
    "A CPU spinning on a lock with IRQs off never takes the IPI its holder waits for: a "
    "real deadlock that lockdep's lock graph cannot see.",
    _setup_locks, [("T0", irq_spinner), ("T1", flusher)],
    reachable={"pass", HUNG_SPINNER},
    schedules={"deadlock": (_lines(("T1", "litmus_flusher:tlb_remove_table_sync_one"),
                                   ("T0", "litmus_irq_spinner:spin_lock")), HUNG_SPINNER)},
))
_add(Litmus(
    "recursive", "Taking a spinlock twice.", _setup_locks, [("T0", aa)],
    reachable={"WARNING: possible recursive locking detected"}, never={"pass"},
))
_add(Litmus(
    "sleep-in-rcu", "Taking an rwsem inside an RCU read-side section.", _setup_locks,
    [("T0", sleep_in_rcu)],
    reachable={"BUG: sleeping function called from invalid context"}, never={"pass"},
))
_add(Litmus(
    "unlock-balance", "Unlocking a lock that is not held.", _setup_locks, [("T0", unbalanced)],
    reachable={"WARNING: bad unlock balance detected!"}, never={"pass"},
))
_add(Litmus(
    "held-at-return", "Returning to user space with a spinlock held.", _setup_locks,
    [("T0", forgets_unlock)],
    reachable={"WARNING: lock held when returning to user space!"}, never={"pass"},
))
_add(Litmus(
    "double-free", "Freeing an object twice.", _box_with_item, [("T0", double_free)],
    reachable={"BUG: KASAN: double-free in litmus_double_free"}, never={"pass"},
))
_add(Litmus(
    "invalid-free", "Freeing an object as the wrong type.", _box_with_item,
    [("T0", invalid_free)],
    reachable={"BUG: KASAN: invalid-free in litmus_invalid_free"}, never={"pass"},
))
_add(Litmus(
    "leak", "An object nobody frees is found by the end-of-run scan.",
    lambda m: _setup_box(m, with_item=False), [("T0", leaker)],
    reachable={"memory leak: litmus item"}, never={"pass"},
))
_add(Litmus(
    "livelock", "A retry loop waiting for a flag nobody sets.",
    lambda m: _setup_box(m, with_item=False), [("T0", spinner)],
    reachable={"livelock in litmus_spinner"}, never={"pass"},
))
_add(Litmus(
    "spin-until-set", "A retry loop waiting for a flag another thread sets: every "
                      "interleaving terminates, because a retry yields the CPU.",
    lambda m: _setup_box(m, with_item=False), [("T0", spinner), ("T1", setter)],
    reachable={"pass"}, never={"livelock in litmus_spinner"},
))

_add(Litmus(
    "cmpxchg-retry",
    "A cmpxchg loop retried after another CPU's write reads the value that write left, "
    "before the writer's next step (T0 reads 0, then 1, while T1 writes 1 then 2).",
    _setup_log, [("T0", cas_adder), ("T1", two_writes)],
    reachable={"pass: read 0,1 final 2", "pass: read 0,1,2 final 12"},
    final=_cas_final,
    schedules={"retry-before-second-write": (
        _lines(("T0", "litmus_cas_adder:cmpxchg"), ("T1", "litmus_two_writes:write_2"),
               ("T0", None), ("T1", None)),
        "pass: read 0,1 final 2")},
))
_add(Litmus(
    "rcu-cb-pending",
    "A callback may still be pending after later grace periods have ended: two "
    "synchronize_rcu() calls after call_rcu() do not mean the callback ran.",
    _setup_log, [("T0", _queuer("a", _two_syncs))],
    reachable={"pass: ran a by the look, a in all", "pass: ran - by the look, a in all"},
    final=_cb_final,
    schedules={"pending-after-two-gps": (
        # T0 queues a; blocks in the first synchronize_rcu; grace periods 1 (a's) and 2
        # (the sync's) end; T0 blocks in the second; grace period 3 ends; T0 looks
        # before rcu_cb has been scheduled at all.
        _lines(("T0", "litmus_cb_queuer:synchronize_rcu"),
               ("T0", "litmus_cb_queuer:synchronize_rcu"),
               ("rcu_gp", "rcu_gp_kthread:idle"),
               ("T0", "litmus_cb_queuer:synchronize_rcu_again"),
               ("T0", "litmus_cb_queuer:synchronize_rcu_again"),
               ("rcu_gp", "rcu_gp_kthread:idle"), ("T0", None)),
        "pass: ran - by the look, a in all")},
))
_add(Litmus(
    "rcu-barrier",
    "rcu_barrier() returns only after every callback queued before it, on every CPU, "
    "has run.",
    _setup_log, [("T0", _queuer("a", _barrier)), ("T1", _queuer("b"))],
    final=_cb_final,
    reachable={"pass: ran a by the look, ab in all", "pass: ran ab by the look, ab in all",
               "pass: ran ba by the look, ba in all"},
    never={"pass: ran - by the look, ab in all", "pass: ran - by the look, ba in all",
           "pass: ran b by the look, ba in all"},
    bound=2,
))
_add(Litmus(
    "rcu-cb-order",
    "Callbacks of one CPU run in the order queued; those of two CPUs in either order.",
    _setup_log, [("T0", _queuer("ab")), ("T1", _queuer("c"))],
    final=lambda log: f"ran {''.join(log.seen)}",
    reachable={"pass: ran abc", "pass: ran acb", "pass: ran cab"},
    never={"pass: ran ba", "pass: ran bac", "pass: ran bca", "pass: ran cba"},
    bound=2,
))
