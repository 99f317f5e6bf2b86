"""Folios: allocation, references, locks, rmap counts and the mm's rss counters.

Kernel files: mm/swap.c (``folio_put``), mm/page_alloc.c (``free_pages_prepare``'s
"Bad page state" check), include/linux/mm.h (``folio_get``, ``folio_try_get``), mm/rmap.c
(``folio_add_new_anon_rmap``, ``folio_add_file_rmap_ptes``/``_pmd``,
``folio_remove_rmap_ptes``/``_pmd``), mm/filemap.c (``folio_lock``, ``folio_trylock``,
``folio_unlock``), include/linux/mm.h (``add_mm_counter``).

Simplified: mapcount is one counter per folio (the kernel keeps per-page and large-folio
counts); no LRU, memcg or swap cache; the refcount is an atomic word accessed in one step.

The folio's metadata (refcount, mapcount, lock: ``struct page`` fields) stays addressable
after the folio is freed, as in the kernel, where lookups take speculative references
(``folio_try_get`` fails on a zero refcount); only the folio's contents are shadow-checked.
A reference dropped once too often is a "Bad page state".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import sleep_lock, sleep_trylock, sleep_unlock
from ..sim import KernelReport, Report
from .types import MM_ANONPAGES, MM_FILEPAGES, Folio

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen, Site
    from .types import Mm, Vma

__all__ = ["folio_alloc", "folio_get", "folio_try_get", "folio_put", "folio_put_now",
           "folio_lock", "folio_trylock", "folio_unlock", "folio_add_rmap",
           "folio_add_new_anon_rmap", "folio_move_anon_rmap",
           "folio_remove_rmap", "add_mm_counter", "mm_counter"]


def folio_alloc(ctx: Ctx, npages: int, anon: bool, site: Site, data=None) -> KGen[Any]:
    """include/linux/highmem.h ``vma_alloc_zeroed_movable_folio``.

    Allocate a folio with one reference (``vma_alloc_zeroed_movable_folio``)."""
    folio = yield from ctx.kernel.alloc.alloc(ctx, Folio(npages, anon, data), site)
    return folio


def folio_get(ctx: Ctx, folio: Folio, site: Site) -> KGen[None]:
    """include/linux/mm.h ``folio_get``."""
    yield site
    folio.refcount += 1


def folio_try_get(ctx: Ctx, folio: Folio, site: Site) -> KGen[bool]:
    """include/linux/page_ref.h ``folio_try_get``.

    ``folio_try_get``: take a reference unless the folio is already being freed."""
    yield site
    if folio.refcount <= 0:
        return False
    folio.refcount += 1
    return True


def folio_put(ctx: Ctx, folio: Folio, site: Site, refs: int = 1) -> KGen[None]:
    """include/linux/mm.h ``folio_put``.

    Drop references; the last one frees the folio."""
    yield site
    folio_put_now(ctx, folio, site, refs)


def folio_put_now(ctx: Ctx, folio: Folio, site: Site, refs: int = 1) -> None:
    """The body of ``folio_put`` for a caller that already yielded at ``site``."""
    if folio.zero:
        return
    folio.refcount -= refs
    if folio.refcount == 0:
        if folio.mapcount != 0 or folio.pincount != 0:
            r = Report(f"BUG: Bad page state in {site.func}", "bad-page")
            r.add("page", folio.describe())
            r.add("reason", "freed while still mapped" if folio.mapcount else
                  "freed while still pinned")
            raise KernelReport(r)
        ctx.kernel.alloc.free_now(ctx, folio, site, Folio)
    elif folio.refcount < 0:
        r = Report(f"BUG: Bad page state in {site.func}", "bad-page")
        r.add("page", folio.describe())
        r.add("reason", "reference count underflow")
        raise KernelReport(r)


def folio_lock(ctx: Ctx, folio: Folio, site: Site) -> KGen[None]:
    """include/linux/pagemap.h ``folio_lock``."""
    yield from sleep_lock(ctx, folio.lock, site)


def folio_trylock(ctx: Ctx, folio: Folio, site: Site) -> KGen[bool]:
    """include/linux/pagemap.h ``folio_trylock``."""
    ok = yield from sleep_trylock(ctx, folio.lock, site)
    return ok


def folio_unlock(ctx: Ctx, folio: Folio, site: Site) -> KGen[None]:
    """mm/filemap.c ``folio_unlock``."""
    yield from sleep_unlock(ctx, folio.lock, site)


def folio_add_rmap(ctx: Ctx, folio: Folio, nr: int = 1) -> None:
    """``folio_add_new_anon_rmap`` / ``folio_add_file_rmap_ptes`` / ``_pmd``: one more
    mapping (the caller holds the PTE or PMD lock and yielded for this step)."""
    if not folio.zero:
        folio.mapcount += nr


def folio_add_new_anon_rmap(ctx: Ctx, folio: Folio, vma: Vma, vpn: int) -> None:
    """mm/rmap.c ``folio_add_new_anon_rmap``.

    ``folio_add_new_anon_rmap``: the first mapping of a new anonymous folio, which now
    belongs to the VMA's anon_vma at its linear index (so rmap can find it)."""
    folio.mapcount += 1
    folio.anon_vma = vma.anon_vma
    folio.index = vma.page_index(vpn)


def folio_move_anon_rmap(folio: Folio, vma: Vma, vpn: int) -> None:
    """mm/rmap.c ``folio_move_anon_rmap``.

    ``folio_move_anon_rmap`` + the index update of UFFDIO_MOVE."""
    folio.anon_vma = vma.anon_vma
    folio.index = vma.page_index(vpn)


def folio_remove_rmap(ctx: Ctx, folio: Folio, site: Site, nr: int = 1) -> None:
    """``folio_remove_rmap_ptes`` / ``_pmd``; a negative mapcount is a bad page map."""
    if folio.zero:
        return
    folio.mapcount -= nr
    if folio.mapcount < 0:
        r = Report(f"BUG: Bad page map in {site.func}", "bad-page-map")
        r.add("page", folio.describe())
        raise KernelReport(r)


def mm_counter(folio: Folio) -> str:
    """include/linux/mm.h ``mm_counter``."""
    return MM_ANONPAGES if folio.anon else MM_FILEPAGES


def add_mm_counter(ctx: Ctx, mm: Mm, counter: str, delta: int) -> None:
    """include/linux/mm.h ``add_mm_counter``.

    ``add_mm_counter`` (percpu counter: no scheduling point of its own; the callers
    update it inside a step that already touches the mm)."""
    mm.rss[counter] += delta
