"""The drivers: how the space of programs and interleavings is searched. One module each;
``DRIVERS`` maps the names the command line takes to their classes (the Hypothesis and
atheris drivers import their libraries only when used)."""

from __future__ import annotations

from .base import Budget, Driver, Stats, StreamDriver
from .dfs import DfsDriver
from .pct import PctDriver
from .random_walk import RandomDriver

__all__ = ["Budget", "Driver", "Stats", "StreamDriver", "DRIVERS", "make_driver"]

DRIVERS = {
    "random": RandomDriver,
    "pct": PctDriver,
    "dfs": DfsDriver,
    "hypothesis": None,          # imported on first use (Hypothesis is slow to import)
    "atheris": None,             # runs libFuzzer in a child process
}


def make_driver(name: str, target, seed: int) -> Driver:
    cls = DRIVERS[name]
    if name == "hypothesis":
        from .hypothesis_driver import HypothesisDriver as cls
    elif name == "atheris":
        from .atheris_driver import AtherisDriver as cls
    return cls(target, seed)
