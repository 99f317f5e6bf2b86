"""What the command line can name: drivers, strategies and operations.

Drivers (generated programs plus a search loop) arrive with the drivers issue; until then
the list is empty and ``ptfuzz list`` says so. Strategies are the engine's schedulers.
"""

from __future__ import annotations

from core.program.ops import OPS

__all__ = ["DRIVERS", "STRATEGIES", "OPERATIONS"]

DRIVERS: list[str] = []
STRATEGIES: list[str] = ["random", "pct", "dfs", "replay"]
OPERATIONS: list[str] = list(OPS)
