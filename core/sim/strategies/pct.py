"""PCT: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
ASPLOS 2010).

Each thread gets a random distinct priority; the highest-priority runnable thread always
runs. ``depth - 1`` change points are drawn among the first ``k`` steps; when the run
reaches the i-th change point, the running thread's priority drops to ``depth - i``, below
every initial priority. A bug of depth d is then found with probability at least
1/(n * k^(d-1)) per run, for n threads and k steps.

Choices, with 0 the simplest: the initial priorities are a Fisher-Yates draw in which all
zeros give thread-id order (the first thread highest, so it runs until it blocks); a
change point drawn as 0 is disabled (the paper draws from 1..k; allowing "none" lets a
shrinker remove a preemption). Threads spawned during the run draw a rank among the
existing ones. A thread that spins at a retry site drops below everybody, as a yielding
thread does in CHESS-style fair schedulers, so strict priorities cannot livelock a retry
loop that waits for a lower-priority thread.
"""

from __future__ import annotations

from .base import Strategy

__all__ = ["PCT"]

_HAIR = 2.0 ** -40       # far below any gap between two priorities PCT assigns


class PCT(Strategy):
    name = "pct"

    def __init__(self, depth: int = 3, k: int = 1000) -> None:
        if depth < 1 or k < 1:
            raise ValueError("PCT needs depth >= 1 and k >= 1")
        self.depth = depth
        self.k = k
        self.nthreads = 0           # known once attached and started (describe may come first)

    def attach(self, engine) -> None:
        super().attach(engine)
        self.prio: dict[int, float] = {}
        self.change_points: dict[int, int] = {}
        self.nsteps = 0
        self.nthreads = 0
        self.started = False

    def _start(self, threads) -> None:
        self.started = True
        order = list(threads)
        # Fisher-Yates from the front: slot i takes one of the threads not yet placed.
        for i in range(len(order) - 1):
            j = i + self.choose(len(order) - i, "pct_prio")
            order[i], order[j] = order[j], order[i]
        top = self.depth + len(order) - 1
        for rank, t in enumerate(order):
            self.prio[t.tid] = float(top - rank)
        for i in range(1, self.depth):
            step = self.choose(self.k + 1, "pct_change")
            if step and step not in self.change_points:
                self.change_points[step] = i
        self.nthreads = len(order)

    def _place_new(self, t) -> None:
        initial = sorted((p for p in self.prio.values() if p >= self.depth), reverse=True)
        rank = self.choose(len(initial) + 1, "pct_prio")
        if not initial:
            p = float(self.depth)
        elif rank == 0:
            p = initial[0] + 1.0
        elif rank == len(initial):
            p = (initial[-1] + self.depth) / 2.0 if initial[-1] > self.depth else initial[-1] - 0.5
        else:
            p = (initial[rank - 1] + initial[rank]) / 2.0
        self._assign(t.tid, p)
        self.nthreads += 1

    def _assign(self, tid: int, p: float) -> None:
        """Give thread ``tid`` priority ``p``, distinct from every other thread's. A spun
        thread's "below everybody" and a later change point's ``depth - i`` can meet (the
        soak found it: 30 runs in a million); where another thread holds ``p``, the tie
        is broken as ``pick`` would break it (the lower thread id first) by a hair, so the
        schedules are exactly those of the tie-breaking order and the order stays strict."""
        others = {v: t for t, v in self.prio.items() if t != tid}
        while p in others:
            p = p + _HAIR if tid < others[p] else p - _HAIR
        self.prio[tid] = p

    def pick(self, runnable, cur, keep):
        if not self.started:
            self._start(self.engine.threads)
        prio = self.prio
        for t in runnable:
            if t.tid not in prio:
                self._place_new(t)
        self.nsteps += 1
        if cur is not None:
            i = self.change_points.get(self.nsteps)
            if i is not None:
                self._assign(cur.tid, float(self.depth - i))
            if cur.spun:
                self._assign(cur.tid, min(prio.values()) - 1.0)
        best = runnable[0]
        bp = prio[best.tid]
        for t in runnable:
            p = prio[t.tid]
            if p > bp:
                best, bp = t, p
        return best

    def check_invariants(self) -> None:
        """Priorities are distinct (PCT's guarantee assumes a strict order; ``_assign``
        keeps it so)."""
        prio = self.prio
        if len(set(prio.values())) != len(prio):
            from ..invariants import InvariantViolation
            names = {t.tid: t.name for t in self.engine.threads}
            raise InvariantViolation("PCT priorities not distinct", ", ".join(
                f"{names.get(tid, tid)}={p}" for tid, p in sorted(prio.items())))

    def describe(self) -> str:
        return f"pct(n={self.nthreads}, k={self.k}, d={self.depth})"
