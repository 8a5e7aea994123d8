"""Rationed titles: the competition rule and the batch-size distribution."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.batches import BatchSpread, PublishedBatch, StatedGoal, plan_batches
from sim.engine.rationing import _cutoff_by_bisection, approve, cutoff_rate, expected_approved
from sim.scenario.parameters import central, defaults

SPREAD = BatchSpread.of(central(defaults()))  # the shipped assumptions (parameters.yaml)
BATCHES = [248, 1584, 2930, 4328, 3671]  # national little giants 2019-2023


def published(counts=BATCHES, first=2019):
    return [PublishedBatch(first + i, c, c) for i, c in enumerate(counts)]


# --- the competition rule ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 300),
    quota=st.floats(0, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_whole_pool_grants_exactly_the_quota_or_everyone(n, quota, seed):
    rng = np.random.default_rng(seed)
    won = approve(rng.normal(size=n), rng.random(n), quota)
    assert won.sum() == min(n, int(np.floor(quota + 1e-9)))


def test_stronger_applicants_win_more_often():
    rng = np.random.default_rng(1)
    log_weight = np.repeat([0.0, 1.0], 5000)
    wins = np.zeros(2)
    for _ in range(20):
        won = approve(log_weight, rng.random(log_weight.size), 3000)
        wins += [won[:5000].sum(), won[5000:].sum()]
    assert wins[1] > 1.3 * wins[0]


def test_equal_weights_give_every_applicant_the_same_chance():
    rng = np.random.default_rng(2)
    won = np.zeros(1000)
    for _ in range(400):
        won += approve(np.zeros(1000), rng.random(1000), 250)
    assert abs(won.mean() / 400 - 0.25) < 0.005
    assert won.std() / 400 < 0.04  # no applicant systematically favoured


def test_a_place_inside_a_larger_pool_gets_its_share_of_the_places():
    # 20 applicants of the place against 980 equally strong others for 100 places: 2 expected
    rng = np.random.default_rng(3)
    n = [approve(np.zeros(20), rng.random(20), 100, 980, 0.0).sum() for _ in range(4000)]
    assert abs(np.mean(n) - 2.0) < 0.1
    p = expected_approved(np.zeros(20), 100, 980, 0.0)
    assert np.allclose(p, p[0]) and abs(p.sum() - 2.0) < 0.02


def test_the_rest_being_stronger_lowers_the_place_share():
    even = expected_approved(np.zeros(20), 100, 980, 0.0).sum()
    weaker = expected_approved(np.zeros(20), 100, 980, 0.5).sum()
    assert weaker < 0.75 * even


def test_a_bigger_rest_of_the_pool_lowers_the_place_titles():
    small = expected_approved(np.zeros(20), 100, 500, 0.0).sum()
    big = expected_approved(np.zeros(20), 100, 2000, 0.0).sum()
    assert big < 0.5 * small


def test_the_aggregate_rule_agrees_with_simulating_the_whole_pool():
    # the same pool simulated whole vs as 20 firms + an aggregate of 480: same expected titles
    rng = np.random.default_rng(4)
    whole = []
    for _ in range(3000):
        won = approve(np.zeros(500), rng.random(500), 50)
        whole.append(won[:20].sum())
    aggregate = expected_approved(np.zeros(20), 50, 480, 0.0).sum()
    assert abs(np.mean(whole) - aggregate) < 0.06


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-4.0, 0.0), min_size=1, max_size=60),
    st.sampled_from([0.5, 10.0, 300.0, 3000.0]),
    st.floats(-3.0, 0.0),
    st.floats(0.001, 0.999),
)
def test_the_cut_off_fills_the_quota_and_agrees_with_bisection(log_w, rest, log_rest, share):
    """Newton's cut-off fills the quota in expectation and is the bisection's to its tolerance."""
    w, rest_w = np.exp(np.array(log_w)), float(np.exp(log_rest))
    n = w.size + rest
    quota = share * n
    lam = cutoff_rate(w, quota, rest, rest_w)
    filled = float(np.sum(-np.expm1(-lam * w))) + rest * -np.expm1(-lam * rest_w)
    assert filled == pytest.approx(quota, rel=1e-9)
    by_halving = _cutoff_by_bisection(w, quota, rest, rest_w, n, max(w.max(), rest_w))
    assert lam == pytest.approx(by_halving, rel=1e-9)


def test_same_uniforms_give_the_same_winners():
    rng = np.random.default_rng(5)
    lw, u = rng.normal(size=50), rng.random(50)
    assert np.array_equal(approve(lw, u, 10), approve(lw, u, 10))
    assert np.array_equal(approve(lw, u, 10, 200, 0.1), approve(lw, u, 10, 200, 0.1))


def test_no_places_no_titles():
    assert not approve(np.zeros(5), np.full(5, 0.5), 0).any()
    assert not approve(np.zeros(5), np.full(5, 0.5), 0, 100, 0.0).any()


# --- the batch-size distribution --------------------------------------------------------------


def test_published_batches_are_used_as_published():
    plan = plan_batches(published(), [], 2024, list(range(2019, 2026)), SPREAD)
    drawn = plan.draw(list(range(2019, 2026)), np.random.default_rng(0))
    assert [drawn[y] for y in range(2019, 2024)] == BATCHES


def test_the_median_follows_the_last_change_until_the_goal_is_in_reach():
    goal = [StatedGoal("cumulative", 10_000, 2025, published_year=2021)]
    plan = plan_batches(published(), goal, 2022, list(range(2022, 2026)), SPREAD)
    assert plan.median[2022] == pytest.approx(2930 + 1346)  # 5,238 to go: the batch grows
    assert plan.median[2023] == plan.median[2022]  # 962 to go: the batch that meets it holds
    assert plan.median[2025] == plan.median[2023]  # the goal is met: the level holds
    no_goal = plan_batches(published(), [], 2022, [2022, 2023], SPREAD)
    assert no_goal.median[2023] == pytest.approx(2930 + 2 * 1346)


def test_a_single_pilot_batch_gives_a_wide_spread_around_its_level():
    plan = plan_batches(published(), [], 2020, [2020, 2021], SPREAD)
    assert plan.median == {2020: 248, 2021: 248}
    assert plan.sigma == SPREAD.sigma_one_batch
    assert plan.quantiles(2020, [0.95])[0] > 6 * 248  # batch 2 (1,584) inside the interval
    two = plan_batches(published(), [], 2021, [2021], SPREAD)
    assert two.sigma < SPREAD.sigma_one_batch


def test_a_goal_the_trend_falls_short_of_sets_the_pace_until_its_deadline():
    """MIIT's first goal, about 600 little giants over 2018-2020, known at origin 2020: after
    batch 1's 248 the even pace is the 352 left; the level then holds (the goal is met)."""
    goal = [StatedGoal("cumulative", 600, 2020, published_year=2018)]
    plan = plan_batches(published(), goal, 2020, [2020, 2021], SPREAD)
    assert plan.median == {2020: pytest.approx(352), 2021: pytest.approx(352)}
    # a goal three years out is paced evenly: (1,000 - 248) / 3 a year, then the level holds
    later = [StatedGoal("cumulative", 1_000, 2022, published_year=2018)]
    paced = plan_batches(published(), later, 2020, [2020, 2021, 2022, 2023], SPREAD)
    assert [paced.median[y] for y in (2020, 2021, 2022, 2023)] == pytest.approx([752 / 3] * 4)
    assert sum(paced.median[y] for y in (2020, 2021, 2022)) + 248 == pytest.approx(1_000)


