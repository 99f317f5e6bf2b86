"""The fuzzers' seed programs (``corpus/seeds``): each loads, has two or three threads and
no schedule or switch, and passes on the fixed model; each becomes an atheris starting
input that replays its program."""

import glob
import os

import pytest

from core.program.kprog import load
from core.program.program import run_program
from fuzz.byte_input import kprog_to_bytes, run_bytes
from fuzz.target import Target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = sorted(glob.glob(os.path.join(ROOT, "corpus", "seeds", "*.kprog")))


def test_there_are_seeds():
    assert len(SEEDS) == 13


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: os.path.basename(p)[:-6])
def test_a_seed_passes_and_becomes_a_starting_input(path):
    prog = load(path)
    assert 2 <= len(prog.threads) <= 3 and prog.schedule is None and not prog.bugs
    assert prog.comments, "a seed says what it exercises"
    out = run_program(prog)
    assert out.title == "pass"
    programs = [load(p) for p in SEEDS]
    data, _ = kprog_to_bytes(prog, SEEDS.index(path))
    case = run_bytes(data, Target(), programs)
    # The same steps (the hash differs: the byte input also answers its own choices).
    assert case.outcome.title == "pass"
    assert list(case.outcome.trace.lines()) == list(out.trace.lines())
