"""The .kprog loader is strict and its errors name the file and line."""

import pytest

from core.program.kprog import KprogError, dumps, loads

GOOD = """kprog 1
# a story line
bugs: reclaim-after-ptl-drop
config: split_ptlocks=on tlb_batch=4

setup {
  p0 = process
  f0 = file pages=16
  m0 = mmap p0 anon pages=8
  m1 = mmap p0 private f0 pages=8 pgoff=8
  write m0+0 value=1
}
T0 on p0 {
  read m1+2
  madvise m0+0 pages=8 DONTNEED
}
K0 kthread {
  khugepaged_scan m1+0
}
schedule {
  T0 until zap_pte_range:need_resched x2
  T0 choose zap_pte_range:need_resched=1
  K0 finish
  *
}
choices { 1 0 2 }
expect: pass
"""


def test_canonical_form_round_trips():
    prog = loads(GOOD, "good.kprog")
    assert prog.config.tlb_batch == 4 and prog.choices == (1, 0, 2)
    assert prog.comments == ("# a story line",)
    text = dumps(prog)
    assert loads(text) == prog
    assert dumps(loads(text)) == text


def bad(replace_from, replace_to):
    assert replace_from in GOOD
    return GOOD.replace(replace_from, replace_to)


@pytest.mark.parametrize("text,message", [
    ("kprog 2\n", "x.kprog:1: not a kprog file (the first line must be 'kprog 1')"),
    (bad("read m1+2", "reed m1+2"), "x.kprog:14: unknown operation 'reed'"),
    (bad("zap_pte_range:need_resched x2", "zap_pte_range:nope"),
     "x.kprog:21: unknown site 'zap_pte_range:nope'"),
    (bad("bugs: reclaim-after-ptl-drop", "bugs: no-such-bug"),
     "x.kprog:3: unknown bug switch 'no-such-bug'"),
    (bad("tlb_batch=4", "tlb_batch=four"), "x.kprog:4: config tlb_batch takes an integer"),
    (bad("tlb_batch=4", "nope=1"), "x.kprog:4: unknown config 'nope'"),
    (bad("value=1", "value=one"), "x.kprog:11: value= takes an integer"),
    (bad("m0+0 pages=8 DONTNEED", "m0+0 pages=8 WILLNEED"),
     "x.kprog:15: advice must be one of DONTNEED, FREE, COLLAPSE, not 'WILLNEED'"),
    (bad("read m1+2", "read m9+2"), "x.kprog:14: T0: read m9+2: unknown mapping m9"),
    (bad("K0 finish", "K9 finish"), "x.kprog:23: schedule names unknown thread K9"),
    (GOOD.split("schedule {")[0].rstrip().rstrip("}"), "x.kprog:18: unterminated thread block"),
    (bad("  *\n", "  *\n  T0 finish\n"), "x.kprog:25: nothing may follow '*'"),
    (bad("read m1+2", "khugepaged_scan m1+0"), "x.kprog:14: user thread T0 cannot khugepaged_scan"),
])
def test_errors_name_file_and_line(text, message):
    with pytest.raises(KprogError) as e:
        loads(text, "x.kprog")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


# -- issue 17: what the loader refuses, each with its line ----------------------------------

