"""Global sensitivity: which uncertain inputs matter most for each target (`srdi sensitivity`).

**Inputs.** Everything a replication draws, each as one input with a uniform distribution:

- *range*: every quantity drawn per replication from `low`..`high` (`Scenario.specs()`, a
  `Spec` with `draw` and a range: the scenario's ranges and the drawn defaults of
  `sim/data/parameters.yaml`), over that range, as the model draws it. Integer quantities
  (counts, firms a year) are rounded at each design point.
- *calibrated*: each parameter the calibration fitted (a `Spec` with a posterior `sample`;
  replications draw one row of the sample jointly), over the 5-95 % quantiles of its sample.
  The sample's extremes are single rows of a Laplace approximation truncated at the bounds
  (e.g. `apply.base.provincial_srdi` reaches 1.0), so the middle 90 % is the range a
  replication mostly sees. The parameters are varied independently: Sobol indices need
  independent inputs, and the posterior's correlations are not kept. A parameter whose sample
  does not vary (a fixed one) is no input.
- *batch*: for each rationed title (`sim/engine/competition.py`), the quantile of its batches
  (`competition.batch_quantile.<tier>`, 0.05-0.95): every year's batch at that quantile of
  the distribution `sim/engine/batches.py` draws it from (a published range at that share of the way
  from low to high), the same quantile for every year. A province's share of MIIT's batch
  stays drawn, as replication noise.

A dated quantity (`apply.base.<tier>.<year>`) whose year is outside the scenario's period is
never read and is left out. Inputs whose range is a point are left out.

**Inert inputs** (Sobol only). Before the design, each input is set to the low and to the high
end of its range, every other input at its centre, on the same `SCREEN_RUNS` seeds; an input
that changes no target's outcome in any of those replications is left out of the Sobol design
and named in the notes: a cost per firm where no budget caps a lever, the approval rate of a
title that is rationed, an award elasticity without awards. Its total index would be 0 (on
common random numbers its points repeat the base point's outcomes exactly), and the Sobol
indices of the other inputs do not depend on it, but each input costs N design points: on
Hebi 10 of 40 inputs are inert, a quarter of the design. The screen reads the inputs one at a
time at the centre, so an input that acted only jointly with another one's extreme would be
missed; the note says which were left out, and `screen=False` keeps every input.

**Outcome.** For every target, its outcome value (`EnsembleResult.outcome`: the count at the
target year), averaged over `runs` replications at each design point. Reached or not (0/1) is
too coarse: at a few replications per point it is mostly noise, and a Sobol estimator needs
hundreds of points per input; the count varies smoothly with the inputs and its variance
decomposes. Every design point runs the same seeds (`run_ensemble(..., seed, values=point)`):
common random numbers, so the difference between two points is the inputs', not the draws'.

**Methods** (SALib). `sobol`: Saltelli's extension of the Sobol sequence (`N * (D + 2)` points
for D inputs, first and total order, no second order), `sobol.analyze` with bootstrap 95 %
confidence intervals. `morris`: `N` trajectories of `D + 1` points on a 4-level grid,
`mu_star` (mean absolute elementary effect, with its bootstrap interval) and `sigma`
(interactions or non-linearity); cheaper, for screening many inputs.

**Convergence.** The Sobol (and Morris) designs for N/2 are the first rows of the design for
N, so the indices are computed twice from the same runs: on the first N/2 base samples and on
all N. Sobol: converged when no total index changes by more than `SOBOL_THRESHOLD` (0.05, on
indices between 0 and 1: the ranking of the inputs that matter no longer moves). Morris: when
no `mu_star`, divided by the largest of its target, changes by more than `MORRIS_THRESHOLD`.
The Sobol check also reports the widest bootstrap 95 % interval of a total index at N
(`max_ST_conf`, the half-width SALib gives), the measure of Sarrazin, Pianosi and Wagener
(2016, "Global sensitivity analysis of environmental models: convergence and validation",
Environ. Model. Softw. 79): it is not the criterion, but it says how far the indices still are
from their limit.

**Replication noise.** Every design point runs the same seeds, and a firm's random numbers are
keyed by its identity (`draw_id`, sim/engine/firms.py), so common random numbers hold across the
inputs too: a point with more candidates, champions or births keeps every firm of a point with
fewer, with its draws, and adds firms. The outcome at a design point is then a deterministic
function of the inputs (the mean over `runs` fixed worlds); the replications' noise
(`noise_share`) says how far one such mean is from the expected outcome, not a share of the
indices. What is left of the indices' spread is the estimators' own: a count moves in steps of
one firm as inputs cross firms' thresholds, and Jansen's total-index estimator converges at
the Monte Carlo rate in N.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.competition import BATCH_QUANTILE
from sim.runs.executor import executor
from sim.scenario import Scenario, ScenarioError, ScenarioErrors
from sim.scenario.parameters import central

METHODS = ("sobol", "morris")
# Sobol: N at which Hebi's total indices change by at most 0.03 from N/2 (0.05 is the bar)
DEFAULT_SAMPLES = {"sobol": 1024, "morris": 32}
# one world per design point: with common random numbers across inputs, more replications a
# point average worlds but add nothing the indices need; the budget goes to N instead
DEFAULT_RUNS = 1
CALIBRATED_QUANTILES = (0.05, 0.95)
BATCH_QUANTILES = (0.05, 0.95)
SOBOL_THRESHOLD = 0.05  # max change of a total index between N/2 and N, to call it converged
MORRIS_THRESHOLD = 0.1  # max change of mu_star / max mu_star between N/2 and N
MORRIS_LEVELS = 4
RESAMPLES = 100  # bootstrap resamples of the confidence intervals
NOISE_RUNS = 16  # replications at the centre of the design, to measure the replications' noise
SCREEN_RUNS = 4  # replications at each end of an input's range, to find the inert inputs
SOBOL_COLUMNS = ("target", "rank", "input", "kind", "S1", "S1_conf", "ST", "ST_conf")
MORRIS_COLUMNS = ("target", "rank", "input", "kind", "mu_star", "mu_star_conf", "sigma")


@dataclass(frozen=True)
class Input:
    """One uncertain input: the dotted path fixed at each design point, and its range."""

    name: str
    kind: str  # "range", "calibrated" or "batch"
    low: float
    high: float
    integer: bool = False


def _read_in_period(path: str, years: Sequence[int]) -> bool:
    """False for a dated quantity (`<name>.<year>`) of a year the period does not have."""
    last = path.rsplit(".", 1)[-1]
    return not (len(last) == 4 and last.isdigit()) or int(last) in years


def inputs(scenario: Scenario) -> list[Input]:
    """The scenario's uncertain inputs (module docstring), ranges first, in path order."""
    from sim.engine import competition

    years = scenario.period.years
    out = []
    for name, s in sorted(scenario.specs().items()):
        if not _read_in_period(name, years):
            continue
        if s.sample:
            lo, hi = (float(q) for q in np.quantile(s.sample, CALIBRATED_QUANTILES))
            if hi > lo:
                out.append(Input(name, "calibrated", lo, hi))
        elif s.draw and s.high > s.low:
            out.append(Input(name, "range", s.low, s.high, s.integer))
    comp = competition.build(
        scenario.place.level,
        scenario.province,
        scenario.tier_ids,
        years,
        competition.ALL_PUBLISHED,
        np.random.default_rng(0),  # which titles are rationed does not depend on the draws
        central(scenario.specs()),
    )
    for level, tier in enumerate(scenario.tier_ids, start=1):
        if comp.rationed.get(level):
            out.append(Input(BATCH_QUANTILE + tier, "batch", *BATCH_QUANTILES))
    return sorted(out, key=lambda i: (i.kind != "range", i.kind != "calibrated", i.name))