def test_a_goal_whose_deadline_has_passed_is_not_followed():
    """At origin 2022 the 2018-2020 goal is history: the batches follow the trend (and the
    10,000 goal), as without it."""
    old = StatedGoal("cumulative", 600, 2020, published_year=2018)
    goal = [StatedGoal("cumulative", 10_000, 2025, published_year=2021)]
    with_old = plan_batches(published(), [old, *goal], 2022, list(range(2022, 2026)), SPREAD)
    assert (
        with_old.median
        == plan_batches(published(), goal, 2022, list(range(2022, 2026)), SPREAD).median
    )
    assert plan_batches(published(), [old], 2021, [2021], SPREAD).median[2021] == 1584 + 1336


def test_a_trend_ahead_of_the_goal_is_not_slowed_to_its_pace():
    goal = [StatedGoal("cumulative", 20_000, 2025, published_year=2021)]
    plan = plan_batches(published(), goal, 2022, [2022], SPREAD)
    assert plan.median[2022] == pytest.approx(2930 + 1346)  # pace 3,810 < trend 4,276


def test_a_goal_not_yet_published_is_not_known():
    goal = [StatedGoal("cumulative", 3_000, 2025, published_year=2022)]
    plan = plan_batches(published(), goal, 2021, [2021, 2022, 2023], SPREAD)
    assert plan.median[2023] > plan.median[2022] > plan.median[2021]


