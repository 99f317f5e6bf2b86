"""Workers as local processes, one duplex pipe each.

The head sends a worker one work item at a time; the worker sends back the item's
messages as they happen (:mod:`.worker`). One pipe per worker, not shared queues: a worker
killed in the middle of a write can only break its own pipe, which the head sees as end
of file, and then it starts a new worker and gives the item to another.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
from multiprocessing.connection import wait

from .worker import Coverage, run_item

__all__ = ["LocalBackend"]


def _worker_main(conn, spec) -> None:
    # Ctrl-C reaches the whole process group: the head decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    coverage = Coverage()               # what this worker has seen, across its items
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        item, corpus = job
        run_item(item, spec, conn.send, coverage, corpus)


class LocalBackend:
    name = "local"

    def __init__(self, workers: int, spec):
        self.workers = workers
        self.spec = spec
        methods = mp.get_all_start_methods()
        self.ctx = mp.get_context("fork" if "fork" in methods else "spawn")
        self.procs: dict = {}
        self.conns: dict = {}
        self.restarts = 0

    def describe(self) -> str:
        return f"{self.workers} local worker processes"

    def start(self) -> None:
        for wid in range(self.workers):
            self._spawn(wid)

    def _spawn(self, wid: int) -> None:
        parent, child = self.ctx.Pipe(duplex=True)
        p = self.ctx.Process(target=_worker_main, args=(child, self.spec),
                             name=f"ptfuzz-worker-{wid}", daemon=True)
        p.start()
        child.close()
        self.procs[wid], self.conns[wid] = p, parent

    def pid(self, wid: int) -> int | None:
        p = self.procs.get(wid)
        return p.pid if p is not None else None

    def submit(self, wid: int, item, corpus) -> None:
        try:
            self.conns[wid].send((item, corpus))
        except (BrokenPipeError, OSError):
            pass                    # it died: poll() reports it

    def poll(self, timeout: float):
        """[(wid, message)] ready now; ``("died",)`` as the message of a dead worker."""
        by_conn = {c: wid for wid, c in self.conns.items()}
        out = []
        for conn in wait(list(by_conn), timeout):
            wid = by_conn[conn]
            try:
                while conn.poll():
                    out.append((wid, conn.recv()))
            except (EOFError, OSError):
                out.append((wid, ("died",)))
        return out

    def restart(self, wid: int) -> None:
        p = self.procs.pop(wid)
        self.conns.pop(wid).close()
        if p.is_alive():
            p.kill()
        p.join(timeout=5)
        self.restarts += 1
        self._spawn(wid)

    def stop(self) -> None:
        for conn in self.conns.values():
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()           # a worker mid-item: SIGTERM, it exits cleanly
        for p in self.procs.values():
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        self.leftover = []
        for wid, conn in self.conns.items():
            try:
                while conn.poll():
                    self.leftover.append((wid, conn.recv()))
            except (EOFError, OSError):
                pass
            conn.close()

    def drain(self):
        """Messages that arrived between the last poll and the stop."""
        return getattr(self, "leftover", [])