def _problem(ins: Sequence[Input]) -> dict[str, Any]:
    return {
        "num_vars": len(ins),
        "names": [i.name for i in ins],
        "bounds": [[i.low, i.high] for i in ins],
    }


def _values(ins: Sequence[Input], row: np.ndarray) -> dict[str, float]:
    """A design point as `values=` of the model: integer quantities rounded."""
    return {
        i.name: float(np.floor(x + 0.5)) if i.integer else float(x)
        for i, x in zip(ins, row, strict=True)
    }


Chunk = tuple[int, Sequence[dict[str, float]]]  # (index of its first point, design points)


def _outcomes(shared: tuple[Scenario, int, int], chunk: Chunk) -> np.ndarray:
    """Outcomes (points x replications x targets) of a chunk of design points, same seeds at
    each; `shared` is (scenario, seed, runs), sent to each worker once."""
    from sim.runs.ensemble import run_ensemble

    scenario, seed, runs = shared
    points = chunk[1]
    out = np.empty((len(points), runs, len(scenario.targets)))
    for p, values in enumerate(points):
        res = run_ensemble(scenario, runs, seed, counterfactual=False, workers=1, values=values)
        for j, t in enumerate(scenario.targets):
            out[p, :, j] = res.outcome(t)
    return out


def _evaluate(shared: tuple[Scenario, int, int], chunk: Chunk) -> np.ndarray:
    """Outcome means (points x targets) of a chunk of design points, same seeds at each."""
    return _outcomes(shared, chunk).mean(axis=1)


