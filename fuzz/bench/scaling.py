"""Campaign scaling (benchmarks.md, item 6): executions per second of the default
portfolio on the fixed model with 1 and with 2 local workers, and the ratio."""

from __future__ import annotations

import shutil
import tempfile

from ..campaign.head import CampaignOptions, run_campaign
from ..campaign.local import LocalBackend
from ..campaign.plan import parse_portfolio
from ..campaign.worker import TargetSpec
from ..drivers.atheris_driver import atheris_available

__all__ = ["campaign_scaling"]


def campaign_scaling(seconds: float = 20.0, workers=(1, 2)) -> dict:
    portfolio = parse_portfolio(None, atheris_available())
    out = {}
    for w in workers:
        folder = tempfile.mkdtemp(prefix="ptfuzz-bench-campaign-")
        try:
            opts = CampaignOptions(f"{folder}/c", seconds, w, portfolio, 1,
                                   slice_seconds=min(20.0, seconds))
            r = run_campaign(opts, LocalBackend(w, TargetSpec()))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        out[str(w)] = {"executions": r.executions, "seconds": r.seconds,
                       "executions_per_s": r.executions / r.seconds, "reports": len(r.crashes)}
    if len(workers) == 2:
        a, b = (out[str(w)]["executions_per_s"] for w in workers)
        out["ratio"] = b / a
    return out
