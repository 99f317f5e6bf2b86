"""Scheduling strategies, one module each."""

from .base import Strategy, first_option
from .bounded import Bounded
from .pct import PCT
from .random_walk import RandomWalk
from .replay import Drift, ForceChoice, Replay, ScheduleLine

__all__ = ["Strategy", "first_option", "Bounded", "PCT", "RandomWalk", "Drift", "ForceChoice",
           "Replay", "ScheduleLine"]
