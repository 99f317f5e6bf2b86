"""Each driver finds each public bug switch within a fixed budget of executions from a
fixed seed (deterministic: the same seed finds it after the same count every time).

Budgets are the executions seed 1 needed (``python scripts/fuzz_matrix.py --runs N``),
rounded up by a quarter so that a small change to the model does not fail the test; a
large change (a bug now much harder to find) does. Searches longer than a few seconds are
marked slow (``pytest -m slow``). The title must be one the switch is known to produce.

The hypothesis driver's counts are not exact: Hypothesis' own generation differs with
the process's memory layout (the same seed, another set of imported modules, another
example sequence), so its budgets carry a wide margin (``MARGIN``) and its tests are all
slow ones; the default run checks the machine through ``tests/properties``. libFuzzer's
search is not reproducible either (the same seed and budget found one bug after 6,138
and 7,409 executions in two runs), so atheris' budgets carry a margin too and are slow
tests; the default run has a smoke test of it in ``tests/fuzz``.
"""

import pytest

from core.bugs import PUBLIC, BugSet
from fuzz.drivers import Budget, make_driver
from fuzz.drivers.atheris_driver import atheris_available
from fuzz.target import Target

SEED = 1
SLOW_ABOVE = 5000          # executions; above this the test is marked slow

# (driver, bug): executions seed 1 needed. random and pct re-measured for issue 18
# (scripts/fuzz_matrix.py --runs 200000 --seed 1 --drivers random,pct --no-clean, twice,
# the same counts): the generator draws three new operations (dio_read, mprotect,
# uffd_writeprotect), fixed addresses and tlb_flush, so every program after the first
# draw differs. One seed's count is noisy: pct needed 116 runs for retract-no-pmd-recheck
# before and 72,676 now, but 29,672 and 49,078 before against 45,538 and 26,408 now with
# seeds 2 and 3. hypothesis and atheris (slow tests with wide margins) were not
# re-measured.
NEEDED = {
    ("random", "retract-no-pmd-recheck"): 114497,
    ("random", "uffd-move-no-dst-pmd-recheck"): 48346,
    ("random", "pt-reclaim-semi-rcu"): 2304,
    ("random", "ptlock-free-immediate"): 2007,
    ("random", "reclaim-after-ptl-drop"): 521,
    ("random", "pte-map-lock-no-pmd-same"): 2001,
    ("random", "collapse-vma-lock-after-pmd-check"): 322,
    ("pct", "retract-no-pmd-recheck"): 72676,
    ("pct", "uffd-move-no-dst-pmd-recheck"): 43713,
    ("pct", "pt-reclaim-semi-rcu"): 3860,
    ("pct", "ptlock-free-immediate"): 12648,
    ("pct", "reclaim-after-ptl-drop"): 3957,
    ("pct", "pte-map-lock-no-pmd-same"): 3986,
    ("pct", "collapse-vma-lock-after-pmd-check"): 1581,
    ("hypothesis", "retract-no-pmd-recheck"): 26317,
    ("hypothesis", "uffd-move-no-dst-pmd-recheck"): 10415,
    ("hypothesis", "pt-reclaim-semi-rcu"): 1753,
    ("hypothesis", "ptlock-free-immediate"): 29636,
    ("hypothesis", "reclaim-after-ptl-drop"): 7273,
    ("hypothesis", "pte-map-lock-no-pmd-same"): 7305,
    ("hypothesis", "collapse-vma-lock-after-pmd-check"): 3181,
    ("atheris", "retract-no-pmd-recheck"): 4700,
    ("atheris", "uffd-move-no-dst-pmd-recheck"): 1997,
    ("atheris", "pt-reclaim-semi-rcu"): 2338,
    ("atheris", "ptlock-free-immediate"): 13408,
    ("atheris", "reclaim-after-ptl-drop"): 997,
    ("atheris", "pte-map-lock-no-pmd-same"): 93,
    ("atheris", "collapse-vma-lock-after-pmd-check"): 4517,
}
MARGIN = {"hypothesis": 3.0, "atheris": 4.0}
SLOW_PER_RUN = {"atheris": 5}      # an atheris execution costs about five others


def _cases():
    for (driver, bug), needed in sorted(NEEDED.items()):
        cost = needed * MARGIN.get(driver, 1.25) * SLOW_PER_RUN.get(driver, 1)
        marks = [pytest.mark.slow] if cost > SLOW_ABOVE * 2 or driver in MARGIN else []
        yield pytest.param(driver, bug, needed, marks=marks, id=f"{driver}-{bug}")


@pytest.mark.parametrize("driver, bug, needed", list(_cases()))
def test_the_driver_finds_the_bug_within_its_budget(driver, bug, needed):
    if driver == "atheris" and not atheris_available():
        pytest.skip("atheris is not installed")
    budget = int(needed * MARGIN.get(driver, 1.25)) + 1
    case, stats = make_driver(driver, Target(BugSet.parse([bug])), SEED).search(
        Budget(runs=budget))
    assert case is not None, f"{driver} did not find {bug} in {stats.executions} executions"
    assert PUBLIC[bug].produces(case.outcome.title), case.outcome.title


def test_every_public_bug_has_a_budget_for_every_driver_but_dfs():
    for driver in ("random", "pct", "hypothesis", "atheris"):
        assert {b for d, b in NEEDED if d == driver} == set(PUBLIC)


def test_canary_a_target_that_must_always_fail():
    """Every switch on at once: a report within a couple of thousand executions (if
    this ever passes, the drivers or the checkers are broken)."""
    target = Target(BugSet.parse(sorted(PUBLIC)))
    for driver in ("random", "pct"):
        case, _ = make_driver(driver, target, SEED).search(Budget(runs=2000))
        assert case is not None and any(b.produces(case.outcome.title)
                                        for b in PUBLIC.values())
