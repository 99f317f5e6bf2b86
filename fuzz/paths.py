"""Checks of the places the command line writes to, made before any work starts, so a
finding is never lost to a bad ``--out`` after minutes of search."""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile

from .errors import UsageError

__all__ = ["writable_dir", "writable_file", "seconds", "integer"]


def _probe(directory: str) -> str | None:
    """Why ``directory`` cannot be written (None if it can): make what is missing of it
    and a file in it, then remove what the probe made."""
    made = []
    d = os.path.abspath(directory)
    missing = []
    while not os.path.exists(d):
        missing.append(d)
        d = os.path.dirname(d)
    if not os.path.isdir(d):
        return f"{d} is not a directory"
    try:
        for m in reversed(missing):
            os.mkdir(m)
            made.append(m)
        fd, probe = tempfile.mkstemp(dir=os.path.abspath(directory), prefix=".ptfuzz-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write there ({e.strerror or e})"
    finally:
        for m in reversed(made):
            try:
                os.rmdir(m)
            except OSError:
                pass
    return None


def writable_dir(path: str, option: str) -> str:
    """``path`` is a directory that exists or can be made, and can be written."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path}: exists and is not a directory")
    why = _probe(path)
    if why:
        raise UsageError(f"{option} {path}: {why}")
    return path


def writable_file(path: str, option: str) -> str:
    """``path`` is a file that can be written (its directory exists or can be made)."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    why = _probe(os.path.dirname(os.path.abspath(path)))
    if why:
        raise UsageError(f"{option} {path}: {why}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {path}: is not writable")
    return path


def integer(text: str) -> int:
    """An argparse type: an integer written as everywhere in ptfuzz (ASCII decimal or
    ``0x`` hex; no ``1_000``, no other scripts' digits), at most 2**63 - 1."""
    from core.kernel.config import parse_int
    try:
        v = parse_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if abs(v) > (1 << 63) - 1:
        raise argparse.ArgumentTypeError(f"out of range: {text}")
    return v


def seconds(text: str) -> float:
    """An argparse type: a finite, positive number of seconds."""
    if not re.fullmatch(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+|nan|inf)", text):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    v = float(text)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, "
                                         f"not {text}")
    return v
