"""``ptfuzz campaign``: a portfolio of drivers on every core (or a Ray cluster) for a time
budget; reports de-duplicated by title and minimized; everything in one directory.

Exit 0: no report. Exit 1: at least one report (each in DIR/crashes/). Exit 2: bad input.
Exit 3: the campaign stopped before its end (a full disk, a work item that keeps failing,
no work done); what it found is kept, and running it again resumes.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from .campaign.head import CampaignOptions, run_campaign
from .campaign.live import Live, summary_text
from .campaign.plan import parse_portfolio
from .campaign.worker import TargetSpec
from .drivers.atheris_driver import atheris_available
from .errors import UsageError
from .paths import writable_dir
from .target import make_target

__all__ = ["run_campaign_command", "DEFAULT_SECONDS", "make_backend"]

DEFAULT_SECONDS = 60.0
MAX_WORKERS_PER_CORE = 4


def make_backend(name: str, workers: int, spec, address: str | None = None):
    if name == "local":
        from .campaign.local import LocalBackend
        return LocalBackend(workers, spec)
    if name == "ray":
        from .campaign.ray_backend import RayBackend, ray_available
        if not ray_available():
            raise UsageError("the Ray backend needs Ray: pip install 'ptfuzz[ray]'")
        return RayBackend(workers, spec, address)
    raise UsageError(f"unknown backend {name!r} (local or ray)")


def run_campaign_command(args) -> int:
    seconds = DEFAULT_SECONDS if args.time is None else args.time
    if seconds <= 0:
        raise UsageError("--time must be positive")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    workers = args.workers or os.cpu_count() or 1
    if args.drivers is not None and not args.drivers.strip():
        raise UsageError("--drivers needs a list, e.g. pct:3,random:2")
    if (args.items is not None and args.items < 1) or (
            args.item_runs is not None and args.item_runs < 1):
        raise UsageError("--items and --item-runs must be positive")
    most = MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)
    if workers > most and not args.force and args.backend == "local":
        raise UsageError(f"--workers {workers}: more than {most} ({MAX_WORKERS_PER_CORE} per "
                         f"core) would only thrash; --force to insist")
    if args.address and args.backend != "ray":
        raise UsageError("--address is for --backend ray")
    make_target(args.bug, args.config)               # bad names fail here, before anything
    portfolio = parse_portfolio(args.drivers, atheris_available())
    if any(d == "atheris" for d, _ in portfolio) and not atheris_available():
        raise UsageError("atheris is not installed (pip install atheris)")
    directory = writable_dir(args.dir or time.strftime("ptfuzz-campaign-%Y%m%d-%H%M%S"),
                             "--dir")
    spec = TargetSpec(tuple(args.bug or ()), tuple(args.config or ()))
    # Hypothesis' caches go into the campaign directory (local workers inherit this).
    os.environ["PTFUZZ_HYPOTHESIS_HOME"] = os.path.join(os.path.abspath(directory),
                                                        ".hypothesis")
    backend = make_backend(args.backend, workers, spec, args.address)
    bugs = ", ".join(args.bug) if args.bug else "none (the fixed model)"
    mix = ", ".join(f"{d} x{w}" for d, w in portfolio)
    print(f"ptfuzz campaign: {seconds:g} s on {backend.describe()}; drivers {mix}; "
          f"bug switches: {bugs}; config: {' '.join(args.config or []) or 'drawn per run'};"
          f" seed {args.seed}; directory {directory}", flush=True)
    opts = CampaignOptions(directory, seconds, workers, portfolio, args.seed,
                           tuple(args.bug or ()), tuple(args.config or ()), args.backend,
                           args.address, max_items=args.items, item_runs=args.item_runs)
    live = Live(f"ptfuzz campaign: {directory}")
    previous = signal.signal(signal.SIGTERM, _terminate)    # SIGTERM: as Ctrl-C
    try:
        result = run_campaign(opts, backend, live)
    finally:
        live.close()
        signal.signal(signal.SIGTERM, previous)
    print(summary_text(result))
    if result.error:
        print(f"ptfuzz campaign: stopped: {result.error}; run it again on {directory} to "
              f"resume", file=sys.stderr)
        return 3
    return 1 if result.crashes else 0


def _terminate(*_signal):
    raise KeyboardInterrupt
