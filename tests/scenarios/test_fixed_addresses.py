"""Fixed addresses (``@m0+3``: where a mapping's page was first mapped; ``@12``: a page
number): after mremap or munmap they name the old range, so a user access there after the
syscall returned goes through whatever the CPU's TLB still holds. On the fixed model it
faults (SIGSEGV); with a TLB flush that reaches only the flushing CPU (a broken variant,
tests/quality/broken_variants.py) the access uses the stale entry, and the data oracle
reports it."""

import pytest

from core.program.kprog import KprogError, loads

from ..quality.broken_variants import apply
from .helpers import kprog, raced, run

OLD_RANGE = """
    kprog 1
    # T0 reads m0+3 (its TLB keeps the translation); T1 moves m0 (mremap) or unmaps it;
    # then T0 reads and writes the old address, @m0+3.
    setup {
      p0 = process
      m0 = mmap p0 anon pages=8
      write m0+3 value=7
    }
    T0 on p0 {
      read m0+3
      write @m0+3 value=9
      read @m0+3
    }
    T1 on p0 {
      OP
    }
    schedule {
      T0 until user_write:store
      T1 finish
      T0 finish
      *
    }
"""


@pytest.mark.parametrize("op", ["mremap m0", "munmap m0"])
def test_the_old_range_faults_after_the_syscall_returned(op):
    o = raced(OLD_RANGE.replace("OP", op))
    assert o.results["T0"] == [7, "segv", "segv"]


@pytest.mark.parametrize("op, title", [
    ("mremap m0", "BUG: lost write: store through a TLB entry the unmap should have flushed"),
    # munmap frees the page after its (broken) flush: the stale entry reaches freed memory.
    ("munmap m0", "BUG: KASAN: use-after-free via stale TLB in user_write")])
def test_a_flush_that_misses_a_cpu_is_reported(monkeypatch, op, title):
    apply("flush-this-cpu-only", monkeypatch)
    o = run(OLD_RANGE.replace("OP", op))
    assert o.title == title and o.drift is None


def test_fixed_addresses_round_trip_and_are_checked():
    text = kprog("""
        kprog 1
        setup {
          p0 = process
          m0 = mmap p0 anon pages=8
        }
        T0 on p0 {
          read @m0+3
          write @31 value=2
        }
    """)
    program = loads(text)
    assert [op.text() for op in program.threads[0].ops] == ["read @m0+3", "write @31 value=2"]
    with pytest.raises(KprogError, match=r"page 32 is past the end of the address space "
                                           r"\(32 pages\)"):
        loads(text.replace("@31", "@32"))
    with pytest.raises(KprogError, match="a fixed address"):
        loads(text.replace("read @m0+3", "madvise @m0+0 pages=8 DONTNEED"))
    with pytest.raises(KprogError, match="unknown mapping m9"):
        loads(text.replace("@m0+3", "@m9+3"))
