"""The data oracle: what every user load should return, checked at every load.

It keeps an abstract memory: for each file page its contents, and for each (mm, page)
the private value (anonymous memory or a private file mapping's copy). Model events move
it forward at their linearization points: a store that goes through a translation that
is current (the page tables still map that folio page there, or it is the page-cache
folio of a shared mapping); a pte zapped (the private value is discarded: anonymous
memory reads zero again, a private file page reads the file again); a page moved by
UFFDIO_MOVE; a page filled by UFFDIO_COPY. A load through a current translation must
return the abstract value; loads and stores through stale translations (while an unmap
is still flushing) are ordered before that unmap and are not checked. A store through a
stale translation to a page-cache folio still lands in the file (ordered before the
unmap, it is a store to the file like any other), so it moves the file's value forward.

It also orders accesses against the syscalls that take translations or write permission
away (munmap, MADV_DONTNEED, MADV_FREE, mremap; mprotect to read-only and
UFFDIO_WRITEPROTECT), which announce when they enter and return (a failed one promised
nothing). Their TLB flushes must leave no translation behind: after one returned, an
access through a TLB entry filled before it began, to a page it covered, is a report:
a "stale read" or "lost write" when the translation is no longer current; after MADV_FREE
a store to a page MADV_FREE made lazily freeable (it set no dirty bit, so reclaim would
discard it); after a protection change any store ("write-protect bypassed").

A page written after MADV_FREE (through a translation that set the dirty bit, or by a
device through a pin) and then discarded by reclaim anyway is a "lost write" too. A
device's store through a GUP pin is a store to the page wherever it is mapped now (mremap
may move it), or, while it is mapped nowhere, to the pinned address unless the page was
zapped there since the pin: later reads must return it, so a page replaced under a pin
(collapsed, moved by UFFDIO_MOVE, swapped out, discarded) makes the next read of that
address a "lost write" report.
"""

from __future__ import annotations

from ..sim import KernelReport, Report
from ..mm.types import HugePmd, Pte, PteTable

__all__ = ["DataOracle", "install"]

# Syscalls that take write permission away: a store through an older writable TLB entry
# after they returned bypassed them (mprotect to read-only, UFFDIO_WRITEPROTECT).
WRITE_PROTECTING = ("mprotect", "UFFDIO_WRITEPROTECT")


