"""Campaigns: many workers running a portfolio of drivers over work items, a head that
de-duplicates reports by title, minimizes each new one and alone writes the campaign
directory. ``plan`` (work items and their seeds), ``worker`` (one item, as messages),
``local`` and ``ray_backend`` (where workers run), ``store`` (the directory), ``head``
(the loop), ``live`` (progress on a terminal)."""

from .head import CampaignResult, run_campaign
from .plan import DEFAULT_PORTFOLIO, WorkItem, parse_portfolio

__all__ = ["run_campaign", "CampaignResult", "WorkItem", "DEFAULT_PORTFOLIO",
           "parse_portfolio"]
