"""Workers as Ray actors, on a local Ray instance or an existing cluster (``--address``).

Each actor runs one work item at a time; its messages (:mod:`.worker`) wait in the actor
until the head takes them: every ``SLICE`` seconds while the item runs (the actor has a
second thread for that), and the rest when the item ends, so the live panel moves while
items run. A finding ends an item at once, so it travels back to the head promptly, and
the head alone writes the campaign directory: no shared file system is needed. An actor
that dies is replaced and its item given to another (the same seed: the same search).
"""

from __future__ import annotations

import threading
import time

from .worker import Coverage, run_item

SLICE = 1.0                      # seconds between the head's collections from busy actors

__all__ = ["RayBackend", "ray_available"]


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


class _Runner:
    """The actor's body (wrapped by ``ray.remote`` with two threads when the backend
    starts): ``run`` works an item, ``take`` hands over the messages so far, from the
    other thread."""

    def __init__(self, spec):
        self.spec = spec
        self.coverage = Coverage()
        self.lock = threading.Lock()
        self.out: list = []

    def pid(self) -> int:
        import os
        return os.getpid()

    def _emit(self, msg) -> None:
        with self.lock:
            self.out.append(msg)

    def take(self) -> list:
        with self.lock:
            out, self.out = self.out, []
        return out

    def run(self, item, corpus) -> list:
        run_item(item, self.spec, self._emit, self.coverage, corpus)
        return self.take()


class RayBackend:
    name = "ray"

    def __init__(self, workers: int, spec, address: str | None = None):
        self.workers = workers
        self.spec = spec
        self.address = address
        self.actors: dict = {}
        self.pending: dict = {}           # ObjectRef -> wid
        self.restarts = 0
        self.leftover: list = []
        self.last_slice = 0.0

    def describe(self) -> str:
        where = self.address or "a local Ray instance"
        return f"{self.workers} Ray actors on {where}"

    def start(self) -> None:
        import ray
        if not ray.is_initialized():
            kw = {"address": self.address} if self.address else {
                "num_cpus": self.workers, "include_dashboard": False}
            ray.init(ignore_reinit_error=True, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONHASHSEED": "0"}}, **kw)
        self._remote = ray.remote(num_cpus=1, max_restarts=0, max_concurrency=2)(_Runner)
        for wid in range(self.workers):
            self.actors[wid] = self._remote.remote(self.spec)

    def pid(self, wid: int) -> int | None:
        import ray
        return ray.get(self.actors[wid].pid.remote())

    def submit(self, wid: int, item, corpus) -> None:
        ref = self.actors[wid].run.remote(item, corpus)
        self.pending[ref] = wid

    def poll(self, timeout: float):
        import ray
        if not self.pending:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            wid = self.pending.pop(ref)
            try:
                out += [(wid, m) for m in ray.get(ref)]
            except ray.exceptions.RayError:
                out.append((wid, ("died",)))
        now = time.monotonic()
        if now - self.last_slice >= SLICE:
            self.last_slice = now
            out += self._slices(ray)
        return out

    def _slices(self, ray) -> list:
        """The messages busy actors hold so far (progress while an item runs)."""
        busy = sorted(set(self.pending.values()))
        refs = {self.actors[wid].take.remote(): wid for wid in busy}
        out = []
        for ref, wid in refs.items():
            try:
                out += [(wid, m) for m in ray.get(ref, timeout=SLICE)]
            except ray.exceptions.RayError:
                pass                    # a dead actor: its run() reference says so
            except TimeoutError:
                pass
        return out

    def restart(self, wid: int) -> None:
        import ray
        try:
            ray.kill(self.actors[wid])
        except Exception:               # noqa: BLE001 - already gone
            pass
        self.restarts += 1
        self.actors[wid] = self._remote.remote(self.spec)

    def stop(self) -> None:
        import ray
        # Items still running are cut short: what they would return is lost except
        # findings, which end an item (and so have returned already).
        for actor in self.actors.values():
            try:
                ray.kill(actor)
            except Exception:           # noqa: BLE001
                pass
        self.pending.clear()

    def drain(self):
        return self.leftover
