"""Calibration: observed data and documented choices, the one-function model contract, the
objective's bounds, dated rates and titles in the model, calibrated defaults, and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helper import srdi as run_in_process
from hypothesis import given
from hypothesis import strategies as st

from sim.calibration import calibrate as cal
from sim.calibration import fit as fitting
from sim.calibration import posterior
from sim.engine.model import GrowthModel
from sim.scenario import load
from sim.scenario import parameters as pm

ROOT = Path(__file__).resolve().parents[1]
SMALL = 400.0  # national population at 1/400: about 6,000 firms, a run in a tenth of a second


@pytest.fixture(scope="module")
def config():
    return cal.load_config()


@pytest.fixture(scope="module")
def obs():
    return cal.load_observed()


@pytest.fixture(scope="module")
def small(config, obs):
    return cal.Calibration(
        config,
        cal.moments(config, obs),
        scale=SMALL,
        runs=3,
        future={"approval.national_little_giant": (0.2, 0.4)},
    )


# --- observed data and the documented choices --------------------------------------------


def test_batches_are_the_documented_values(config, obs):
    m = {x.id: x for x in cal.moments(config, obs)}
    batches = [m[f"little_giant_batch_{y}"].value for y in range(2019, 2024)]
    assert batches == [248, 1584, 2930, 4328, 3671]  # 1584 chosen over 1744 (data README)


def test_pass_rates_are_passes_over_the_batch(config, obs):
    m = {x.id: x for x in cal.moments(config, obs)}
    assert m["re_review_pass_batch_1"].value == pytest.approx(142 / 248)
    assert m["re_review_pass_batch_2"].value == pytest.approx(1079 / 1584)


def test_over_40000_is_a_lower_bound_and_disagreeing_sources_an_interval(config, obs):
    m = {x.id: x for x in cal.moments(config, obs)}
    assert m["provincial_srdi_stock_2021"].form == "lower"
    champ = m["single_champion_stock_2023"]
    assert (champ.form, champ.low, champ.high) == ("interval", 848, 1186)


def test_lower_bound_penalises_only_values_below_it(config, obs):
    bound = next(x for x in cal.moments(config, obs) if x.form == "lower")
    assert bound.residual(bound.value * 3) == 0.0
    assert bound.residual(bound.value) == 0.0
    assert bound.residual(bound.value * 0.5) < 0.0


def test_point_residual_is_symmetric_on_the_log_scale(config, obs):
    m = cal.moments(config, obs)[0]
    assert m.residual(m.value * 2) == pytest.approx(-m.residual(m.value / 2))
    assert m.residual(m.value) == 0.0


def test_a_config_naming_an_absent_observation_is_refused(config, obs):
    bad = dict(config)
    bad["moments"] = [dict(config["moments"][0], observed=[["China", "x", "flow", 2019, 1]])]
    with pytest.raises(cal.CalibrationError, match="not in observed_counts.csv"):
        cal.moments(bad, obs)


def test_holdout_keeps_later_years_out_of_the_fit(config, obs):
    moms = cal.moments(config, obs, before=2023)
    assert all(not m.fitted for m in moms if m.year >= 2023)
    assert any(m.fitted for m in moms if m.year < 2023)


# --- the model contract ------------------------------------------------------------------


def test_simulate_returns_one_row_of_moments_per_replication(small):
    out = small.simulate(small.start(), 3, seed=5)
    assert out.shape == (3, len(small.moments))


def test_same_seed_same_moments_and_the_seed_reaches_the_model(small):
    theta = small.start()
    a = small.simulate(theta, 2, seed=5)
    b = small.simulate(theta, 2, seed=5)
    c = small.simulate(theta, 2, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(c))


def test_theta_reaches_the_model_under_common_random_numbers(small):
    theta = small.start()
    j = small.names.index("re_review.fail_if_eligible")
    lo, hi = theta.copy(), theta.copy()
    lo[j], hi[j] = 0.05, 0.95
    # batch 2 (1,584 firms: about 4 at 1/400); batch 1 is under one firm at this scale
    k = [m.id for m in small.moments].index("re_review_pass_batch_2")
    a = small.simulate(lo, 3, seed=1)[:, k]
    b = small.simulate(hi, 3, seed=1)[:, k]
    assert np.all(a >= b) and a.sum() > b.sum()  # harsher re-review, fewer firms pass


def test_a_fit_before_a_year_does_not_know_that_years_batches(config, obs):
    """A hold-out (and each backtest origin) runs with origin = the first held-out year: the
    batch of that year is drawn (sim/engine/batches.py), not the published 3,671."""
    moms = cal.moments(config, obs)
    known = cal.Calibration(config, moms, scale=50.0, runs=6)
    held = cal.Calibration(config, moms, scale=50.0, runs=6, origin=2023)
    assert known.setup.origin is None and held.setup.origin == 2023
    k = [m.id for m in moms].index("little_giant_batch_2023")
    theta = known.start()
    published = known.simulate(theta, 6, seed=3)[:, k]
    drawn = held.simulate(theta, 6, seed=3)[:, k]
    assert np.all(np.abs(published - 3671) <= 50)  # one place is 50 firms at 1/50
    assert np.ptp(drawn) > 500  # drawn around 4,328 with a spread of tens of per cent


def test_a_fit_before_a_year_simulates_with_that_origin(config, obs, monkeypatch):
    seen = []
    monkeypatch.setattr(fitting, "Runner", _recording_runner(seen))
    cal.fit(config, obs, before=2022, quick=True, progress=lambda msg: None)
    assert seen and set(seen) == {2022}


def test_a_holdout_fit_predicts_with_its_origin(config, obs, monkeypatch):
    seen = []
    monkeypatch.setattr(posterior, "Runner", _recording_runner(seen))
    fit_ = cal.Fit.load(cal.CALIBRATION_DIR / "holdout-2023")
    assert fit_.meta["fitted_before"] == 2023
    cal.predict(fit_, config, obs, runs=1, seed=1, scale=400.0)
    assert seen == [2023]


@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30).filter(lambda w: sum(w) > 1e-6),
    st.integers(1, 200),
    st.integers(0, 2**32 - 1),
)
def test_systematic_resampling_keeps_each_proposal_its_share(weights, n, seed):
    """Each proposal appears floor or ceil of n * w times: the posterior sample follows the
    weights without the extra noise of multinomial draws."""
    w = np.asarray(weights) / sum(weights)
    picked = posterior.systematic_resample(w, n, np.random.default_rng(seed))
    counts = np.bincount(picked, minlength=w.size)
    assert picked.size == n and counts.sum() == n
    assert np.all(counts >= np.floor(n * w - 1e-9)) and np.all(counts <= np.ceil(n * w + 1e-9))
    assert np.all(counts[w == 0] == 0)


def test_the_posterior_is_drawn_from_proposals_weighed_by_their_likelihood(
    config, obs, monkeypatch
):
    """With `posterior: importance` the saved sample holds only proposals the simulated
    likelihood keeps: here (a stub likelihood) those with a provincial application rate in the
    upper half of its bounds, which the Laplace sample alone would not respect."""

    def upper_half(cal_, proposal, mean, precision, series_hat, runs, runner):
        w = (proposal[:, 0] > 0.5).astype(float)
        return w / w.sum()

    monkeypatch.setattr(fitting, "importance_weights", upper_half)
    conf = dict(config, posterior="importance")
    fit_, calib = cal.fit(conf, obs, before=2022, quick=True, progress=lambda msg: None)
    name = fit_.names[0]
    units = np.array([calib.to_unit(row) for row in fit_.sample[:, : len(calib.names)]])
    assert name == calib.names[0] and np.all(units[:, 0] > 0.5)
    laplace = dict(config, posterior="laplace", importance_draws=0)
    fit_l, _ = cal.fit(laplace, obs, before=2022, quick=True, progress=lambda msg: None)
    units_l = np.array([calib.to_unit(row) for row in fit_l.sample[:, : len(calib.names)]])
    assert np.any(units_l[:, 0] <= 0.5)


@pytest.mark.parametrize(
    "change, field",
    [({"posterior": "sir"}, "posterior"), ({"posterior_proposals": 0}, "posterior_proposals")],
)
def test_a_bad_posterior_setting_is_refused_with_the_field(config, obs, change, field):
    with pytest.raises(cal.CalibrationError, match=f"field '{field}'"):
        cal.fit({**config, "posterior": "importance", **change}, obs, progress=lambda m: None)


def _recording_runner(seen: list):
    class Recording(cal.Runner):
        def __init__(self, setup, workers=1):
            seen.append(setup.origin)
            super().__init__(setup, workers)

    return Recording


def test_one_and_two_workers_give_the_same_moments(config, obs, small):
    two = cal.Calibration(
        config, small.moments, scale=SMALL, runs=3, workers=2, future=small.setup.future
    )
    theta = small.start()
    np.testing.assert_array_equal(small.simulate(theta, 3, 9), two.simulate(theta, 3, 9))


def test_one_and_two_workers_give_the_same_prediction(config, obs):
    """The posterior predictive's replications run in chunks on two workers and come back in
    replication order: the same series, bit for bit."""
    fit_ = cal.Fit.load(cal.FIT_DIR)
    one, two = (
        cal.predict(fit_, config, obs, runs=6, seed=2, scale=SMALL, workers=w) for w in (1, 2)
    )
    np.testing.assert_array_equal(one.series, two.series)
    np.testing.assert_array_equal(one.values, two.values)


def test_counts_are_scaled_back_to_national_size(small):
    s = small.series([small.start()], small.seeds(1))[0]
    provincial_2018 = s[0, cal.METRICS.index("at_least"), 0, 2]
    assert 8_000 <= provincial_2018 <= 20_000 + SMALL  # national.yaml's range, not 1/400 of it
    assert provincial_2018 % SMALL == 0


def test_approval_rates_are_reported_beside_the_observed_one(config, obs):
    fit_ = cal.Fit.load(cal.FIT_DIR)
    pred = cal.predict(fit_, config, obs, runs=3, seed=2, scale=SMALL)
    table = cal.approval_table(pred)
    assert set(table["tier"]) == {"provincial_srdi", "national_little_giant", "single_champion"}
    assert table[["p05", "p50", "p95"]].stack().between(0, 1).all()
    provincial = table[table["tier"] == "provincial_srdi"]
    assert 2019 in set(provincial["year"])  # the provincial lists, not the 2022 innovative title
    assert (provincial["observed"] == 0.62).all()  # Pingdingshan's 8 of 13 (national.yaml)
    assert table.loc[table["tier"] != "provincial_srdi", "observed"].isna().all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_calibration_figure_draws_its_words_with_every_glyph(config, obs, lang):
    import io
    import warnings

    import matplotlib.pyplot as plt

    from sim.views import calibration_plots as cp

    fit_ = cal.Fit.load(cal.FIT_DIR)
    pred = cal.predict(fit_, config, obs, runs=3, seed=2, scale=SMALL)
    table = cal.holdout_table(pred, cal.past_values(config, obs), 2023)
    figs = [
        cp.plot_fit(pred, lang=lang),
        cp.plot_residuals(pred, lang),
        cp.plot_parameters(fit_, config, lang),
        cp.plot_re_review(pred, lang),
        cp.plot_forecast(pred, cal.national_scenario(cal.ROOT / config["scenario"]), lang),
        cp.plot_holdout(table, pred, 2023, lang),
    ]
    for fig in figs:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
            fig.savefig(io.BytesIO(), format="png", dpi=40)
        plt.close(fig)
    title = figs[0].texts[0].get_text()  # the suptitle
    assert ("全国序列" in title) == (lang == "zh")


def test_tied_parameters_copy_their_source(small):
    setup = cal.Setup(
        small.scenario,
        SMALL,
        ["apply.base.provincial_srdi.2019"],
        ties={"apply.base.provincial_srdi.2020": "apply.base.provincial_srdi.2019"},
    )
    v = setup.values([0.123], np.random.SeedSequence(1))
    assert v["apply.base.provincial_srdi.2020"] == v["apply.base.provincial_srdi.2019"] == 0.123


def test_naive_baselines_repeat_the_last_value_and_extend_the_line():
    past = {2019: 248, 2020: 1584, 2021: 2930, 2022: 4328}
    b = cal.naive_baselines(past, 2023)
    assert b["repeat_last"][0] == 4328
    slope, intercept = np.polyfit(list(past), list(past.values()), 1)
    assert b["trend"][0] == pytest.approx(intercept + slope * 2023)
    assert b["trend"][1] < b["trend"][0] < b["trend"][2]


# --- the search recovers what it is given ----------------------------------------------

# parameter -> (the value the data are simulated at, where the search starts)
KNOWN = {
    "apply.base.innovative_sme": (0.30, 0.08),
    "apply.base.provincial_srdi.2019": (0.10, 0.03),  # also sets 2020-2022 (config ties)
}
# what identifies them: the first innovative-SME lists, and the provincial applicants
KNOWN_MOMENTS = [
    ("innovative_sme", "new", 2022),
    ("innovative_sme", "new", 2023),
    ("provincial_srdi", "applied", 2020),
    ("provincial_srdi", "applied", 2021),
]
RECOVERY_TOLERANCE = 0.05  # |log(fitted / known)| for each parameter


def _synthetic_moment(tier: str, metric: str, year: int, value: float) -> cal.Moment:
    return cal.Moment(
        f"{tier}_{metric}_{year}", tier, metric, tier, year, "point",
        value, value, value, 0.05, "simulated", "synthetic",
    )  # fmt: skip


def test_the_search_recovers_known_parameters_from_data_simulated_at_them(config):
    """Moments simulated at known values (1/400 scale) are fitted from a start far from them:
    the fit lands within 5 % of each known value (fails when the search does not move)."""
    names = list(KNOWN)
    known = np.array([KNOWN[n][0] for n in names])
    pc = config["parameters"]
    ties = {extra: n for n in names for extra in pc[n].get("sets", [])}
    probe = cal.Calibration(
        config,
        [_synthetic_moment(*m, 1.0) for m in KNOWN_MOMENTS],
        names=names,
        scale=SMALL,
        runs=4,
        ties=ties,
    )
    # the search's own replications (its seed, its number of runs): the known values are then
    # an exact zero of the objective, and what is tested is the search, not Monte Carlo error
    data = probe.aggregate(probe.simulate(known, 4, seed=probe.seed))
    assert np.all(data > 0)
    synthetic = dict(
        config,
        scale=SMALL,
        runs=4,
        warm_passes=0,
        max_evaluations=10,
        # the point found is what is tested: the Laplace posterior needs no simulation (the
        # shipped config's 800 weighed proposals took most of this test's three minutes;
        # test_the_posterior_is_drawn_from_proposals_weighed_by_their_likelihood tests them)
        posterior="laplace",
        posterior_draws=20,
        importance_draws=0,
        parameters={n: dict(pc[n], start=KNOWN[n][1]) for n in names},
        moments=[
            {"id": f"{t}_{m}_{y}", "metric": m, "tier": t, "year": y, "sd_log": 0.05,
             "observed": [["Synthetic", t, m, y, float(v)]]}
            for (t, m, y), v in zip(KNOWN_MOMENTS, data, strict=True)
        ],
    )  # fmt: skip
    obs = pd.DataFrame(
        [
            {"region": "Synthetic", "tier": t, "year": y, "count": float(v), "kind": m,
             "source": "simulated", "note": ""}
            for (t, m, y), v in zip(KNOWN_MOMENTS, data, strict=True)
        ]
    )  # fmt: skip
    fitted, _ = cal.fit(synthetic, obs, progress=lambda msg: None)
    theta = dict(zip(fitted.names, fitted.theta, strict=True))
    for n in names:
        start, truth = KNOWN[n][1], KNOWN[n][0]
        assert abs(math.log(theta[n] / truth)) < RECOVERY_TOLERANCE, (n, theta[n], truth)
        assert abs(math.log(start / truth)) > 20 * RECOVERY_TOLERANCE  # the start was far
    # the tied years take the fitted value
    assert theta["apply.base.provincial_srdi.2021"] == theta["apply.base.provincial_srdi.2019"]


# --- the model's dated titles and rates --------------------------------------------------


@pytest.fixture(scope="module")
def national_small():
    return {
        "baseline.candidates": 5_000,
        "baseline.candidate_inflow_per_year": 500,
        "baseline.counts.provincial_srdi": 40,
        "baseline.counts.single_champion": 1,
    }


def test_innovative_smes_exist_only_from_2022_nationally(national_small):
    sc = load(ROOT / "scenarios" / "national.yaml")
    m = GrowthModel(sc, seed=3, values=national_small)
    m.run_model()
    by_year = {r.year: r for r in m.history}
    assert all(by_year[y].new[1] == 0 and by_year[y].exactly[1] == 0 for y in (2019, 2020, 2021))
    assert by_year[2022].new[1] > 0
    assert by_year[2019].new[2] > 0  # provincial titles straight from the pool before 2022


def test_a_firm_gets_at_most_one_title_in_the_year_a_tier_appears(national_small):
    sc = load(ROOT / "scenarios" / "national.yaml")
    m = GrowthModel(sc, seed=4, values=national_small)
    while m.year < 2021:
        m.step()
    before = m.firms.tier.copy()
    m.step()  # 2022: innovative SMEs appear; provincial titles still from the pool
    n = before.size
    after = m.firms.tier[:n]
    up = after > before
    assert np.all(after[up & (before == 0)] <= 2)
    assert m.history[-1].new[1:].sum() == np.count_nonzero(up)  # one title per firm


def test_a_title_the_baseline_counts_is_in_place_from_the_start():
    sc = load(ROOT / "scenarios" / "xinxiang.yaml")
    m = GrowthModel(sc, seed=1)
    assert m.granted(1, sc.period.base_year)
    assert m.step_below(2, sc.period.start) == 1  # provincial still needs the innovative title


def test_a_published_batch_is_granted_as_published_where_applicants_suffice(national_small):
    sc = load(ROOT / "scenarios" / "national.yaml")
    scale = 1 / 200
    values = dict(national_small, **{"competition.quota_scale": scale})
    m = GrowthModel(sc, seed=2, values=values)
    m.run_model()
    for r in m.history:
        if r.year in (2021, 2022):  # batches 3 and 4: 2,930 and 4,328-4,359 firms
            places = m.competition.quota_of(3, r.year)
            assert r.new[3] == min(r.applied[3], int(np.floor(places + 1e-9)))
    # 14.65 places at 1/200: 14 or 15 whole places (rounded up with probability 0.65)
    assert m.competition.quota_of(3, 2021) in (np.floor(2930 * scale), np.ceil(2930 * scale))


# --- calibrated defaults -----------------------------------------------------------------


@pytest.fixture
def saved_fit(tmp_path, monkeypatch):
    (tmp_path / "posterior.csv").write_text(
        "approval.single_champion,re_review.fail_if_eligible\n0.1,0.01\n0.2,0.02\n0.3,0.03\n"
    )
    (tmp_path / "fit.yaml").write_text(
        yaml.safe_dump(
            {
                "method": "test",
                "parameters": {"approval.single_champion": 0.2, "re_review.fail_if_eligible": 0.02},
                "posterior": "posterior.csv",
                "ranges": {"approval.national_little_giant": {"value": 0.3, "range": [0.2, 0.4]}},
            }
        )
    )
    monkeypatch.setenv(pm.CALIBRATION_ENV, str(tmp_path / "fit.yaml"))
    pm._defaults.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    pm._defaults.cache_clear()


def test_defaults_take_the_saved_fit(saved_fit):
    d = pm.defaults()
    assert d["approval.single_champion"].value == 0.2
    assert d["approval.single_champion"].basis == "calibrated"
    assert (d["approval.national_little_giant"].low, d["approval.national_little_giant"].high) == (
        0.2,
        0.4,
    )


def test_replications_draw_calibrated_parameters_jointly_from_the_sample(saved_fit):
    d = pm.defaults()
    seen = set()
    for s in range(40):
        p = pm.draw(d, np.random.default_rng(s))
        assert p["re_review.fail_if_eligible"] == pytest.approx(p["approval.single_champion"] / 10)
        seen.add(p["approval.single_champion"])
    assert seen == {0.1, 0.2, 0.3}


def test_the_sample_draw_leaves_the_other_draws_alone(saved_fit, monkeypatch):
    with_fit = pm.draw(pm.defaults(), np.random.default_rng(11))
    monkeypatch.setenv(pm.CALIBRATION_ENV, "off")
    pm._defaults.cache_clear()
    without = pm.draw(pm.defaults(), np.random.default_rng(11))
    fitted = {"approval.single_champion", "re_review.fail_if_eligible"}
    same = [
        n
        for n in without
        if pm.defaults()[n].draw and n not in fitted and "national_little_giant" not in n
    ]
    assert same and all(with_fit[n] == without[n] for n in same)


def test_a_scenario_parameter_wins_over_the_calibrated_default(saved_fit):
    text = (ROOT / "scenarios" / "hebi.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    doc.setdefault("parameters", {})["approval.single_champion"] = {
        "value": 0.05,
        "source": "a test",
    }
    from sim.scenario import Scenario

    sc = Scenario.model_validate(doc)
    assert sc.specs()["approval.single_champion"].value == 0.05
    assert sc.specs()["approval.single_champion"].sample is None


def test_shipped_fit_has_a_value_and_a_sample_for_every_parameter():
    fit = cal.Fit.load(cal.FIT_DIR)
    assert fit.sample.shape == (len(fit.sample), len(fit.names))
    assert len(fit.sample) >= 100
    for j, name in enumerate(fit.names):
        lo, hi = cal.bounds_of(cal.load_config(), name)
        assert lo <= fit.theta[j] <= hi
        assert np.all((fit.sample[:, j] >= lo - 1e-9) & (fit.sample[:, j] <= hi + 1e-9))


# --- the command line (quick settings) ---------------------------------------------------


def _srdi(*args, cwd=ROOT):
    return run_in_process(*args, cwd=cwd)


def test_quick_calibration_writes_the_fit_and_every_figure(tmp_path):
    r = _srdi("calibrate", "--quick", "--out", str(tmp_path), "--workers", "1", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fit.yaml").is_file() and (tmp_path / "posterior.csv").is_file()
    for name in cal.FIGURES:
        assert (tmp_path / "figures" / name).stat().st_size > 1000
    assert "little_giant_batch_2019" in r.stdout


def test_reproduce_gives_identical_figures_for_the_same_seed(tmp_path):
    out = tmp_path / "fit"
    out.mkdir()
    for name in ("fit.yaml", "posterior.csv"):
        (out / name).write_bytes((cal.FIT_DIR / name).read_bytes())
    first = cal.reproduce(out, seed=4, quick=True, figures=tmp_path / "a", backtest=tmp_path / "c")
    second = cal.reproduce(out, seed=4, quick=True, figures=tmp_path / "b", backtest=tmp_path / "d")
    assert [p.name for p in first] == [p.name for p in second]
    assert "backtest.md" in [p.name for p in first]  # the backtest is regenerated too
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_quick_holdout_prints_errors_next_to_both_baselines(tmp_path):
    r = _srdi("calibrate", "--quick", "--holdout-from", "2023", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "repeat" in r.stdout and "trend" in r.stdout and "coverage" in r.stdout
    table = (tmp_path / "figures" / "holdout_2023.csv").read_text()
    assert "little_giant_batch_2023" in table
    row = next(line for line in table.splitlines() if line.startswith("little_giant_batch_2023"))
    assert ",3671," in row
    assert math.isfinite(float(row.split(",")[3]))


def test_holdout_before_any_data_is_refused(tmp_path):
    r = _srdi("calibrate", "--quick", "--holdout-from", "2010", "--out", str(tmp_path))
    assert r.returncode == 2
    assert "no observation before 2010" in r.stderr


def test_the_search_costs_fewer_simulation_batches_than_scipy_least_squares():
    """Why the fit keeps its own Levenberg-Marquardt search (`_gauss_newton`) rather than
    `scipy.optimize.least_squares`: a residual evaluation is a batch of simulations (16 national
    replications, about 13 s on 2 cores), and least_squares takes a new finite-difference
    Jacobian at every iteration, where `_gauss_newton` takes one at the start and Broyden
    updates after, one batch a step. Both are given the same Jacobian: its p + 1 points run in
    parallel as one batch.

    On a problem shaped like the calibration's (6 parameters in the unit cube, 11 log-scale
    residuals, the optimum inside), both reach the optimum; `_gauss_newton` in a fraction of
    the batches."""
    from scipy.optimize import least_squares

    rng = np.random.default_rng(5)
    p, m = 6, 11
    A = rng.normal(size=(m, p))
    truth = rng.uniform(0.2, 0.8, p)
    target = np.log1p(np.exp(A @ truth))  # a smooth, non-linear link

    def fun(u: np.ndarray) -> np.ndarray:
        return (np.log1p(np.exp(A @ u)) - target) / 0.05

    batches = {"own": 0}

    def own_fun(u):
        batches["own"] += 1
        return fun(u)

    def jac(u):  # forward differences, the p + 1 points evaluated as one parallel batch
        h = 1e-4
        r0 = fun(u)
        return np.stack([(fun(u + h * np.eye(p)[j]) - r0) / h for j in range(p)], axis=1)

    def own_jac(u):
        batches["own"] += 1
        return jac(u)

    start = np.full(p, 0.5)
    u_own, r_own = fitting._gauss_newton(own_fun, own_jac, start, 50, lambda s: None)
    # least_squares given the same parallel Jacobian (one batch each), its fairest use
    scipy_fit = least_squares(fun, start, jac=jac, bounds=(0.0, 1.0), method="trf")
    scipy_batches = scipy_fit.nfev + scipy_fit.njev

    assert float(r_own @ r_own) < 1e-3 and 2 * scipy_fit.cost < 1e-3  # both find the optimum
    np.testing.assert_allclose(u_own, truth, atol=1e-2)
    assert batches["own"] * 2 <= scipy_batches  # at most half the simulation batches
