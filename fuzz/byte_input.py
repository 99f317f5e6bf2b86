"""Fuzzer bytes as executions, and ``.kprog`` files as fuzzer bytes.

An input is decoded by the project's invertible choice decoder
(:class:`~core.sim.choices.BytesSource`). Its first byte says what the rest means:

* even: a generated program. The rest answers every choice: the program's generation,
  then the run, so a mutation can change the program, the interleaving, or both. Bit 1
  of the first byte picks the scheduler: the random walk (one byte a step: fine-grained
  interleavings) or PCT (its depth, k, priorities and change points: a few bytes, and a
  thread can run long stretches, which a random walk over fuzzed bytes rarely does).
* odd: a seed program. The next byte picks one of the seed ``.kprog`` files (modulo
  their number); the rest answers the run's choices.

:func:`kprog_to_bytes` inverts the odd form: it replays a ``.kprog``'s schedule and
records, for each thread pick, the answer the random walk would have needed, so that any
reproducer (the regression corpus, a campaign's crashes) becomes a seed input.
"""

from __future__ import annotations

from dataclasses import replace

from core.program.program import Outcome, Program, run_program, strategy_for
from core.sim import BytesSource, ReplaySource, encode_bytes
from core.sim.strategies import PCT, RandomWalk, Strategy, first_option

from .target import Case

__all__ = ["run_bytes", "kprog_to_bytes", "PCT_KS"]

PCT_KS = (150, 300, 600)          # PCT's k, chosen by the input


def run_bytes(data: bytes, target, seeds=()) -> Case:
    """The execution ``data`` stands for."""
    if data and data[0] & 1 and seeds:
        prog = seeds[(data[1] if len(data) > 1 else 0) % len(seeds)]
        prog = replace(prog, schedule=None, choices=None, expect=None, bugs=target.bugs)
        src = BytesSource(data[2:])
        return Case(prog, run_program(prog, src, RandomWalk()), "random walk over bytes")
    src = BytesSource(data[1:])
    if not data or not data[0] & 2:
        return target.run(src, RandomWalk())
    prog = target.program(src)
    depth = 2 + src.choose(2, "pct_depth")
    k = PCT_KS[src.choose(len(PCT_KS), "pct_k")]
    strategy = PCT(depth=depth, k=k)
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
    body = encode_bytes(src.values, src.bounds)
    return bytes([1, index % 256]) + body, out
