"""The rolling-origin backtest: series, naive forecasts, scores, summary, files and CLI verb.

No simulation runs here: the model's forecaster is replaced by fakes.
"""

from __future__ import annotations

import json
import math
import stat
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sim.calibration import backtest as bt
from sim.cli import main
from sim.errors import SrdiError

BATCHES = {2019: 248, 2020: 1584, 2021: 2930, 2022: 4328, 2023: 3671}
FILES = ("backtest_scores.csv", "backtest_summary.csv", "backtest.md", "backtest.png")


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return bt.load_series()


def _obs(values: dict[int, float], sid: str = "s", form: str = "point") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": sid,
            "region": "China",
            "year": list(values),
            "value": [float(v) for v in values.values()],
            "form": form,
        }
    )


def _p50(naive: pd.DataFrame, method: str, year: int) -> float:
    row = naive[(naive.method == method) & (naive.year == year)]
    assert len(row) == 1
    return float(row.p50.iloc[0])


def _fake(observed: pd.DataFrame, scale: float = 1.0, half_width: float = 0.1):
    """A forecaster returning scale x the observed value (every series, every observed year)."""

    def forecaster(origin: int) -> pd.DataFrame:
        d = observed[observed.year >= origin]
        p50 = d.value * scale
        return pd.DataFrame(
            {
                "series": d.series,
                "year": d.year,
                "p05": p50 * (1 - half_width),
                "p50": p50,
                "p95": p50 * (1 + half_width),
            }
        )

    return forecaster


# --- series ----------------------------------------------------------------------------------


def test_series_map_counts_to_the_model_year_they_describe(observed):
    def value(sid: str, year: int) -> tuple[float, str]:
        row = observed[(observed.series == sid) & (observed.year == year)]
        assert len(row) == 1, (sid, year)
        return float(row.value.iloc[0]), row.form.iloc[0]

    batch = observed[observed.series == "china_lg_batch"]
    assert dict(zip(batch.year, batch.value, strict=True)) == BATCHES
    assert set(batch.measure) == {"new"}
    assert value("china_provincial_srdi_stock", 2021) == (40000, "lower")  # said in 2022-01
    assert value("china_provincial_srdi_stock", 2023) == (98000, "point")
    assert 80000 not in set(observed[observed.series == "china_provincial_srdi_stock"].value)
    assert value("zhejiang_lg_stock", 2021) == (470, "point")  # 2022-06, before batch 4
    assert value("henan_lg_cumulative", 2021) == (207, "point")
    assert value("henan_lg_cumulative", 2022) == (370, "point")
    assert value("henan_provincial_srdi_batch", 2023) == (551, "lower")  # batch 1 only
    assert value("jiangsu_lg_stock", 2023) == (1500, "lower")
    assert set(observed[observed.series == "china_lg_cumulative"].measure) == {"cumulative"}
    assert list(observed.columns) == bt.SERIES_COLUMNS
    assert not observed.duplicated(["series", "year"]).any()


def test_a_row_not_in_the_data_is_refused_naming_file_and_series(tmp_path):
    text = bt.CONFIG.read_text(encoding="utf-8").replace(
        "[China, national_little_giant, flow, 2021, 2930]",
        "[China, national_little_giant, flow, 2021, 2931]",
    )
    path = tmp_path / "backtest.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SrdiError) as info:
        bt.load_series(path)
    e = info.value
    assert isinstance(e, bt.BacktestError)
    assert e.file == str(path) and e.kind == "unknown_row"
    assert "china_lg_batch" in e.path and "2931" in e.found
    lines = text.splitlines()
    assert "2931" in lines[e.line - 1]
    assert str(path) in str(e) and "china_lg_batch" in str(e)


