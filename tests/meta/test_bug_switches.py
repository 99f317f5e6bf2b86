"""Every public switch is registered, marked with ``# BUG(name):`` at its one place in the
model, and tested there (``"name" in ctx.bugs``); nothing else tests a switch."""

import re
from pathlib import Path

from core.bugs import REGISTRY

ROOT = Path(__file__).resolve().parents[2]


def model_sources():
    """The model's sources (the registry in core/bugs describes switches, it does not
    test them)."""
    return {p: p.read_text() for p in (ROOT / "core").rglob("*.py")
            if "bugs" not in p.relative_to(ROOT / "core").parts}


def test_every_switch_is_marked_and_tested_in_its_file():
    sources = model_sources()
    for name, sw in REGISTRY.items():
        path = ROOT / sw.file
        text = sources[path]
        assert f"# BUG({name}):" in text, f"{name}: no BUG comment in {sw.file}"
        assert f'"{name}" in ctx.bugs' in text or f'"{name}" not in ctx.bugs' in text, name
        for other, t in sources.items():
            if other != path:
                assert f"BUG({name})" not in t and f'"{name}"' not in t, \
                    f"{name} also appears in {other}"


def test_no_unregistered_switches():
    used = set()
    for text in model_sources().values():
        used |= set(re.findall(r'"([a-z0-9-]+)" (?:not )?in ctx\.bugs', text))
        used |= set(re.findall(r"# BUG\(([a-z0-9-]+)\):", text))
    assert used == set(REGISTRY)
