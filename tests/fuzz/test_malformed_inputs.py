"""Thousands of malformed ``.kprog`` files (tests/fuzz/malformed.py: seeded mutations of
the corpus) through ``ptfuzz replay``: every one either runs (exit 0 or 1, never a
traceback, never a model error, nothing that reaches the terminal as a control sequence)
or is refused with exit 2 and one line naming the file and, where there is one, the
line. Replayed with ``--bugs none``, an accepted program reports nothing but what the
fixed model itself reports: the mainline findings of corpus/findings/ and a step bound a
program set itself."""

import contextlib
import io
import re

import pytest

from fuzz.cli import main

from .malformed import mutants

# Titles the fixed model may give a mutated program: pass, or a step bound a config
# lowered; and, for mutants of corpus/findings/ (mainline kernel bugs, reported with every
# switch off), what those findings give.
FIXED_MODEL_TITLES = re.compile(r"pass$|livelock in \w+ \(step bound \d+ reached\)$")
FINDINGS = ("collapse-pte-mapped-thp-nosplit-free-pfn0-", "collapse-pte-mapped-thp-pml-leak-")
FINDING_TITLES = re.compile(
    r"WARNING: lock held when returning to user space!$"
    r"|BUG: sleeping function called from invalid context$"
    r"|BUG: KASAN: invalid-free in pte_free_defer$")


def _replay(path, *extra):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["replay", *extra, str(path)])
    return rc, out.getvalue(), err.getvalue()


def _check(tmp_path, count, seed):
    refused = accepted = 0
    for name, data in mutants(count, seed):
        path = tmp_path / f"{name}.kprog"
        path.write_bytes(data)
        rc, out, err = _replay(path)
        case = f"{name}: rc {rc}\n{out}{err}"
        assert rc in (0, 1, 2), case
        assert "Traceback" not in out + err and "model error" not in out, case
        assert "\x1b" not in out + err, case
        if rc == 2:
            refused += 1
            assert out == "" and err.count("\n") == 1, case
            assert re.match(rf"ptfuzz: error: {re.escape(str(path))}(:[1-9][0-9]*)?: ", err), case
            continue
        accepted += 1
        rc, out, err = _replay(path, "--bugs", "none")
        title = out.split(": ", 1)[1].split("\n")[0].split("  [expected")[0]
        ok = FIXED_MODEL_TITLES.match(title) or (name.startswith(FINDINGS)
                                                 and FINDING_TITLES.match(title))
        assert ok, case + "\n--bugs none: " + out
    path.unlink()
    return refused, accepted


def test_malformed_inputs_sample(tmp_path):
    refused, accepted = _check(tmp_path, 500, seed=0)
    assert (refused, accepted) == (295, 205)


@pytest.mark.slow
def test_malformed_inputs_many(tmp_path):
    refused, accepted = _check(tmp_path, 8000, seed=1)
    assert refused > 4000 and accepted > 3000