def test_two_observations_of_one_year_are_refused(tmp_path):
    text = bt.CONFIG.read_text(encoding="utf-8").replace(
        "2022, 4328], model_year: 2022", "2022, 4328], model_year: 2021"
    )
    path = tmp_path / "backtest.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(bt.BacktestError, match="one observation per year") as info:
        bt.load_series(path)
    assert info.value.path == "series.china_lg_batch.observations.3.model_year"
    assert "model_year: 2021" in path.read_text().splitlines()[info.value.line - 1]


# --- naive forecasts -------------------------------------------------------------------------


def test_naive_forecasts_of_the_batches_from_2022():
    naive = bt.naive_forecasts(_obs(BATCHES), 2022, [2022, 2023])
    assert _p50(naive, "repeat_last", 2022) == _p50(naive, "repeat_last", 2023) == 2930
    assert _p50(naive, "last_change", 2022) == 4276  # 2930 + (2930 - 1584)
    assert _p50(naive, "last_change", 2023) == 5622
    # least squares through (2019, 248), (2020, 1584), (2021, 2930): slope 1341, mean 1587.33
    assert _p50(naive, "trend", 2022) == pytest.approx(1587 + 1 / 3 + 2 * 1341)
    assert _p50(naive, "trend", 2023) == pytest.approx(1587 + 1 / 3 + 3 * 1341)
    assert not naive.fallback.any()


def test_naive_forecasts_use_only_years_before_the_origin():
    later = {**BATCHES, 2022: 10**9, 2023: 10**9}
    a = bt.naive_forecasts(_obs(BATCHES), 2022, [2022, 2023])
    b = bt.naive_forecasts(_obs(later), 2022, [2022, 2023])
    pd.testing.assert_frame_equal(a, b)


def test_one_value_falls_back_to_repeat_last():
    naive = bt.naive_forecasts(_obs(BATCHES), 2020, [2020, 2021])
    for method in bt.NAIVE:
        assert _p50(naive, method, 2021) == 248
    assert set(naive[naive.fallback].method) == {"last_change", "trend"}
    assert not naive[naive.method == "repeat_last"].fallback.any()


def test_last_change_is_per_year_between_non_consecutive_values():
    naive = bt.naive_forecasts(_obs({2019: 100, 2021: 300}), 2023, [2023])
    assert _p50(naive, "last_change", 2023) == 500  # +100 a year from 2021


def test_no_value_before_the_origin_means_no_naive_forecast():
    assert bt.naive_forecasts(_obs({2023: 795}), 2022, [2022, 2023]).empty


def test_a_lower_bound_is_a_value_to_naive_forecasts():
    naive = bt.naive_forecasts(_obs({2021: 40000}, form="lower"), 2022, [2023])
    assert _p50(naive, "repeat_last", 2023) == 40000


def test_calibration_baselines_take_their_points_from_the_backtest():
    from sim.calibration import calibrate as cal

    past = {2019: 248, 2020: 1584, 2021: 2930}
    old = cal.naive_baselines(past, 2022)
    new = bt.naive_points(past, 2022, [2022])
    assert old["repeat_last"][0] == new["repeat_last"][2022][0]
    assert old["trend"][0] == pytest.approx(new["trend"][2022][0])


# --- scores ----------------------------------------------------------------------------------


def _forecasts(rows: list[tuple]) -> pd.DataFrame:
    cols = ["method", "series", "origin", "year", "p05", "p50", "p95"]
    return pd.DataFrame(rows, columns=cols)


