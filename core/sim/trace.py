"""The trace of a run: every step as (thread, site), plus the choices answered.

The hash is over names (thread names, site names, choice values and bounds), never over
ids or registration order, so it is stable across processes, ``PYTHONHASHSEED`` values and
unrelated changes to the model.
"""

from __future__ import annotations

from collections.abc import Iterator
import hashlib


__all__ = ["Trace"]


class Trace:
    __slots__ = ("steps", "names", "values", "bounds", "data", "pending", "preemptions")

    def __init__(self, steps, names, values, bounds, data=(), pending=None, preemptions=()) -> None:
        self.steps = steps          # list of (tid, Site) in execution order
        self.names = names          # tid -> thread name
        self.values = values        # every answered choice, in order
        self.bounds = bounds
        self.data = data            # (step index, label, value) of each data choice
        self.pending = pending or {}  # tid -> the site it would perform next (None: done)
        self.preemptions = preemptions  # step indices where a runnable thread was switched
                                        # away from (not part of the hash: derived)

    def __len__(self) -> int:
        return len(self.steps)

    def lines(self) -> Iterator[str]:
        names = self.names
        for tid, s in self.steps:
            yield f"{names[tid]}@{s.name}"

    def sites(self) -> set[str]:
        return {s.name for _, s in self.steps}

    def hash(self) -> str:
        h = hashlib.blake2b(digest_size=8)
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        h.update(b"choices")
        for v, n in zip(self.values, self.bounds, strict=True):
            h.update(f" {v}/{n}".encode())
        return h.hexdigest()

    def segments(self):
        """Consecutive runs of one thread: [(name, nsteps, last site executed)]."""
        out: list[list] = []
        for tid, s in self.steps:
            name = self.names[tid]
            if out and out[-1][0] == name:
                out[-1][1] += 1
                out[-1][2] = s.name
            else:
                out.append([name, 1, s.name])
        return [tuple(x) for x in out]

    def tail(self, n: int = 40) -> list[str]:
        names = self.names
        return [f"{names[tid]}@{s.name}" for tid, s in self.steps[-n:]]
