"""The campaign's head: hands work items to workers, gathers their messages, de-duplicates
reports by title, minimizes each new one, restarts dead workers, and alone writes the
campaign directory (:mod:`.store`), which it locks. Ctrl-C, SIGTERM or the time budget
stops the workers and writes the summary; running again on the same directory resumes,
from the last checkpoint (every few seconds) if the head was killed, and first minimizes
any finding whose minimization was cut short.

It stops early, with ``CampaignResult.error`` set, when the disk is full (everything
written so far stays) or when one work item keeps failing (the item, its driver and why).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, replace

from core.program.kprog import KprogError, dumps, loads
from core.program.minimize import minimize

from .live import summary_json, summary_markdown
from .plan import item as work_item
from .store import CampaignDir, DiskError

__all__ = ["run_campaign", "CampaignResult", "CampaignOptions"]

STATS_EVERY = 1.0
CHECKPOINT_EVERY = 5.0   # seconds between saves of campaign.json and coverage.json
MINIMIZE_SECONDS = 60.0
GRACE = 3.0          # seconds past the budget for items in flight to report back
MAX_FAILURES = 3     # one item failing (its worker dying, or raising) this often: give up
BACKOFF = (0.0, 0.5, 1.0, 2.0, 4.0)   # seconds before restarting a worker that died again


@dataclass
class CampaignOptions:
    directory: str
    seconds: float
    workers: int
    portfolio: tuple
    seed: int
    bugs: tuple = ()
    configs: tuple = ()
    backend: str = "local"
    address: str | None = None
    slice_seconds: float = 20.0
    max_items: int | None = None    # stop after this many work items (with item_runs:
    item_runs: int | None = None    # a campaign that runs the same on any backend)


@dataclass
class Crash:
    title: str
    count: int
    first_seconds: float
    first_item: int
    driver: str
    executions: int          # the campaign's executions when it was first seen
    path: str                # the reproducer (minimized, else the raw case)
    minimized: bool | None = False  # None: tried, could not be (not tried again)
    minimize_seconds: float | None = None
    new: bool = True         # found in this run (not loaded when resuming)

    def counts(self) -> dict:
        return {"count": self.count, "first_seconds": round(self.first_seconds, 3),
                "first_item": self.first_item, "driver": self.driver,
                "executions": self.executions, "minimized": self.minimized,
                "minimize_seconds": self.minimize_seconds}


@dataclass
class CampaignResult:
    directory: str
    seconds: float
    executions: int
    steps: int
    by_driver: dict
    crashes: dict            # title -> Crash
    sites: int
    pairs: int
    restarts: int
    interrupted: bool
    items: int
    error: str | None = None     # why the campaign stopped before its end, if it did


class _Totals:
    """Executions and steps: finished items, plus the progress of items in flight."""

    def __init__(self):
        self.done = Counter()                 # (driver, "executions"|"steps") -> n
        self.flight: dict = {}                # item number -> (driver, execs, steps)

    def progress(self, number: int, driver: str, execs: int, steps: int) -> None:
        self.flight[number] = (driver, execs, steps)

    def finish(self, number: int) -> None:
        driver, execs, steps = self.flight.pop(number, (None, 0, 0))
        if driver is not None:
            self.done[(driver, "executions")] += execs
            self.done[(driver, "steps")] += steps

    def by_driver(self) -> dict:
        out: dict = {}
        for (d, k), v in self.done.items():
            out.setdefault(d, {"executions": 0, "steps": 0})[k] += v
        for d, execs, steps in self.flight.values():
            r = out.setdefault(d, {"executions": 0, "steps": 0})
            r["executions"] += execs
            r["steps"] += steps
        return out

    def total(self, key: str) -> int:
        return sum(r[key] for r in self.by_driver().values())


class Head:
    def __init__(self, opts: CampaignOptions, backend, live=None, meta_extra=None):
        self.opts = opts
        self.backend = backend
        self.live = live
        self.store = CampaignDir(opts.directory)
        self.store.lock()
        try:
            self._load(meta_extra)
        except BaseException:
            self.store.unlock()
            raise

    def _load(self, meta_extra) -> None:
        opts = self.opts
        meta = {"seed": opts.seed, "portfolio": [list(p) for p in opts.portfolio],
                "bugs": sorted(opts.bugs), "configs": list(opts.configs),
                **(meta_extra or {})}
        self.meta = self.store.load_or_create(meta)
        self.portfolio = tuple((d, w) for d, w in self.meta["portfolio"])
        self.totals = _Totals()
        prior = self.meta.get("totals", {})
        for d, r in prior.items():
            self.totals.done[(d, "executions")] += r["executions"]
            self.totals.done[(d, "steps")] += r["steps"]
        self.offset = self.meta.get("seconds", 0.0)    # time spent by earlier runs
        cov = self.store.load_coverage()
        self.sites: set = set(cov.get("sites", []))
        self.pairs: set = {tuple(p) for p in cov.get("pairs", [])}
        self.crashes: dict = {}
        for title, c in self.store.known_crashes().items():
            path = self.store.crash_folder(title)
            repro = os.path.join(path, "reproducer.kprog")
            self.crashes[title] = Crash(
                title, c["count"], c["first_seconds"], c["first_item"], c["driver"],
                c["executions"], repro if os.path.exists(repro) else
                os.path.join(path, "first.raw.kprog"), c.get("minimized", False),
                c.get("minimize_seconds"), new=False)
        self.in_flight: dict = {}        # wid -> WorkItem
        self.requeue: list = []
        self.items_run = 0
        self.issued = 0
        self.failures: Counter = Counter()   # item number -> failures
        self.deaths: Counter = Counter()     # wid -> deaths in a row (restart back-off)
        self.error: str | None = None
        self.started = time.monotonic()

    # -- time ------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def campaign_seconds(self) -> float:
        return self.offset + self.elapsed()

    # -- handing out work --------------------------------------------------------------

    def _next_item(self):
        if self.requeue:
            return self.requeue.pop(0)
        n = self.meta["next_item"]
        self.meta["next_item"] = n + 1
        self.issued += 1
        return work_item(self.opts.seed, self.portfolio, n, self.opts.slice_seconds,
                         self.opts.item_runs)

    def _more_items(self) -> bool:
        return (self.requeue or self.opts.max_items is None
                or self.issued < self.opts.max_items)

    def _feed(self) -> None:
        left = self.opts.seconds - self.elapsed()
        if left < 1.0:
            return
        for wid in range(self.backend.workers):
            if wid in self.in_flight or not self._more_items():
                continue
            it = self._next_item()
            if it.seconds > left:
                it = replace(it, seconds=max(0.5, left - 0.5))
            self.in_flight[wid] = it
            corpus = self.store.atheris_corpus() if it.driver == "atheris" else ()
            self.backend.submit(wid, it, corpus)

    # -- messages ----------------------------------------------------------------------

    def _handle(self, wid: int, msg) -> None:
        kind = msg[0]
        it = self.in_flight.get(wid)
        if kind in ("died", "error"):
            # A dead worker: a new one takes its place (after a back-off if it keeps
            # dying), and its item (the same seed: the same search) goes to the next free
            # worker. Its findings so far arrived already (a finding is sent the moment
            # the search returns). A worker whose item raised lives on.
            if kind == "died":
                self.deaths[wid] += 1
                time.sleep(BACKOFF[min(self.deaths[wid], len(BACKOFF)) - 1])
                self.backend.restart(wid)
            if it is not None:
                self.in_flight.pop(wid)
                self.totals.flight.pop(it.number, None)
                self.failures[it.number] += 1
                self.requeue.append(it)          # (after a stop: run again on resume)
                if self.failures[it.number] >= MAX_FAILURES:
                    why = msg[2] if kind == "error" else "its worker died"
                    self.error = (f"work item {it.number} ({it.driver}, seed {it.seed}) "
                                  f"failed {MAX_FAILURES} times: {why}")
            return
        if kind == "progress":
            _, number, execs, steps, sites, pairs = msg
            if it is not None:
                self.totals.progress(number, it.driver, execs, steps)
            self.sites.update(sites)
            self.pairs.update(tuple(p) for p in pairs)
        elif kind == "input":
            _, _number, driver, name, data = msg
            self.store.add_input(driver, name, data)
        elif kind == "finding":
            _, number, title, raw, report, execs = msg
            self._finding(it, number, title, raw, report)
        elif kind == "done":
            _, number, execs, steps, _seconds = msg
            if it is not None:
                self.totals.progress(number, it.driver, execs, steps)
            self.totals.finish(number)
            self.in_flight.pop(wid, None)
            self.items_run += 1
            self.deaths[wid] = 0

    def _finding(self, it, number: int, title: str, raw: str, report: str) -> None:
        known = self.crashes.get(title)
        if known is not None:
            known.count += 1
            self.store.write_counts(title, known.counts())
            return
        driver = it.driver if it is not None else "?"
        crash = Crash(title, 1, self.campaign_seconds(), number, driver,
                      self.totals.total("executions"), "")
        # The raw case first: if minimizing fails or the head is killed, it is on disk
        # (and a resume minimizes it: counts.json says it is not minimized yet).
        crash.path = self.store.write_crash(title, raw, report, crash.counts(), None)
        self.crashes[title] = crash
        if self.live is not None:
            self.live.note(f"new report: {title} ({driver}, item {number}); minimizing")
        self._minimize(crash, raw, report)

    def _minimize(self, crash: Crash, raw: str, report: str) -> None:
        try:
            m = minimize(loads(raw), crash.title, seconds=MINIMIZE_SECONDS, validate=5)
        except (KprogError, ValueError) as e:
            crash.minimized = None               # tried: not minimizable (not again)
            self.store.write_counts(crash.title, crash.counts())
            if self.live is not None:
                self.live.note(f"  not minimized: {e}")
            return
        if m.stable:
            crash.minimized, crash.minimize_seconds = True, round(m.seconds, 3)
        else:
            crash.minimized = None               # tried: not stable (not again)
        crash.path = self.store.write_crash(crash.title, raw, report, crash.counts(),
                                            dumps(m.program) if m.stable else None)

    def _resume_minimizations(self) -> None:
        """Findings of an earlier run whose minimization was cut short (the head killed
        while minimizing): minimize them now, before any new work."""
        for crash in list(self.crashes.values()):
            if crash.minimized is not False:
                continue
            folder = self.store.crash_folder(crash.title)
            try:
                with open(f"{folder}/first.raw.kprog", encoding="utf-8") as fh:
                    raw = fh.read()
                with open(f"{folder}/report.txt", encoding="utf-8") as fh:
                    report = fh.read().rstrip("\n")
            except OSError:
                continue
            if self.live is not None:
                self.live.note(f"minimizing {crash.title} (cut short in an earlier run)")
            self._minimize(crash, raw, report)

    # -- the loop ----------------------------------------------------------------------

    def _record(self) -> dict:
        rec = {"t": round(self.campaign_seconds(), 2),
               "executions": self.totals.total("executions"),
               "steps": self.totals.total("steps"), "sites": len(self.sites),
               "pairs": len(self.pairs), "reports": len(self.crashes),
               "drivers": self.totals.by_driver(), "workers": self.backend.workers,
               "restarts": self.backend.restarts}
        return rec

    def _save_meta(self) -> None:
        """Save campaign.json and coverage.json: what a resume continues from. Items in
        flight (or waiting to be run again) are run again on resume (the same seeds), so
        the saved next item is the first of them; the totals include their progress."""
        meta = dict(self.meta)
        meta["seconds"] = round(self.campaign_seconds(), 3)
        meta["totals"] = self.totals.by_driver()
        pending = sorted([it.number for it in self.in_flight.values()]
                         + [it.number for it in self.requeue])
        meta["next_item"] = min([self.meta["next_item"], *pending])
        self.store.save_meta(meta)
        self.store.save_coverage(sorted(self.sites), sorted(list(p) for p in self.pairs))

    def _running(self) -> bool:
        t = self.elapsed()
        if not self._more_items() and not self.in_flight:
            return False                    # every item of a bounded campaign is done
        if t < self.opts.seconds:
            return True
        return bool(self.in_flight) and t < self.opts.seconds + GRACE

    def run(self) -> CampaignResult:
        try:
            return self._run()
        finally:
            self.store.unlock()

    def _run(self) -> CampaignResult:
        interrupted = False
        try:
            self._resume_minimizations()
            self.backend.start()
            self._loop()
        except KeyboardInterrupt:
            interrupted = True
        except DiskError as e:
            self.error = f"the disk is full or failing ({e}); every finding written so far is kept"
        finally:
            self.backend.stop()
        # Messages sent just before the stop (a finding at the last moment).
        try:
            for wid, msg in self.backend.drain():
                if msg[0] in ("finding", "input"):
                    self._handle(wid, msg)
        except (AttributeError, OSError, DiskError):
            pass
        rec = self._record()
        if rec["executions"] == 0 and not interrupted and self.error is None:
            self.error = "no work was done (no execution finished)"
        try:
            self.store.append_stats(rec)
            self._save_meta()
        except (DiskError, OSError) as e:
            self.error = self.error or f"could not save the campaign state ({e})"
        result = CampaignResult(self.opts.directory, self.campaign_seconds(),
                                rec["executions"], rec["steps"], rec["drivers"],
                                self.crashes, len(self.sites), len(self.pairs),
                                self.backend.restarts, interrupted, self.items_run,
                                self.error)
        try:
            self.store.write_summary(summary_json(result), summary_markdown(result))
        except (DiskError, OSError):
            pass
        return result

    def _loop(self) -> None:
        last = last_checkpoint = 0.0
        while self._running() and self.error is None:
            self._feed()
            for wid, msg in self.backend.poll(0.2):
                self._handle(wid, msg)
            now = self.elapsed()
            if now - last >= STATS_EVERY:
                last = now
                rec = self._record()
                self.store.append_stats(rec)
                if self.live is not None:
                    self.live.update(rec, self.crashes)
            if now - last_checkpoint >= CHECKPOINT_EVERY:
                last_checkpoint = now
                self._save_meta()


def run_campaign(opts: CampaignOptions, backend, live=None, meta_extra=None) -> CampaignResult:
    return Head(opts, backend, live, meta_extra).run()
