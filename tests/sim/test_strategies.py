from core.sim import Engine, RandomSource, ReplaySource, Wait, WaitQueue, lookup_site
from core.sim.strategies import PCT, RandomWalk, Replay, ScheduleLine

from .programs import STEP, steps


def run(strategy, values=(), threads=((2, 2)), **kw):
    e = Engine(ReplaySource(values), strategy, **kw)
    for i, n in enumerate(threads):
        e.spawn(f"T{i}", steps(n))
    res = e.run()
    return res, [seg[:2] for seg in res.trace.segments()]


def test_pct_with_zero_choices_runs_threads_in_priority_order():
    res, segs = run(PCT(depth=3, k=10), threads=(3, 2, 1))
    assert segs == [("T0", 3), ("T1", 2), ("T2", 1)]
    # The draws were: 2 for the Fisher-Yates permutation of 3 threads, 2 change points.
    assert res.trace.bounds == [3, 2, 11, 11]


def test_pct_change_point_lowers_the_running_thread():
    # Permutation (0, 0): T0 > T1. Change point 1 at step 2: T0 drops below T1 there.
    strategy = PCT(depth=2, k=10)
    res, segs = run(strategy, values=[0, 2], threads=(3, 3))
    assert segs == [("T0", 1), ("T1", 3), ("T0", 2)]
    assert strategy.describe() == "pct(n=2, k=10, d=2)"


def test_pct_permutation_choice_reorders_priorities():
    res, segs = run(PCT(depth=1, k=10), values=[1], threads=(1, 1))
    assert segs == [("T1", 1), ("T0", 1)]


def test_pct_is_a_thin_layer_over_the_source():
    a = run(PCT(depth=3, k=6), threads=(3, 3, 3))[0]
    b = Engine(RandomSource(11), PCT(depth=3, k=6))
    for i in range(3):
        b.spawn(f"T{i}", steps(3))
    rb = b.run()
    assert a.title == rb.title == "pass"
    assert len(rb.trace.values) == 4        # only the up-front draws, none per step


def lines(*specs):
    out = []
    for i, (thread, site, *count) in enumerate(specs):
        out.append(ScheduleLine(thread, lookup_site(site) if site else None,
                                count[0] if count else 1, i + 1))
    return out


def test_replay_runs_until_the_site_then_the_default():
    strategy = Replay(lines(("T1", "sim_test_thread:step1"), ("T0", None)))
    res, segs = run(strategy, threads=(2, 3))
    # T1 stops just before performing step1; T0 finishes; the default continues with T1.
    assert segs == [("T1", 1), ("T0", 2), ("T1", 2)]
    assert strategy.drift is None and strategy.done


def test_replay_counts_occurrences():
    def loop(t):
        for _ in range(4):
            yield STEP[0]
    strategy = Replay(lines(("T0", "sim_test_thread:step0", 3), ("T1", None)))
    e = Engine(ReplaySource([]), strategy)
    e.spawn("T0", loop)
    e.spawn("T1", steps(1))
    segs = [s[:2] for s in e.run().trace.segments()]
    assert segs == [("T0", 3), ("T1", 1), ("T0", 1)]


def test_replay_reports_drift_precisely_and_continues():
    strategy = Replay(lines(("T0", "sim_test_thread:step5")))
    res, segs = run(strategy, threads=(2, 1))
    assert res.title == "pass"
    assert strategy.drift.message() == (
        "schedule drift at line 1: 'T0 until sim_test_thread:step5': "
        "T0 finished without reaching sim_test_thread:step5")
    assert Replay(lines(("T9", None))).lines[0].text() == "T9 finish"


def test_replay_drift_when_the_thread_blocks():
    wq = WaitQueue("never")
    S = lookup_site("sim_test_thread:step0")

    def blocker(t):
        yield S
        yield Wait(wq, S)

    strategy = Replay(lines(("T0", "sim_test_thread:step1")))
    e = Engine(ReplaySource([]), strategy)
    e.spawn("T0", blocker)
    e.spawn("T1", steps(1))
    res = e.run()
    assert strategy.drift.reason == "T0 blocked at sim_test_thread:step0 (waiting on never)"
    assert res.title == "INFO: task hung in sim_test_thread"


def test_random_walk_option_zero_keeps_the_current_thread():
    e = Engine(ReplaySource([0, 0, 1]), RandomWalk())
    e.spawn("T0", steps(3))
    e.spawn("T1", steps(1))
    segs = [s[:2] for s in e.run().trace.segments()]
    assert segs == [("T0", 2), ("T1", 1), ("T0", 1)]


def test_pieces_run_each_thread_for_its_steps_then_fall_back():
    from core.sim.strategies import Pieces
    strategy = Pieces([("T1", 2), ("T0", 1), ("T2", 5), ("T1", 1)])
    res, segs = run(strategy, threads=(3, 4, 0))
    # T2 has no steps (finished at spawn): its piece is skipped. After the pieces the
    # exhausted source keeps the current thread running, then the next one in tid order.
    assert segs == [("T1", 2), ("T0", 1), ("T1", 2), ("T0", 2)]
    assert strategy.describe() == "pieces(T1x2, T0x1, T2x5, T1x1)"


def _twice(thread):
    """S0, S1, S0, S1: a thread that takes the same sites twice."""
    yield from (STEP[0], STEP[1], STEP[0], STEP[1])


def _run_twice(strategy):
    e = Engine(ReplaySource(()), strategy)
    e.spawn("T0", _twice)
    e.spawn("T1", steps(2))
    return [seg[:2] for seg in e.run().trace.segments()]


def test_pieces_stop_a_thread_before_the_nth_take_of_a_site():
    from core.sim.strategies import Pieces
    piece = ("T0", STEP[0], 2)
    # Stopped before its second S0; others_first: T1 runs before T0 resumes.
    assert _run_twice(Pieces([piece], others_first=True)) == [("T0", 2), ("T1", 2), ("T0", 2)]
    # Without it the exhausted source keeps the current thread running.
    assert _run_twice(Pieces([piece])) == [("T0", 4), ("T1", 2)]
    assert Pieces([piece]).describe() == f"pieces(T0 until {STEP[0].name} x2)"


def test_a_site_piece_the_thread_has_passed_is_skipped():
    from core.sim.strategies import Pieces
    strategy = Pieces([("T0", 3), ("T0", STEP[0], 1)], others_first=True)
    assert _run_twice(strategy) == [("T0", 3), ("T1", 2), ("T0", 1)]
