"""The fit: a search for the parameters that best reproduce the observed moments, the posterior
around them, and the saved result (`Fit`: sim/data/calibration/fit.yaml + posterior.csv).

The search (`fit`, `_gauss_newton`) is bounded Levenberg-Marquardt in the unit cube of the
parameter bounds (log scale for rates bounded away from zero; steps by
scipy.optimize.lsq_linear), with a forward-difference Jacobian whose points run in parallel and
Broyden updates between Jacobians. The posterior is a Laplace approximation around the optimum
(Jacobian of the standardised residuals plus a weak prior, the variance of a uniform over the
bounds), sampled and truncated to the bounds; with `posterior: importance` (config.yaml, the
default) that sample only proposes, and the posterior sample is drawn from the proposals by
their simulated likelihood (sim/calibration/posterior.py).
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.calibration.observed import CONFIG, CalibrationError, moments, run_settings
from sim.calibration.posterior import importance_weights, systematic_resample, truncated_normal
from sim.calibration.simulation import Calibration, Runner
from sim.views.output import write_text_atomic
from sim.yaml_io import read_yaml

log = logging.getLogger(__name__)


@dataclass
class Fit:
    """A fitted calibration: point estimate, posterior sample, and what produced them."""

    names: list[str]
    theta: np.ndarray
    sample: np.ndarray  # (draws, parameters)
    residuals: dict[str, float]
    future: dict[str, tuple[float, float]]
    ties: dict[str, str]  # parameters that copy another (in a hold-out: a future rate)
    meta: dict[str, Any]

    def expanded(self, fixed: dict[str, float] | None = None) -> Fit:
        """The fit with tied and fixed parameters written out as their own columns (saved so)."""
        names, cols, ties = list(self.names), list(self.sample.T), {}
        theta = list(self.theta)
        for name, value in (fixed or {}).items():
            names.append(name)
            cols.append(np.full(len(self.sample), float(value)))
            theta.append(float(value))
        for name, source in self.ties.items():
            if source in self.names:
                j = self.names.index(source)
                names.append(name)
                cols.append(self.sample[:, j])
                theta.append(self.theta[j])
            else:
                ties[name] = source
        return replace(
            self, names=names, theta=np.array(theta), sample=np.stack(cols, axis=1), ties=ties
        )

    def save(self, folder: Path) -> None:
        """Write fit.yaml (estimates, future ranges, ties, residuals, meta) and posterior.csv."""
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / "posterior.csv", _csv(self.names, self.sample))
        doc = {
            "method": self.meta["method"],
            "parameters": {n: _r(v) for n, v in zip(self.names, self.theta, strict=True)},
            "posterior": "posterior.csv",
            "ranges": {
                n: {
                    "value": _r((lo + hi) / 2),
                    "range": [_r(lo), _r(hi)],
                    "how": self.meta.get("future_how", ""),
                }
                for n, (lo, hi) in self.future.items()
            },
            "ties": self.ties,
            "residuals": {k: _r(v) for k, v in self.residuals.items()},
            "meta": {k: v for k, v in self.meta.items() if k != "method"},
        }
        write_text_atomic(
            folder / "fit.yaml",
            "# Made by `srdi calibrate` (sim/calibration/calibrate.py); every scenario's defaults"
            " take these\n"
            "# values (sim/scenario/parameters.py) and replications draw rows of posterior.csv.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100),
        )

    @classmethod
    def load(cls, folder: Path) -> Fit:
        """The fit saved in `folder` (fit.yaml and the posterior sample it names)."""
        path = folder / "fit.yaml"
        if not path.is_file():
            raise CalibrationError(f"no saved fit in {folder} (run `srdi calibrate` first)")
        doc = read_yaml(path.read_text(encoding="utf-8"), str(path))
        names = list(doc["parameters"])
        with open(folder / doc["posterior"], newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        sample = np.array([[float(r[n]) for n in names] for r in rows])
        return cls(
            names=names,
            theta=np.array([doc["parameters"][n] for n in names], float),
            sample=sample,
            residuals=dict(doc.get("residuals") or {}),
            future={n: tuple(e["range"]) for n, e in (doc.get("ranges") or {}).items()},
            ties=dict(doc.get("ties") or {}),
            meta={"method": doc["method"], **(doc.get("meta") or {})},
        )


def _r(v: float) -> float:
    """`v` rounded to 6 significant digits (as saved)."""
    return float(f"{float(v):.6g}")


def _csv(names: list[str], rows: np.ndarray) -> str:
    """The sample as CSV text, 6 significant digits."""
    lines = [",".join(names)] + [",".join(f"{v:.6g}" for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def future_range(
    names: list[str], theta: np.ndarray, fitted_years: list[int], last: int
) -> tuple[float, float]:
    """Range of the undated little-giant approval rate (future batches): the fitted rates of the
    last `last` batch years, from their lowest to their highest."""
    key = "approval.national_little_giant"
    rates = [theta[names.index(f"{key}.{y}")] for y in fitted_years[-last:]]
    return float(min(rates)), float(max(rates))


@contextmanager
def _points_bar(cal: Calibration, total: int, show: bool) -> Iterator[Any]:
    """A tqdm bar over the calibration's simulated points (none unless `show` and a terminal)."""
    from tqdm import tqdm

    with tqdm(total=total, desc="calibration", unit="point", disable=None if show else True,
              file=sys.stderr, leave=False) as points:  # fmt: skip
        cal.on_evaluated = points.update
        try:
            yield points
        finally:
            cal.on_evaluated = None
            points.update(max(0, points.total - points.n))


