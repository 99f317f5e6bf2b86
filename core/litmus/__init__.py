"""Litmus programs for the substrate, and their runner."""

from .programs import LITMUS, Litmus
from .runner import Exploration, explore_litmus, get, run_litmus, run_schedule

__all__ = ["LITMUS", "Litmus", "Exploration", "explore_litmus", "get", "run_litmus",
           "run_schedule"]
