"""Workers as local processes, one duplex pipe each.

The head sends a worker one work item at a time; the worker sends back the item's
messages as they happen (:mod:`.worker`). One pipe per worker, not shared queues: a worker
killed in the middle of a write can only break its own pipe, which the head sees as end
of file, and then it starts a new worker and gives the item to another.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
import traceback
from multiprocessing.connection import wait

from .worker import Coverage, run_item

__all__ = ["LocalBackend"]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the head dies (prctl PR_SET_PDEATHSIG), so a
    head killed by SIGKILL leaves no worker behind; where there is no prctl, a worker
    still ends at its next receive (end of file) or send (broken pipe)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _worker_main(conn, spec, head_ends=(), head_pid=None) -> None:
    # Ctrl-C reaches the whole process group: the head decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _die_with_parent()
    if head_pid is not None and os.getppid() != head_pid:
        return                          # the head died before the request took effect
    # A forked worker holds copies of the head's ends of the pipes: closed, so the head's
    # death is an end of file here.
    for c in head_ends:
        c.close()
    coverage = Coverage()               # what this worker has seen, across its items
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        item, corpus = job
        try:
            run_item(item, spec, conn.send, coverage, corpus)
        except (BrokenPipeError, EOFError):
            return
        except Exception as e:         # noqa: BLE001 - reported to the head, which decides
            where = traceback.extract_tb(e.__traceback__)[-1]
            conn.send(("error", item.number, f"{type(e).__name__}: {e} (at "
                       f"{os.path.basename(where.filename)}:{where.lineno})"))


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
        forked = self.ctx.get_start_method() == "fork"
        head_ends = [parent, *self.conns.values()] if forked else []
        p = self.ctx.Process(target=_worker_main,
                             args=(child, self.spec, head_ends, os.getpid()),
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
