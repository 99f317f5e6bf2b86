"""Reader-writer semaphores (``mmap_lock``, ``i_mmap_rwsem``, ``anon_vma->rwsem``).

Sleeping locks: every acquisition is a ``might_sleep`` point. New readers queue behind a
waiting writer (the kernel's rwsem avoids writer starvation the same way), so a reader
that re-takes a read lock while a writer waits can deadlock, as in the kernel.
``downgrade_write`` turns the caller's write hold into a read hold and lets readers in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sim import Wait
from .locks import Lock, LockClass, pop_held, push_held

if TYPE_CHECKING:
    from ..sim.traps import KGen, Site
    from .context import Ctx

__all__ = ["RwSem", "down_read", "down_write", "down_read_trylock", "down_write_trylock",
           "up_read", "up_write", "downgrade_write"]


class RwSem(Lock):
    __slots__ = ("owner", "readers", "writers_waiting")

    def __init__(self, name: str, lclass: LockClass, mem) -> None:
        super().__init__(name, lclass, mem)
        self.owner: Ctx | None = None   # the writer's ctx
        self.readers: list = []     # reader ctxs (a multiset)
        self.writers_waiting = 0


def down_read(ctx: Ctx, sem: RwSem, site: Site, subclass: int = 0) -> KGen[None]:
    yield site
    ctx.might_sleep(site)
    ctx.access(sem.mem, site, False)
    for h in ctx.hooks.acquire:
        h(ctx, sem, subclass, site, "read", False)
    while sem.owner is not None or sem.writers_waiting:
        yield Wait(sem.wq, site)
        ctx.access(sem.mem, site, False)
    sem.readers.append(ctx)
    push_held(ctx, sem, subclass, site, "read")


def down_write(ctx: Ctx, sem: RwSem, site: Site, subclass: int = 0) -> KGen[None]:
    yield site
    ctx.might_sleep(site)
    ctx.access(sem.mem, site, True)
    for h in ctx.hooks.acquire:
        h(ctx, sem, subclass, site, "write", False)
    if sem.owner is not None or sem.readers:
        sem.writers_waiting += 1
        while sem.owner is not None or sem.readers:
            yield Wait(sem.wq, site)
            ctx.access(sem.mem, site, True)
        sem.writers_waiting -= 1
    sem.owner = ctx
    push_held(ctx, sem, subclass, site, "write")


def down_read_trylock(ctx: Ctx, sem: RwSem, site: Site) -> KGen[bool]:
    yield site
    ctx.access(sem.mem, site, False)
    if sem.owner is not None or sem.writers_waiting:
        return False
    for h in ctx.hooks.acquire:
        h(ctx, sem, 0, site, "read", True)
    sem.readers.append(ctx)
    push_held(ctx, sem, 0, site, "read")
    return True


def down_write_trylock(ctx: Ctx, sem: RwSem, site: Site) -> KGen[bool]:
    yield site
    ctx.access(sem.mem, site, True)
    if sem.owner is not None or sem.readers:
        return False
    for h in ctx.hooks.acquire:
        h(ctx, sem, 0, site, "write", True)
    sem.owner = ctx
    push_held(ctx, sem, 0, site, "write")
    return True


def up_read(ctx: Ctx, sem: RwSem, site: Site) -> KGen[None]:
    yield site
    ctx.access(sem.mem, site, True)
    for h in ctx.hooks.release:
        h(ctx, sem, site)
    pop_held(ctx, sem)
    if ctx in sem.readers:
        sem.readers.remove(ctx)
    sem.wq.wake_all()


def up_write(ctx: Ctx, sem: RwSem, site: Site) -> KGen[None]:
    yield site
    ctx.access(sem.mem, site, True)
    for h in ctx.hooks.release:
        h(ctx, sem, site)
    pop_held(ctx, sem)
    if sem.owner is ctx:
        sem.owner = None
    sem.wq.wake_all()


def downgrade_write(ctx: Ctx, sem: RwSem, site: Site) -> KGen[None]:
    yield site
    ctx.access(sem.mem, site, True)
    for h in ctx.hooks.release:
        h(ctx, sem, site)
    entry = pop_held(ctx, sem)
    if sem.owner is ctx:
        sem.owner = None
        sem.readers.append(ctx)
    push_held(ctx, sem, entry.subclass if entry else 0, site, "read")
    sem.wq.wake_all()
