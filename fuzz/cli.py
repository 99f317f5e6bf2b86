"""The ``ptfuzz`` command line.

Exit statuses: 0 success (or nothing found), 1 a finding or a mismatch, 2 bad input (a
one-line error, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import UsageError
from .paths import integer, seconds

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _cmd_list(args) -> int:
    from core.bugs import REGISTRY
    from core.kernel.config import CONFIG_HELP, Config
    from core.litmus import LITMUS

    from .registry import DRIVERS, STRATEGIES, describe_operations

    defaults = Config()
    info = {
        "bugs": [{"name": b.name, "title": b.title, "also": list(b.also), "summary": b.summary,
                  "fix": b.fix, "file": b.file} for b in REGISTRY.values()],
        "operations": describe_operations(),
        "configs": [{"name": k, "default": getattr(defaults, k), "help": v}
                    for k, v in CONFIG_HELP.items()],
        "drivers": DRIVERS,
        "strategies": STRATEGIES,
        "litmus": [{"name": lit.name, "doc": lit.doc} for lit in LITMUS.values()],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print("bug switches:" + ("" if info["bugs"] else " none yet"))
    for b in info["bugs"]:
        print(f"  {b['name']:32} {b['title']}")
    print("configs:")
    for c in info["configs"]:
        print(f"  {c['name']}={c['default']!s:10} {c['help']}")
    print("drivers: " + (", ".join(DRIVERS) or "none yet"))
    print("strategies: " + ", ".join(STRATEGIES))
    print("operations (.kprog syntax; K: kernel threads only):")
    for o in info["operations"]:
        needs = f" (needs {o['requires']}=on)" if o["requires"] else ""
        print(f"  {'K' if o['threads'] == 'kernel' else ' '} {o['syntax']}")
        print(f"      {o['doc']}{needs}")
    print("litmus programs:")
    for lit in info["litmus"]:
        print(f"  {lit['name']:18} {lit['doc']}")
    return 0


def _cmd_litmus(args) -> int:
    from .litmus_cmd import run_litmus_command
    return run_litmus_command(args)


def _cmd_replay(args) -> int:
    from .replay_cmd import run_replay_command
    return run_replay_command(args)


def _cmd_campaign(args) -> int:
    from .campaign_cmd import run_campaign_command
    return run_campaign_command(args)


def _cmd_bench(args) -> int:
    from .bench_cmd import run_bench_command
    return run_bench_command(args)


def _cmd_coverage(args) -> int:
    from .coverage_cmd import run_coverage_command
    return run_coverage_command(args)


def _cmd_minimize(args) -> int:
    from .minimize_cmd import run_minimize_command
    return run_minimize_command(args)


def _cmd_show(args) -> int:
    from .show_cmd import run_show_command
    return run_show_command(args)


def _cmd_anchors(args) -> int:
    from .drift_cmd import run_anchors_command
    return run_anchors_command(args)


def _cmd_drift(args) -> int:
    from .drift_cmd import run_drift_command
    return run_drift_command(args)


def _cmd_fuzz(args) -> int:
    from .fuzz_cmd import run_fuzz_command
    return run_fuzz_command(args)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("ptfuzz")
    except PackageNotFoundError:
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ptfuzz", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"ptfuzz {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_info_commands(sub)
    _add_search_commands(sub)
    _add_reproducer_commands(sub)
    _add_upstream_commands(sub)
    return p


def _add_info_commands(sub) -> None:
    """``list`` and ``litmus``."""
    q = sub.add_parser("list", help="bug switches, configs, drivers, operations")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_list)

    q = sub.add_parser("litmus", help="explore the substrate's litmus programs exhaustively")
    q.add_argument("names", nargs="*", help="litmus programs (default: all)")
    q.add_argument("--bound", type=integer, default=None,
                   help="preemption bound (default: none, every interleaving)")
    q.add_argument("--limit", type=integer, default=100_000, help="at most this many runs each")
    q.set_defaults(func=_cmd_litmus)


def _add_search_commands(sub) -> None:
    """``fuzz``, ``campaign``, ``bench`` and ``coverage``."""
    q = sub.add_parser("fuzz", help="search for a report with one driver")
    q.add_argument("--driver", default="pct", help="random, pct, dfs, hypothesis or atheris "
                   "(default: pct)")
    q.add_argument("--bug", action="append", metavar="NAME", help="turn a bug switch on")
    q.add_argument("--config", action="append", metavar="K=V",
                   help="fix a config value (the others are drawn per run)")
    q.add_argument("--seed", type=integer, default=1, help="the driver's seed (default 1)")
    q.add_argument("--time", type=seconds, default=None, metavar="SECONDS",
                   help="time budget (default 60 s)")
    q.add_argument("--runs", type=integer, default=None, metavar="N", help="execution budget")
    q.add_argument("--out", default="ptfuzz-findings", metavar="DIR",
                   help="where a finding is written (default ./ptfuzz-findings)")
    q.add_argument("--no-minimize", action="store_true",
                   help="write the first failing case as it is")
    q.set_defaults(func=_cmd_fuzz)

    q = sub.add_parser("campaign", help="a portfolio of drivers on every core, for a time")
    q.add_argument("--workers", type=integer, default=None, help="default: one per core; at most "
                   "four per core without --force")
    q.add_argument("--force", action="store_true", help="allow more workers than that")
    q.add_argument("--time", type=seconds, default=None, metavar="SECONDS",
                   help="time budget (default 60 s)")
    q.add_argument("--dir", default=None, metavar="DIR",
                   help="the campaign directory (default ./ptfuzz-campaign-DATE); an "
                        "existing one is resumed")
    q.add_argument("--backend", default="local", help="local (processes) or ray")
    q.add_argument("--address", default=None, metavar="RAY_ADDRESS",
                   help="an existing Ray cluster (default: a local Ray instance)")
    q.add_argument("--bug", action="append", metavar="NAME", help="turn a bug switch on")
    q.add_argument("--config", action="append", metavar="K=V", help="fix a config value")
    q.add_argument("--drivers", default=None, metavar="LIST",
                   help="drivers and weights, e.g. pct:3,random:2 (default: "
                        "pct:3,random:2,atheris:2,hypothesis:1)")
    q.add_argument("--seed", type=integer, default=1, help="the campaign seed (default 1)")
    q.add_argument("--items", type=integer, default=None, metavar="N",
                   help="stop after N work items (with --item-runs: the same searches "
                        "on any backend and machine)")
    q.add_argument("--item-runs", type=integer, default=None, metavar="N",
                   help="an execution budget per work item too")
    q.set_defaults(func=_cmd_campaign)

    q = sub.add_parser("bench", help="throughput, time to bug, reproducer sizes, scaling")
    q.add_argument("--quick", action="store_true", help="a short run (under 5 minutes)")
    q.add_argument("--json", default=None, metavar="OUT", help="every figure as JSON")
    q.add_argument("--trials", type=integer, default=None,
                   help="seeds per driver and bug (default 10; --quick 1)")
    q.add_argument("--cap", type=seconds, default=None, metavar="SECONDS",
                   help="time cap per trial (default 120; --quick 5)")
    q.add_argument("--jobs", type=integer, default=1, metavar="N",
                   help="time-to-bug trials run N at a time, one process each (default 1)")
    q.set_defaults(func=_cmd_bench)

    q = sub.add_parser("coverage", help="which lines of core/mm a campaign's corpus reaches")
    q.add_argument("dir", metavar="DIR", help="a campaign directory")
    q.add_argument("--html", default=None, metavar="OUT",
                   help="where the HTML report goes (default DIR/coverage)")
    q.set_defaults(func=_cmd_coverage)


def _add_reproducer_commands(sub) -> None:
    """``minimize``, ``show`` and ``replay``."""
    q = sub.add_parser("minimize", help="shrink a .kprog reproducer, keeping its title")
    q.add_argument("file", metavar="FILE")
    q.add_argument("-o", "--out", default=None, metavar="OUT",
                   help="where to write it (default: NAME.min.kprog in the current directory)")
    q.add_argument("--time", type=seconds, default=60.0, metavar="SECONDS",
                   help="time limit (default 60 s)")
    q.add_argument("--title", default=None,
                   help="the title to keep (default: the file's expect:, else its replay's)")
    q.set_defaults(func=_cmd_minimize)

    q = sub.add_parser("show", help="a reproducer's run as swim lanes, one column per CPU")
    q.add_argument("file", metavar="FILE")
    q.add_argument("--html", default=None, metavar="OUT", help="also write an HTML page")
    q.add_argument("--full", action="store_true", help="every step (no folding)")
    q.add_argument("--width", type=integer, default=None,
                   help="columns (default: the terminal's, else 100)")
    q.add_argument("--threads", default=None, metavar="LIST",
                   help="lanes for these threads only, e.g. T0,K0 (the others' steps are "
                        "folded, their marks kept; the HTML page shows every thread)")
    q.set_defaults(func=_cmd_show)

    q = sub.add_parser("replay", help="replay .kprog reproducers and compare with their expect")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--bugs", default=None,
                   help="bug switches to use instead of the file's (a list, or none)")
    q.add_argument("--trace", action="store_true", help="print every step")
    q.set_defaults(func=_cmd_replay)


def _add_upstream_commands(sub) -> None:
    """``anchors`` and ``drift``."""
    q = sub.add_parser("anchors", help="the kernel functions the model mirrors, with the "
                       "version and hash of each body as read")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_anchors)

    q = sub.add_parser("drift", help="compare the anchored kernel functions with a kernel "
                       "source tree: same, changed (with a diff) or missing")
    q.add_argument("--tree", required=True, metavar="PATH", help="a kernel source tree")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.add_argument("--anchors", default=None, metavar="FILE",
                   help="compare these anchors (ptfuzz anchors --json format) instead")
    q.add_argument("--bodies", default=None, metavar="DIR",
                   help="where the anchored raw bodies are (default core/upstream/bodies)")
    q.set_defaults(func=_cmd_drift)


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        return args.func(args)
    except UsageError as e:
        print(f"ptfuzz: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ptfuzz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``ptfuzz list | head``): not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
