"""Shared test configuration: invariant checks on; Hypothesis settings profiles.

``ci`` (the default) is derandomized, so the suite is deterministic; ``dev`` explores
more, randomly; ``nightly`` much more. Choose with ``HYPOTHESIS_PROFILE=dev``.
"""

import os

# The engine and the substrate check their own invariants after every step in every test
# (core/sim/invariants.py; before core is imported, as it reads this at import).
os.environ.setdefault("PTFUZZ_CHECK_INVARIANTS", "1")

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=100, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("nightly", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
