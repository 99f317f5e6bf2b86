#!/usr/bin/env python3
"""For each public bug: a driver's first failing case (seed 1), minimized; sizes before
and after, the time, 20 replays and the replay without the switch. A Markdown table;
JSON with ``--json``.

    python scripts/reproducer_sizes.py [--driver pct] [--seed 1] [--json OUT]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fuzz.bench.reproducers import markdown, reproducer_sizes  # noqa: E402


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--driver", default="pct")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--json", default=None)
    args = a.parse_args()
    rows = reproducer_sizes(args.driver, args.seed,
                            progress=lambda r: print(f"  {r['bug']}: done", file=sys.stderr))
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
