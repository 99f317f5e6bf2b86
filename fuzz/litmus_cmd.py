"""``ptfuzz litmus``: explore the substrate's litmus programs and check each one's
expectations (what must be reachable, what must never happen)."""

from __future__ import annotations

import time

from core.litmus import LITMUS, explore_litmus, get, run_schedule

from .errors import UsageError

__all__ = ["run_litmus_command"]


def run_litmus_command(args) -> int:
    names = args.names or list(LITMUS)
    try:
        programs = [get(n) for n in names]
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    if args.bound is not None and args.bound < 0:
        raise UsageError("--bound must be >= 0")
    failures = 0
    total_runs = 0
    t0 = time.perf_counter()
    for lit in programs:
        ex = explore_litmus(lit, bound=args.bound, limit=args.limit)
        total_runs += ex.runs
        missing, forbidden = ex.missing(lit), ex.forbidden(lit)
        ok = not forbidden and (not missing or not ex.complete)
        failures += not ok
        status = "ok" if ok else "FAIL"
        scope = "all" if ex.complete else f"first {ex.runs}"
        print(f"{status:4} {lit.name:18} {scope} {ex.runs} interleavings: {lit.doc}")
        for title, n in sorted(ex.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"       {n:7}  {title}")
        for title in sorted(missing):
            print(f"       never reached, but should be: {title}")
        for title in sorted(forbidden):
            print(f"       reached, but must never be:   {title}")
        for sname, (_, expected) in lit.schedules.items():
            res, strategy = run_schedule(lit, sname)
            good = res.title == expected and strategy.drift is None
            failures += not good
            note = "" if strategy.drift is None else f" ({strategy.drift.message()})"
            print(f"       schedule {sname}: {res.title}{note}"
                  + ("" if good else f"  [expected {expected}]"))
    dt = time.perf_counter() - t0
    print(f"{len(programs)} litmus programs, {total_runs} interleavings in {dt:.2f}s: "
          + ("all as specified" if not failures else f"{failures} FAILED"))
    return 1 if failures else 0
