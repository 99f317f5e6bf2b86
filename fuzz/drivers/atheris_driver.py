"""The atheris driver: coverage-guided fuzzing by libFuzzer through atheris, in a child
process (libFuzzer owns its process and exits on a crash). The child is
:mod:`fuzz.atheris_main`; this side passes the target, the seed and the budget, reads the
child's progress lines, and loads the finding it wrote."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import tempfile

from core.program.kprog import load
from core.program.program import run_program

from ..atheris_main import FINDING_MARK, STATS_MARK
from ..target import Case, derive_seed
from .base import Driver, Stats

__all__ = ["AtherisDriver", "atheris_available"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The seed programs libFuzzer starts from (as syzkaller starts from its corpus): small
# programs of two operations racing on one table, no schedule, no bug switch.
SEED_DIR = os.path.join(ROOT, "corpus", "seeds")


def _die_with_parent() -> None:
    """In the libFuzzer child before exec: get SIGKILL when the parent dies (Linux's
    PR_SET_PDEATHSIG), so a killed worker leaves no fuzzer running."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


class AtherisDriver(Driver):
    name = "atheris"

    def __init__(self, target, seed: int, libfuzzer=(), seeds=None, pair_coverage: bool = True,
                 found_by: str = "ptfuzz fuzz --driver atheris", instrument: bool = True):
        super().__init__(target, seed)
        self.libfuzzer = list(libfuzzer)
        if seeds is None:
            seeds = [SEED_DIR] if os.path.isdir(SEED_DIR) else []
        self.seeds = list(seeds)
        self.pair_coverage = pair_coverage
        self.instrument = instrument
        self.found_by = found_by

    def describe(self) -> str:
        pairs = "with" if self.pair_coverage else "without"
        seeds = f", seeds: {', '.join(map(os.path.basename, self.seeds))}" if self.seeds else ""
        what = "core's model instrumented" if self.instrument else "nothing instrumented"
        return f"atheris (libFuzzer, {what}, {pairs} site-pair coverage{seeds})"

    def command(self, budget, out: str) -> list[str]:
        cmd = [sys.executable, "-m", "fuzz.atheris_main", "--out", out,
               "--found-by", self.found_by]
        for b in sorted(self.target.bugs):
            cmd += ["--bug", b]
        for k, v in self.target.fixed.items():
            v = ("on" if v else "off") if isinstance(v, bool) else v
            cmd += ["--config", f"{k}={v}"]
        for s in self.seeds:
            cmd += ["--seeds", s]
        if not self.instrument:
            cmd.append("--no-instrument")
        if not self.pair_coverage:
            cmd.append("--no-pair-coverage")
        opts = [f"-seed={derive_seed(self.seed, self.name) % (2**31 - 1) + 1}",
                "-print_final_stats=1"]
        if budget.seconds is not None:
            opts.append(f"-max_total_time={max(1, math.ceil(budget.seconds))}")
        if budget.runs is not None:
            opts.append(f"-runs={budget.runs}")
        return cmd + ["--"] + opts + self.libfuzzer

    def search(self, budget, progress=None):
        if not atheris_available():
            raise RuntimeError("atheris is not installed (pip install atheris)")
        stats = Stats(observer=self.observer)
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        # Coverage depends on iteration orders that follow str hashes: fix them, so that
        # one seed gives one search.
        env["PYTHONHASHSEED"] = "0"
        with tempfile.TemporaryDirectory(prefix="ptfuzz-atheris-") as out:
            log = open(os.path.join(out, "libfuzzer.log"), "w+")
            proc = subprocess.Popen(self.command(budget, out), stdout=subprocess.PIPE,
                                    stderr=log, text=True, env=env, cwd=out,
                                    preexec_fn=_die_with_parent)
            found = None
            try:
                for line in proc.stdout:
                    if line.startswith(STATS_MARK):
                        execs, steps = map(int, line[len(STATS_MARK):].split())
                        stats.executions, stats.steps = execs, steps
                        if progress is not None:
                            progress(stats)
                    elif line.startswith(FINDING_MARK):
                        found = line[len(FINDING_MARK):].strip()
                proc.wait()
            finally:
                if proc.poll() is None:         # interrupted: libFuzzer must not linger
                    proc.kill()
                    proc.wait()
            log.seek(0)
            final = re.search(r"stat::number_of_executed_units: (\d+)", log.read())
            log.close()
            if final and int(final.group(1)) > stats.executions:
                # Runs since the last progress line: steps scaled from the mean so far.
                n = int(final.group(1))
                per = stats.steps / stats.executions if stats.executions else 0
                stats.steps += int((n - stats.executions) * per) if per else 0
                stats.executions = n
            if found is None:
                return None, stats
            prog = load(found)
        out = run_program(prog)
        stats.titles[out.title] += 1
        return Case(prog, out, "atheris (random walk over libFuzzer's bytes)"), stats
