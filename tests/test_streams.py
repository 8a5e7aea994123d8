"""Counter-based random numbers (sim/engine/streams.py) and the Poisson inversion
(sim/engine/kernels.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import ndtri

from sim.engine.kernels import poisson_from_uniform
from sim.engine.streams import (
    Streams,
    derived_key,
    derived_keys,
    normals,
    seed_sequence_keys,
    seed_sequence_words,
    uniforms,
)

MASK = (1 << 64) - 1


def splitmix64(seed: int, i: int) -> int:
    """Output i (1-based) of SplitMix64 seeded with `seed`, in plain Python integers."""
    z = (seed + 0x9E3779B97F4A7C15 * i) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


@pytest.mark.parametrize("key", [0, 1, 12345, 2**63 + 5, 2**64 - 1])
def test_uniform_of_a_row_is_splitmix64_output_row_plus_one(key):
    rows = np.array([0, 1, 2, 7, 1_000_003])
    expected = [((splitmix64(key, int(r) + 1) >> 11) + 0.5) * 2.0**-53 for r in rows]
    assert uniforms(np.uint64(key), rows).tolist() == expected


@pytest.mark.parametrize("key", [0, 12345, 2**63 + 5, 2**64 - 1])
def test_sub_stream_keys_are_splitmix64_outputs_one_by_one_or_together(key):
    expected = [splitmix64(key, c + 1) for c in range(15)]
    assert [int(derived_key(key, c)) for c in range(15)] == expected
    assert derived_keys(key, 15).tolist() == expected


def test_a_rows_number_does_not_depend_on_the_other_rows_drawn():
    key = np.uint64(987654321)
    every = uniforms(key, np.arange(10_000))
    some = np.array([9_999, 3, 512, 3, 0])
    assert np.array_equal(uniforms(key, some), every[some])
    assert np.array_equal(normals(key, some), normals(key, np.arange(10_000))[some])


def test_uniforms_are_uniform_and_keys_independent():
    rows = np.arange(200_000)
    a, b = uniforms(np.uint64(11), rows), uniforms(np.uint64(12), rows)
    assert a.min() > 0.0 and a.max() < 1.0
    assert stats.kstest(a, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    assert abs(np.corrcoef(a[1:], a[:-1])[0, 1]) < 0.01  # neighbouring rows


def test_normals_are_the_normal_quantile_of_the_uniform():
    rows = np.arange(100_000)
    key = np.uint64(42)
    z = normals(key, rows)
    assert np.max(np.abs(z - ndtri(uniforms(key, rows)))) < 1.1e-6
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_poisson_from_uniform_is_the_exact_inverse_cdf():
    rng = np.random.default_rng(3)
    lam = np.concatenate([rng.uniform(0, 5, 50_000), rng.uniform(5, 150, 20_000), [0.0, 2e3]])
    u = rng.random(lam.size)
    assert np.array_equal(poisson_from_uniform(lam, u), stats.poisson.ppf(u, lam))


def test_poisson_draw_rises_with_the_rate_at_a_fixed_uniform():
    u = np.full(400, 0.7)
    k = poisson_from_uniform(np.linspace(0.0, 120.0, 400), u)
    assert np.all(np.diff(k) >= 0)


def test_stream_keys_differ_by_year_and_purpose_and_repeat_for_the_same_seed():
    purposes = ("apply", "exit")
    a = Streams(np.random.SeedSequence(5), purposes)
    b = Streams(np.random.SeedSequence(5), purposes)
    keys = {a.key(y, p) for y in (2020, 2021) for p in purposes}
    assert len(keys) == 4
    assert a.key(2021, "exit") == b.key(2021, "exit")
    assert Streams(np.random.SeedSequence(6), purposes).key(2021, "exit") != a.key(2021, "exit")


def numpy_key(seed: np.random.SeedSequence, *child: int) -> int:
    """What `Streams.key` promises: numpy's SeedSequence child, first 64-bit word of state."""
    spawn_key = (*seed.spawn_key, *child)
    child_sequence = np.random.SeedSequence(seed.entropy, spawn_key=spawn_key)
    return int(child_sequence.generate_state(1, np.uint64)[0])


big = st.integers(min_value=0, max_value=2**200)


@settings(max_examples=300, deadline=None)
@given(
    entropy=st.one_of(big, st.lists(st.integers(0, 2**70), min_size=1, max_size=6)),
    prefix=st.lists(st.integers(0, 2**80), max_size=3),
    year=st.one_of(st.integers(1990, 2100), st.integers(0, 2**40)),
    purposes=st.integers(1, 12),
)
def test_compiled_seed_sequence_keys_are_numpys(entropy, prefix, year, purposes):
    seed = np.random.SeedSequence(entropy, spawn_key=tuple(prefix))
    keys = seed_sequence_keys(seed_sequence_words(seed), year, purposes)
    assert keys.tolist() == [numpy_key(seed, year, i) for i in range(purposes)]


def test_a_streams_key_is_the_seed_sequence_child_of_its_year_and_purpose():
    purposes = ("growth", "apply", "exit")
    for seed in (np.random.SeedSequence(5), np.random.SeedSequence(0).spawn(4)[3]):
        streams = Streams(seed, purposes)
        for year in (2022, 2019):
            for i, purpose in enumerate(purposes):
                assert int(streams.key(year, purpose)) == numpy_key(seed, year, i)
