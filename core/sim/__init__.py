"""The deterministic simulation engine: threads as generators, one choice stream."""

from .choices import (BytesSource, ChoiceSource, OdometerSource, RandomSource, ReplaySource,
                      decode_bytes, encode_bytes, next_prefix)
from .engine import Engine, RunResult
from .explore import explore
from .invariants import InvariantViolation
from .report import KernelReport, Report
from .thread import DONE, RUNNABLE, WAITING, Thread
from .trace import Trace
from .traps import KGen, Site, SpinSite, Trap, Wait, all_sites, lookup_site, site, spin_site
from .waitq import WaitQueue

__all__ = [
    "BytesSource", "ChoiceSource", "OdometerSource", "RandomSource", "ReplaySource",
    "decode_bytes", "encode_bytes", "next_prefix", "Engine", "RunResult", "explore",
    "KernelReport", "Report", "DONE", "RUNNABLE", "WAITING", "Thread", "Trace", "Site",
    "SpinSite", "Wait", "all_sites", "lookup_site", "site", "spin_site", "WaitQueue",
    "InvariantViolation", "KGen", "Trap",
]
