"""Asynchronous PTE-table reclaim (core/mm/pt_reclaim_async.py, docs/async-reclaim.md):
the flaws ptfuzz found in its first versions, kept as switches with minimized
reproducers in corpus/async-reclaim, and the final design, which survives every one of
those programs under bounded-exhaustive search."""

from dataclasses import replace
from pathlib import Path

import pytest

from core.bugs import NO_BUGS, PUBLIC, REGISTRY
from core.kernel import Config, ConfigError
from core.program.kprog import KprogError, load, loads
from core.program.minimize import minimize
from core.program.program import run_program
from core.sim.explore import ScheduleOdometer, explore

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "async-reclaim"
FLAWS = sorted(n for n, b in REGISTRY.items() if b.group == "async-reclaim")

HASHES = {
    "async-reclaim-no-rescan": "ccac5787f7698e1a",
    "async-reclaim-no-vma-check": "7f51f96db4975f87",
    "async-reclaim-present-only": "7c1e8c39073dd10f",
}
# Bounded-exhaustive search (one preemption) on each reproducer's program with its
# schedule dropped: runs until the switch's first report, and all runs of the fixed
# design (every one passes). Exact: enumeration is deterministic.
# Re-pinned for issue 15 (were 1,782 / 326 / 1 and 3,196 / 1,387 / 368): callbacks run on
# their own thread (rcu_cb), and reclaim's try_to_unmap_one has its post-clear steps.
DFS_TO_REPORT = {
    "async-reclaim-no-rescan": 6951,
    "async-reclaim-no-vma-check": 1792,
    "async-reclaim-present-only": 1,
}
DFS_ALL_FIXED = {
    "async-reclaim-no-rescan": 11475,
    "async-reclaim-no-vma-check": 6159,
    "async-reclaim-present-only": 1078,
}


def test_one_reproducer_per_flaw_and_none_is_public():
    assert FLAWS == sorted(p.stem for p in CORPUS.glob("*.kprog")) == sorted(HASHES)
    assert not set(FLAWS) & set(PUBLIC)
    for name in FLAWS:
        assert REGISTRY[name].config == ("pt_reclaim_async=on",)


@pytest.mark.parametrize("bug", FLAWS)
def test_replays_with_its_switch_and_passes_without(bug):
    prog = load(str(CORPUS / f"{bug}.kprog"))
    assert prog.bugs == {bug} and prog.config.pt_reclaim_async
    for _ in range(20):
        out = run_program(prog)
        assert out.drift is None
        assert out.title == prog.expect == REGISTRY[bug].title
        assert out.trace_hash == HASHES[bug]
    assert run_program(prog, bugs=NO_BUGS).title == "pass"


@pytest.mark.parametrize("bug", FLAWS)
def test_reproducers_are_fixed_points_of_the_minimizer(bug):
    prog = load(str(CORPUS / f"{bug}.kprog"))
    m = minimize(prog, seconds=30)
    assert m.title == prog.expect and m.stable
    assert m.after == m.before
    assert m.after.threads <= 2 and m.after.preemptions <= 1
    assert "# story:" in m.program.comments


@pytest.mark.parametrize("bug", FLAWS)
def test_bounded_search_finds_the_flaw_and_the_final_design_survives_it(bug):
    prog = replace(load(str(CORPUS / f"{bug}.kprog")), schedule=None, choices=None)
    n, out = 0, None
    for out in explore(lambda src, st: run_program(prog, src, st), bound=1, limit=20_000,
                       source=ScheduleOdometer):
        n += 1
        if out.report is not None:
            break
    assert out.title == REGISTRY[bug].title
    assert n == DFS_TO_REPORT[bug]
    fixed = replace(prog, bugs=NO_BUGS)
    titles = [o.title for o in explore(lambda src, st: run_program(fixed, src, st), bound=1,
                                       limit=20_000, source=ScheduleOdometer)]
    assert len(titles) == DFS_ALL_FIXED[bug]
    assert set(titles) == {"pass"}


def test_the_scan_needs_its_config():
    text = (CORPUS / "async-reclaim-present-only.kprog").read_text()
    with pytest.raises(KprogError, match="pt_reclaim_scan needs config pt_reclaim_async=on"):
        loads(text.replace("config: pt_reclaim_async=on", ""))
    with pytest.raises(ConfigError, match="pt_reclaim_async=on needs table_free=rcu"):
        Config(pt_reclaim_async=True, pt_reclaim=False, table_free="semi_rcu")
