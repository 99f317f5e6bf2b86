"""Page-table lock order by level: a PMD table's lock (``pml``) nests outside the locks
of the PTE tables it maps (``ptl``), as every kernel path that takes both does
(``pmd_lock`` then ``spin_lock_nested(ptl)``). Lockdep cannot check it: both are one
lock class (``ptlock``), told apart only by a nesting annotation. The model knows which
table a split lock guards, so a CPU that takes a PMD table's lock while it holds a lock
of a PTE table of the same mm is reported at once, with where each was taken, as the
possible deadlock it is (another CPU taking them in the documented order would wait for
this one forever), even when no deadlock happens in the run.

A trylock cannot deadlock and is not reported (lockdep's rule). Without split locks both
are ``mm->page_table_lock``: taking it twice is lockdep's recursion report instead.
"""

from __future__ import annotations

from ..mm.types import PmdTable, Ptlock, PteTable
from ..sim import KernelReport, Report

__all__ = ["install"]

TITLE = "WARNING: possible circular locking dependency detected (pte lock before pmd lock)"


def _table(lock):
    mem = lock.mem
    if isinstance(mem, Ptlock):
        mem = mem.table
    return mem if isinstance(mem, (PteTable, PmdTable)) else None


def install(kernel) -> None:
    def acquire(ctx, lock, subclass, site, mode, trylock):
        if trylock:
            return
        pmd = _table(lock)
        if type(pmd) is not PmdTable:
            return
        for h in ctx.held:
            pte = _table(h.lock)
            if type(pte) is PteTable and pte.mm is pmd.mm:
                r = Report(TITLE, "lockdep", thread=ctx.name, site=site.name)
                r.add("held", f"{h.lock.name} ({h.mode}) taken at {h.site.name}")
                r.add("taking", f"{lock.name} at {site.name}")
                r.add("order", "pml (the PMD table's lock) must be taken before ptl (a "
                               "PTE table's lock): pmd_lock, then spin_lock_nested")
                raise KernelReport(r)

    kernel.hooks.acquire.append(acquire)
