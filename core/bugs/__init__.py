"""Bug switches: historical kernel mistakes re-created on top of the fixed model."""

from .registry import NO_BUGS, REGISTRY, BugError, BugSet, BugSwitch, register
from . import zoo  # noqa: E402,F401  (registers the public switches)

__all__ = ["NO_BUGS", "REGISTRY", "BugError", "BugSet", "BugSwitch", "register"]
