"""The upstream anchors (core/upstream): every mirrored kernel function of core/mm is
anchored or deliberately not, every anchor has a hash, stored bodies hash to it, and the
little C reader behind them works."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from core.upstream import (ANCHORS, BODIES_DIR, MIRRORS, NOT_ANCHORED, UNREAD, body_sha256,
                           extract_function, line_fingerprints, normalize, read_body)

ROOT = Path(__file__).resolve().parents[2]
# A kernel source file named in a docstring: mm/xxx.c, include/linux/xxx.h, arch/..., ...
KERNEL_PATH = re.compile(r"\b(?:mm|include|arch|kernel|fs)/[\w./-]+\.[ch]\b")
# A docstring that starts by naming the kernel function it mirrors: ``name`` or ``name(...)``
LEADING_NAME = re.compile(r"^``[A-Za-z_][A-Za-z_0-9]*[`(]")


def _functions(path: Path):
    """(dotted name, is public module-level, docstring) of every function in the module."""
    mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield f"{mod}.{node.name}", not node.name.startswith("_") or node.name.startswith(
                "__") and not node.name.endswith("__"), ast.get_docstring(node) or ""
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    yield (f"{mod}.{node.name}.{sub.name}", False,
                           ast.get_docstring(sub) or "")


def _mirrors_a_kernel_function(doc: str) -> bool:
    return bool(KERNEL_PATH.search(doc) or LEADING_NAME.match(doc))


LISTED = set(MIRRORS) | set(NOT_ANCHORED) | set(UNREAD)


def test_every_mirrored_function_is_anchored_or_listed():
    missing = []
    for path in sorted((ROOT / "core" / "mm").glob("*.py")):
        for name, public, doc in _functions(path):
            if name in LISTED:
                continue
            if public or _mirrors_a_kernel_function(doc):
                missing.append(name)
    assert not missing, (
        "these core/mm functions mirror kernel functions (a public function, or a docstring "
        "naming a kernel file or starting with ``name``) but have no anchor: add them to "
        "MIRRORS in core/upstream/table.py and read their bodies (python -m "
        "core.upstream.reanchor), or to NOT_ANCHORED with the reason: " + ", ".join(missing))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("name", sorted(LISTED))
def test_listed_names_are_real_functions(name):
    assert callable(_resolve(name)), name


def test_anchored_and_not_anchored_are_disjoint():
    assert not (set(MIRRORS) & set(NOT_ANCHORED)), set(MIRRORS) & set(NOT_ANCHORED)
    assert not (set(MIRRORS) & set(UNREAD)), set(MIRRORS) & set(UNREAD)
    assert not (set(NOT_ANCHORED) & set(UNREAD)), set(NOT_ANCHORED) & set(UNREAD)
    assert all(reason.strip() for reason in NOT_ANCHORED.values())
    assert all(reason.strip() for _, reason in UNREAD.values())


def test_every_anchor_has_a_version_and_a_hash():
    assert len(ANCHORS) >= 200
    bad = [a.key for a in ANCHORS
           if not (a.version and a.sha256 and re.fullmatch(r"[0-9a-f]{64}", a.sha256)
                   and a.lines and a.source)]
    assert not bad, f"anchors without a version, hash, fingerprints or source: {bad}"


PRIORITY = ["collapse_pte_mapped_thp", "retract_page_tables", "flush_tlb_batched_pending",
            "set_tlb_ubc_flush_pending", "try_to_unmap_flush", "try_to_unmap_one",
            "should_fault_around", "do_fault_around", "uffd_disable_fault_around",
            "do_swap_page", "move_pages_pte", "move_swap_pte", "move_present_pte",
            "__collapse_huge_page_isolate", "__collapse_huge_page_swapin",
            "collapse_huge_page", "hpage_collapse_scan_pmd", "zap_present_ptes",
            "zap_pte_range", "do_zap_pte_range", "zap_install_uffd_wp_if_needed"]


def test_the_priority_functions_are_anchored():
    anchored = {a.kernel_function for a in ANCHORS}
    assert not [f for f in PRIORITY if f not in anchored]


STORED = [a for a in ANCHORS if read_body(a.kernel_file, a.kernel_function) is not None]


@pytest.mark.skipif(not STORED, reason=f"no stored bodies in {BODIES_DIR} (a local cache, not "
                    "committed: python -m core.upstream.reanchor writes it)")
@pytest.mark.parametrize("anchor", STORED, ids=lambda a: a.key)
def test_stored_body_extracts_cleanly_and_hashes_to_the_anchor(anchor):
    header, body = read_body(anchor.kernel_file, anchor.kernel_function)
    assert header["file"] == anchor.kernel_file
    assert header["func"] == anchor.kernel_function
    assert header["version"] == anchor.version
    assert extract_function(body, anchor.kernel_function) == body.rstrip("\n")
    assert body_sha256(body) == anchor.sha256
    assert tuple(line_fingerprints(body)) == anchor.lines


# --- normalize -------------------------------------------------------------------------

def test_normalize_drops_comments_and_collapses_whitespace():
    src = "int  f(void)\n{\n\t/* a comment\n * over lines */\n\treturn 1; // trailing\n}\n"
    assert normalize(src) == "int f(void) { return 1; }"


def test_normalize_keeps_string_literals_as_they_are():
    src = 'p("a  /* not a comment */  b",\t\'"\');  /* gone */'
    assert normalize(src) == 'p("a  /* not a comment */  b", \'"\');'


def test_normalize_ignores_layout_but_not_tokens():
    a = "if (x)\n\treturn y;"
    assert normalize(a) == normalize("if (x) return y;  /* same */")
    assert normalize(a) != normalize("if (x) return z;")


# --- extract_function ------------------------------------------------------------------

SRC = r'''
#include <linux/mm.h>
#define BRACES(x) do { if (x) { y(); } } while (0)

static int target(int a);		/* a prototype */

int other(void)
{
	return target(1);		/* a call */
}

/* target - the definition */
static __always_inline int
target(int a)
	__must_hold(&lock)
{
	const char *s = "} not the end {";
	char c = '}';
	if (a) {
		/* } nor this */
		return BRACES(a), 1;
	}
	return 0;
}

struct ops o = { .fn = target };
EXPORT_SYMBOL(target);
'''


def test_extract_finds_the_definition_not_prototypes_or_calls():
    body = extract_function(SRC, "target")
    assert body.startswith("static __always_inline int\ntarget(int a)\n")
    assert body.endswith("return 0;\n}")
    assert "return 1;" not in body.split("{")[0]  # the prototype is not included


def test_extract_counts_nested_braces_past_strings_chars_and_comments():
    body = extract_function(SRC, "target")
    assert '"} not the end {"' in body and "'}'" in body and "/* } nor this */" in body
    assert body.count("{") - body.count("'}'") >= 2


def test_extract_returns_none_without_a_definition():
    assert extract_function(SRC, "missing") is None
    assert extract_function("void f(void);\nint g(void) { return f(); }\n", "f") is None


def test_extract_prefers_the_real_body_over_an_ifdef_stub():
    src = ("#ifdef CONFIG_X\nvoid f(int x)\n{\n\tdo_it(x);\n\tmore(x);\n}\n#else\n"
           "static inline void f(int x) {}\n#endif\n")
    assert "do_it" in extract_function(src, "f")


def test_extract_name_must_match_whole_identifier():
    src = "void pre_f(void)\n{\n\ta();\n}\n\nvoid f(void)\n{\n\tb();\n}\n"
    assert extract_function(src, "f") == "void f(void)\n{\n\tb();\n}"
