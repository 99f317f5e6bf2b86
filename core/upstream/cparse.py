"""Just enough C lexing to find a function definition in a kernel source file and to
compare two versions of it: comments, string and character literals and preprocessor
directives are recognised; nothing else of C is."""

from __future__ import annotations

import functools
import hashlib
import re

__all__ = ["normalize", "extract_function", "line_fingerprints", "normalized_lines",
           "body_sha256"]

_WS = re.compile(r"\s+")


def _scan(text: str):
    """Yield ``(kind, start, end)`` spans covering ``text``: ``code``, ``comment``,
    ``string`` (a string or character literal, quotes included) and ``cpp`` (a
    preprocessor directive's code, continuation lines included; comments and literals
    inside it are reported as such)."""
    n = len(text)
    i = 0
    in_cpp = False
    line_start = True  # only whitespace since the last newline (outside a directive)
    start = 0
    kind = "code"

    def flush(upto, k):
        if upto > start:
            yield (k, start, upto)

    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            yield from flush(i, kind)
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            yield ("comment", i, j)
            i = start = j
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            yield from flush(i, kind)
            j = text.find("\n", i + 2)
            j = n if j < 0 else j
            yield ("comment", i, j)
            i = start = j
            continue
        if c == '"' or c == "'":
            yield from flush(i, kind)
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            yield ("string", i, j)
            i = start = j
            line_start = False
            continue
        if c == "\n":
            if in_cpp and not (i > 0 and text[i - 1] == "\\"):
                yield from flush(i, kind)
                in_cpp = False
                kind = "code"
                start = i
            line_start = True
            i += 1
            continue
        if c == "#" and line_start and not in_cpp:
            yield from flush(i, kind)
            in_cpp = True
            kind = "cpp"
            start = i
            i += 1
            continue
        if not c.isspace():
            line_start = False
        i += 1
    yield from flush(n, kind)


@functools.lru_cache(maxsize=4)
def _masked(text: str) -> str:
    """``text`` with comments, literals and preprocessor directives replaced by spaces
    (newlines kept), so that braces and parentheses can be counted."""
    out = []
    for kind, a, b in _scan(text):
        piece = text[a:b]
        if kind == "code":
            out.append(piece)
        else:
            out.append(re.sub(r"[^\n]", " ", piece))
    return "".join(out)


def normalize(c_text: str) -> str:
    """The text with comments dropped, every run of whitespace (outside string and
    character literals, which are kept as they are) collapsed to one space, stripped."""
    parts = []
    for kind, a, b in _scan(c_text):
        if kind == "comment":
            parts.append(" ")
        elif kind == "string":
            parts.append("\0" + c_text[a:b] + "\0")
        else:
            parts.append(c_text[a:b])
    joined = "".join(parts)
    pieces = joined.split("\0")
    # Even pieces are code, odd pieces are literals.
    out = [piece if k % 2 else _WS.sub(" ", piece) for k, piece in enumerate(pieces)]
    return "".join(out).strip()


def body_sha256(c_text: str) -> str:
    return hashlib.sha256(normalize(c_text).encode()).hexdigest()


def normalized_lines(c_text: str) -> list[str]:
    """The body's lines with comments dropped and whitespace collapsed, empty ones left
    out (for a line-by-line comparison)."""
    parts = []
    for kind, a, b in _scan(c_text):
        piece = c_text[a:b]
        parts.append(re.sub(r"[^\n]", " ", piece) if kind == "comment" else piece)
    lines = []
    for line in "".join(parts).split("\n"):
        line = _WS.sub(" ", line).strip()
        if line:
            lines.append(line)
    return lines


def line_fingerprints(c_text: str) -> list[str]:
    """A short hash of each of ``normalized_lines(c_text)``."""
    return [hashlib.sha256(line.encode()).hexdigest()[:8] for line in normalized_lines(c_text)]


_IDENT = re.compile(r"[A-Za-z_0-9]")
_ATTR = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*")


def _match(masked: str, i: int, open_: str, close: str) -> int:
    """The index just past the bracket matching ``masked[i]`` (an ``open_``), or -1."""
    depth = 0
    n = len(masked)
    while i < n:
        c = masked[i]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _definitions(text: str, name: str):
    """Every file-scope definition of function ``name``: ``(start, end)`` spans."""
    masked = _masked(text)
    n = len(masked)
    pat = re.compile(r"(?<![A-Za-z_0-9])" + re.escape(name) + r"\s*\(")
    # Brace depth at every candidate: walk once, in order.
    depth = 0
    pos = 0
    last_boundary = 0  # just past the last file-scope ';' or '}'
    for m in pat.finditer(masked):
        # Advance the depth count up to the candidate.
        while pos < m.start():
            c = masked[pos]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    last_boundary = pos + 1
            elif c == ";" and depth == 0:
                last_boundary = pos + 1
            pos += 1
        if depth != 0:
            continue
        paren = m.end() - 1
        after = _match(masked, paren, "(", ")")
        if after < 0:
            continue
        # Attributes and annotations between ')' and '{': __releases(ptl), __must_hold(x)...
        j = after
        while True:
            am = _ATTR.match(masked, j)
            if not am:
                break
            k = am.end()
            if k < n and masked[k] == "(":
                k2 = _match(masked, k, "(", ")")
                if k2 < 0:
                    break
                k = k2
            j = k
        while j < n and masked[j].isspace():
            j += 1
        if j >= n or masked[j] != "{":
            continue  # a prototype, a declaration or a macro use
        end = _match(masked, j, "{", "}")
        if end < 0:
            continue
        # The declaration starts at the first code after the last file-scope boundary.
        s = last_boundary
        while s < m.start() and masked[s].isspace():
            s += 1
        s = text.rfind("\n", 0, s) + 1
        yield (s, end)


def extract_function(c_source_text: str, name: str) -> str | None:
    """The text of the file-scope definition of function ``name`` (from the start of its
    declaration's first line, return type and qualifiers included, to its closing brace),
    or None. Prototypes, calls and macro uses are not definitions. When there are several
    definitions (``#ifdef`` alternatives, a stub in the ``#else`` branch), the longest."""
    best = None
    for s, e in _definitions(c_source_text, name):
        if best is None or e - s > best[1] - best[0]:
            best = (s, e)
    if best is None:
        return None
    return c_source_text[best[0]:best[1]]
