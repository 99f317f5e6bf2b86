"""The tidy checks (after TigerBeetle's tidy.zig): properties of the source tree that no
single test exercises, each a function of the tree's root returning its violations (an
empty list when the tree is tidy). tests/meta/test_tidy.py runs them on this tree and,
to show each one can fail, on small trees that break it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

__all__ = ["long_functions", "unused_sites", "mm_docstrings", "command_imports",
           "dead_code", "discarded_model_calls", "LONG", "EXEMPT_LONG", "DEAD_CODE_ALLOWED"]

LONG = 70

# Functions longer than LONG lines that mirror one kernel function (its length is the
# kernel's: splitting it would hide the order of operations a reader compares line by
# line): "path::qualname" -> (kernel file, kernel function), an anchored one.
EXEMPT_LONG = {
    "core/mm/khugepaged.py::collapse_huge_page": ("mm/khugepaged.c", "collapse_huge_page"),
    # collapse_pte_mapped_thp's body once the folio is locked (split out at the lock)
    "core/mm/khugepaged.py::_collapse_locked": ("mm/khugepaged.c", "collapse_pte_mapped_thp"),
    "core/mm/khugepaged.py::collapse_file": ("mm/khugepaged.c", "collapse_file"),
    "core/mm/userfaultfd.py::move_pages_pte": ("mm/userfaultfd.c", "move_pages_pte"),
    "core/mm/memory.py::do_swap_page": ("mm/memory.c", "do_swap_page"),
    "core/mm/rmap.py::try_to_unmap_one": ("mm/rmap.c", "try_to_unmap_one"),
}

# What vulture calls unused but is not dead: (path, name) -> why.
DEAD_CODE_ALLOWED = {
    ("core/mm/memory_zap.py", "even_cows"): "a field of the kernel's struct zap_details, "
        "true in every modelled caller; kept so the struct reads as the kernel's",
    ("core/mm/mmap.py", "oom_skip"): "exit_mmap sets MMF_OOM_SKIP at its own site; no OOM "
        "reaper is modelled to read it",
    ("core/mm/types.py", "oom_skip"): "mm->flags' MMF_OOM_SKIP (see core/mm/mmap.py)",
    ("core/mm/mremap.py", "new_vma"): "move_page_tables keeps the kernel's parameters; the "
        "model reaches the new tables through the mm",
    ("fuzz/machine.py", "make_world"): "a Hypothesis @initialize rule",
    ("fuzz/machine.py", "add_operation"): "a Hypothesis @rule",
    ("fuzz/machine.py", "run_for"): "a Hypothesis @rule",
    ("fuzz/machine.py", "run_until"): "a Hypothesis @rule",
    ("fuzz/machine.py", "randomize_rest"): "a Hypothesis @rule",
    ("fuzz/machine.py", "runs_without_a_report"): "a Hypothesis @invariant",
}

_KERNEL_FILE = re.compile(r"\b(?:mm|include|arch|kernel|fs|lib)/[\w/.-]+\.[ch]\b")
_COMMANDS = re.compile(r"(^|\.)(cli|\w+_cmd)$")


def _files(root: Path, *dirs: str):
    for d in dirs:
        yield from sorted((root / d).rglob("*.py"))


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualname, node) of every function, methods as Class.method."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, prefix + node.name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")


def long_functions(root: Path, exempt: dict = EXEMPT_LONG, dirs=("core", "fuzz")) -> list[str]:
    """Functions over LONG lines that are not named exemptions; exemptions that no
    longer apply (gone, or short now)."""
    out, seen = [], set()
    for p in _files(root, *dirs):
        for name, node in _functions(ast.parse(p.read_text())):
            key = f"{_rel(root, p)}::{name}"
            n = node.end_lineno - node.lineno + 1
            if n > LONG:
                seen.add(key)
                if key not in exempt:
                    out.append(f"{key}: {n} lines (at most {LONG}, or an exemption naming "
                               f"the kernel function it mirrors)")
    out += [f"{k}: exempt but not over {LONG} lines (drop the exemption)"
            for k in exempt if k not in seen]
    return out


def _site_defs(tree: ast.AST):
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id in ("site", "spin_site")):
            yield node.targets[0].id, node


def unused_sites(root: Path, dirs=("core",)) -> list[str]:
    """Every site registered at module level is used: its name is read somewhere (yielded,
    or passed to a path that yields it), in its module or one that imports it."""
    used: set[str] = set()
    defs = []
    for p in _files(root, *dirs):
        tree = ast.parse(p.read_text())
        defs += [(p, name, node) for name, node in _site_defs(tree)]
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add(node.id)
            elif isinstance(node, ast.alias):
                used.add(node.name)
    return [f"{_rel(root, p)}:{node.lineno}: site {ast.literal_eval(node.value.args[0])!r} "
            f"({name}) is registered but never used" for p, name, node in defs
            if name not in used]


def mm_docstrings(root: Path, mirrors: dict, not_anchored: dict) -> list[str]:
    """Every public function of core/mm has a docstring; one that mirrors kernel code
    (core/upstream/table.py) names the kernel file and every kernel function it mirrors,
    so the docstring and the anchor table cannot disagree."""
    out = []
    for p in _files(root, "core/mm"):
        mod = "core.mm." + p.stem
        for node in ast.parse(p.read_text()).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            name = node.name
            if name.startswith("_") and not (name.startswith("__") and
                                             not name.endswith("__")):
                continue
            doc = ast.get_docstring(node) or ""
            where = f"{_rel(root, p)}:{node.lineno}: {name}"
            q = f"{mod}.{name}"
            if not doc:
                out.append(f"{where}: no docstring")
            elif q in mirrors:
                files = {f for f, _ in mirrors[q]}
                missing = [fn for _, fn in mirrors[q] if fn not in doc]
                if not any(f in doc for f in files):
                    out.append(f"{where}: docstring names none of {sorted(files)}")
                if missing:
                    out.append(f"{where}: docstring does not name {missing}")
            elif q not in not_anchored and not _KERNEL_FILE.search(doc):
                out.append(f"{where}: docstring names no kernel file")
    return out


def _imports(tree: ast.AST, module: str):
    """The absolute names of the modules ``module``'s code imports."""
    pkg = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def command_imports(root: Path, dirs=("core", "fuzz/campaign")) -> list[str]:
    """The model and the campaign machinery import no command module (fuzz/cli.py,
    fuzz/*_cmd.py): commands sit on top, so a campaign worker or a test can use what
    they use without their argument parsing and exits."""
    out = []
    for p in _files(root, *dirs):
        rel = _rel(root, p)
        module = rel[:-3].replace("/", ".")
        for name in _imports(ast.parse(p.read_text()), module):
            if name.startswith("fuzz.") and _COMMANDS.search(name):
                out.append(f"{rel}: imports command module {name}")
    return sorted(set(out))