def _map(
    fn: Callable[[tuple[Scenario, int, int], Chunk], np.ndarray],
    scenario: Scenario,
    seed: int,
    runs: int,
    points: Sequence[dict[str, float]],
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """`fn` over the points in chunks through `sim.runs.executor.executor` (in this process or in
    `workers` processes, the scenario sent to each once); the results in the points' order
    whatever order the chunks end in (they do not depend on `workers`)."""
    size = max(1, min(64, math.ceil(len(points) / (workers * 16))))
    chunks = [(i, points[i : i + size]) for i in range(0, len(points), size)]
    parts: dict[int, np.ndarray] = {}
    with executor(workers, shared=(scenario, seed, runs)) as (submit, _, _):
        for (first, done), part in submit(fn, chunks):
            parts[first] = part
            if progress:
                progress(len(done))
    return np.concatenate([parts[i] for i in sorted(parts)])


def screen(
    scenario: Scenario, ins: Sequence[Input], seed: int = 0, workers: int = 1
) -> tuple[list[Input], list[Input]]:
    """(active, inert): an input is inert when setting it to the low and to the high end of its
    range (the others at their centre) changes no target's outcome in any of `SCREEN_RUNS`
    replications on the same seeds (module docstring). Every input is kept when fewer than two
    would be left."""
    import os

    centre = _values(ins, np.array([(i.low + i.high) / 2 for i in ins]))
    points = []
    for i in ins:
        for end in (i.low, i.high):
            points.append({**centre, **_values([i], np.array([end]))})
    workers = max(1, min(workers, os.cpu_count() or 1))
    out = _map(_outcomes, scenario, seed, SCREEN_RUNS, points, workers)
    low, high = out[0::2], out[1::2]
    moved = (low != high).any(axis=(1, 2))
    active = [i for i, m in zip(ins, moved, strict=True) if m]
    inert = [i for i, m in zip(ins, moved, strict=True) if not m]
    if len(active) < 2:
        return list(ins), []
    return active, inert


def design(ins: Sequence[Input], method: str, samples: int, seed: int) -> np.ndarray:
    """The SALib design: Saltelli (N * (D + 2) rows) or Morris (N * (D + 1) rows)."""
    problem = _problem(ins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.sample import sobol as sobol_sample

            return sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)
        from SALib.sample import morris as morris_sample

        return morris_sample.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)


def points_per_sample(n_inputs: int, method: str) -> int:
    """Design points per base sample (Sobol) or trajectory (Morris)."""
    return n_inputs + 2 if method == "sobol" else n_inputs + 1


def _analyze(
    ins: Sequence[Input], method: str, X: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """Indices of one outcome; NaN where the outcome does not vary (nothing to apportion)."""
    problem = _problem(ins)
    d = len(ins)
    keys = ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else (
        "mu_star", "mu_star_conf", "sigma")  # fmt: skip
    if not np.ptp(y) > 0:
        return {k: np.full(d, np.nan) for k in keys}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.analyze import sobol

            # SALib seeds the bootstrap only `if seed:`, so seed 0 would leave the intervals
            # unseeded: a seed derived from it (never 0) keeps them reproducible
            boot = int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0]) or 1
            r = sobol.analyze(
                problem, y, calc_second_order=False, num_resamples=RESAMPLES, seed=boot
            )
        else:
            from SALib.analyze import morris

            r = morris.analyze(
                problem, X, y, num_resamples=RESAMPLES, num_levels=MORRIS_LEVELS, seed=seed
            )
    return {k: np.asarray(r[k], dtype=float) for k in keys}


