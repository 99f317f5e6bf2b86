#!/usr/bin/env python3
"""Print the bare engine's scheduling steps per second (a micro-benchmark, not a test).

    python scripts/bench_engine.py [--repeats N] [--steps N]
"""

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from fuzz.bench.engine import measure  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=200_000, help="steps per thread")
    a = p.parse_args()
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    for k, v in measure(a.repeats, a.steps).items():
        print(f"{k:44} {v:12,.0f}")


if __name__ == "__main__":
    main()
