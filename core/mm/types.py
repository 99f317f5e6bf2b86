"""The objects of the page-table model: entries, tables, folios, VMAs, mms and files.

Addresses are page numbers (``vpn``) in a small configurable geometry: one PMD table per
mm with ``ptrs_per_pmd`` entries, each covering ``ptrs_per_pte`` pages (one PTE table).
"PMD_SIZE" is ``ptrs_per_pte`` pages. The PGD, P4D and PUD levels are folded into the mm's
single PUD entry (``mm.pud``), which points to the PMD table once it is allocated.

Entry values are immutable, so ``pte_same``/``pmd_same`` compare values, as the kernel
compares words:

* a PTE is ``None`` (pte_none), a :class:`Pte` (present: folio, page, write/dirty/young,
  special for the zero page) or a :class:`PteMarker` (uffd-wp or guard marker);
* a PMD is ``None`` (pmd_none), a :class:`PteTable` (points to a table: the value *is* the
  table reference), a :class:`HugePmd` (maps a PMD-order folio), or ``PMD_MIGRATION`` /
  ``PMD_BAD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..kernel import KObject, RwSem, Spinlock, lock_class
from ..kernel.sleeplock import SleepLock
from ..sim import WaitQueue

__all__ = [
    "Pte", "PteMarker", "SwapPte", "SwapSlot", "MM_SWAPENTS", "UFFD_WP_MARKER",
    "GUARD_MARKER", "HugePmd", "PMD_MIGRATION", "PMD_SPLITTING",
    "PMD_BAD", "pmd_same", "Folio", "Ptlock", "PteTable", "PmdTable",
    "Vma", "AnonVma", "Mm", "File", "GatherBatch", "TableBatch", "MM_ANONPAGES",
    "MM_FILEPAGES", "PTLOCK_CLASS", "PAGE_TABLE_LOCK_CLASS",
]

PTLOCK_CLASS = lock_class("ptlock")                    # ptlock_init: one key for all split locks
PAGE_TABLE_LOCK_CLASS = lock_class("mm->page_table_lock")
MMAP_LOCK_CLASS = lock_class("mm->mmap_lock")
I_MMAP_CLASS = lock_class("mapping->i_mmap_rwsem")
ANON_VMA_CLASS = lock_class("anon_vma->rwsem")
FOLIO_LOCK_CLASS = lock_class("folio_lock", nests=True)
VM_LOCK_CLASS = lock_class("vma->vm_lock", nests=True)
I_PAGES_CLASS = lock_class("mapping->i_pages")

MM_ANONPAGES, MM_FILEPAGES, MM_SWAPENTS = "MM_ANONPAGES", "MM_FILEPAGES", "MM_SWAPENTS"


@dataclass(frozen=True, slots=True)
class Pte:
    """A present PTE mapping page ``page`` of ``folio``."""

    folio: Folio
    page: int
    write: bool = False
    dirty: bool = False
    young: bool = True
    special: bool = False           # the zero page (pte_special): no refcount, no rmap
    uffd_wp: bool = False           # _PAGE_UFFD_WP: write-protected for userfaultfd

    def describe(self) -> str:
        bits = "".join(b for b, on in (("W", self.write), ("D", self.dirty), ("A", self.young),
                                       ("S", self.special), ("U", self.uffd_wp)) if on)
        return f"{self.folio.kind}#{self.folio.oid}[{self.page}]{bits and ' ' + bits}"


@dataclass(frozen=True, slots=True)
class PteMarker:
    """A non-present marker entry (``pte_marker``): it keeps a table non-empty."""

    kind: str                       # "uffd-wp" or "guard"

    def describe(self) -> str:
        return f"marker:{self.kind}"


@dataclass(frozen=True, slots=True)
class SwapPte:
    """A swap entry: the page lives in swap slot ``slot`` (and maybe still in the swap
    cache, as ``slot.folio``)."""

    slot: SwapSlot

    def describe(self) -> str:
        return f"swap slot #{self.slot.oid}"


class SwapSlot(KObject):
    """One swap slot: the page's data once written out, and the swap-cache folio while
    there is one. Freed by ``swap_free`` when the last swap entry goes."""

    __slots__ = ("data", "folio", "count", "has_cache", "waitq")
    kind = "swap slot"

    def __init__(self, folio: Folio) -> None:
        super().__init__()
        self.data: Any = None        # the page written out
        self.folio: Folio | None = folio
        self.count = 0               # swap entries (ptes) that refer to it
        self.has_cache = False       # SWAP_HAS_CACHE held by a swap-in skipping the cache
        # swapcache_wq, where a swap-in that lost the claim sleeps (the kernel's queue is
        # global; one per slot wakes the same waiters that matter).
        self.waitq = WaitQueue(f"swapcache_wq of slot #{self.oid}")


UFFD_WP_MARKER = PteMarker("uffd-wp")
GUARD_MARKER = PteMarker("guard")


@dataclass(frozen=True, slots=True)
class HugePmd:
    """A PMD leaf mapping a PMD-order folio."""

    folio: Folio
    write: bool = False

    def describe(self) -> str:
        return f"huge {self.folio.kind}#{self.folio.oid}"


class _PmdSpecial:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


PMD_MIGRATION = _PmdSpecial("pmd-migration")
PMD_SPLITTING = _PmdSpecial("pmd-splitting")   # pmdp_invalidate()d: huge but not present
PMD_BAD = _PmdSpecial("pmd-bad")


def pmd_same(a, b) -> bool:
    """include/linux/pgtable.h ``pmd_same``.

    pmd_same(): the same word. A table pmd is the table reference itself."""
    return a is b or (type(a) is HugePmd and a == b)


class Folio(KObject):
    """A folio: refcount, mapcount (all mappings of all its pages), the folio lock, its
    order and its contents (one value per page, for the data oracle)."""

    __slots__ = ("npages", "anon", "mapping", "index", "refcount", "mapcount", "lock",
                 "data", "pincount", "lazyfree", "uptodate", "zero", "swap", "anon_vma",
                 "dirty")
    kind = "folio"
    slab = False

    def __init__(self, npages: int, anon: bool, data=None) -> None:
        super().__init__()
        self.npages = npages
        self.anon = anon
        self.mapping: File | None = None   # for page-cache folios
        self.index = 0               # page-cache index of the first page
        self.refcount = 1
        self.mapcount = 0
        self.pincount = 0
        self.lock = SleepLock("folio lock", FOLIO_LOCK_CLASS, self)
        self.data = list(data) if data is not None else [0] * npages
        self.lazyfree = False
        self.uptodate = True
        self.zero = False
        self.swap: SwapSlot | None = None  # the swap slot while in the swap cache
        self.anon_vma: AnonVma | None = None  # folio->mapping of an anonymous folio
        self.dirty = False           # PG_dirty: set from a dirty pte at unmap, cleared
                                     # by MADV_FREE (the model has no writeback)

    def describe(self) -> str:
        what = "anon" if self.anon else (f"file {self.mapping.name}@{self.index}"
                                         if self.mapping is not None else "file (truncated)")
        return (f"folio #{self.oid} ({self.kstate}, {what}, order-{self.npages.bit_length() - 1},"
                f" refcount {self.refcount}, mapcount {self.mapcount})")


class Ptlock(KObject):
    """A separately allocated split page-table lock (ALLOC_SPLIT_PTLOCKS)."""

    __slots__ = ("spin", "table")
    kind = "ptlock"
    slab = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spin = Spinlock(name, PTLOCK_CLASS, self)
        self.table: _Table | None = None     # the table it locks (for checkers)


class _Table(KObject):
    __slots__ = ("slots", "ptl", "ptlock", "mm", "where")
    slab = False

    def __init__(self, n: int, mm: Mm) -> None:
        super().__init__()
        self.slots: list[Any] = [None] * n
        self.ptl: Spinlock | None = None
        self.ptlock: Ptlock | None = None
        self.mm = mm
        self.where: int | None = None  # pmd index while installed (for reports)


class PteTable(_Table):
    """A PTE table page; ``ptl`` is its split lock (embedded in the ptdesc, or the lock of
    a separately allocated :class:`Ptlock`), or the mm's page_table_lock without split
    locks. ``life`` follows kernel-paths §0.2."""

    __slots__ = ("life",)
    kind = "pte table"

    def __init__(self, n: int, mm: Mm) -> None:
        super().__init__(n, mm)
        self.life = "allocated"

    def describe(self) -> str:
        return f"pte table #{self.oid} ({self.kstate}, {self.life})"


class PmdTable(_Table):
    """A PMD table; ``deposit`` holds, per pmd index, the PTE table deposited under an
    anonymous huge pmd (``pgtable_trans_huge_deposit``: it lives in the PMD table's
    ptdesc, protected by the pmd lock)."""

    __slots__ = ("deposit",)
    kind = "pmd table"

    def __init__(self, n: int, mm: Mm) -> None:
        super().__init__(n, mm)
        self.deposit: dict[int, PteTable] = {}


class AnonVma(KObject):
    """An anon_vma: its rwsem, the VMAs linked to it (the interval tree) and its
    refcount (one for the VMAs, one per pinning rmap walker)."""

    __slots__ = ("rwsem", "vmas", "refcount")
    kind = "anon_vma"

    def __init__(self) -> None:
        super().__init__()
        self.rwsem = RwSem("anon_vma->rwsem", ANON_VMA_CLASS, self)
        self.vmas: list = []
        self.refcount = 1


class Vma(KObject):
    """A VMA: [start, end) in pages, file and pgoff, private/shared, uffd modes."""

    __slots__ = ("mm", "start", "end", "file", "pgoff", "shared", "anon_vma", "uffd_missing",
                 "uffd_wp", "hugepage", "detached", "name", "writable", "vm_lock",
                 "vm_lock_seq")
    kind = "vm_area_struct"

    def __init__(self, mm: Mm, start: int, end: int, file=None, pgoff: int = 0,
                 shared: bool = False, uffd_missing: bool = False, uffd_wp: bool = False,
                 hugepage: bool = True, name: str = "") -> None:
        super().__init__()
        self.mm = mm
        self.start = start
        self.end = end
        self.file = file
        self.pgoff = pgoff
        self.shared = shared
        self.anon_vma: AnonVma | None = None
        self.uffd_missing = uffd_missing
        self.uffd_wp = uffd_wp
        self.hugepage = hugepage
        self.detached = False
        self.name = name
        self.writable = True
        self.vm_lock = RwSem(f"vma {name or 'anon'}->vm_lock", VM_LOCK_CLASS, self)
        self.vm_lock_seq = -1        # == mm.mm_lock_seq while write-locked

    @property
    def anonymous(self) -> bool:
        return self.file is None

    @property
    def uffd_armed(self) -> bool:
        return self.uffd_missing or self.uffd_wp

    def page_index(self, vpn: int) -> int:
        """linear_page_index(): the file index mapped at ``vpn``."""
        return self.pgoff + (vpn - self.start)

    def describe(self) -> str:
        if self.file is None:
            kind = "anon"
        else:
            kind = ("shared " if self.shared else "private ") + self.file.name
        return f"vma {self.name or '#' + str(self.oid)} [{self.start}, {self.end}) {kind}"


class Mm(KObject):
    """An mm_struct. ``pud`` is the folded PGD/P4D/PUD entry: the PMD table or None."""

    __slots__ = ("name", "pud", "nr_ptes", "nr_pmds", "rss", "mmap_lock", "page_table_lock",
                 "vmas", "mm_users", "mm_count", "oom_skip", "tlb_flush_pending",
                 "tlb_flush_batched", "exited", "pid", "mm_lock_seq")
    kind = "mm_struct"

    def __init__(self, name: str, pid: int) -> None:
        super().__init__()
        self.name = name
        self.pid = pid
        self.pud: PmdTable | None = None
        self.nr_ptes = 0
        self.nr_pmds = 0
        self.rss = {MM_ANONPAGES: 0, MM_FILEPAGES: 0, MM_SWAPENTS: 0}
        self.mmap_lock = RwSem(f"{name}->mmap_lock", MMAP_LOCK_CLASS, self)
        self.page_table_lock = Spinlock(f"{name}->page_table_lock", PAGE_TABLE_LOCK_CLASS, self)
        self.vmas: list[Vma] = []
        self.mm_users = 0
        self.mm_count = 0
        self.oom_skip = False
        self.tlb_flush_pending = 0
        self.tlb_flush_batched = (0, 0)    # (pending, flushed) deferred flushes
        self.exited = False
        self.mm_lock_seq = 0

    def find_vma(self, vpn: int) -> Vma | None:
        """vma_lookup(): the VMA containing ``vpn`` (the caller holds a lock that keeps
        the VMA tree stable)."""
        for v in self.vmas:
            if v.start <= vpn < v.end:
                return v
        return None


class File(KObject):
    """A file's address_space (tmpfs-like): page cache, i_mmap and its rwsem. Files live
    for the whole run; ``contents`` is what the user should read (the data oracle keeps
    its own copy)."""

    __slots__ = ("name", "npages", "page_cache", "i_mmap", "i_mmap_rwsem", "i_pages_lock",
                 "seed")
    kind = "file"

    def __init__(self, name: str, npages: int, seed: int) -> None:
        super().__init__()
        self.name = name
        self.npages = npages
        self.seed = seed
        self.page_cache: dict[int, Folio] = {}
        self.i_mmap: list[Vma] = []
        self.i_mmap_rwsem = RwSem(f"{name}->i_mmap_rwsem", I_MMAP_CLASS, self)
        self.i_pages_lock = Spinlock(f"{name}->i_pages", I_PAGES_CLASS, self)

    def initial(self, index: int) -> int:
        """The file's contents before anybody writes: distinct per file and page."""
        return 1000 * self.seed + index


