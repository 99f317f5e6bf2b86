"""Findings (fuzz/findings.py) and byte inputs (fuzz/byte_input.py)."""

import glob
import os

import pytest

from core.bugs import BugSet
from core.program.kprog import load
from fuzz.byte_input import kprog_to_bytes, run_bytes
from fuzz.drivers import Budget, make_driver
from fuzz.findings import make_finding, slug
from fuzz.target import Target, derive_seed, interleaving_pairs

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CORPUS = sorted(glob.glob(os.path.join(ROOT, "corpus", "regressions", "*.kprog")))


def test_slug():
    assert slug("BUG: KASAN: use-after-free Read in __pte_offset_map_lock") == \
        "bug-kasan-use-after-free-read-in-pte-offset-map-lock"


def test_derived_seeds_are_fixed_and_distinct():
    assert derive_seed(1, "pct", 0) == derive_seed(1, "pct", 0)
    assert len({derive_seed(1, "pct", i) for i in range(1000)}) == 1000
    assert derive_seed(1, "pct", 0) != derive_seed(2, "pct", 0)


def test_a_finding_is_written_and_replays_to_its_title(tmp_path):
    target = Target(BugSet.parse(["collapse-vma-lock-after-pmd-check"]))
    case, stats = make_driver("random", target, 1).search(Budget(runs=5000))
    assert case is not None and case.outcome.title == "BUG: Bad pmd in __pte_offset_map"
    f = make_finding(case, "a test")
    assert f.replays and f.replay_title == f.title
    path = f.write(str(tmp_path))
    assert os.path.basename(path).startswith("bug-bad-pmd-in-pte-offset-map-")
    prog = load(path)
    assert prog.expect == "BUG: Bad pmd in __pte_offset_map"
    assert prog.comments[0] == "# title: BUG: Bad pmd in __pte_offset_map"
    assert [x for x in os.listdir(tmp_path) if x.startswith(".")] == []    # atomic


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: os.path.basename(p)[:-6])
def test_a_kprog_becomes_a_byte_input_that_replays_it(path):
    prog = load(path)
    seeds = [load(p) for p in CORPUS]
    data, out = kprog_to_bytes(prog, CORPUS.index(path))
    assert out.title == prog.expect
    case = run_bytes(data, Target(prog.bugs), seeds)
    assert case.outcome.title == prog.expect


def test_interleaving_pairs_are_context_switches():
    target = Target()
    from core.sim import RandomSource
    from core.sim.strategies import RandomWalk
    case = target.run(RandomSource(3), RandomWalk())
    pairs = interleaving_pairs(case)
    steps = case.outcome.trace.steps[case.outcome.start:]
    switches = sum(1 for a, b in zip(steps, steps[1:], strict=False) if a[0] != b[0])
    assert 0 < len(pairs) <= switches