def fit(
    config: dict[str, Any],
    obs: pd.DataFrame,
    before: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    bar: bool = False,
) -> tuple[Fit, Calibration]:
    """Fit the calibrated parameters to the moments observed before `before` (all if None).

    `bar`: a progress bar on stderr over the points simulated, its total the most the search
    can take (warm passes, two Jacobians, the iteration cap, the importance check), so its time
    left is an upper bound; a search that converges early jumps to the end."""
    say = progress or log.info
    t0 = time.perf_counter()
    settings = run_settings(config, quick)
    posterior = settings.get("posterior", "laplace")
    if posterior not in ("laplace", "importance"):
        raise CalibrationError(
            f"{CONFIG}: field 'posterior' must be 'laplace' or 'importance', found {posterior!r}"
        )
    proposals = settings.get("posterior_proposals")
    if posterior == "importance" and not (isinstance(proposals, int) and proposals >= 2):
        raise CalibrationError(
            f"{CONFIG}: field 'posterior_proposals' must be a whole number of at least 2 when "
            f"'posterior' is 'importance', found {proposals!r}"
        )
    moms = moments(config, obs, before)
    pc = config["parameters"]
    names = list(pc)
    key = "approval.national_little_giant"
    ties = {extra: n for n in names for extra in pc[n].get("sets", [])}
    if before is not None:  # parameters identified only by held-out years copy another value
        held = [n for n in names if pc[n].get("first_year", -(10**9)) >= before]
        for n in held:
            for m in [n, *pc[n].get("sets", [])]:
                ties[m] = pc[n]["otherwise"]
        names = [n for n in names if n not in held]
    fitted_years = sorted(int(n.rsplit(".", 1)[1]) for n in names if n.startswith(f"{key}."))
    # dated approval rates (a rate per batch) need a rate for the future batches; rationed
    # batches (the shipped config) have none: the batch is the quota (sim/engine/batches.py)
    placeholder = {key: tuple(config["future"]["prior"])} if fitted_years else {}
    cal = Calibration(
        config,
        moms,
        names=names,
        scale=settings["scale"],
        runs=settings["runs"],
        seed=seed,
        workers=workers,
        future=placeholder,
        ties=ties,
        origin=before,
    )
    seeds = cal.seeds(cal.runs)
    most = (
        int(settings["warm_passes"])
        + 2 * (len(names) + 1)
        + int(settings["max_evaluations"])
        + (proposals if posterior == "importance" else int(settings.get("importance_draws", 0)))
    )
    say(
        f"fitting {len(names)} parameters to {len(cal.fitted)} moments at 1/{cal.scale:g} scale, "
        f"{cal.runs} replications per point, {workers} worker(s)"
    )
    h = float(settings["diff_step"])
    cache: dict[bytes, np.ndarray] = {}
    at: dict[bytes, np.ndarray] = {}  # the simulated series behind each cached point

    with _points_bar(cal, most, bar), Runner(cal.setup, workers) as runner:

        def evaluate(points: list[np.ndarray]) -> list[np.ndarray]:
            todo = [p for p in points if p.tobytes() not in cache]
            if todo:
                for p, s in zip(
                    todo, cal.series([cal.from_unit(p) for p in todo], seeds, runner), strict=True
                ):
                    cache[p.tobytes()] = cal.residuals_from(s)
                    at[p.tobytes()] = s
            return [cache[p.tobytes()] for p in points]

        def fun(u: np.ndarray) -> np.ndarray:
            r = evaluate([u])[0]
            say(f"  evaluation {cal.evaluations:3d}: sum of squares {float(r @ r):10.3f}")
            return r

        def jac(u: np.ndarray) -> np.ndarray:
            steps = [np.where(u + h <= 1.0, h, -h)[j] for j in range(u.size)]
            pts = [u.copy()]
            for j, st in enumerate(steps):
                p = u.copy()
                p[j] += st
                pts.append(p)
            res = evaluate(pts)
            return np.stack([(res[j + 1] - res[0]) / steps[j] for j in range(u.size)], axis=1)

        # warm start: each batch's rate scaled so that its batch size is matched (two passes)
        u = cal.to_unit(np.clip(cal.start(), *cal.bounds.T))
        for _ in range(int(settings["warm_passes"])):
            sim = cal.aggregate(cal.moment_values(cal.series([cal.from_unit(u)], seeds, runner)[0]))
            theta = cal.from_unit(u)
            for m, s in zip(cal.moments, sim, strict=True):
                pname = f"{key}.{m.year}"
                lg_batch = m.metric == "new" and m.tier == "national_little_giant"
                if m.fitted and lg_batch and pname in names and s > 0:
                    j = names.index(pname)
                    theta[j] = theta[j] * m.value / s
            u = cal.to_unit(np.clip(theta, *cal.bounds.T))
        u_hat, r_hat = _gauss_newton(fun, jac, u, int(settings["max_evaluations"]), say)
        say("  Jacobian at the optimum (for the posterior)")
        J = jac(u_hat)
        # Laplace approximation: precision = J'J / (1 + 1/R) + the bounds' uniform prior as a
        # weak normal (variance 1/12 per unit-cube coordinate)
        precision = J.T @ J / (1.0 + 1.0 / cal.runs) + 12.0 * np.eye(len(names))
        cov = np.linalg.inv(precision)
        rng = np.random.default_rng(np.random.SeedSequence([cal.seed, 7]))
        draws = int(settings["posterior_draws"])
        m_is = int(settings.get("importance_draws", 0))
        ess: list[float] = []

        def weigh(n: int) -> tuple[np.ndarray, np.ndarray]:
            """`n` fresh Laplace draws and their importance weights (the ESS is kept)."""
            prop = truncated_normal(u_hat, cov, n, rng)
            w = importance_weights(cal, prop, u_hat, precision, at[u_hat.tobytes()],
                         int(settings["importance_runs"]), runner)  # fmt: skip
            ess.append(1.0 / float(w @ w))
            say(f"  effective sample size {ess[-1]:.1f} of {n}")
            return prop, w

        if posterior == "importance":
            # sampling-importance-resampling: the Laplace approximation proposes, the simulated
            # likelihood weighs, and the posterior sample is drawn from the weighted proposals.
            # A bound or an interval moment that is met at the optimum has no gradient there,
            # so the Laplace sample alone wanders past it; the weights pull it back.
            say(f"  posterior: {proposals} Laplace proposals weighed by the simulated likelihood")
            prop, w = weigh(proposals)
            sample_u = prop[systematic_resample(w, draws, rng)]
        else:
            sample_u = truncated_normal(u_hat, cov, draws, rng)
            if m_is:
                # a check of the Laplace approximation, not used to change the sample: the
                # effective sample size of importance weights (simulated likelihood / Laplace
                # density) of fresh Laplace draws; a small one says the Laplace sample is wider
                # than the posterior
                say(f"  importance-sampling check of the Laplace approximation: {m_is} draws")
                weigh(m_is)
    theta_hat = cal.from_unit(u_hat)
    sample = np.array([cal.from_unit(s) for s in sample_u])
    future = {}
    future_how = "none: every national batch is a rationed quota (sim/engine/batches.py)"
    if fitted_years:
        last = int(config["future"]["last_batches"])
        future = {key: future_range(names, theta_hat, fitted_years, last)}
        future_how = (
            f"future national batches: approval rate uniform between the lowest and highest "
            f"fitted rate of the last {last} fitted batch years ({fitted_years[-last:]})"
        )
    elapsed = time.perf_counter() - t0
    meta = {
        "method": (
            "simulated method of moments with common random numbers (bounded Levenberg-Marquardt"
            " with Broyden updates); Laplace approximation of the posterior (with a weak prior),"
            " truncated to the bounds"
            + (
                f"; {proposals} Laplace proposals resampled by their simulated likelihood"
                " (sampling-importance-resampling)"
                if posterior == "importance"
                else ""
            )
        ),
        "scale": cal.scale,
        "runs_per_evaluation": cal.runs,
        "seed": cal.seed,
        "evaluations": cal.evaluations,
        "fitted_before": before,
        "quick": quick,
        "elapsed_seconds": round(elapsed, 1),
        "sum_of_squares": _r(float(r_hat @ r_hat)),
        "importance_effective_sample_size": _r(ess[0]) if ess else None,
        "posterior_sd": {n: _r(sample[:, j].std(ddof=1)) for j, n in enumerate(names)},
        "future_how": future_how,
    }
    residuals = {m.id: _r(v) for m, v in zip(cal.fitted, r_hat, strict=True)}
    out = Fit(names, theta_hat, sample, residuals, future, ties, meta)
    out = out.expanded({k: float(v) for k, v in (config.get("fixed") or {}).items()})
    say(f"fit done in {elapsed:.0f} s ({cal.evaluations} evaluations)")
    return out, cal