def test_scores_of_hand_made_numbers():
    observed = pd.concat([_obs({2021: 100, 2022: 200}), _obs({2021: 50, 2022: 1000}, "b", "lower")])
    f = _forecasts(
        [
            ("model", "s", 2022, 2022, 150, 180, 190),  # below the band
            ("repeat_last", "s", 2022, 2022, math.nan, 100, math.nan),
            ("model", "b", 2022, 2022, 700, 900, 1100),  # a band reaching the bound
            ("repeat_last", "b", 2022, 2022, math.nan, 50, math.nan),
            ("model", "b", 2022, 2023, 800, 1200, 1500),  # no observation of 2023: not scored
            ("repeat_last", "b", 2022, 2023, math.nan, 50, math.nan),
        ]
    )
    s = bt.score(f, observed).set_index(["method", "series"])
    m = s.loc[("model", "s")]
    assert m.horizon == 1
    assert m.ape == pytest.approx(0.1)
    assert not m.covered
    assert m.width == pytest.approx(40 / 200)
    assert m.interval_score == pytest.approx((40 + 20 * 10) / 200)  # (2/0.1)(200 - 190)
    assert s.loc[("repeat_last", "s")].ape == pytest.approx(0.5)
    assert pd.isna(s.loc[("repeat_last", "s")].covered)
    assert math.isnan(s.loc[("repeat_last", "s")].interval_score)
    lower = s.loc[("model", "b")]
    assert lower.ape == pytest.approx(0.1)  # 900 below the bound 1000
    assert lower.covered  # p95 1100 >= 1000
    assert lower.interval_score == pytest.approx(400 / 1000)  # no penalty: p95 above the bound
    assert s.loc[("repeat_last", "b")].ape == pytest.approx(0.95)
    assert len(s) == 4


def test_a_forecast_above_a_lower_bound_is_no_error():
    observed = _obs({2021: 10, 2022: 1000}, form="lower")
    f = _forecasts(
        [
            ("model", "s", 2022, 2022, 1200, 5000, 9000),  # wholly above: the truth may be there
            ("model", "s", 2021, 2022, 100, 400, 600),  # wholly below
            ("repeat_last", "s", 2022, 2022, math.nan, 10, math.nan),
            ("repeat_last", "s", 2021, 2022, math.nan, 10, math.nan),
        ]
    )
    s = bt.score(f, observed).set_index(["method", "origin"])
    above, below = s.loc[("model", 2022)], s.loc[("model", 2021)]
    assert above.ape == 0 and above.covered
    assert above.interval_score == pytest.approx(7800 / 1000)  # the width alone
    assert below.ape == pytest.approx(0.6) and not below.covered
    assert below.interval_score == pytest.approx((500 + 20 * 400) / 1000)
    assert below.horizon == 2


def test_the_comparison_set_is_the_same_for_every_method():
    observed = _obs({2021: 100, 2022: 200, 2023: 300})
    f = _forecasts(
        [
            ("model", "s", 2021, 2021, 90, 100, 110),  # no naive forecast from 2021: not scored
            ("model", "s", 2022, 2022, 190, 200, 210),
            ("model", "s", 2022, 2023, 290, 300, 310),
            ("repeat_last", "s", 2022, 2022, math.nan, 100, math.nan),
            ("repeat_last", "s", 2022, 2023, math.nan, 100, math.nan),
            ("trend", "s", 2022, 2022, math.nan, 100, math.nan),
        ]
    )
    s = bt.score(f, observed)
    triples = {m: set(zip(d.series, d.origin, d.year, strict=True)) for m, d in s.groupby("method")}
    assert triples["model"] == triples["repeat_last"] == triples["trend"]
    assert triples["model"] == {("s", 2022, 2022), ("s", 2022, 2023)}
    assert s[(s.method == "trend") & (s.year == 2023)].ape.isna().all()  # missing, not dropped
    assert list(bt.score(f, observed, horizons=[1]).year.unique()) == [2022]


# --- whole backtest with fake forecasters ----------------------------------------------------


def test_a_perfect_forecaster_beats_every_naive_method(observed):
    result = bt.run_backtest(_fake(observed))
    model = result.scores[result.scores.method == "model"]
    assert len(model) > 0
    assert (model.ape == 0).all() and model.covered.all()
    s = result.summary
    assert set(s[s.level == "group"].group) == set(bt.GROUPS)
    assert s.model_at_or_below.all()
    for _, d in s.groupby(["level", "group", "horizon"]):
        naive = d[d.method.isin(bt.NAIVE)]
        assert (naive.mean_ape > 0).any()
        assert naive.coverage.isna().all()
        assert d[d.method == "model"].coverage.iloc[0] == 1
    lg = s[(s.group == "national_lg_batch") & (s.horizon == 1)].set_index("method")
    assert lg.loc["model", "n"] == 3  # origins 2020, 2021, 2022
    # one origin with one past value: the naive forecasts of 2020 are all 248
    assert lg.loc["repeat_last", "n"] == lg.loc["trend", "n"] == 3


