#!/usr/bin/env python3
"""Driver benchmarks: throughput on the fixed model, and executions and seconds to each
public bug over several seeds (the fraction found within the cap, the median, the
spread). A Markdown table on stdout, everything as JSON with ``--json``.

    python scripts/bench_drivers.py [--drivers random,pct,hypothesis,atheris]
        [--seeds 10] [--first-seed 1] [--cap 120] [--throughput 10] [--bugs a,b]
        [--json OUT]

Runs one search at a time (the machine's other core stays free for the OS and for the
noise a shared machine has anyway); medians, not means.
"""

import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from core.bugs import PUBLIC  # noqa: E402
from fuzz.bench.throughput import driver_throughput  # noqa: E402
from fuzz.bench.ttb import time_to_bug  # noqa: E402


def throughput(driver: str, seconds: float) -> dict:
    return driver_throughput(driver, driver, seconds)


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--drivers", default="random,pct,hypothesis,atheris")
    a.add_argument("--bugs", default=",".join(PUBLIC))
    a.add_argument("--seeds", type=int, default=10)
    a.add_argument("--first-seed", type=int, default=1,
                   help="trials use seeds first-seed .. first-seed + seeds - 1")
    a.add_argument("--cap", type=float, default=120.0)
    a.add_argument("--throughput", type=float, default=10.0, help="seconds per driver")
    a.add_argument("--json", default=None)
    args = a.parse_args()
    drivers = args.drivers.split(",")
    out = {"machine": {"cpu": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "python": platform.python_version()},
           "throughput": {}, "time_to_bug": {}}
    print("| driver | executions/s | steps/s |\n|---|---|---|")
    for d in drivers if args.throughput > 0 else ():
        r = throughput(d, args.throughput)
        out["throughput"][d] = r
        print(f"| {d} | {r['executions_per_s']:,.0f} | {r['steps_per_s']:,.0f} |", flush=True)
    print("\n| bug | driver | found | median executions | median s | max s |")
    print("|---|---|---|---|---|---|")
    for bug in args.bugs.split(","):
        for d in drivers:
            r = time_to_bug(d, bug, args.seeds, args.cap, args.first_seed)
            out["time_to_bug"].setdefault(bug, {})[d] = r
            ex, sec = r["executions"], r["seconds"]
            med_ex = f"{ex['median']:,.0f}" if ex else "-"
            med_s = f"{sec['median']:.1f}" if sec else "-"
            max_s = f"{sec['max']:.1f}" if sec else "-"
            print(f"| {bug} | {d} | {r['found']}/{r['trials']} | {med_ex} | {med_s} | "
                  f"{max_s} |", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
