"""The closed set of traps: the only values a simulated thread may yield.

A simulated thread is a generator. Each ``yield`` hands one trap to the engine:

* ``Site``      a scheduling point *before* the action named by the site. The engine
                may run other threads before resuming this one; resuming it performs
                the action (atomically, up to the next trap).
* ``SpinSite``  a retry point (``goto retry``, a failed trylock loop). The thread stays
                runnable but tells the scheduler it cannot make progress by itself, so
                the default choice switches away from it and the engine can detect
                livelock (spinning without any other progress).
* ``Wait``      park on a wait queue until somebody wakes it. Every blocking primitive
                (spinlock, rwsem, folio lock, grace period, IPI wait) uses this.

Sites are interned objects created once, at import, by :func:`site` / :func:`spin_site`;
their names ``"function:event"`` are unique across the model (checked at registration and
by a test), so traces, schedules, reports and coverage refer to them by name.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, TypeAlias, TypeVar

if TYPE_CHECKING:
    from .waitq import WaitQueue

__all__ = ["Site", "SpinSite", "Wait", "site", "spin_site", "lookup_site", "all_sites",
           "Trap", "KGen"]

_REGISTRY: dict[str, Site] = {}


class Site:
    """A named scheduling point. Yield it *before* the action it names."""

    __slots__ = ("name", "func", "event", "owner", "index")

    def __init__(self, name: str, owner: str) -> None:
        func, sep, event = name.partition(":")
        if not sep or not func or not event:
            raise ValueError(f"site name {name!r} is not of the form 'function:event'")
        self.name = name
        self.func = func
        self.event = event
        self.owner = owner
        self.index = len(_REGISTRY)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __reduce__(self):
        # Sites are interned: pickling one (to send a trace to another process) resolves
        # the name in the receiving process's registry.
        return (lookup_site, (self.name,))


class SpinSite(Site):
    """A retry point: the thread will try again, and cannot progress by itself.

    ``own_progress``: the thread's own stores since its last attempt count as progress
    (an access retried after the thread's own page fault mapped the page), where for an
    ordinary retry only other CPUs' stores do (the thread's own lock and unlock writes
    would otherwise make every waiting loop look busy)."""

    __slots__ = ("own_progress",)
    own_progress: bool


class Wait:
    """Park the yielding thread on ``waitq`` until it is woken.

    ``site`` names where the thread waits: it becomes the thread's pending site, so a
    deadlock report says in which kernel function each thread hangs.
    """

    __slots__ = ("waitq", "site")

    def __init__(self, waitq: WaitQueue, site: Site) -> None:
        self.waitq = waitq
        self.site = site

    def __repr__(self) -> str:
        return f"<Wait {self.waitq.name} at {self.site.name}>"


Trap: TypeAlias = Site | Wait        # SpinSite is a Site
_T = TypeVar("_T")
# A model function: a generator of traps the engine interprets, sent nothing, returning
# the function's result. Called with ``yield from`` (a call without it builds a generator
# and runs nothing; tests/meta/test_tidy.py finds such calls).
KGen: TypeAlias = Generator[Trap, None, _T]


def _register(cls: type[SpinSite] | type[Site], name: str, owner: str) -> Site:
    old = _REGISTRY.get(name)
    if old is not None:
        # Re-importing the same module (pytest's importlib mode, reload) is harmless;
        # two different places claiming one name is a model bug.
        if old.owner == owner and type(old) is cls:
            return old
        raise ValueError(f"duplicate site name {name!r} (defined by {old.owner} and {owner})")
    s = cls(name, owner)
    _REGISTRY[name] = s
    return s


def _caller_module() -> str:
    return sys._getframe(2).f_globals.get("__name__", "?")


def site(name: str) -> Site:
    """Create (once) the step site ``name``. Call it at module level."""
    return _register(Site, name, _caller_module())


def spin_site(name: str, own_progress: bool = False) -> SpinSite:
    """Create (once) the retry site ``name``. Call it at module level."""
    s = _register(SpinSite, name, _caller_module())
    assert isinstance(s, SpinSite)
    s.own_progress = own_progress
    return s


def lookup_site(name: str) -> Site:
    """The registered site called ``name``; ``KeyError`` if there is none."""
    return _REGISTRY[name]


def all_sites() -> dict[str, Site]:
    """Every registered site, by name (registration order)."""
    return dict(_REGISTRY)
