"""docs/extending.md cannot rot: its walkthrough (a new path, its config option,
operation, generated kind, scenario, bug switch, a search that finds the switch and a
campaign on the fixed path) is applied literally to a fresh copy of the tree by
scripts/walkthrough.py, and every command must do what the guide says."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _walkthrough():
    spec = importlib.util.spec_from_file_location("walkthrough",
                                                  ROOT / "scripts" / "walkthrough.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["walkthrough"] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_the_guide_followed_literally_works(tmp_path):
    wt = _walkthrough()
    lines = []
    assert wt.walk(ROOT / "docs" / "extending.md", tmp_path, lines.append) == 0, "\n".join(lines)
    assert lines[-1] == "all 11 steps of extending.md hold"
    # The switch was found and minimized; the fixed path's campaign found nothing.
    assert list((tmp_path / "findings").glob("bug-kasan-use-after-free-read-in-mincore-*"))
    assert not list((tmp_path / "campaign-mincore" / "crashes").glob("*"))
    # Nothing in the real tree was touched.
    assert not (ROOT / "core" / "mm" / "mincore.py").exists()


def test_a_step_that_does_not_apply_is_named(tmp_path):
    wt = _walkthrough()
    doc = tmp_path / "guide.md"
    doc.write_text("<!-- walkthrough: before README.md | no such line -->\n```\nx\n```\n")
    lines = []
    assert wt.walk(doc, tmp_path / "tree", lines.append) == 1
    assert lines[-1].startswith("FAILED: docs step at line 1 (before README.md | no such line)")
