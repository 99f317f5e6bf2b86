"""``ptfuzz fuzz``: exit statuses, one-line usage errors, and a brief run of every
driver."""

import pytest

from core.program.kprog import loads
from fuzz.cli import main
from fuzz.drivers import DRIVERS, Budget, make_driver
from fuzz.drivers.atheris_driver import atheris_available
from fuzz.target import Target


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["--bug", "nope"], "unknown bug switch 'nope'"),
    (["--driver", "nope"], "unknown driver 'nope'"),
    (["--config", "pt_reclaim=on", "--config", "table_free=tlb_only"],
     "pt_reclaim=on needs table_free=rcu"),
    (["--config", "nope=1"], "unknown config 'nope'"),
    (["--time", "5", "--runs", "5"], "give --time or --runs, not both"),
    (["--runs", "0"], "the budget must be positive"),
])
def test_bad_input_is_a_one_line_error_with_status_2(capsys, argv, message):
    code, out, err = _run(capsys, "fuzz", *argv)
    assert code == 2
    assert err.startswith("ptfuzz: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_nothing_found_exits_0(capsys, tmp_path):
    code, out, _ = _run(capsys, "fuzz", "--driver", "random", "--runs", "50",
                        "--out", str(tmp_path))
    assert code == 0
    assert out.splitlines()[-1].startswith("no report: 50 execs")
    assert list(tmp_path.iterdir()) == []


def test_a_finding_exits_1_and_is_written(capsys, tmp_path):
    code, out, _ = _run(capsys, "fuzz", "--driver", "random", "--bug",
                        "collapse-vma-lock-after-pmd-check", "--runs", "5000",
                        "--out", str(tmp_path))
    assert code == 1
    # The minimized reproducer, and the first failing case next to it.
    files = sorted(tmp_path.iterdir(), key=lambda f: f.name.endswith(".raw.kprog"))
    assert len(files) == 2 and files[1].name.endswith(".raw.kprog")
    assert f"written to {files[0]}" in out and f"the first failing case is {files[1]}" in out
    for f in files:
        code, out, _ = _run(capsys, "replay", str(f))
        assert code == 0 and out.startswith(f"{f}: BUG: Bad pmd in __pte_offset_map")
        code, out, _ = _run(capsys, "replay", "--bugs", "none", str(f))
        assert out.startswith(f"{f}: pass")
    minimized = loads(files[0].read_text())
    assert len(minimized.threads) <= 3 and all(len(t.ops) <= 4 for t in minimized.threads)


def test_no_minimize_writes_the_first_failing_case_only(capsys, tmp_path):
    code, out, _ = _run(capsys, "fuzz", "--driver", "random", "--bug",
                        "collapse-vma-lock-after-pmd-check", "--runs", "5000",
                        "--out", str(tmp_path), "--no-minimize")
    assert code == 1
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".kprog" and "minimized" not in out


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_every_driver_runs_briefly_on_the_fixed_model(name):
    if name == "atheris" and not atheris_available():
        pytest.skip("atheris is not installed")
    case, stats = make_driver(name, Target(), 1).search(Budget(runs=30))
    assert case is None
    assert stats.executions >= 30 and stats.steps > 0 and not stats.titles
