"""The regression reproducers of corpus/regressions: one per public bug switch.

Each replays to its expected title with its switch on, to ``pass`` with ``--bugs none``,
and to the same trace hash every time; and the same holds under every combination of
split_ptlocks, alloc_split_ptlocks and table_free where the bug can exist (the file's
header says which and why; the table below is the executable form of those headers).
"""

import dataclasses
import itertools
from pathlib import Path

import pytest

from core.bugs import NO_BUGS, PUBLIC, REGISTRY
from core.kernel import Config, ConfigError
from core.program.kprog import dumps, load, loads
from core.program.program import run_program

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "regressions"

UAF_FAULT = "BUG: KASAN: use-after-free Read in handle_pte_fault"
SLAB_UAF_LOCK = "BUG: KASAN: slab-use-after-free Read in __pte_offset_map_lock"
RSS = "BUG: Bad rss-counter state"
GPF = "general protection fault in pte_lockptr"
INVALID_FREE = "BUG: KASAN: invalid-free in pte_free_defer"
BAD_PMD = "BUG: Bad pmd in __pte_offset_map"

# (split_ptlocks, alloc_split_ptlocks) -> title, for table_free=rcu (the only table_free
# with PT reclaim; with semi_rcu and tlb_only pt_reclaim is off and every bug is absent).
EXPECTED = {
    "collapse-vma-lock-after-pmd-check": {(1, 0): BAD_PMD, (1, 1): BAD_PMD, (0, 0): BAD_PMD},
    "pt-reclaim-semi-rcu": {(1, 0): UAF_FAULT, (1, 1): UAF_FAULT, (0, 0): UAF_FAULT},
    "pte-map-lock-no-pmd-same": {(1, 0): RSS, (1, 1): RSS, (0, 0): RSS},
    "ptlock-free-immediate": {(1, 0): "pass", (1, 1): SLAB_UAF_LOCK, (0, 0): "pass"},
    "reclaim-after-ptl-drop": {(1, 0): RSS, (1, 1): RSS, (0, 0): "pass"},
    "retract-no-pmd-recheck": {(1, 0): GPF, (1, 1): GPF, (0, 0): INVALID_FREE},
    "uffd-move-no-dst-pmd-recheck": {(1, 0): RSS, (1, 1): RSS, (0, 0): RSS},
}

# Re-pinned for issue 15: RCU callbacks run on their own thread (rcu_cb), which changes
# every trace whose grace period ends before the report; retract-no-pmd-recheck also
# gains flush_tlb_batched_pending's cmpxchg step (the flush collapse_file's try_to_unmap
# deferred is marked done after the flush).
HASHES = {
    "collapse-vma-lock-after-pmd-check": "784d3097edaecfb1",
    "pt-reclaim-semi-rcu": "20d2be91df86944a",
    "pte-map-lock-no-pmd-same": "44fe3c3fc59acacd",
    "ptlock-free-immediate": "364fc8ad730b1701",
    "reclaim-after-ptl-drop": "c96d847e6182ef66",
    "retract-no-pmd-recheck": "648fe4359846beb7",
    "uffd-move-no-dst-pmd-recheck": "e5310423bb4b138a",
}


def test_one_reproducer_per_public_switch():
    assert sorted(p.stem for p in CORPUS.glob("*.kprog")) == sorted(PUBLIC)
    assert set(EXPECTED) == set(PUBLIC) == set(HASHES)


@pytest.mark.parametrize("bug", sorted(PUBLIC))
def test_replays_to_its_title_and_passes_without_the_switch(bug):
    prog = load(str(CORPUS / f"{bug}.kprog"))
    assert prog.bugs == {bug}
    out = run_program(prog)
    assert out.drift is None
    assert out.title == prog.expect == PUBLIC[bug].title
    assert out.trace_hash == HASHES[bug]
    again = run_program(load(str(CORPUS / f"{bug}.kprog")))
    assert again.trace_hash == HASHES[bug]
    fixed = run_program(prog, bugs=NO_BUGS)
    assert fixed.title == "pass"


def _combos():
    for split, alloc, tf in itertools.product((1, 0), (0, 1), ("rcu", "semi_rcu", "tlb_only")):
        try:
            Config(split_ptlocks=bool(split), alloc_split_ptlocks=bool(alloc), table_free=tf,
                   pt_reclaim=tf == "rcu")
        except ConfigError:
            continue
        yield split, alloc, tf


@pytest.mark.parametrize("bug", sorted(PUBLIC))
@pytest.mark.parametrize("split,alloc,table_free", list(_combos()))
def test_every_lock_and_table_free_combination(bug, split, alloc, table_free):
    prog = load(str(CORPUS / f"{bug}.kprog"))
    cfg = dataclasses.replace(prog.config, split_ptlocks=bool(split),
                              alloc_split_ptlocks=bool(alloc), table_free=table_free,
                              pt_reclaim=table_free == "rcu")
    prog = dataclasses.replace(prog, config=cfg)
    expected = EXPECTED[bug][(split, alloc)] if table_free == "rcu" else "pass"
    assert run_program(prog).title == expected
    assert run_program(prog, bugs=NO_BUGS).title == "pass"


@pytest.mark.parametrize("bug", sorted(PUBLIC))
def test_written_and_loaded_is_the_same_program(bug):
    prog = load(str(CORPUS / f"{bug}.kprog"))
    text = dumps(prog)
    again = loads(text)
    assert again == prog
    assert dumps(again) == text


def test_switches_compose():
    """All switches at once: every reproducer still reports."""
    every = load(str(CORPUS / "pte-map-lock-no-pmd-same.kprog")).bugs.parse(list(REGISTRY))
    for bug in PUBLIC:
        prog = load(str(CORPUS / f"{bug}.kprog"))
        assert run_program(prog, bugs=every).title != "pass", bug


def test_finding_in_the_fixed_model_replays():
    """corpus/findings: a suspected kernel bug (see the file's story), with split locks
    off only."""
    path = CORPUS.parent / "findings" / "collapse-pte-mapped-thp-pml-leak.kprog"
    prog = load(str(path))
    assert not prog.bugs
    out = run_program(prog)
    assert out.drift is None and out.title == prog.expect
    split = dataclasses.replace(prog, config=prog.config.with_values(split_ptlocks=True))
    assert run_program(split).title == "pass"
