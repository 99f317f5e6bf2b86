"""Turning a run into a schedule a person can read and a replay can follow.

A fuzzer's run is a long list of steps drawn by some strategy (random walk, PCT, bytes
from atheris, Hypothesis data). To write it as a ``.kprog`` that replays under the default
strategy, every stretch of consecutive steps of one thread becomes ``T until SITE [xN]``
(stop T just before it performs SITE for the N-th time, SITE being the step it takes when
it next runs) or ``T finish``, and every data choice it drew (``need_resched``, an
allocation failure, ...) becomes ``T choose LABEL=V``. Scheduling draws disappear: the
lines say which thread runs, whatever strategy chose it.
"""

from __future__ import annotations

from dataclasses import replace

from ..sim.strategies import ForceChoice, ScheduleLine

__all__ = ["schedule_from_trace", "with_schedule"]


def _segments(steps, start: int):
    """[(tid, first step index, [sites])] of consecutive steps of one thread."""
    segs: list = []
    for i in range(start, len(steps)):
        tid, s = steps[i]
        if segs and segs[-1][0] == tid:
            segs[-1][2].append(s)
        else:
            segs.append((tid, i, [s]))
    return segs


def schedule_from_trace(trace, start: int = 0) -> list:
    """Schedule lines that make a replay take the steps ``trace.steps[start:]``."""
    segs = _segments(trace.steps, start)
    data_by_step: dict[int, list] = {}
    for pos, (step, label, value) in enumerate(trace.data):
        if step >= start:
            data_by_step.setdefault(step, []).append((pos, label, value))
    # Where each segment's thread goes next: the first site of its next segment, or
    # what it was about to do when the run ended (None: it had finished).
    following: list = [None] * len(segs)
    last_seen: dict[int, int] = {}
    for k in range(len(segs) - 1, -1, -1):
        tid = segs[k][0]
        j = last_seen.get(tid)
        following[k] = segs[j][2][0] if j is not None else trace.pending.get(tid)
        last_seen[tid] = k
    # A data choice answered 0 after which its thread draws nothing else under that
    # label needs no line: an unforced draw of a replay answers 0.
    last_nonzero: dict = {}
    for pos, (step, label, value) in enumerate(trace.data):
        if step >= start and value:
            last_nonzero[(trace.steps[step][0], label)] = pos
    lines: list = []
    for k, (tid, first, sites) in enumerate(segs):
        name = trace.names[tid]
        for i in range(first, first + len(sites)):
            for pos, label, value in data_by_step.get(i, ()):
                if value or last_nonzero.get((tid, label), -1) > pos:
                    lines.append(ForceChoice(name, label, value))
        nxt = following[k]
        if nxt is None:
            lines.append(ScheduleLine(name, None))
        else:
            lines.append(ScheduleLine(name, nxt, sites[1:].count(nxt) + 1))
    return lines


def with_schedule(program, outcome, comments=None):
    """``program`` with the schedule of ``outcome``'s run and its title as ``expect``."""
    lines = schedule_from_trace(outcome.trace, outcome.start)
    return replace(program, schedule=tuple(lines), choices=None, expect=outcome.title,
                   comments=tuple(comments) if comments is not None else program.comments)
