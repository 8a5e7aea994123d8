"""Rolling-origin backtest: forecasts judged on years they were not fitted to, next to naive ones.

The held-out series are in calibration/backtest.yaml; each observation names a row of
calibration/data/observed_counts.csv and the model year whose end it describes. For every
origin O and horizon h the forecast year is O + h - 1: observations of years before O are
known, O is the first year forecast.

A forecaster is any `Callable[[int], DataFrame]`: called with an origin, it returns one row per
series and year (>= origin) with columns `series, year, p05, p50, p95` (the model's 5 %, 50 %
and 95 % quantiles of the count the series measures). It must use only observations of model
years before the origin. `run_backtest` adds three naive forecasts from the same observations,
scores all of them on the same (series, origin, year) triples and summarises by series group.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError, ScenarioErrors, SrdiError
from sim.yaml_io import line_for, read_document, read_text_file

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "calibration" / "backtest.yaml"
OBSERVED = ROOT / "calibration" / "data" / "observed_counts.csv"

MEASURES = ("new", "valid", "cumulative")
FORMS = ("point", "lower")
NAIVE = ("repeat_last", "last_change", "trend")
MODEL = "model"
ALPHA = 0.10  # the forecast interval is the 90 % one: p05..p95
# the groups the acceptance criteria name; "provincial" is every series whose region is not China
GROUPS: dict[str, tuple[str, ...] | None] = {
    "national_lg_batch": ("china_lg_batch",),
    "national_stocks": ("china_lg_stock", "china_lg_cumulative", "china_provincial_srdi_stock"),
    "provincial": None,
}
GROUP_TITLES = {
    "en": {
        "national_lg_batch": "National little giants, new per batch",
        "national_stocks": "National stocks",
        "provincial": "Provincial series",
    },
    "zh": {
        "national_lg_batch": '国家级专精特新"小巨人"每批新增',
        "national_stocks": "全国存量",
        "provincial": "省级序列",
    },
}
SERIES_COLUMNS = [
    "series",
    "label",
    "label_zh",
    "region",
    "tier",
    "measure",
    "year",
    "value",
    "form",
]
FORECAST_COLUMNS = ["series", "year", "p05", "p50", "p95"]


class BacktestError(ScenarioError):
    """A backtest file (series definitions) that cannot be used as written."""


class ForecastOutputError(SrdiError, ValueError):
    """A forecaster returned a table the backtest cannot score."""


# --- series ----------------------------------------------------------------------------------


def load_config(config_path: str | Path = CONFIG) -> dict[str, Any]:
    """The backtest file as read: `origins`, `horizons`, `runs` and `series` (checked)."""
    path = Path(config_path)
    data, lines, duplicates = read_document(read_text_file(path, "backtest file"), str(path))
    if duplicates:
        raise ScenarioErrors(duplicates)
    doc = data or {}

    def bad(keys: list[str | int], expected: str, found: Any, fix: str | None = None) -> None:
        named = list(keys)  # series.<id>... rather than series.<index>... where the id is known
        if len(keys) > 1 and keys[0] == "series" and isinstance(keys[1], int):
            item = doc["series"][keys[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                named[1] = item["id"]
        raise BacktestError(
            str(path), ".".join(map(str, named)), expected, repr(found), line_for(lines, keys),
            fix, "invalid",
        )  # fmt: skip

    for key in ("origins", "horizons"):
        v = doc.get(key)
        if not isinstance(v, list) or not v or not all(isinstance(x, int) for x in v):
            bad([key], "a non-empty list of whole numbers", v)
    if min(doc["horizons"]) < 1:
        bad(["horizons"], "horizons of 1 or more (1 is the origin year itself)", doc["horizons"])
    runs = doc.get("runs")
    if not isinstance(runs, int) or isinstance(runs, bool) or runs < 1:
        bad(["runs"], "a whole number of replications per origin, 1 or more", runs)
    series = doc.get("series")
    if not isinstance(series, list) or not series:
        bad(["series"], "a non-empty list of series", series)
    seen: set[str] = set()
    for i, s in enumerate(series):
        if not isinstance(s, dict):
            bad(["series", i], "a mapping with id, label, label_zh, region, tier, measure, "
                "observations", s)  # fmt: skip
        for key in ("id", "label", "label_zh", "region", "tier", "measure", "observations"):
            if key not in s:
                bad(["series", i], f"a series with '{key}'", sorted(s))
        if s["id"] in seen:
            bad(["series", i, "id"], "a series id used once", s["id"])
        seen.add(s["id"])
        if s["measure"] not in MEASURES:
            bad(["series", i, "measure"], f"one of {', '.join(MEASURES)}", s["measure"])
        years: set[int] = set()
        for j, o in enumerate(s["observations"] or []):
            where: list[str | int] = ["series", i, "observations", j]
            if not isinstance(o, dict) or not {"row", "model_year", "form"} <= set(o):
                bad(where, f"{{row, model_year, form}} (series {s['id']})", o)
            if o["form"] not in FORMS:
                bad([*where, "form"], f"one of {', '.join(FORMS)} (series {s['id']})", o["form"])
            if not isinstance(o["model_year"], int) or isinstance(o["model_year"], bool):
                bad([*where, "model_year"], f"a year (series {s['id']})", o["model_year"])
            if o["model_year"] in years:
                bad([*where, "model_year"], f"one observation per year (series {s['id']})",
                    o["model_year"])  # fmt: skip
            years.add(o["model_year"])
    doc["_lines"] = lines
    return doc


def load_series(
    config_path: str | Path = CONFIG, observed_path: str | Path = OBSERVED
) -> pd.DataFrame:
    """The held-out observations, one row per series and model year.

    Columns: series, label, label_zh, region, tier, measure, year (the model year whose end the
    count describes), value, form (point | lower). Raises BacktestError (file, series, line)
    when an observation names no row of the observed data.
    """
    doc = load_config(config_path)
    obs = pd.read_csv(observed_path, dtype={"region": str, "tier": str, "kind": str})
    rows = []
    for i, s in enumerate(doc["series"]):
        for j, o in enumerate(s["observations"]):
            ref = o["row"]
            keys: list[str | int] = ["series", i, "observations", j, "row"]
            if not isinstance(ref, list) or len(ref) != 5:
                raise BacktestError(
                    str(config_path), f"series.{s['id']}.observations.{j}.row",
                    "[region, tier, kind, year, count]", repr(ref), line_for(doc["_lines"], keys),
                    kind="wrong_type",
                )  # fmt: skip
            region, tier, kind, year, count = ref
            hit = obs[
                (obs.region == region) & (obs.tier == tier) & (obs.kind == kind)
                & (obs.year == int(year)) & (obs["count"] == float(count))
            ]  # fmt: skip
            if hit.empty:
                raise BacktestError(
                    str(config_path), f"series.{s['id']}.observations.{j}.row",
                    f"a row of {Path(observed_path).name}", f"{ref} (series {s['id']})",
                    line_for(doc["_lines"], keys),
                    f"Add the row with its source to {Path(observed_path).name}, or correct it.",
                    "unknown_row",
                )  # fmt: skip
            rows.append(
                {
                    "series": s["id"], "label": s["label"], "label_zh": s["label_zh"],
                    "region": s["region"], "tier": s["tier"], "measure": s["measure"],
                    "year": int(o["model_year"]), "value": float(count), "form": o["form"],
                }
            )  # fmt: skip
    out = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    return out.sort_values(["series", "year"], kind="stable").reset_index(drop=True)


# --- naive forecasts -------------------------------------------------------------------------


def naive_points(
    values: Mapping[int, float], origin: int, years: Iterable[int]
) -> dict[str, dict[int, tuple[float, bool]]]:
    """The three naive forecasts of `years` from the values of years before `origin`.

    Returns {method: {year: (point, fallback)}}; empty when no value precedes the origin.
    repeat_last: the last value. last_change: the last value plus the change per year between
    the last two values, extended linearly. trend: the least-squares line through every value.
    With a single value, last_change and trend fall back to repeat_last (fallback True).
    Points are clipped at zero: a count is never negative.
    """
    past = sorted((int(y), float(v)) for y, v in values.items() if y < origin)
    if not past:
        return {}
    ys = np.array([p[0] for p in past], float)
    vs = np.array([p[1] for p in past], float)
    y_last, v_last = ys[-1], vs[-1]
    out: dict[str, dict[int, tuple[float, bool]]] = {m: {} for m in NAIVE}
    if len(past) >= 2:
        step = (vs[-1] - vs[-2]) / (ys[-1] - ys[-2])
        slope, intercept = np.polyfit(ys, vs, 1)
    for year in years:
        out["repeat_last"][year] = (v_last, False)
        if len(past) < 2:
            out["last_change"][year] = (v_last, True)
            out["trend"][year] = (v_last, True)
            continue
        out["last_change"][year] = (max(0.0, v_last + step * (year - y_last)), False)
        out["trend"][year] = (max(0.0, float(intercept + slope * year)), False)
    return out


def naive_forecasts(observed: pd.DataFrame, origin: int, years: list[int]) -> pd.DataFrame:
    """Naive forecasts of `years` for every series with a value before `origin`.

    `observed` has columns series, year, value (as from `load_series`). Only years < origin
    are used, and a lower bound is used as its value ('over 40,000' is 40,000 to a naive
    forecaster). Columns: method, series, year, p50, fallback.
    """
    rows = []
    for sid, d in observed.groupby("series", sort=False):
        pts = naive_points(dict(zip(d["year"], d["value"], strict=True)), origin, years)
        for method, by_year in pts.items():
            for year, (p50, fallback) in by_year.items():
                rows.append({"method": method, "series": sid, "year": int(year), "p50": p50,
                             "fallback": fallback})  # fmt: skip
    return pd.DataFrame(rows, columns=["method", "series", "year", "p50", "fallback"])


def forecast_targets(
    origin: int,
    config_path: str | Path = CONFIG,
    observed_path: str | Path = OBSERVED,
    horizons: Sequence[int] | None = None,
) -> pd.DataFrame:
    """What a forecaster is asked at `origin`: one row per series and forecast year.

    Columns: series, region, tier, measure, year, horizon, scored (an observation of that year
    exists and some value precedes the origin, so the model must give a p50 for it).
    """
    doc = load_config(config_path)
    observed = load_series(config_path, observed_path)
    horizons = list(horizons) if horizons is not None else list(doc["horizons"])
    known = set(observed.loc[observed["year"] < origin, "series"])
    seen = set(zip(observed["series"], observed["year"], strict=True))
    rows = [
        {
            "series": s["id"], "region": s["region"], "tier": s["tier"], "measure": s["measure"],
            "year": origin + h - 1, "horizon": h,
            "scored": s["id"] in known and (s["id"], origin + h - 1) in seen,
        }
        for s in doc["series"]
        for h in horizons
    ]  # fmt: skip
    return pd.DataFrame(rows)


# --- scores ----------------------------------------------------------------------------------


def _interval_score(lo: float, hi: float, y: float, form: str) -> float:
    """Interval score of [lo, hi] (Gneiting & Raftery 2007, alpha = 0.10), divided by y.

    Point: (hi - lo) + (2/alpha)(lo - y)+ + (2/alpha)(y - hi)+. Lower bound (the truth is
    some x >= y): the smallest score over every such x, which is (hi - lo) + (2/alpha)(y - hi)+:
    an interval is penalised only for lying wholly below the bound.
    """
    if math.isnan(lo) or math.isnan(hi):
        return math.nan
    s = hi - lo + 2 / ALPHA * max(0.0, y - hi)
    if form == "point":
        s += 2 / ALPHA * max(0.0, lo - y)
    return s / y


def score(
    forecasts: pd.DataFrame, observed: pd.DataFrame, horizons: Sequence[int] | None = None
) -> pd.DataFrame:
    """One row per (method, series, origin, year) on the common comparison set.

    `forecasts`: method, series, origin, year, p05, p50, p95 (p05/p95 may be NaN). The set is
    every (series, origin, year) with an observation and a naive forecast (horizon = year -
    origin + 1, limited to `horizons` if given); every method present is scored on that set
    alone, and a method with no forecast for a triple gets NaN scores there.

    ape: |p50 - y| / y; for a lower bound, max(0, y - p50) / y (only a forecast below the bound
    is an error). covered: p05 <= y <= p95; for a lower bound, p95 >= y. width: (p95 - p05) / y.
    interval_score: see `_interval_score`. Interval columns are NaN where p05/p95 are NaN.
    """
    f = forecasts.copy()
    for col in ("p05", "p95"):
        if col not in f:
            f[col] = np.nan
    f["horizon"] = f["year"] - f["origin"] + 1
    obs = observed[["series", "year", "value", "form"]].rename(columns={"value": "observed"})
    keys = ["series", "origin", "year"]
    naive = f[f["method"].isin(NAIVE) & (f["horizon"] >= 1)][[*keys, "horizon"]].drop_duplicates()
    cases = naive.merge(obs, on=["series", "year"])
    if horizons is not None:
        cases = cases[cases["horizon"].isin(list(horizons))]
    methods = list(_method_order(f["method"]))
    grid = pd.DataFrame({"method": methods}).merge(cases, how="cross")
    out = grid.merge(f[["method", *keys, "p05", "p50", "p95"]], on=["method", *keys], how="left")
    y, p50, lo, hi = (out[c].astype(float) for c in ("observed", "p50", "p05", "p95"))
    lower = out["form"] == "lower"
    out["ape"] = np.where(lower, np.maximum(0.0, y - p50) / y, (p50 - y).abs() / y)
    out.loc[p50.isna(), "ape"] = np.nan
    has_band = lo.notna() & hi.notna()
    covered = np.where(lower, hi >= y, (lo <= y) & (y <= hi))
    out["covered"] = pd.array(np.where(has_band, covered, pd.NA), dtype="boolean")
    out["width"] = (hi - lo) / y
    out["interval_score"] = [
        _interval_score(a, b, v, form) for a, b, v, form in zip(lo, hi, y, out["form"], strict=True)
    ]
    cols = ["method", "series", "origin", "year", "horizon", "observed", "form", "p05", "p50",
            "p95", "ape", "covered", "width", "interval_score"]  # fmt: skip
    order = {m: i for i, m in enumerate(methods)}
    out = out[cols].sort_values(
        ["series", "origin", "year", "method"], key=lambda c: c.map(order) if c.name == "method"
        else c, kind="stable",
    )  # fmt: skip
    return out.reset_index(drop=True)


def _method_order(methods: Iterable[str]) -> dict[str, int]:
    """The model first, then the naive methods, then any other, each with its rank."""
    present = set(methods)
    names = [m for m in (MODEL, *NAIVE) if m in present] + sorted(present - {MODEL, *NAIVE})
    return {m: i for i, m in enumerate(names)}


def _group_members(series: Iterable[str], region_of: Mapping[str, str]) -> dict[str, list[str]]:
    out = {}
    for g, ids in GROUPS.items():
        if ids is None:
            out[g] = [s for s in series if region_of.get(s) != "China"]
        else:
            out[g] = [s for s in series if s in ids]
    return out


def summary(scores: pd.DataFrame, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean scores per series and per group, horizon and method, with the best naive method.

    Rows: level (series | group), group (the series id or group name), horizon, method, n
    (triples scored), mean_ape, coverage (share of intervals covering; NaN for naive methods),
    mean_width, mean_interval_score, best_naive (the naive method with the lowest mean APE in
    that group and horizon, chosen after seeing the errors, which favours the naive side),
    best_naive_ape, model_at_or_below (model mean APE <= best_naive_ape; NaN without a model).
    Groups: national_lg_batch, national_stocks, provincial (every series outside China); the
    region of a series is read from `observed` (default: calibration/backtest.yaml).
    """
    if observed is None:
        observed = load_series()
    region_of = dict(zip(observed["series"], observed["region"], strict=False))
    parts = [("series", s, [s]) for s in scores["series"].unique()]
    parts += [("group", g, ids) for g, ids in _group_members(scores["series"].unique(),
                                                               region_of).items()]  # fmt: skip
    rows = []
    for level, name, ids in parts:
        d = scores[scores["series"].isin(ids)]
        for (h, method), x in d.groupby(["horizon", "method"], sort=True):
            cov = x["covered"].dropna()
            rows.append(
                {
                    "level": level, "group": name, "horizon": int(h), "method": method,
                    "n": int(x["ape"].notna().sum()), "mean_ape": x["ape"].mean(),
                    "coverage": float(cov.astype(float).mean()) if len(cov) else math.nan,
                    "mean_width": x["width"].mean(),
                    "mean_interval_score": x["interval_score"].mean(),
                }
            )  # fmt: skip
    cols = ["level", "group", "horizon", "method", "n", "mean_ape", "coverage", "mean_width",
            "mean_interval_score", "best_naive", "best_naive_ape", "model_at_or_below"]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols[:9])
    best, best_ape, beats = [], [], []
    for _, d in out.groupby(["level", "group", "horizon"], sort=False):
        naive = d[d["method"].isin(NAIVE) & d["mean_ape"].notna()]
        naive = naive.assign(_o=naive["method"].map(NAIVE.index)).sort_values(["mean_ape", "_o"])
        b = naive.iloc[0] if len(naive) else None
        model = d[d["method"] == MODEL]["mean_ape"]
        m = model.iloc[0] if len(model) else math.nan
        ok = (bool(m <= b["mean_ape"] + 1e-12) if b is not None and not math.isnan(m)
              else None)  # fmt: skip
        for idx in d.index:
            best.append((idx, b["method"] if b is not None else None))
            best_ape.append((idx, b["mean_ape"] if b is not None else math.nan))
            beats.append((idx, ok))
    out["best_naive"] = pd.Series(dict(best), dtype=object)
    out["best_naive_ape"] = pd.Series(dict(best_ape), dtype=float)
    out["model_at_or_below"] = pd.Series(dict(beats), dtype="boolean")
    order = {"level": {"group": 0, "series": 1}, "method": _method_order(out["method"])}
    out = out.sort_values(["level", "group", "horizon", "method"],
                          key=lambda c: c.map(order[c.name]) if c.name in order else c,
                          kind="stable")  # fmt: skip
    return out[cols].reset_index(drop=True)


