"""What every lock shares: a lockdep class, the memory it lives in, a wait queue, and the
held-lock stack of each CPU.

``mem`` is the lifetime-tracked object whose memory holds the lock word: the lock's own
object for a separately allocated ptlock, the PTE table for an embedded split lock, the
mm for ``page_table_lock``. Every lock operation is an access to ``mem``, so operating on
a lock whose memory was freed is a KASAN report, as in the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import WaitQueue
from .context import HeldLock

if TYPE_CHECKING:
    from ..sim.traps import Site
    from .context import Ctx

__all__ = ["LockClass", "lock_class", "Lock", "push_held", "pop_held"]

_CLASSES: dict[str, LockClass] = {}


class LockClass:
    """A lockdep class (the kernel's ``lock_class_key``). ``nests`` allows several
    instances of the class to be held at once without a nesting annotation (folio locks,
    which lockdep does not track as instances); ``check`` False keeps the class out of
    the order graph (the RCU read-side map, taken as a recursive read lock)."""

    __slots__ = ("name", "nests", "check")

    def __init__(self, name: str, nests: bool, check: bool) -> None:
        self.name = name
        self.nests = nests
        self.check = check

    def __repr__(self) -> str:
        return f"<LockClass {self.name}>"


def lock_class(name: str, nests: bool = False, check: bool = True) -> LockClass:
    """The class called ``name`` (created once; lockdep keys are static)."""
    c = _CLASSES.get(name)
    if c is None:
        c = _CLASSES[name] = LockClass(name, nests, check)
    return c


class Lock:
    __slots__ = ("name", "lclass", "mem", "wq")

    def __init__(self, name: str, lclass: LockClass, mem) -> None:
        self.name = name
        self.lclass = lclass
        self.mem = mem
        self.wq = WaitQueue(name, self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def push_held(ctx: Ctx, lock, subclass: int, site: Site, mode: str) -> None:
    ctx.held.append(HeldLock(lock, subclass, site, mode))


def pop_held(ctx: Ctx, lock) -> HeldLock | None:
    """Remove the most recent entry for ``lock`` (locks need not be released in LIFO
    order)."""
    held = ctx.held
    for i in range(len(held) - 1, -1, -1):
        if held[i].lock is lock:
            return held.pop(i)
    return None
