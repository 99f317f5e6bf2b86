from hypothesis import given, settings
from hypothesis import strategies as st

from core.sim import explore

from .programs import count_schedules, make_run


def distinct(step_counts, bound=None):
    runs = list(explore(make_run(step_counts), bound))
    traces = {tuple(r.trace.lines()) for r in runs}
    assert len(traces) == len(runs), "an interleaving was visited twice"
    return len(runs)


def test_two_threads_of_two_steps():
    # C(4, 2) = 6 interleavings; 2 with no preemption (T0 T0 T1 T1 and T1 T1 T0 T0);
    # 4 with at most one (adding T0 T1 T1 T0 and T1 T0 T0 T1).
    assert count_schedules([2, 2]) == 6
    assert distinct([2, 2]) == 6
    assert distinct([2, 2], bound=0) == 2
    assert distinct([2, 2], bound=1) == 4
    assert distinct([2, 2], bound=2) == 6


def test_three_threads():
    # 6! / (2! 2! 2!) = 90
    assert distinct([2, 2, 2]) == 90
    assert distinct([2, 2, 2], bound=0) == 6          # 3! orders of whole threads
    # One preemption: of the first thread after its first step (3 * 2 choices, then the
    # preempted thread resumes after the second or after the third: 12), or of the second
    # thread (3 * 2 = 6); plus the 6 without any: 24.
    assert distinct([2, 2, 2], bound=1) == count_schedules([2, 2, 2], 1) == 24


@settings(max_examples=25)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.none() | st.integers(0, 2))
def test_counts_match_combinatorics(step_counts, bound):
    assert distinct(step_counts, bound) == count_schedules(step_counts, bound)
