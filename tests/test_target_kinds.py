"""Kinds of target (sim/scenario/target_kinds.py), and the R&D-intensity kind Hebi's plan needs:
研发经费支出占营业收入比重达到6%以上的中小企业(省级以上专精特新中小企业除外)每年新增50家以上."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.engine.model import GrowthModel
from sim.errors import ScenarioErrors
from sim.runs.ensemble import run_ensemble, run_replication
from sim.scenario import load, parse, target_kinds
from sim.scenario.target_kinds import KINDS, rd_intensive_firms
from sim.views.labels import target_phrase

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"


def _hebi_text() -> str:
    return HEBI.read_text(encoding="utf-8")


def test_every_kind_reads_a_series_a_replication_returns():
    sc = load(HEBI)
    out = run_replication(sc, np.random.SeedSequence(1))
    for t in sc.targets:
        assert KINDS[t.kind].key(t) in out


def test_the_count_takes_live_firms_below_the_title_at_or_above_the_threshold():
    sc = load(HEBI)
    target = next(t for t in sc.targets if t.kind == "rd_intensive_new")
    model = GrowthModel(sc, seed=3)
    f = model.firms
    n = f.n
    below = model.ladder.level("provincial_srdi")
    f.rd_intensity[:n] = 0.01
    chosen = np.arange(0, n, 7)
    f.rd_intensity[chosen] = 0.06  # exactly at the threshold counts
    expected = np.count_nonzero(f.alive[chosen] & (f.tier[chosen] < below))
    assert rd_intensive_firms(model, target) == expected
    # a provincial SRDI firm or above is excluded (省级以上专精特新中小企业除外) ...
    titled = chosen[f.tier[chosen] >= below]
    untitled = chosen[f.tier[chosen] < below]
    assert titled.size and untitled.size
    f.tier[untitled[0]] = below
    assert rd_intensive_firms(model, target) == expected - 1
    # ... and so is a firm that closed, and one just under the threshold
    f.alive[untitled[1]] = False
    f.rd_intensity[untitled[2]] = np.nextafter(np.float32(0.06), np.float32(0))
    assert rd_intensive_firms(model, target) == expected - 3


def test_the_target_is_judged_on_the_yearly_net_increase_of_the_count():
    sc = load(HEBI)
    seed = np.random.SeedSequence(11)
    model = GrowthModel(sc, seed=seed)
    model.run_model()
    key = "rd_intensive:provincial_srdi:0.06"  # one count for the three years' targets
    assert list(model.history[0].measures) == [key]
    counts = np.array([r.measures[key] for r in model.history])
    out = run_replication(sc, seed)
    series = out[key]
    assert series[0] == 0
    np.testing.assert_array_equal(series[1:], np.diff(counts))
    assert counts.max() > 0  # the count is not empty, so the differences are tested


def test_measure_series_keeps_a_count_kind_as_counted():
    # a kind judged on the count itself (not its change) would read the counts unchanged
    class Stock:
        kind = "stock"

    np.testing.assert_array_equal(target_kinds.measure_series(Stock, [3, 5, 4]), [3, 5, 4])


def test_hebi_forecasts_the_rd_target_and_its_probability_follows_the_runs():
    result = run_ensemble(load(HEBI), runs=16, seed=5)
    table = result.targets().set_index("id")
    for year in (2023, 2024, 2025):
        row = table.loc[f"rd_intensive_{year}"]
        x = result.runs["rd_intensive:provincial_srdi:0.06"][:, result.years.index(year)]
        assert row["kind"] == "rd_intensive_new" and row["value"] == 50
        assert row["probability"] == pytest.approx(np.mean(x >= 50))
        assert row["expected"] == pytest.approx(x.mean())
    doc = json.loads(json.dumps(result.to_dict()))
    assert {"rd_intensive_2023", "rd_intensive_2025"} <= {t["id"] for t in doc["targets"]}


def test_a_kind_missing_its_threshold_is_refused_with_the_field_named():
    text = _hebi_text().replace("    rd_intensity_min: 0.06\n    year: 2024\n", "    year: 2024\n")
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    (e,) = info.value.errors
    assert e.path.startswith("targets.") and "rd_intensity_min" in str(e)
    assert e.line is not None


def test_a_threshold_on_a_title_target_is_refused():
    text = _hebi_text().replace(
        "    kind: stock\n    year: 2024\n    value: 220\n",
        "    kind: stock\n    rd_intensity_min: 0.06\n    year: 2024\n    value: 220\n",
    )
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    (e,) = info.value.errors
    assert "rd_intensity_min" in str(e) and "rd_intensive_new" in str(e)


def test_an_unknown_kind_lists_the_kinds():
    text = _hebi_text().replace("kind: rd_intensive_new", "kind: rd_intensive", 1)
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    assert any("rd_intensive_new" in str(e) for e in info.value.errors)


def test_the_three_years_share_one_panel_of_the_fan_chart():
    from sim.views.plots import _panels

    result = run_ensemble(load(HEBI), runs=4, seed=5, counterfactual=False)
    rd = [p for p in _panels(result) if p[1].startswith("rd_intensive")]
    assert rd == [(None, "rd_intensive:provincial_srdi:0.06")]


def test_the_target_reads_in_chinese_and_english():
    t = next(t for t in load(HEBI).targets if t.id == "rd_intensive_2025")
    zh = target_phrase(t, "省级专精特新中小企业", "zh")
    en = target_phrase(t, "provincial SRDI SME", "en")
    assert "研发投入强度6%以上" in zh and "新增50家" in zh and "2025" in zh
    assert "6 %" in en and "50 more SMEs" in en and "provincial SRDI SMEs and above" in en
