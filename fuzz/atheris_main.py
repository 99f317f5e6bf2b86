"""The atheris driver's fuzz target, as a libFuzzer process:

    python -m fuzz.atheris_main [--bug NAME]... [--config K=V]... [--out DIR]
        [--seeds PATH]... [--no-pair-coverage] [-- LIBFUZZER_OPTION...]

Only ``core``'s model is instrumented: the kernel paths, locks and checkers. Not the
engine and the program decoder (``core.sim``, ``core.program``): their branches say
how an input was decoded, not what the kernel did, and instrumenting them halves the
executions per second. Nothing outside ``core`` is instrumented either (instrumenting
everything takes half a minute at start-up and measures the fuzzer, not the model).
Inputs are decoded by :mod:`fuzz.byte_input`; ``.kprog`` files given with ``--seeds``
become seed programs (the odd input form), and ``--seeds`` directories of raw inputs
are passed to libFuzzer as corpus directories. With pair coverage on, every pair of
sites that ran back to back on different CPUs bumps one of 4096 extra libFuzzer
counters, so a new interleaving counts as new coverage, not only a new line of the model.

A report is written to ``--out`` as a ``.kprog`` (the failing interleaving as schedule
lines) and the raw input next to it (``.bytes``); then the target raises, and libFuzzer
stops with its crash file. Defaults added unless given: ``-max_len=1024``
(a run's choices fit) and ``-len_control=0`` (libFuzzer's slow growth from 4-byte inputs
otherwise makes most early schedules "always the first thread").
"""

from __future__ import annotations

import argparse
import os
import sys

PAIR_BUCKETS = 4096
DEFAULT_LIBFUZZER = ("-max_len=1024", "-len_control=0")
FINDING_MARK = "PTFUZZ-FINDING "
STATS_MARK = "PTFUZZ-STATS "


# The harness inside ``core``: an input's decoding and scheduling, not kernel behaviour.
HARNESS_PACKAGES = ("core.sim", "core.program")


def harness_modules(root: str) -> list[str]:
    """Every module of the :data:`HARNESS_PACKAGES` (atheris excludes by exact name)."""
    names = []
    for package in HARNESS_PACKAGES:
        folder = os.path.join(root, *package.split("."))
        for dirpath, _dirs, files in os.walk(folder):
            rel = os.path.relpath(dirpath, root).replace(os.sep, ".")
            for f in files:
                if f.endswith(".py"):
                    names.append(rel if f == "__init__.py" else f"{rel}.{f[:-3]}")
    return sorted(names)


class FoundReport(Exception):
    """Raised from the target when a run reports (libFuzzer records it as a crash)."""


def _parse(argv):
    if "--" in argv:
        i = argv.index("--")
        ours, libfuzzer = argv[:i], argv[i + 1:]
    else:
        ours, libfuzzer = argv, []
    p = argparse.ArgumentParser(prog="python -m fuzz.atheris_main",
                                description=__doc__.splitlines()[0])
    p.add_argument("--bug", action="append", default=[])
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--out", default="ptfuzz-findings")
    p.add_argument("--seeds", action="append", default=[],
                   help=".kprog files or folders of them, or folders of raw inputs")
    p.add_argument("--no-pair-coverage", action="store_true")
    p.add_argument("--no-instrument", action="store_true",
                   help="instrument nothing (to measure what instrumentation costs)")
    p.add_argument("--instrument-harness", action="store_true",
                   help="instrument core.sim and core.program too")
    p.add_argument("--found-by", default="ptfuzz fuzz --driver atheris")
    return p.parse_args(ours), list(libfuzzer)


def _seed_paths(paths):
    kprogs, corpora = [], []
    for path in paths:
        if os.path.isdir(path):
            files = sorted(os.listdir(path))
            ks = [os.path.join(path, f) for f in files if f.endswith(".kprog")]
            kprogs += ks
            if not ks:
                corpora.append(path)
        else:
            kprogs.append(path)
    return kprogs, corpora


def _seed_inputs(seeds, out: str) -> list:
    """A folder of starting inputs, one per seed program and scheduler (the random walk
    replaying its default schedule, and PCT), given to libFuzzer after any corpus
    folder (libFuzzer adds new inputs to the first one)."""
    from .byte_input import kprog_to_bytes

    folder = os.path.join(out, "seed-inputs")
    os.makedirs(folder, exist_ok=True)
    for i, prog in enumerate(seeds):
        data, _ = kprog_to_bytes(prog, i)
        for flags in (1, 3):                 # odd: a seed; bit 1: PCT
            with open(os.path.join(folder, f"seed{i:03d}-{flags}"), "wb") as fh:
                fh.write(bytes([flags]) + data[1:])
    return [folder]


def main(argv=None) -> int:
    args, libfuzzer = _parse(list(sys.argv[1:] if argv is None else argv))
    import atheris

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    exclude = [] if args.instrument_harness else harness_modules(root)
    # --no-instrument: libFuzzer sees only the site-pair counters (a benchmark figure).
    include = ["nothing-instrumented"] if args.no_instrument else ["core"]
    with atheris.instrument_imports(include=include, exclude=exclude):
        import core.program.generate  # noqa: F401
        import core.program.kprog  # noqa: F401
        import core.program.program  # noqa: F401
    from core.program.kprog import load

    from .byte_input import run_bytes
    from .findings import make_finding
    from .target import make_target
    from .target import interleaving_pairs

    target = make_target(args.bug, args.config)
    kprogs, corpora = _seed_paths(args.seeds)
    seeds = [load(p) for p in kprogs]
    base = None
    if not args.no_pair_coverage and hasattr(atheris, "_reserve_counter"):
        base = atheris._reserve_counter()
        for _ in range(PAIR_BUCKETS - 1):
            atheris._reserve_counter()
    trace_branch = getattr(atheris, "_trace_branch", None)

    counts = [0, 0]

    def test_one_input(data: bytes) -> None:
        case = run_bytes(data, target, seeds)
        counts[0] += 1
        counts[1] += case.outcome.nsteps
        if counts[0] % 16 == 0:
            print(f"{STATS_MARK}{counts[0]} {counts[1]}", flush=True)
        if base is not None and trace_branch is not None:
            for a, b in interleaving_pairs(case):
                trace_branch(base + (a * 1000003 + b) % PAIR_BUCKETS)
        if case.found:
            finding = make_finding(case, args.found_by)
            path = finding.write(args.out)
            with open(path[:-len(".kprog")] + ".bytes", "wb") as fh:
                fh.write(data)
            print(finding.report, flush=True)
            print(f"{STATS_MARK}{counts[0]} {counts[1]}", flush=True)
            print(FINDING_MARK + path, flush=True)
            raise FoundReport(case.outcome.title)

    opts = list(libfuzzer)
    for d in DEFAULT_LIBFUZZER:
        if not any(o.startswith(d.split("=")[0] + "=") for o in opts):
            opts.append(d)
    starts = _seed_inputs(seeds, args.out) if seeds else []
    atheris.Setup([sys.argv[0]] + opts + corpora + starts, test_one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
