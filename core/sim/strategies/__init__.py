"""Scheduling strategies, one module each."""

from .base import Strategy, first_option
from .bounded import Bounded
from .pct import PCT
from .pieces import Pieces
from .random_walk import RandomWalk
from .replay import Drift, ForceChoice, Replay, ScheduleLine

__all__ = ["Strategy", "first_option", "Bounded", "PCT", "Pieces", "RandomWalk", "Drift",
           "ForceChoice", "Replay", "ScheduleLine"]
