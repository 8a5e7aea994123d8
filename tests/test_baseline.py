"""Baselines from the counts planners have (scenario/baseline.py): counts as of a date, cumulative
counts, default candidates, and scenarios without a plan."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.errors import ScenarioErrors
from sim.runs.ensemble import TARGET_COLUMNS, run_ensemble
from sim.scenario import Scenario, baseline, load, parse, read_yaml
from sim.scenario.baseline import valid_share

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
HENAN = ROOT / "scenarios" / "henan_status_quo.yaml"


def doc(path: Path) -> dict:
    return read_yaml(path.read_text(encoding="utf-8"))


def build(data: dict, name: str = "test.yaml") -> Scenario:
    return parse(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), name)


def errors_of(data: dict) -> list:
    with pytest.raises(ScenarioErrors) as e:
        build(data)
    return e.value.errors


def henan(**counts) -> dict:
    """Henan's status-quo scenario with some counts replaced."""
    d = doc(HENAN)
    for tier, q in counts.items():
        d["baseline"]["counts"][tier] = q
    return d


def bounds(sc: Scenario, path: str) -> tuple[float, float]:
    spec = sc.specs()[path]
    return spec.low, spec.high


# --- 1. counts as of a date ---------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2022-05", "2022-12", "2023-01", "2023-04", "2022-07-15"])
def test_a_count_dated_between_the_base_years_list_and_the_next_is_used_as_stated(as_of):
    q = {"value": 2000, "as_of": as_of, "source": "test"}
    sc = build(henan(provincial_srdi=q))  # Henan's lists come out in May; base year 2022
    assert bounds(sc, "baseline.counts.provincial_srdi") == (2000, 2000)
    assert any("as of " + as_of in n for n in sc.notes_for_forecast())


def test_a_count_dated_before_the_base_years_list_is_refused_with_the_dates_accepted():
    q = {"value": 2000, "as_of": "2022-03", "source": "test"}
    [e] = errors_of(henan(provincial_srdi=q))
    assert e.file == "test.yaml"
    assert e.path == "baseline.counts.provincial_srdi.as_of"
    assert "2022-05 to 2023-04" in e.expected and "May" in e.expected
    assert "'2022-03'" in e.found and "lacks" in e.found
    assert "base_year to 2021" in e.fix
    assert e.line is not None


def test_a_count_dated_after_the_next_list_is_refused():
    q = {"value": 370, "as_of": "2023-09", "source": "test"}  # after MIIT's 2023 batch (August)
    [e] = errors_of(henan(national_little_giant=q))
    assert e.path == "baseline.counts.national_little_giant.as_of"
    assert "2022-08 to 2023-07" in e.expected
    assert "end-2023" in e.found


def test_national_titles_follow_miits_month_and_unknown_months_december():
    ok = {"value": 370, "as_of": "2022-08", "source": "test"}
    build(henan(national_little_giant=ok))
    early = {"value": 370, "as_of": "2022-07", "source": "test"}
    assert errors_of(henan(national_little_giant=early))[0].kind == "as_of_outside_base_year"
    # Henan's innovative lists have no month: only a date from 2022-12 to 2023-11 is end-2022
    build(henan(innovative_sme={"value": 10040, "as_of": "2023-11", "source": "test"}))
    late = {"value": 10040, "as_of": "2022-11", "source": "test"}
    [e] = errors_of(henan(innovative_sme=late))
    assert "2022-12 to 2023-11" in e.expected


@pytest.mark.parametrize("bad", ["2023-13", "March 2023", "23-03"])
def test_a_malformed_as_of_is_an_error(bad):
    [e] = errors_of(henan(provincial_srdi={"value": 1, "as_of": bad, "source": "test"}))
    assert e.path == "baseline.counts.provincial_srdi.as_of"
    assert "YYYY-MM" in e.expected


# --- 2. valid versus cumulative counts ----------------------------------------------------


def test_a_cumulative_count_becomes_fewer_valid_titles_with_a_wider_range():
    q = {"value": 2211, "measure": "cumulative", "source": "test"}
    sc = build(henan(provincial_srdi=q))
    low, high = bounds(sc, "baseline.counts.provincial_srdi")
    assert 0 < low < high <= 2211
    assert sc.specs()["baseline.counts.provincial_srdi"].draw
    assert any("measure cumulative converted" in n for n in sc.notes_for_forecast())


def test_a_cumulative_range_never_yields_more_valid_holders_than_it_counts():
    q = {
        "low": 300,
        "high": 400,
        "measure": "cumulative",
        "basis": "estimate",
        "how": "t",
        "source": "t",
    }
    # the tiers above innovative SMEs made smaller so that the counts stay in ladder order
    smaller = {
        "provincial_srdi": {"value": 200, "measure": "cumulative", "source": "t"},
        "national_little_giant": {"value": 100, "measure": "cumulative", "source": "t"},
    }
    for tier in ("innovative_sme", "provincial_srdi", "national_little_giant", "single_champion"):
        counts = {**smaller, tier: q} if tier == "innovative_sme" else {tier: q}
        sc = build(henan(**counts))
        low, high = bounds(sc, f"baseline.counts.{tier}")
        assert 0 <= low <= high <= 400
        assert low <= 300


def test_measure_valid_is_the_count_as_stated():
    stated = {"value": 2211, "source": "test"}
    valid = {**stated, "measure": "valid"}
    a, b = build(henan(provincial_srdi=stated)), build(henan(provincial_srdi=valid))
    assert (
        a.specs()["baseline.counts.provincial_srdi"] == b.specs()["baseline.counts.provincial_srdi"]
    )
    assert bounds(a, "baseline.counts.provincial_srdi") == (2211, 2211)


