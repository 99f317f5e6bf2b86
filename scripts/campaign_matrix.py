#!/usr/bin/env python3
"""The campaign's acceptance figures: for each public bug, ``ptfuzz campaign --workers 2
--time T --bug B`` and the seconds until the switch's first report; then every switch on
at once (when each switch's title first appeared); then executions per second with 1 and
2 workers on the fixed model (the scaling ratio). A Markdown table; JSON with --json.

    python scripts/campaign_matrix.py [--time 120] [--scaling 30] [--json OUT]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from core.bugs import PUBLIC, REGISTRY  # noqa: E402


def campaign(args, folder):
    cmd = [sys.executable, "-m", "fuzz.cli", "campaign", "--dir", folder, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    summary = json.load(open(os.path.join(folder, "summary.json")))
    return p.returncode, summary


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--time", type=float, default=120)
    a.add_argument("--scaling", type=float, default=30)
    a.add_argument("--json", default=None)
    a.add_argument("--bugs", default=",".join(PUBLIC))
    args = a.parse_args()
    work = tempfile.mkdtemp(prefix="ptfuzz-campaigns-")
    out = {"per_bug": {}, "all": None, "scaling": {}}
    print("| bug | found | first report of the switch (s) | reproducer threads/ops |")
    print("|---|---|---|---|")
    for bug in args.bugs.split(","):
        folder = os.path.join(work, bug)
        code, s = campaign(["--workers", "2", "--time", str(args.time), "--bug", bug], folder)
        mine = [r for r in s["reports"] if REGISTRY[bug].produces(r["title"])]
        first = min((r["first_seconds"] for r in mine), default=None)
        size = "-"
        if mine:
            from core.program.kprog import load
            prog = load(min(mine, key=lambda r: r["first_seconds"])["reproducer"])
            size = f"{len(prog.threads)}/{sum(len(t.ops) for t in prog.threads)}"
        out["per_bug"][bug] = {"exit": code, "first_seconds": first, "reports": s["reports"],
                               "executions": s["executions"]}
        print(f"| {bug} | {'yes' if mine else 'NO'} | "
              f"{first if first is not None else '-'} | {size} |", flush=True)
    folder = os.path.join(work, "all")
    args_all = ["--workers", "2", "--time", str(args.time)]
    for b in PUBLIC:
        args_all += ["--bug", b]
    code, s = campaign(args_all, folder)
    firsts = {}
    for b in PUBLIC:
        t = [r["first_seconds"] for r in s["reports"] if REGISTRY[b].produces(r["title"])]
        firsts[b] = min(t) if t else None
    out["all"] = {"titles": len(s["reports"]), "first_by_switch": firsts,
                  "executions": s["executions"]}
    found = [b for b, t in firsts.items() if t is not None]
    print(f"\nevery switch on: {len(s['reports'])} distinct titles; {len(found)}/"
          f"{len(PUBLIC)} switches' titles, the last after "
          f"{max(t for t in firsts.values() if t is not None):.1f} s")
    for b, t in firsts.items():
        print(f"  {b}: {t}")
    for w in (1, 2):
        folder = os.path.join(work, f"scale{w}")
        code, s = campaign(["--workers", str(w), "--time", str(args.scaling)], folder)
        out["scaling"][w] = {"executions": s["executions"], "seconds": s["seconds"],
                             "per_s": s["executions"] / s["seconds"], "exit": code}
    r1, r2 = out["scaling"][1]["per_s"], out["scaling"][2]["per_s"]
    out["scaling"]["ratio"] = r2 / r1
    print(f"\nfixed model, default portfolio: 1 worker {r1:,.0f} executions/s, 2 workers "
          f"{r2:,.0f}/s: ratio {r2 / r1:.2f}")
    if args.json:
        json.dump(out, open(args.json, "w"), indent=2)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
