"""Work items: which driver runs, with which seed, for how long.

A campaign is an endless, deterministic sequence of work items: item ``n`` runs the
portfolio's ``n``-th driver (a weighted round robin) with the seed derived from the
campaign seed, the driver and ``n`` (never one seed per worker: a restarted worker or a
resumed campaign does not repeat a search, and two machines with the same campaign seed
and item numbers run the same searches).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..drivers import DRIVERS
from ..errors import UsageError
from ..target import derive_seed

__all__ = ["WorkItem", "DEFAULT_PORTFOLIO", "parse_portfolio", "item"]

# The default mix: PCT (the fastest to most bugs), the random walk (the fastest to
# others), atheris (coverage-guided, from the seed corpus), Hypothesis (operations and
# schedule pieces together). Weights are shares of the work items.
DEFAULT_PORTFOLIO = (("pct", 3), ("random", 2), ("atheris", 2), ("hypothesis", 1))
SLICE_SECONDS = 20.0


@dataclass(frozen=True)
class WorkItem:
    number: int
    driver: str
    seed: int
    seconds: float
    runs: int | None = None        # an execution budget too (reproducible campaigns)


MAX_WEIGHT = 100


def parse_portfolio(text: str | None, atheris_ok: bool = True) -> tuple:
    """``pct,random`` or ``pct:3,random:1`` -> ((name, weight), ...); default: the
    default portfolio (without atheris if it is not installed)."""
    if not text:
        return tuple((d, w) for d, w in DEFAULT_PORTFOLIO if atheris_ok or d != "atheris")
    out = []
    for part in text.split(","):
        name, _, weight = part.strip().partition(":")
        if name not in DRIVERS:
            raise UsageError(f"unknown driver {name!r} (known: {', '.join(DRIVERS)})")
        if name == "dfs":
            raise UsageError("dfs enumerates small programs exhaustively; it is not a "
                             "campaign driver")
        try:
            w = int(weight) if weight else 1
        except ValueError:
            raise UsageError(f"bad weight in {part!r}") from None
        if not 1 <= w <= MAX_WEIGHT:
            raise UsageError(f"bad weight in {part!r} (from 1 to {MAX_WEIGHT})")
        out.append((name, w))
    if not out:
        raise UsageError("no drivers given")
    return tuple(out)


def _interleaved(portfolio: tuple) -> list:
    """The drivers of one round, each as often as its weight, spread out (smooth
    weighted round robin), so that two workers start on different drivers."""
    current = {d: 0 for d, _ in portfolio}
    total = sum(w for _, w in portfolio)
    order = []
    for _ in range(total):
        for d, w in portfolio:
            current[d] += w
        best = max(portfolio, key=lambda dw: current[dw[0]])[0]
        current[best] -= total
        order.append(best)
    return order


def item(campaign_seed: int, portfolio: tuple, number: int,
         seconds: float = SLICE_SECONDS, runs: int | None = None) -> WorkItem:
    """Work item ``number`` of the campaign."""
    order = _interleaved(portfolio)
    driver = order[number % len(order)]
    seed = derive_seed(campaign_seed, "campaign", driver, number) % (2**63)
    return WorkItem(number, driver, seed, seconds, runs)
