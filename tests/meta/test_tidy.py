"""The tree is tidy (tests/meta/tidy.py), and every tidy check fails on a tree that
breaks it (a check that cannot fail is not a check)."""

import textwrap
from pathlib import Path

import pytest

from core.upstream.table import MIRRORS, NOT_ANCHORED, UNREAD

from . import tidy

ROOT = Path(__file__).resolve().parents[2]
ALL_MIRRORS = {**MIRRORS, **{k: v[0] for k, v in UNREAD.items()}}


def test_functions_are_short_or_mirror_one_kernel_function():
    assert tidy.long_functions(ROOT) == []
    # Every exemption names a kernel function the anchor table says the model mirrors.
    anchored = {k for v in ALL_MIRRORS.values() for k in v}
    assert [k for k, fn in tidy.EXEMPT_LONG.items() if fn not in anchored] == []


def test_every_site_is_used():
    assert tidy.unused_sites(ROOT) == []


def test_core_mm_docstrings_name_the_kernel_code():
    assert tidy.mm_docstrings(ROOT, ALL_MIRRORS, NOT_ANCHORED) == []


def test_no_command_module_below_the_commands():
    assert tidy.command_imports(ROOT) == []


def test_no_dead_code():
    pytest.importorskip("vulture", reason="vulture is a test dependency: pip install -e '.[test]'")
    assert tidy.dead_code(ROOT) == []


def test_no_model_call_without_yield_from():
    assert tidy.discarded_model_calls(ROOT) == []


# -- each check fails on a tree that breaks it --------------------------------------------


def _tree(tmp_path: Path, files: dict) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


def test_a_long_function_is_named(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(tidy.LONG))
    root = _tree(tmp_path, {"core/mm/big.py": f"def big():\n{body}\n"})
    assert tidy.long_functions(root, exempt={}) == [
        "core/mm/big.py::big: 71 lines (at most 70, or an exemption naming the kernel "
        "function it mirrors)"]
    assert tidy.long_functions(root, exempt={"core/mm/big.py::big": ("mm/big.c", "big")}) == []
    assert tidy.long_functions(root, exempt={"core/mm/big.py::gone": "x"}) == [
        "core/mm/big.py::big: 71 lines (at most 70, or an exemption naming the kernel "
        "function it mirrors)",
        "core/mm/big.py::gone: exempt but not over 70 lines (drop the exemption)"]


def test_an_unused_site_is_named(tmp_path):
    root = _tree(tmp_path, {"core/mm/x.py": """\
        S_USED = site("f:used")
        S_DEAD = site("f:dead")

        def f(ctx):
            yield S_USED
        """})
    assert tidy.unused_sites(root) == [
        "core/mm/x.py:2: site 'f:dead' (S_DEAD) is registered but never used"]


def test_a_docstring_that_does_not_name_its_kernel_code_is_named(tmp_path):
    root = _tree(tmp_path, {"core/mm/x.py": '''\
        def zap(ctx):
            """Zaps."""

        def walk(ctx):
            pass

        def picture(mm):
            """A picture."""
        '''})
    mirrors = {"core.mm.x.zap": [("mm/memory.c", "zap_pte_range")],
               "core.mm.x.walk": [("mm/pagewalk.c", "walk_pmd_range")]}
    assert tidy.mm_docstrings(root, mirrors, {"core.mm.x.picture": "model only"}) == [
        "core/mm/x.py:1: zap: docstring names none of ['mm/memory.c']",
        "core/mm/x.py:1: zap: docstring does not name ['zap_pte_range']",
        "core/mm/x.py:4: walk: no docstring"]


def test_a_command_import_is_named(tmp_path):
    root = _tree(tmp_path, {"fuzz/campaign/worker.py": "from ..fuzz_cmd import make_target\n",
                            "core/x.py": "import fuzz.cli\n"})
    assert tidy.command_imports(root) == [
        "core/x.py: imports command module fuzz.cli",
        "fuzz/campaign/worker.py: imports command module fuzz.fuzz_cmd"]


def test_dead_code_is_named(tmp_path):
    pytest.importorskip("vulture", reason="vulture is a test dependency: pip install -e '.[test]'")
    root = _tree(tmp_path, {"core/x.py": """\
        def used():
            return 1

        def unused_helper():
            return 2

        print(used())
        """})
    assert tidy.dead_code(root, allowed={}) == ["core/x.py:4: unused function 'unused_helper'"]
    assert tidy.dead_code(root, allowed={("core/x.py", "unused_helper"): "why"}) == []
    assert tidy.dead_code(root, allowed={("core/x.py", "used"): "why"}) == [
        "core/x.py:4: unused function 'unused_helper'",
        "core/x.py: 'used' is allowed as unused but vulture no longer reports it"]


def test_a_model_call_without_yield_from_is_named(tmp_path):
    root = _tree(tmp_path, {"core/kernel/x.py": """\
        def spin_lock(ctx, lock, site):
            yield site

        def path(ctx, lock, site):
            spin_lock(ctx, lock, site)          # builds a generator, takes no lock
            if not spin_lock(ctx, lock, site):  # always true
                return
            while ctx.ok and spin_lock(ctx, lock, site):
                pass
            yield from spin_lock(ctx, lock, site)
        """})
    assert tidy.discarded_model_calls(root) == [
        "core/kernel/x.py:5: spin_lock(...) called without 'yield from' (a generator: "
        "nothing runs)",
        "core/kernel/x.py:6: spin_lock(...) tested without 'yield from' (a generator: "
        "nothing runs)",
        "core/kernel/x.py:8: spin_lock(...) tested without 'yield from' (a generator: "
        "nothing runs)"]