def dead_code(root: Path, allowed: dict = DEAD_CODE_ALLOWED,
              dirs=("core", "fuzz", "tests", "scripts"), confidence: int = 60) -> list[str]:
    """What vulture (at ``confidence``%) finds unused in core/ and fuzz/, where the tests
    and scripts count as users, except the allowed (each with its reason); allowed
    entries vulture no longer reports are stale."""
    import vulture
    v = vulture.Vulture()
    v.scavenge([str(root / d) for d in dirs if (root / d).exists()])
    out, hit = [], set()
    for item in v.get_unused_code(min_confidence=confidence):
        rel = _rel(root, Path(item.filename).resolve())
        if not rel.startswith(("core/", "fuzz/")):
            continue
        if (rel, item.name) in allowed:
            hit.add((rel, item.name))
            continue
        out.append(f"{rel}:{item.first_lineno}: unused {item.typ} {item.name!r}")
    out += [f"{f}: {n!r} is allowed as unused but vulture no longer reports it"
            for f, n in allowed if (f, n) not in hit and (root / f).exists()]
    return out


def _is_generator(fn) -> bool:
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(n))
    return False


def _model_call(node, model: set) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
            else None
        if name in model:
            return name
    return None


def discarded_model_calls(root: Path, dirs=("core",)) -> list[str]:
    """A call to a model function (a generator) as a statement of its own, or tested as a
    condition, builds a generator and runs nothing: the path silently skips what it
    called (and a generator is always true). Every such call must be ``yield from``.
    Functions are known by name: a name that is a generator in one module and a plain
    function in another is left out (mypy checks the typed results used as values)."""
    gens, plain = set(), set()
    trees = []
    for p in _files(root, *dirs):
        tree = ast.parse(p.read_text())
        trees.append((p, tree))
        for _, fn in _functions(tree):
            (gens if _is_generator(fn) else plain).add(fn.name)
    model = gens - plain
    out = []
    for p, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Expr):
                suspects, how = [node.value], "called"
            elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
                suspects, how = [node.test], "tested"
            elif isinstance(node, ast.BoolOp):
                suspects, how = node.values, "tested"
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                suspects, how = [node.operand], "tested"
            else:
                continue
            for sus in suspects:
                name = _model_call(sus, model)
                if name:
                    out.append(f"{_rel(root, p)}:{sus.lineno}: {name}(...) {how} without "
                               f"'yield from' (a generator: nothing runs)")
    return sorted(set(out), key=lambda x: (x.split(":")[0], int(x.split(":")[1])))
