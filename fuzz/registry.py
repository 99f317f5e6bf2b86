"""What the command line can name: drivers, strategies and operations.

Drivers are the searches ``ptfuzz fuzz --driver`` runs (``fuzz.drivers``); strategies are
the engine's schedulers.
"""

from __future__ import annotations

from core.program.ops import OPS

from .drivers import DRIVERS as _DRIVER_CLASSES

__all__ = ["DRIVERS", "STRATEGIES", "OPERATIONS", "describe_operations"]

DRIVERS: list[str] = list(_DRIVER_CLASSES)
STRATEGIES: list[str] = ["random", "pct", "dfs", "replay"]
OPERATIONS: list[str] = list(OPS)


def describe_operations() -> list[dict]:
    """Each operation's name, ``.kprog`` synopsis, which threads may run it, the config
    option it needs, and its description (all from its declaration)."""
    return [{"name": name, "syntax": op.synopsis(),
             "threads": "kernel" if op.kthread and not op.user else "user",
             "requires": op.requires, "doc": op.describe()} for name, op in OPS.items()]
