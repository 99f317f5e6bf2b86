#!/usr/bin/env python3
"""Run ``ptfuzz fuzz --driver D --bug B --seed S --time T`` for every driver and public
bug (and each driver with no switch), two at a time, and print a table: exit status,
title, executions and seconds. The issue's acceptance check, as a script.

    python scripts/fuzz_matrix.py [--time 60 | --runs N] [--seed 1] [--drivers random,...]
"""

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from core.bugs import PUBLIC  # noqa: E402


def run(driver, bug, seed, seconds, out, runs=None):
    cmd = [sys.executable, "-m", "fuzz.cli", "fuzz", "--driver", driver, "--seed", str(seed),
           "--out", out] + (["--runs", str(runs)] if runs else ["--time", str(seconds)])
    if bug:
        cmd += ["--bug", bug]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    m = re.search(r"found after ([\d,]+) executions", p.stdout)
    n = re.search(r"no report: ([\d,]+) execs", p.stdout)
    title = p.stdout.splitlines()[1] if p.returncode == 1 and len(p.stdout.splitlines()) > 1 \
        else ""
    return driver, bug or "(none)", p.returncode, title, (m or n).group(1) if (m or n) else "?", dt


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--time", type=float, default=60)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--drivers", default="random,pct,hypothesis,atheris")
    a.add_argument("--out", default="/tmp/ptfuzz-matrix")
    a.add_argument("--jobs", type=int, default=2)
    a.add_argument("--runs", type=int, default=None, help="an execution budget instead")
    a.add_argument("--no-clean", action="store_true", help="skip the runs with no switch")
    args = a.parse_args()
    jobs = [(d, b) for d in args.drivers.split(",")
            for b in [*PUBLIC] + ([] if args.no_clean else [None])]
    with ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(run, d, b, args.seed, args.time, args.out, args.runs)
                for d, b in jobs]
        for f in futs:
            d, b, code, title, execs, dt = f.result()
            print(f"{d:11} {b:36} exit {code}  {execs:>9} execs {dt:6.1f}s  {title}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
