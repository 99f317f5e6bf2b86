"""The command-line contract: outputs, exit statuses, one-line errors."""

import json
from pathlib import Path

import pytest

from core.bugs import REGISTRY
from fuzz.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "regressions"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    info = json.loads(out)
    assert {"bugs", "operations", "configs", "drivers"} <= set(info)
    assert [b["name"] for b in info["bugs"]] == list(REGISTRY)
    assert all(b["title"] == REGISTRY[b["name"]].title for b in info["bugs"])
    ops = {o["name"]: o for o in info["operations"]}
    assert ops["madvise"]["syntax"] == "madvise M+O pages=N DONTNEED|FREE|COLLAPSE"
    assert ops["mmap"]["syntax"] == ("NAME = mmap [PROC] anon|shared|private [FILE] pages=N "
                                     "[pgoff=K] [uffd=none|missing|wp] [at=VPN]")
    assert ops["khugepaged_scan"]["threads"] == "kernel"
    assert ops["pt_reclaim_scan"]["requires"] == "pt_reclaim_async"
    assert {c["name"] for c in info["configs"]} >= {"split_ptlocks", "alloc_split_ptlocks",
                                                    "pt_reclaim", "table_free"}


def test_replay_matches_expectations(capsys):
    files = sorted(str(p) for p in CORPUS.glob("*.kprog"))
    code, out, _ = run(capsys, "replay", *files)
    assert code == 0
    assert len(out.splitlines()) == len(files)
    code, out, _ = run(capsys, "replay", "--bugs", "none", *files)
    assert code == 0
    assert all(line.endswith(": pass") for line in out.splitlines())


def test_replay_mismatch_exits_1(capsys):
    f = str(CORPUS / "reclaim-after-ptl-drop.kprog")
    code, out, _ = run(capsys, "replay", "--bugs", "pte-map-lock-no-pmd-same", f)
    assert code == 1
    assert out.startswith(f"{f}: pass  [expected: BUG: Bad rss-counter state]")


def test_replay_trace(capsys):
    f = str(CORPUS / "pt-reclaim-semi-rcu.kprog")
    code, out, _ = run(capsys, "replay", "--trace", f)
    assert code == 0
    assert "  trace hash 20d2be91df86944a, 104 steps" in out.splitlines()


@pytest.mark.parametrize("argv,message", [
    (["replay", "/nonexistent.kprog"], "ptfuzz: error: /nonexistent.kprog: No such file"),
    (["replay", "--bugs", "nope", "x"], "ptfuzz: error: unknown bug switch 'nope'"),
    (["litmus", "nope"], "ptfuzz: error: unknown litmus program 'nope'"),
    (["bogus"], "ptfuzz: error: argument command: invalid choice"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_malformed_kprog_names_file_and_line(capsys, tmp_path):
    p = tmp_path / "bad.kprog"
    p.write_text("kprog 1\nsetup {\n  p0 = process\n  frobnicate\n}\n")
    code, _, err = run(capsys, "replay", str(p))
    assert code == 2
    assert err == f"ptfuzz: error: {p}:4: unknown operation 'frobnicate' (known: " \
        + err.split("(known: ")[1]


# -- issue 17: bad places and numbers are refused before any work --------------------------

@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    return f


@pytest.mark.parametrize("argv,message", [
    (["fuzz", "--time", "nan"], "ptfuzz: error: argument --time: must be a positive, finite "
                                "number of seconds, not nan"),
    (["fuzz", "--time", "inf"], "ptfuzz: error: argument --time: must be a positive, finite "
                                "number of seconds, not inf"),
    (["campaign", "--drivers", "pct:100000000"],
     "ptfuzz: error: bad weight in 'pct:100000000' (from 1 to 100)"),
    (["campaign", "--workers", "100000"], "ptfuzz: error: --workers 100000: more than"),
    (["fuzz", "--runs", "1", "--out", "{file}"],
     "ptfuzz: error: --out {file}: exists and is not a directory"),
    (["fuzz", "--runs", "1", "--out", "{file}/sub"],
     "ptfuzz: error: --out {file}/sub: {file} is not a directory"),
    (["campaign", "--time", "1", "--dir", "{file}"],
     "ptfuzz: error: --dir {file}: exists and is not a directory"),
    (["show", str(CORPUS / "pt-reclaim-semi-rcu.kprog"), "--html", "{file}/x.html"],
     "ptfuzz: error: --html {file}/x.html: {file} is not a directory"),
    (["minimize", str(CORPUS / "pt-reclaim-semi-rcu.kprog"), "-o", "{file}/x.kprog"],
     "ptfuzz: error: -o {file}/x.kprog: {file} is not a directory"),
    (["fuzz", "--runs", "1", "--out", "/proc/no/such/dir"],
     "ptfuzz: error: --out /proc/no/such/dir: cannot write there"),
])
def test_bad_places_and_numbers_are_refused_first(capsys, a_file, argv, message):
    argv = [a.replace("{file}", str(a_file)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message.replace("{file}", str(a_file))), err
    assert err.count("\n") == 1


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("ptfuzz ")


def test_fuzz_honours_cpus_and_a_tiny_step_bound(capsys, tmp_path):
    code, out, err = run(capsys, "fuzz", "--runs", "30", "--config", "cpus=1", "--out",
                         str(tmp_path))
    assert (code, err) == (0, "")
    code, out, err = run(capsys, "fuzz", "--runs", "3", "--no-minimize", "--config",
                         "step_bound=1", "--out", str(tmp_path))
    assert code == 1 and "Traceback" not in out + err
    assert "livelock in do_mmap (step bound 1 reached)" in out


def test_minimize_writes_into_the_current_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "minimize", "--time", "5", str(CORPUS / "pt-reclaim-semi-rcu.kprog"))
    assert code == 0
    assert (tmp_path / "pt-reclaim-semi-rcu.min.kprog").exists()
    assert not (CORPUS / "pt-reclaim-semi-rcu.min.kprog").exists()
