"""Calibration of the national scenario to the observed series, and a hold-out test.

The narrow door (black-it's contract): `Calibration.simulate(theta, n, seed)` runs `n`
replications of the national scenario at parameters `theta` (an array, in the order of
`Calibration.names`) and returns an `(n, k)` array of the `k` simulated moments, one row per
replication. Everything else here drives that function:

- **observed data** (`load_observed`, `moments`): the rows of calibration/data/observed_counts.csv
  named in calibration/config.yaml, each a point, a lower bound (an inequality: only simulated
  values below it are penalised) or an interval (two sources that disagree), with the
  documented choices of calibration/data/README.md;
- **objective** (`Calibration.residuals_from`): standardised log errors of the mean simulated moment
  over `runs` replications with common random numbers (the same child seeds at every theta,
  so differences between two thetas are not noise);
- **fit** (`fit`): a bounded Levenberg-Marquardt search in the unit cube of the parameter
  bounds (log scale for rates bounded away from zero; steps by scipy.optimize.lsq_linear), with
  a forward-difference Jacobian whose points run in parallel and Broyden updates between
  Jacobians; a Laplace approximation of the posterior around the optimum (Jacobian of the
  standardised residuals plus a weak prior, the variance of a uniform over the bounds), sampled
  and truncated to the bounds. With `posterior: importance` (config.yaml, the default) that
  sample only proposes: `posterior_proposals` draws are weighed by their simulated likelihood
  (simulated over Laplace density) and the posterior sample is drawn from them by systematic
  resampling (sampling-importance-resampling, Rubin 1988). This matters where a moment is a
  bound or an interval met at the optimum: it has no gradient there, the Laplace sample wanders
  past it (at origin 2022, more than one draw in twenty left too few applicants to fill the
  published lists), and the weights pull the sample back. The effective sample size of the
  weights is saved with the fit. With `posterior: laplace` the Laplace sample is used as it
  is, and the same weights of `importance_draws` fresh draws only report how far it is from
  the posterior;
- **posterior predictive** (`predict`): replications drawing one posterior row each, giving
  90 % bands for every observed series and the forecast through 2025;
- **hold-out** (`run_holdout`): the same fit on data before a year, forecasts from that year on,
  absolute percentage errors and interval coverage next to two naive baselines.

Scale: the national population (about 2.5 million firms) is simulated at 1/`scale` of its size
(every baseline count and the yearly inflow divided by `scale`, counts multiplied back). Firms
interact only through budgets and targets, and the national scenario has neither, so scaling
changes only the Monte Carlo noise and the rounding of the smallest counts;
`scale_check` compares one point at two scales.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import SrdiError
from sim.runs import summary
from sim.runs.executor import SubmitAll, executor
from sim.scenario import Scenario, load
from sim.scenario import parameters as params_mod
from sim.views.output import write_atomic, write_text_atomic

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION_DIR = ROOT / "calibration"  # config, data, figures, hold-outs, backtest
FIT_DIR = params_mod.FIT_DIR  # the fit forecasts use: package data (sim/data/calibration)
CONFIG = CALIBRATION_DIR / "config.yaml"
OBSERVED = CALIBRATION_DIR / "data" / "observed_counts.csv"
METRICS = ("new", "at_least", "reviewed", "lost", "ever", "applied")
# the stream of a replication's seed used for the calibration's own draws (scaled baseline,
# future approval rates): far from the model's own streams (0..4)
OWN_STREAM = 1000


class CalibrationError(SrdiError, ValueError):
    """A calibration input (config, observed data, saved fit) that cannot be used."""


# --- observed data ---------------------------------------------------------------------------


def load_observed(path: str | Path = OBSERVED) -> pd.DataFrame:
    """The observed series (one row per region, tier, year, count, kind, source, note)."""
    df = pd.read_csv(path, dtype={"region": str, "tier": str, "kind": str})
    df["note"] = df["note"].fillna("")
    return df


def _row(obs: pd.DataFrame, ref: Sequence[Any]) -> pd.Series:
    """The observed row `[region, tier, kind, year, count]`; the count must be in the data."""
    region, tier, kind, year, count = ref
    hit = obs[
        (obs.region == region)
        & (obs.tier == tier)
        & (obs.kind == kind)
        & (obs.year == int(year))
        & (obs["count"] == count)
    ]
    if hit.empty:
        raise CalibrationError(
            f"config names the observation {region} {tier} {kind} {year} = {count}, "
            f"which is not in {OBSERVED.name}"
        )
    return hit.iloc[0]


@dataclass(frozen=True)
class Moment:
    """One observed quantity and how the model produces it."""

    id: str
    label: str
    metric: str  # new | at_least | pass_rate
    tier: str
    year: int
    form: str  # point | lower | interval
    value: float  # the point, the bound, or the interval's centre (pass rates: a share)
    low: float
    high: float
    sd: float  # standard deviation of the observation error, on the log scale
    source: str
    series: str  # figure panel the moment belongs to
    fitted: bool = True

    def residual(self, simulated: float) -> float:
        """Standardised error log(simulated / observed) / sd. A lower bound counts only a
        simulated value below it; an interval is read as a 90 % range around its geometric
        centre (its half-width on the log scale is 1.645 sd)."""
        s = max(float(simulated), 1e-9)
        if self.form == "lower":
            return min(0.0, math.log(s / self.value)) / self.sd
        return math.log(s / self.value) / self.sd


def moments(config: dict[str, Any], obs: pd.DataFrame, before: int | None = None) -> list[Moment]:
    """The moments of the config, with their observed values (only years < `before`)."""
    out = []
    for m in config["moments"]:
        year = int(m["year"])
        rows = [_row(obs, r) for r in m["observed"]]
        counts = [float(r["count"]) for r in rows]
        source = "; ".join(str(r["source"]).split(" ")[0] for r in rows)
        form = m.get("form", "point")
        if m["metric"] == "pass_rate":  # passes / batch size
            value = low = high = counts[0] / counts[1]
        elif m.get("derived") == "scaled_by_little_giant_share":
            # a province's count over its share of the national little giants
            est = [counts[i] / (counts[i + 1] / counts[i + 2]) for i in range(0, len(counts), 3)]
            low, high = min(est), max(est)
            value = math.sqrt(low * high)
        elif form == "interval":
            low, high = min(counts), max(counts)
            value = math.sqrt(low * high)
        else:
            value = low = high = counts[0]
        sd = float(m.get("sd_log", 0.05))
        if form == "interval":
            sd = max(sd, math.log(high / low) / 2 / 1.645)
        mom = Moment(
            id=m["id"],
            label=m.get("label", m["id"]),
            metric=m["metric"],
            tier=m["tier"],
            year=year,
            form=form,
            value=value,
            low=low,
            high=high,
            sd=sd,
            source=source,
            series=m.get("series", m["metric"]),
            fitted=bool(m.get("fitted", True)),
        )
        if before is not None and year >= before:
            mom = replace(mom, fitted=False)
        out.append(mom)
    return out


def load_config(path: str | Path = CONFIG) -> dict[str, Any]:
    """The calibration settings (calibration/config.yaml)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def bounds_of(config: dict[str, Any], name: str) -> list[float]:
    """Search bounds of a calibrated parameter (or of the parameter it is tied to)."""
    pc = config["parameters"]
    if name in pc:
        return pc[name]["bounds"]
    owner = next((n for n, e in pc.items() if name in e.get("sets", [])), None)
    return pc[owner]["bounds"] if owner else [0.0, 1.0]


