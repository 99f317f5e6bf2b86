"""The registry of bug switches and the immutable set of switches a run has on.

A bug switch re-creates one historical kernel mistake at the exact line its fix changed,
marked there with a ``# BUG(name):`` comment. Each entry says what the switch does, where
the fix is (commit or lore link), which model file holds it and which report titles the
bug produces. Switches compose: any subset can be on at once.

Switches come in groups: ``public`` (the historical kernel bugs every driver is measured
on), one group per design under test (``async-reclaim``: the flaws ptfuzz found in the
first version of asynchronous PTE-table reclaim), and ``mainline`` (candidate bugs of
current mainline: there the switch restores mainline's code and the default model carries
the candidate fix). ``PUBLIC`` is the public group.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BugSwitch", "BugSet", "BugError", "REGISTRY", "PUBLIC", "register", "NO_BUGS"]


class BugError(ValueError):
    """An unknown bug-switch name."""


@dataclass(frozen=True)
class BugSwitch:
    name: str
    summary: str
    fix: str            # kernel commit or lore link of the fix
    file: str           # the model module that holds the switch
    title: str          # the report title of its reproducer
    # Other titles (prefixes) the same mistake produces under other interleavings: a
    # freed table may be read by a fault or written by a zap, a ptlock taken by rmap...
    also: tuple = ()
    group: str = "public"
    # Config values the bug needs (K=V strings), e.g. the feature the flawed code is in.
    config: tuple = ()

    def produces(self, title: str) -> bool:
        """Whether a report titled ``title`` is this bug's doing."""
        return title == self.title or any(title.startswith(p) for p in self.also)


REGISTRY: dict[str, BugSwitch] = {}
PUBLIC: dict[str, BugSwitch] = {}


def register(sw: BugSwitch) -> BugSwitch:
    if sw.name in REGISTRY:
        raise ValueError(f"bug switch {sw.name!r} registered twice")
    REGISTRY[sw.name] = sw
    if sw.group == "public":
        PUBLIC[sw.name] = sw
    return sw


class BugSet(frozenset):
    """The switches a run has on. ``"name" in bugs`` is the test at a switch site."""

    @classmethod
    def parse(cls, names) -> BugSet:
        out = []
        for name in names:
            for part in name.split(","):
                part = part.strip()
                if not part or part == "none":
                    continue
                if part not in REGISTRY:
                    known = ", ".join(sorted(REGISTRY)) or "none registered"
                    raise BugError(f"unknown bug switch {part!r} (known: {known})")
                out.append(part)
        return cls(out)

    def text(self) -> str:
        return ",".join(sorted(self)) or "none"


NO_BUGS = BugSet()
