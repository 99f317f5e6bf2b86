"""The hypothesis driver: the state machine of :mod:`fuzz.machine` run by Hypothesis, in
batches of examples (each batch seeded from the driver's seed and its number) until the
budget is spent or an example fails. The failing case is returned as found: Hypothesis'
shrinking (operations and schedule pieces together) has no budget of its own and can
take far more executions than the search, so it is off here and on where the machine
runs as a test (``tests/properties/test_machine.py``); findings are minimized by
``ptfuzz minimize``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import run_state_machine_as_test

from ..machine import ProgramFailed, machine_for
from ..target import derive_seed
from .base import Driver, Stats

__all__ = ["HypothesisDriver", "hypothesis_home"]


def hypothesis_home() -> str:
    """Where Hypothesis keeps its caches: ``$PTFUZZ_HYPOTHESIS_HOME`` (a campaign sets it
    to its directory's ``.hypothesis``), else the user's cache directory; never the
    current directory."""
    home = os.environ.get("PTFUZZ_HYPOTHESIS_HOME")
    if not home:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        home = os.path.join(cache, "ptfuzz", "hypothesis")
    return home


class HypothesisDriver(Driver):
    name = "hypothesis"

    def __init__(self, target, seed_: int, batch: int = 25, steps: int = 24,
                 shrink: bool = False):
        super().__init__(target, seed_)
        self.batch = batch
        self.steps = steps
        self.shrink = shrink

    def describe(self) -> str:
        return (f"hypothesis (state machine, {self.steps} rules an example, schedule in "
                f"pieces; shrinking {'on' if self.shrink else 'off'})")

    def search(self, budget, progress=None):
        stats = Stats(observer=self.observer)
        set_hypothesis_home_dir(hypothesis_home())
        machine = machine_for(self.target, "PtMachineFuzz")
        machine.stats = stats
        phases = [Phase.generate, Phase.shrink] if self.shrink else [Phase.generate]
        config = settings(max_examples=self.batch, stateful_step_count=self.steps,
                          deadline=None, database=None, derandomize=False,
                          phases=phases, verbosity=Verbosity.quiet, print_blob=False,
                          suppress_health_check=list(HealthCheck))
        n = 0
        while not budget.spent(stats):
            seeded = seed(derive_seed(self.seed, self.name, n))(
                type(f"PtMachineFuzz{n}", (machine,), {}))
            try:
                run_state_machine_as_test(seeded, settings=config)
            except ProgramFailed:
                return seeded.last_failure, stats       # the shrunk example's run
            n += 1
            if progress is not None:
                progress(stats)
        return None, stats