# --- the model behind one narrow door --------------------------------------------------------


@contextmanager
def uncalibrated():
    """Shipped parameter defaults, without any saved fit (the fit must not see its own past)."""
    old = os.environ.get(params_mod.CALIBRATION_ENV)
    os.environ[params_mod.CALIBRATION_ENV] = "off"
    params_mod._defaults.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(params_mod.CALIBRATION_ENV, None)
        else:
            os.environ[params_mod.CALIBRATION_ENV] = old
        params_mod._defaults.cache_clear()


def national_scenario(path: str | Path) -> Scenario:
    """The scenario with its parameter specs computed from the shipped (uncalibrated) defaults."""
    with uncalibrated():
        sc = load(path)
        sc.specs()  # cached on the scenario: the model reads these
    return sc


@dataclass
class Setup:
    """What a replication needs besides theta and its seed (sent once to each worker)."""

    scenario: Scenario
    scale: float
    names: list[str]
    future: dict[str, tuple[float, float]] = field(default_factory=dict)
    ties: dict[str, str] = field(default_factory=dict)  # model name -> the name it copies
    fixed: dict[str, float] = field(default_factory=dict)  # values set by a calibration choice
    origin: int | None = None  # batches published before it are known (None: all published)

    def values(self, theta: Sequence[float], seed: np.random.SeedSequence) -> dict[str, float]:
        """Every value a replication overrides: scaled baseline and batches, future rates, then
        theta."""
        rng = np.random.default_rng(
            np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, OWN_STREAM))
        )
        specs = self.scenario.specs()
        out: dict[str, float] = {}
        for path in sorted(p for p in specs if p.startswith("baseline.")):
            out[path] = max(0.0, float(np.round(specs[path].at(rng.random()) / self.scale)))
        out["competition.quota_scale"] = 1.0 / self.scale  # batches shrink with the firms
        for name in sorted(self.future):
            lo, hi = self.future[name]
            out[name] = lo + rng.random() * (hi - lo)
        out.update(self.fixed)
        out.update(zip(self.names, (float(t) for t in theta), strict=True))
        for name, source in self.ties.items():  # tied values (one regime over several years)
            out[name] = out[source]
        return out