def _gauss_newton(
    fun: Callable[[np.ndarray], np.ndarray],
    jac: Callable[[np.ndarray], np.ndarray],
    u: np.ndarray,
    max_evaluations: int,
    say: Callable[[str], None],
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise |fun(u)|^2 over the unit cube: Levenberg-Marquardt steps solved with bounds
    (scipy.optimize.lsq_linear), one finite-difference Jacobian at the start and Broyden
    rank-one updates after each step, so an iteration costs one evaluation, not p + 1."""
    from scipy.optimize import lsq_linear

    r = fun(u)
    J = jac(u)
    lam = 1e-2
    rejected = 0
    for _ in range(max_evaluations):
        n = u.size
        a = np.vstack([J, math.sqrt(lam) * np.eye(n)])
        b = np.concatenate([-r, np.zeros(n)])
        d = lsq_linear(a, b, bounds=(-u, 1.0 - u)).x
        if np.max(np.abs(d)) < 1e-3:
            break
        u_new = np.clip(u + d, 0.0, 1.0)
        r_new = fun(u_new)
        if r_new @ r_new < r @ r:
            J = J + np.outer(r_new - r - J @ d, d) / float(d @ d)  # Broyden update
            gain = (r @ r - r_new @ r_new) / max(r @ r, 1e-12)
            u, r = u_new, r_new
            lam = max(lam / 3, 1e-4)
            rejected = 0
            if gain < 1e-3:
                break
        else:  # a worse point: shorter steps, the same Jacobian
            lam *= 10
            rejected += 1
            if rejected == 3:
                break
    say(f"  search done: sum of squares {float(r @ r):.3f}")
    return u, r
