"""``ptfuzz replay``: run reproducers, compare with their ``expect:`` line.

With ``--bugs none`` the expectation is ``pass`` (the fixed model must not report); with
``--bugs LIST`` the listed switches replace the file's.
"""

from __future__ import annotations

from core.bugs import BugError, BugSet
from core.program.kprog import KprogError, load
from core.program.program import run_program

from .errors import UsageError

__all__ = ["run_replay_command"]


def run_replay_command(args) -> int:
    override = None
    if args.bugs is not None:
        try:
            override = BugSet.parse([args.bugs])
        except BugError as e:
            raise UsageError(str(e)) from None
    try:
        programs = [(path, load(path)) for path in args.files]
    except KprogError as e:
        raise UsageError(str(e)) from None
    bad = 0
    for path, prog in programs:
        out = run_program(prog, bugs=override)
        if override is not None and not override:
            expected = "pass"
        else:
            expected = prog.expect if prog.expect is not None else "pass"
        ok = out.title == expected
        bad += not ok
        print(f"{path}: {out.title}" + ("" if ok else f"  [expected: {expected}]"))
        if out.drift is not None:
            fired = "still fired" if ok else "did not fire"
            print(f"  {out.drift.message()}; continued with the default choices, and the "
                  f"expected title {fired}")
        if args.trace:
            for line in out.trace.lines():
                print(f"    {line}")
            print(f"  trace hash {out.trace_hash}, {out.nsteps} steps")
        if out.report is not None and (args.trace or not ok):
            print("  " + out.report.format().replace("\n", "\n  "))
    return 1 if bad else 0