class DataOracle:
    def __init__(self):
        self.priv: dict = {}
        self.files: dict = {}
        self.checked = 0
        self.clock = 0          # events seen: the order of fills, syscalls and accesses
        self.fills: dict = {}   # (cpu, mm oid, vpn) -> clock of the walk that filled its TLB
        self.entered: dict = {}  # cpu -> (kind, mm oid, lo, hi, clock) of its open syscall
        self.returned: dict = {}  # mm oid -> [(kind, lo, hi, entered, cpu)] of returned ones
        self.lazy: set = set()   # (mm oid, vpn) MADV_FREE made discardable, not written since
        # (mm oid, pinned vpn, folio oid) -> [vpn now (mremap moves it), not zapped since]
        self.pins: dict = {}
        self.by_pin: set = set()  # (mm oid, vpn) whose value a device stored through a pin

    def install(self, kernel) -> DataOracle:
        kernel.hooks.event.append(self.on_event)
        self.ppte = kernel.config.ptrs_per_pte
        return self

    def _mapped(self, mm, vpn: int, folio, page: int) -> bool:
        pmdt = mm.pud
        if pmdt is None:
            return False
        v = pmdt.slots[vpn // self.ppte]
        if type(v) is HugePmd:
            return v.folio is folio and page == vpn % self.ppte
        if type(v) is PteTable:
            pte = v.slots[vpn % self.ppte]
            return type(pte) is Pte and pte.folio is folio and pte.page == page
        return False

    def _file_value(self, f, index: int):
        return self.files.get((f.oid, index), f.initial(index))

    def on_event(self, ctx, kind, *args) -> None:
        self.clock += 1
        if kind == "user_access":
            self._access(ctx, *args)
        elif kind == "pte_zapped":
            vma, vpn = args
            key = (vma.mm.oid, vpn)
            self.priv.pop(key, None)
            self.lazy.discard(key)
            self.by_pin.discard(key)
            for pin, where in self.pins.items():
                if pin[0] == key[0] and where[0] == vpn:
                    where[1] = False
        elif kind == "page_filled":
            mm, vpn, value = args
            self.priv[(mm.oid, vpn)] = value
            self.by_pin.discard((mm.oid, vpn))
        elif kind == "page_moved":
            mm, dst, src = args
            v = self.priv.pop((mm.oid, src), None)
            if v is None:
                self.priv.pop((mm.oid, dst), None)
            else:
                self.priv[(mm.oid, dst)] = v
            for marks in (self.by_pin, self.lazy):     # they follow the page
                marks.discard((mm.oid, dst))
                if (mm.oid, src) in marks:
                    marks.discard((mm.oid, src))
                    marks.add((mm.oid, dst))
            for pin, where in self.pins.items():
                if pin[0] == mm.oid and where[0] == src:
                    where[0] = dst
        elif kind == "syscall":
            self._syscall(ctx, *args)
        elif kind == "page_lazyfree":
            mm, vpn = args
            self.lazy.add((mm.oid, vpn))
        elif kind == "page_discarded":
            self._discarded(ctx, *args)
        elif kind == "pinned":
            mm, vpn, folio, _page = args
            self.pins[(mm.oid, vpn, folio.oid)] = [vpn, True]
        elif kind == "pinned_store":
            self._pinned_store(ctx, *args)
        elif kind == "quiescent":
            for mm in args[0]:
                self._read_everything(ctx, mm)

    # -- syscalls that take translations away ---------------------------------------------

    def _syscall(self, ctx, phase: str, kind: str, mm, lo: int, hi: int, ret=0) -> None:
        if phase == "enter":
            self.entered[ctx.name] = (kind, mm.oid, lo, hi, self.clock)
            return
        kind, oid, lo, hi, entered = self.entered.pop(ctx.name)
        if isinstance(ret, str) and ret.startswith("-"):
            return                  # it failed (-ENOENT, -ENOMEM): it promised nothing
        self.returned.setdefault(oid, []).append((kind, lo, hi, entered, ctx.name))

    def _flushed_by(self, ctx, mm, vpn: int, write: bool, mapped: bool):
        """The returned syscall whose TLB flush should have removed the entry ``ctx`` has
        just used for ``vpn`` (``mapped``: the page tables still map what it maps), or
        None."""
        fill = self.fills.get((ctx.name, mm.oid, vpn))
        if fill is None:
            return None
        for call in self.returned.get(mm.oid, ()):
            kind, lo, hi, entered, _ = call
            if not (lo <= vpn < hi and fill <= entered):
                continue
            if not mapped or (kind == "MADV_FREE" and write and (mm.oid, vpn) in self.lazy):
                return call
            if write and kind in WRITE_PROTECTING:
                return call
        return None

    def _in_flight_free(self, mm, vpn: int, fill) -> bool:
        """Whether a MADV_FREE of ``vpn`` is running that began after the TLB entry was
        filled: a store through that entry is ordered before it."""
        return fill is not None and any(
            kind == "MADV_FREE" and oid == mm.oid and lo <= vpn < hi and fill <= entered
            for kind, oid, lo, hi, entered in self.entered.values())

    def _stale_after_return(self, ctx, mm, vpn, folio, write, value, call) -> None:
        kind, lo, hi, _, who = call
        title = ("BUG: write-protect bypassed: store through a TLB entry the protection "
                 "change should have flushed" if kind in WRITE_PROTECTING else
                 "BUG: lost write: store through a TLB entry the unmap should have flushed"
                 if write else
                 "BUG: stale read: load through a TLB entry the unmap should have flushed")
        r = Report(title, "oracle", thread=ctx.name)
        r.add("access", f"{ctx.name} {'stored' if write else 'loaded'} {value} at {mm.name} "
                        f"page {vpn} through its TLB")
        r.add("syscall", f"{kind} of pages [{lo}, {hi}) by {who} had returned; the TLB "
                         f"entry predates it")
        r.add("folio", folio.describe())
        raise KernelReport(r)

    # -- MADV_FREE and reclaim --------------------------------------------------------------

    def _discarded(self, ctx, vma, vpn: int) -> None:
        key = (vma.mm.oid, vpn)
        if key not in self.lazy and key in self.priv:
            r = Report("BUG: lost write: reclaim discarded a page written after MADV_FREE",
                       "oracle", thread=ctx.name)
            r.add("page", f"{vma.mm.name} page {vpn} ({vma.describe()}) held "
                          f"{self.priv[key]}, written after it was made lazily freeable")
            raise KernelReport(r)
        self.lazy.discard(key)
        self.priv.pop(key, None)
        self.by_pin.discard(key)
        # A pin stays live: reclaim must not discard a pinned page, and a device store
        # through the pin after it did is a store to this address that later reads miss.

    # -- stores through GUP pins --------------------------------------------------------

    def _pinned_store(self, ctx, mm, vpn: int, folio, page: int, value) -> None:
        """A device's store through a pin is a store to the pinned address while the pin
        is live (nothing zapped the page there since the pin): later reads of that
        address must return it, even when the page tables are between two states (a
        collapse that cleared the pmd and will put the table back). A file's page lands
        in the file. After a zap it lands in an orphan, which nobody reads again."""
        if self._stale_file_store(folio, page, value):
            return
        pinned_at, live = self.pins.get((mm.oid, vpn, folio.oid), (vpn, False))
        # Where the page is mapped now (a mremap may have moved it while GUP-fast was
        # pinning it: the pin is of the page, wherever it went), else where the pin is.
        where = self._where_mapped(mm, folio, page, vpn)
        if where is None and not live:
            return                  # zapped since the pin: the store lands in an orphan
        key = (mm.oid, pinned_at if where is None else where)
        self.lazy.discard(key)
        self.priv[key] = value
        self.by_pin.add(key)

    def _where_mapped(self, mm, folio, page: int, hint: int):
        """The page of ``mm`` that maps ``folio``'s ``page`` (``hint`` first), or None."""
        if self._mapped(mm, hint, folio, page):
            return hint
        pmdt = mm.pud
        if pmdt is None:
            return None
        n = self.ppte
        for i, v in enumerate(pmdt.slots):
            if type(v) is HugePmd and v.folio is folio:
                return i * n + page
            if type(v) is PteTable:
                for j, pte in enumerate(v.slots):
                    if type(pte) is Pte and pte.folio is folio and pte.page == page:
                        return i * n + j
        return None


    def _read_everything(self, ctx, mm) -> None:
        """Once every thread has finished, each page the page tables map must hold what a
        read of it would have to return: a lost write shows even if the program never
        read the page again."""
        pmdt = mm.pud
        if pmdt is None or pmdt.kstate != "allocated":
            return
        n = self.ppte
        for i, v in enumerate(pmdt.slots):
            if type(v) is HugePmd:
                for j in range(n):
                    self._access(ctx, mm, i * n + j, v.folio, j, False, v.folio.data[j], None)
            elif type(v) is PteTable and v.kstate == "allocated":
                for j, pte in enumerate(v.slots):
                    if type(pte) is Pte:
                        self._access(ctx, mm, i * n + j, pte.folio, pte.page, False,
                                     pte.folio.data[pte.page], None)

    def _stale_file_store(self, folio, page: int, value) -> bool:
        """A store through a stale translation: it still reaches the file if the folio
        is the page cache's (only a shared mapping can have had it writable). Returns
        whether it did."""
        f = folio.mapping
        if folio.anon or f is None:
            return False
        index = folio.index + page
        if f.page_cache.get(index) is folio:
            self.files[(f.oid, index)] = value
            return True
        return False

    def _access(self, ctx, mm, vpn, folio, page, write, value, cached) -> None:
        vma = mm.find_vma(vpn)
        mapped = current = vma is not None and self._mapped(mm, vpn, folio, page)
        index = vma.page_index(vpn) if vma is not None and vma.file is not None else None
        if not current and vma is not None and vma.shared and vma.file is not None:
            current = vma.file.page_cache.get(index) is folio
        fill_key = (ctx.name, mm.oid, vpn)
        if not cached:
            self.fills[fill_key] = self.clock
        else:
            # The translation, not the data: a page-cache folio still current for the
            # file was reached through a pte the syscall removed.
            call = self._flushed_by(ctx, mm, vpn, write, mapped)
            if call is not None:
                self._stale_after_return(ctx, mm, vpn, folio, write, value, call)
        if not current:
            if write:
                self._stale_file_store(folio, page, value)
            return
        key = (mm.oid, vpn)
        if write:
            if not (cached and self._in_flight_free(mm, vpn, self.fills.get(fill_key))):
                self.lazy.discard(key)
            self.by_pin.discard(key)
            if vma.file is not None and vma.shared:
                self.files[(vma.file.oid, index)] = value
            else:
                self.priv[key] = value
            return
        if vma.file is None:
            expected = self.priv.get(key, 0)
        elif vma.shared:
            expected = self._file_value(vma.file, index)
        else:
            expected = self.priv.get(key, self._file_value(vma.file, index))
        self.checked += 1
        if value != expected:
            pinned = (vma.file is None or not vma.shared) and key in self.by_pin
            r = Report("BUG: lost write: a device store through a pin is not at the pinned "
                       "address" if pinned else
                       "BUG: data corruption: read returned a wrong value", "oracle",
                       thread=ctx.name)
            r.add("read", f"{mm.name} page {vpn} ({vma.describe()}) returned {value}, "
                          f"expected {expected}")
            r.add("folio", folio.describe())
            raise KernelReport(r)

def install(kernel) -> DataOracle:
    return DataOracle().install(kernel)
