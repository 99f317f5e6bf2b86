"""``ptfuzz fuzz``: run one driver against the target until it finds a report or the
budget is spent.

Exit 0: nothing found. Exit 1: a report, printed and written to ``--out`` as a ``.kprog``
that replays to the same title: minimized (``ptfuzz minimize``), with the first failing
case next to it as ``.raw.kprog`` (``--no-minimize``: the raw case only). Exit 2: bad
input.
"""

from __future__ import annotations

import sys
import time

from core.bugs import REGISTRY
from core.program.minimize import minimize

from .drivers import Budget, make_driver
from .errors import UsageError
from .paths import writable_dir
from .findings import make_finding, write_program
from .target import make_target

__all__ = ["run_fuzz_command", "DEFAULT_SECONDS"]

DEFAULT_SECONDS = 60.0
MINIMIZE_SECONDS = 60.0


class _Progress:
    """A status line on a terminal, for runs longer than a couple of seconds."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, stats) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if stats.elapsed() < 2.0 or now - self.last < 0.5:
            return
        self.last = now
        self.shown = True
        self.stream.write(f"\r[{self.label}] {stats.elapsed():5.0f}s  {stats.line()}\033[K")
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _command_line(args) -> str:
    parts = ["ptfuzz fuzz", f"--driver {args.driver}", f"--seed {args.seed}"]
    parts += [f"--bug {b}" for b in args.bug or []]
    parts += [f"--config {c}" for c in args.config or []]
    return " ".join(parts)


def _write_minimized(finding, folder: str, raw: str) -> str:
    """Minimize the finding and write it next to the raw one; the raw one's path if the
    minimized program does not replay to the title every time."""
    try:
        m = minimize(finding.program, finding.title, seconds=MINIMIZE_SECONDS, validate=5)
    except ValueError as e:         # the written schedule does not give the title again
        print(f"not minimized ({e}); keeping {raw}")
        return raw
    if not m.stable:
        print(f"minimizing gave an unstable reproducer; keeping {raw}")
        return raw
    path = write_program(folder, finding.title, m.program)
    print(f"minimized in {m.seconds:.1f} s ({m.runs} replays): {m.before.text()} -> "
          f"{m.after.text()}; the first failing case is {raw}")
    return path


def run_fuzz_command(args) -> int:
    if args.time is not None and args.runs is not None:
        raise UsageError("give --time or --runs, not both")
    if (args.time is not None and args.time <= 0) or (args.runs is not None and args.runs <= 0):
        raise UsageError("the budget must be positive")
    writable_dir(args.out, "--out")
    target = make_target(args.bug, args.config)
    try:
        driver = make_driver(args.driver, target, args.seed)
    except KeyError:
        raise UsageError(f"unknown driver {args.driver!r}") from None
    seconds = args.time if args.time is not None or args.runs is not None else DEFAULT_SECONDS
    budget = Budget(seconds=seconds, runs=args.runs)
    progress = _Progress(args.driver)
    print(f"ptfuzz fuzz: {driver.describe()}, seed {args.seed}, bugs: "
          f"{target.bugs.text() or 'none'}, budget: "
          + (f"{budget.runs} runs" if budget.runs else f"{budget.seconds:g} s"))
    case, stats = driver.search(budget, progress)
    progress.done()
    if case is None:
        print(f"no report: {stats.line()} in {stats.elapsed():.1f} s")
        return 0
    finding = make_finding(case, f"{_command_line(args)} (execution {stats.executions})")
    print(finding.report)
    if args.no_minimize:
        path = finding.write(args.out)
    else:
        raw = finding.write(args.out, ".raw")
        path = _write_minimized(finding, args.out, raw)
    known = [b for b in sorted(target.bugs) if REGISTRY[b].produces(finding.title)]
    if known:
        print(f"a report the bug switch {', '.join(known)} is known to produce")
    elif target.bugs:
        print("not a report the bug switches on are known to produce: check whether the "
              f"fixed model passes it (ptfuzz replay --bugs none {path})")
    print(f"found after {stats.executions:,} executions in {stats.elapsed():.1f} s; "
          f"written to {path}" + ("" if finding.replays else
                                  f" (WARNING: it replays to '{finding.replay_title}')"))
    return 1
