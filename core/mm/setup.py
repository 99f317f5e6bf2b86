"""Building the world before a run, and tearing files down after it.

Files are created fully populated (every page in the page cache, with distinct initial
contents); processes start with an empty mm. These happen before any thread runs, so they
allocate without scheduling points. ``truncate_inode_pages`` runs in the teardown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel import ALLOCATED, spin_lock, spin_unlock
from ..sim import site
from .folio import folio_put_now
from .mmap import mm_alloc
from .types import File, Folio
from .world import Process, World

if TYPE_CHECKING:
    from ..kernel.context import Ctx, Kernel
    from ..sim.traps import KGen

__all__ = ["boot_world", "create_file", "create_process", "truncate_inode_pages"]

S_SETUP_ALLOC = site("setup:page_cache_alloc")


def boot_world(kernel: Kernel) -> World:
    """Model only: model machinery, mirrors no kernel function (setup)."""
    w = World(kernel)
    kernel.world = w
    return w


def create_file(kernel: Kernel, name: str, npages: int) -> File:
    """Model only: model machinery, mirrors no kernel function (setup)."""
    w = kernel.world
    f = File(name, npages, seed=len(w.files) + 1)
    f.kstate = ALLOCATED                      # files outlive the run: not leak-scanned
    for index in range(npages):
        folio = Folio(1, anon=False, data=[f.initial(index)])
        kernel.alloc.register(None, folio, S_SETUP_ALLOC)
        folio.mapping = f
        folio.index = index
        f.page_cache[index] = folio
    w.files[name] = f
    return f


def create_process(kernel: Kernel, name: str) -> Process:
    """Model only: model machinery, mirrors no kernel function (setup)."""
    w = kernel.world
    pid = w.next_pid
    w.next_pid += 1
    p = Process(name, mm_alloc(kernel, name, pid), pid)
    w.processes[name] = p
    return p


S_TRUNCATE_LOCK = site("truncate_inode_pages:xa_lock")
S_TRUNCATE = site("truncate_inode_pages:xas_store")
S_TRUNCATE_UNLOCK = site("truncate_inode_pages:xa_unlock")
S_TRUNCATE_PUT = site("truncate_inode_pages:folio_put")


def truncate_inode_pages(ctx: Ctx, f) -> KGen[None]:
    """Drop every page-cache folio (the page cache holds one reference per page)."""
    while f.page_cache:
        index = min(f.page_cache)
        yield from spin_lock(ctx, f.i_pages_lock, S_TRUNCATE_LOCK)
        yield S_TRUNCATE
        ctx.access(f, S_TRUNCATE, True)
        folio = f.page_cache[index]
        for i in range(folio.index, folio.index + folio.npages):
            f.page_cache.pop(i, None)
        yield from spin_unlock(ctx, f.i_pages_lock, S_TRUNCATE_UNLOCK)
        yield S_TRUNCATE_PUT
        folio.mapping = None
        folio_put_now(ctx, folio, S_TRUNCATE_PUT, folio.npages)
