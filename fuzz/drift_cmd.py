"""``ptfuzz anchors`` and ``ptfuzz drift``: the upstream anchors of the modelled kernel
functions, and how a kernel source tree differs from them (docs/upstream-anchors.md)."""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

from .errors import UsageError

__all__ = ["run_anchors_command", "run_drift_command", "check_tree", "drift"]


def _load_anchors(path):
    """The anchors to compare: the project's, or (``--anchors FILE``) those of a JSON file
    in the format of ``ptfuzz anchors --json``."""
    from core.upstream import ANCHORS, Anchor
    if path is None:
        return ANCHORS
    try:
        rows = json.loads(Path(path).read_text())
        return [Anchor(python=r.get("python", ""), kernel_file=r["kernel_file"],
                       kernel_function=r["kernel_function"], version=r.get("version"),
                       commit=r.get("commit"), sha256=r.get("sha256"), note=r.get("note", ""),
                       lines=tuple((r.get("lines") or "").split()))
                for r in rows if r.get("sha256")]
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{path}: not an anchors file ({type(e).__name__}: {e})") from None


def run_anchors_command(args) -> int:
    from core.upstream import ANCHORS, UNREAD
    if args.json:
        rows = [{"python": a.python, "kernel_file": a.kernel_file,
                 "kernel_function": a.kernel_function, "version": a.version,
                 "commit": a.commit, "sha256": a.sha256, "source": a.source, "note": a.note,
                 "lines": " ".join(a.lines)} for a in ANCHORS]
        rows += [{"python": py, "kernel_file": f, "kernel_function": fn, "version": None,
                  "commit": None, "sha256": None, "source": "", "note": why, "lines": ""}
                 for py, (targets, why) in UNREAD.items() for f, fn in targets]
        print(json.dumps(rows, indent=1))
        return 0
    w_py = max(len(a.python) for a in ANCHORS)
    w_k = max(len(a.key) for a in ANCHORS)
    print(f"{'python function':{w_py}}  {'kernel file:function':{w_k}}  {'version':14}  hash")
    for a in ANCHORS:
        print(f"{a.python:{w_py}}  {a.key:{w_k}}  {a.version or 'not read':14}  {a.short_hash}")
    for py, (targets, why) in UNREAD.items():
        for f, fn in targets:
            print(f"{py:{w_py}}  {f + ':' + fn:{w_k}}  {'not read':14}  -   ({why})")
    n_fn = len({a.key for a in ANCHORS})
    print(f"{len(ANCHORS)} anchors: {len({a.python for a in ANCHORS})} Python functions, "
          f"{n_fn} kernel functions; {sum(len(t) for t, _ in UNREAD.values())} not read yet")
    return 0


def check_tree(tree) -> Path:
    """``tree`` as a Path if it looks like a kernel source tree, else a UsageError."""
    p = Path(tree)
    if not p.exists():
        raise UsageError(f"{tree}: no such directory")
    if not p.is_dir():
        raise UsageError(f"{tree}: not a directory")
    mk = p / "Makefile"
    try:
        has_version = mk.is_file() and "VERSION =" in mk.read_text(errors="replace")[:4000]
    except OSError:
        has_version = False
    if not has_version or not (p / "mm").is_dir():
        raise UsageError(f"{tree}: not a kernel source tree (needs a top-level Makefile "
                         "with 'VERSION =' and an mm/ directory)")
    return p


