"""Reproducer sizes: for each public bug, a driver's first failing case and the result of
minimizing it (threads, operations, preemptions, schedule lines; the time it took), and
whether the minimized file replays to the title every time and passes without its
switch (benchmarks.md, item 5)."""

from __future__ import annotations

import time
from dataclasses import asdict

from core.bugs import PUBLIC, BugSet
from core.program.kprog import dumps, loads
from core.program.minimize import minimize
from core.program.program import run_program

from ..drivers import Budget, make_driver
from ..findings import make_finding
from ..target import Target

__all__ = ["reproducer_sizes", "markdown"]


def one(bug: str, driver: str = "pct", seed: int = 1, runs: int = 100_000,
        replays: int = 20, finding: str | None = None, executions: int | None = None) -> dict:
    """``finding``: a failing case already found (by a time-to-bug trial), as ``.kprog``
    text; else a search by ``driver`` from ``seed``."""
    t0 = time.perf_counter()
    if finding is None:
        case, stats = make_driver(driver, Target(BugSet.parse([bug])), seed).search(
            Budget(runs=runs))
        executions = stats.executions
        if case is not None:
            finding = make_finding(case, f"{driver} seed {seed}").text()
    search = time.perf_counter() - t0
    if finding is None:
        return {"bug": bug, "driver": driver, "seed": seed, "found": False,
                "executions": executions}
    raw = loads(finding)
    m = minimize(raw, raw.expect)
    prog = loads(dumps(m.program))                  # what a user loads from the file
    same = sum(run_program(prog).title == m.title for _ in range(replays))
    fixed = run_program(prog, bugs=BugSet()).title
    per_thread = max((len(t.ops) for t in prog.threads), default=0)
    return {"bug": bug, "driver": driver, "seed": seed, "found": True,
            "executions": executions, "search_seconds": search, "title": m.title,
            "before": asdict(m.before), "after": asdict(m.after),
            "max_ops_per_thread": per_thread, "minimize_seconds": m.seconds,
            "minimize_runs": m.runs, "replays_same": same, "replays": replays,
            "without_switch": fixed,
            "ok": (m.after.threads <= 3 and per_thread <= 4 and m.after.preemptions <= 3
                   and m.seconds < 60 and same == replays and fixed == "pass")}


def reproducer_sizes(driver: str = "pct", seed: int = 1, bugs=None, progress=None,
                     found=None) -> list:
    """Per bug: the first failing case in ``found`` (bug -> (driver, seed, finding text,
    executions), from time-to-bug trials), else a search by ``driver`` from ``seed``."""
    out = []
    for bug in bugs or PUBLIC:
        if found and bug in found:
            d, s, text, execs = found[bug]
            row = one(bug, d, s, finding=text, executions=execs)
        else:
            row = one(bug, driver, seed)
        out.append(row)
        if progress is not None:
            progress(row)
    return out


def markdown(rows) -> str:
    head = ("| bug | first failing case (threads/ops/preemptions/lines) | minimized | "
            "ops/thread | time | replays | --bugs none |\n|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        if not r["found"]:
            lines.append(f"| {r['bug']} | not found in {r['executions']:,} ({r['driver']}) "
                         "| | | | | |")
            continue
        b, a = r["before"], r["after"]
        lines.append(
            f"| {r['bug']} | {b['threads']}/{b['ops']}/{b['preemptions']}/{b['lines']} "
            f"({r['driver']}, seed {r['seed']}) | "
            f"{a['threads']}/{a['ops']}/{a['preemptions']}/{a['lines']} | "
            f"{r['max_ops_per_thread']} | {r['minimize_seconds']:.1f} s | "
            f"{r['replays_same']}/{r['replays']} | {r['without_switch']} |")
    return "\n".join(lines)
