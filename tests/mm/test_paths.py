"""Single-thread path tests: a program, then the page tables (before teardown) and the
operations' results (a read returns the value, a write the value written), exactly."""

import pytest

from core.program.kprog import loads
from core.program.program import run_program

SETUP = """kprog 1
{config}
setup {{
  p0 = process
  f0 = file pages=16
  m0 = mmap p0 anon pages=8
  m1 = mmap p0 {fkind} f0 pages=8
{setup}
}}
T0 on p0 {{
{ops}
}}
"""


def run(ops, setup="", fkind="shared", config=""):
    text = SETUP.format(config=f"config: {config}" if config else "", fkind=fkind,
                        setup="\n".join("  " + s for s in setup.split(";") if s.strip()),
                        ops="\n".join("  " + o for o in ops.split(";") if o.strip()))
    out = run_program(loads(text))
    assert out.title == "pass", out.report.format()
    return out.pictures.get("p0"), out.results["T0"]


def picture(*rows):
    return "\n".join(rows)


# Three pages of data in m0, then (THP) collapsed into an anonymous huge pmd.
THP_DATA = "write m0+0 value=7; write m0+1 value=8; write m0+5 value=9"
THP = THP_DATA + "; madvise m0+0 pages=8 COLLAPSE"


CASES = {
    "anonymous write fault, read of the zero page": (
        dict(ops="write m0+0 value=7; read m0+1; read m0+0"),
        picture("p0: nr_ptes=1 rss=anon:1 file:0",
                "  pmd 0: table [A7 Z0 .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [7, 0, 7]),
    "MADV_DONTNEED of the whole table frees it (PT reclaim)": (
        dict(setup="write m0+0 value=7; write m0+3 value=8",
             ops="madvise m0+0 pages=8 DONTNEED; read m0+3"),
        picture("p0: nr_ptes=1 rss=anon:0 file:0",
                "  pmd 0: table [.. .. .. Z0 .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0, 0]),
    "MADV_DONTNEED with nothing read back leaves no table": (
        dict(setup="write m0+0 value=7", ops="madvise m0+0 pages=8 DONTNEED"),
        picture("p0: nr_ptes=0 rss=anon:0 file:0",
                "  pmd 0: none", "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0]),
    "partial MADV_DONTNEED keeps the table": (
        dict(setup="write m0+0 value=7; write m0+5 value=8",
             ops="madvise m0+4 pages=4 DONTNEED"),
        picture("p0: nr_ptes=1 rss=anon:1 file:0",
                "  pmd 0: table [A7 .. .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0]),
    "without pt_reclaim the empty table stays": (
        dict(setup="write m0+0 value=7", ops="madvise m0+0 pages=8 DONTNEED",
             config="pt_reclaim=off"),
        picture("p0: nr_ptes=1 rss=anon:0 file:0",
                "  pmd 0: table [.. .. .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0]),
    "file read fault maps the window around it": (
        dict(ops="read m1+2"),
        picture("p0: nr_ptes=1 rss=anon:0 file:8",
                "  pmd 0: none",
                "  pmd 1: table [F1000 F1001 F1002 F1003 F1004 F1005 F1006 F1007]",
                "  pmd 2: none", "  pmd 3: none"),
        [1002]),
    "without fault-around one page is mapped": (
        dict(ops="read m1+2", config="fault_around=off"),
        picture("p0: nr_ptes=1 rss=anon:0 file:1",
                "  pmd 0: none",
                "  pmd 1: table [.. .. F1002 .. .. .. .. ..]",
                "  pmd 2: none", "  pmd 3: none"),
        [1002]),
    "private file write copies the page": (
        dict(fkind="private", ops="read m1+1; write m1+1 value=5; read m1+1; read m1+2"),
        picture("p0: nr_ptes=1 rss=anon:1 file:7",
                "  pmd 0: none",
                "  pmd 1: table [F1000 A5 F1002 F1003 F1004 F1005 F1006 F1007]",
                "  pmd 2: none", "  pmd 3: none"),
        [1001, 5, 5, 1002]),
    "shared file write goes to the page cache": (
        dict(ops="write m1+1 value=5; read m1+1"),
        picture("p0: nr_ptes=1 rss=anon:0 file:1",
                "  pmd 0: none",
                "  pmd 1: table [.. F5 .. .. .. .. .. ..]",
                "  pmd 2: none", "  pmd 3: none"),
        [5, 5]),
    "MADV_COLLAPSE of a file table installs a huge pmd": (
        dict(setup="read m1+0", ops="madvise m1+0 pages=8 COLLAPSE; read m1+3"),
        picture("p0: nr_ptes=0 rss=anon:0 file:8",
                "  pmd 0: none",
                "  pmd 1: huge [F1000 F1001 F1002 F1003 F1004 F1005 F1006 F1007]",
                "  pmd 2: none", "  pmd 3: none"),
        [["succeed"], 1003]),
    "MADV_COLLAPSE of an anonymous table installs a huge pmd with the data": (
        dict(setup=THP_DATA, ops="madvise m0+0 pages=8 COLLAPSE; read m0+1; read m0+5; read m0+6"),
        picture("p0: nr_ptes=1 rss=anon:8 file:0",          # the deposited table counts
                "  pmd 0: huge [A7 A8 A0 A0 A0 A9 A0 A0]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [["succeed"], 8, 9, 0]),
    "mprotect to read-only makes a write SIGSEGV; back to read-write, it writes": (
        dict(setup="write m0+0 value=7",
             ops="mprotect m0 ro; write m0+0 value=1; read m0+0; mprotect m0 rw; "
                 "write m0+0 value=2; read m0+0"),
        picture("p0: nr_ptes=1 rss=anon:1 file:0",
                "  pmd 0: table [A2 .. .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0, "segv", 7, 0, 2, 2]),
    "UFFDIO_WRITEPROTECT makes a write trap (SIGBUS: no handler) until resolved": (
        dict(setup="write m0+0 value=7; uffd_register m0 wp",
             ops="uffd_writeprotect m0+0 pages=8 wp; write m0+0 value=1; read m0+0; "
                 "uffd_writeprotect m0+0 pages=8 resolve; write m0+0 value=2"),
        picture("p0: nr_ptes=1 rss=anon:1 file:0",
                "  pmd 0: table [A2 .. .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0, "sigbus", 7, 0, 2]),
    "UFFDIO_WRITEPROTECT of a shared file mapping leaves markers on none ptes": (
        dict(fkind="shared", setup="write m1+0 value=8; uffd_register m1 wp",
             ops="uffd_writeprotect m1+0 pages=8 wp; write m1+3 value=1; read m1+3"),
        picture("p0: nr_ptes=1 rss=anon:0 file:2",
                "  pmd 0: none",
                "  pmd 1: table [F8 mU mU F1003 mU mU mU mU]",   # mU: uffd-wp markers
                "  pmd 2: none", "  pmd 3: none"),
        [0, "sigbus", 1003]),
    "UFFDIO_COPY into a private file mapping installs an anonymous page": (
        dict(fkind="private", setup="read m1+0; uffd_register m1 missing",
             ops="uffd_copy m1+5 value=9; read m1+5; uffd_copy m1+0 value=3",
             config="fault_around=off"),
        picture("p0: nr_ptes=1 rss=anon:1 file:1",
                "  pmd 0: none",
                "  pmd 1: table [F1000 .. .. .. .. A9 .. ..]",
                "  pmd 2: none", "  pmd 3: none"),
        [1, 9, "-EEXIST"]),
    "with broadcast TLB flushing, MADV_COLLAPSE installs the same huge pmd": (
        dict(setup=THP_DATA, ops="madvise m0+0 pages=8 COLLAPSE; read m0+1",
             config="tlb_flush=broadcast"),
        picture("p0: nr_ptes=1 rss=anon:8 file:0",
                "  pmd 0: huge [A7 A8 A0 A0 A0 A9 A0 A0]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [["succeed"], 8]),
    "with broadcast TLB flushing, MADV_DONTNEED of the huge pmd frees it and its table": (
        dict(setup=THP, ops="madvise m0+0 pages=8 DONTNEED; read m0+1",
             config="tlb_flush=broadcast"),
        picture("p0: nr_ptes=1 rss=anon:0 file:0",
                "  pmd 0: table [.. Z0 .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0, 0]),
    "MADV_DONTNEED of one page splits an anonymous huge pmd into its deposited table": (
        dict(setup=THP, ops="madvise m0+1 pages=1 DONTNEED; read m0+0; read m0+5"),
        picture("p0: nr_ptes=1 rss=anon:7 file:0",
                "  pmd 0: table [A7 .. A0 A0 A0 A9 A0 A0]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [0, 7, 9]),
    "UFFDIO_MOVE of a whole anonymous huge pmd moves it and its table": (
        dict(setup=THP + "; m2 = mmap p0 anon pages=8; uffd_register m0 missing;"
             "uffd_register m2 missing",
             ops="uffd_move m2+0 m0+0 pages=8; read m2+0; read m2+5; read m2+6; munmap m2"),
        picture("p0: nr_ptes=0 rss=anon:0 file:0",
                "  pmd 0: none", "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [8, 7, 9, 0, 0]),
    "UFFDIO_MOVE of part of an anonymous huge pmd splits it (the folio stays: -EBUSY)": (
        dict(setup=THP + "; m2 = mmap p0 anon pages=8; uffd_register m0 missing;"
             "uffd_register m2 missing",
             ops="uffd_move m2+0 m0+0 pages=1; read m0+0"),
        picture("p0: nr_ptes=2 rss=anon:8 file:0",
                "  pmd 0: table [A7 A8 A0 A0 A0 A9 A0 A0]",
                "  pmd 1: none",
                "  pmd 2: table [.. .. .. .. .. .. .. ..]",
                "  pmd 3: none"),
        ["-EBUSY", 7]),
    "mremap moves an anonymous huge pmd whole; the data follows": (
        dict(setup=THP, ops="mremap m0 to=16; read m0+0; read m0+5; write m0+6 value=4"),
        picture("p0: nr_ptes=1 rss=anon:8 file:0",
                "  pmd 0: none", "  pmd 1: none",
                "  pmd 2: huge [A7 A8 A0 A0 A0 A9 A4 A0]",
                "  pmd 3: none"),
        [16, 7, 9, 4]),
    "a moved anonymous huge pmd splits into the table that moved with it": (
        dict(setup=THP, ops="mremap m0 to=16; madvise m0+0 pages=1 DONTNEED; read m0+5"),
        picture("p0: nr_ptes=1 rss=anon:7 file:0",
                "  pmd 0: none", "  pmd 1: none",
                "  pmd 2: table [.. A8 A0 A0 A0 A9 A0 A0]",
                "  pmd 3: none"),
        [16, 0, 9]),
    "mremap moves a file huge pmd whole": (
        dict(setup="read m1+0; madvise m1+0 pages=8 COLLAPSE", ops="mremap m1 to=24; read m1+3"),
        picture("p0: nr_ptes=0 rss=anon:0 file:8",
                "  pmd 0: none", "  pmd 1: none", "  pmd 2: none",
                "  pmd 3: huge [F1000 F1001 F1002 F1003 F1004 F1005 F1006 F1007]"),
        [24, 1003]),
    "munmap of the last mappings frees every table": (
        dict(setup="write m0+0 value=7; read m1+0", ops="munmap m0; munmap m1"),
        picture("p0: nr_ptes=0 rss=anon:0 file:0", "  no pmd table"),
        [0, 0]),
    "pagemap shows the present pages": (
        dict(setup="write m0+0 value=7; write m0+6 value=8", ops="pagemap_read m0+0 pages=8"),
        picture("p0: nr_ptes=1 rss=anon:2 file:0",
                "  pmd 0: table [A7 .. .. .. .. .. A8 ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        ["p.....p."]),
    "GUP-fast pins present pages only": (
        dict(setup="write m0+0 value=7", ops="gup_fast m0+0 pages=2; unpin"),
        picture("p0: nr_ptes=1 rss=anon:1 file:0",
                "  pmd 0: table [A7 .. .. .. .. .. .. ..]",
                "  pmd 1: none", "  pmd 2: none", "  pmd 3: none"),
        [1, 1]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_single_thread_path(name):
    kwargs, expected_picture, expected_results = CASES[name]
    pic, results = run(**kwargs)
    assert pic == expected_picture
    assert results == expected_results


def test_uffd_move_moves_the_page():
    text = """kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  m1 = mmap p0 anon pages=8
  write m0+2 value=7
  uffd_register m0 missing
  uffd_register m1 missing
}
T0 on p0 {
  uffd_move m1+5 m0+2 pages=1
  read m1+5
  read m0+2
}
"""
    out = run_program(loads(text))
    assert out.title == "pass"
    assert out.results["T0"] == [1, 7, "sigbus"]
    assert out.pictures["p0"].splitlines()[1:3] == [
        "  pmd 0: table [.. .. .. .. .. .. .. ..]",
        "  pmd 1: table [.. .. .. .. .. A7 .. ..]"]


def test_exit_tears_the_mm_down_before_the_teardown():
    text = """kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  write m0+0 value=7
}
T0 on p0 {
  exit
}
"""
    out = run_program(loads(text))
    assert out.title == "pass"
    assert out.pictures == {}
    assert "T0@exit_mmap:mmap_read_lock" in set(out.trace.lines())


def run_text(text):
    out = run_program(loads(text))
    assert out.title == "pass", out.report and out.report.format()
    return out


def test_mremap_moves_the_data_and_the_old_range_is_gone():
    out = run_text("""kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  m1 = mmap p0 anon pages=4
  write m0+1 value=3
  write m0+6 value=4
  write m1+2 value=5
}
T0 on p0 {
  mremap m0 to=24
  read m0+1
  read m0+6
  mremap m1
  read m1+2
}
""")
    # m0 moved a whole table by its pmd (move_normal_pmd); m1 moved pte by pte
    # (move_ptes) into the range m0 left.
    assert out.results["T0"] == [24, 3, 4, 0, 5]
    assert out.pictures["p0"] == picture(
        "p0: nr_ptes=2 rss=anon:3 file:0",
        "  pmd 0: table [.. .. A5 .. .. .. .. ..]",
        "  pmd 1: none", "  pmd 2: none",
        "  pmd 3: table [.. A3 .. .. .. .. A4 ..]")
    sites = out.trace.sites()
    assert "move_normal_pmd:pmd_populate" in sites and "move_ptes:set_ptes" in sites


def test_mremap_old_address_faults():
    text = """kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  write m0+1 value=3
}
T0 on p0 {
  mremap m0 to=16
}
"""
    out = run_text(text)
    assert out.results["T0"] == [16]
    assert out.pictures["p0"].splitlines()[1:4] == [
        "  pmd 0: none", "  pmd 1: none", "  pmd 2: table [.. A3 .. .. .. .. .. ..]"]


def test_uffd_copy_fills_missing_pages_and_refuses_present_ones():
    out = run_text("""kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  uffd_register m0 missing
}
T0 on p0 {
  uffd_copy m0+2 pages=2 value=42
  read m0+3
  uffd_copy m0+2 pages=1 value=5
  read m0+1
}
""")
    assert out.results["T0"] == [2, 42, "-EEXIST", "sigbus"]
    assert out.pictures["p0"].splitlines()[1] == "  pmd 0: table [.. .. A42 A42 .. .. .. ..]"


def test_madvise_free_cleans_the_ptes_and_keeps_the_data():
    out = run_text("""kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  write m0+0 value=3
  write m0+1 value=4
}
T0 on p0 {
  madvise m0+0 pages=8 FREE
  read m0+1
  write m0+0 value=9
}
""")
    assert out.results["T0"] == [0, 4, 9]
    assert out.pictures["p0"].splitlines()[1] == "  pmd 0: table [A9 A4 .. .. .. .. .. ..]"
    assert "madvise_free_pte_range:folio_mark_lazyfree" in out.trace.sites()


def test_faults_take_the_vma_lock_or_the_mmap_lock():
    text = """kprog 1
{config}
setup {{
  p0 = process
  m0 = mmap p0 anon pages=8
}}
T0 on p0 {{
  write m0+0 value=1
  write m0+1 value=2
}}
"""
    with_vma = run_text(text.format(config=""))
    lines = [line for line in with_vma.trace.lines() if line.startswith("T0@")]
    # The first fault needs an anon_vma: it takes the mmap lock with a trylock; the
    # second runs under the VMA lock alone.
    assert "T0@vmf_anon_prepare:mmap_read_trylock" in lines
    assert "T0@lock_mm_and_find_vma:mmap_read_lock" not in lines
    without = run_text(text.format(config="config: per_vma_lock=off per_vma_lock_madvise=off"))
    lines = [line for line in without.trace.lines() if line.startswith("T0@")]
    assert "T0@lock_vma_under_rcu:rcu_read_lock" not in lines
    assert lines.count("T0@lock_mm_and_find_vma:mmap_read_lock") == 2


def test_reclaim_swaps_out_and_the_fault_swaps_back_in():
    out = run_text("""kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  write m0+0 value=3
  write m0+1 value=4
  madvise m0+1 pages=1 FREE
}
K0 kthread {
  reclaim m0+0
  reclaim m0+0
  reclaim m0+1
}
T0 on p0 {
  pagemap_read m0+0 pages=2
  read m0+0
  read m0+1
}
schedule {
  K0 finish
  *
}
""")
    # m0+0 was accessed: the first look only clears its accessed bit; the second swaps
    # it out; the fault reads it back. m0+1 is lazyfree and clean: discarded, reads zero.
    assert out.results["K0"] == ["referenced", "reclaimed", "reclaimed"]
    assert out.results["T0"] == ["..", 3, 0]
    assert out.pictures["p0"].splitlines()[:2] == [
        "p0: nr_ptes=1 rss=anon:1 file:0", "  pmd 0: table [A3 Z0 .. .. .. .. .. ..]"]
    assert {"try_to_unmap_one:set_pte_at_swap_entry", "pageout:swap_writepage",
            "do_swap_page:swap_read_folio"} <= out.trace.sites()


def test_swap_entries_are_accounted_until_zapped():
    out = run_text("""kprog 1
setup {
  p0 = process
  m0 = mmap p0 anon pages=8
  write m0+0 value=3
}
K0 kthread {
  reclaim m0+0
  reclaim m0+0
}
T0 on p0 {
  pagemap_read m0+0 pages=1
}
schedule {
  K0 finish
  *
}
""")
    assert out.results["T0"] == ["."]
    assert out.pictures["p0"].splitlines()[:2] == [
        "p0: nr_ptes=1 rss=anon:0 file:0 swap:1", "  pmd 0: table [S3 .. .. .. .. .. .. ..]"]