def test_a_forecaster_equal_to_repeat_last_ties_with_it(observed):
    def repeat_last(origin: int) -> pd.DataFrame:
        years = [origin, origin + 1]
        naive = bt.naive_forecasts(observed, origin, years)
        d = naive[naive.method == "repeat_last"]
        return d.assign(p05=d.p50 * 0.8, p95=d.p50 * 1.2)[bt.FORECAST_COLUMNS]

    result = bt.run_backtest(repeat_last)
    s = result.summary.set_index(["level", "group", "horizon", "method"])
    for key, d in result.summary.groupby(["level", "group", "horizon"]):
        model = s.loc[(*key, "model"), "mean_ape"]
        assert model == s.loc[(*key, "repeat_last"), "mean_ape"]
        # at the best naive counts as at or below it; a better naive method beats it
        assert d.model_at_or_below.iloc[0] == (d.best_naive_ape.iloc[0] >= model)
    tied = result.summary[result.summary.best_naive == "repeat_last"]
    assert len(tied) and tied.model_at_or_below.all()
    model = result.summary[result.summary.method == "model"]
    assert not model[model.best_naive_ape < model.mean_ape].model_at_or_below.any()


def test_a_model_worse_than_naive_is_reported_so(observed):
    result = bt.run_backtest(_fake(observed, scale=3.0))
    s = result.summary
    assert not s[s.level == "group"].model_at_or_below.any()
    assert "| no |" in result.markdown()


def test_a_forecaster_missing_a_scored_series_is_refused(observed):
    def partial(origin: int) -> pd.DataFrame:
        d = _fake(observed)(origin)
        return d[d.series != "china_lg_batch"]

    with pytest.raises(bt.ForecastOutputError, match="china_lg_batch"):
        bt.run_backtest(partial)


def test_a_forecaster_giving_a_year_twice_is_refused(observed):
    def twice(origin: int) -> pd.DataFrame:
        d = _fake(observed)(origin)
        return pd.concat([d, d.head(1)])

    with pytest.raises(bt.ForecastOutputError, match="more than one row"):
        bt.run_backtest(twice)


def test_origins_limit_the_forecasts(observed):
    calls = []

    def forecaster(origin: int) -> pd.DataFrame:
        calls.append(origin)
        return _fake(observed)(origin)

    result = bt.run_backtest(forecaster, origins=[2022])
    assert calls == [2022]
    assert set(result.scores.origin) == {2022}
    assert set(result.forecasts.year) == {2022, 2023}


def test_markdown_has_one_line_per_series_and_horizon(observed):
    result = bt.run_backtest(_fake(observed))
    md = result.markdown()
    series = result.summary[result.summary.level == "series"]
    pairs = series[["group", "horizon"]].drop_duplicates()
    for g, h in pairs.itertuples(index=False):
        assert sum(line.startswith(f"| {g} | {h} |") for line in md.splitlines()) == 1
    assert "| china_lg_batch | 1 | 3 | 0.0 % | last_change |" in md


def test_markdown_names_the_series_never_scored(observed):
    md = bt.run_backtest(_fake(observed)).markdown()
    note = next(line for line in md.splitlines() if line.startswith("Not scored"))
    assert "zhejiang_lg_batch" in note and "china_lg_stock" in note
    assert "china_lg_batch" not in note