def _fingerprint_diff(anchor, tree_body: str) -> list[str]:
    """A unified diff of the anchored body (known only by its line fingerprints: its text
    is not stored here) against the tree's body (with its text)."""
    from core.upstream import normalized_lines
    new = normalized_lines(tree_body)
    new_h = [hashlib.sha256(line.encode()).hexdigest()[:8] for line in new]
    old_h = list(anchor.lines)
    out = [f"--- a/{anchor.key} ({anchor.version}; text not stored locally, lines by "
           "fingerprint)", f"+++ b/{anchor.key} (tree, comments and whitespace normalised)"]
    sm = difflib.SequenceMatcher(a=old_h, b=new_h, autojunk=False)
    for group in sm.get_grouped_opcodes(3):
        a0, a1, b0, b1 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{a0 + 1},{a1 - a0} +{b0 + 1},{b1 - b0} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + new[j] for j in range(j1, j2)]
                continue
            if tag in ("delete", "replace"):
                out += [f"-[anchored line {i + 1}]" for i in range(i1, i2)]
            if tag in ("insert", "replace"):
                out += ["+" + new[j] for j in range(j1, j2)]
    return out


def _diff(anchor, tree_body: str, bodies_dir) -> list[str]:
    from core.upstream import body_sha256, read_body
    got = read_body(anchor.kernel_file, anchor.kernel_function, bodies_dir)
    if got is not None and body_sha256(got[1]) == anchor.sha256:
        old = got[1].rstrip("\n").splitlines()
        new = tree_body.rstrip("\n").splitlines()
        return list(difflib.unified_diff(
            old, new, fromfile=f"a/{anchor.key} ({anchor.version})",
            tofile=f"b/{anchor.key} (tree)", lineterm=""))
    return _fingerprint_diff(anchor, tree_body)


def drift(tree: Path, anchors, bodies_dir=None) -> list[dict]:
    """One result per anchored kernel function, in anchor order: ``status`` same, changed
    (with ``diff``, a list of lines) or missing (with ``reason``)."""
    from core.upstream import body_sha256, extract_function
    files: dict[str, str | None] = {}
    by_key: dict[str, list] = {}
    for a in anchors:
        by_key.setdefault(a.key, []).append(a)
    results = []
    for group in by_key.values():
        a = group[0]
        if a.kernel_file not in files:
            f = tree / a.kernel_file
            try:
                files[a.kernel_file] = f.read_text(errors="replace") if f.is_file() else None
            except OSError:
                files[a.kernel_file] = None
        src = files[a.kernel_file]
        row = {"kernel_file": a.kernel_file, "kernel_function": a.kernel_function,
               "python": [x.python for x in group], "anchor_version": a.version,
               "anchor_sha256": a.sha256}
        body = extract_function(src, a.kernel_function) if src is not None else None
        if src is None:
            row.update(status="missing", reason="no such file")
        elif body is None:
            row.update(status="missing", reason="no such function in the file")
        elif body_sha256(body) == a.sha256:
            row.update(status="same")
        else:
            row.update(status="changed", tree_sha256=body_sha256(body),
                       diff=_diff(a, body, bodies_dir))
        results.append(row)
    return results


def run_drift_command(args) -> int:
    from core.upstream.reanchor import tree_version
    tree = check_tree(args.tree)
    anchors = _load_anchors(args.anchors)
    bodies_dir = Path(args.bodies) if args.bodies else None
    results = drift(tree, anchors, bodies_dir)
    counts = {s: sum(r["status"] == s for r in results) for s in ("same", "changed", "missing")}
    version = tree_version(tree)
    if args.json:
        print(json.dumps({"tree": str(tree), "tree_version": version, "counts": counts,
                          "results": results}, indent=1))
    else:
        for r in results:
            key = f"{r['kernel_file']}:{r['kernel_function']}"
            extra = f"  ({r['reason']})" if r["status"] == "missing" else ""
            print(f"{r['status']:8} {key}  [anchor {r['anchor_version']}; "
                  f"{', '.join(r['python'])}]{extra}")
            for line in r.get("diff", ()):
                print("    " + line)
        print(f"{counts['same']} same, {counts['changed']} changed, {counts['missing']} missing "
              f"of {len(results)} anchored kernel functions (tree {tree}, {version})")
    return 0 if counts["changed"] == counts["missing"] == 0 else 1
