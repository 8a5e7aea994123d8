"""The posterior sample and the posterior predictive.

Sampling-importance-resampling (Rubin 1988): Laplace proposals are weighed by their simulated
likelihood over their Laplace density (`importance_weights`) and the posterior sample is drawn
from them by systematic resampling (`systematic_resample`). This matters where a moment is a
bound or an interval met at the optimum: it has no gradient there, the Laplace sample wanders
past it (at origin 2022, more than one draw in twenty left too few applicants to fill the
published lists), and the weights pull the sample back. With `posterior: laplace` the same
weights only report how far the Laplace sample is from the posterior (its effective sample size).

The posterior predictive (`predict`) runs replications drawing one posterior row each: 90 %
bands for every observed series and the forecast through 2025.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calibration.observed import Moment, moments
from sim.calibration.simulation import Calibration, Runner
from sim.runs import summary

if TYPE_CHECKING:
    from sim.calibration.fit import Fit


def importance_weights(
    cal: Calibration,
    proposal: np.ndarray,
    mean: np.ndarray,
    precision: np.ndarray,
    series_hat: np.ndarray,
    runs: int,
    runner: Runner,
) -> np.ndarray:
    """Importance weights of draws (unit cube) from N(mean, precision^-1): simulated likelihood
    over proposal density, normalised.

    Each draw runs `runs` replications (common random numbers across draws); its residuals use
    the observation sd widened by the Monte Carlo sd of a `runs`-replication mean (estimated at
    the optimum from `series_hat`).
    """
    base = cal.moment_values(series_hat, cal.fitted)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_mc = np.nanstd(np.log(np.maximum(base, 1e-9)), axis=0, ddof=1) / math.sqrt(runs)
    wide = [
        replace(m, sd=math.sqrt(m.sd**2 + float(np.nan_to_num(v)) ** 2))
        for m, v in zip(cal.fitted, sd_mc, strict=True)
    ]
    seeds = cal.seeds(runs, seed=cal.seed + 1)
    sims = cal.series([cal.from_unit(p) for p in proposal], seeds, runner)
    logw = np.empty(len(proposal))
    for i, (p, s) in enumerate(zip(proposal, sims, strict=True)):
        sim = cal.aggregate(cal.moment_values(s, cal.fitted))
        r = np.array([m.residual(x) for m, x in zip(wide, sim, strict=True)])
        d = p - mean
        logw[i] = -0.5 * float(r @ r) + 0.5 * float(d @ precision @ d)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` indices drawn with probabilities `w` by systematic resampling (one uniform; each
    index appears floor or ceil of n * w times), in the order of the proposals."""
    edges = np.cumsum(w)
    edges[-1] = 1.0
    points = (rng.random() + np.arange(n)) / n
    return np.searchsorted(edges, points, side="right")


def truncated_normal(
    mean: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """`n` draws of N(mean, cov) inside the unit cube (rejection; clipped after 50 rounds)."""
    chol = np.linalg.cholesky(cov)
    kept: list[np.ndarray] = []
    for _ in range(50):
        z = mean + rng.standard_normal((4 * n, mean.size)) @ chol.T
        kept.extend(z[np.all((z >= 0) & (z <= 1), axis=1)])
        if len(kept) >= n:
            return np.array(kept[:n])
    z = mean + rng.standard_normal((n - len(kept), mean.size)) @ chol.T
    return np.clip(np.array(kept + list(z)), 0.0, 1.0)


@dataclass
class Prediction:
    """Replications drawing one posterior row each: yearly series and moments."""

    years: list[int]
    tiers: list[str]
    series: np.ndarray  # (replications, metric, year, level), national size
    moments: list[Moment]
    values: np.ndarray  # (replications, k) simulated moments
    elapsed_seconds: float

    def band(self, m: Moment) -> tuple[float, float, float]:
        """Mean, 5 % and 95 % of moment `m` over the replications where it is defined."""
        x = self.values[:, self.moments.index(m)]
        x = x[~np.isnan(x)]
        p05, _, p95 = summary.band(x)
        return float(x.mean()), p05, p95


def predict(
    fit_: Fit,
    config: dict[str, Any],
    obs: pd.DataFrame,
    runs: int,
    seed: int,
    scale: float | None = None,
    workers: int = 1,
) -> Prediction:
    """`runs` replications, replication r at posterior row r (cycled), with the fit's future
    ranges; common random numbers with every other prediction of the same seed."""
    t0 = time.perf_counter()
    moms = moments(config, obs, fit_.meta.get("fitted_before"))
    cal = Calibration(
        config,
        moms,
        names=fit_.names,
        scale=scale or config["scale"],
        runs=runs,
        seed=seed,
        workers=workers,
        future=fit_.future,
        ties=fit_.ties,
        origin=fit_.meta.get("fitted_before"),
    )
    seeds = cal.seeds(runs)
    rows = [fit_.sample[r % len(fit_.sample)] for r in range(runs)]
    tasks = list(zip(rows, seeds, strict=True))
    with Runner(cal.setup, workers) as runner:
        out = runner.map(tasks)
    series = np.stack(out)
    return Prediction(
        years=cal.years,
        tiers=cal.scenario.tier_ids,
        series=series,
        moments=moms,
        values=cal.moment_values(series),
        elapsed_seconds=time.perf_counter() - t0,
    )
