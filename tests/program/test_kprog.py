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
     "x.kprog: unknown bug switch 'no-such-bug'"),
    (bad("tlb_batch=4", "tlb_batch=four"), "x.kprog:4: config tlb_batch takes an integer"),
    (bad("tlb_batch=4", "nope=1"), "x.kprog:4: unknown config 'nope'"),
    (bad("value=1", "value=one"), "x.kprog:11: value= takes an integer"),
    (bad("m0+0 pages=8 DONTNEED", "m0+0 pages=8 WILLNEED"),
     "x.kprog:15: advice must be one of DONTNEED, FREE, COLLAPSE, not 'WILLNEED'"),
    (bad("read m1+2", "read m9+2"), "x.kprog: T0: read m9+2: unknown mapping m9"),
    (bad("K0 finish", "K9 finish"), "x.kprog: schedule names unknown thread K9"),
    (GOOD.split("schedule {")[0].rstrip().rstrip("}"), "x.kprog:18: unterminated thread block"),
    (bad("  *\n", "  *\n  T0 finish\n"), "x.kprog:25: nothing may follow '*'"),
    (bad("read m1+2", "khugepaged_scan m1+0"), "x.kprog: user thread T0 cannot khugepaged_scan"),
])
def test_errors_name_file_and_line(text, message):
    with pytest.raises(KprogError) as e:
        loads(text, "x.kprog")
    assert message in str(e.value)
    assert "\n" not in str(e.value)
