"""``ptfuzz bench``: every figure of benchmarks.md is in the JSON and is a number of the
right sign. The bench's speed is its own business: this checks its shape on a small
setting (one bug, short budgets); the real ``--quick`` run is a slow test."""

import json

import pytest

from core.bugs import PUBLIC
from fuzz.bench.run import Settings, markdown, run_bench
from fuzz.cli import main

BUG = "pte-map-lock-no-pmd-same"


def _positive(x):
    return isinstance(x, (int, float)) and x > 0


def _check(r, bugs):
    assert set(r) >= {"machine", "settings", "throughput", "engine", "checkers",
                      "time_to_bug", "pct_theory", "reproducers", "scaling", "seconds"}
    assert r["machine"]["cores"] >= 1 and r["machine"]["python"]
    for label in ("random", "pct", "dfs", "hypothesis", "atheris",
                  "atheris-uninstrumented"):
        t = r["throughput"][label]
        assert _positive(t["steps_per_s"]) and _positive(t["executions_per_s"]), label
    e = r["engine"]
    for k in ("plain_round_robin_steps_per_s", "bare_engine_random_steps_per_s",
              "bare_engine_pct_steps_per_s", "random_fraction_of_ceiling"):
        assert _positive(e[k]), k
    c = r["checkers"]
    assert _positive(c["all_steps_per_s"]) and _positive(c["all_cost"])
    assert set(c["each"]) == {"kasan", "lockdep", "leaks", "oracle", "ptlock_order"}
    assert all(_positive(v["cost"]) for v in c["each"].values())
    for bug in bugs:
        for d in ("random", "pct", "hypothesis", "atheris"):
            t = r["time_to_bug"][bug][d]
            assert t["trials"] >= 1 and 0 <= t["found"] <= t["trials"]
            if t["found"]:
                assert _positive(t["executions"]["median"])
                assert _positive(t["seconds"]["median"])
        p = r["pct_theory"][bug]
        assert _positive(p["bound"]) and p["n"] >= 2 and p["k"] > 0 and p["d"] >= 1
        assert 0 <= p["observed"] <= 1
    for row in r["reproducers"]:
        assert row["found"] and row["ok"]
        assert _positive(row["minimize_seconds"]) and row["after"]["threads"] <= 3
    s = r["scaling"]
    assert _positive(s["1"]["executions_per_s"]) and _positive(s["2"]["executions_per_s"])
    assert _positive(s["ratio"])


def test_a_small_bench_has_every_figure():
    st = Settings(quick=True, trials=2, cap=3.0, jobs=2)    # trials in a process pool
    st.bugs = (BUG,)
    st.throughput, st.engine_steps, st.checker_seconds = 1.0, 20_000, 0.3
    st.pct_runs, st.scaling = 20, 3.0
    r = run_bench(st, log=lambda text: None)
    _check(r, (BUG,))
    assert [t["trials"] for t in r["time_to_bug"][BUG].values()] == [2, 2, 2, 2]
    text = markdown(r)
    assert "| random |" in text and "ratio" in text and BUG in text
    json.dumps(r)                                  # it serializes


@pytest.mark.slow
def test_the_quick_bench_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    r = json.load(open(out))
    _check(r, list(r["time_to_bug"]))
    assert set(r["time_to_bug"]) == set(PUBLIC)


@pytest.mark.parametrize("argv, message", [
    (["--trials", "0"], "--trials must be at least 1"),
    (["--cap", "0"], "argument --cap: must be a positive, finite number of seconds"),
    (["--jobs", "0"], "--jobs must be at least 1"),
])
def test_bench_usage_errors_exit_2(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err
