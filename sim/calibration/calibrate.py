"""Calibration of the national scenario to the observed series, and a hold-out test: the verbs
of `srdi calibrate`, and the package's calibration API in one place.

The narrow door (black-it's contract): `Calibration.simulate(theta, n, seed)` runs `n`
replications of the national scenario at parameters `theta` (an array, in the order of
`Calibration.names`) and returns an `(n, k)` array of the `k` simulated moments, one row per
replication. The modules of sim/calibration/, one responsibility each:

- **observed data** (observed.py: `load_observed`, `load_config`, `moments`): the rows of
  calibration/data/observed_counts.csv named in calibration/config.yaml, each a point, a lower
  bound or an interval, with the documented choices of calibration/data/README.md;
- **the model and the objective** (simulation.py: `Calibration.simulate`,
  `Calibration.residuals_from`, `Runner`): standardised log errors of the mean simulated moment
  over `runs` replications with common random numbers, at 1/`scale` of the national population;
- **fit** (fit.py: `fit`, `Fit`): a bounded Levenberg-Marquardt search in the unit cube of the
  parameter bounds with Broyden updates between Jacobians, and a Laplace approximation of the
  posterior around the optimum, truncated to the bounds. With `posterior: importance`
  (config.yaml, the default) that sample only proposes: `posterior_proposals` draws are weighed
  by their simulated likelihood and the posterior sample is drawn from them by systematic
  resampling (posterior.py; the effective sample size of the weights is saved with the fit).
  With `posterior: laplace` the Laplace sample is used as it is, and the same weights of
  `importance_draws` fresh draws only report how far it is from the posterior;
- **posterior predictive** (posterior.py: `predict`): replications drawing one posterior row
  each, giving 90 % bands for every observed series and the forecast through 2025;
- **outputs** (outputs.py): the tables and figures of a fit, the hold-out table next to two
  naive baselines, the scale check;
- **the verbs** (here): `run_calibration` (`srdi calibrate`), `reproduce` (`--reproduce`),
  `run_holdout` (`--holdout-from YEAR`: the same fit on data before a year, forecasts from that
  year on) and the text they print (`format_fit`, `format_holdout`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.calibration.fit import Fit, fit
from sim.calibration.observed import (
    CALIBRATION_DIR,
    FIT_DIR,
    ROOT,
    CalibrationError,
    Moment,
    bounds_of,
    load_config,
    load_observed,
    moments,
    past_values,
    run_settings,
)
from sim.calibration.outputs import (
    FIGURES,
    approval_table,
    backtest_outputs,
    fit_table,
    forecast_table,
    holdout_outputs,
    holdout_table,
    naive_baselines,
    parameter_table,
    scale_check,
    write_fit_outputs,
)
from sim.calibration.posterior import Prediction, predict
from sim.calibration.simulation import (
    METRICS,
    Calibration,
    Runner,
    Setup,
    Task,
    national_scenario,
)

__all__ = [
    "CALIBRATION_DIR",
    "FIGURES",
    "FIT_DIR",
    "METRICS",
    "ROOT",
    "Calibration",
    "CalibrationError",
    "Fit",
    "Moment",
    "Prediction",
    "Runner",
    "Setup",
    "Task",
    "approval_table",
    "bounds_of",
    "fit",
    "fit_table",
    "forecast_table",
    "format_fit",
    "format_holdout",
    "holdout_table",
    "load_config",
    "load_observed",
    "moments",
    "naive_baselines",
    "national_scenario",
    "parameter_table",
    "past_values",
    "predict",
    "reproduce",
    "run_calibration",
    "run_holdout",
]

log = logging.getLogger(__name__)


def run_calibration(
    out: Path, seed: int | None = None, workers: int = 1, quick: bool = False,
    say: Callable[[str], None] = log.info, fit_dir: Path | None = None, lang: str = "en",
    bar: bool = False,
) -> Fit:  # fmt: skip
    """`srdi calibrate`: fit on every observation, save the fit in `fit_dir` (default `out`),
    then reproduce the figures in `out`."""
    config = load_config()
    obs = load_observed()
    fit_, _ = fit(config, obs, seed=seed, workers=workers, quick=quick, progress=say, bar=bar)
    fit_dir = fit_dir or out
    fit_.save(fit_dir)
    say(f"fit saved to {fit_dir}/fit.yaml and {fit_dir}/posterior.csv")
    reproduce(out, seed=None, workers=workers, quick=quick, say=say, fit_dir=fit_dir, lang=lang)
    return fit_


def reproduce(
    out: Path, seed: int | None = None, workers: int = 1, quick: bool = False,
    say: Callable[[str], None] = log.info, figures: Path | None = None,
    backtest: Path | None = None, fit_dir: Path | None = None, lang: str = "en",
) -> list[Path]:  # fmt: skip
    """`srdi calibrate --reproduce`: every figure and table of `out`/figures from the saved
    fit(s), identical for the same seed (default: the seed the fit was made with), and the
    rolling-origin backtest in `out`/backtest (its own fixed seed;
    sim/calibration/origin_forecast.py).
    The fit is read from `fit_dir` (default `out`), hold-out fits from `out`/holdout-*."""
    config = load_config()
    s = run_settings(config, quick)
    obs = load_observed()
    fit_ = Fit.load(fit_dir or out)
    seed = int(fit_.meta.get("seed", config["seed"]) if seed is None else seed)
    figures = figures or out / "figures"
    t0 = time.perf_counter()
    pred = predict(fit_, config, obs, runs=int(s["predictive_runs"]), seed=seed,
                   scale=s["predictive_scale"], workers=workers)  # fmt: skip
    say(
        f"posterior predictive: {pred.series.shape[0]} replications in {pred.elapsed_seconds:.0f} s"
    )
    scales = tuple(float(x) for x in s["scale_check"])
    scale_df = scale_check(fit_, config, obs, scales, runs=int(s["runs"]), seed=seed,
                           workers=workers)  # fmt: skip
    point = dict(zip(scale_df["moment"], scale_df.iloc[:, 1], strict=True))
    written = write_fit_outputs(fit_, pred, config, figures, scale_df, point, lang)
    for hold in sorted(out.glob("holdout-*")):
        if (hold / "fit.yaml").is_file():
            year = int(hold.name.split("-", 1)[1])
            written += holdout_outputs(
                hold, year, config, obs, seed, workers, quick, figures, lang
            )[1]
    backtest = backtest or out / "backtest"
    written += backtest_outputs(backtest, quick, say, lang)
    say(f"{len(written)} files written to {figures} and {backtest} in "
        f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    return written


def run_holdout(
    out: Path, year: int, seed: int | None = None, workers: int = 1, quick: bool = False,
    say: Callable[[str], None] = log.info, lang: str = "en", bar: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """`srdi calibrate --holdout-from YEAR`: fit on data before YEAR, forecast YEAR on."""
    config = load_config()
    obs = load_observed()
    if not any(m.year < year for m in moments(config, obs) if m.fitted):
        raise CalibrationError(f"no observation before {year} to fit on")
    fit_, cal = fit(config, obs, before=year, seed=seed, workers=workers, quick=quick,
                    progress=say, bar=bar)  # fmt: skip
    folder = out / f"holdout-{year}"
    fit_.save(folder)
    table, _ = holdout_outputs(folder, year, config, obs, cal.seed, workers, quick,
                               out / "figures", lang)  # fmt: skip
    return table


def format_fit(table: pd.DataFrame) -> str:
    """The fit table as text: observed, at the estimate, posterior mean and 90 % band."""

    def num(v) -> str:
        try:
            v = float(v)
        except ValueError:
            return str(v)
        if v != v:
            return "-"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"

    lines = [
        f"{'moment':<32}{'observed':>16}{'estimate':>10}{'err %':>7}{'posterior':>11}"
        f"{'90% band':>20}{'err %':>7}  in band",
    ]
    for _, r in table.iterrows():
        band = f"{num(r['p05'])}-{num(r['p95'])}"
        tag = "" if r["fitted"] else "  (not fitted)"
        lines.append(
            f"{r['moment']:<32}{num(r['observed']):>16}{num(r['at_estimate']):>10}"
            f"{r['at_estimate_error_pct']:7.1f}{num(r['simulated_mean']):>11}{band:>20}"
            f"{r['abs_pct_error']:7.1f}  {'yes' if r['inside_90'] else 'no'}{tag}"
        )
    return "\n".join(lines)


def format_holdout(table: pd.DataFrame, year: int) -> str:
    """The hold-out table as text: per moment the model and both baselines (APE, coverage),
    then their mean APE and 90 % coverage."""

    def f(v, pct=False):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if pct:
            return f"{v:.1f}"
        return f"{v:,.3g}" if abs(v) < 10 else f"{v:,.0f}"

    def cov(v):
        return "-" if v is None or v != v else ("yes" if v else "no")

    lines = [
        f"Hold-out: fitted on data before {year}; forecasts of {year} on",
        f"{'moment':<28}{'observed':>10}{'model':>9}{'90% band':>18}{'APE':>7}{'cov':>5}"
        f"{'repeat':>9}{'APE':>7}{'cov':>5}{'trend':>9}{'APE':>7}{'cov':>5}",
    ]
    for _, r in table.iterrows():
        band = f"{f(r['model_p05'])}-{f(r['model_p95'])}"
        lines.append(
            f"{r['moment']:<28}{f(r['observed']):>10}{f(r['model']):>9}{band:>18}"
            f"{f(r['model_ape'], True):>7}{cov(r['model_covers']):>5}"
            f"{f(r['repeat_last']):>9}{f(r['repeat_last_ape'], True):>7}"
            f"{cov(r['repeat_last_covers']):>5}"
            f"{f(r['trend']):>9}{f(r['trend_ape'], True):>7}{cov(r['trend_covers']):>5}"
        )
    n = len(table)
    if n:

        def mean_ape(col):
            x = pd.to_numeric(table[col], errors="coerce").dropna()
            return f"{x.mean():.1f} ({len(x)})" if len(x) else "-"

        def coverage(col):
            x = table[col].dropna()
            return f"{int(x.sum())}/{len(x)}" if len(x) else "-"

        lines += [
            "",
            f"mean APE (moments): model {mean_ape('model_ape')}, repeat last "
            f"{mean_ape('repeat_last_ape')}, trend {mean_ape('trend_ape')}",
            f"90 % interval coverage: model {coverage('model_covers')}, repeat last "
            f"{coverage('repeat_last_covers')}, trend {coverage('trend_covers')}",
        ]
    return "\n".join(lines)
