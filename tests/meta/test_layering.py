"""Imports point downward: sim <- kernel <- kasan/mm <- checks <- machine <- litmus/program,
and core never imports the fuzzing libraries or the fuzz package."""

import ast
import importlib
import pkgutil
from pathlib import Path

import core

ROOT = Path(core.__file__).parent.parent

# package -> the core packages it may import (besides itself)
ALLOWED = {
    "core.sim": set(),
    "core.bugs": set(),
    "core.upstream": set(),      # the anchor table: data about the model, imports none of it
    "core.kernel": {"core.sim", "core.bugs"},
    "core.kasan": {"core.sim", "core.kernel"},
    "core.mm": {"core.sim", "core.kernel", "core.bugs"},
    "core.checks": {"core.sim", "core.kernel", "core.kasan", "core.mm"},
    "core.machine": {"core.sim", "core.kernel", "core.bugs", "core.checks"},
    "core.litmus": {"core.sim", "core.kernel", "core.machine"},
    "core.program": {"core.sim", "core.kernel", "core.bugs", "core.machine", "core.mm",
                     "core.checks"},
}
FORBIDDEN_EVERYWHERE_IN_CORE = {"hypothesis", "atheris", "fuzz", "ray", "random"}


def modules():
    for info in pkgutil.walk_packages([str(ROOT / "core")], prefix="core."):
        yield info.name


def imports_of(modname):
    mod = importlib.import_module(modname)
    path = Path(mod.__file__)
    tree = ast.parse(path.read_text())
    pkg = modname if path.name == "__init__.py" else modname.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def owner(modname):
    for pkg in sorted(ALLOWED, key=len, reverse=True):
        if modname == pkg or modname.startswith(pkg + "."):
            return pkg
    return None


def test_every_core_module_has_a_layer():
    assert [m for m in modules() if owner(m) is None] == []


def test_imports_point_downward():
    bad = []
    for m in modules():
        layer = owner(m)
        for imp in imports_of(m):
            top = imp.split(".")[0]
            seeded_prng = top == "random" and m == "core.sim.choices"
            if top in FORBIDDEN_EVERYWHERE_IN_CORE and not seeded_prng:
                bad.append(f"{m} imports {imp}")
            if top == "core":
                target = owner(imp) or imp
                if target != layer and target not in ALLOWED[layer] and imp != "core":
                    bad.append(f"{m} imports {imp}")
    assert bad == []
