#!/usr/bin/env python3
"""Soak the fixed model: generated programs, every config, no report allowed.

    python scripts/soak.py [--runs N] [--start SEED] [--workers W] [--no-invariants]

The engine's and the substrate's invariants are checked after every step
(PTFUZZ_CHECK_INVARIANTS=1, which the spawned workers inherit) unless --no-invariants.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
if "--no-invariants" not in sys.argv:
    os.environ["PTFUZZ_CHECK_INVARIANTS"] = "1"       # read when core is imported

from core.program.soak import soak_parallel  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1_000_000)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-invariants", action="store_true",
                   help="do not check the engine's and substrate's invariants (faster)")
    a = p.parse_args()
    r = soak_parallel(a.start, a.runs, a.workers)
    print(f"{a.runs} runs (seeds {a.start}..{a.start + a.runs - 1}), {r['steps']} steps, "
          f"{r['seconds']:.0f} s on {a.workers} workers: {r['titles']}")
    for title, (seed, prog, report) in sorted(r["failures"].items(), key=lambda kv: kv[1]):
        print(f"first '{title}': seed {seed}\n{prog}\n{report}")
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
