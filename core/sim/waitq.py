"""The one wait-queue type on which every blocking primitive parks threads."""

from __future__ import annotations

__all__ = ["WaitQueue"]


class WaitQueue:
    """Threads parked until a state change. Waking makes them runnable again; each woken
    thread re-checks its condition when it next runs (kernel ``wait_event`` style), so a
    spurious or early wake-up is harmless and fairness is the scheduler's business."""

    __slots__ = ("name", "waiters", "owner")

    def __init__(self, name: str, owner=None) -> None:
        self.name = name
        self.waiters: list = []
        self.owner = owner          # what the queue belongs to (a lock), for checks

    def wake_all(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for t in waiters:
                t.engine.wake(t)

    def __repr__(self) -> str:
        return f"<WaitQueue {self.name} waiters={[t.name for t in self.waiters]}>"
