"""The compiled criteria (sim/engine/eligibility.py) give `Ladder.meets`'s verdicts, firm by firm.

The programs store every threshold as numpy compares it (a Python number in a float32
column's dtype, a points table cast to the column's dtype, integer columns exactly); these
tests put firms exactly at, just below and just above each threshold, in the dtypes the
population stores and in float64, with NaN, on the shipped ladder and on ladders made to use
every kind of rule the criteria document allows.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine import eligibility as eligibility_module
from sim.engine.eligibility import Eligibility, eligibility
from sim.engine.firms import COLUMNS, FirmPopulation
from sim.engine.ladder import SMALL_BATCH, Criterion, Ladder, Tier
from sim.engine.model import GrowthModel

# Values firms are put at, besides random ones: the shipped thresholds, band limits and a
# few of each kind a test ladder uses.
EDGES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.06, 0.1, 0.15, 0.5, 0.55, 0.6, 0.7, 0.75, 1.0, 2.0,
         3.0, 1e6, 1e7, 3e7, 5e7, 1e8, 20.5, 60.0)  # fmt: skip


def firms_near_edges(seed: int, n: int, nan_share: float) -> FirmPopulation:
    """`n` firms whose float columns sit at an edge (as float32, or a float32 step off it), at
    random, or NaN; counts near the small integers the criteria use."""
    rng = np.random.default_rng(seed)
    pop = FirmPopulation(n)
    columns = {}
    for name, (dtype, _) in COLUMNS.items():
        if name in ("alive", "draw_id", "origin"):
            continue
        if np.dtype(dtype).kind == "f":
            at = np.float32(rng.choice(EDGES, n))
            step = rng.integers(-1, 2, n)  # one float32 step below, at, above
            near = np.nextafter(at, np.where(step < 0, -np.inf, np.inf).astype(np.float32))
            near = np.where(step == 0, at, near)
            spread = np.float32(rng.uniform(-0.2, 1.2, n) * rng.choice([1.0, 1e8], n))
            value = np.where(rng.random(n) < 0.6, near, spread)
            value[rng.random(n) < nan_share] = np.nan
            columns[name] = value.astype(dtype)
        elif np.dtype(dtype).kind == "b":
            columns[name] = rng.random(n) < 0.5
        else:
            columns[name] = rng.integers(0, 12, n).astype(dtype)
    pop.add(columns)
    return pop


def every_rule_ladder(
    revenue_min, revenue_max, niche_min, ip_min, points, below_rows, min_total
) -> Ladder:
    """A ladder using every kind of rule: thresholds (min, max, max_exclusive; on float32,
    integer and derived attributes), bands, a score with an ascending table (whole or
    fractional points), a below table, a fallback and a direct pass; a tier without criteria,
    and one with the score alone (where a NaN's points decide)."""
    score = {
        "min_total": min_total,
        "direct_pass": "high_tech",
        "indicators": [
            {"attribute": "rd_intensity", "points": points},
            {"attribute": "growth_mean_2y", "points": [[0.0, 5], [0.1, 15]], "otherwise": -5},
            {"attribute": "debt_ratio", "below": True, "points": below_rows},
            {
                "attribute": "ip_class1",
                "points": [[1, 15], [3, 20]],
                "fallback": {"attribute": "ip_class2", "points": [[1, 5]]},
            },
            {"attribute": "strategic_emerging", "points": [[1, 10]], "otherwise": 5},
        ],
    }
    bands = [
        {"from": 1e8, "min": 0.03},
        {"from": 5e7, "to": 1e8, "min": 0.06},
        {"from": 0, "to": 5e7, "min": 0.0},
    ]
    first = [
        Criterion(
            "revenue",
            "threshold",
            {"attribute": "revenue_yuan", "min": revenue_min, "max_exclusive": revenue_max},
        ),  # fmt: skip
        Criterion("niche", "threshold", {"attribute": "years_in_niche", "min": niche_min}),
        Criterion("ip", "threshold", {"attribute": "ip_class1", "min": ip_min, "max": 9}),
        Criterion("spend", "threshold", {"attribute": "rd_spend_2y_yuan", "max": 3e7}),
        Criterion("score", "score", score),
    ]
    second = [
        Criterion(
            "rd_2y",
            "banded",
            {"attribute": "rd_intensity_min_2y", "band_by": "revenue_yuan", "bands": bands},
        ),  # fmt: skip
        Criterion(
            "only_score", "score", {"min_total": min_total, "indicators": score["indicators"]}
        ),
    ]
    return Ladder(
        [
            Tier("first", "first", "province", 3, first),
            Tier("open", "open", "city", 3, []),
            Tier("second", "second", "national", 3, second),
            Tier("score", "score", "national", 3, [Criterion("score", "score", score)]),
        ]
    )


def assert_same_verdicts(ladder: Ladder, values, n: int) -> None:
    compiled = Eligibility(ladder)
    for level in range(1, ladder.top + 1):
        got = compiled.meets(level, values)
        want = ladder.meets(level, values) if ladder.tier(level).criteria else np.ones(n, bool)
        assert got.dtype == np.bool_ and got.shape == (n,)
        assert got.tolist() == want.tolist(), ladder.tier(level).id


@given(seed=st.integers(0, 2**32 - 1), nan_share=st.sampled_from([0.0, 0.05]))
@settings(max_examples=40, deadline=None, derandomize=True)
def test_shipped_ladder_verdicts_equal_numpy_on_stored_firms(ladder, seed, nan_share):
    pop = firms_near_edges(seed, 600, nan_share)
    assert_same_verdicts(ladder, pop.values(), 600)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None, derandomize=True)
