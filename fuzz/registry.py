"""What the command line can name: drivers, strategies and operations.

Drivers are the searches ``ptfuzz fuzz --driver`` runs (``fuzz.drivers``); strategies are
the engine's schedulers.
"""

from __future__ import annotations

from core.program.ops import OPS

from .drivers import DRIVERS as _DRIVER_CLASSES

__all__ = ["DRIVERS", "STRATEGIES", "OPERATIONS"]

DRIVERS: list[str] = list(_DRIVER_CLASSES)
STRATEGIES: list[str] = ["random", "pct", "dfs", "replay"]
OPERATIONS: list[str] = list(OPS)