def test_forecast_targets_say_what_the_model_must_give(observed):
    t = bt.forecast_targets(2022)
    assert set(t.year) == {2022, 2023}
    assert set(t.series) == set(observed.series)
    scored = t[t.scored]
    result = bt.run_backtest(_fake(observed), origins=[2022])
    model = result.scores[result.scores.method == "model"]
    assert set(zip(scored.series, scored.year, strict=True)) == set(
        zip(model.series, model.year, strict=True)
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure_has_a_panel_per_group(observed, lang):
    result = bt.run_backtest(_fake(observed))
    from sim.views.calibration_plots import plot_backtest

    fig = plot_backtest(result, lang=lang)
    assert len(fig.axes) == len(bt.GROUPS)
    assert fig.axes[0].get_yscale() == "log"
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert lines  # the best naive forecast, dashed
    import io
    import warnings

    with warnings.catch_warnings():  # every label has its glyphs (Chinese ones too)
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        fig.savefig(io.BytesIO(), format="png", dpi=50)


# --- files and CLI ---------------------------------------------------------------------------


def _check_files(folder: Path) -> None:
    for name in FILES:
        path = folder / name
        assert path.is_file(), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, name
    for name in FILES[:2]:
        raw = (folder / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        df = pd.read_csv(folder / name, encoding="utf-8-sig")
        for col in df.select_dtypes("float"):
            x = df[col].dropna()
            assert np.allclose(x, [float(f"{v:.4g}") for v in x]), (name, col)
    assert (folder / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(folder.glob(".*.tmp"))


def test_write_puts_four_files(observed, tmp_path):
    result = bt.run_backtest(_fake(observed, scale=1.234567))
    result.write(tmp_path / "out")
    _check_files(tmp_path / "out")
    scores = pd.read_csv(tmp_path / "out" / "backtest_scores.csv", encoding="utf-8-sig")
    assert len(scores) == len(result.scores)


@pytest.fixture
def fake_module(monkeypatch, observed):
    """origin_forecast replaced by a module whose forecaster is perfect; records calls."""
    calls: list[dict] = []
    module = types.ModuleType("sim.calibration.origin_forecast")

    def forecaster(quick: bool, runs: int | None, workers: int | None, progress: bool):
        calls.append({"quick": quick, "runs": runs, "workers": workers, "progress": progress})
        return _fake(observed)

    module.forecaster = forecaster
    monkeypatch.setitem(sys.modules, "sim.calibration.origin_forecast", module)
    return calls


def test_cli_writes_the_four_files(fake_module, tmp_path):
    out = tmp_path / "bt"
    r = CliRunner().invoke(
        main, ["backtest", "--out", str(out), "--quick", "--runs", "3", "--workers", "1"]
    )
    assert r.exit_code == 0, r.output
    assert fake_module == [{"quick": True, "runs": 3, "workers": 1, "progress": False}]
    _check_files(out)
    assert "| national_lg_batch | 1 |" in r.output
    assert (out / "backtest.md").read_text(encoding="utf-8") in r.output


def test_cli_json_prints_one_object(fake_module):
    r = CliRunner().invoke(main, ["backtest", "--json", "--origins", "2021,2022"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert isinstance(doc, dict)
    assert doc["origins"] == [2021, 2022]
    groups = {row["group"] for row in doc["summary"] if row["level"] == "group"}
    assert groups == {"national_lg_batch", "national_stocks", "provincial"}


def test_cli_unwritable_out_exits_2_before_forecasting(fake_module, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        r = CliRunner().invoke(main, ["backtest", "--out", str(out)])
        assert r.exit_code == 2, r.output
        assert "--out" in r.output and "nothing was run" in r.output
    assert fake_module == []


def test_cli_without_the_forecaster_module_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "sim.calibration.origin_forecast", None)
    r = CliRunner().invoke(main, ["backtest"])
    assert r.exit_code == 1
    assert "sim.calibration.origin_forecast" in r.output


def test_cli_bad_origins_exit_2(fake_module):
    r = CliRunner().invoke(main, ["backtest", "--origins", "2020,twenty"])
    assert r.exit_code == 2
    assert fake_module == []
