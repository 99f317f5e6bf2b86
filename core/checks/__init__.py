"""Checkers: they observe the model through the kernel's hooks and never live inside it."""

from __future__ import annotations

from .. import kasan
from ..kernel import lockdep
from . import oracle, ptlock_order
from ..mm.types import LOCK_ORDER, LOCK_ORDER_SOURCE
from .leaks import leak_scan

__all__ = ["CHECKERS", "install", "leak_scan"]

# name -> installer(kernel). Each can be switched off (to measure its cost, or to let a
# real deadlock happen instead of lockdep's earlier warning).
def _lockdep(kernel):
    ld = lockdep.install(kernel)
    for chain in LOCK_ORDER:
        ld.seed(chain, LOCK_ORDER_SOURCE)
    return ld


CHECKERS = {
    "kasan": kasan.install,
    "lockdep": _lockdep,
    "leaks": lambda kernel: kernel.hooks.end.append(leak_scan),
    "oracle": oracle.install,
    "ptlock_order": ptlock_order.install,
}


def install(kernel, names=None) -> None:
    for name in (CHECKERS if names is None else names):
        try:
            installer = CHECKERS[name]
        except KeyError:
            raise ValueError(f"unknown checker {name!r} (known: {', '.join(CHECKERS)})") from None
        installer(kernel)