def run_one(setup: Setup, theta: Sequence[float], seed: np.random.SeedSequence) -> np.ndarray:
    """One replication: yearly counts per metric and level, at national size (scaled back)."""
    from sim.engine.model import GrowthModel

    model = GrowthModel(
        setup.scenario, seed=seed, values=setup.values(theta, seed), origin=setup.origin
    )
    model.run_model()
    model.discard_firms()
    h = model.history
    return np.stack([np.stack([getattr(r, m) for r in h]) for m in METRICS]) * setup.scale


Task = tuple[np.ndarray, np.random.SeedSequence]  # (theta, seed): one replication


def _run_chunk(setup: Setup, chunk: tuple[int, list[Task]]) -> list[np.ndarray]:
    """The replications of a chunk (its first index, its tasks), in the chunk's order."""
    return [run_one(setup, *t) for t in chunk[1]]


class Runner:
    """Runs (theta, seed) tasks through `sim.runs.executor.executor`: in this process, in worker
    processes or on Dask (`scheduler`), with the same results. The `Setup` is sent to each
    worker once (the executor's `shared`), the tasks in chunks. Outside a ``with`` block `map`
    runs in this process."""

    def __init__(self, setup: Setup, workers: int = 1, scheduler: str | None = None) -> None:
        self.setup = setup
        self.workers = max(1, workers)
        self.scheduler = scheduler
        self._submit: SubmitAll | None = None
        self._n_workers = 1
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Runner:
        self._submit, _, self._n_workers = self._stack.enter_context(
            executor(self.workers, self.scheduler, shared=self.setup)
        )
        return self

    def __exit__(self, *exc) -> None:
        self._submit = None
        self._stack.__exit__(*exc)

    def map(self, tasks: Sequence[Task]) -> list[np.ndarray]:
        """One replication per task, in the tasks' order (whatever order the chunks end in)."""
        if self._submit is None:
            return [run_one(self.setup, *t) for t in tasks]
        # four chunks per worker: few messages, and a slow chunk does not hold the others up
        size = max(1, len(tasks) // (4 * self._n_workers))
        chunks = [(i, list(tasks[i : i + size])) for i in range(0, len(tasks), size)]
        parts = {chunk[0]: part for chunk, part in self._submit(_run_chunk, chunks)}
        return [r for i in sorted(parts) for r in parts[i]]


class Calibration:
    """The national scenario as `simulate(theta, n, seed) -> (n, k) moments`, and its objective.

    Args:
        config: calibration/config.yaml as a dict.
        moments: the observed moments (`moments(config, obs)`).
        names: the calibrated parameters, in theta's order (default: the config's).
        scale: population divisor (default: the config's).
        runs: replications per objective evaluation.
        seed: root seed of the common random numbers.
        workers: worker processes.
        origin: the first year whose batches are not known (a fit on data before it draws the
            batches of that year on, sim/engine/batches.py); None: every published batch is known.
    """

    def __init__(
        self,
        config: dict[str, Any],
        moments: list[Moment],
        names: list[str] | None = None,
        scale: float | None = None,
        runs: int | None = None,
        seed: int | None = None,
        workers: int = 1,
        future: dict[str, tuple[float, float]] | None = None,
        ties: dict[str, str] | None = None,
        scenario: Scenario | None = None,
        origin: int | None = None,
    ) -> None:
        self.config = config
        self.moments = moments
        self.fitted = [m for m in moments if m.fitted]
        self.names = list(names or config["parameters"])
        self.bounds = np.array([bounds_of(config, n) for n in self.names], float)
        self.scale = float(scale or config["scale"])
        self.runs = int(runs or config["runs"])
        self.seed = int(config["seed"] if seed is None else seed)
        sc = scenario or national_scenario(ROOT / config["scenario"])
        self.scenario = sc
        self.ladder = sc.ladder()
        self.years = [sc.period.base_year, *sc.period.years]
        fixed = {k: float(v) for k, v in (config.get("fixed") or {}).items() if k not in self.names}
        self.setup = Setup(
            sc, self.scale, self.names, dict(future or {}), dict(ties or {}), fixed, origin
        )
        self.workers = workers
        self.evaluations = 0
        self.on_evaluated: Callable[[int], None] | None = None  # told how many points ran

    # theta <-> unit cube
    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Search coordinates: log scale for parameters bounded away from zero (rates act
        multiplicatively: a batch is roughly rate x pool), linear otherwise."""
        lo, hi = self.bounds.T
        log = lo > 0
        return (
            np.where(log, np.log(np.where(log, lo, 1.0)), lo),
            np.where(log, np.log(np.where(log, hi, 1.0)), hi),
            log,
        )

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """Parameters -> the unit cube of the search (log or linear per parameter)."""
        a, b, log = self._edges()
        t = np.asarray(theta, float)
        x = np.where(log, np.log(np.maximum(t, 1e-300)), t)
        return (x - a) / (b - a)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        a, b, log = self._edges()
        x = a + np.clip(u, 0.0, 1.0) * (b - a)
        return np.where(log, np.exp(x), x)

    def start(self) -> np.ndarray:
        """The search's start: each parameter's `start` in the config, else its shipped value."""
        with uncalibrated():
            d = params_mod.defaults()
        pc = self.config["parameters"]
        return np.array([pc.get(n, {}).get("start", d[n].value) for n in self.names], float)

    # --- simulation ---------------------------------------------------------------------------
    def seeds(self, n: int, seed: int | None = None) -> list[np.random.SeedSequence]:
        return np.random.SeedSequence(self.seed if seed is None else seed).spawn(n)

    def series(
        self,
        thetas: Sequence[np.ndarray],
        seeds: Sequence[np.random.SeedSequence],
        runner: Runner | None = None,
    ) -> list[np.ndarray]:
        """Per theta, the (replications, metric, year, level) array of yearly counts."""
        tasks = [(np.asarray(t, float), s) for t in thetas for s in seeds]
        # a runner of its own (started and stopped here) unless the caller keeps one open
        ctx = Runner(self.setup, self.workers) if runner is None else contextlib.nullcontext(runner)
        with ctx as r:
            out = r.map(tasks)
        self.evaluations += len(thetas)
        if self.on_evaluated is not None:
            self.on_evaluated(len(thetas))
        n = len(seeds)
        return [np.stack(out[i * n : (i + 1) * n]) for i in range(len(thetas))]

    def moment_values(
        self, series: np.ndarray, which: Iterable[Moment] | None = None
    ) -> np.ndarray:
        """(replications, k) simulated moments from yearly series (k = len(which))."""
        which = list(self.moments if which is None else which)
        cols = []
        for m in which:
            lvl = self.ladder.level(m.tier)
            y = self.years.index(m.year)
            if m.metric == "pass_rate":
                validity = self.ladder.tier(lvl).validity_years
                passed = series[:, 2, y, lvl] - series[:, 3, y, lvl]
                batch = series[:, 0, self.years.index(m.year - validity), lvl]
                cols.append(np.where(batch > 0, passed / np.maximum(batch, 1e-9), np.nan))
            else:
                cols.append(series[:, METRICS.index(m.metric), y, lvl])
        return np.stack(cols, axis=1)

    def simulate(self, theta: Sequence[float], n: int, seed: int) -> np.ndarray:
        """The model contract: `n` replications at `theta` -> (n, k) array of all moments."""
        s = self.series([np.asarray(theta, float)], self.seeds(n, seed))[0]
        return self.moment_values(s)

    @staticmethod
    def aggregate(values: np.ndarray) -> np.ndarray:
        """Mean over replications (pass rates: over replications with a batch to review)."""
        return np.nanmean(values, axis=0)

    def residuals_from(self, series: np.ndarray) -> np.ndarray:
        sim = self.aggregate(self.moment_values(series, self.fitted))
        return np.array([m.residual(s) for m, s in zip(self.fitted, sim, strict=True)])


# --- the fit ---------------------------------------------------------------------------------


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
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "posterior.csv", _csv(self.names, self.sample))
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
        _write(
            folder / "fit.yaml",
            "# Made by `srdi calibrate` (sim/calibration/calibrate.py); every scenario's defaults"
            " take these\n"
            "# values (sim/scenario/parameters.py) and replications draw rows of posterior.csv.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100),
        )

    @classmethod
    def load(cls, folder: Path) -> Fit:
        path = folder / "fit.yaml"
        if not path.is_file():
            raise CalibrationError(f"no saved fit in {folder} (run `srdi calibrate` first)")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    return float(f"{float(v):.6g}")


def _csv(names: list[str], rows: np.ndarray) -> str:
    lines = [",".join(names)] + [",".join(f"{v:.6g}" for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def future_range(
    names: list[str], theta: np.ndarray, fitted_years: list[int], last: int
) -> tuple[float, float]:
    """Range of the undated little-giant approval rate (future batches): the fitted rates of the
    last `last` batch years, from their lowest to their highest."""
    key = "approval.national_little_giant"
    rates = [theta[names.index(f"{key}.{y}")] for y in fitted_years[-last:]]
    return float(min(rates)), float(max(rates))


@contextmanager
def _points_bar(cal: Calibration, total: int, show: bool):
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
    settings = dict(config)
    if quick:
        settings.update(config["quick"])
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
            prop = _truncated_normal(u_hat, cov, n, rng)
            w = _weights(cal, prop, u_hat, precision, at[u_hat.tobytes()],
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
            sample_u = prop[_systematic_resample(w, draws, rng)]
        else:
            sample_u = _truncated_normal(u_hat, cov, draws, rng)
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


def _weights(
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


def _systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` indices drawn with probabilities `w` by systematic resampling (one uniform; each
    index appears floor or ceil of n * w times), in the order of the proposals."""
    edges = np.cumsum(w)
    edges[-1] = 1.0
    points = (rng.random() + np.arange(n)) / n
    return np.searchsorted(edges, points, side="right")


def _truncated_normal(
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


# --- posterior predictive --------------------------------------------------------------------


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


# --- hold-out --------------------------------------------------------------------------------


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


def past_values(config: dict[str, Any], obs: pd.DataFrame) -> dict[str, dict[int, float]]:
    """For each moment, the observed values of the same series in every year (baselines; a
    lower bound counts as its value: 'over 40,000' is 40,000 to a naive forecaster)."""
    allm = moments(config, obs)
    out: dict[str, dict[int, float]] = {}
    for m in allm:
        if m.form != "point":
            continue
        same = [x for x in allm if x.series == m.series and x.form in ("point", "lower")]
        out[m.id] = {x.year: x.value for x in same}
    return out


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


# --- figures and tables ----------------------------------------------------------------------

FIGURES = (
    "observed_vs_simulated.png",
    "residuals.png",
    "parameters.png",
    "re_review.png",
    "forecast.png",
)


def _save_png(fig, path: Path) -> None:
    write_atomic(path, lambda p: fig.savefig(p, dpi=90, format="png", metadata={"Software": None}))


def _save_csv(df: pd.DataFrame, path: Path) -> None:
    _write(path, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


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


# --- the verbs -------------------------------------------------------------------------------


def _settings(config: dict[str, Any], quick: bool) -> dict[str, Any]:
    s = dict(config)
    if quick:
        s.update(config["quick"])
    return s


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
    s = _settings(config, quick)
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

    s = _settings(config, quick)
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
