"""``ptfuzz drift`` on a small made-up kernel tree (tests/fixtures/kernel-tree, with its
anchors in tests/fixtures/kernel-anchors), and ``ptfuzz anchors``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.upstream import ANCHORS, read_body
from fuzz.cli import main

FIX = Path(__file__).resolve().parents[1] / "fixtures"
TREE = FIX / "kernel-tree"
ANCH = FIX / "kernel-anchors"


def _drift(capsys, *extra, tree=TREE):
    rc = main(["drift", "--tree", str(tree), "--anchors", str(ANCH / "anchors.json"),
               "--bodies", str(ANCH / "bodies"), *extra])
    out, err = capsys.readouterr()
    return rc, out, err


def test_drift_on_the_fixture_tree(capsys):
    rc, out, err = _drift(capsys, "--json")
    assert rc == 1 and err == ""
    doc = json.loads(out)
    status = {f"{r['kernel_file']}:{r['kernel_function']}": r["status"] for r in doc["results"]}
    assert status == {
        "mm/toy_memory.c:toy_zap_range": "changed",
        "mm/toy_memory.c:toy_counter": "same",      # only comments and whitespace differ
        "mm/toy_rmap.c:toy_unmap_one": "same",
        "mm/toy_rmap.c:toy_gone": "missing",         # the file is there, the function not
        "mm/toy_absent.c:toy_elsewhere": "missing",  # no such file
    }
    assert doc["counts"] == {"same": 2, "changed": 1, "missing": 2}
    assert doc["tree_version"] == "v6.99-toy"
    changed = next(r for r in doc["results"] if r["status"] == "changed")
    diff = changed["diff"]
    assert diff[0].startswith("--- a/mm/toy_memory.c:toy_zap_range")
    assert diff[1].startswith("+++ b/mm/toy_memory.c:toy_zap_range")
    assert "+\ttoy_flush_tlb(t);\t/* the changed line: flush before the unlock */" in diff
    assert "-\ttoy_flush_tlb(t);" in diff
    reasons = {r["kernel_function"]: r.get("reason") for r in doc["results"]}
    assert reasons["toy_elsewhere"] == "no such file"
    assert reasons["toy_gone"] == "no such function in the file"


def test_drift_text_output(capsys):
    rc, out, _ = _drift(capsys)
    assert rc == 1
    lines = out.splitlines()
    assert lines[0].startswith("changed  mm/toy_memory.c:toy_zap_range")
    assert "2 same, 1 changed, 2 missing of 5 anchored kernel functions" in lines[-1]


def test_drift_without_stored_bodies_diffs_by_fingerprint(capsys, tmp_path):
    rc = main(["drift", "--tree", str(TREE), "--anchors", str(ANCH / "anchors.json"),
               "--bodies", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    diff = next(r for r in doc["results"] if r["status"] == "changed")["diff"]
    assert "+toy_flush_tlb(t);" in diff          # the tree's line, normalised
    assert any(d.startswith("-[anchored line") for d in diff)


def test_drift_all_same_exits_0(capsys, tmp_path):
    rows = [r for r in json.loads((ANCH / "anchors.json").read_text())
            if r["kernel_function"] in ("toy_counter", "toy_unmap_one")]
    f = tmp_path / "anchors.json"
    f.write_text(json.dumps(rows))
    rc = main(["drift", "--tree", str(TREE), "--anchors", str(f)])
    out = capsys.readouterr().out
    assert rc == 0 and "2 same, 0 changed, 0 missing" in out


@pytest.mark.parametrize("case", ["absent", "file", "not-kernel", "no-mm"])
def test_bad_tree_is_a_one_line_error(capsys, tmp_path, case):
    if case == "absent":
        tree = tmp_path / "nope"
    elif case == "file":
        tree = tmp_path / "f"
        tree.write_text("x")
    elif case == "not-kernel":
        tree = tmp_path
        (tmp_path / "mm").mkdir()
    else:
        tree = tmp_path
        (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\n")
    rc = main(["drift", "--tree", str(tree)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("ptfuzz: error: ")
    assert str(tree) in err


def test_bad_anchors_file_is_a_one_line_error(capsys, tmp_path):
    f = tmp_path / "a.json"
    f.write_text("{not json")
    rc = main(["drift", "--tree", str(TREE), "--anchors", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_anchors_command(capsys):
    assert main(["anchors"]) == 0
    out = capsys.readouterr().out
    assert "core.mm.memory_zap.zap_pte_range" in out and "mm/memory.c:zap_pte_range" in out
    assert main(["anchors", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    read = [r for r in rows if r["sha256"]]
    assert len(read) == len(ANCHORS)
    assert {"python", "kernel_file", "kernel_function", "version", "commit", "sha256"} <= set(
        rows[0])


STORED = [a for a in ANCHORS if read_body(a.kernel_file, a.kernel_function) is not None]


@pytest.mark.skipif(len(STORED) != len(ANCHORS), reason="the stored bodies are a local cache "
                    "(core/upstream/bodies, not committed); python -m core.upstream.reanchor")
def test_drift_of_the_project_anchors_on_a_tree_of_their_bodies(capsys, tmp_path):
    """A tree made of the stored bodies is all same; change one line of one function and
    drift reports exactly that one, with the line in its diff."""
    files: dict[str, list[str]] = {}
    for a in ANCHORS:
        body = read_body(a.kernel_file, a.kernel_function)[1]
        if a.key == "mm/memory.c:zap_pte_range":
            body = body.replace("flush_tlb_batched_pending(mm);",
                                "flush_tlb_batched_pending(mm); /* moved */ cond_resched();", 1)
        files.setdefault(a.kernel_file, []).append(body)
    for name, bodies in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n\n".join(dict.fromkeys(bodies)))
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 18\n")
    rc = main(["drift", "--tree", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    changed = [r for r in doc["results"] if r["status"] != "same"]
    assert [(r["kernel_function"], r["status"]) for r in changed] == [("zap_pte_range",
                                                                       "changed")]
    assert any("cond_resched();" in line and line.startswith("+") for line in changed[0]["diff"])
