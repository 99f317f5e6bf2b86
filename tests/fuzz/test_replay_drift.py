"""A replay whose schedule names a site the thread never reaches says which line and
which site, continues with the default choices, and says whether the title still
fired."""

import os

from fuzz.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RETRACT = os.path.join(ROOT, "corpus", "regressions", "retract-no-pmd-recheck.kprog")


def _drifting(tmp_path, site: str):
    text = open(RETRACT).read().replace(
        "T0 until retract_page_tables:mmu_notifier_invalidate_range_start",
        f"T0 until {site}")
    path = tmp_path / "drift.kprog"
    path.write_text(text)
    line = text.splitlines().index(f"  T0 until {site}") + 1
    return path, line


def test_a_drifting_line_is_named_and_the_title_did_not_fire(capsys, tmp_path):
    path, line = _drifting(tmp_path, "zap_pte_range:need_resched")
    code = main(["replay", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert (f"schedule drift at line {line}: 'T0 until zap_pte_range:need_resched': T0 "
            "finished without reaching zap_pte_range:need_resched") in out
    assert "continued with the default choices, and the expected title did not fire" in out


def test_a_drift_after_the_decisive_step_still_fires(capsys, tmp_path):
    extra = "  T1 until zap_pte_range:need_resched\n"
    text = open(RETRACT).read().replace("  T1 finish\n", "  T1 finish\n" + extra)
    path = tmp_path / "late.kprog"
    path.write_text(text)
    code = main(["replay", str(path)])
    out = capsys.readouterr().out
    assert code == 0 and "there is no" not in out
    assert "'T1 until zap_pte_range:need_resched'" in out
    assert "and the expected title still fired" in out