def test_shipped_ladder_verdicts_equal_numpy_on_float64_values(ladder, seed):
    # values in float64 (as an economist may pass them): thresholds are not rounded to float32
    pop = firms_near_edges(seed, 400, 0.02)
    stored = pop.values()

    def as_float64(name: str) -> np.ndarray:
        return stored(name).astype(np.float64)

    assert_same_verdicts(ladder, as_float64, 400)


NUMBERS = st.sampled_from([0.03, 1e7, 1e7 + 1, 5e7, 60, 2, 2.5, np.float64(0.03), np.float32(1e7),
                           np.float64(1e7 + 0.5), np.int64(3)])  # fmt: skip


@given(
    seed=st.integers(0, 2**32 - 1),
    revenue_min=NUMBERS,
    revenue_max=st.sampled_from([1e8, 1e8 + 3, np.float64(1e8 + 3), np.inf]),
    niche_min=st.sampled_from([2, 2.5, 3.0, np.float64(2.5)]),
    ip_min=st.sampled_from([1, 2, 0.5]),
    points=st.sampled_from(
        [[[0.05, 20], [0.03, 15], [0.02, 10]], [[0.05, 20.5], [0.03, 15.25]], [[0.03, 10]]]
    ),
    below_rows=st.sampled_from(
        [[[0.55, 10], [0.75, 5, "inclusive"]], [[0.55, 10, "inclusive"], [0.75, 5]], [[0.7, 2.5]]]
    ),
    min_total=st.sampled_from([20, 35, 40.5, 60]),
    nan_share=st.sampled_from([0.0, 0.05]),
)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_every_rule_verdicts_equal_numpy(
    seed, revenue_min, revenue_max, niche_min, ip_min, points, below_rows, min_total, nan_share
):
    ladder = every_rule_ladder(
        revenue_min, revenue_max, niche_min, ip_min, points, below_rows, min_total
    )
    pop = firms_near_edges(seed, 500, nan_share)
    assert_same_verdicts(ladder, pop.values(), 500)


def test_the_edge_firms_fall_on_both_sides(ladder):
    # the test firms are not all passing or all failing: the comparisons above can tell
    pop = firms_near_edges(1, 2000, 0.0)
    for level in range(1, ladder.top + 1):
        meets = Eligibility(ladder).meets(level, pop.values())
        assert 0 < meets.sum() < meets.size, level


def test_model_firms_judged_as_numpy_judges_them(hebi):
    model = GrowthModel(hebi, seed=7)
    for _ in range(3):
        model.step()
    f = model.firms
    rows = np.flatnonzero(f.alive)
    compiled = eligibility(model.ladder)
    for level in range(1, model.top + 1):
        got = np.concatenate([compiled.meets(level, f.values(part))
                              for part in np.array_split(rows, 4)])  # fmt: skip
        assert got.tolist() == model.ladder.meets(level, f.values(rows)).tolist()


def test_small_batches_compiled_large_ones_numpy(ladder, monkeypatch):
    # a few firms never reach the numpy path; more than SMALL_BATCH always do
    pop = firms_near_edges(3, SMALL_BATCH + 1, 0.0)
    compiled = Eligibility(ladder)
    want = ladder.meets(2, pop.values())
    calls = []
    monkeypatch.setattr(ladder, "meets", lambda level, values: calls.append(level) or want)
    assert compiled.meets(2, pop.values(np.arange(SMALL_BATCH))).tolist() == want[:-1].tolist()
    assert calls == []
    assert compiled.meets(2, pop.values()) is want
    assert calls == [2]


def test_one_compiled_ladder_per_ladder(ladder):
    assert eligibility(ladder) is eligibility(ladder)
    other = Ladder.standard()
    assert eligibility(other) is not eligibility(ladder)


@pytest.mark.parametrize(
    "t,dtype,expected",
    [
        (0.03, np.float32, float(np.float32(0.03))),  # a Python float takes the column's dtype
        (0.03, np.float64, 0.03),
        (np.float64(0.03), np.float32, 0.03),  # a numpy float64 keeps its own precision
        (2.5, np.int16, 2.5),  # an integer column compares exactly
        (10_000_001, np.float32, float(np.float32(10_000_001))),
    ],
)
def test_thresholds_as_numpy_compares_them(t, dtype, expected):
    assert eligibility_module._as_compared(t, np.dtype(dtype)) == expected
    x = np.array([expected], dtype=np.float64)
    # the stored threshold compares with values as numpy compares the number itself
    column = np.array([np.nextafter(np.float32(expected), np.float32(-np.inf)), expected])
    column = column.astype(dtype)
    assert (column >= t).tolist() == (column.astype(np.float64) >= x[0]).tolist()
