"""Malformed ``.kprog`` files, derived from the corpus by seeded mutation: what a user's
editor, a truncated download or a careless edit makes of a good reproducer. Each case is
(name, bytes); tests/fuzz/test_malformed_inputs.py feeds them to ``ptfuzz replay``.

Mutations: lines (drop, repeat, swap, move between blocks, insert another file's line),
bytes (flip, insert a byte that is not UTF-8, a control character, truncate), numbers
(negative, zero, huge, ``1_000``, other scripts' digits, hex, floats), names (unknown,
reserved, defined twice, non-ASCII, control characters), encodings (Latin-1, UTF-16, a
BOM, CR line ends, form feeds, U+2028) and sizes (a long line, many lines).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

__all__ = ["corpus_files", "mutants"]

ROOT = Path(__file__).resolve().parents[2]

NUMBERS = ["-1", "0", "-0", "1_000", "١٢", "0x10", "0X7fffffff", "99999999999999999999", "1e3",
           "1.5", "", "+3", "08", "4294967296", "65536", "65535", "512", "513"]
NAMES = ["m99", "p9", "f7", "T0", "rcu_gp", "setup", "teardown", "rcu_cb", "é", "m0\x1b[2J",
         "K0", "0bad", "m-1", "_", "x" * 300, "m0+0", "m1", "p0", "f0"]
JUNK_LINES = ["}", "{", "setup {", "schedule {", "T9 on p0 {", "K9 kthread {", "*",
              "choices { 1 2 3 }", "expect: pass", "bugs: none", "config: cpus=1",
              "p0 = process", "f0 = file pages=8", "m0 = mmap p0 anon pages=8",
              "T0 until zap_pte_range:need_resched", "T0 choose zap_pte_range:need_resched=9",
              "T1 finish", "exit", "read m0+7", "madvise m0+0 pages=99999 DONTNEED",
              "config: ptrs_per_pte=100000", "config: step_bound=1", "# \x0c comment"]


def corpus_files() -> list[Path]:
    return sorted((ROOT / "corpus").rglob("*.kprog"))


def _line_mutants(rng, lines, others):
    out = []
    n = len(lines)
    i, j = rng.randrange(n), rng.randrange(n)
    out.append(("drop", lines[:i] + lines[i + 1:]))
    out.append(("repeat", lines[:i] + [lines[i]] + lines[i:]))
    swapped = list(lines)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    out.append(("swap", swapped))
    moved = list(lines)
    moved.insert(j, moved.pop(i))
    out.append(("move", moved))
    out.append(("foreign", lines[:i] + [rng.choice(others)] + lines[i:]))
    out.append(("junk", lines[:i] + [rng.choice(JUNK_LINES)] + lines[i:]))
    out.append(("truncate-lines", lines[:i]))
    return out


def _token_mutants(rng, lines):
    out = []
    text = "\n".join(lines)
    nums = list(re.finditer(r"(?<![A-Za-z_])\d+", text))
    names = list(re.finditer(r"\b[A-Za-z_][A-Za-z0-9_]*\b", text))
    for _ in range(3):
        if nums:
            m = rng.choice(nums)
            out.append(("number", (text[:m.start()] + rng.choice(NUMBERS) + text[m.end():])
                        .split("\n")))
        if names:
            m = rng.choice(names)
            out.append(("name", (text[:m.start()] + rng.choice(NAMES) + text[m.end():])
                        .split("\n")))
    return out


def _byte_mutants(rng, data: bytes):
    out = []
    k = rng.randrange(len(data))
    flipped = bytearray(data)
    flipped[k] ^= 1 << rng.randrange(8)
    out.append(("flip", bytes(flipped)))
    out.append(("not-utf8", data[:k] + bytes([rng.choice([0x80, 0xC3, 0xE9, 0xFF, 0xFE])])
                + data[k:]))
    out.append(("control", data[:k] + bytes([rng.choice([0, 7, 8, 12, 27, 28, 127])])
                + data[k:]))
    out.append(("truncate", data[:k]))
    return out


def _encoding_mutants(data: bytes):
    text = data.decode("utf-8")
    return [
        ("latin1", text.replace("#", "# é", 1).encode("latin-1", "replace")),
        ("utf16", text.encode("utf-16")),
        ("bom", b"\xef\xbb\xbf" + data),
        ("crlf", data.replace(b"\n", b"\r\n")),
        ("cr", data.replace(b"\n", b"\r")),
        ("formfeed", data.replace(b"\n", b"\n\x0c", 3)),
        ("u2028", text.replace("\n", "\u2028", 2).encode("utf-8")),
        ("nel", text.replace("\n", "\x85", 2).encode("utf-8")),
        ("empty", b""),
        ("long-line", data + b"# " + b"x" * 100_000 + b"\n"),
        ("many-lines", data + b"# x\n" * 20_000),
        ("huge", b"kprog 1\n" + b"#" * (1 << 20) + b"\n"),
    ]


def mutants(count: int, seed: int = 0):
    """``count`` cases (name, bytes), the same for the same seed."""
    rng = random.Random(seed)
    files = corpus_files()
    texts = [f.read_text() for f in files]
    others = [ln for t in texts for ln in t.splitlines() if ln.strip()]
    made = 0
    while True:
        for f, text in zip(files, texts, strict=True):
            data = text.encode("utf-8")
            lines = text.split("\n")
            cases = []
            cases += [(k, "\n".join(v).encode("utf-8", "surrogatepass"))
                      for k, v in _line_mutants(rng, lines, others)]
            cases += [(k, "\n".join(v).encode("utf-8", "surrogatepass"))
                      for k, v in _token_mutants(rng, lines)]
            cases += _byte_mutants(rng, data)
            if made == 0 or rng.random() < 0.1:
                cases += _encoding_mutants(data)
            for kind, body in cases:
                yield f"{f.stem}-{made}-{kind}", body
                made += 1
                if made >= count:
                    return
