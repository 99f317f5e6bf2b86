"""The model's Kconfig: every knob of a run, with its default and its meaning.

A config is part of a program (a reproducer carries its own). Values are parsed from
``K=V`` strings with one-line errors, so the command line and the ``.kprog`` loader can
reject bad input without a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace

__all__ = ["Config", "ConfigError", "CONFIG_HELP", "parse_int"]

_INT = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|0|[1-9][0-9]*)")


def parse_int(s: str) -> int:
    """An integer as every input of ptfuzz writes one: ASCII decimal or ``0x`` hex, an
    optional minus sign; nothing else (no ``1_000``, no other digits, no spaces). Raises
    ValueError."""
    if not _INT.fullmatch(s):
        raise ValueError(f"not an integer: {s!r}")
    return int(s, 0)


class ConfigError(ValueError):
    """An unknown config name or a value of the wrong kind."""


def _opt(default, help: str, choices=None, maximum: int | None = None):
    """A config option; an integer one has an upper bound (``maximum``) that keeps a run
    within memory and time."""
    return field(default=default, metadata={"help": help, "choices": choices,
                                            "maximum": maximum})


@dataclass(frozen=True)
class Config:
    split_ptlocks: bool = _opt(True, "split page-table locks (off: every pte and pmd lock is "
                                     "mm->page_table_lock, so ptl == pml)")
    alloc_split_ptlocks: bool = _opt(False, "the split ptlock is a separately allocated object "
                                            "(ALLOC_SPLIT_PTLOCKS: lockdep, spinlock debugging)")
    pt_reclaim: bool = _opt(True, "MADV_DONTNEED frees empty PTE tables (CONFIG_PT_RECLAIM)")
    pt_reclaim_async: bool = _opt(False, "a kernel thread (kptreclaimd) frees empty PTE tables "
                                         "found later (after MADV_FREE, kswapd, partial "
                                         "zaps): the design of core/mm/pt_reclaim_async.py, "
                                         "run by the pt_reclaim_scan operation")
    table_free: str = _opt("rcu", "how mmu_gather frees tables: rcu (x86 since v6.15), "
                                  "semi_rcu (single-table fallback by IPI then immediate "
                                  "free), tlb_only (freed after the TLB flush, no RCU)",
                           choices=("rcu", "semi_rcu", "tlb_only"))
    tlb_flush: str = _opt("ipi", "how a TLB flush reaches the other CPUs: ipi (x86 without "
                                 "INVLPGB: the flusher waits until each CPU has taken the "
                                 "IPI, so an IRQ-off walker holds it back) or broadcast "
                                 "(arm64 TLBI, x86 INVLPGB since v6.15: no interrupt, no "
                                 "wait; only tlb_remove_table_sync_one or RCU waits for "
                                 "GUP-fast)",
                          choices=("ipi", "broadcast"))
    per_vma_lock: bool = _opt(True, "page faults and userfaultfd ioctls take the per-VMA read "
                                    "lock, falling back to the mmap lock (CONFIG_PER_VMA_LOCK)")
    per_vma_lock_madvise: bool = _opt(True, "MADV_DONTNEED runs under the per-VMA read lock "
                                            "(v6.17)")
    fault_around: bool = _opt(True, "file read faults map neighbouring page-cache pages "
                                    "(do_fault_around)")
    ptrs_per_pte: int = _opt(8, "entries per PTE table (PMD_SIZE in pages)", maximum=512)
    ptrs_per_pmd: int = _opt(4, "entries of the PMD table (the address space is "
                                "ptrs_per_pmd * ptrs_per_pte pages)", maximum=512)
    tlb_batch: int = _opt(8, "mmu_gather page batch size (MMU_GATHER_BUNDLE)", maximum=4096)
    tlb_max_batches: int = _opt(2, "mmu_gather batches beyond the first "
                                   "(MAX_GATHER_BATCH_COUNT)", maximum=1024)
    table_batch: int = _opt(4, "tables per mmu_table_batch (MAX_TABLE_BATCH)", maximum=4096)
    cpus: int = _opt(4, "CPUs for program threads (kernel threads run on their own)",
                     maximum=64)
    step_bound: int = _opt(100_000, "steps after which a run is reported as a livelock",
                           maximum=10_000_000)
    spin_bound: int = _opt(500, "retries in a row, with no other progress, that make a "
                                "livelock", maximum=1_000_000)
    check_invariants: bool = _opt(os.environ.get("PTFUZZ_CHECK_INVARIANTS", "") not in ("", "0"),
                                  "check the engine's and the substrate's own invariants "
                                  "after every step (a violation is a model error; about "
                                  "+70% time; default on where PTFUZZ_CHECK_INVARIANTS=1, as "
                                  "in the test suite and scripts/soak.py)")
    kasan_quarantine: int = _opt(64, "freed objects KASAN keeps in quarantine before their "
                                     "memory counts as reused (reports say which)",
                                 maximum=1 << 20)

    def __post_init__(self) -> None:
        # Kconfig dependencies: configurations the kernel cannot be built with.
        if self.pt_reclaim and self.table_free != "rcu":
            raise ConfigError("pt_reclaim=on needs table_free=rcu (CONFIG_PT_RECLAIM frees "
                              "single tables by RCU; x86 selects it only with RCU table free)")
        if self.pt_reclaim_async and self.table_free != "rcu":
            raise ConfigError("pt_reclaim_async=on needs table_free=rcu (its tables are "
                              "freed by RCU, as PT reclaim's are)")
        if self.tlb_flush == "broadcast" and self.table_free == "tlb_only":
            raise ConfigError("tlb_flush=broadcast needs table_free=rcu or semi_rcu (arm64 and "
                              "x86 since v6.15 select MMU_GATHER_RCU_TABLE_FREE: without IPIs "
                              "nothing else would wait for GUP-fast)")
        if self.alloc_split_ptlocks and not self.split_ptlocks:
            raise ConfigError("alloc_split_ptlocks=on needs split_ptlocks=on (there is no "
                              "split ptlock to allocate)")
        if self.per_vma_lock_madvise and not self.per_vma_lock:
            raise ConfigError("per_vma_lock_madvise=on needs per_vma_lock=on")
        if self.ptrs_per_pte < 2 or self.ptrs_per_pmd < 1:
            raise ConfigError("geometry: ptrs_per_pte must be >= 2 and ptrs_per_pmd >= 1")
        if self.tlb_batch < 3:
            raise ConfigError("tlb_batch must be >= 3")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_values(self, **kv) -> Config:
        return replace(self, **kv)

    def parse(self, items) -> Config:
        """Apply ``K=V`` strings (or (K, V) pairs); raise :class:`ConfigError`."""
        kv = {}
        known = {f.name: f for f in fields(self)}
        for item in items:
            k, v = item if isinstance(item, tuple) else _split(item)
            f = known.get(k)
            if f is None:
                raise ConfigError(f"unknown config {k!r} (known: {', '.join(known)})")
            kv[k] = _convert(f, v)
        try:
            return replace(self, **kv)
        except TypeError as e:
            raise ConfigError(str(e)) from None

    @classmethod
    def check_item(cls, item) -> None:
        """Raise :class:`ConfigError` if one ``K=V`` is wrong by itself."""
        k, v = item if isinstance(item, tuple) else _split(item)
        known = {f.name: f for f in fields(cls)}
        if k not in known:
            raise ConfigError(f"unknown config {k!r}")
        _convert(known[k], v)

    def diff(self) -> dict:
        """The values that differ from the defaults, in declaration order."""
        base = Config()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(base, f.name)}


def _split(item: str):
    k, sep, v = item.partition("=")
    if not sep or not k.strip():
        raise ConfigError(f"config {item!r} is not of the form KEY=VALUE")
    return k.strip(), v.strip()


def _convert(f, v):
    default = f.default
    choices = f.metadata.get("choices")
    if isinstance(v, str):
        if isinstance(default, bool):
            low = v.lower()
            if low in ("1", "y", "yes", "on", "true"):
                v = True
            elif low in ("0", "n", "no", "off", "false"):
                v = False
            else:
                raise ConfigError(f"config {f.name} takes on/off, not {v!r}")
        elif isinstance(default, int):
            try:
                v = parse_int(v)
            except ValueError:
                raise ConfigError(f"config {f.name} takes an integer, not {v!r}") from None
    if choices is not None and v not in choices:
        raise ConfigError(f"config {f.name} takes one of {', '.join(map(str, choices))}, not {v!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if v < 1:
            raise ConfigError(f"config {f.name} must be positive, not {v}")
        top = f.metadata.get("maximum")
        if top is not None and v > top:
            raise ConfigError(f"config {f.name} must be at most {top}, not {v}")
    return v


CONFIG_HELP = {f.name: f.metadata["help"] for f in fields(Config)}