def test_valid_share_bounds():
    # one list granted in the base year: only its first year's closures
    assert valid_share([(0, 100)], 3, 0.6, 0.7, 0.01, 0.04) == pytest.approx((0.96, 0.99))
    # older lists have passed a re-review: a lower share
    old = valid_share([(3, 100)], 3, 0.6, 0.7, 0.01, 0.04)
    assert old[0] == pytest.approx(0.6 * 0.96**4) and old[1] == pytest.approx(0.7 * 0.99**4)
    # ages unknown: from every title re-reviewed once to every title new
    lo, hi = valid_share(None, 3, 0.6, 0.7, 0.01, 0.04)
    assert lo == pytest.approx(0.6 * 0.96**4) and hi == pytest.approx(0.99)
    for ages in ([(0, 1)], [(5, 10), (1, 3)], None):
        lo, hi = valid_share(ages, 3, 0.5, 0.9, 0.0, 0.1)
        assert 0 <= lo <= hi <= 1


def test_a_scenario_without_the_new_fields_draws_what_it_drew_before():
    sc = load(HEBI)
    assert sc.resolved_baseline().notes == []
    for tier, q in sc.baseline.counts.items():
        assert sc.specs()[f"baseline.counts.{tier}"] == q.spec(integer=True)
    assert sc.specs()["baseline.candidates"] == sc.baseline.candidates.spec(integer=True)


# --- 4. default candidates ----------------------------------------------------------------


def test_a_place_that_states_candidates_keeps_them():
    sc = load(HEBI)
    assert bounds(sc, "baseline.candidates") == (400, 800)
    assert bounds(sc, "baseline.candidate_inflow_per_year") == (60, 150)


def test_a_place_that_omits_them_gets_the_default_with_a_note():
    sc = load(HENAN)
    assert sc.baseline.candidates is None
    low, high = bounds(sc, "baseline.candidates")
    assert 0 < low < high
    notes = " ".join(sc.notes_for_forecast())
    assert "baseline.candidates: default (not stated)" in notes
    assert "scenarios/national.yaml" in notes and "assumption" in notes
    assert bounds(sc, "baseline.candidate_inflow_per_year")[0] > 0


def test_the_default_scales_with_the_places_counts():
    base = doc(HENAN)
    twice = copy.deepcopy(base)
    twice["baseline"]["counts"]["provincial_srdi"]["value"] = 2 * 2211
    a, b = bounds(build(base), "baseline.candidates"), bounds(build(twice), "baseline.candidates")
    assert b[0] == pytest.approx(2 * a[0], rel=1e-3) and b[1] == pytest.approx(2 * a[1], rel=1e-3)


def test_only_the_missing_one_is_defaulted():
    d = doc(HENAN)
    d["baseline"]["candidates"] = {"value": 50000, "source": "test"}
    sc = build(d)
    assert bounds(sc, "baseline.candidates") == (50000, 50000)
    assert bounds(sc, "baseline.candidate_inflow_per_year")[0] > 0


def test_no_default_without_a_tier_counted_nationally_at_the_base_year():
    d = doc(HEBI)
    del d["baseline"]["candidates"]
    d["period"] = {"base_year": 2019, "start": 2020, "end": 2025}
    d["targets"] = []
    [e] = errors_of(d)
    assert e.path == "baseline.candidates" and e.kind == "missing_key"
    assert "2019" in e.expected


# --- 3. a place with no plan --------------------------------------------------------------


def test_a_scenario_with_no_document_levers_or_targets_forecasts_the_status_quo():
    sc = load(HENAN)
    assert sc.document is None and sc.targets == [] and not sc.has_levers
    result = run_ensemble(sc, runs=3, seed=1)
    assert result.counterfactual is result.runs  # the forecast itself
    t = result.targets()
    assert t.empty and list(t.columns) == [*TARGET_COLUMNS, "probability_without_levers"]
    out = result.to_dict()
    assert out["targets"] == [] and out["document"] is None
    assert out["has_targets"] is False and out["has_levers"] is False
    assert any(n.startswith("No targets") for n in out["notes"])
    assert all(r["mean"] == 0 for r in out["attributable"])
    assert np.all(result.runs["at_least"][:, -1, 1] > 0)


def test_a_scenario_without_levers_gives_the_same_counterfactual_as_running_it():
    sc = load(HENAN)
    reused = run_ensemble(sc, runs=2, seed=3)
    from sim.runs.ensemble import run_replication

    seeds = np.random.SeedSequence(3).spawn(2)
    off = [run_replication(sc, s, levers_on=False) for s in seeds]
    for r, o in enumerate(off):
        assert np.array_equal(reused.counterfactual["at_least"][r], o["at_least"])


def test_a_sweep_refuses_a_scenario_without_targets():
    from sim.runs.sweep import SweepError, plan

    with pytest.raises(SweepError) as e:
        plan(load(HENAN), ["baseline.candidates=1000,2000"])
    assert e.value.path == "targets" and e.value.found == "no targets"


def test_the_default_basis_is_the_national_scenarios_pool():
    """sim/data/candidate_default.yaml restates national.yaml's pool for installed packages."""
    national = load(ROOT / "scenarios" / "national.yaml").baseline
    rule = baseline._default_rule()["national"]
    for name in ("candidates", "candidate_inflow_per_year"):
        q = getattr(national, name)
        assert (rule[name]["low"], rule[name]["high"]) == (q.low, q.high)
