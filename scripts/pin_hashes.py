#!/usr/bin/env python3
"""Re-pin the regression reproducers' trace hashes in the tests, after a deliberate
change to the model's interleaving points (say why in the commit).

    python scripts/pin_hashes.py
"""

import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, ROOT)

from core.program.kprog import load  # noqa: E402
from core.program.program import run_program  # noqa: E402


def main() -> None:
    corpus = os.path.join(ROOT, "tests", "regressions", "test_corpus.py")
    cli = os.path.join(ROOT, "tests", "meta", "test_cli.py")
    text = open(corpus).read()
    for path in sorted(glob.glob(os.path.join(ROOT, "corpus", "regressions", "*.kprog"))):
        name = os.path.basename(path)[:-6]
        out = run_program(load(path))
        pattern = '("' + re.escape(name) + '": )"[0-9a-f]{16}"'
        text = re.sub(pattern, r'\1"' + out.trace_hash + '"', text)
        print(f"{name}: {out.trace_hash} ({out.nsteps} steps) {out.title}")
        if name == "pt-reclaim-semi-rcu":
            c = open(cli).read()
            c = re.sub(r"trace hash [0-9a-f]{16}, \d+ steps",
                       f"trace hash {out.trace_hash}, {out.nsteps} steps", c)
            open(cli, "w").write(c)
    open(corpus, "w").write(text)


if __name__ == "__main__":
    main()
