"""The model's Kconfig: every knob of a run, with its default and its meaning.

A config is part of a program (a reproducer carries its own). Values are parsed from
``K=V`` strings with one-line errors, so the command line and the ``.kprog`` loader can
reject bad input without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

__all__ = ["Config", "ConfigError", "CONFIG_HELP"]


class ConfigError(ValueError):
    """An unknown config name or a value of the wrong kind."""


def _opt(default, help: str, choices=None):
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class Config:
    step_bound: int = _opt(100_000, "steps after which a run is reported as a livelock")
    spin_bound: int = _opt(500, "retries in a row, with no other progress, that make a livelock")
    kasan_quarantine: int = _opt(64, "freed objects KASAN keeps in quarantine before their "
                                     "memory counts as reused (reports say which)")

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
        return replace(self, **kv)

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
                v = int(v, 0)
            except ValueError:
                raise ConfigError(f"config {f.name} takes an integer, not {v!r}") from None
    if choices is not None and v not in choices:
        raise ConfigError(f"config {f.name} takes one of {', '.join(map(str, choices))}, not {v!r}")
    if isinstance(default, int) and not isinstance(default, bool) and v < 1:
        raise ConfigError(f"config {f.name} must be positive, not {v}")
    return v


CONFIG_HELP = {f.name: f.metadata["help"] for f in fields(Config)}
