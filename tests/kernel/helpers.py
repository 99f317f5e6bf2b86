"""Run small ad-hoc kernel programs under an explicit schedule."""

from core.kernel import ALLOCATED, KObject
from core.machine import Machine
from core.sim import ReplaySource, lookup_site
from core.sim.strategies import Replay, ScheduleLine


class Obj(KObject):
    __slots__ = ("val",)
    kind = "test object"

    def __init__(self, val=0):
        super().__init__()
        self.val = val


def static(obj):
    """An object that lives for the whole run, outside the leak scan."""
    obj.kstate = ALLOCATED
    return obj


def run_threads(threads, schedule=(), values=(), checkers=None, teardown=True):
    """``threads``: [(name, fn, *args)]; ``schedule``: [(thread, site name or None)].
    Returns (result, replay strategy, machine)."""
    lines = [ScheduleLine(t, lookup_site(s) if s else None, 1, i + 1)
             for i, (t, s) in enumerate(schedule)]
    strategy = Replay(lines)
    m = Machine(ReplaySource(values), strategy, checkers=checkers)
    for name, fn, *args in threads:
        m.spawn(name, fn, *args, what=name)
    res = m.run() if teardown else m.run(teardown=None)
    return res, strategy, m