@dataclass
class SensitivityResult:
    """Indices per target and input, the convergence check, and how they were made."""

    scenario: Scenario
    method: str
    samples: int
    runs: int
    seed: int
    inputs: list[Input]
    inert: list[Input]  # left out of a Sobol design: they changed no target (`screen`)
    indices: pd.DataFrame  # SOBOL_COLUMNS or MORRIS_COLUMNS, ranked within each target
    convergence: dict[str, Any]
    noise: dict[str, float | None]  # target -> share of the outcome's variance that is noise
    design_points: int
    outcomes: np.ndarray  # design points x targets: the outcome means analysed
    elapsed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def index(self) -> str:
        """The column inputs are ranked by: ST (Sobol) or mu_star (Morris)."""
        return "ST" if self.method == "sobol" else "mu_star"

    def ranking(self, target_id: str) -> pd.DataFrame:
        """One target's rows, most influential input first."""
        return self.indices[self.indices["target"] == target_id].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN as null)."""
        return {
            "scenario": self.scenario.place.id,
            "place": self.scenario.place.name,
            "method": self.method,
            "samples": self.samples,
            "runs": self.runs,
            "seed": self.seed,
            "design_points": self.design_points,
            "outcome": "mean over the replications of a design point of the target's outcome "
            "value (the count at the target year)",
            "targets": [
                {"id": t.id, "tier": t.tier, "kind": t.kind, "year": t.year, "value": t.value}
                for t in self.scenario.targets
            ],
            "inputs": [
                {"input": i.name, "kind": i.kind, "low": i.low, "high": i.high} for i in self.inputs
            ],
            "inputs_inert": [
                {"input": i.name, "kind": i.kind, "low": i.low, "high": i.high} for i in self.inert
            ],
            "indices": [
                {k: _plain(v) for k, v in rec.items()}
                for rec in self.indices.to_dict(orient="records")
            ],
            "convergence": self.convergence,
            "noise_share": {k: _plain(v) for k, v in self.noise.items()},
            "notes": self.notes,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _table(
    ins: Sequence[Input], method: str, targets: Sequence, X: np.ndarray, Y: np.ndarray, seed: int
) -> pd.DataFrame:
    """Indices of every target, ranked by ST (Sobol) or mu_star (Morris) within each."""
    rows = []
    for j, t in enumerate(targets):
        r = _analyze(ins, method, X, Y[:, j], seed)
        key = "ST" if method == "sobol" else "mu_star"
        order = sorted(range(len(ins)), key=lambda k: (-np.nan_to_num(r[key][k], nan=-1), k))
        for rank, k in enumerate(order, start=1):
            row = {"target": t.id, "rank": rank, "input": ins[k].name, "kind": ins[k].kind}
            row.update({name: float(v[k]) for name, v in r.items()})
            rows.append(row)
    return pd.DataFrame(rows, columns=SOBOL_COLUMNS if method == "sobol" else MORRIS_COLUMNS)


def _convergence(
    method: str, half: pd.DataFrame, full: pd.DataFrame, samples: int
) -> dict[str, Any]:
    """Max change of ST (Sobol) or of mu_star / max mu_star (Morris) from N/2 to N."""
    key = "ST" if method == "sobol" else "mu_star"
    threshold = SOBOL_THRESHOLD if method == "sobol" else MORRIS_THRESHOLD
    a = half.set_index(["target", "input"])[key]
    b = full.set_index(["target", "input"])[key].reindex(a.index)
    if method == "morris":  # relative to the largest effect on the target
        a = a / a.groupby(level="target").transform("max")
        b = b / b.groupby(level="target").transform("max")
    change = (b - a).abs()
    by_target = change.groupby(level="target", sort=False).max()
    by_target = {t: _plain(float(v)) for t, v in by_target.items()}
    finite = change.dropna()
    worst = float(finite.max()) if len(finite) else 0.0
    what = "ST" if method == "sobol" else "mu_star / max mu_star of the target"
    out = {
        "compared": [samples // 2, samples],
        "measure": f"max absolute change of {what} between the first N/2 samples and all N",
        "max_change": worst,
        "threshold": threshold,
        "converged": bool(worst <= threshold),
        "by_target": by_target,
    }
    if method == "sobol":  # Sarrazin et al. (2016): the widest bootstrap interval, for reading
        conf = full["ST_conf"].dropna()
        out["max_ST_conf"] = float(conf.max()) if len(conf) else 0.0
    return out


def _noise(
    scenario: Scenario, centre: dict[str, float], seed: int, runs: int, Y: np.ndarray
) -> dict[str, float | None]:
    """Per target, the share of the outcome's variance over the design that replication noise
    alone would give: the variance of a mean of `runs` replications at the design's centre
    (from NOISE_RUNS replications) over the variance of the outcome means. It says how far a
    design point's outcome (`runs` fixed worlds) is from the expected outcome; on common
    random numbers it is not part of the indices (module docstring, Replication noise)."""
    from sim.runs.ensemble import run_ensemble

    res = run_ensemble(scenario, NOISE_RUNS, seed, counterfactual=False, workers=1, values=centre)
    out: dict[str, float | None] = {}
    for j, t in enumerate(scenario.targets):
        total = float(np.var(Y[:, j], ddof=1))
        noise = float(np.var(res.outcome(t), ddof=1)) / runs
        out[t.id] = min(noise / total, 1.0) if total > 0 else None
    return out


def option_problems(method: str, samples: int, runs: int) -> list[tuple[str, str]]:
    """(option, what is wrong) for every option `sensitivity` cannot use."""
    out = []
    if method not in METHODS:
        out.append(("--method", f"must be one of {', '.join(METHODS)}, got {method!r}"))
    elif method == "sobol" and (samples < 4 or samples & (samples - 1)):
        up = 1 << max(2, (max(samples, 1) - 1).bit_length())
        out.append(("--samples", f"must be a power of 2, at least 4, for Sobol (its sequence "
                    f"balances at 2^k points; the convergence check halves it), got {samples}: "
                    f"use {up}"))  # fmt: skip
    elif method == "morris" and samples < 4:
        out.append(("--samples", f"must be at least 4 Morris trajectories, got {samples}"))
    if runs < 1:
        out.append(("--runs", f"must be at least 1 replication per design point, got {runs}"))
    return out


def check(scenario: Scenario, file: str = "<scenario>") -> list[Input]:
    """The scenario's inputs, or ScenarioErrors: no target, or fewer than two inputs."""
    errs = []
    if not scenario.targets:
        errs.append(ScenarioError(
            file, "targets", expected="at least one target (sensitivity is of a target's "
            "outcome)", found="no targets", kind="missing",
        ))  # fmt: skip
    ins = inputs(scenario)
    if len(ins) < 2:
        errs.append(ScenarioError(
            file, "", expected="a scenario with at least 2 uncertain inputs (ranges)",
            found=f"{len(ins)}", kind="missing",
        ))  # fmt: skip
    if errs:
        raise ScenarioErrors(errs)
    return ins