# --- result ----------------------------------------------------------------------------------


def _pct(v: Any) -> str:
    return "-" if v is None or pd.isna(v) else f"{100 * float(v):.1f} %"


def _round(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Floats to `digits` significant digits (CSV output)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = [v if pd.isna(v) else float(f"{v:.{digits}g}") for v in out[c]]
    return out


@dataclass
class BacktestResult:
    """Forecasts, scores and summary of one backtest, with its tables and figure."""

    forecasts: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    observed: pd.DataFrame
    origins: list[int]
    horizons: list[int]

    def markdown(self) -> str:
        """The summary as GitHub markdown: groups, then one line per series and horizon."""
        s = self.summary
        head = (
            "| {0} | horizon | n | model APE | best naive | naive APE | model at or below | "
            "coverage 90 % | width |\n|---|---:|---:|---:|---|---:|:---:|---:|---:|"
        )
        lines = [
            "## Rolling-origin backtest",
            "",
            f"Origins {', '.join(map(str, self.origins))}; horizons "
            f"{', '.join(map(str, self.horizons))}: horizon h forecasts the year "
            "origin + h - 1 from observations of earlier years. APE is the mean absolute "
            "percentage error (a lower bound counts only a forecast below it); coverage is the "
            "share of 90 % intervals holding the observation; width is the interval's width "
            "over the observation.",
        ]
        for level, title in (("group", "group"), ("series", "series")):
            lines += ["", head.format(title)]
            d = s[s["level"] == level]
            for (name, h), x in d.groupby(["group", "horizon"], sort=False):
                model = x[x["method"] == MODEL]
                m = model.iloc[0] if len(model) else None
                first = x.iloc[0]
                ok = first["model_at_or_below"]
                lines.append(
                    f"| {name} | {h} | {int(first['n']) if m is None else int(m['n'])} | "
                    f"{_pct(m['mean_ape'] if m is not None else None)} | "
                    f"{first['best_naive'] or '-'} | {_pct(first['best_naive_ape'])} | "
                    f"{'-' if pd.isna(ok) else ('yes' if ok else 'no')} | "
                    f"{_pct(m['coverage'] if m is not None else None)} | "
                    f"{_pct(m['mean_width'] if m is not None else None)} |"
                )
        scored = set(self.scores["series"])
        never = [x for x in self.observed["series"].unique() if x not in scored]
        if never:
            lines += [
                "",
                "Not scored at these origins (no value before the origin, or no observation in "
                f"the forecast years): {', '.join(never)}.",
            ]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (NaN as None) for JSON."""
        return {
            "origins": [int(o) for o in self.origins],
            "horizons": [int(h) for h in self.horizons],
            "summary": json.loads(self.summary.to_json(orient="records", force_ascii=False)),
        }

    def write(self, folder: str | Path, lang: str = "en") -> list[Path]:
        """backtest_scores.csv, backtest_summary.csv (UTF-8 with BOM, 4 significant digits),
        backtest.md and backtest.png (labels in `lang`) into `folder`, each written atomically,
        mode 0644."""
        from sim.views.output import write_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)

        def text(content: str, encoding: str = "utf-8") -> Callable[[Path], None]:
            def write(p: Path) -> None:
                p.write_text(content, encoding=encoding)
                os.chmod(p, 0o644)

            return write

        def png(p: Path) -> None:
            from sim.views.calibration_plots import plot_backtest

            fig = plot_backtest(self, lang)
            fig.savefig(p, dpi=100, format="png", metadata={"Software": None})
            os.chmod(p, 0o644)

        files = {
            "backtest_scores.csv": text(
                _round(self.scores).to_csv(index=False, lineterminator="\n"), "utf-8-sig"
            ),
            "backtest_summary.csv": text(
                _round(self.summary).to_csv(index=False, lineterminator="\n"), "utf-8-sig"
            ),
            "backtest.md": text(self.markdown()),
            "backtest.png": png,
        }
        paths = []
        for name, write in files.items():
            write_atomic(folder / name, write)
            paths.append(folder / name)
        return paths


def _check_forecast(df: Any, origin: int) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ForecastOutputError(
            f"forecaster({origin}) returned {type(df).__name__}, not a DataFrame"
        )
    missing = [c for c in FORECAST_COLUMNS if c not in df.columns]
    if missing:
        raise ForecastOutputError(
            f"forecaster({origin}) returned no column {', '.join(missing)}; expected "
            f"{', '.join(FORECAST_COLUMNS)}"
        )
    twice = df[df.duplicated(["series", "year"], keep=False)]
    if len(twice):
        pairs = ", ".join(sorted({f"{r.series} {r.year}" for r in twice.itertuples()}))
        raise ForecastOutputError(f"forecaster({origin}) gave more than one row for: {pairs}")
    return df[FORECAST_COLUMNS].copy()


def run_backtest(
    forecaster: Callable[[int], pd.DataFrame],
    origins: Sequence[int] | None = None,
    config_path: str | Path = CONFIG,
    observed_path: str | Path = OBSERVED,
    horizons: Sequence[int] | None = None,
) -> BacktestResult:
    """Forecast from each origin with `forecaster` and the naive methods, score, summarise.

    `forecaster(origin)` returns series, year, p05, p50, p95 (years >= origin; other years are
    ignored). Every (series, year) that is scored at that origin (an observation exists and
    some value precedes the origin) must have a model p50, or ForecastOutputError is raised.
    """
    doc = load_config(config_path)
    observed = load_series(config_path, observed_path)
    origins = list(origins) if origins is not None else list(doc["origins"])
    horizons = list(horizons) if horizons is not None else list(doc["horizons"])
    parts = []
    for origin in origins:
        years = [origin + h - 1 for h in horizons]
        naive = naive_forecasts(observed, origin, years).drop(columns="fallback")
        naive = naive.assign(origin=origin, p05=np.nan, p95=np.nan)
        model = _check_forecast(forecaster(origin), origin)
        model = model[model["year"].isin(years)].assign(method=MODEL, origin=origin)
        needed = naive[["series", "year"]].drop_duplicates().merge(observed[["series", "year"]])
        have = model.dropna(subset=["p50"])[["series", "year"]]
        lack = needed.merge(have, how="left", indicator=True).query("_merge == 'left_only'")
        if len(lack):
            pairs = ", ".join(f"{r.series} {r.year}" for r in lack.itertuples())
            raise ForecastOutputError(f"forecaster({origin}) gave no p50 for: {pairs}")
        parts += [model, naive]
    cols = ["method", "series", "origin", "year", "p05", "p50", "p95"]
    forecasts = pd.concat([p[cols] for p in parts], ignore_index=True)
    forecasts["year"] = forecasts["year"].astype(int)
    scores = score(forecasts, observed, horizons)
    return BacktestResult(
        forecasts=forecasts,
        scores=scores,
        summary=summary(scores, observed),
        observed=observed,
        origins=origins,
        horizons=horizons,
    )
