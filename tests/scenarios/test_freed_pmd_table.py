"""A walker whose PMD table is freed under it (issue 18): the walk reads the pud once
and indexes that table, as ``pmd_offset(pud, addr)`` and ``pmd++`` do, so a table freed
mid-walk is a KASAN use-after-free in the walker, never a model error and never a walk
that silently picks up whatever the pud holds now.

The broken variant (munmap-ignores-neighbours in tests/quality/broken_variants.py):
``free_pgtables`` called with floor and ceiling 0, as if munmap forgot its neighbours, so
unmapping m1 frees the PMD table m0 still uses."""

import pytest

from core.mm.pgtable import pmd_offset
from core.mm.types import Mm
from core.sim import KernelReport, site

from ..quality.broken_variants import apply
from .helpers import raced, reschedule, run, with_config

WALK = """
    kprog 1
    setup {
      p0 = process
      m0 = mmap p0 anon pages=16
      m1 = mmap p0 anon pages=8
      write m0+0 value=7
      write m0+8 value=9
      write m1+0 value=8
    }
    T0 on p0 {
      WALKER
    }
    T1 on p0 {
      munmap m1
    }
    schedule {
      T1 until tlb_gather_mmu:inc_tlb_flush_pending
      T0 until NEXT_PMD x2
      T1 finish
      GRACE_PERIOD
      T0 finish
      *
    }
"""

# Each walker, stopped at its second pmd (the pointer into the PMD table already formed).
WALKERS = {
    "pagemap": ("pagemap_read m0+0 pages=16", "walk_pmd_range:pmd_none",
                "BUG: KASAN: use-after-free Read in walk_pmd_range"),
    "MADV_FREE": ("madvise m0+0 pages=16 FREE", "walk_pmd_range:madvise_free_pmd_none",
                  "BUG: KASAN: use-after-free Read in walk_pmd_range"),
    "MADV_DONTNEED": ("madvise m0+0 pages=16 DONTNEED", "zap_pmd_range:pmd_read",
                      "BUG: KASAN: use-after-free Read in zap_pmd_range"),
}

# With RCU table freeing the table stays valid until a grace period has run its free.
FREEING = {
    "tlb_only": ("table_free=tlb_only pt_reclaim=off", ""),
    "rcu": ("table_free=rcu", "rcu_gp until rcu_gp_kthread:idle\n"
                              "      rcu_cb until tlb_remove_table_rcu:free_page\n"
                              "      rcu_cb until rcu_do_batch:invoke"),
}


def _program(walker: str, freeing: str) -> str:
    op, next_pmd, _ = WALKERS[walker]
    config, grace = FREEING[freeing]
    text = WALK.replace("WALKER", op).replace("NEXT_PMD", next_pmd)
    text = text.replace("      GRACE_PERIOD\n", f"      {grace}\n" if grace else "")
    return with_config(text, config)


@pytest.fixture
def forgetful_munmap(monkeypatch):
    apply("munmap-ignores-neighbours", monkeypatch)


@pytest.mark.parametrize("freeing", sorted(FREEING))
@pytest.mark.parametrize("walker", sorted(WALKERS))
def test_a_walk_over_a_freed_pmd_table_is_a_use_after_free(forgetful_munmap, walker, freeing):
    o = run(_program(walker, freeing))
    assert o.title == WALKERS[walker][2]
    assert o.drift is None, o.drift.message()
    assert o.report.detail("object").startswith("pmd table #")
    assert o.report.detail("allocated by") == "setup at __pmd_alloc:pmd_alloc_one"
    freed_by = {"tlb_only": "T1 at tlb_batch_pages_flush:free_table_page",
                "rcu": "rcu_cb at tlb_remove_table_rcu:__tlb_remove_table"}
    assert o.report.detail("freed by") == freed_by[freeing]


@pytest.mark.parametrize("walker", sorted(WALKERS))
def test_the_fixed_munmap_keeps_the_pmd_table(walker):
    """munmap's floor and ceiling keep the table m0 shares; every order passes."""
    text = _program(walker, "tlb_only")
    for lines in (None, ["T1 finish", "T0 finish"], ["T0 finish", "T1 finish"]):
        o = raced(reschedule(text, lines))
        assert o.results["T1"] == [0]


def test_pmd_offset_on_a_pud_that_went_none_is_an_oops():
    class _Ctx:
        class config:
            ptrs_per_pte = 8
    mm = Mm("p0", 1)
    with pytest.raises(KernelReport) as e:
        pmd_offset(_Ctx, mm, 3, site("test_freed_pmd_table:walk"))
    assert e.value.report.title == "general protection fault in pmd_offset"
