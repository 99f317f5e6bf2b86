"""The lifetime of an anon_vma (mm/rmap.c ``anon_vma_alloc``, ``put_anon_vma``,
``__put_anon_vma``, ``anon_vma_free``; include/linux/rmap.h).

An anon_vma starts with one reference, held for as long as some VMA is linked to it;
``unlink_anon_vmas`` drops it when the last VMA goes. rmap walkers that hold no VMA reach
the anon_vma through a folio (``folio->mapping``) and may find it already freed: they
rely on the anon_vma cache being ``SLAB_TYPESAFE_BY_RCU`` (the memory stays an anon_vma
until a grace period has passed), take a reference with ``atomic_inc_not_zero`` under
``rcu_read_lock`` and recheck ``folio_mapped`` (mm/rmap.c ``folio_get_anon_vma``,
``folio_lock_anon_vma_read``, in ``core.mm.rmap``).

Simplified: no fork, so no anon_vma chains: every anon_vma is its own root. The free is
modelled as KASAN sees it with ``CONFIG_SLUB_RCU_DEBUG``: the object is poisoned only
after a grace period (``slab_free_after_rcu_debug``), so an access outside the RCU
read-side section that found it is a use-after-free, one inside it is not. Slab reuse
(the memory becoming another anon_vma within the grace period) is not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel import down_write, up_write
from ..kernel.rcu import call_rcu_now
from ..sim import site
from .types import AnonVma

if TYPE_CHECKING:
    from ..kernel.context import Ctx
    from ..sim.traps import KGen

__all__ = ["anon_vma_alloc", "get_anon_vma_not_zero", "put_anon_vma", "put_anon_vma_last",
           "__put_anon_vma", "anon_vma_free"]

S_PUT = site("put_anon_vma:atomic_dec_and_test")
S_FREE_CHECK = site("anon_vma_free:rwsem_is_locked")
S_FREE_LOCK = site("anon_vma_free:anon_vma_lock_write")
S_FREE_UNLOCK = site("anon_vma_free:anon_vma_unlock_write")
S_FREE = site("anon_vma_free:kmem_cache_free")
S_FREE_RCU = site("slab_free_after_rcu_debug:kasan_slab_free")


def anon_vma_alloc(ctx: Ctx, site_) -> KGen[Any]:
    """mm/rmap.c ``anon_vma_alloc``.

    ``anon_vma_alloc``: a new anon_vma with one reference (its VMAs')."""
    return (yield from ctx.kernel.alloc.alloc(ctx, AnonVma(), site_))


def get_anon_vma_not_zero(ctx: Ctx, av: AnonVma, site_) -> bool:
    """``atomic_inc_not_zero(&anon_vma->refcount)`` (the caller yielded at ``site_``): a
    reference unless the anon_vma is already on its way to being freed."""
    ctx.access(av, site_, True)
    if av.refcount == 0:
        return False
    av.refcount += 1
    return True


def put_anon_vma_last(ctx: Ctx, av: AnonVma, site_) -> bool:
    """``atomic_dec_and_test(&anon_vma->refcount)`` (the caller yielded at ``site_``):
    True if that was the last reference."""
    ctx.access(av, site_, True)
    av.refcount -= 1
    return av.refcount == 0


def put_anon_vma(ctx: Ctx, av: AnonVma) -> KGen[None]:
    """include/linux/rmap.h ``put_anon_vma``.

    ``put_anon_vma``: drop a reference; the last one frees the anon_vma."""
    yield S_PUT
    if put_anon_vma_last(ctx, av, S_PUT):
        yield from __put_anon_vma(ctx, av)


def __put_anon_vma(ctx: Ctx, av: AnonVma) -> KGen[None]:
    """mm/rmap.c ``__put_anon_vma``.

    ``__put_anon_vma``: free the anon_vma (its root is itself: no root reference to
    drop)."""
    yield from anon_vma_free(ctx, av)


def _slab_free_after_rcu_debug(ctx: Ctx, av: AnonVma) -> KGen[None]:
    yield from ctx.kernel.alloc.free(ctx, av, S_FREE_RCU, AnonVma)


def anon_vma_free(ctx: Ctx, av: AnonVma) -> KGen[None]:
    """mm/rmap.c ``anon_vma_free``.

    ``anon_vma_free``: a reader that won ``down_read_trylock`` in
    ``folio_lock_anon_vma_read`` just before the last reference went may still hold the
    rwsem (it drops it when it sees the folio unmapped); take and drop the write lock to
    wait for it, then free to the ``SLAB_TYPESAFE_BY_RCU`` cache."""
    yield S_FREE_CHECK
    ctx.might_sleep(S_FREE_CHECK)
    ctx.access(av, S_FREE_CHECK, False)
    sem = av.rwsem
    if sem.owner is not None or sem.readers:            # rwsem_is_locked()
        yield from down_write(ctx, sem, S_FREE_LOCK)
        yield from up_write(ctx, sem, S_FREE_UNLOCK)
    yield S_FREE
    ctx.kernel.alloc.queue_free(ctx, av, S_FREE)
    call_rcu_now(ctx, _slab_free_after_rcu_debug, av, site=S_FREE)
