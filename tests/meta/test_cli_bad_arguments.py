"""Every command, every option given a bad value: one line on stderr, exit 2, before any
work (the output places are checked first, the numbers parsed strictly)."""

import itertools
from pathlib import Path

import pytest

from fuzz.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "regressions"
KPROG = str(CORPUS / "pt-reclaim-semi-rcu.kprog")

BAD_NUMBERS = ["nan", "inf", "-1", "0", "1_000", "١", "", "x", "1e99999", "0x"]
BAD_PLACES = ["{file}", "{file}/sub", "/proc/no/such"]

# A campaign that would run, were its last option good (in the test's directory).
CAMPAIGN = ["campaign", "--time", "5", "--dir", "{dir}/c"]

# command prefix, option, bad values (a number of each kind, or a place to write)
CASES = [
    (["fuzz", "--runs", "1"], "--seed", ["1_000", "١", "", "x", "0x"]),
    (["fuzz"], "--runs", BAD_NUMBERS),
    (["fuzz"], "--time", BAD_NUMBERS),
    (["fuzz", "--runs", "1"], "--out", BAD_PLACES),
    (["fuzz", "--runs", "1"], "--driver", ["nope", ""]),
    (["fuzz", "--runs", "1"], "--bug", ["nope", ""]),
    (["fuzz", "--runs", "1"], "--config", ["cpus=0", "cpus=1_0", "nope=1", "cpus",
                                          "ptrs_per_pte=100000", "table_free=x"]),
    (CAMPAIGN, "--workers", ["0", "-1", "100000", "x"]),
    (CAMPAIGN, "--time", BAD_NUMBERS),
    (CAMPAIGN, "--drivers", ["pct:0", "pct:101", "nope", "dfs", "pct:x", ""]),
    (["campaign", "--time", "5"], "--dir", ["{file}", "{file}/sub", "/proc/no/such"]),
    (CAMPAIGN, "--items", ["0", "-1", "x"]),
    (CAMPAIGN, "--backend", ["nope"]),
    (["minimize", KPROG], "--time", BAD_NUMBERS),
    (["minimize", KPROG], "-o", ["{file}/x.kprog", "/proc/no/such/x.kprog", "{dir}"]),
    (["show", KPROG], "--width", ["0", "39", "x", "1_00"]),
    (["show", KPROG], "--html", ["{file}/x.html", "{dir}"]),
    (["show", KPROG], "--threads", ["T9", "nope"]),
    (["bench"], "--trials", ["0", "x"]),
    (["bench"], "--cap", BAD_NUMBERS),
    (["bench"], "--jobs", ["0", "x"]),
    (["bench"], "--json", ["{file}/x.json", "{dir}"]),
    (["replay"], "--bugs", ["nope"]),
    (["litmus"], "--bound", ["x", "1_0"]),
    (["coverage", "{dir}"], "--html", ["{file}/x"]),
]


def _argvs():
    for prefix, option, values in CASES:
        for v in values:
            extra = [KPROG] if prefix == ["replay"] else []
            yield prefix + [option, v] + extra


@pytest.mark.parametrize("argv", list(_argvs()), ids=lambda a: " ".join(a)[:60])
def test_a_bad_value_is_one_line_and_exit_2(capsys, tmp_path, argv):
    f = tmp_path / "afile"
    f.write_text("x")
    argv = [a.replace("{file}", str(f)).replace("{dir}", str(tmp_path)) for a in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert out == "" and err.startswith("ptfuzz: error: ") and err.count("\n") == 1, err


def test_the_cases_cover_every_command_with_options():
    from fuzz.cli import _parser
    sub = next(a for a in _parser()._actions if a.dest == "command")
    covered = {c[0][0] for c in CASES}
    assert covered == set(sub.choices) - {"list", "anchors", "drift"}
    assert len(list(_argvs())) == sum(len(v) for _, _, v in CASES) == 106
    assert len(set(itertools.chain.from_iterable(v for _, _, v in CASES))) > 30
