"""The fuzz target: one execution is a generated program and its interleaving, both drawn
from one choice source.

Every driver runs the same target; they differ only in where the choices come from
(a seeded PRNG, an odometer, atheris' bytes, Hypothesis' data) and in the strategy that
turns scheduling choices into thread picks. A :class:`Case` is what one execution leaves
behind: the program, its outcome, and how it was made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from core.bugs import NO_BUGS, BugError, BugSet
from core.kernel import ConfigError
from core.kernel.config import Config
from core.program.generate import generate_program
from core.program.program import Outcome, Program, run_program
from core.sim import RandomSource

from .errors import UsageError

__all__ = ["Target", "Case", "derive_seed", "interleaving_pairs", "make_target"]


def derive_seed(*parts) -> int:
    """A 64-bit seed from a campaign seed and the parts naming a work item (driver,
    execution number, ...): independent streams, the same on every machine."""
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\0")
    return int.from_bytes(h.digest(), "little")


@dataclass(frozen=True)
class Target:
    """What every execution shares: the bug switches on, and the config values fixed
    (name -> value; the rest is drawn per run)."""

    bugs: BugSet = NO_BUGS
    fixed: dict = field(default_factory=dict)

    def program(self, src, max_threads: int = 3, max_ops: int = 3) -> Program:
        return generate_program(src, bugs=self.bugs, fixed=self.fixed,
                                max_threads=max_threads, max_ops=max_ops)

    def run(self, src, strategy) -> Case:
        """Generate a program from ``src`` and run it under ``strategy`` drawing from
        the same ``src``."""
        prog = self.program(src)
        return Case(prog, run_program(prog, src, strategy), strategy.describe())


@dataclass
class Case:
    program: Program
    outcome: Outcome
    how: str                      # the strategy, as it describes itself

    @property
    def found(self) -> bool:
        return self.outcome.report is not None

    @property
    def threads_steps(self) -> int:
        """Steps of the program's threads (after the setup, before the teardown)."""
        trace = self.outcome.trace
        start = self.outcome.start
        tids = {tid for tid, name in trace.names.items() if name == "teardown"}
        for i in range(start, len(trace.steps)):
            if trace.steps[i][0] in tids:
                return i - start
        return len(trace.steps) - start


def interleaving_pairs(case, limit: int | None = None) -> set[tuple[int, int]]:
    """Interleaving coverage: the pairs of sites (by registration index) that ran back to
    back on different CPUs in the program's phase: a context switch from a thread about
    to do one thing to a thread about to do another."""
    steps = case.outcome.trace.steps
    out = set()
    prev_tid, prev_site = None, None
    for i in range(case.outcome.start, len(steps) if limit is None else
                   min(len(steps), case.outcome.start + limit)):
        tid, s = steps[i]
        if prev_tid is not None and tid != prev_tid:
            out.add((prev_site.index, s.index))
        prev_tid, prev_site = tid, s
    return out


def make_target(bug_names, config_items) -> Target:
    """The target for ``--bug`` and ``--config`` arguments; bad names are usage errors."""
    if any(not n.strip() for n in bug_names or []):
        raise UsageError("--bug needs a bug switch name (ptfuzz list names them)")
    try:
        bugs = BugSet.parse(bug_names or [])
    except BugError as e:
        raise UsageError(str(e)) from None
    try:
        cfg = Config().parse(config_items or [])
    except ConfigError as e:
        raise UsageError(str(e)) from None
    names = [item.partition("=")[0].strip() for item in config_items or []]
    target = Target(bugs, {k: getattr(cfg, k) for k in names})
    try:
        target.program(RandomSource(0))          # a config that cannot be built fails here
    except ConfigError as e:
        raise UsageError(str(e)) from None
    return target
