"""What every strategy shares: the interface and the order of options.

A strategy answers one question, "which of these runnable threads steps next?", drawing
any decision from the engine's choice source. Options are numbered so that 0 is the
simplest answer: the current thread keeps running if it may (it is runnable and did not
just spin at a retry site); otherwise option 0 is the first runnable thread after it in
thread-id order, wrapping around. Higher options rotate on from there.
"""

from __future__ import annotations

__all__ = ["Strategy", "first_option"]


def first_option(runnable, cur, keep: bool) -> int:
    """Index in ``runnable`` (sorted by tid) of option 0."""
    if cur is None:
        return 0
    if keep:
        return runnable.index(cur)
    tid = cur.tid
    for i, t in enumerate(runnable):
        if t.tid > tid:
            return i
    return 0


class Strategy:
    """Base class. ``attach`` is called once by the engine; ``pick`` at every step with
    the runnable threads (sorted by tid), the thread that ran the previous step (or
    None), and whether that thread may keep running without a context switch."""

    name = "strategy"

    def attach(self, engine) -> None:
        self.engine = engine
        self.choose = engine.source.choose

    def pick(self, runnable, cur, keep) -> None:
        raise NotImplementedError

    def check_invariants(self) -> None:
        """Raise :class:`~core.sim.invariants.InvariantViolation` if the strategy's own
        state is inconsistent (called after every step when the engine checks its
        invariants)."""

    def describe(self) -> str:
        return self.name
