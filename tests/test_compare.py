"""`srdi compare` and `--set`: two plans on the same seeds, the differences B - A with paired
errors (sim/runs/compare.py), and quantities fixed from the command line (Scenario settings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helper import srdi

from sim.errors import ScenarioErrors
from sim.runs.compare import compare
from sim.scenario import Scenario, load, parse_settings

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
MORE = {"levers.bring_in.firms_per_year": 30.0}  # three times the firms brought in a year


@pytest.fixture(scope="module")
def more_firms(hebi):
    return compare(hebi, hebi, runs=30, seed=2, set_b=MORE)


def test_a_plan_compared_with_itself_differs_by_zero_with_zero_error(hebi):
    same = compare(hebi, hebi, runs=8, seed=5)
    table = same.targets()
    assert len(table) == len(hebi.targets)
    assert (table.difference == 0).all() and (table.difference_se == 0).all()
    assert (table.probability_a == table.probability_b).all()
    cost = same.cost()
    assert cost["a"] == cost["b"] > 0
    assert cost["difference"] == 0 and cost["difference_se"] == 0


def test_bringing_in_more_provincial_firms_raises_their_odds_and_the_cost(more_firms):
    row = more_firms.targets().set_index("target").loc["provincial_srdi_2025"]
    assert row.probability_b > row.probability_a
    assert row.difference == pytest.approx(row.probability_b - row.probability_a)
    assert row.difference > 2 * row.difference_se > 0  # clearly more than the MC error
    cost = more_firms.cost()
    assert cost["difference"] == pytest.approx(cost["b"] - cost["a"])
    assert cost["difference"] > 0


def test_plan_b_starts_from_plan_a_s_set_ups_and_gives_its_ensemble_alone(
    hebi, more_firms, monkeypatch
):
    from sim.engine.model import GrowthModel
    from sim.runs.ensemble import run_ensemble

    drawn = []  # set-ups drawn
    create = GrowthModel._create_baseline
    monkeypatch.setattr(
        GrowthModel, "_create_baseline", lambda self: drawn.append(1) or create(self)
    )
    shared = compare(hebi, hebi, runs=30, seed=2, set_b=MORE)
    assert len(drawn) == 30  # plan A's only: B started from them
    for r, values in ((shared.a, None), (shared.b, MORE)):
        alone = run_ensemble(hebi, runs=30, seed=2, counterfactual=False, values=values)
        assert all(np.array_equal(r.runs[k], alone.runs[k]) for k in alone.runs)
    # two files, or a quantity that is not a lever's: each plan draws its own
    for b, set_b in ((hebi, {"apply.award_elasticity": 0.5}), (load(HEBI), MORE)):
        drawn.clear()
        compare(hebi, b, runs=2, seed=2, set_b=set_b)
        assert len(drawn) == 4


def test_difference_errors_are_those_of_paired_replications(more_firms):
    """se of the mean of per-replication differences: reached (1/0) for targets, yuan for cost."""
    a, b = more_firms.a, more_firms.b
    n = a.n_runs
    for t, row in zip(a.scenario.targets, more_firms.targets().itertuples(), strict=True):
        d = (b.outcome(t) >= t.value).astype(float) - (a.outcome(t) >= t.value)
        assert row.difference_se == pytest.approx(d.std(ddof=1) / math.sqrt(n))
    d = b.total_cost() - a.total_cost()
    assert more_firms.cost()["difference_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(n))
    # common random numbers: the base year is the same in both plans, replication by replication
    assert np.array_equal(a.runs["at_least"][:, 0], b.runs["at_least"][:, 0])


def _without_first_target_plus_one(hebi) -> Scenario:
    doc = hebi.model_dump(mode="python", by_alias=True, exclude_none=True)
    extra = dict(doc["targets"][-1], id="only_in_b", value=1)
    doc["targets"] = doc["targets"][1:] + [extra]
    return Scenario.model_validate(doc)


def test_targets_are_matched_by_id_and_a_missing_one_is_blank(hebi):
    other = _without_first_target_plus_one(hebi)
    table = compare(hebi, other, runs=4, seed=1).targets().set_index("target")
    first = hebi.targets[0].id
    assert list(table.index) == [t.id for t in hebi.targets] + ["only_in_b"]
    assert table.loc[first, ["probability_b", "difference", "difference_se"]].isna().all()
    assert pd.isna(table.loc["only_in_b", "probability_a"])
    assert pd.notna(table.loc["only_in_b", "probability_b"])
    shared = table.drop([first, "only_in_b"])
    assert shared.difference.notna().all()


def test_settings_are_checked_like_any_override(hebi):
    ok = parse_settings(hebi, ["levers.loans.coverage=0.6", "approval.innovative_sme=0.5"])
    assert ok == {"levers.loans.coverage": 0.6, "approval.innovative_sme": 0.5}  # any quantity
    with pytest.raises(ScenarioErrors) as e:
        parse_settings(
            hebi,
            ["levers.loans.covrage=0.6", "levers.loans.coverage=3", "nonsense", "x=abc",
             "levers.awards.budget_yuan_per_year=1"],
        )  # fmt: skip
    errs = {err.path: err for err in e.value.errors}
    assert len(e.value.errors) == 5
    assert "levers.loans.coverage" in errs["levers.loans.covrage"].fix  # the nearest path
    assert errs["levers.loans.coverage"].expected == "a number between 0 and 1"
    assert errs["levers.loans.coverage"].found == "3.0"
    assert errs["nonsense"].expected.startswith("PATH=VALUE")
    assert errs["x"].found == "'abc'"
    assert "no 'awards' lever" in errs["levers.awards.budget_yuan_per_year"].fix
    assert all(err.file == "--set" for err in e.value.errors)


# --- the command line ------------------------------------------------------------------------


def test_compare_json_and_files(tmp_path):
    out = tmp_path / "cmp"
    r = srdi("compare", HEBI, "--set", "levers.bring_in.firms_per_year=30", "--runs", "12",
             "--seed", "2", "-w", "1", "--json", "--out", out, "--lang", "en")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"a", "b", "runs", "seed", "targets", "cost", "notes"} <= doc.keys()
    assert doc["b"]["set"] == {"levers.bring_in.firms_per_year": 30.0} and doc["a"]["set"] == {}
    keys = {"target", "probability_a", "probability_b", "difference", "difference_se"}
    assert doc["targets"] and all(keys <= t.keys() for t in doc["targets"])
    assert set(doc["cost"]) == {"a", "b", "difference", "difference_se"}
    assert doc["cost"]["difference"] > 0  # yuan: thirty firms a year cost more than ten
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "compare.json").read_text(encoding="utf-8")) == doc
    assert (out / "compare.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_compare_two_files_prints_the_table(tmp_path):
    r = srdi("compare", HEBI, HEBI, "--runs", "3", "-w", "1")
    assert r.returncode == 0, r.stderr
    assert "B - A" in r.stdout and "innovative_sme_2025" in r.stdout
    assert "+0.000   0.000" in r.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        ([HEBI], "--set"),  # one file and nothing changed: nothing to compare
        ([HEBI, "--set", "levers.loans.covrage=0.5"], "levers.loans.coverage"),
        ([HEBI, "--set", "levers.loans.coverage=1.5"], "between 0 and 1"),
        ([HEBI, HEBI, HEBI], "one or two"),
    ],
)
def test_compare_refuses_bad_input_before_running(args, says, tmp_path):
    out = tmp_path / "out"
    r = srdi("compare", *args, "--runs", "2", "-w", "1", "--out", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert says in r.stderr
    assert not out.exists()


def test_forecast_set_changes_the_result_and_says_so():
    base = ("forecast", HEBI, "--runs", "10", "--seed", "4", "-w", "1", "--no-counterfactual")
    plain = json.loads(srdi(*base, "--json").stdout)
    r = srdi(*base, "--json", "--set", "levers.bring_in.firms_per_year=30")
    assert r.returncode == 0, r.stderr
    more = json.loads(r.stdout)
    assert plain["set"] == {} and more["set"] == {"levers.bring_in.firms_per_year": 30.0}
    p = {t["id"]: t["expected"] for t in plain["targets"]}
    m = {t["id"]: t["expected"] for t in more["targets"]}
    assert m["provincial_srdi_2025"] > p["provincial_srdi_2025"]
    text = srdi(*base, "--set", "levers.bring_in.firms_per_year=30").stdout
    assert "Changed from the scenario (--set)" in text
    assert "levers.bring_in.firms_per_year = 30 (scenario: 10)" in text


def test_forecast_refuses_a_bad_setting_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = srdi("forecast", HEBI, "--runs", "2", "-w", "1", "--out", out,
             "--set", "levers.bring_in.firms_per_yaer=30")  # fmt: skip
    assert r.returncode == 2
    assert "'levers.bring_in.firms_per_yaer' value in --set" in r.stderr
    assert "levers.bring_in.firms_per_year" in r.stderr  # the nearest valid path
    assert "nothing was run or written" in r.stderr
    assert not out.exists()
