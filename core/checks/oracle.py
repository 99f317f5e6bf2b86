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
"""

from __future__ import annotations

from ..sim import KernelReport, Report
from ..mm.types import HugePmd, Pte, PteTable

__all__ = ["DataOracle", "install"]


class DataOracle:
    def __init__(self):
        self.priv: dict = {}
        self.files: dict = {}
        self.checked = 0

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
        if kind == "user_access":
            self._access(ctx, *args)
        elif kind == "pte_zapped":
            vma, vpn = args
            self.priv.pop((vma.mm.oid, vpn), None)
        elif kind == "page_filled":
            mm, vpn, value = args
            self.priv[(mm.oid, vpn)] = value
        elif kind == "page_moved":
            mm, dst, src = args
            v = self.priv.pop((mm.oid, src), None)
            if v is None:
                self.priv.pop((mm.oid, dst), None)
            else:
                self.priv[(mm.oid, dst)] = v

    def _stale_file_store(self, folio, page: int, value) -> None:
        """A store through a stale translation: it still reaches the file if the folio
        is the page cache's (only a shared mapping can have had it writable)."""
        f = folio.mapping
        if folio.anon or f is None:
            return
        index = folio.index + page
        if f.page_cache.get(index) is folio:
            self.files[(f.oid, index)] = value

    def _access(self, ctx, mm, vpn, folio, page, write, value) -> None:
        vma = mm.find_vma(vpn)
        current = vma is not None and self._mapped(mm, vpn, folio, page)
        index = vma.page_index(vpn) if vma is not None and vma.file is not None else None
        if not current and vma is not None and vma.shared and vma.file is not None:
            current = vma.file.page_cache.get(index) is folio
        if not current:
            if write:
                self._stale_file_store(folio, page, value)
            return
        key = (mm.oid, vpn)
        if write:
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
            r = Report("BUG: data corruption: read returned a wrong value", "oracle",
                       thread=ctx.name)
            r.add("read", f"{mm.name} page {vpn} ({vma.describe()}) returned {value}, "
                          f"expected {expected}")
            r.add("folio", folio.describe())
            raise KernelReport(r)


def install(kernel) -> DataOracle:
    return DataOracle().install(kernel)
