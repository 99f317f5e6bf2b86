"""``ptfuzz bench``: every figure of benchmarks.md in one run, on this machine: throughput
per driver, the bare-engine ceiling and the ratio to it, the cost of each checker, time
and executions to each public bug per driver, PCT against its bound, reproducer sizes
before and after minimization, campaign scaling from 1 to 2 workers. Progress on stderr;
a Markdown report and, with ``--json``, every figure as JSON."""

from __future__ import annotations

import os
import platform
import sys
import time

from core.bugs import PUBLIC

from ..drivers.atheris_driver import atheris_available
from .engine import measure
from .pct_theory import pct_against_bound
from .reproducers import reproducer_sizes
from .scaling import campaign_scaling
from .throughput import DRIVER_VARIANTS, checker_costs, driver_throughput
from .ttb import summary, time_to_bugs

__all__ = ["Settings", "run_bench", "markdown", "machine"]

TTB_DRIVERS = ("random", "pct", "hypothesis", "atheris")


class Settings:
    def __init__(self, quick: bool, trials: int | None, cap: float | None, jobs: int = 1):
        self.quick = quick
        self.jobs = jobs                   # time-to-bug trials at once (one per core)
        self.trials = trials if trials is not None else (1 if quick else 10)
        self.cap = cap if cap is not None else (5.0 if quick else 120.0)
        self.throughput = 2.0 if quick else 15.0
        self.engine_steps = 50_000 if quick else 200_000
        self.engine_repeats = 1 if quick else 3
        self.checker_seconds = 1.5 if quick else 5.0
        self.pct_runs = 100 if quick else 1000
        self.scaling = 10.0 if quick else 30.0
        self.bugs = tuple(PUBLIC)          # narrowed by tests of the bench itself


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "system": f"{platform.system()} {platform.release()}"}


def run_bench(settings: Settings, log=None) -> dict:
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    out = {"machine": machine(), "settings": {"quick": settings.quick,
                                              "trials": settings.trials,
                                              "cap_seconds": settings.cap,
                                              "jobs": settings.jobs}}
    variants = [v for v in DRIVER_VARIANTS if v[1] != "atheris" or atheris_available()]
    log("throughput per driver ...")
    out["throughput"] = {}
    for label, name, kw in variants:
        r = driver_throughput(label, name, settings.throughput, **kw)
        out["throughput"][label] = r
        log(f"  {label}: {r['steps_per_s']:,.0f} steps/s, {r['executions_per_s']:,.0f} "
            "executions/s")
    log("the bare engine ...")
    out["engine"] = measure(settings.engine_repeats, settings.engine_steps)
    ceiling = out["engine"]["bare_engine_random_steps_per_s"]
    out["engine"]["random_fraction_of_ceiling"] = (
        out["throughput"]["random"]["steps_per_s"] / ceiling)
    log("checker costs ...")
    out["checkers"] = checker_costs(settings.checker_seconds)
    log("time to bug ...")
    out["time_to_bug"] = {}
    drivers = [d for d in TTB_DRIVERS if d != "atheris" or atheris_available()]
    tasks = [(d, bug, seed) for bug in settings.bugs for d in drivers
             for seed in range(1, settings.trials + 1)]
    runs = time_to_bugs(tasks, settings.cap, settings.jobs,
                        progress=lambda text: log("  " + text))
    first: dict = {}        # bug -> its first failing case (driver order, then seed)
    for bug in settings.bugs:
        for d in drivers:
            mine = [r for r in runs if r["bug"] == bug and r["driver"] == d]
            out["time_to_bug"].setdefault(bug, {})[d] = summary(mine)
            for r in mine:
                if r["found"] and bug not in first:
                    first[bug] = (d, r["seed"], r["finding"], r["executions"])
    log("PCT against its bound ...")
    out["pct_theory"] = pct_against_bound(settings.pct_runs, settings.bugs)
    log("reproducer sizes ...")
    out["reproducers"] = reproducer_sizes("pct", 1, settings.bugs, progress=lambda r: log(
        f"  {r['bug']}: {'minimized' if r['found'] else 'not found'}"), found=first)
    log("campaign scaling ...")
    out["scaling"] = campaign_scaling(settings.scaling)
    out["seconds"] = time.perf_counter() - t0
    return out


def _fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['implementation']} "
             f"{m['python']}, {m['system']}; the bench took {r['seconds']:.0f} s "
             f"({r['settings']['trials']} trials per driver and bug, capped at "
             f"{r['settings']['cap_seconds']:g} s).", "",
             "| driver | steps/s | executions/s |", "|---|---|---|"]
    for label, t in r["throughput"].items():
        lines.append(f"| {label} | {_fmt(t['steps_per_s'])} | {_fmt(t['executions_per_s'])} |")
    e = r["engine"]
    lines += ["", "Bare engine (threads that only yield): "
              f"{_fmt(e['bare_engine_random_steps_per_s'])} steps/s with the random walk, "
              f"{_fmt(e['bare_engine_pct_steps_per_s'])} with PCT; the random driver on the "
              f"full model reaches {e['random_fraction_of_ceiling']:.0%} of it.", ""]
    c = r["checkers"]
    lines.append(f"Checkers: all on {_fmt(c['all_steps_per_s'])} steps/s, all off "
                 f"{_fmt(c['none_steps_per_s'])}: all together cost {c['all_cost']:.2f}x; "
                 + ", ".join(f"{k} {v['cost']:.2f}x" for k, v in c["each"].items()) + ".")
    lines += ["", "| bug | driver | found | median executions | median s | spread s |",
              "|---|---|---|---|---|---|"]
    for bug, per in r["time_to_bug"].items():
        for d, t in per.items():
            ex, sec = t["executions"], t["seconds"]
            lines.append(
                f"| {bug} | {d} | {t['found']}/{t['trials']} | "
                f"{_fmt(ex['median'] if ex else None)} | "
                f"{_fmt(sec['median'] if sec else None, '.1f')} | "
                + (f"{sec['min']:.1f}-{sec['max']:.1f}" if sec else "-") + " |")
    lines += ["", "| bug | PCT n | k | d | observed per run | bound 1/(n k^(d-1)) |",
              "|---|---|---|---|---|---|"]
    for bug, p in r["pct_theory"].items():
        lines.append(f"| {bug} | {p['n']} | {p['k']} | {p['d']} | {p['observed']:.4f} | "
                     f"{p['bound']:.6f} |")
    from .reproducers import markdown as repro_md
    lines += ["", repro_md(r["reproducers"]), ""]
    s = r["scaling"]
    lines.append(f"Campaign (default portfolio, fixed model): 1 worker "
                 f"{_fmt(s['1']['executions_per_s'])} executions/s, 2 workers "
                 f"{_fmt(s['2']['executions_per_s'])}/s: ratio {s.get('ratio', 0):.2f}.")
    return "\n".join(lines)
