"""Tiny engine-level programs for the sim tests (no kernel)."""

from itertools import permutations

from core.sim import Engine, site

STEP = [site(f"sim_test_thread:step{i}") for i in range(8)]


def steps(n):
    """A thread body of ``n`` steps: it yields ``n`` sites."""
    def body(thread):
        for i in range(n):
            yield STEP[i]
    return body


def make_run(step_counts, **engine_kw):
    def run_once(source, strategy):
        e = Engine(source, strategy, **engine_kw)
        for i, n in enumerate(step_counts):
            e.spawn(f"T{i}", steps(n))
        return e.run()
    return run_once


def count_schedules(step_counts, bound=None) -> int:
    """Independently of the engine: distinct interleavings of the threads' steps with at
    most ``bound`` preemptions (a switch away from a thread that still has steps)."""
    tokens = [i for i, n in enumerate(step_counts) for _ in range(n)]
    total = 0
    for order in set(permutations(tokens)):
        left = list(step_counts)
        pre = 0
        for prev, nxt in zip(order, order[1:], strict=False):
            left[prev] -= 1
            if nxt != prev and left[prev] > 0:
                pre += 1
        if bound is None or pre <= bound:
            total += 1
    return total
