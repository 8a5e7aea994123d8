"""The national scenario behind one narrow door (black-it's contract).

`Calibration.simulate(theta, n, seed)` runs `n` replications at parameters `theta` (in the
order of `Calibration.names`) and returns an `(n, k)` array of the `k` simulated moments. The
objective (`Calibration.residuals_from`) is the standardised log errors of the mean simulated
moment over `runs` replications with common random numbers (the same child seeds at every
theta, so differences between two thetas are not noise). Replications run through `Runner`
(sim/runs/executor.py), in this process, in worker processes or on Dask.

Scale: the national population (about 2.5 million firms) is simulated at 1/`scale` of its size
(every baseline count and the yearly inflow divided by `scale`, counts multiplied back). Firms
interact only through budgets and targets, and the national scenario has neither, so scaling
changes only the Monte Carlo noise and the rounding of the smallest counts
(`outputs.scale_check` compares one point at two scales).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibration.observed import ROOT, Moment, bounds_of
from sim.engine.inputs import at_scale
from sim.runs.executor import SubmitAll, executor
from sim.scenario import Scenario, load
from sim.scenario import parameters as params_mod

# the metrics of a replication's yearly counts (axis 1 of `run_one`'s array), in order
METRICS = ("new", "at_least", "reviewed", "lost", "ever", "applied")
# the stream of a replication's seed used for the calibration's own draws (scaled baseline,
# future approval rates): far from the model's own streams (0..4)
OWN_STREAM = 1000


@contextmanager
def uncalibrated() -> Iterator[None]:
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
        national = {
            path: specs[path].at(rng.random())
            for path in sorted(p for p in specs if p.startswith("baseline."))
        }
        national["competition.quota_scale"] = 1.0
        out = at_scale(national, self.scale)  # batches shrink with the firms
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
        setup.scenario,
        seed=seed,
        values=setup.values(theta, seed),
        origin=setup.origin,
        lazy=True,  # only yearly counts are read: candidates brought up to date when they apply
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
        """The unit cube of the search -> parameters (clipped to the bounds)."""
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
        """`n` child seeds of `seed` (default: the calibration's): the common random numbers."""
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
        """Mean over replications (pass rates: over replications with a batch to review; NaN
        when none has one, as in a short run, without numpy's empty-slice warning)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            return np.nanmean(values, axis=0)

    def residuals_from(self, series: np.ndarray) -> np.ndarray:
        """The objective: the fitted moments' `Moment.residual` at their mean simulated values."""
        sim = self.aggregate(self.moment_values(series, self.fitted))
        return np.array([m.residual(s) for m, s in zip(self.fitted, sim, strict=True)])
