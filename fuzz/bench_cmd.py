"""``ptfuzz bench [--quick] [--json OUT] [--trials N] [--cap SECONDS] [--jobs N]``: the figures of
``../shared/spec/benchmarks.md`` measured on this machine (``fuzz/bench/run.py``)."""

from __future__ import annotations

import json

from .bench.run import Settings, markdown, run_bench
from .errors import UsageError
from .paths import writable_file

__all__ = ["run_bench_command"]


def run_bench_command(args) -> int:
    if args.trials is not None and args.trials < 1:
        raise UsageError("--trials must be at least 1")
    if args.cap is not None and args.cap <= 0:
        raise UsageError("--cap must be positive")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.json:
        writable_file(args.json, "--json")
    result = run_bench(Settings(args.quick, args.trials, args.cap, args.jobs))
    print(markdown(result))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0
