"""The Hypothesis state machine with the async reclaimer on and an invariant of its own
(docs/extending.md, section 8, shows this file)."""

import re

from hypothesis import settings
from hypothesis.stateful import invariant

from core.bugs import NO_BUGS
from fuzz.machine import machine_for
from fuzz.target import Target


class AsyncReclaimMachine(machine_for(Target(NO_BUGS, {"pt_reclaim_async": True}))):
    @invariant()
    def every_attached_table_is_counted(self):
        """mm->nr_ptes counts every attached PTE table (and the tables deposited under
        anonymous huge pmds, so it may be larger): a reclaimer that freed a table twice
        or forgot mm_dec_nr_ptes() breaks this before teardown's check does."""
        out = self.last_outcome
        if out is None or out.report is not None:
            return
        for picture in out.pictures.values():
            nr_ptes = int(re.search(r"nr_ptes=(-?\d+)", picture).group(1))
            assert nr_ptes >= picture.count(": table ["), picture


AsyncReclaimMachine.TestCase.settings = settings(
    AsyncReclaimMachine.TestCase.settings, stateful_step_count=20, max_examples=40)
TestAsyncReclaimMachine = AsyncReclaimMachine.TestCase