class GatherBatch(KObject):
    """An mmu_gather page batch beyond the on-stack one (``__get_free_page(GFP_NOWAIT)``)."""

    __slots__ = ()
    kind = "mmu_gather batch"
    slab = False


class TableBatch(KObject):
    """An mmu_table_batch page: tables waiting for one RCU callback."""

    __slots__ = ("tables",)
    kind = "mmu_table_batch"
    slab = False

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[PteTable] = []


# The lock order of mm/rmap.c's comment (outermost first), the part this model takes:
# mmap_lock > folio_lock > vma_start_write > i_mmap_rwsem > anon_vma->rwsem >
# page_table_lock or pte lock > ... > i_pages lock. Two chains, because page_table_lock
# and the split pte locks are alternatives at the same level.
# vma_start_write is left out: faults hold the VMA *read* lock while they lock folios,
# and lockdep does not see folio locks in the kernel, so "folio_lock > vma_start_write"
# is a statement about the write side only; mmap_lock -> vm_lock is observed anyway.
LOCK_ORDER = (
    ("mm->mmap_lock", "folio_lock", "mapping->i_mmap_rwsem", "anon_vma->rwsem", "ptlock",
     "mapping->i_pages"),
    ("mm->mmap_lock", "folio_lock", "mapping->i_mmap_rwsem", "anon_vma->rwsem",
     "mm->page_table_lock", "mapping->i_pages"),
)
LOCK_ORDER_SOURCE = "documented order (mm/rmap.c)"
