"""Errors the command line turns into one-line messages with exit status 2."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad input: an unknown name, a malformed file, a missing file."""
