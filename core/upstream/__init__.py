"""Machine-readable upstream anchors: for every modelled kernel function, the kernel file
and function it mirrors, the kernel version (and commit, where known) its C body was read
from, and the SHA-256 of that body normalised (comments and whitespace dropped).

``ptfuzz anchors`` lists them; ``ptfuzz drift --tree PATH`` compares them with a kernel
source tree. The table of what mirrors what is ``table.py`` (hand-written); versions and
hashes are ``anchors.json`` (written by ``python -m core.upstream.reanchor``). The raw
bodies, when present, are ``bodies/<file with / as __>__<function>.c``: a local cache that
is not committed (re-read them from a kernel tree with the same tool; see
docs/upstream-anchors.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .cparse import body_sha256, extract_function, line_fingerprints, normalize, normalized_lines
from .table import MIRRORS, NOT_ANCHORED, UNREAD

__all__ = ["Anchor", "ANCHORS", "MIRRORS", "NOT_ANCHORED", "UNREAD", "BODIES_DIR", "DATA_FILE",
           "normalize", "extract_function", "body_sha256", "line_fingerprints",
           "normalized_lines", "body_filename", "body_path", "read_body", "load_data",
           "make_anchors", "parse_header", "format_header"]

HERE = Path(__file__).resolve().parent
BODIES_DIR = HERE / "bodies"
DATA_FILE = HERE / "anchors.json"


@dataclass(frozen=True)
class Anchor:
    """One modelled Python function against one kernel function it mirrors."""

    python: str             # dotted name, e.g. "core.mm.pgtable.__pte_offset_map_lock"
    kernel_file: str        # e.g. "mm/pgtable-generic.c"
    kernel_function: str    # e.g. "__pte_offset_map_lock"
    version: str | None     # e.g. "v6.12.118" or "~v7.0 (2026)"; None: not read yet
    commit: str | None      # the source's commit id where known
    sha256: str | None      # of normalize(body)
    note: str = ""          # how the body was dated
    source: str = ""        # where the body was read (a tree, an index copy)
    lines: tuple[str, ...] = field(default=(), repr=False)  # line fingerprints of the body

    @property
    def key(self) -> str:
        return f"{self.kernel_file}:{self.kernel_function}"

    @property
    def short_hash(self) -> str:
        return self.sha256[:12] if self.sha256 else "-"


def body_filename(kernel_file: str, kernel_function: str) -> str:
    return f"{kernel_file.replace('/', '__')}__{kernel_function}.c"


def body_path(kernel_file: str, kernel_function: str, bodies_dir: Path | None = None) -> Path:
    return (bodies_dir or BODIES_DIR) / body_filename(kernel_file, kernel_function)


_HEADER = re.compile(r"^/\* ptfuzz anchor: (?P<file>\S+) (?P<func>\S+) \| version (?P<version>.*?)"
                     r" \| commit (?P<commit>\S+) \| source (?P<source>.*?) \*/$")


def format_header(kernel_file, kernel_function, version, commit, source) -> str:
    return (f"/* ptfuzz anchor: {kernel_file} {kernel_function} | version {version} | "
            f"commit {commit or '-'} | source {source} */")


def parse_header(line: str) -> dict | None:
    m = _HEADER.match(line.rstrip("\n"))
    if not m:
        return None
    d = m.groupdict()
    d["commit"] = None if d["commit"] == "-" else d["commit"]
    return d


def read_body(kernel_file: str, kernel_function: str, bodies_dir: Path | None = None):
    """``(header dict, raw body text)`` of a stored body, or None if it is not on disk."""
    p = body_path(kernel_file, kernel_function, bodies_dir)
    if not p.is_file():
        return None
    text = p.read_text()
    first, _, rest = text.partition("\n")
    header = parse_header(first)
    if header is None:
        return None
    return header, rest


def load_data(path: Path | None = None) -> dict:
    p = path or DATA_FILE
    if not p.is_file():
        return {}
    return json.loads(p.read_text())["bodies"]


def make_anchors(mirrors=None, data=None) -> list[Anchor]:
    mirrors = MIRRORS if mirrors is None else mirrors
    data = load_data() if data is None else data
    out = []
    for python, targets in mirrors.items():
        for kfile, kfunc in targets:
            row = data.get(f"{kfile}:{kfunc}", {})
            out.append(Anchor(python=python, kernel_file=kfile, kernel_function=kfunc,
                              version=row.get("version"), commit=row.get("commit"),
                              sha256=row.get("sha256"), note=row.get("note", ""),
                              source=row.get("source", ""),
                              lines=tuple(row.get("lines", "").split())))
    return out


ANCHORS: list[Anchor] = make_anchors()
