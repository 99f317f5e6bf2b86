"""The machine-wide memory-management state: processes, files, per-CPU TLBs.

Kept on ``kernel.world``. Per-CPU state (the TLB and paging-structure cache, the batched
unmap flush of ``try_to_unmap``) lives in each CPU's ``ctx.data``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..kernel import ALLOCATED
from .types import File, Folio, Mm

if TYPE_CHECKING:
    from ..kernel.context import Ctx, Kernel

__all__ = ["World", "Process", "Tlb", "world", "tlb_of"]


class Process:
    """A user process: a name and its mm. Its threads are the program's threads that run
    ``on`` it; ``mm.mm_users`` counts them (and temporary ``mmget`` references)."""

    __slots__ = ("name", "mm", "pid", "task_mm", "threads")

    def __init__(self, name: str, mm: Mm, pid: int) -> None:
        self.name = name
        self.mm = mm
        self.pid = pid
        self.task_mm = mm          # task->mm: None once the last thread has exited
        self.threads = 0


class Tlb:
    """One CPU's TLB: translations (mm, vpn) -> (folio, page, writable, dirty), and the
    paging-structure cache (mm, pmd index) -> PTE table (x86 caches non-leaf entries, so
    a later walk may start from a cached table without reading the pmd)."""

    __slots__ = ("entries", "psc")

    def __init__(self) -> None:
        self.entries: dict = {}
        self.psc: dict = {}

    def flush_range(self, mm: Mm, start: int, end: int, ptrs_per_pte: int) -> None:
        """INVLPG over [start, end): translations and the paging-structure cache entries
        for those addresses."""
        key = mm.oid
        for vpn in range(start, end):
            self.entries.pop((key, vpn), None)
        for pmdi in range(start // ptrs_per_pte, (end - 1) // ptrs_per_pte + 1):
            self.psc.pop((key, pmdi), None)

    def flush_mm(self, mm: Mm) -> None:
        key = mm.oid
        self.entries = {k: v for k, v in self.entries.items() if k[0] != key}
        self.psc = {k: v for k, v in self.psc.items() if k[0] != key}


def tlb_of(ctx: Ctx) -> Tlb:
    """Model only: model machinery, mirrors no kernel function."""
    t = ctx.data.get("tlb")
    if t is None:
        t = ctx.data["tlb"] = Tlb()
    return t


class World:
    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.processes: dict[str, Process] = {}
        self.files: dict[str, File] = {}
        self.zero_folio = Folio(1, anon=False)
        self.zero_folio.zero = True
        self.zero_folio.kstate = ALLOCATED      # the shared zero page: never freed
        self.next_pid = 1


def world(ctx: Ctx) -> World:
    """Model only: model machinery, mirrors no kernel function."""
    return ctx.kernel.world
