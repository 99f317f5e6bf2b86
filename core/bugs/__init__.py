"""Bug switches: historical kernel mistakes re-created on top of the fixed model."""

from .registry import NO_BUGS, PUBLIC, REGISTRY, BugError, BugSet, BugSwitch, register
from . import zoo  # noqa: E402,F401  (registers the public switches)
from . import async_reclaim  # noqa: E402,F401  (the async-reclaim design's flaws)
from . import mainline  # noqa: E402,F401  (candidate bugs of current mainline)

__all__ = ["NO_BUGS", "PUBLIC", "REGISTRY", "BugError", "BugSet", "BugSwitch", "register"]
