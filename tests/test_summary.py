"""The statistics every output reports over replications (sim/runs/summary.py)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.runs import summary


def test_reach_counts_a_goal_met_exactly_as_reached():
    p, se = summary.reach(np.array([9, 10, 11, 12]), 10)
    assert p == 0.75
    assert se == math.sqrt(0.75 * 0.25 / 4)


@given(st.lists(st.integers(0, 50), min_size=1, max_size=200), st.integers(0, 50))
def test_reach_is_a_share_with_its_binomial_error(values, goal):
    x = np.array(values)
    p, se = summary.reach(x, goal)
    assert p == np.count_nonzero(x >= goal) / x.size
    assert 0.0 <= se <= 0.5 / math.sqrt(x.size) + 1e-15


def test_paired_error_is_that_of_the_differences_not_of_two_independent_runs():
    rng = np.random.default_rng(0)
    common = rng.normal(0, 10, 500)  # what both runs share on the same seeds
    on, off = common + 1.0 + rng.normal(0, 0.1, 500), common
    mean, se = summary.paired(on - off)
    assert abs(mean - 1.0) < 0.05
    assert se < 0.01  # far below sqrt(2 x 100 / 500) = 0.63, the unpaired error
    assert summary.paired(np.array([3.0])) == (3.0, None)


def test_difference_and_band_give_the_quantiles():
    d = np.arange(101, dtype=float)
    assert summary.band(d) == (5.0, 50.0, 95.0)
    mean, p05, p95, se = summary.difference(d)
    assert (mean, p05, p95) == (50.0, 5.0, 95.0)
    assert se == float(d.std(ddof=1) / math.sqrt(101))
