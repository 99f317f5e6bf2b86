import pytest

from core.sim import Engine, RandomSource, ReplaySource, Wait, WaitQueue, site, spin_site
from core.sim.strategies import RandomWalk

from .programs import STEP, steps

S_WAIT = site("sim_test_waiter:wait")
S_SET = site("sim_test_setter:set")
S_CHECK = site("sim_test_spinner:check")
S_RETRY = spin_site("sim_test_spinner:retry")


def engine(values=(), **kw):
    return Engine(ReplaySource(values), RandomWalk(), **kw)


def test_zero_choices_run_each_thread_to_completion_in_order():
    e = engine()
    e.spawn("A", steps(2))
    e.spawn("B", steps(3))
    res = e.run()
    assert res.title == "pass"
    assert list(res.trace.lines()) == [
        "A@sim_test_thread:step0", "A@sim_test_thread:step1",
        "B@sim_test_thread:step0", "B@sim_test_thread:step1", "B@sim_test_thread:step2"]
    # Two decisions while both were runnable, both answered 0 by the exhausted source.
    assert (res.trace.values, res.trace.bounds) == ([0, 0], [2, 2])


def test_choice_one_preempts_to_the_next_thread():
    e = engine([1])
    e.spawn("A", steps(2))
    e.spawn("B", steps(1))
    res = e.run()
    assert [seg[0] for seg in res.trace.segments()] == ["B", "A"]


def test_a_thread_that_yields_something_else_is_a_model_error():
    def bad(t):
        yield "not a trap"
    e = engine()
    with pytest.raises(TypeError, match="not a trap"):
        e.spawn("A", bad)


def test_an_exception_inside_a_step_ends_the_run_with_a_model_error_report():
    def broken(t):
        yield STEP[0]
        yield STEP[1]
        {}["missing"]                                   # the model has a bug here

    e = engine()
    e.spawn("A", broken)
    res = e.run()
    assert res.title == "model error: KeyError in broken"
    assert res.report.thread == "A" and res.report.site == "sim_test_thread:step1"
    assert list(res.trace.lines()) == ["A@sim_test_thread:step0", "A@sim_test_thread:step1"]


def test_wait_queue_parks_until_woken():
    wq = WaitQueue("flag")
    box = {"flag": False}

    def waiter(t):
        while not box["flag"]:
            yield Wait(wq, S_WAIT)
        yield STEP[0]

    def setter(t):
        yield S_SET
        box["flag"] = True
        wq.wake_all()

    e = engine()
    e.spawn("W", waiter)
    e.spawn("S", setter)
    res = e.run()
    assert res.title == "pass"
    assert list(res.trace.lines()) == ["S@sim_test_setter:set", "W@sim_test_waiter:wait",
                                       "W@sim_test_thread:step0"]


def test_deadlock_names_where_each_thread_hangs():
    wq1, wq2 = WaitQueue("q1"), WaitQueue("q2")

    def w(q):
        def body(t):
            yield Wait(q, S_WAIT)
        return body

    e = engine()
    e.spawn("A", w(wq1))
    e.spawn("B", w(wq2))
    res = e.run()
    assert res.title == "INFO: task hung in sim_test_waiter"
    assert res.report.detail("blocked A") == "at sim_test_waiter:wait on q1"
    assert res.report.detail("blocked B") == "at sim_test_waiter:wait on q2"


def test_daemon_threads_do_not_keep_a_run_alive():
    idle = WaitQueue("kthread_work")

    def kthread(t):
        while True:
            yield Wait(idle, S_WAIT)
    e = engine()
    k = e.spawn("kthread", kthread, daemon=True)
    e.spawn("A", steps(2))
    assert e.run().title == "pass"
    assert k.state == "waiting"


def spinner(box):
    def body(t):
        while True:
            yield S_CHECK
            if box["flag"]:
                return
            yield S_RETRY
    return body


def test_spinning_alone_is_a_livelock():
    e = engine(spin_bound=10)
    e.spawn("A", spinner({"flag": False}))
    res = e.run()
    assert res.title == "livelock in sim_test_spinner"
    assert res.report.detail("reason") == "11 retries in a row with no other progress"


def test_step_bound_is_a_livelock_in_the_busiest_function():
    def busy(t):
        while True:
            yield STEP[0]
    e = engine(step_bound=50)
    e.spawn("A", busy)
    res = e.run()
    assert res.title == "livelock in sim_test_thread (step bound 50 reached)"
    assert res.nsteps == 50


def test_a_spinning_thread_yields_to_the_others():
    box = {"flag": False}

    def setter(t):
        yield S_SET
        box["flag"] = True

    # Even a choice stream that always says "the other one" cannot re-run the spinner
    # before the setter has stepped.
    e = Engine(RandomSource(3), RandomWalk(), spin_bound=3)
    e.spawn("A", spinner(box))
    e.spawn("B", setter)
    res = e.run()
    assert res.title == "pass"
    lines = list(res.trace.lines())
    # The step before A resumes from its retry site is B's, whatever the stream said.
    i = lines.index("A@sim_test_spinner:retry")
    assert lines[i - 1] == "B@sim_test_setter:set"


def test_trace_hash_is_a_function_of_names_and_choices():
    def run(seed):
        e = Engine(RandomSource(seed), RandomWalk())
        e.spawn("A", steps(3))
        e.spawn("B", steps(3))
        return e.run().trace
    assert run(5).hash() == run(5).hash()
    assert run(5).hash() != run(6).hash()
    assert run(5).hash() == "92285df65ccc846f"
