from hypothesis import given
from hypothesis import strategies as st

from core.sim.choices import (BytesSource, OdometerSource, RandomSource, ReplaySource,
                              decode_bytes, encode_bytes, next_prefix, width)

choice_lists = st.lists(
    st.integers(2, 70_000).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))),
    max_size=50)


@given(choice_lists)
def test_bytes_decoder_round_trips(pairs):
    values = [v for v, _ in pairs]
    bounds = [n for _, n in pairs]
    data = encode_bytes(values, bounds)
    assert decode_bytes(data, bounds) == values
    src = BytesSource(data)
    assert [src.choose(n) for n in bounds] == values
    assert src.exhausted


def test_width_is_the_fewest_bytes():
    assert [width(n) for n in (2, 256, 257, 65536, 65537)] == [1, 1, 2, 2, 3]


def test_exhausted_sources_answer_zero():
    assert [BytesSource(b"\x07").choose(10) for _ in range(1)] == [7]
    src = BytesSource(b"\x07")
    assert [src.choose(10), src.choose(10), src.choose(300)] == [7, 0, 0]
    rep = ReplaySource([3])
    assert [rep.choose(5), rep.choose(5)] == [3, 0]
    assert rep.exhausted


def test_forced_choices_consume_nothing():
    src = BytesSource(b"\x01\x02")
    assert src.choose(1) == 0 and src.choose(0) == 0
    assert [src.choose(4), src.choose(4)] == [1, 2]
    assert src.values == [1, 2] and src.bounds == [4, 4]


def test_random_source_is_stable():
    # Fixed by getrandbits with rejection on Mersenne Twister: the same on every CPython.
    src = RandomSource(42)
    assert [src.choose(3) for _ in range(12)] == [2, 0, 0, 2, 1, 0, 0, 0, 2, 0, 2, 2]
    again = RandomSource(42)
    assert [again.choose(3) for _ in range(12)] == src.values


def test_replay_reproduces_a_recording_and_flags_out_of_range_values():
    rec = RandomSource(7)
    vals = [rec.choose(n, "x") for n in (2, 3, 5, 9)]
    rep = ReplaySource(rec.values)
    assert [rep.choose(n) for n in (2, 3, 5, 9)] == vals
    bad = ReplaySource([4])
    assert bad.choose(3) == 0 and bad.mismatches == 1


def test_odometer_enumerates_every_sequence_once():
    # A "program" asking three choices of bounds 2, 3, 2 has 12 leaves.
    seen = []
    prefix = []
    while prefix is not None:
        src = OdometerSource(prefix)
        seen.append(tuple(src.choose(n) for n in (2, 3, 2)))
        prefix = next_prefix(src.values, src.bounds)
    assert len(seen) == 12 == len(set(seen))
    assert seen[0] == (0, 0, 0) and seen[-1] == (1, 2, 1)
