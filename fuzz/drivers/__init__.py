"""The drivers: how the space of programs and interleavings is searched. One module each;
``DRIVERS`` maps the names the command line takes to their classes (the Hypothesis and
atheris drivers import their libraries only when used)."""

from __future__ import annotations

from importlib import import_module

from .base import Budget, Driver, Stats, StreamDriver

__all__ = ["Budget", "Driver", "Stats", "StreamDriver", "DRIVERS", "make_driver"]

# name -> (module, class); a driver's module (and its library) is imported when used.
DRIVERS = {
    "random": ("random_walk", "RandomDriver"),
    "pct": ("pct", "PctDriver"),
    "dfs": ("dfs", "DfsDriver"),
    "hypothesis": ("hypothesis_driver", "HypothesisDriver"),
    "atheris": ("atheris_driver", "AtherisDriver"),
}


def make_driver(name: str, target, seed: int) -> Driver:
    """The driver called ``name`` (``KeyError`` if there is none)."""
    module, cls = DRIVERS[name]
    return getattr(import_module(f".{module}", __name__), cls)(target, seed)
