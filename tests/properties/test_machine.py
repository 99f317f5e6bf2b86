"""The Hypothesis state machine of the hypothesis driver (fuzz/machine.py) as a stateful
test: on the fixed model, no program it grows, under any schedule pieces, reports.
With a bug switch on, it fails, and the failure carries a replayable ``.kprog``."""

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from core.bugs import BugSet
from core.program.kprog import loads
from core.program.program import run_program
from fuzz.machine import ProgramFailed, PtMachine, machine_for
from fuzz.target import Target

PtMachine.TestCase.settings = settings(PtMachine.TestCase.settings, stateful_step_count=20,
                                       max_examples=60)
TestFixedModelNeverReports = PtMachine.TestCase


def test_with_a_bug_switch_the_machine_fails_with_a_replayable_kprog():
    machine = machine_for(Target(BugSet.parse(["collapse-vma-lock-after-pmd-check"])),
                          "PtMachineCollapseBug")
    config = settings(max_examples=400, stateful_step_count=20, deadline=None,
                      database=None, derandomize=True, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
    try:
        run_state_machine_as_test(machine, settings=config)
    except ProgramFailed as e:
        title, text = str(e).split("\n", 1)
    else:
        raise AssertionError("the machine did not find the bug")
    assert title == "BUG: Bad pmd in __pte_offset_map"
    prog = loads(text)
    assert prog.expect == title
    assert run_program(prog).title == title
    assert machine.last_failure.outcome.title == title
