"""The Hypothesis state machine of the hypothesis driver (fuzz/machine.py) as a stateful
test: on the fixed model, no program it grows, under any schedule pieces, reports.
With a bug switch on, the hypothesis driver finds it and the finding replays."""

from hypothesis import settings

from core.bugs import REGISTRY, BugSet
from core.program.kprog import loads
from core.program.program import run_program
from fuzz.drivers import Budget, make_driver
from fuzz.findings import make_finding
from fuzz.machine import PtMachine
from fuzz.target import Target

PtMachine.TestCase.settings = settings(PtMachine.TestCase.settings, stateful_step_count=20,
                                       max_examples=60)
TestFixedModelNeverReports = PtMachine.TestCase


def test_with_a_bug_switch_the_machine_finds_it_and_the_finding_replays():
    target = Target(BugSet.parse(["pt-reclaim-semi-rcu"]))
    case, stats = make_driver("hypothesis", target, 1).search(Budget(runs=6000))
    assert case is not None and REGISTRY["pt-reclaim-semi-rcu"].produces(case.outcome.title)
    assert stats.executions <= 6000
    finding = make_finding(case, "a test")
    prog = loads(finding.text())
    assert prog.expect == case.outcome.title
    assert run_program(prog).title == case.outcome.title
