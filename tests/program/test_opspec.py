"""Operations are declarations: text, parsing, mappings, synopsis and simpler variants all
derive from the fields, and the derived parser rejects what the declaration does not say."""

import pytest

from core.program.kprog import _parse_op
from core.program.ops import OPS, Madvise, Mmap, UffdCopy, UffdMove
from core.program.opspec import Addr, OpError
from core.program.generate import generate_program
from core.sim.choices import RandomSource


def test_every_generated_operation_round_trips():
    seen = set()
    for seed in range(300):
        prog = generate_program(RandomSource(seed))
        for op in prog.setup + tuple(o for t in prog.threads for o in t.ops):
            assert _parse_op(op.text(), op in prog.setup) == op
            seen.add(op.name)
    # Every operation but the extension's (its option is off here) was drawn.
    assert seen == set(OPS) - {"pt_reclaim_scan"}


@pytest.mark.parametrize("text,op", [
    ("m0 = mmap p0 private f0 pages=8 pgoff=8 uffd=wp at=64",
     Mmap("m0", "private", 8, 8, "wp", 64, proc="p0", file="f0")),
    ("m0 = mmap anon pages=0x8", Mmap("m0", "anon", 8)),
    ("uffd_move m3+1 m2+0 pages=1", UffdMove(Addr("m3", 1), Addr("m2", 0), 1)),
    ("uffd_copy m2+5 value=7", UffdCopy(Addr("m2", 5), 1, 7)),
])
def test_parse(text, op):
    assert _parse_op(text, text.startswith("m0 = mmap p0")) == op


def test_text_writes_defaults_only_where_declared():
    assert UffdCopy(Addr("m2", 5), 1, 7).text() == "uffd_copy m2+5 pages=1 value=7"
    assert Mmap("m0", "anon", 8).text() == "m0 = mmap anon pages=8"


@pytest.mark.parametrize("text,in_setup,message", [
    ("madvise m0+0 pages=8", False,
     "madvise is missing its DONTNEED|FREE|COLLAPSE "
     "(usage: madvise M+O pages=N DONTNEED|FREE|COLLAPSE)"),
    ("madvise m0+0 DONTNEED", False, "missing pages="),
    ("madvise m0+0 pages=0 FREE", False, "pages= must be at least 1"),
    ("madvise m0+0 pages=8 FREE x", False, "unexpected argument 'x'"),
    ("read m0+0 size=2", False, "unknown key size="),
    ("read m0+0", False, None),
    ("m0 = read m0+0", False, "read does not return a name"),
    ("mmap anon pages=8", False, "mmap needs a name: NAME = mmap"),
    ("m0 = mmap p0 file pages=8", True, "kind must be one of anon, shared, private, not 'file'"),
    ("m0 = mmap p0 shared pages=8", True, "mmap is missing its FILE"),
    ("m0 = mmap anon pages=8 uffd=yes", False, "uffd must be one of none, missing, wp"),
    ("munmap m-0", False, "bad target 'm-0' (expected a name, like m0)"),
    ("read m0+x", False, "bad offset in address 'm0+x'"),
])
def test_errors(text, in_setup, message):
    if message is None:
        _parse_op(text, in_setup)
        return
    with pytest.raises(OpError) as e:
        _parse_op(text, in_setup)
    assert message in str(e.value)


def test_mappings_and_simpler_variants_come_from_the_fields():
    op = Madvise(Addr("m1", 4), 8, "FREE")
    assert op.mappings() == ("m1",)
    assert UffdMove(Addr("m3", 0), Addr("m2", 1), 2).mappings() == ("m3", "m2")
    assert [o.text() for o in op.simpler()] == [
        "madvise m1+0 pages=8 FREE", "madvise m1+2 pages=8 FREE", "madvise m1+3 pages=8 FREE",
        "madvise m1+4 pages=1 FREE", "madvise m1+4 pages=4 FREE", "madvise m1+4 pages=7 FREE"]
    # Optional layout keys (pgoff=, at=) are not sizes to shrink.
    assert [o.text() for o in Mmap("m0", "anon", 2, 8, at=3).simpler()] == [
        "m0 = mmap anon pages=1 pgoff=8 at=3"]
