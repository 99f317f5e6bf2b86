"""``ptfuzz minimize FILE [-o OUT]``: shrink a reproducer (``core.program.minimize``) and
write it in canonical form with a generated story.

Exit 0: written (it replays to the title every time); 1: the file does not give the title,
or the result is not stable; 2: bad input.
"""

from __future__ import annotations

import os

from core.program.kprog import KprogError, dump, load
from core.program.minimize import minimize
from core.program.program import run_program

from .errors import UsageError
from .paths import writable_file

__all__ = ["run_minimize_command"]


def default_output(path: str) -> str:
    """``NAME.min.kprog`` in the current directory (not next to the input: minimizing a
    file of the corpus must not write into the corpus)."""
    base = os.path.basename(path)
    base = base[:-len(".kprog")] if base.endswith(".kprog") else base
    if base.endswith(".raw"):
        base = base[:-len(".raw")]
    return base + ".min.kprog"


def run_minimize_command(args) -> int:
    if args.time <= 0:
        raise UsageError("--time must be positive")
    try:
        prog = load(args.file)
    except KprogError as e:
        raise UsageError(str(e)) from None
    out = writable_file(args.out or default_output(args.file), "-o")
    title = args.title or prog.expect or run_program(prog).title
    if title == "pass":
        print(f"{args.file}: passes, nothing to minimize")
        return 1
    try:
        m = minimize(prog, title, seconds=args.time)
    except ValueError as e:
        print(f"{args.file}: {e}")
        return 1
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    dump(m.program, out)
    print(f"{title}\n  before: {m.before.text()}\n  after:  {m.after.text()}\n"
          f"  {m.runs} replays in {m.seconds:.1f} s; written to {out}")
    if not m.stable:
        print("  WARNING: the result did not replay to the title every time")
        return 1
    return 0
