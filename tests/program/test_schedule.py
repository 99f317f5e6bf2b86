"""Trace-to-schedule conversion (core/program/schedule.py): a run of any strategy,
written as schedule lines, replays step for step under the default strategy."""

import pytest

from core.bugs import BugSet
from core.program.generate import generate_program
from core.program.kprog import dumps, loads
from core.program.program import run_program
from core.program.schedule import schedule_from_trace, with_schedule
from core.sim import RandomSource
from core.sim.strategies import PCT, ForceChoice, RandomWalk, ScheduleLine


def _lines(outcome):
    return list(outcome.trace.lines())[outcome.start:]


@pytest.mark.parametrize("bug", [None, "pte-map-lock-no-pmd-same", "ptlock-free-immediate"])
def test_a_written_schedule_replays_the_same_steps(bug):
    bugs = BugSet.parse([bug] if bug else [])
    for seed in range(60):
        src = RandomSource(seed)
        prog = generate_program(src, bugs=bugs)
        out = run_program(prog, src, RandomWalk() if seed % 2 else PCT(depth=3, k=200))
        again = run_program(loads(dumps(with_schedule(prog, out))))
        assert again.drift is None, (seed, again.drift.message())
        assert again.title == out.title
        assert _lines(again) == _lines(out), seed


def test_lines_name_the_next_site_and_count_its_occurrences():
    src = RandomSource(7)
    prog = generate_program(src)
    out = run_program(prog, src, RandomWalk())
    lines = schedule_from_trace(out.trace, out.start)
    assert lines and all(isinstance(x, ScheduleLine | ForceChoice) for x in lines)
    # Every thread of the program appears, and the last line of each is 'finish'.
    runs = [x for x in lines if isinstance(x, ScheduleLine)]
    for t in prog.threads:
        mine = [x for x in runs if x.thread == t.name]
        assert mine and mine[-1].site is None
