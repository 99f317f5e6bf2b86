"""Print trace hashes of a few seeded runs (run in a fresh process by the determinism test)."""

import json

from core.litmus import LITMUS, run_litmus
from core.sim import RandomSource
from core.sim.strategies import PCT, RandomWalk


def hashes():
    out = {}
    for name in ("rcu-leaky-reader", "abba-no-lockdep", "ipi-sync-rcu"):
        for seed in (1, 2, 3):
            res = run_litmus(LITMUS[name], RandomSource(seed), RandomWalk())
            out[f"{name}/random/{seed}"] = [res.title, res.trace.hash()]
            res = run_litmus(LITMUS[name], RandomSource(seed), PCT(depth=2, k=40))
            out[f"{name}/pct/{seed}"] = [res.title, res.trace.hash()]
    return out


if __name__ == "__main__":
    print(json.dumps(hashes(), sort_keys=True))
