"""Re-read anchored kernel bodies and rewrite ``anchors.json``.

    python -m core.upstream.reanchor --tree PATH [--source TEXT] [--version V]
                                     [--commit C] [--note TEXT] [FILE:FUNCTION ...]
    python -m core.upstream.reanchor --from-bodies [FILE:FUNCTION ...]

``--tree``: extract each anchored function (or the ones named) from a kernel source tree,
store the raw body under ``core/upstream/bodies/`` with a one-line header, and record its
version (from the tree's Makefile unless ``--version``), commit (``git rev-parse HEAD`` of
the tree unless ``--commit``), hash and line fingerprints. ``--from-bodies``: recompute the
rows from body files already on disk (for bodies read by hand: write the file with its
header line first, see docs/upstream-anchors.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from . import (DATA_FILE, MIRRORS, body_path, body_sha256, extract_function,
               format_header, line_fingerprints, load_data, read_body)

__all__ = ["tree_version", "tree_commit", "store", "main"]


def tree_version(tree: Path) -> str | None:
    mk = tree / "Makefile"
    if not mk.is_file():
        return None
    vals = {}
    for line in mk.read_text(errors="replace").splitlines()[:12]:
        k, sep, v = line.partition("=")
        if sep and k.strip() in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
            vals[k.strip()] = v.strip()
    if "VERSION" not in vals:
        return None
    v = f"v{vals['VERSION']}.{vals.get('PATCHLEVEL', '0')}"
    if vals.get("SUBLEVEL", "0") not in ("", "0"):
        v += f".{vals['SUBLEVEL']}"
    return v + vals.get("EXTRAVERSION", "")


def tree_commit(tree: Path) -> str | None:
    if not (tree / ".git").exists():
        return None
    try:
        r = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def _targets(names):
    all_ = sorted({t for ts in MIRRORS.values() for t in ts})
    if not names:
        return all_
    want = set(names)
    return [t for t in all_ if f"{t[0]}:{t[1]}" in want]


def _row(header, body, note):
    return {"version": header["version"], "commit": header["commit"],
            "source": header["source"], "note": note, "sha256": body_sha256(body),
            "lines": " ".join(line_fingerprints(body))}


def store(data: dict, kfile, kfunc, body, version, commit, source, note, bodies_dir=None):
    p = body_path(kfile, kfunc, bodies_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    header = format_header(kfile, kfunc, version, commit, source)
    p.write_text(header + "\n" + body.rstrip("\n") + "\n")
    data[f"{kfile}:{kfunc}"] = _row({"version": version, "commit": commit, "source": source},
                                    body.rstrip("\n") + "\n", note)


def _write(data):
    DATA_FILE.write_text(json.dumps({"bodies": dict(sorted(data.items()))}, indent=1) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.upstream.reanchor")
    p.add_argument("--tree", type=Path)
    p.add_argument("--from-bodies", action="store_true")
    p.add_argument("--version")
    p.add_argument("--commit")
    p.add_argument("--source", default=None)
    p.add_argument("--note", default="")
    p.add_argument("names", nargs="*", metavar="FILE:FUNCTION")
    args = p.parse_args(argv)
    data = load_data()
    targets = _targets(args.names)
    if args.from_bodies:
        for kfile, kfunc in targets:
            got = read_body(kfile, kfunc)
            if got is None:
                continue
            header, body = got
            old = data.get(f"{kfile}:{kfunc}", {})
            data[f"{kfile}:{kfunc}"] = _row(header, body, old.get("note", args.note))
        _write(data)
        return 0
    if args.tree is None:
        p.error("--tree or --from-bodies")
    tree = args.tree
    version = args.version or tree_version(tree) or "unknown"
    commit = args.commit or tree_commit(tree)
    source = args.source or f"kernel tree {tree.name}"
    missing = []
    cache = {}
    for kfile, kfunc in targets:
        f = tree / kfile
        if kfile not in cache:
            cache[kfile] = f.read_text(errors="replace") if f.is_file() else None
        src = cache[kfile]
        body = extract_function(src, kfunc) if src is not None else None
        if body is None:
            missing.append(f"{kfile}:{kfunc}")
            continue
        store(data, kfile, kfunc, body, version, commit, source, args.note)
    _write(data)
    print(f"{len(targets) - len(missing)} bodies read from {tree} ({version}); "
          f"{len(missing)} not found", file=sys.stderr)
    for m in missing:
        print(f"  not found: {m}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