def test_after_a_cut_the_level_holds():
    plan = plan_batches(published(), [], 2024, [2024, 2025], SPREAD)
    assert plan.median[2024] == plan.median[2025] == 3671


def test_a_per_year_goal_sets_the_level():
    henan = published([100, 928, 1183], first=2020)
    goal = [StatedGoal("per_year", 1000, 2025, published_year=2022)]
    plan = plan_batches(henan, goal, 2023, [2023, 2024, 2025], SPREAD)
    assert plan.median == {2023: 1000, 2024: 1000, 2025: 1000}


def test_spread_grows_with_the_horizon_and_the_median_holds():
    plan = plan_batches(published(), [], 2024, [2024, 2025], SPREAD)
    assert plan.log_sd[2025] > plan.log_sd[2024]
    rng = np.random.default_rng(7)
    draws = np.array([plan.draw([2024, 2025], rng)[2025] for _ in range(4000)])
    assert abs(np.median(draws) / 3671 - 1) < 0.05
    lo, hi = plan.quantiles(2025, [0.05, 0.95])
    inside = np.mean((draws >= lo) & (draws <= hi))
    assert 0.87 < inside < 0.93


def test_no_published_batch_is_an_error():
    with pytest.raises(ValueError, match="no batch published before 2019"):
        plan_batches(published(), [], 2019, [2019], SPREAD)


def test_a_partial_year_is_forecast_and_stays_above_its_bound():
    henan = published([100, 928, 1183], first=2020) + [PublishedBatch(2023, 551, 551, True)]
    plan = plan_batches(henan, [], 2024, [2023, 2024], SPREAD)
    assert 2023 in plan.median and plan.median[2023] > 1183
    rng = np.random.default_rng(0)
    assert min(plan.draw([2023, 2024], rng)[2023] for _ in range(500)) >= 551


def test_the_spread_assumptions_are_parameters_a_run_can_set():
    """The batch spread and the share spread are read from the replication's values
    (sim/data/parameters.yaml), so `--set` and sweeps can vary them."""
    from pathlib import Path

    from sim.engine.inputs import draw_inputs
    from sim.scenario import load, parse_settings

    wide = dict(central(defaults()), **{"batches.sigma_one_batch": 1.0})
    assert plan_batches(published()[:1], [], 2020, [2020], BatchSpread.of(wide)).sigma == 1.0
    hebi = load(Path(__file__).resolve().parents[1] / "scenarios" / "hebi.yaml")
    fixed = "competition.batch_quantile.national_little_giant=0.5"  # MIIT's batches held
    seeds = [np.random.SeedSequence(s) for s in range(4)]
    for share_sd, distinct in (("0", 1), ("0.2", 4)):
        values = parse_settings(hebi, [fixed, f"competition.share_log_sd={share_sd}"])
        quotas = {draw_inputs(hebi, s, values)[1].quota_of(3, 2025) for s in seeds}
        assert len(quotas) == distinct  # without a spread Henan's share is its last one