@pytest.mark.parametrize("text,message", [
    # Redefinitions (``p0 = process`` twice replayed to a false "memory leak: mm_struct").
    (bad("  p0 = process\n", "  p0 = process\n  p0 = process\n"),
     "x.kprog:8: process p0 defined twice (first at line 7)"),
    (bad("  f0 = file pages=16\n", "  f0 = file pages=16\n  f0 = file pages=4\n"),
     "x.kprog:9: file f0 defined twice (first at line 8)"),
    (bad("  write m0+0 value=1\n", "  write m0+0 value=1\n  m0 = mmap p0 anon pages=2\n"),
     "x.kprog:12: mapping m0 defined twice"),
    (bad("K0 kthread {", "T0 kthread {"), "x.kprog:17: thread T0 defined twice (first at line 13)"),
    (bad("T0 on p0 {", "setup {\n}\nT0 on p0 {"), "x.kprog:13: a second setup block"),
    (bad("expect: pass", "expect: pass\nexpect: pass"), "x.kprog:28: expect: given twice"),
    (bad("choices { 1 0 2 }", "choices { 1 0 2 }\nchoices { 1 }"),
     "x.kprog:27: choices given twice"),
    # The machine's own threads, and what only a process's thread can do.
    (bad("K0 kthread {", "rcu_gp kthread {"),
     "x.kprog:17: thread name rcu_gp is reserved (the machine's own threads: rcu_cb, rcu_gp, "
     "setup, teardown)"),
    (bad("  write m0+0 value=1\n", "  exit\n"),
     "x.kprog:11: the setup cannot exit (it is no process's thread)"),
    (bad("  madvise m0+0 pages=8 DONTNEED\n", "  exit\n  read m0+0\n"),
     "x.kprog:15: T0: exit must be the last operation"),
    (bad("config: split_ptlocks=on tlb_batch=4", "config: cpus=1"),
     "x.kprog:17: 2 threads but config cpus=1"),
    # Numbers: inside their mapping, ASCII decimal or 0x hex, bounded.
    (bad("read m1+2", "read m1+8"),
     "x.kprog:14: T0: read m1+8: offset 8 is past the end of m1 (8 pages)"),
    (bad("read m1+2", "read m1+-1"),
     "x.kprog:14: offset in address 'm1+-1' must be from 0 to 65535"),
    (bad("value=1", "value=1_000"), "x.kprog:11: value= takes an integer"),
    (bad("value=1", "value=١"), "x.kprog:11: value= takes an integer"),
    (bad("pages=8 DONTNEED", "pages=99999 DONTNEED"), "x.kprog:15: pages= must be at most 65536"),
    (bad("f0 = file pages=16", "f0 = file pages=0x100000"),
     "x.kprog:8: file pages= must be from 1 to 65536"),
    (bad("tlb_batch=4", "ptrs_per_pte=100000"),
     "x.kprog:4: config ptrs_per_pte must be at most 512, not 100000"),
    (bad("choose zap_pte_range:need_resched=1", "choose zap_pte_range:need_resched=99999"),
     "x.kprog:22: choose value 99999 must be from 0 to 65535"),
    # Only comments may hold control characters; lines split at \n only.
    (bad("read m1+2", "read m1+2\x1b[2J"), "x.kprog:14: control character U+001B"),
    (bad("# a story line", "# a story\x0cline\nrea d m1+2"),
     "x.kprog:3: unexpected line 'rea d m1+2'"),
])
def test_the_loader_refuses_with_the_line(text, message):
    with pytest.raises(KprogError) as e:
        loads(text, "x.kprog")
    assert message in str(e.value)


def test_a_line_separator_in_a_comment_does_not_start_a_statement():
    prog = loads(bad("# a story line", "# a story\u2028read m1+99"), "x.kprog")
    assert prog.comments == ("# a story\u2028read m1+99",)


def test_files_that_are_not_utf8_name_the_line_and_byte(tmp_path):
    from core.program.kprog import load
    p = tmp_path / "latin1.kprog"
    p.write_bytes(GOOD.replace("# a story line", "# caf\u00e9").encode("latin-1"))
    with pytest.raises(KprogError, match=r"latin1.kprog:2: not UTF-8 \(byte 0xe9 at offset 13\)"):
        load(str(p))
    p.write_bytes(GOOD.encode("utf-16"))
    with pytest.raises(KprogError, match=r"latin1.kprog:1: not UTF-8 \(byte 0xff at offset 0\)"):
        load(str(p))
    p.write_bytes(GOOD.replace("\n", "\r\n").encode())
    assert load(str(p)) == loads(GOOD)


def test_a_choose_that_does_not_fit_is_drift_not_a_silent_clamp():
    from core.program.program import run_program
    prog = loads(GOOD.replace("choices { 1 0 2 }\n", "").replace(
        "T0 choose zap_pte_range:need_resched=1", "T0 choose zap_pte_range:need_resched=7"))
    out = run_program(prog)
    assert out.drift is not None
    assert out.drift.message() == (
        "schedule drift at line 22: 'T0 choose zap_pte_range:need_resched=7': T0 drew "
        "zap_pte_range:need_resched with 2 choices, so 7 is out of range")
    prog = loads(GOOD.replace("choices { 1 0 2 }\n", "").replace(
        "T0 choose zap_pte_range:need_resched=1", "T0 choose no_such:label=1"))
    out = run_program(prog)
    assert out.drift.message() == ("schedule drift at line 22: 'T0 choose no_such:label=1': "
                                   "T0 never drew no_such:label (again)")
