"""The lint step (``tox -e lint``) runs in the test suite too, so CI runs it: ruff over
the tree, and mypy over the typed model (core/sim, core/kernel, core/mm; its settings
are in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    pytest.importorskip(module, reason=f"{module} is a test dependency: pip install -e '.[test]'")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff():
    r = _run("ruff", "check", "core", "fuzz", "tests", "scripts")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy():
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Success: no issues found")


def test_mypy_sees_a_model_result_used_without_yield_from(tmp_path):
    """The point of the typed model: a model function's result used as a value without
    ``yield from`` is a generator, and mypy says so (used as a statement or a condition,
    the tidy test says so: tests/meta/test_tidy.py)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from core.kernel.context import Ctx\n"
        "from core.kernel.spinlock import Spinlock, spin_trylock\n"
        "from core.sim.traps import KGen, Site\n\n\n"
        "def path(ctx: Ctx, lock: Spinlock, site: Site) -> KGen[int]:\n"
        "    got: bool = spin_trylock(ctx, lock, site)\n"
        "    yield site\n"
        "    return int(got)\n")
    r = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"), str(bad))
    assert r.returncode == 1
    assert "bad.py:7: error: Incompatible types in assignment" in r.stdout
