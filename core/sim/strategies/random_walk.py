"""Uniform random walk (as AWS shuttle's random scheduler): at every step, any runnable
thread, uniformly."""

from __future__ import annotations

from .base import Strategy, first_option

__all__ = ["RandomWalk"]


class RandomWalk(Strategy):
    name = "random"

    def pick(self, runnable, cur, keep):
        n = len(runnable)
        if n == 1:
            return runnable[0]
        c = self.choose(n, "sched")
        if c == 0 and keep:
            return cur
        return runnable[(first_option(runnable, cur, keep) + c) % n]
