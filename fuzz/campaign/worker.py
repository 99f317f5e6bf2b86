"""One work item, run where a worker runs, reported as messages (plain tuples, so they
cross process and Ray boundaries):

* ``("progress", n, executions, steps, new_sites, new_pairs)``: counts so far in item
  ``n``, and the sites and site pairs (by name) it reached that the worker had not seen;
* ``("input", n, driver, name, data)``: an interesting input for the campaign's corpus
  (a ``.kprog`` text that reached new site pairs, or a raw libFuzzer input, as bytes);
* ``("finding", n, title, raw_kprog_text, report_text, executions)``;
* ``("done", n, executions, steps, seconds)``.

The worker never writes the campaign directory: the head does, from these messages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import NamedTuple

from core.program.kprog import dumps
from core.program.schedule import with_schedule

from ..drivers import Budget, make_driver
from ..findings import make_finding
from ..target import make_target

__all__ = ["run_item", "TargetSpec", "Coverage"]

PROGRESS_EVERY = 0.5            # seconds between progress messages
MAX_INPUTS = 50                 # interesting inputs an item sends back at most


class TargetSpec(NamedTuple):
    """What ``make_target`` builds the target from (it crosses process boundaries)."""

    bugs: tuple = ()           # bug switch names
    configs: tuple = ()        # "K=V" config items


class Coverage:
    """The sites and site pairs a worker has seen (kept across its items); each case's
    new ones are noted, and a case that reached new pairs is kept as an interesting
    input."""

    def __init__(self):
        self.sites: set = set()
        self.pairs: set = set()
        self.new_sites: list = []
        self.new_pairs: list = []
        self.inputs: list = []

    def __call__(self, case) -> None:
        out = case.outcome
        steps = out.trace.steps
        sites = self.sites
        pairs = self.pairs
        fresh = False
        prev_tid, prev = None, None
        for i in range(out.start, len(steps)):
            tid, s = steps[i]
            name = s.name
            if name not in sites:
                sites.add(name)
                self.new_sites.append(name)
            if prev_tid is not None and tid != prev_tid:
                pair = (prev, name)
                if pair not in pairs:
                    pairs.add(pair)
                    self.new_pairs.append(pair)
                    fresh = True
            prev_tid, prev = tid, name
        if fresh and not case.found and len(self.inputs) < MAX_INPUTS:
            prog = with_schedule(case.program, out, ("# reached new site pairs",))
            self.inputs.append(dumps(prog))

    def take(self):
        s, p = self.new_sites, self.new_pairs
        self.new_sites, self.new_pairs = [], []
        return s, p


def _listing(folder: str | None) -> set:
    return set(os.listdir(folder)) if folder and os.path.isdir(folder) else set()


def run_item(item, spec: TargetSpec, emit, cov: Coverage | None = None,
             atheris_corpus=()) -> None:
    """Run ``item``, passing the messages above to ``emit`` as they happen (a finding
    first, as soon as the search returns). ``atheris_corpus`` is the campaign's raw
    libFuzzer inputs as (name, bytes), the corpus an atheris item starts from."""
    target = make_target(list(spec.bugs), list(spec.configs))
    driver = make_driver(item.driver, target, item.seed)
    cov = cov if cov is not None else Coverage()
    cov.inputs = []
    driver.observer = cov
    work = None
    if item.driver == "atheris":
        work = tempfile.mkdtemp(prefix="ptfuzz-corpus-")
        for name, data in atheris_corpus:
            with open(os.path.join(work, name), "wb") as fh:
                fh.write(data)
        driver.seeds = [*driver.seeds, work]
        driver.found_by = f"ptfuzz campaign (item {item.number}, atheris)"
    before = _listing(work)
    last = [time.monotonic()]

    def progress(stats) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        sites, pairs = cov.take()
        emit(("progress", item.number, stats.executions, stats.steps, sites, pairs))

    t0 = time.monotonic()
    try:
        case, stats = driver.search(Budget(seconds=item.seconds, runs=item.runs), progress)
        if case is not None:
            how = f"ptfuzz campaign (item {item.number}, {item.driver} seed {item.seed})"
            finding = make_finding(case, how)
            emit(("finding", item.number, finding.title, finding.text(), finding.report,
                  stats.executions))
        sites, pairs = cov.take()
        emit(("progress", item.number, stats.executions, stats.steps, sites, pairs))
        for text in cov.inputs:
            emit(("input", item.number, item.driver, None, text.encode()))
        for name in sorted(_listing(work) - before)[:MAX_INPUTS * 4]:
            with open(os.path.join(work, name), "rb") as fh:
                emit(("input", item.number, "atheris", name, fh.read()))
        emit(("done", item.number, stats.executions, stats.steps, time.monotonic() - t0))
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)
