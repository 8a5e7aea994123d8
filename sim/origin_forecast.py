"""The model's forecasts from a backtest origin: what `srdi backtest` judges.

From origin O (the first year forecast), knowing only what was published before O:

* **National series** come from the national scenario run with `origin=O`: MIIT's and the
  provinces' batches published before O are used as published, later ones drawn from the
  batch distribution of `sim/batches.py` built on the batches and goals published before O.
  The country is simulated at 1/`scale` of its firms (quotas scaled alike) and counts are
  scaled back. Parameters are the shipped priors (`SRDI_CALIBRATION=off`): the saved fit
  used data after the origins.
* **A province's series** follow from the national run: its share of the national count at
  its last published count before O (the same information "repeat the last value" has), with
  a log spread of `competition.SHARE_LOG_SD` per replication, times the national batches,
  losses and provincial lists of the run that follow. Henan's provincial lists are drawn from
  its own published batches and goals (henan.yaml).

Each replication is one national run; the quantiles are over replications.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .batches import plan_batches
from .competition import SHARE_LOG_SD, published_batches, stated_goals
from .context import load_context

NATIONAL = Path(__file__).resolve().parent.parent / "scenarios" / "national.yaml"
SEED = 20261202


def _national_runs(origin: int, runs: int, scale: float, progress: bool) -> dict[str, np.ndarray]:
    """Yearly national counts per replication: new, at_least, ever and lost per level."""
    from .calibrate import Setup, national_scenario, uncalibrated
    from .model import GrowthModel

    with uncalibrated():
        setup = Setup(national_scenario(NATIONAL), scale=scale, names=[])
        seeds = np.random.SeedSequence(SEED).spawn(runs)
        out: dict[str, list[np.ndarray]] = {m: [] for m in ("new", "at_least", "ever", "lost")}
        iterator = seeds
        if progress:
            from tqdm import tqdm

            iterator = tqdm(seeds, desc=f"origin {origin}", unit="run", leave=False)
        for seed in iterator:
            values = setup.values([], seed)  # the calibration's scaled baseline and batches
            model = GrowthModel(setup.scenario, seed=seed, values=values, origin=origin)
            model.run_model()
            for m in out:
                out[m].append(np.stack([getattr(r, m) for r in model.history]) * scale)
            model.discard_firms()
        years = np.array([r.year for r in model.history])
    arrays = {m: np.stack(v) for m, v in out.items()}  # (runs, years, levels)
    arrays["years"] = years
    return arrays


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    p05, p50, p95 = np.quantile(values, [0.05, 0.5, 0.95])
    return float(p05), float(p50), float(p95)


def forecast_from(
    origin: int, observed: pd.DataFrame, runs: int, scale: float, progress: bool = False
) -> pd.DataFrame:
    """Forecasts of every backtest series for the years from `origin` on (see module doc)."""
    nat = _national_runs(origin, runs, scale, progress)
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
                published_batches(ctx, tier), stated_goals(ctx, tier), origin, forecast_years
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
            share = share * np.exp(SHARE_LOG_SD * rng.standard_normal(runs))
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
    """The model's forecaster for `sim.backtest.run_backtest`: origin -> forecasts.

    `quick` runs 6 replications at 1/400 scale (a smoke run, not a result); otherwise
    calibration/backtest.yaml's `runs` at 1/50. Runs are serial (`workers` is accepted for the
    CLI's signature); results depend only on the origin, the number of runs and the fixed seed.
    """
    from .backtest import load_config, load_series

    observed = load_series()
    n = runs or (6 if quick else int(load_config()["runs"]))
    scale = 400.0 if quick else 50.0

    def forecast(origin: int) -> pd.DataFrame:
        return forecast_from(origin, observed, n, scale, progress)

    return forecast
