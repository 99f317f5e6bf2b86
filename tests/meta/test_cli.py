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
