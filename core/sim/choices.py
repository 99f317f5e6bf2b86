"""The one choice stream and its backends.

Every nondeterministic decision of a run (which thread steps next, whether a grace period
advances, whether ``need_resched()`` is true, whether an allocation fails, and which
operations a generated program has) is one call ``choose(n, label) -> int`` in
``range(n)``. Conventions every backend keeps:

* ``choose(1)`` (and ``choose(0)``) returns 0 without consuming or recording anything, so
  forced decisions never shift the stream;
* an exhausted source answers 0, and 0 always means the simplest thing (keep running the
  current thread, no failure, the first option), so truncating a stream simplifies a run;
* every answered choice is recorded (value and bound), so any run can be replayed with
  :class:`ReplaySource`, turned into bytes with :func:`encode_bytes`, or enumerated further
  with :func:`next_prefix`.
"""

from __future__ import annotations

import random

__all__ = [
    "ChoiceSource", "RandomSource", "ReplaySource", "BytesSource", "OdometerSource",
    "encode_bytes", "decode_bytes", "next_prefix", "width",
]


class ChoiceSource:
    """Base class: records every answered choice. Subclasses implement ``_draw``."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.bounds: list[int] = []
        self.labels: list[str] = []

    def choose(self, n: int, label: str = "") -> int:
        if n <= 1:
            return 0
        v = self._draw(n)
        self.values.append(v)
        self.bounds.append(n)
        self.labels.append(label)
        return v

    def _draw(self, n: int) -> int:
        raise NotImplementedError

    def record(self, n: int, value: int, label: str = "") -> None:
        """Record an answer given from elsewhere (a forced data choice), so the recorded
        stream stays complete."""
        if n > 1:
            self.values.append(value)
            self.bounds.append(n)
            self.labels.append(label)

    @property
    def exhausted(self) -> bool:
        return False


class RandomSource(ChoiceSource):
    """A seeded PRNG. Uses ``getrandbits`` with rejection (stable across CPython versions,
    unlike ``randrange``) on a private ``random.Random`` instance."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed
        self._getrandbits = random.Random(seed).getrandbits

    def _draw(self, n: int) -> int:
        k = (n - 1).bit_length()
        getrandbits = self._getrandbits
        v = getrandbits(k)
        while v >= n:
            v = getrandbits(k)
        return v


class ReplaySource(ChoiceSource):
    """Replays a recorded list of values, then answers 0. A recorded value that is out of
    range for the bound asked now (the program changed) is clamped to 0 and counted in
    ``mismatches`` so callers can tell that a replay drifted."""

    def __init__(self, values) -> None:
        super().__init__()
        self._script = list(values)
        self._pos = 0
        self.mismatches = 0

    def _draw(self, n: int) -> int:
        pos = self._pos
        if pos >= len(self._script):
            return 0
        self._pos = pos + 1
        v = self._script[pos]
        if not 0 <= v < n:
            self.mismatches += 1
            return 0
        return v

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self._script)


def width(n: int) -> int:
    """Bytes one choice among ``n`` takes in the byte encoding."""
    return ((n - 1).bit_length() + 7) >> 3


class BytesSource(ChoiceSource):
    """Decodes fuzzer bytes: a choice among ``n`` reads ``width(n)`` bytes big-endian and
    takes the value modulo ``n``. Inverse: :func:`encode_bytes`."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = bytes(data)
        self._pos = 0

    def _draw(self, n: int) -> int:
        w = width(n)
        pos = self._pos
        end = pos + w
        if end > len(self._data):
            self._pos = len(self._data)
            return 0
        self._pos = end
        return int.from_bytes(self._data[pos:end], "big") % n

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self._data)


def encode_bytes(values, bounds) -> bytes:
    """The bytes that make :class:`BytesSource` answer ``values`` to ``bounds``."""
    out = bytearray()
    for v, n in zip(values, bounds, strict=True):
        if not 0 <= v < n:
            raise ValueError(f"choice {v} out of range({n})")
        out += v.to_bytes(width(n), "big")
    return bytes(out)


def decode_bytes(data: bytes, bounds) -> list[int]:
    """The values ``data`` gives for a sequence of bounds (for tests and tooling)."""
    src = BytesSource(data)
    return [src.choose(n) for n in bounds]


class OdometerSource(ChoiceSource):
    """One leaf of an exhaustive enumeration: follow ``prefix``, then answer 0.

    Drive it with :func:`next_prefix`: run, compute the next prefix from what was
    recorded, repeat until it returns ``None``. This visits every distinct sequence of
    answers depth-first, each exactly once, for a deterministic program.
    """

    def __init__(self, prefix=()) -> None:
        super().__init__()
        self._prefix = list(prefix)

    def _draw(self, n: int) -> int:
        pos = len(self.values)
        if pos < len(self._prefix):
            v = self._prefix[pos]
            if v >= n:
                raise ValueError(f"odometer prefix drifted at choice {pos}: {v} >= {n}")
            return v
        return 0


def next_prefix(values, bounds):
    """Increment the odometer: the next prefix after the run that recorded
    ``values``/``bounds``, or ``None`` when every alternative has been visited."""
    for i in range(len(values) - 1, -1, -1):
        if values[i] + 1 < bounds[i]:
            return list(values[:i]) + [values[i] + 1]
    return None
