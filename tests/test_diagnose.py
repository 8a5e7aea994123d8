"""`srdi diagnose`: the funnel's counts, the relaxations on common random numbers, the binding
stage named where a fixture makes one stage bind, the JSON and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.runs.diagnose import FUNNEL_COLUMNS, STAGES, applicable_stages, diagnose, runs_needed
from sim.runs.ensemble import run_ensemble
from sim.scenario import load
from tests.cli_helper import srdi

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def hebi():
    return load(HEBI)


def test_the_funnel_is_counted_without_changing_any_result(hebi):
    plain = run_ensemble(hebi, runs=6, seed=3, counterfactual=False)
    counted = run_ensemble(hebi, runs=6, seed=3, counterfactual=False, funnel=True)
    assert "candidates" not in plain.runs and "eligible" not in plain.runs
    for key, arr in plain.runs.items():
        assert np.array_equal(arr, counted.runs[key]), key
    r = counted.runs
    # each stage of the funnel holds no more firms than the one before it
    assert (r["candidates"] >= r["eligible"]).all()
    assert (r["eligible"] >= r["applied"]).all()
    assert (r["applied"] >= r["new"]).all()
    assert r["closed"][:, 1:].sum() > 0 and (r["closed"][:, 0] == 0).all()  # none in the base year
    # innovative SME titles are granted on their criteria (no quota); the higher ones rationed
    level = {t: k for k, t in enumerate(counted.tiers, start=1)}
    assert np.isinf(r["titles_available"][:, 1:, level["innovative_sme"]]).all()
    little = r["titles_available"][:, 1:, level["national_little_giant"]]
    assert np.isfinite(little).all() and (little > 0).all()
    assert (r["rivals"][:, 1:, level["national_little_giant"]] > 0).all()  # a city has rivals


def test_a_stage_that_cannot_act_changes_nothing_on_the_same_seeds(hebi):
    usable, skipped = applicable_stages(hebi)
    assert "budget" in skipped and "budget" not in usable  # Hebi pays no awards
    d = diagnose(hebi, runs=12, seed=4, stages=["budget"], all_relaxed=False)
    relaxed = d.relaxed["budget"].runs
    for key, arr in relaxed.items():
        assert np.array_equal(arr, d.plan.runs[key]), key
    for t in d.targets():
        (s,) = t["stages"]
        assert s["probability_if_relaxed"] == t["probability"] and s["gain"] == 0.0
        assert t["binding"] is None and t["binding_clear"] is None


def test_a_scenario_without_targets_runs_the_funnel_alone():
    """Henan's status quo states no targets: no relaxation has a P(reach) to move, so none is
    run (each would cost a whole ensemble of the province for nothing), even when asked for."""
    henan = load(ROOT / "scenarios" / "henan_status_quo.yaml")
    usable, skipped = applicable_stages(henan)
    assert usable == [] and set(skipped) == set(STAGES)
    assert runs_needed(henan, None) == 1 and runs_needed(henan, ["apply"]) == 1
    for stages in (None, ["apply"]):
        d = diagnose(henan, runs=2, seed=0, stages=stages)
        assert d.relaxed == {} and d.all_relaxed is None and d.targets() == []
        assert set(d.skipped) == set(STAGES) and not d.funnel().empty


def test_relaxations_start_from_the_same_draws(hebi):
    d = diagnose(hebi, runs=8, seed=5, stages=["closures", "titles"])
    for res in (*d.relaxed.values(), d.all_relaxed):
        # the same base year (baseline draws) in every replication
        assert np.array_equal(res.runs["at_least"][:, 0], d.plan.runs["at_least"][:, 0])
    assert (d.relaxed["closures"].runs["closed"] == 0).all()
    # unlimited titles: every applicant titled; no fewer titles than as planned
    titles = d.relaxed["titles"].runs
    assert np.array_equal(titles["new"], titles["applied"])
    assert (titles["new"][:, 1].sum(axis=1) >= d.plan.runs["new"][:, 1].sum(axis=1)).all()


def test_a_relaxation_reaches_the_workers(hebi):
    one = run_ensemble(hebi, runs=4, seed=6, counterfactual=False, relax={"titles"}, workers=1)
    two = run_ensemble(hebi, runs=4, seed=6, counterfactual=False, relax={"titles"}, workers=2)
    for key, arr in one.runs.items():
        assert np.array_equal(arr, two.runs[key]), key
    assert np.array_equal(one.runs["new"], one.runs["applied"])


@pytest.mark.parametrize(
    ("fixture", "stage"),
    [
        ("diagnose_scarce_titles.yaml", "titles"),
        ("diagnose_closures.yaml", "closures"),
        ("diagnose_re_review.yaml", "re_review"),
    ],
)
def test_the_stage_a_fixture_makes_binding_is_named(fixture, stage):
    d = diagnose(load(FIXTURES / fixture), runs=30, seed=1)
    assert set(d.relaxed) == {"apply", "titles", "re_review", "closures"}  # no levers
    for t in d.targets():
        by = {s["stage"]: s for s in t["stages"]}
        assert t["binding"] == stage, (t["target"], by)
        assert t["binding_clear"] is True
        others = [s["probability_if_relaxed"] for name, s in by.items() if name != stage]
        assert by[stage]["probability_if_relaxed"] - t["probability"] > 0.5
        assert by[stage]["probability_if_relaxed"] > max(others)


def test_unknown_stages_are_refused(hebi):
    with pytest.raises(ValueError, match="quota"):
        diagnose(hebi, runs=2, stages=["quota"])
    with pytest.raises(ValueError, match="relax"):
        run_ensemble(hebi, runs=2, relax={"quota"})


def test_cli_json_and_files(tmp_path):
    out = tmp_path / "d"
    r = srdi("diagnose", HEBI, "--runs", 6, "--workers", 1, "--stages", "titles,closures",
             "--json", "--out", out, "--lang", "en")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc == json.loads((out / "diagnose.json").read_text(encoding="utf-8"))
    assert {"targets", "funnel", "stages", "stages_not_run", "runs", "seed"} <= doc.keys()
    assert len(doc["targets"]) == 11  # 8 title stocks, 3 yearly R&D-intensity targets
    for t in doc["targets"]:
        keys = {"target", "probability", "stages", "binding", "runner_up", "binding_clear"}
        assert keys <= t.keys()
        assert [s["stage"] for s in t["stages"]] == ["titles", "closures"]
        assert all({"stage", "probability_if_relaxed"} <= s.keys() for s in t["stages"])
        assert t["binding"] in (None, "titles", "closures")
    assert "bring_in" in doc["stages_not_run"]  # not asked for: the scenario could run it
    rows = doc["funnel"]
    assert {r["tier"] for r in rows} == {
        "innovative_sme", "provincial_srdi", "national_little_giant", "single_champion"
    }  # fmt: skip
    assert set(FUNNEL_COLUMNS) <= rows[0].keys()
    sme = [r for r in rows if r["tier"] == "innovative_sme"]
    assert all(r["titles_available"] is None and not r["rationed"] for r in sme)
    for name in ("funnel.csv", "stages.csv", "funnel.png", "relaxations.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "funnel.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM


def test_cli_text_report():
    r = srdi("diagnose", HEBI, "--runs", 3, "--workers", 1, "--stages", "closures")
    assert r.returncode == 0, r.stderr
    assert "what binds" in r.stdout and "Funnel of national_little_giant" in r.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--stages", "quota"], "--stages"), (["--runs", "0"], "--runs")],
)
def test_cli_refuses_bad_options_and_writes_nothing(tmp_path, args, option):
    out = tmp_path / "d"
    r = srdi("diagnose", HEBI, *args, "--out", out)
    assert r.returncode == 2
    assert option in r.stderr
    assert not out.exists() or not any(out.iterdir())
