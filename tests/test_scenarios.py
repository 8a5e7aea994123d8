"""The shipped scenarios: each validates, forecasts, and says what its plan says.

Also the scenario features the plans need: renamed and local tiers (the `ladder:` section),
threshold overrides, cumulative counts from the base year, titles created in the first year.
The national scenario's full-scale ensemble runs only with SRDI_SLOW=1 (about 2 minutes);
the suite checks it at full scale by building one model, and forecasts it scaled down.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.engine.ladder import STANDARD_TIERS, Ladder
from sim.engine.model import GrowthModel
from sim.runs.ensemble import run_ensemble
from sim.scenario import Scenario, load, parse, read_yaml, validate_files

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
PLACES = ["hebi", "xinxiang", "zhejiang", "zhanjiang", "wujiang"]
VALID_FIXTURE = ROOT / "tests" / "fixtures" / "bad_scenarios" / "valid.yaml"

# national at a size that runs in a second: the full-size run is checked separately
NATIONAL_SMALL = {
    "baseline.candidates": 20_000,
    "baseline.candidate_inflow_per_year": 2_000,
    "baseline.counts.provincial_srdi": 100,
    "baseline.counts.single_champion": 2,
}


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Scenario]:
    return {p.stem: load(p) for p in SHIPPED}


def test_every_seed_place_and_the_country_has_a_scenario():
    assert {p.stem for p in SHIPPED} >= {*PLACES, "national"}


def test_every_shipped_scenario_validates():
    assert validate_files(SHIPPED) == []


@pytest.mark.parametrize("name", PLACES)
def test_every_place_forecasts(scenarios, name):
    sc = scenarios[name]
    result = run_ensemble(sc, runs=5, seed=1)
    t = result.targets()
    assert list(t["id"]) == [x.id for x in sc.targets]
    assert t["probability"].between(0, 1).all()
    assert t["probability_without_levers"].between(0, 1).all()
    assert result.years == [sc.period.base_year, *sc.period.years]


def test_national_forecasts_scaled_down(scenarios):
    result = run_ensemble(scenarios["national"], runs=2, seed=1, values=NATIONAL_SMALL)
    assert len(result.targets()) == len(scenarios["national"].targets)


def test_national_runs_at_national_scale(scenarios):
    model = GrowthModel(scenarios["national"], seed=1)
    assert model.firms.n > 1_000_000
    assert model.period.base_year == 2018 and model.period.end == 2025


@pytest.mark.skipif(not os.environ.get("SRDI_SLOW"), reason="full national ensemble: SRDI_SLOW=1")
def test_national_ensemble_at_full_scale(scenarios):
    result = run_ensemble(scenarios["national"], runs=2, seed=1)
    assert result.n_runs == 2
    assert result.runs["at_least"][:, 0, 0].min() > 1_000_000


# --- what the files say --------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_place_id_matches_file_and_targets_are_unique(scenarios, path):
    sc = scenarios[path.stem]
    assert sc.place.id == path.stem
    ids = [t.id for t in sc.targets]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", PLACES)
def test_every_number_of_a_plan_cites_its_clause(scenarios, name):
    """Targets and lever sections cite a clause as printed (§..., 措施N) or the data file."""
    sc = scenarios[name]
    clause = re.compile(r"§[一二三四五六七八九十]|措施\d+|浙政办发|observed_counts\.csv")
    for t in sc.targets:
        assert clause.search(t.source), (t.id, t.source)
    for lever in type(sc.levers).model_fields:
        spec = getattr(sc.levers, lever)
        if spec is not None:
            assert clause.search(spec.source), (lever, spec.source)


def test_plan_periods_differ_as_the_plans_do(scenarios):
    periods = {n: (s.period.start, s.period.end) for n, s in scenarios.items()}
    assert periods["wujiang"] == (2022, 2024)
    assert periods["xinxiang"] == (2022, 2025)
    assert periods["zhanjiang"] == (2022, 2025)
    assert periods["hebi"] == (2023, 2025)
    assert periods["national"] == (2019, 2025)


def test_xinxiang_encodes_its_plan(scenarios):
    sc = scenarios["xinxiang"]
    new = [(t.tier, t.year, t.value) for t in sc.targets if t.kind == "new"]
    years = range(2022, 2026)
    assert new == [("provincial_srdi", y, 25) for y in years] + [
        ("national_little_giant", y, 5) for y in years
    ]
    aw = sc.levers.awards
    assert aw.on == "first_recognition" and aw.highest_only and not aw.once_per_firm
    assert aw.by_tier["national_little_giant"].value == 500_000
    assert aw.by_tier["provincial_srdi"].value == 300_000
    ms = sc.levers.matching_subsidy
    assert ms.tier == "national_little_giant" and ms.share.value == 0.25
    assert sc.baseline.counts["national_little_giant"].value == 36


def test_zhanjiang_pays_on_recognition_or_re_review_once(scenarios):
    sc = scenarios["zhanjiang"]
    aw = sc.levers.awards
    assert aw.on == "recognition_or_re_review" and aw.once_per_firm and aw.highest_only
    assert {t.kind for t in sc.targets} == {"cumulative"}
    model = GrowthModel(sc, seed=3)
    model.run_model()
    cap = max(model.p[f"levers.awards.by_tier.{t}"] for t in aw.by_tier)
    paid = model.firms.awarded_yuan
    assert paid.max() <= cap + 1  # a firm is paid at most once, at most the highest award
    assert (paid > 0).sum() > 0


def test_zhejiang_targets_come_from_19hao_and_rd_support_from_measure_5(scenarios):
    sc = scenarios["zhejiang"]
    assert all("浙政办发〔2022〕19号" in t.source for t in sc.targets)
    rd = sc.levers.rd_support
    assert rd.min_rd_intensity.value == 0.03 and rd.min_rd_growth.value == 0.20
    assert "措施5" in rd.source


def test_wujiang_ladder_has_jiangsu_and_suzhou_titles(scenarios):
    sc = scenarios["wujiang"]
    ladder = sc.ladder()
    assert ladder.ids == [
        "innovative_sme",
        "provincial_srdi",
        "suzhou_srdi_demo",
        "national_little_giant",
        "single_champion",
    ]
    prov = ladder.tier("provincial_srdi")
    assert prov.name_zh == '省级专精特新"小巨人"企业'  # renamed: Jiangsu's word for the title
    assert prov.observed_as == "js_provincial_little_giant"
    demo = ladder.tier("suzhou_srdi_demo")
    assert demo.granted_by == "city" and demo.observed_as == "suzhou_srdi_demo"
    assert demo.name_zh == "苏州市专精特新示范中小企业"
    assert (
        ladder.tier("national_little_giant").name_zh
        == Ladder.standard().tier("national_little_giant").name_zh
    )  # unchanged tiers keep the standard ladder's Chinese name
    pool = [t for t in sc.targets if t.kind == "pool_size"]
    assert [(t.tier, t.value, t.year) for t in pool] == [("pool", 100, 2024)]
    model = GrowthModel(sc, seed=2)
    assert "city" in model.evaluators
    model.run_model()
    assert model.history[-1].pool_size > 0


def test_the_standard_ladder_is_untouched_by_a_scenario(scenarios):
    assert scenarios["wujiang"].ladder().top == 5
    assert Ladder.standard().ids == list(STANDARD_TIERS)
    assert scenarios["hebi"].tier_ids == list(STANDARD_TIERS)


def test_with_lever_keeps_the_ladder_section(scenarios):
    sc = scenarios["wujiang"].with_lever("levers.cultivation_pool.size", 150)
    assert sc.levers.cultivation_pool.size.value == 150
    assert "suzhou_srdi_demo" in sc.tier_ids
    assert scenarios["wujiang"].levers.cultivation_pool.size.is_range


# --- ladder changes ------------------------------------------------------------------------


def _doc(**sections) -> str:
    """The valid test scenario without its own ladder section, with these sections."""
    doc = read_yaml(VALID_FIXTURE.read_text(encoding="utf-8"))
    doc.pop("ladder")
    doc.pop("parameters")
    doc.update(sections)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def test_a_threshold_override_changes_only_this_scenario():
    text = _doc(
        ladder={
            "tiers": {
                "provincial_srdi": {
                    "name": "a local name",
                    "source": "a test",
                    "criteria": {"revenue": {"min": 20_000_000, "source": "a test"}},
                    "validity_years": 2,
                },
                "innovative_sme": {
                    "source": "a test",
                    "criteria": {"evaluation_score": {"min_total": 70, "source": "a test"}},
                },
            }
        }
    )
    sc = parse(text, "override.yaml")
    tier = sc.ladder().tier("provincial_srdi")
    revenue = next(c for c in tier.criteria if c.id == "revenue")
    assert revenue.spec["min"] == 20_000_000 and tier.name == "a local name"
    assert tier.validity_years == 2
    score = next(c for c in sc.ladder().tier("innovative_sme").criteria)
    assert score.spec["min_total"] == 70
    standard = Ladder.standard().tier("provincial_srdi")
    assert next(c for c in standard.criteria if c.id == "revenue").spec["min"] == 10_000_000


def test_a_local_tier_with_criteria_runs_and_firms_reach_it():
    local = {
        "add": [
            {
                "id": "county_star",
                "name": "a county's star firm",
                "after": "innovative_sme",
                "granted_by": "county",
                "validity_years": 2,
                "criteria_from": "innovative_sme",
                "criteria": [
                    {
                        "id": "size",
                        "kind": "threshold",
                        "attribute": "revenue_yuan",
                        "min": 5_000_000,
                        "source": "a test",
                    },
                    {
                        "id": "rd",
                        "kind": "banded",
                        "attribute": "rd_intensity",
                        "band_by": "revenue_yuan",
                        "bands": [
                            {"from": 0, "to": 50_000_000, "min": 0.02},
                            {"from": 5e7, "min": 0.01},
                        ],
                        "source": "a test",
                    },
                ],
                "source": "a test",
            }
        ]
    }
    params = {
        f"{p}.county_star": {"low": lo, "high": hi, "basis": "assumption", "source": "a test"}
        for p, lo, hi in (
            ("apply.base", 0.4, 0.6),
            ("approval", 0.6, 0.9),
            ("exit.hazard", 0.01, 0.03),
        )
    }
    sc = parse(_doc(ladder=local, parameters=params), "local.yaml")
    assert sc.tier_ids[:3] == ["innovative_sme", "county_star", "provincial_srdi"]
    star = sc.ladder().tier("county_star")
    assert [c.id for c in star.criteria] == ["evaluation_score", "size", "rd"]
    model = GrowthModel(sc, seed=5)
    model.run_model()
    assert model.history[-1].ever[2] > 0  # firms were titled with the local tier
    result = run_ensemble(sc, runs=2, seed=1)
    assert "county_star" in set(result.counts()["tier"])


# --- what the counts mean ------------------------------------------------------------------


def test_cumulative_counts_firms_titled_after_the_base_year(scenarios):
    model = GrowthModel(scenarios["zhanjiang"].with_lever("levers.bring_in.firms_per_year", 3), 4)
    model.run_model()
    h = model.history
    assert not h[0].ever.any()  # nothing is cultivated in the base year
    for rec in h[1:]:
        assert (rec.ever >= 0).all()
    # in the first year, firms first reaching provincial SRDI: approved there or brought in
    assert h[1].ever[2] == h[1].new[2] + h[1].brought_in[2]
    # and cumulative counts only grow
    ever = np.stack([r.ever for r in h])
    assert (np.diff(ever, axis=0) >= 0).all()


def test_the_first_innovative_list_counts_as_cultivated_in_the_first_year(scenarios):
    sc = scenarios["xinxiang"]
    assert sc.baseline.created_in_start_year == ["innovative_sme"]
    model = GrowthModel(sc, seed=6)
    base_exactly_innovative = model.history[0].exactly[1]
    model.step()
    rec = model.history[1]
    assert base_exactly_innovative > 0
    assert rec.ever[1] >= base_exactly_innovative + rec.new[1]
    assert rec.new[2] > 0  # provincial titles in 2022, from the first list's firms


# --- the guide -------------------------------------------------------------------------------

README = SCENARIOS / "README.md"


def test_the_readme_lists_every_shipped_scenario():
    text = README.read_text(encoding="utf-8")
    for p in SHIPPED:
        assert f"`{p.name}`" in text


def test_the_readmes_annotated_example_is_a_valid_scenario():
    text = README.read_text(encoding="utf-8")
    example = text.split("### An annotated example", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    sc = parse(example, "README example")
    assert sc.place.id == "newtown" and [t.id for t in sc.targets] == [
        "srdi_2026",
        "champions_2026",
    ]
    run_ensemble(sc, runs=2, seed=1)


def test_the_readmes_local_tier_snippet_is_valid():
    text = README.read_text(encoding="utf-8")
    snippet = text.split("It needs its own rates:", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    base = read_yaml(VALID_FIXTURE.read_text(encoding="utf-8"))
    base.pop("ladder")
    base.pop("parameters")
    base.update(read_yaml(snippet))
    sc = parse(yaml.safe_dump(base, allow_unicode=True, sort_keys=False), "README snippet")
    assert "suzhou_srdi_demo" in sc.tier_ids
