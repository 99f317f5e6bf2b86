"""The retry rule (core/sim/engine.py, ``Kernel.retry_progress`` in core/kernel/context.py),
exhaustively, on two tiny threads.

T0 looks at ``box.val``, looks again (its recheck), and retries once, unconditionally:
``look, recheck, retry, look, recheck``. T1 writes twice, either to ``box`` (what T0 reads)
or to another object. A retry whose attempt read nothing another CPU changed is not
offered again until another thread has stepped; one whose reads another CPU changed
(between the attempt's first look and the retry) is offered at once, like any step.
"""

from itertools import combinations

from core.kernel import READ_ONCE, WRITE_ONCE
from core.machine import Machine
from core.sim import site, spin_site
from core.sim.explore import explore

from .helpers import Obj, static

S_LOOK = site("test_retry_rule_reader:look")
S_RECHECK = site("test_retry_rule_reader:recheck")
S_RETRY = spin_site("test_retry_rule_reader:retry")
S_W1 = site("test_retry_rule_writer:write_1")
S_W2 = site("test_retry_rule_writer:write_2")

# One letter a step: T0's look, recheck, retry; T1's two writes.
LETTER = {"T0@" + S_LOOK.name: "l", "T0@" + S_RECHECK.name: "c", "T0@" + S_RETRY.name: "r",
          "T1@" + S_W1.name: "w", "T1@" + S_W2.name: "x"}
READER = "lcrlc"
WRITER = "wx"


def reader(ctx, box):
    for attempt in range(2):
        yield from READ_ONCE(ctx, box, "val", S_LOOK)
        yield from READ_ONCE(ctx, box, "val", S_RECHECK)
        if attempt == 0:
            yield S_RETRY


def writer(ctx, target):
    yield from WRITE_ONCE(ctx, target, "val", 1, S_W1)
    yield from WRITE_ONCE(ctx, target, "val", 2, S_W2)


def interleavings(same: bool, old_rule: bool = False) -> list[str]:
    """Every run, exhaustively (no preemption bound), as a string of step letters.
    ``old_rule``: the engine without the kernel's ``retry_progress`` (every retry waits
    for another thread's step, as before 61f788f)."""
    out = []

    def once(source, strategy):
        m = Machine(source, strategy)
        if old_rule:
            m.engine.retry_progress = None
        box, other = static(Obj()), static(Obj())
        m.spawn("T0", reader, box, what="T0")
        m.spawn("T1", writer, box if same else other, what="T1")
        return m.run(teardown=None)

    for res in explore(once):
        assert res.title == "pass"
        out.append("".join(LETTER[line] for line in res.trace.lines()))
    return out


def merges() -> list[str]:
    """All 21 merges of T0's five steps and T1's two."""
    n = len(READER) + len(WRITER)
    out = []
    for pos in combinations(range(n), len(WRITER)):
        r, w = iter(READER), iter(WRITER)
        out.append("".join(next(w) if i in pos else next(r) for i in range(n)))
    return out


def allowed(seq: str, changed_counts: bool) -> bool:
    """The rule, stated on a merge: right after T0's first recheck (where it reaches the
    retry), T0's retry may be the next step only if T1 has finished, or (with
    ``changed_counts``) T1 wrote between T0's first look and that recheck."""
    look, recheck = seq.index("l"), seq.index("c")
    if seq[recheck + 1] != "r" or "x" in seq[:recheck]:
        return True
    return changed_counts and any(ch in WRITER for ch in seq[look + 1:recheck])


def test_a_retry_with_nothing_changed_waits_for_another_thread():
    runs = interleavings(same=False)
    assert len(runs) == 9 and len(set(runs)) == 9          # exact: every run distinct
    assert sorted(runs) == sorted(s for s in merges() if allowed(s, False))
    # T0 never retries straight after its recheck while T1 can still run...
    assert not any(s.startswith("lcr") for s in runs)
    # ...but does once T1 has stepped, or when T1 is done.
    assert "lcwrlcx" in runs and "wxlcrlc" in runs


def test_a_retry_after_another_cpu_wrote_what_it_read_is_offered_at_once():
    runs = interleavings(same=True)
    assert len(runs) == 12 and len(set(runs)) == 12
    assert sorted(runs) == sorted(s for s in merges() if allowed(s, True))
    # The three runs the old rule forbade: T1 wrote between T0's look and recheck, and
    # T0 retries (and reads T1's first value again) before T1's second write.
    extra = set(runs) - set(interleavings(same=False))
    assert extra == {"lwcrlcx", "lwcrlxc", "lwcrxlc"}
    # A write before the first look is no news to the attempt: still no retry at once.
    assert not any(s.startswith("wlcr") for s in runs)


def test_the_old_rule_makes_every_retry_wait():
    assert sorted(interleavings(same=True, old_rule=True)) == sorted(
        interleavings(same=False))
    assert sorted(interleavings(same=False, old_rule=True)) == sorted(
        interleavings(same=False))
