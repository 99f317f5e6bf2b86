"""A simulated thread (a CPU): a generator plus the engine's bookkeeping about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .traps import Site

if TYPE_CHECKING:
    from .waitq import WaitQueue

__all__ = ["Thread", "RUNNABLE", "WAITING", "DONE"]

RUNNABLE, WAITING, DONE = "runnable", "waiting", "done"


class Thread:
    """One simulated CPU.

    ``pending`` is the site the thread will execute when next resumed; ``waitq`` the
    wait queue it is parked on, if any. ``daemon`` threads (the RCU grace-period kthread,
    idle kernel threads) do not keep a run alive: a run ends when every non-daemon thread
    is done. ``ctx`` is opaque to the engine: the kernel layer keeps its per-CPU state
    (IRQ and RCU nesting, held locks) there.
    """

    __slots__ = ("tid", "name", "gen", "pending", "state", "waitq", "daemon",
                 "engine", "ctx", "steps", "spun")

    def __init__(self, engine, tid: int, name: str, gen, daemon: bool) -> None:
        self.engine = engine
        self.tid = tid
        self.name = name
        self.gen = gen
        self.daemon = daemon
        self.pending: Site | None = None
        self.state = RUNNABLE
        self.waitq: WaitQueue | None = None
        self.ctx = None
        self.steps = 0
        self.spun = False

    def __repr__(self) -> str:
        where = self.pending.name if self.pending is not None else "-"
        return f"<Thread {self.name} {self.state} at {where}>"
