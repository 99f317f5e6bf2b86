"""``ptfuzz fuzz``: exit statuses, one-line usage errors, and a brief run of every
driver."""

import pytest

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
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".kprog"
    assert f"written to {files[0]}" in out
    code, out, _ = _run(capsys, "replay", str(files[0]))
    assert code == 0 and out.startswith(f"{files[0]}: BUG: Bad pmd in __pte_offset_map")
    code, out, _ = _run(capsys, "replay", "--bugs", "none", str(files[0]))
    assert out.startswith(f"{files[0]}: pass")


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_every_driver_runs_briefly_on_the_fixed_model(name):
    if name == "atheris" and not atheris_available():
        pytest.skip("atheris is not installed")
    case, stats = make_driver(name, Target(), 1).search(Budget(runs=30))
    assert case is None
    assert stats.executions >= 30 and stats.steps > 0 and not stats.titles
