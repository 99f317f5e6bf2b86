"""Fuzzer bytes as executions, and ``.kprog`` files as fuzzer bytes.

An input is decoded by the project's invertible choice decoder
(:class:`~core.sim.choices.BytesSource`). Its first byte says what the rest means:

* even: a generated program. The rest answers every choice: the program's generation,
  then the run, so a mutation can change the program, the interleaving, or both. Bit 1
  of the first byte picks the scheduler: the random walk (one byte a step: fine-grained
  interleavings) or PCT (its depth, k, priorities and change points: a few bytes, and a
  thread can run long stretches, which a random walk over fuzzed bytes rarely does).
* odd: a seed program. The next byte picks one of the seed ``.kprog`` files (modulo
  their number); the rest answers a config preset (0: the seed's own config) and the
  run's choices, under the random walk or PCT (bit 1, as above).

:func:`kprog_to_bytes` inverts the odd form: it replays a ``.kprog``'s schedule and
records, for each thread pick, the answer the random walk would have needed, so that any
reproducer (the regression corpus, a campaign's crashes) becomes a seed input.
"""

from __future__ import annotations

from dataclasses import replace

from core.program.generate import CONFIG_CHOICES
from core.program.program import Outcome, Program, run_program, strategy_for
from core.sim import BytesSource, ReplaySource, encode_bytes
from core.sim.strategies import PCT, RandomWalk, Strategy, first_option

from .target import Case

__all__ = ["run_bytes", "kprog_to_bytes", "PCT_KS"]

PCT_KS = (50, 100, 200, 400, 800)   # PCT's k, chosen by the input


def _pct(src) -> PCT:
    return PCT(depth=2 + src.choose(2, "pct_depth"), k=PCT_KS[src.choose(len(PCT_KS), "pct_k")])


def _seed_program(data: bytes, src, target, seeds) -> Program:
    """The seed the input names, with the target's switches, and its config or one of
    the generator's presets (the choice after the seed's index; 0 keeps its own)."""
    prog = seeds[(data[1] if len(data) > 1 else 0) % len(seeds)]
    prog = replace(prog, schedule=None, choices=None, expect=None, bugs=target.bugs)
    preset = src.choose(len(CONFIG_CHOICES) + 1, "seed_config")
    if preset:
        split, alloc, table_free, reclaim = CONFIG_CHOICES[preset - 1]
        try:
            cfg = replace(prog.config, split_ptlocks=split, alloc_split_ptlocks=alloc,
                          table_free=table_free, pt_reclaim=reclaim)
        except ValueError:              # a combination the seed's other options forbid
            cfg = prog.config
        if all(getattr(cfg, k) == v for k, v in target.fixed.items()):
            prog = replace(prog, config=cfg)
    return prog


def run_bytes(data: bytes, target, seeds=()) -> Case:
    """The execution ``data`` stands for."""
    if data and data[0] & 1 and seeds:
        src = BytesSource(data[2:])
        prog = _seed_program(data, src, target, seeds)
        strategy = _pct(src) if data[0] & 2 else RandomWalk()
        return Case(prog, run_program(prog, src, strategy), strategy.describe())
    src = BytesSource(data[1:])
    if not data or not data[0] & 2:
        return target.run(src, RandomWalk())
    prog = target.program(src)
    strategy = _pct(src)
    return Case(prog, run_program(prog, src, strategy), strategy.describe())


class _Encoder(Strategy):
    """Follows the program's own schedule and records each thread pick as the answer a
    random walk over the byte source would have needed to make it."""

    name = "encoder"

    def __init__(self, inner: Strategy):
        self.inner = inner

    def attach(self, engine) -> None:
        super().attach(engine)
        self.inner.attach(engine)
        self.source = engine.source

    def pick(self, runnable, cur, keep):
        before = len(self.source.values)
        t = self.inner.pick(runnable, cur, keep)
        n = len(runnable)
        if n > 1 and len(self.source.values) == before and t in runnable:
            c = (runnable.index(t) - first_option(runnable, cur, keep)) % n
            self.source.record(n, c, "sched")
        return t


def kprog_to_bytes(prog: Program, index: int) -> tuple[bytes, Outcome]:
    """The odd-form input that replays ``prog`` as seed number ``index`` (and the
    outcome of the replay it was recorded from)."""
    src = ReplaySource(prog.choices or ())
    out = run_program(prog, src, _Encoder(strategy_for(prog, None)))
    # The seed's own config (0), then the run's choices.
    body = encode_bytes([0] + list(src.values), [len(CONFIG_CHOICES) + 1] + list(src.bounds))
    return bytes([1, index % 256]) + body, out
