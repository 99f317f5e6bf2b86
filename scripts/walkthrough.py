"""Follow docs/extending.md literally, in a fresh copy of the tree.

Copies the project (the files ``git ls-files`` lists, tracked or new, or the whole tree
without git) to a new directory, then applies every step the guide marks with a
``<!-- walkthrough: ... -->`` comment to the fenced block that follows it, in order:

    new PATH                 create PATH with the block
    append PATH              append the block to PATH
    before PATH | TEXT       insert the block before the first line containing TEXT
    after PATH | TEXT        insert the block after the first line containing TEXT
    same PATH                the block must equal PATH as it is (the guide shows a real file)
    run[, exit N][, prints "TEXT"]
                             run each line of the block in the copy (``ptfuzz ...`` as
                             ``python -m fuzz.cli ...``); exit status N (default 0) and
                             TEXT in the output

Exit status 0 when every step applied and every command did what the guide says; else 1,
naming the step. ``--keep DIR`` leaves the copy in DIR.

    python scripts/walkthrough.py [--doc docs/extending.md] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"<!-- walkthrough: (.*?) -->\n```[a-z]*\n(.*?)```", re.S)
RUN = re.compile(r'^run(?:, exit (\d+))?(?:, prints "(.*)")?$')
SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"}


@dataclass
class Step:
    action: str
    block: str
    line: int

    def where(self) -> str:
        return f"docs step at line {self.line} ({self.action})"


def steps(doc: str) -> list[Step]:
    return [Step(m.group(1).strip(), m.group(2), doc.count("\n", 0, m.start()) + 1)
            for m in STEP.finditer(doc)]


def fresh_copy(dest: Path) -> None:
    """The tree as a clone would have it: tracked and new files, not ignored ones."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not SKIP & set(p.relative_to(ROOT).parts)]
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def _insert(path: Path, anchor: str, block: str, after: bool) -> None:
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if anchor in line:
            at = i + 1 if after else i
            path.write_text("".join(lines[:at]) + block + "".join(lines[at:]))
            return
    raise ValueError(f"{path.name} has no line containing {anchor!r}")


def _command(line: str) -> list[str]:
    argv = shlex.split(line)
    if argv[0] == "ptfuzz":
        return [sys.executable, "-m", "fuzz.cli", *argv[1:]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return argv


def apply(step: Step, tree: Path, log) -> None:
    action = step.action
    m = RUN.match(action)
    if m:
        want_exit = int(m.group(1) or 0)
        for line in step.block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            log(f"$ {line}")
            env = dict(os.environ, PYTHONPATH=str(tree))
            p = subprocess.run(_command(line), cwd=tree, env=env, capture_output=True,
                               text=True, timeout=600)
            out = p.stdout + p.stderr
            if p.returncode != want_exit:
                raise AssertionError(f"exit status {p.returncode}, the guide says {want_exit}"
                                     f"\n{out[-3000:]}")
            if m.group(2) and m.group(2) not in out:
                raise AssertionError(f"output lacks {m.group(2)!r}\n{out[-3000:]}")
            log(out.rstrip().splitlines()[-1] if out.strip() else "(no output)")
        return
    verb, _, rest = action.partition(" ")
    rel, _, anchor = (x.strip() for x in rest.partition("|"))
    path = tree / rel
    if verb == "new":
        if path.exists():
            raise AssertionError(f"{rel} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step.block)
    elif verb == "append":
        path.write_text(path.read_text() + step.block)
    elif verb in ("before", "after"):
        _insert(path, anchor, step.block, verb == "after")
    elif verb == "same":
        if path.read_text() != step.block:
            raise AssertionError(f"the guide's copy of {rel} differs from the file")
    else:
        raise ValueError(f"unknown walkthrough action {action!r}")
    log(f"{verb} {rel}")


def walk(doc_path: Path, tree: Path, log=print) -> int:
    doc = doc_path.read_text()
    todo = steps(doc)
    if not todo:
        raise SystemExit(f"{doc_path}: no walkthrough steps")
    fresh_copy(tree)
    for step in todo:
        try:
            apply(step, tree, log)
        except (AssertionError, ValueError, OSError, subprocess.TimeoutExpired) as e:
            log(f"FAILED: {step.where()}: {e}")
            return 1
    log(f"all {len(todo)} steps of {doc_path.name} hold")
    return 0


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--doc", default=str(ROOT / "docs" / "extending.md"))
    a.add_argument("--keep", metavar="DIR", help="make the copy in DIR and leave it")
    args = a.parse_args(argv)
    if args.keep:
        tree = Path(args.keep)
        if tree.exists() and any(tree.iterdir()):
            print(f"walkthrough: {tree} is not empty", file=sys.stderr)
            return 2
        tree.mkdir(parents=True, exist_ok=True)
        return walk(Path(args.doc), tree)
    with tempfile.TemporaryDirectory(prefix="ptfuzz-walkthrough-") as d:
        return walk(Path(args.doc), Path(d))


if __name__ == "__main__":
    sys.exit(main())
