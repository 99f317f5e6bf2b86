"""``ptfuzz coverage DIR [--html OUT]``: which lines and branches of the kernel model
(``core/mm``) a campaign's corpus reaches.

Every input in DIR's corpus (the ``.kprog`` files, libFuzzer's raw inputs) and every
crash reproducer is replayed under coverage.py, in a fresh process so that coverage
starts before the model is imported; the HTML report goes to OUT (default DIR/coverage/)
and the totals per file are printed: the kernel paths the campaign never exercised are
the red lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .errors import UsageError
from .paths import writable_dir

__all__ = ["run_coverage_command", "replay_under_coverage"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_coverage_command(args) -> int:
    meta = os.path.join(args.dir, "campaign.json")
    if not os.path.exists(meta):
        raise UsageError(f"{args.dir}: not a campaign directory (no campaign.json)")
    out = writable_dir(args.html or os.path.join(args.dir, "coverage"), "--html")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "fuzz.coverage_cmd", args.dir, out], env=env)
    return 0 if p.returncode == 0 else 1


def replay_under_coverage(directory: str, out: str) -> int:
    """In a fresh process: start coverage, then import the model and replay."""
    import coverage

    cov = coverage.Coverage(data_file=None, branch=True, source_pkgs=["core.mm"])
    cov.start()
    from core.program.kprog import KprogError, load
    from core.program.program import run_program

    from .byte_input import run_bytes
    from .campaign.store import CampaignDir
    from .drivers.atheris_driver import SEED_DIR
    from .target import make_target

    store = CampaignDir(directory)
    meta = json.load(open(store.file("campaign.json")))
    target = make_target(meta.get("bugs", []), meta.get("configs", []))
    seeds = [load(os.path.join(SEED_DIR, f)) for f in sorted(os.listdir(SEED_DIR))
             if f.endswith(".kprog")] if os.path.isdir(SEED_DIR) else []
    files = store.corpus_files()
    crashes = store.file("crashes")
    if os.path.isdir(crashes):
        for name in sorted(os.listdir(crashes)):
            path = os.path.join(crashes, name, "reproducer.kprog")
            if os.path.exists(path):
                files.append(path)
    kprogs = raw = 0
    for path in files:
        if path.endswith(".kprog"):
            try:
                run_program(load(path))
                kprogs += 1
            except KprogError:
                continue
        else:
            with open(path, "rb") as fh:
                run_bytes(fh.read(), target, seeds)
            raw += 1
    cov.stop()
    total = cov.html_report(directory=out, title=f"ptfuzz campaign {directory}: core/mm")
    print(f"replayed {kprogs} .kprog files and {raw} raw inputs from {directory}")
    cov.report(file=sys.stdout, skip_empty=True)
    print(f"core/mm: {total:.1f}% of lines and branches reached; HTML report in "
          f"{os.path.join(out, 'index.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(replay_under_coverage(sys.argv[1], sys.argv[2]))
