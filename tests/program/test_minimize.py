"""``core.program.minimize`` and ``ptfuzz minimize``: a driver's first failing case shrinks
to a small reproducer that replays to the same title every time, passes without its
switch, and round-trips through the text form."""

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from core.bugs import BugSet
from core.program.kprog import dumps, load, loads
from core.program.minimize import Size, minimize, size_of
from core.program.program import run_program
from fuzz.cli import main
from fuzz.drivers import Budget, make_driver
from fuzz.findings import make_finding
from fuzz.target import Target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGRESSIONS = os.path.join(ROOT, "corpus", "regressions")


@pytest.fixture(scope="module")
def collapse_case():
    """The random driver's first failing case for collapse-vma-lock-after-pmd-check."""
    target = Target(BugSet.parse(["collapse-vma-lock-after-pmd-check"]))
    case, _ = make_driver("random", target, 1).search(Budget(runs=5000))
    return make_finding(case, "a test").program


@pytest.fixture(scope="module")
def minimized(collapse_case):
    return minimize(collapse_case)


def test_the_first_failing_case_shrinks_to_three_threads_and_one_preemption(collapse_case,
                                                                            minimized):
    m = minimized
    assert m.title == "BUG: Bad pmd in __pte_offset_map" and m.stable
    # The random driver's first failing case (seed 1); its size moved with the model's
    # steps in issue 15 (was 164 lines, 147 preemptions) and with the generator's new
    # operations and options in issue 18 (was 3 threads, 3 ops, 7 setup, 167 lines, 144
    # preemptions, minimized to 2 threads: khugepaged and MADV_DONTNEED).
    assert m.before == Size(threads=4, ops=6, setup=4, lines=93, preemptions=68)
    assert m.after == Size(threads=3, ops=3, setup=2, lines=2, preemptions=1)
    assert [line.text() for line in m.program.schedule] == [
        "T1 until lock_vma_under_rcu:rcu_read_unlock", "T2 finish"]
    assert [t.name for t in m.program.threads] == ["T0", "T1", "T2"]
    assert m.program.processes == ("p0",)


def test_the_minimized_program_replays_and_passes_without_its_switch(minimized):
    prog = minimized.program
    assert prog.expect == minimized.title
    for _ in range(20):
        assert run_program(prog).title == minimized.title
    assert run_program(prog, bugs=BugSet()).title == "pass"


def test_the_story_says_what_each_thread_does_and_the_decisive_steps(minimized):
    story = "\n".join(minimized.program.comments)
    assert "#   T0 on p0: madvise m0+0 pages=8 COLLAPSE" in story
    assert "#   T1 on p0: madvise m0+0 pages=8 DONTNEED" in story
    assert "#   T2 on p0: mprotect m0 rw" in story
    assert "#   1) T1 runs until just before lock_vma_under_rcu:rcu_read_unlock" in story
    assert "#   2) T2 runs to its end" in story
    assert "minimized from 4 threads, 6 operations" in story


def test_a_minimized_file_round_trips_and_its_hash_is_stable_across_processes(minimized,
                                                                            tmp_path):
    text = dumps(minimized.program)
    again = loads(text)
    assert again == minimized.program and dumps(again) == text
    path = tmp_path / "min.kprog"
    path.write_text(text)
    here = run_program(load(str(path))).trace_hash
    code = ("import sys; from core.program.kprog import load; "
            "from core.program.program import run_program; "
            "print(run_program(load(sys.argv[1])).trace_hash)")
    for hashseed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=ROOT)
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, env=env, check=True).stdout.strip()
        assert out == here


def test_minimizing_again_changes_nothing(minimized):
    again = minimize(minimized.program)
    assert again.after == minimized.after
    assert dumps(replace(again.program, comments=())) == dumps(
        replace(minimized.program, comments=()))


@pytest.mark.parametrize("name", sorted(f[:-6] for f in os.listdir(REGRESSIONS)))
def test_the_regression_reproducers_are_already_minimal(name):
    """The hand-written reproducers are fixed points of the minimizer: the same title,
    the same size on every axis, one preemption, the hand-written story kept."""
    prog = load(os.path.join(REGRESSIONS, name + ".kprog"))
    m = minimize(prog, seconds=30)
    assert m.title == prog.expect and m.stable
    assert m.after == m.before and m.after.threads == 2 and m.after.preemptions == 1
    assert "# story:" in m.program.comments


def test_hand_written_comments_are_kept_and_a_second_story_replaces_the_first(minimized):
    prog = replace(minimized.program, comments=("# why this matters",)
                   + minimized.program.comments)
    again = minimize(prog)
    comments = again.program.comments
    assert "# why this matters" in comments
    assert sum(c.startswith("# story (ptfuzz minimize)") for c in comments) == 1


def test_a_program_that_passes_is_not_minimized():
    prog = load(os.path.join(ROOT, "corpus", "seeds", "anon-fault-vs-zap.kprog"))
    with pytest.raises(ValueError, match="passes"):
        minimize(prog)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_minimize_command_writes_min_kprog(capsys, tmp_path, collapse_case, monkeypatch):
    monkeypatch.chdir(tmp_path)            # NAME.min.kprog goes into the current directory
    raw = tmp_path / "case.raw.kprog"
    raw.write_text(dumps(collapse_case))
    code, out, _ = _run(capsys, "minimize", str(raw))
    assert code == 0
    written = tmp_path / "case.min.kprog"
    assert "written to case.min.kprog" in out
    assert "after:  3 threads, 3 operations" in out
    assert size_of(load(str(written)), run_program(load(str(written)))).preemptions == 1


@pytest.mark.parametrize("argv, message", [
    (["minimize", "/nonexistent.kprog"], "/nonexistent.kprog"),
    (["minimize", "x.kprog", "--time", "0"],
     "argument --time: must be a positive, finite number of seconds"),
])
def test_minimize_usage_errors_exit_2(capsys, argv, message):
    code, _, err = _run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_minimizing_a_passing_file_exits_1(capsys):
    path = os.path.join(ROOT, "corpus", "seeds", "anon-fault-vs-zap.kprog")
    code, out, _ = _run(capsys, "minimize", path)
    assert code == 1 and "passes, nothing to minimize" in out
