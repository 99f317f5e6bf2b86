"""The dfs driver's search finds every public bug whose reproducer fits its bound: on the
reproducer's program (its schedule dropped), bounded-exhaustive search with one
preemption and one data choice off its default reaches the bug. Exhaustive enumeration
is deterministic, so the count is exact."""

import glob
import os
from dataclasses import replace

import pytest

from core.bugs import PUBLIC
from core.program.kprog import load
from core.program.program import run_program
from core.sim.explore import ScheduleOdometer, explore

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CORPUS = sorted(glob.glob(os.path.join(ROOT, "corpus", "regressions", "*.kprog")))

# Runs until the first report, with preemption bound 1. Re-pinned for issue 15 (were
# 602-1338): RCU callbacks are invoked by their own thread (rcu_cb), scheduled
# independently of the grace-period kthread, so every schedule's tail (the teardown with
# its frees after grace periods) has more free switch points the odometer enumerates
# before it reaches the early preemption each bug needs; and the modelled paths gained
# steps (flush_tlb_batched_pending's cmpxchg, try_to_unmap_one's post-clear checks).
RUNS = {
    "collapse-vma-lock-after-pmd-check": 11574,
    "pt-reclaim-semi-rcu": 15552,
    "pte-map-lock-no-pmd-same": 19129,
    "ptlock-free-immediate": 22023,
    "reclaim-after-ptl-drop": 32260,
    "retract-no-pmd-recheck": 7888,
    "uffd-move-no-dst-pmd-recheck": 10129,
}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: os.path.basename(p)[:-6])
def test_bounded_search_finds_the_bug_on_its_reproducers_program(path):
    bug = os.path.basename(path)[:-6]
    prog = replace(load(path), schedule=None, choices=None)
    n = 0
    out = None
    for out in explore(lambda src, st: run_program(prog, src, st), bound=1, limit=40_000,
                       source=ScheduleOdometer):
        n += 1
        if out.report is not None:
            break
    assert out is not None and out.report is not None, f"no report in {n} runs"
    assert PUBLIC[bug].produces(out.title), out.title
    assert n == RUNS[bug]


def test_every_public_bug_has_a_reproducer():
    assert set(RUNS) == set(PUBLIC) == {os.path.basename(p)[:-6] for p in CORPUS}