def sensitivity(
    scenario: Scenario,
    method: str = "sobol",
    samples: int | None = None,
    runs: int = DEFAULT_RUNS,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    screen_inert: bool = True,
    screened: tuple[Sequence[Input], Sequence[Input]] | None = None,
) -> SensitivityResult:
    """Sobol or Morris indices of every target's outcome to every uncertain input.

    Args:
        scenario: the validated scenario (with targets).
        method: "sobol" (first and total order, with confidence intervals) or "morris".
        samples: Sobol base samples N (a power of 2: N * (D + 2) design points) or Morris
            trajectories (N * (D + 1) points); default `DEFAULT_SAMPLES[method]`.
        runs: replications per design point, on the same seeds at every point.
        seed: root seed of the replications, the design and the bootstrap.
        workers: worker processes over the design points; results do not depend on it.
        progress: called with the number of design points just finished.
        screen_inert: (Sobol) leave out the inputs that change no target (`screen`).
        screened: (Sobol) the (active, inert) inputs of an earlier `screen` of this scenario
            and seed, not screened again (the command line screens first to size its bar).
    """
    import os

    start = time.perf_counter()
    if samples is None:
        samples = DEFAULT_SAMPLES.get(method, 0)  # an unknown method is refused just below
    problems = option_problems(method, samples, runs)
    if problems:
        raise ValueError("; ".join(f"{opt.lstrip('-')} {why}" for opt, why in problems))
    ins = check(scenario)
    workers = max(1, min(workers, os.cpu_count() or 1))
    inert: Sequence[Input] = []
    if method == "sobol" and screened is not None:
        ins, inert = list(screened[0]), list(screened[1])
    elif method == "sobol" and screen_inert:
        ins, inert = screen(scenario, ins, seed, workers)
    X = design(ins, method, samples, seed)
    points = [_values(ins, row) for row in X]
    Y = _map(_evaluate, scenario, seed, runs, points, workers, progress)
    targets = scenario.targets
    full = _table(ins, method, targets, X, Y, seed)
    half_rows = (samples // 2) * points_per_sample(len(ins), method)
    half = _table(ins, method, targets, X[:half_rows], Y[:half_rows], seed)
    centre = _values(ins, np.array([(i.low + i.high) / 2 for i in ins]))
    noise = _noise(scenario, centre, seed, runs, Y)
    notes = [
        f"{t.id}: its outcome does not vary over the design; no index"
        for j, t in enumerate(targets)
        if not np.ptp(Y[:, j]) > 0
    ]
    if inert:
        notes.append(
            f"{len(inert)} inert input(s) left out of the design: none changed any target in "
            f"{SCREEN_RUNS} replications at either end of its range, the others at their "
            f"centre, same seeds (a total index of 0, or too small for those replications to "
            f"show): {', '.join(i.name for i in inert)}"
        )
    return SensitivityResult(
        scenario=scenario,
        method=method,
        samples=samples,
        runs=runs,
        seed=seed,
        inputs=list(ins),
        inert=list(inert),
        indices=full,
        convergence=_convergence(method, half, full, samples),
        noise=noise,
        design_points=len(points),
        outcomes=Y,
        elapsed_seconds=time.perf_counter() - start,
        notes=notes,
    )
