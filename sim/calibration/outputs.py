"""What a fit is shown as: its tables (fit, parameters, forecast, approval rates, scale check,
hold-out against naive baselines) and figures (sim/views/calibration_plots.py), written
atomically; the hold-out and backtest outputs that `srdi calibrate --reproduce` regenerates.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.fit import Fit
from sim.calibration.observed import (
    ROOT,
    Moment,
    bounds_of,
    moments,
    past_values,
    run_settings,
)
from sim.calibration.posterior import Prediction, predict
from sim.calibration.simulation import METRICS, Calibration, national_scenario, uncalibrated
from sim.runs import summary
from sim.scenario import parameters as params_mod
from sim.views.output import write_atomic, write_text_atomic

log = logging.getLogger(__name__)

FIGURES = (  # written by `write_fit_outputs`
    "observed_vs_simulated.png",
    "residuals.png",
    "parameters.png",
    "re_review.png",
    "forecast.png",
)


def _error(m: Moment, x: float) -> float:
    """Relative error (%) of a simulated value: zero above a lower bound or inside an interval."""
    if m.form == "lower":
        return 100 * max(0.0, (m.value - x) / m.value)
    if m.form == "interval":
        return 100 * max(0.0, m.low - x, x - m.high) / m.value
    return 100 * abs(x - m.value) / m.value


def fit_table(pred: Prediction, point: dict[str, float] | None = None) -> pd.DataFrame:
    """Per moment: observed; simulated at the point estimate (mean over the fit's replications,
    when given) and over the posterior (mean, 90 % band); errors; whether inside the band."""
    rows = []
    for m in pred.moments:
        mean, lo, hi = pred.band(m)
        if m.form == "lower":
            err = max(0.0, (m.value - mean) / m.value)
            inside = hi >= m.value
        elif m.form == "interval":
            err = max(0.0, m.low - mean, mean - m.high) / m.value
            inside = hi >= m.low and lo <= m.high
        else:
            err = abs(mean - m.value) / m.value
            inside = lo <= m.value <= hi
        at = (point or {}).get(m.id, math.nan)
        rows.append(
            {
                "moment": m.id,
                "series": m.series,
                "year": m.year,
                "form": m.form,
                "observed": m.value if m.form != "interval" else f"{m.low:g}-{m.high:g}",
                "at_estimate": at,
                "at_estimate_error_pct": _error(m, at) if at == at else math.nan,
                "simulated_mean": mean,
                "p05": lo,
                "p95": hi,
                "abs_pct_error": 100 * err,
                "inside_90": bool(inside),
                "fitted": m.fitted,
            }
        )
    return pd.DataFrame(rows)


def forecast_table(pred: Prediction) -> pd.DataFrame:
    """Per tier, metric (new, at_least) and year: mean and 5/50/95 % over replications."""
    rows = []
    for metric in ("new", "at_least"):
        arr = pred.series[:, METRICS.index(metric)]
        for k, tier in enumerate(pred.tiers, start=1):
            for y, year in enumerate(pred.years):
                x = arr[:, y, k]
                p05, p50, p95 = summary.band(x)
                rows.append(
                    {
                        "tier": tier,
                        "metric": metric,
                        "year": year,
                        "mean": float(x.mean()),
                        "p05": p05,
                        "p50": p50,
                        "p95": p95,
                    }
                )
    return pd.DataFrame(rows)


def parameter_table(fit_: Fit, config: dict[str, Any]) -> pd.DataFrame:
    """Per parameter: shipped value, estimate, posterior mean, sd and 5-95 %, bounds (future
    ranges as uniforms)."""
    with uncalibrated():
        shipped = params_mod.defaults()
    rows = []
    for j, n in enumerate(fit_.names):
        x = fit_.sample[:, j]
        p05, _, p95 = summary.band(x)
        lo, hi = bounds_of(config, n)
        rows.append(
            {
                "parameter": n,
                "shipped": shipped[n].value,
                "estimate": fit_.theta[j],
                "posterior_mean": float(x.mean()),
                "posterior_sd": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
                "p05": p05,
                "p95": p95,
                "bound_low": lo,
                "bound_high": hi,
            }
        )
    for n, (lo, hi) in fit_.future.items():
        rows.append(
            {
                "parameter": f"{n} (future batches, uniform)",
                "shipped": shipped[n].value,
                "estimate": (lo + hi) / 2,
                "posterior_mean": (lo + hi) / 2,
                "posterior_sd": (hi - lo) / math.sqrt(12),
                "p05": lo + 0.05 * (hi - lo),
                "p95": lo + 0.95 * (hi - lo),
                "bound_low": lo,
                "bound_high": hi,
            }
        )
    return pd.DataFrame(rows)


def naive_baselines(
    obs_values: dict[int, float], year: int
) -> dict[str, tuple[float, float, float]]:
    """Forecasts of `year` from the values observed before it: (point, 5 %, 95 %).

    repeat_last: the last value, with a random-walk band (sd of the past yearly changes);
    trend: the least-squares straight line through the past values, with its 90 % prediction
    interval (needs 3 points for a band; with 2 points the line has no band). The points are
    the backtest's (`sim.calibration.backtest.naive_points`).
    """
    from scipy import stats

    from sim.calibration.backtest import naive_points

    past = sorted((y, v) for y, v in obs_values.items() if y < year)
    out: dict[str, tuple[float, float, float]] = {}
    if not past:
        return out
    ys = np.array([p[0] for p in past], float)
    vs = np.array([p[1] for p in past], float)
    points = naive_points(obs_values, year, [year])
    last = points["repeat_last"][year][0]
    if len(vs) >= 3:
        sd = float(np.std(np.diff(vs), ddof=1)) * math.sqrt(year - ys[-1])
        out["repeat_last"] = (last, last - 1.645 * sd, last + 1.645 * sd)
    else:
        out["repeat_last"] = (last, math.nan, math.nan)
    if len(vs) >= 2:
        b, a = np.polyfit(ys, vs, 1)
        point = points["trend"][year][0]
        if len(vs) >= 3:
            resid = vs - (a + b * ys)
            s = math.sqrt(float(resid @ resid) / (len(vs) - 2))
            se = s * math.sqrt(
                1 + 1 / len(vs) + (year - ys.mean()) ** 2 / ((ys - ys.mean()) ** 2).sum()
            )
            t = stats.t.ppf(0.95, len(vs) - 2)
            out["trend"] = (point, point - t * se, point + t * se)
        else:
            out["trend"] = (point, math.nan, math.nan)
    return out


def holdout_table(
    pred: Prediction, obs_by_moment: dict[str, dict[int, float]], before: int
) -> pd.DataFrame:
    """Held-out moments (years >= `before`): model and baselines, APE and 90 % coverage."""
    rows = []
    for m in pred.moments:
        if m.year < before or m.form != "point":
            continue
        mean, lo, hi = pred.band(m)
        row = {
            "moment": m.id,
            "year": m.year,
            "observed": m.value,
            "model": mean,
            "model_p05": lo,
            "model_p95": hi,
            "model_ape": 100 * abs(mean - m.value) / m.value,
            "model_covers": bool(lo <= m.value <= hi),
        }
        base = naive_baselines(obs_by_moment.get(m.id, {}), m.year)
        for name in ("repeat_last", "trend"):
            if name in base:
                p, blo, bhi = base[name]
                row[name] = p
                row[f"{name}_ape"] = 100 * abs(p - m.value) / m.value
                row[f"{name}_covers"] = bool(blo <= m.value <= bhi) if not math.isnan(blo) else None
            else:
                row[name] = row[f"{name}_ape"] = row[f"{name}_covers"] = None
        rows.append(row)
    return pd.DataFrame(rows)


def scale_check(
    fit_: Fit, config: dict[str, Any], obs: pd.DataFrame, scales: tuple[float, float], runs: int,
    seed: int, workers: int = 1,
) -> pd.DataFrame:  # fmt: skip
    """The fitted point simulated at two scales: mean moments, their difference and its MC se."""
    moms = moments(config, obs)
    rows = []
    res = {}
    for sc in scales:
        cal = Calibration(
            config, moms, names=fit_.names, scale=sc, runs=runs, seed=seed, workers=workers,
            future=fit_.future, ties=fit_.ties,
        )  # fmt: skip
        v = cal.simulate(fit_.theta, runs, seed)
        res[sc] = v
    a, b = (res[s] for s in scales)
    for j, m in enumerate(moms):
        xa, xb = a[:, j][~np.isnan(a[:, j])], b[:, j][~np.isnan(b[:, j])]
        if min(xa.size, xb.size) < 2:  # undefined in most replications (tiny --quick scales)
            rows.append({"moment": m.id, f"mean_1_{scales[0]:g}": np.nan,
                         f"mean_1_{scales[1]:g}": np.nan, "difference_pct": np.nan,
                         "difference_in_se": np.nan})  # fmt: skip
            continue
        se = math.sqrt(xa.var(ddof=1) / len(xa) + xb.var(ddof=1) / len(xb))
        rows.append(
            {
                "moment": m.id,
                f"mean_1_{scales[0]:g}": xa.mean(),
                f"mean_1_{scales[1]:g}": xb.mean(),
                "difference_pct": 100 * (xa.mean() - xb.mean()) / max(abs(xb.mean()), 1e-9),
                "difference_in_se": (xa.mean() - xb.mean()) / se if se > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _save_png(fig, path: Path) -> None:
    """A figure as PNG without the software tag (the same bytes for the same figure)."""
    write_atomic(path, lambda p: fig.savefig(p, dpi=90, format="png", metadata={"Software": None}))


def _save_csv(df: pd.DataFrame, path: Path) -> None:
    """A table as CSV, 6 significant digits."""
    write_text_atomic(path, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def approval_table(pred: Prediction) -> pd.DataFrame:
    """Approval rates as outcomes: per rationed tier and year, titles granted over applicants
    (mean and 5/50/95 % over replications), beside the observed rate where the national context
    file holds one (`applicants.<tier>.approval_rate`: its value and range)."""
    from sim.scenario.context import load_context

    observed = load_context("China").applicants
    rows = []
    for k, tier in enumerate(pred.tiers, start=1):  # level 0 is the candidate pool
        if tier not in ("provincial_srdi", "national_little_giant", "single_champion"):
            continue
        new = pred.series[:, METRICS.index("new"), :, k]
        applied = pred.series[:, METRICS.index("applied"), :, k]
        rate = observed[tier].approval_rate if tier in observed else None
        for i, year in enumerate(pred.years):
            ok = applied[:, i] > 0
            if not ok.any():
                continue
            r = new[ok, i] / applied[ok, i]
            p05, p50, p95 = summary.band(r)
            rows.append({
                "tier": tier, "year": year, "approval_mean": float(r.mean()),
                "p05": float(p05), "p50": float(p50), "p95": float(p95),
                "applied_mean": float(applied[:, i].mean()),
                "observed": rate.value if rate else None,
                "observed_low": rate.low if rate else None,
                "observed_high": rate.high if rate else None,
            })  # fmt: skip
    return pd.DataFrame(rows)


def write_fit_outputs(
    fit_: Fit,
    pred: Prediction,
    config: dict[str, Any],
    folder: Path,
    scale_df: pd.DataFrame | None = None,
    point: dict[str, float] | None = None,
    lang: str = "en",
) -> list[Path]:
    """The figures (words in `lang`) and tables of a fit, in `folder` (written atomically)."""
    import matplotlib.pyplot as plt

    from sim.views.calibration_plots import (
        plot_fit,
        plot_forecast,
        plot_parameters,
        plot_re_review,
        plot_residuals,
    )

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    figs = {
        "observed_vs_simulated.png": plot_fit(pred, lang=lang),
        "residuals.png": plot_residuals(pred, lang),
        "parameters.png": plot_parameters(fit_, config, lang),
        "re_review.png": plot_re_review(pred, lang),
        "forecast.png": plot_forecast(pred, national_scenario(ROOT / config["scenario"]), lang),
    }
    for name, fig in figs.items():
        _save_png(fig, folder / name)
        plt.close(fig)
        written.append(folder / name)
    tables = {
        "fit.csv": fit_table(pred, point),
        "parameters.csv": parameter_table(fit_, config),
        "forecast.csv": forecast_table(pred),
        "approval_rates.csv": approval_table(pred),
    }
    if scale_df is not None:
        tables["scale_check.csv"] = scale_df
    for name, df in tables.items():
        _save_csv(df, folder / name)
        written.append(folder / name)
    return written


def backtest_outputs(
    folder: Path, quick: bool, say: Callable[[str], None] = log.info, lang: str = "en"
) -> list[Path]:
    """The rolling-origin backtest (`srdi backtest` with calibration/backtest.yaml's runs):
    scores, summary, table and figure in `folder`."""
    from sim.calibration.backtest import run_backtest
    from sim.calibration.origin_forecast import forecaster

    t0 = time.perf_counter()
    result = run_backtest(forecaster(quick=quick))
    written = result.write(folder, lang)
    say(f"backtest: {len(written)} files written to {folder} in {time.perf_counter() - t0:.0f} s")
    return written


def holdout_outputs(
    folder: Path, year: int, config: dict[str, Any], obs: pd.DataFrame, seed: int,
    workers: int, quick: bool, figures: Path, lang: str = "en",
) -> tuple[pd.DataFrame, list[Path]]:  # fmt: skip
    """The hold-out table and figure from a saved hold-out fit."""
    import matplotlib.pyplot as plt

    s = run_settings(config, quick)
    fit_ = Fit.load(folder)
    pred = predict(fit_, config, obs, runs=int(s["predictive_runs"]), seed=seed,
                   scale=s["predictive_scale"], workers=workers)  # fmt: skip
    table = holdout_table(pred, past_values(config, obs), year)
    figures.mkdir(parents=True, exist_ok=True)
    csv_path = figures / f"holdout_{year}.csv"
    _save_csv(table, csv_path)
    from sim.views.calibration_plots import plot_holdout

    fig = plot_holdout(table, pred, year, lang)
    png = figures / f"holdout_{year}.png"
    _save_png(fig, png)
    plt.close(fig)
    return table, [csv_path, png]
