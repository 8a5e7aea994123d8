"""The model's forecasts from a backtest origin: what `srdi backtest` judges.

From origin O (the first year forecast), knowing only what was published before O:

* **The fit.** The national scenario is calibrated on the observations before O alone
  (`fit.fit(before=O)`, the same fit as `srdi calibrate --holdout-from O`): moments
  of O and later are not seen, parameters identified only by them copy their earlier regime,
  and the simulations behind the fit know only the batches published before O.
* **National series** come from that fit's posterior (`posterior.predict`: replication r
  at posterior row r) with `origin=O`: MIIT's and the provinces' batches published before O
  are used as published, later ones drawn from the batch distribution of
  `sim/engine/batches.py` built on the batches and goals published before O. The country is
  simulated at 1/`scale` of its firms (quotas scaled alike) and counts are scaled back.
* **A province's series** follow from the national run: its share of the national count at
  its last published count before O (the same information "repeat the last value" has), with
  a log spread of `competition.share_log_sd` per replication, times the national batches,
  losses and provincial lists of the run that follow. Henan's provincial lists are drawn from
  its own published batches and goals (henan.yaml).

Each replication is one national run; the quantiles are over replications.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

from sim.engine.batches import BatchSpread, plan_batches
from sim.engine.competition import published_batches, stated_goals
from sim.runs import summary
from sim.scenario.context import load_context
from sim.scenario.parameters import central, defaults

SEED = 20261202


def _national_runs(
    origin: int, runs: int, scale: float, workers: int, quick: bool, say: Callable[[str], None]
) -> dict[str, np.ndarray]:
    """Yearly national counts per replication (new, at_least, ever and lost per level), from
    the fit on data before `origin`."""
    from sim.calibration.fit import fit
    from sim.calibration.observed import load_config, load_observed
    from sim.calibration.posterior import predict
    from sim.calibration.simulation import METRICS

    config, obs = load_config(), load_observed()
    say(f"origin {origin}: fitting on the observations before {origin}")
    fit_, _ = fit(config, obs, before=origin, workers=workers, quick=quick, progress=say)
    say(f"origin {origin}: {runs} replications at 1/{scale:g}")
    pred = predict(fit_, config, obs, runs=runs, seed=SEED, scale=scale, workers=workers)
    arrays = {m: pred.series[:, METRICS.index(m)] for m in ("new", "at_least", "ever", "lost")}
    arrays["years"] = np.array(pred.years)
    return arrays


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    return summary.band(values)


def forecast_from(
    origin: int,
    observed: pd.DataFrame,
    runs: int,
    scale: float,
    workers: int = 1,
    quick: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Forecasts of every backtest series for the years from `origin` on (see module doc)."""

    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr)

    nat = _national_runs(origin, runs, scale, workers, quick, say)
    assumed = central(defaults())  # the batches' and shares' spreads (parameters.yaml)
    spread, share_log_sd = BatchSpread.of(assumed), assumed["competition.share_log_sd"]
    years = nat["years"]
    idx = {int(y): i for i, y in enumerate(years)}
    lg, prov = 3, 2  # levels of the standard ladder (innovative 1, provincial 2)
    national = {
        ("national_little_giant", "new"): nat["new"][:, :, lg],
        ("national_little_giant", "valid"): nat["at_least"][:, :, lg],
        ("national_little_giant", "cumulative"): nat["ever"][:, :, lg],
        ("provincial_srdi", "valid"): nat["at_least"][:, :, prov],
        ("provincial_srdi", "new"): nat["new"][:, :, prov],
    }
    lost_lg = nat["lost"][:, :, lg]
    rng = np.random.default_rng(np.random.SeedSequence([SEED, origin]))
    rows = []
    forecast_years = [int(y) for y in years if y >= origin]
    for series, obs in observed.groupby("series", sort=True):
        region, tier, measure = obs.iloc[0][["region", "tier", "measure"]]
        known = obs[obs["year"] < origin].sort_values("year")
        if region == "China":
            sim = national[(tier, measure)]
        elif known.empty:
            continue  # nothing published before the origin: no basis (nor for a naive method)
        elif region == "Henan" and tier == "provincial_srdi" and measure == "new":
            ctx = load_context("Henan")
            plan = plan_batches(
                published_batches(ctx, tier),
                stated_goals(ctx, tier),
                origin,
                forecast_years,
                spread,
            )
            sim = np.full((runs, len(years)), np.nan)
            for r in range(runs):
                drawn = plan.draw(forecast_years, rng)
                for y, v in drawn.items():
                    sim[r, idx[y]] = v
        else:
            anchor_year, anchor = int(known.iloc[-1]["year"]), float(known.iloc[-1]["value"])
            base = national[(tier, "valid" if measure == "new" else measure)][:, idx[anchor_year]]
            share = anchor / np.maximum(base, 1.0)
            if measure == "new":  # a batch: the share of the count held, of the batch
                share = anchor / np.maximum(national[(tier, "new")][:, idx[anchor_year]], 1.0)
            share = share * np.exp(share_log_sd * rng.standard_normal(runs))
            flow = national[(tier, "new")].copy()
            if measure == "valid" and tier == "national_little_giant":
                flow = flow - lost_lg
            sim = np.full((runs, len(years)), np.nan)
            level = np.full(runs, anchor)
            for y in (int(v) for v in years):
                if y <= anchor_year:
                    continue
                if measure == "new":
                    sim[:, idx[y]] = share * flow[:, idx[y]]
                else:
                    level = level + share * flow[:, idx[y]]
                    sim[:, idx[y]] = level
        for y in forecast_years:
            col = sim[:, idx[y]]
            if np.isnan(col).all():
                continue
            p05, p50, p95 = _quantiles(col)
            rows.append({"series": series, "year": y, "p05": p05, "p50": p50, "p95": p95})
    return pd.DataFrame(rows, columns=["series", "year", "p05", "p50", "p95"])


def forecaster(
    quick: bool = False, runs: int | None = None, workers: int | None = None, progress: bool = False
) -> Callable[[int], pd.DataFrame]:
    """The model's forecaster for `sim.calibration.backtest.run_backtest`: origin -> forecasts.

    `quick` fits with the calibration's quick settings and runs 6 replications at 1/400 scale
    (a smoke run, not a result); otherwise calibration/backtest.yaml's `runs` at 1/50. Results
    depend on the origin, the number of runs and the fixed seeds, not on `workers`.
    """
    from sim.calibration.backtest import load_config, load_series

    observed = load_series()
    n = runs or (6 if quick else int(load_config()["runs"]))
    scale = 400.0 if quick else 50.0

    def forecast(origin: int) -> pd.DataFrame:
        w = workers or os.cpu_count() or 1
        return forecast_from(origin, observed, n, scale, w, quick, progress)

    return forecast
