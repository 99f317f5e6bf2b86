"""Shared-memory accesses: ``READ_ONCE``, ``WRITE_ONCE``, ``cmpxchg``, ``xchg``.

Each is a scheduling point followed by a shadow-checked access, performed atomically in
one step (a single word access is atomic on the CPUs the kernel runs on). ``field`` is an
attribute name, or an index into the object's ``slots`` list (the entries of a table).
Code that needs several fields of one object in one atomic step (a hardware page-table
walk) calls ``ctx.access`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx

__all__ = ["READ_ONCE", "WRITE_ONCE", "cmpxchg", "xchg"]


def _get(obj, field):
    if type(field) is int:
        return obj.slots[field]
    return getattr(obj, field)


def _set(obj, field, value) -> None:
    if type(field) is int:
        obj.slots[field] = value
    else:
        setattr(obj, field, value)


def READ_ONCE(ctx: Ctx, obj, field, site: Site) -> KGen[Any]:
    yield site
    ctx.access(obj, site, False)
    return _get(obj, field)


def WRITE_ONCE(ctx: Ctx, obj, field, value, site: Site) -> KGen[None]:
    yield site
    ctx.access(obj, site, True)
    _set(obj, field, value)


def cmpxchg(ctx: Ctx, obj, field, old, new, site: Site) -> KGen[Any]:
    """Store ``new`` if the field holds ``old``; return what it held."""
    yield site
    cur = _get(obj, field)
    ctx.access(obj, site, True, stores=cur == old)
    if cur == old:
        _set(obj, field, new)
    return cur


def xchg(ctx: Ctx, obj, field, new, site: Site) -> KGen[Any]:
    yield site
    ctx.access(obj, site, True)
    cur = _get(obj, field)
    _set(obj, field, new)
    return cur
