"""Scenario tests: hand-scheduled interleavings that make a recheck fail.

These tests are the proof that the race windows exist in the model. Every recheck, retry
or bail-out branch of the page-table lifetime code (the ``IP-...`` points of
``shared/spec/kernel-paths.md``) gets one ``.kprog`` program whose schedule stops a thread
inside the window, lets another thread change the page tables, and resumes it. Each test
asserts, on the fixed model (no bug switches):

(a) the run passes (``outcome.title == "pass"``);
(b) the schedule was followed (``outcome.drift is None``);
(c) the bail-out branch ran: a site that only that branch executes (its "coverage mark")
    is in ``outcome.trace.sites()``, or, where the branch has no site of its own, the
    thread's step sequence shows it;
(d) a control: the same program without the racing schedule (the threads run one after
    the other) passes and does *not* contain the mark, so the mark is the race's doing.

A fuzzer that never reaches these marks is not exploring the windows; a model change that
closes a window (a site renamed or moved, a recheck dropped) breaks the test that owns it.
"""
