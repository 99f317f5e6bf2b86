"""Small text pictures of an mm's page tables, for tests, reports and ``ptfuzz show``.

::

    p0: nr_ptes=1 rss=anon:2 file:0
      pmd 0: table [A7 A2 .. .. .. .. .. ..]
      pmd 1: huge [F1008 F1009 F1010 F1011 F1012 F1013 F1014 F1015]
      pmd 2: none

A present pte is ``A`` (anonymous) or ``F`` (file) or ``Z`` (zero page) followed by the
page's value (a huge pmd lists its folio's pages the same way); ``..`` is none;
``mU``/``mG`` are uffd-wp and guard markers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import HugePmd, Pte, PteMarker, PteTable, SwapPte

if TYPE_CHECKING:
    from .types import Mm

__all__ = ["pte_picture", "mm_picture"]


def pte_picture(pte) -> str:
    """Model only: model machinery, mirrors no kernel function (a text picture)."""
    if pte is None:
        return ".."
    if type(pte) is PteMarker:
        return "mU" if pte.kind == "uffd-wp" else "mG"
    if type(pte) is SwapPte:
        return "S" + str(pte.slot.data)
    if type(pte) is Pte:
        if pte.special:
            return "Z0"
        kind = "A" if pte.folio.anon else "F"
        return f"{kind}{pte.folio.data[pte.page]}"
    return "??"


def mm_picture(mm: Mm) -> str:
    """Model only: model machinery, mirrors no kernel function (a text picture)."""
    rss = mm.rss
    swap = f" swap:{rss['MM_SWAPENTS']}" if rss["MM_SWAPENTS"] else ""
    lines = [f"{mm.name}: nr_ptes={mm.nr_ptes} rss=anon:{rss['MM_ANONPAGES']} "
             f"file:{rss['MM_FILEPAGES']}{swap}"]
    if mm.pud is None:
        lines.append("  no pmd table")
        return "\n".join(lines)
    for i, v in enumerate(mm.pud.slots):
        if v is None:
            lines.append(f"  pmd {i}: none")
        elif type(v) is PteTable:
            cells = " ".join(pte_picture(p) for p in v.slots)
            lines.append(f"  pmd {i}: table [{cells}]")
        elif type(v) is HugePmd:
            kind = "A" if v.folio.anon else "F"
            lines.append(f"  pmd {i}: huge [{' '.join(kind + str(x) for x in v.folio.data)}]")
        else:
            lines.append(f"  pmd {i}: {v!r}")
    return "\n".join(lines)
