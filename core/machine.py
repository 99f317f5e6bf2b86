"""A simulated machine: engine, kernel and checkers, booted together and run in phases.

``Machine`` is what the program layer and the litmus programs share: boot with a choice
source, a strategy, a config, bug switches and a set of checkers; spawn threads; run them
until they are done; then run a teardown phase (new threads, for example the final
``rcu_barrier``) in the same run, so one trace and one choice stream cover everything;
then the end-of-run checks. A run stops at its first report.
"""

from __future__ import annotations

from .bugs import NO_BUGS, BugSet
from .checks import install
from .kernel import Config, Kernel
from .kernel.rcu import rcu_barrier
from .sim import Engine, KernelReport, RunResult, site

__all__ = ["Machine", "user_thread", "S_TEARDOWN_BARRIER"]

S_TEARDOWN_BARRIER = site("teardown:rcu_barrier")


def user_thread(fn, what: str):
    """Wrap ``fn(ctx, *args)`` so that returning to user space is checked afterwards."""

    def run(ctx, *args):
        result = yield from fn(ctx, *args)
        ctx.user_return(what)
        return result

    return run


def _final_barrier(ctx):
    yield from rcu_barrier(ctx, S_TEARDOWN_BARRIER)


class Machine:
    def __init__(self, source, strategy, config: Config | None = None,
                 bugs: BugSet = NO_BUGS, checkers=None):
        self.config = config if config is not None else Config()
        self.engine = Engine(source, strategy, step_bound=self.config.step_bound,
                             spin_bound=self.config.spin_bound,
                             check_invariants=self.config.check_invariants)
        self.kernel = Kernel(self.engine, self.config, bugs)
        install(self.kernel, checkers)
        self.result: RunResult | None = None

    def spawn(self, name: str, fn, *args, daemon: bool = False, what: str | None = None):
        """Spawn a user thread running ``fn(ctx, *args)``; ``what`` names it in the
        return-to-user check (None: no check, for kernel threads)."""
        body = user_thread(fn, what) if what is not None else fn
        return self.kernel.spawn(name, body, *args, daemon=daemon)

    def run(self, teardown=_final_barrier) -> RunResult:
        """Run every thread, then ``teardown`` (a generator function, or None), then the
        end-of-run checks."""
        res = self.engine.run()
        if res.report is None and teardown is not None:
            self.kernel.spawn("teardown", teardown)
            res = self.engine.run()
        if res.report is None:
            try:
                self.kernel.run_end_hooks()
            except KernelReport as e:
                e.report.schedule = self.engine.trace().tail()
                res = RunResult(e.report, res.nsteps, res.trace)
        self.result = res
        return res
