"""A sleeping lock with an owner (the folio lock: ``folio_lock``, ``folio_trylock``,
``folio_unlock``; also usable as a mutex). Taking it may sleep; trying it never does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import Wait
from .locks import Lock, LockClass, pop_held, push_held

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx

__all__ = ["SleepLock", "sleep_lock", "sleep_trylock", "sleep_unlock"]


class SleepLock(Lock):
    __slots__ = ("owner",)

    def __init__(self, name: str, lclass: LockClass, mem) -> None:
        super().__init__(name, lclass, mem)
        self.owner: Ctx | None = None


def sleep_lock(ctx: Ctx, lock: SleepLock, site: Site, subclass: int = 0) -> KGen[None]:
    yield site
    ctx.might_sleep(site)
    ctx.access(lock.mem, site, True)
    for h in ctx.hooks.acquire:
        h(ctx, lock, subclass, site, "sleep", False)
    while lock.owner is not None:
        yield Wait(lock.wq, site)
        ctx.access(lock.mem, site, True)
    lock.owner = ctx
    push_held(ctx, lock, subclass, site, "sleep")


def sleep_trylock(ctx: Ctx, lock: SleepLock, site: Site) -> KGen[bool]:
    yield site
    ctx.access(lock.mem, site, True)
    if lock.owner is not None:
        return False
    for h in ctx.hooks.acquire:
        h(ctx, lock, 0, site, "sleep", True)
    lock.owner = ctx
    push_held(ctx, lock, 0, site, "sleep")
    return True


def sleep_unlock(ctx: Ctx, lock: SleepLock, site: Site) -> KGen[None]:
    yield site
    ctx.access(lock.mem, site, True)
    for h in ctx.hooks.release:
        h(ctx, lock, site)
    pop_held(ctx, lock)
    lock.owner = None
    lock.wq.wake_all()
