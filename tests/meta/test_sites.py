import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import core
from core.sim import all_sites, site
from core.sim.traps import Site

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*:[a-z0-9_]+$")


def import_everything():
    for info in pkgutil.walk_packages([str(Path(core.__file__).parent)], prefix="core."):
        importlib.import_module(info.name)


def test_site_names_are_well_formed_and_unique():
    import_everything()
    sites = all_sites()
    assert sites, "no sites registered"
    bad = [n for n in sites if not NAME.match(n)]
    assert bad == []
    assert len({s.index for s in sites.values()}) == len(sites)


def test_a_second_module_cannot_claim_a_site_name():
    import_everything()
    name = next(iter(all_sites()))
    with pytest.raises(ValueError, match="duplicate site name"):
        site(name)        # registered by another module


def test_site_names_must_name_function_and_event():
    with pytest.raises(ValueError, match="function:event"):
        Site("no_event", "test")


def test_sites_pickle_by_name():
    import pickle
    s = next(iter(all_sites().values()))
    assert pickle.loads(pickle.dumps(s)) is s
