"""Cost per extra firm per lever: each lever switched off alone on the same seeds
(`run_ensemble(by_lever=True)`, `EnsembleResult.lever_attribution`, `srdi forecast --by-lever`),
beside the whole programme's figure (`attributable`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helper import srdi

from sim.engine.model import GrowthModel
from sim.runs.ensemble import levers_of, run_ensemble, run_replication
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
KEYS = {"lever", "tier", "metric", "year", "extra_firms", "p05", "p95", "mc_se",
        "lever_cost_yuan", "marginal_cost_yuan", "cost_per_extra_firm_yuan"}  # fmt: skip


@pytest.fixture(scope="module")
def pool_only(hebi) -> Scenario:
    """Hebi with its cultivation pool as the only lever."""
    doc = hebi.model_dump(mode="python", by_alias=True, exclude_none=True)
    doc["levers"] = {"cultivation_pool": doc["levers"]["cultivation_pool"]}
    return Scenario.model_validate(doc)


def test_one_lever_brings_what_the_whole_programme_brings(pool_only):
    result = run_ensemble(pool_only, runs=8, seed=3, by_lever=True)
    whole = result.attributable().set_index(["tier", "metric"])
    each = result.lever_attribution()
    assert set(each.lever) == {"cultivation_pool"}
    assert len(each) == len(whole) > 0
    for r in each.itertuples():
        w = whole.loc[(r.tier, r.metric)]
        assert r.extra_firms == pytest.approx(w["mean"])
        assert (r.p05, r.p95, r.mc_se) == pytest.approx((w.p05, w.p95, w.mc_se))
        assert r.lever_cost_yuan == pytest.approx(result.total_cost().mean())
        assert r.marginal_cost_yuan == pytest.approx(result.total_cost().mean())
        whole_cpf = w.whole_programme_cost_per_extra_firm_yuan
        if r.extra_firms > 0:
            assert r.cost_per_extra_firm_yuan == pytest.approx(whole_cpf)
        else:
            assert pd.isna(r.cost_per_extra_firm_yuan) and pd.isna(whole_cpf)
    assert each.extra_firms.max() > 0  # the pool adds firms: the comparison is not of zeros


def test_every_lever_off_is_the_counterfactual(hebi):
    seed = np.random.SeedSequence(9)
    off = run_replication(hebi, seed, levers_on=True, levers_off=tuple(levers_of(hebi)))
    none = run_replication(hebi, seed, levers_on=False)
    assert all(np.array_equal(off[k], none[k]) for k in none)
    with pytest.raises(ValueError, match="levers_off"):
        GrowthModel(hebi, seed=1, levers_off=("awrds",))


def test_each_lever_off_alone_on_the_same_seeds(hebi):
    result = run_ensemble(hebi, runs=4, seed=5, by_lever=True)
    table = result.lever_attribution()
    assert set(table.lever) == set(levers_of(hebi)) == set(result.lever_off)
    end = len(result.years) - 1
    children = np.random.SeedSequence(5).spawn(4)
    alone = run_replication(hebi, children[2], True, None, ("bring_in",))
    assert np.array_equal(result.lever_off["bring_in"]["at_least"][2], alone["at_least"])
    row = table.set_index(["lever", "tier", "metric"]).loc[
        ("bring_in", "provincial_srdi", "at_least")
    ]
    d = result.runs["at_least"][:, end, 2] - result.lever_off["bring_in"]["at_least"][:, end, 2]
    assert row.extra_firms == pytest.approx(d.mean()) and row.extra_firms > 0
    own = result.runs["cost"][:, :, 4].sum(axis=1).mean()  # LEVER_NAMES[4] == "bring_in"
    assert row.lever_cost_yuan == pytest.approx(own)
    assert row.cost_per_extra_firm_yuan == pytest.approx(own / d.mean())
    assert run_ensemble(hebi, runs=2, seed=5).lever_attribution().empty  # not asked: not run


def test_by_lever_is_the_same_with_two_workers(hebi):
    one = run_ensemble(hebi, runs=3, seed=2, by_lever=True, counterfactual=False, workers=1)
    two = run_ensemble(hebi, runs=3, seed=2, by_lever=True, counterfactual=False, workers=2)
    pd.testing.assert_frame_equal(one.lever_attribution(), two.lever_attribution())


# --- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def by_lever_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("by_lever")
    r = srdi("forecast", HEBI, "--runs", "6", "--seed", "1", "-w", "1", "--by-lever",
             "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_forecast_by_lever_json_csv_and_workbook(by_lever_out):
    out, text = by_lever_out
    saved = json.loads((out / "forecast.json").read_text(encoding="utf-8"))
    rows = saved["lever_attribution"]
    assert rows and all(set(r) == KEYS for r in rows)
    assert {r["lever"] for r in rows} == {"loans", "bring_in", "cultivation_pool", "stewards"}
    assert all("whole_programme_cost_per_extra_firm_yuan" in r for r in saved["attributable"])
    csv = pd.read_csv(out / "lever_attribution.csv", encoding="utf-8-sig")
    assert "lever_cost_wan_yuan" in csv.columns and "lever_cost_yuan" not in csv.columns
    for row, rec in zip(csv.to_dict("records"), rows, strict=True):
        assert row["lever_cost_wan_yuan"] == pytest.approx(rec["lever_cost_yuan"] / 1e4, rel=1e-5)
    sheets = pd.read_excel(out / "forecast.xlsx", sheet_name=None)
    assert len(sheets["lever_attribution 各措施带来"]) == len(csv)
    assert "Per lever, each switched off alone" in text
    assert "whole programme's cost / extra firm" in text


def test_forecast_without_by_lever_says_not_run():
    r = srdi("forecast", HEBI, "--runs", "3", "-w", "1", "--json", "--no-counterfactual")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["lever_attribution"] is None


def test_report_page_has_the_lever_table_and_the_setting(tmp_path):
    r = srdi("report", HEBI, "--out", tmp_path, "--runs", "4", "-w", "1", "--by-lever",
             "--set", "levers.loans.coverage=0.9", "--lang", "en")  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "What each lever brings, and its cost per firm" in page
    assert "whole programme&#x27;s cost per extra firm" in page
    assert "levers.loans.coverage = 0.9 (scenario: 0.3-0.7)" in page
