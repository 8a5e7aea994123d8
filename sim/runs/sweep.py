"""Sweeps: many ensembles over a design of lever and uncertainty values, resumable on disk.

A planner's question "how do our odds move as the little-giant award goes from 0 to 1 million
yuan and loan coverage from 20 % to 80 %, whatever the approval rate turns out to be?" is a
sweep: one ensemble (`sim.runs.ensemble`) per point of a design, each summarised per target.

Varied quantities (``PATH=SPEC``)
    PATH is the dotted path of any quantity in ``Scenario.specs()``. Paths under ``levers.``
    are *levers* (what the place decides); every other path (``approval.national_little_giant``,
    ``baseline.counts.provincial_srdi``, ...) is an *uncertainty*. SPEC is one of

    - ``lo:hi:n``: a range; a grid takes n evenly spaced points from lo to hi (n = 1 gives lo);
      sampled designs draw in [lo, hi] and need no n (``lo:hi``);
    - ``a,b,c``: a list of values (a sampled design picks among them with equal weight);
    - a distribution, for an uncertainty only: ``uniform(lo,hi)``, ``normal(mu,sd)``,
      ``normal(mu,sd,lo,hi)`` (truncated to [lo, hi]) or ``triangular(lo,mode,hi)``.

    Values are checked where the scenario schema would check them: lever and baseline values are
    non-negative, shares and probabilities (approval, application, re-review and exit rates,
    coverage, fees, shares) lie in [0, 1]; a distribution on such a path must be bounded inside
    that interval. Integer quantities (baseline counts, firms per year, pool size) are rounded.

Design: policies x futures (EMA Workbench's policies x scenarios; "future" because
"scenario" already names a place's file here)
    The levers form the *policies*, the uncertainties the *futures*, each group with its own
    design and its own seed, and every policy runs in every future. ``design`` (grid, lhs or
    sobol) applies to both groups: grid is the full factorial of each path's points; lhs and
    sobol draw ``samples`` policies and ``futures`` futures from `scipy.stats.qmc`
    (LatinHypercube, scrambled Sobol) and map each unit coordinate to the path's range, list or
    distribution (inverse CDF). A distribution cannot be gridded, so a grid design samples the
    futures by LHS when an uncertainty has a distribution. Policies are drawn with
    ``default_rng(SeedSequence([lever_seed, 1]))`` and futures with
    ``default_rng(SeedSequence([uncertainty_seed, 2]))``; both seeds default to ``seed``, and
    changing one leaves the other group's points as they were. Experiment e = f * P + p runs
    policy p in future f (P policies).

Replications: common random numbers across the whole design
    Every experiment runs replication r on child r of ``SeedSequence(seed).spawn(runs)``, the
    same seeds as ``srdi forecast --seed``. A varied value replaces the replication's draw of
    that quantity (``GrowthModel(values=...)``); the other uncertain quantities are drawn per
    replication as in a forecast, with the same draws in every experiment. Differences between
    experiments are therefore the levers' and uncertainties' doing, not noise.
    The counterfactual (every lever off) does not depend on lever values, so it is run once per
    future in each chunk and shared by the chunk's policies (a test checks the independence).
    An experiment's numbers depend only on its values, ``runs`` and ``seed``: never on the
    chunking, the number of workers or the executor.

Results (``out`` folder)
    ``sweep.parquet``: one row per experiment and target, sorted by experiment and the
    scenario's target order: experiment, policy, future, every varied path (a column named by
    its path), target, tier, kind, year, value (the goal), stretch, runs, probability, mc_se,
    stretch_probability, probability_without_levers, expected, p05, p50, p95,
    expected_without_levers, attributable (mean of levers-on minus levers-off outcome),
    attributable_mc_se, cost_yuan (mean total spending over the period), cost_p05_yuan,
    cost_p95_yuan, cost_<lever>_yuan per lever in the scenario, cost_per_extra_firm_yuan.
    ``replications.parquet`` (``replications=True``): one row per experiment, replication and
    target: outcome, outcome_without_levers, reached, cost_yuan.
    ``draws.parquet`` (``replications=True``): one row per replication, its uncertain inputs:
    every quantity drawn per replication that the design does not vary (a column named by its
    path) and the places drawn for each rationed title and year (``quota.<tier>.<year>``).
    Replication r draws the same values in every experiment (common random numbers), so one
    row per replication holds for all of them; the varied paths' values are the experiment's
    (in ``sweep.parquet``). The places are those of the first experiment's values: they depend
    on a varied value only if ``competition.quota_scale`` is varied. `srdi discover` reads it.
    ``manifest.json``: scenario digest (sha256 of the canonical dump of the scenario and of the
    patch), parameter digest (every quantity the model reads, shipped defaults included), code
    digest, the design, the seeds, runs, the package version, and the last run's executor and
    time.

Nothing lost
    Experiments are grouped in chunks (within one future, so the counterfactual is shared);
    each finished chunk is written by the parent process to ``chunks/<first>-<last>.parquet``
    through a temporary file and ``os.replace``. A rerun of the same sweep into the same folder
    computes only the experiments no chunk file holds, whatever chunk size or worker count
    either run used, and the final tables are identical to an uninterrupted run's. A folder
    whose manifest shows another scenario, parameters, design, seeds, runs, package version or
    package code (a digest of sim/'s source and data files) is refused (`ResumeRefused`, naming
    each difference).

Executors
    ``workers=1``: in this process. ``workers=W``: W local processes (`concurrent.futures`,
    fork where the platform has it; on Linux they die with the sweep process, so a killed sweep
    leaves nothing computing). ``scheduler="tcp://host:8786"``: an existing Dask cluster
    (its workers need this package installed); ``scheduler="local"``: a `distributed.LocalCluster`
    of W single-threaded worker processes. Chunks default to half an even share per worker (at
    most one future's policies), so workers stay busy to the end while few counterfactuals are
    recomputed.

Sweep files
    A sweep can be written as YAML and run with ``srdi sweep FILE`` (see
    ``scenarios/sweeps/hebi-awards-loans.yaml``): ``scenario`` (path relative to the file),
    ``description``, ``scenario_patch`` (merged into the scenario document before validation, to
    add a lever the plan lacks; every ``source`` in it must say it is hypothetical), ``vary``
    (PATH: SPEC), ``design``, ``samples``, ``futures``, ``runs``, ``seed`` and ``seeds``
    (``levers``, ``uncertainties``). Command-line options override the file.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import ScenarioError, ScenarioErrors, SrdiError
from sim.runs.executor import SchedulerUnreachable, executor
from sim.scenario import (
    Scenario,
    is_sweep_file,
    nearest_paths,
    read_document,
    read_text_file,
    value_bounds,
)
from sim.views.output import write_atomic, write_text_atomic

log = logging.getLogger(__name__)

DESIGNS = ("grid", "lhs", "sobol")
DISTRIBUTIONS = {
    "uniform": "uniform(lo,hi)",
    "normal": "normal(mu,sd) or normal(mu,sd,lo,hi)",
    "triangular": "triangular(lo,mode,hi)",
}
DEFAULT_RUNS = 100
DEFAULT_SAMPLES = 16
DEFAULT_FUTURES = 8
FORMAT = "srdi-sweep/1"
TABLE = "sweep.parquet"
REPLICATIONS = "replications.parquet"
DRAWS = "draws.parquet"
MANIFEST = "manifest.json"
CHUNKS = "chunks"
_CHUNK_RE = re.compile(r"^(\d+)-(\d+)\.parquet$")
_SWEEP_KEYS = (
    "scenario",
    "description",
    "scenario_patch",
    "vary",
    "design",
    "samples",
    "futures",
    "runs",
    "seed",
    "seeds",
)


# --- errors ------------------------------------------------------------------------------------


class SweepError(ScenarioError):
    """A sweep specification that cannot be run as written (a `ScenarioError` with its fields).

    ``kind`` is one of ``unknown_path``, ``bad_spec``, ``bad_range`` (lo > hi), ``bad_count``
    (n < 1, runs < 1, ...), ``distribution_on_lever``, ``out_of_range``, ``unknown_key``,
    ``wrong_type``, ``duplicate_path``, ``not_hypothetical``, ``no_file``.
    """


class ResumeRefused(SrdiError):
    """The output folder holds another sweep's results; resuming into it would mix them.

    Attributes:
        out: the folder.
        differences: one line per differing field (``design.vary: ... before, ... now``).
    """

    def __init__(self, out: str, differences: list[str]) -> None:
        self.out = str(out)
        self.differences = list(differences)
        super().__init__(
            f"{self.out} holds results of a different sweep, so it was not resumed: "
            + "; ".join(self.differences)
            + f". Use another --out folder, or delete {self.out} to start this sweep afresh."
        )


def _err(
    file: str,
    path: str,
    expected: str,
    found: str,
    kind: str,
    fix: str | None = None,
    line: int | None = None,
) -> SweepError:
    return SweepError(file, path, expected, found, line=line, fix=fix, kind=kind)


# --- one varied quantity -----------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One varied path: its role, its form (range, list, distribution) and its numbers."""

    path: str
    role: str  # "lever" | "uncertainty"
    form: str  # "range" | "list" | "distribution"
    spec: str  # canonical text, as recorded in the manifest
    lo: float | None = None
    hi: float | None = None
    n: int | None = None
    items: tuple[float, ...] = ()
    dist: str | None = None
    params: tuple[float, ...] = ()
    integer: bool = False

    def grid(self) -> np.ndarray:
        """The points of a grid design."""
        if self.form == "list":
            x = np.array(self.items, dtype=float)
        else:
            x = np.linspace(self.lo, self.hi, self.n) if self.n > 1 else np.array([self.lo])
        return self._round(x)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Values at unit coordinates u in [0, 1) (a sampled design)."""
        u = np.asarray(u, dtype=float)
        if self.form == "list":
            k = np.minimum((u * len(self.items)).astype(int), len(self.items) - 1)
            return self._round(np.array(self.items, dtype=float)[k])
        if self.form == "range":
            return self._round(self.lo + u * (self.hi - self.lo))
        return self._round(_ppf(self.dist, self.params, np.clip(u, 1e-12, 1 - 1e-12)))

    def _round(self, x: np.ndarray) -> np.ndarray:
        return np.floor(x + 0.5) if self.integer else x


def _ppf(dist: str, params: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    if dist == "uniform":
        lo, hi = params
        return lo + u * (hi - lo)
    if dist == "triangular":
        lo, mode, hi = params
        return stats.triang.ppf(u, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    mu, sd = params[:2]
    if len(params) == 4:
        lo, hi = params[2:]
        return stats.truncnorm.ppf(u, (lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
    return stats.norm.ppf(u, loc=mu, scale=sd)


def _support(f: Factor) -> tuple[float, float]:
    if f.form == "list":
        return min(f.items), max(f.items)
    if f.form == "range":
        return f.lo, f.hi
    if f.dist == "uniform":
        return f.params
    if f.dist == "triangular":
        return f.params[0], f.params[2]
    if len(f.params) == 4:
        return f.params[2], f.params[3]
    return -math.inf, math.inf


def _fmt(x: float) -> str:
    """Exact, short text of a number (repr without a trailing .0)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _number(text: str) -> float:
    x = float(text.strip())
    if not math.isfinite(x):
        raise ValueError(text)
    return x


def make_factor(
    path: str,
    spec: Any,
    scenario: Scenario,
    file: str = "--vary",
    line: int | None = None,
) -> Factor:
    """Check one ``PATH=SPEC`` against the scenario and return it as a `Factor`.

    Raises:
        SweepError: unknown path, unreadable spec, lo > hi, n < 1, a distribution on a lever,
            or values outside what the quantity allows.
    """
    specs = scenario.specs()
    where = f"vary.{path}" if file != "--vary" else path
    if path not in specs:
        near = nearest_paths(path, specs)
        fix = ("Nearest valid paths: " + ", ".join(near) + ".") if near else ""
        parts = path.split(".")
        if (
            parts[0] == "levers"
            and len(parts) > 1
            and getattr(scenario.levers, parts[1], 1) is None
        ):
            fix += (
                f" This scenario has no levers.{parts[1]} section: add one under scenario_patch"
                " in a sweep file (its numbers labelled hypothetical)."
            )
        raise _err(
            file,
            where,
            "the dotted path of a lever (levers.*) or a model parameter of the scenario",
            f"'{path}', which the scenario does not have",
            "unknown_path",
            fix.strip() or "List the paths with `sim.scenario.load(...).specs()`.",
            line,
        )
    role = "lever" if path.startswith("levers.") else "uncertainty"
    integer = specs[path].integer

    def bad(expected: str, found: str, kind: str = "bad_spec", fix: str | None = None):
        return _err(file, where, expected, found, kind, fix, line)

    form_help = "a range lo:hi:n, a list a,b,c" + (
        "" if role == "lever" else ", or a distribution " + " | ".join(DISTRIBUTIONS.values())
    )
    if isinstance(spec, bool) or spec is None:
        raise bad(form_help, repr(spec))
    if isinstance(spec, int | float):
        spec = str(spec)
    if isinstance(spec, list | tuple):
        if not spec or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in spec
        ):
            raise bad("a non-empty list of numbers", repr(spec))
        spec = ",".join(repr(float(v)) for v in spec)
    if not isinstance(spec, str) or not spec.strip():
        raise bad(form_help, repr(spec))
    text = spec.strip().replace(" ", "")

    m = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", text)
    if m:
        name = m.group(1).lower()
        if role == "lever":
            raise bad(
                "a range lo:hi:n or a list a,b,c (a lever is decided, so the design chooses "
                "its values)",
                f"the distribution '{text}'",
                "distribution_on_lever",
                f"Write {path}=lo:hi:n for a grid, or lo:hi with --design lhs.",
            )
        if name not in DISTRIBUTIONS:
            raise bad(
                "a distribution " + " | ".join(DISTRIBUTIONS.values()),
                f"'{m.group(1)}'",
                fix=f"Nearest: {', '.join(difflib.get_close_matches(name, DISTRIBUTIONS))}."
                if difflib.get_close_matches(name, DISTRIBUTIONS)
                else None,
            )
        try:
            params = tuple(_number(p) for p in m.group(2).split(","))
        except ValueError:
            raise bad(DISTRIBUTIONS[name] + " with numbers", f"'{text}'") from None
        want = {"uniform": (2,), "normal": (2, 4), "triangular": (3,)}[name]
        if len(params) not in want:
            raise bad(DISTRIBUTIONS[name], f"'{text}' ({len(params)} numbers)")
        if name == "uniform" and params[0] >= params[1]:
            raise bad(
                "uniform(lo,hi) with lo < hi",
                f"lo {params[0]:g} >= hi {params[1]:g}",
                "bad_range",
                "Swap the bounds.",
            )
        if name == "triangular" and not (
            params[0] <= params[1] <= params[2] and params[0] < params[2]
        ):
            raise bad(
                "triangular(lo,mode,hi) with lo <= mode <= hi and lo < hi",
                f"lo {params[0]:g}, mode {params[1]:g}, hi {params[2]:g}",
                "bad_range",
            )
        if name == "normal":
            if params[1] <= 0:
                raise bad("normal(mu,sd) with sd > 0", f"sd {params[1]:g}", "bad_range")
            if len(params) == 4 and params[2] >= params[3]:
                raise bad(
                    "normal(mu,sd,lo,hi) with lo < hi",
                    f"lo {params[2]:g} >= hi {params[3]:g}",
                    "bad_range",
                    "Swap the bounds.",
                )
        canon = f"{name}({','.join(_fmt(p) for p in params)})"
        f = Factor(path, role, "distribution", canon, dist=name, params=params, integer=integer)
    elif ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise bad("a range lo:hi:n (or lo:hi in a sampled design)", f"'{text}'")
        try:
            lo, hi = _number(parts[0]), _number(parts[1])
        except ValueError:
            raise bad("a range lo:hi:n with numbers lo and hi", f"'{text}'") from None
        n = None
        if len(parts) == 3:
            try:
                n = int(parts[2])
            except ValueError:
                raise bad("a whole number of points n in lo:hi:n", f"'{parts[2]}'") from None
            if n < 1:
                raise bad(
                    "at least 1 point (n >= 1 in lo:hi:n)",
                    f"n = {n}",
                    "bad_count",
                    f"Write {path}={parts[0]}:{parts[1]}:5 for five points.",
                )
        if lo > hi:
            raise bad(
                "a range lo:hi:n with lo <= hi",
                f"lo {lo:g} > hi {hi:g}",
                "bad_range",
                f"Write {path}={parts[1]}:{parts[0]}" + (f":{n}" if n else "") + ".",
            )
        if lo == hi and n is not None and n > 1:
            raise bad(
                "a range with lo < hi when n > 1",
                f"lo = hi = {lo:g} with n = {n}",
                "bad_range",
                f"Write {path}={lo:g} for one value.",
            )
        canon = f"{_fmt(lo)}:{_fmt(hi)}" + (f":{n}" if n is not None else "")
        f = Factor(path, role, "range", canon, lo=lo, hi=hi, n=n, integer=integer)
    else:
        try:
            items = tuple(_number(p) for p in text.split(","))
        except ValueError:
            raise bad(form_help, f"'{text}'") from None
        if len(set(items)) != len(items):
            raise bad("a list with each value once", f"'{text}'", fix="Remove the repeated value.")
        canon = ",".join(_fmt(x) for x in items)
        f = Factor(path, role, "list", canon, items=items, integer=integer)

    limits = value_bounds(path)
    if limits is not None:
        lo, hi = _support(f)
        if lo < limits[0] or hi > limits[1]:
            what = (
                "a share or probability between 0 and 1"
                if limits == (0.0, 1.0)
                else "a non-negative number"
            )
            found = (
                f"values from {lo:g} to {hi:g}"
                if math.isfinite(lo) and math.isfinite(hi)
                else f"the unbounded distribution '{f.spec}'"
            )
            fix = (
                "Bound it: normal(mu,sd,lo,hi) is truncated to [lo, hi]."
                if f.form == "distribution" and not (math.isfinite(lo) and math.isfinite(hi))
                else "Write 25 % as 0.25."
                if limits == (0.0, 1.0)
                else None
            )
            raise bad(f"{what} ({path})", found, "out_of_range", fix)
    return f


def parse_vary(item: str) -> tuple[str, str]:
    """Split a command-line ``PATH=SPEC``."""
    path, sep, spec = item.partition("=")
    if not sep or not path.strip() or not spec.strip():
        raise _err(
            "--vary",
            path.strip() or item,
            "PATH=SPEC (e.g. levers.loans.coverage=0.2:0.8:4)",
            f"'{item}'",
            "bad_spec",
        )
    return path.strip(), spec.strip()


# --- the plan ----------------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """A checked sweep: the (patched) scenario, the varied factors, the design and the seeds."""

    scenario: Scenario
    factors: list[Factor]
    design: str = "grid"
    samples: int | None = None
    futures: int | None = None
    runs: int = DEFAULT_RUNS
    seed: int = 0
    lever_seed: int | None = None
    uncertainty_seed: int | None = None
    patch: dict | None = None
    source: str | None = None
    description: str | None = None
    scenario_file: str | None = None
    base_document: dict | None = field(default=None, repr=False)
    _policies: np.ndarray | None = field(default=None, repr=False)
    _futures: np.ndarray | None = field(default=None, repr=False)

    @property
    def levers(self) -> list[Factor]:
        return [f for f in self.factors if f.role == "lever"]

    @property
    def uncertainties(self) -> list[Factor]:
        return [f for f in self.factors if f.role == "uncertainty"]

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.levers] + [f.path for f in self.uncertainties]

    @property
    def future_design(self) -> str:
        """The futures' design: the sweep's, except that distributions cannot be gridded."""
        if self.design == "grid" and any(f.form == "distribution" for f in self.uncertainties):
            return "lhs"
        return self.design

    def _lever_seed(self) -> int:
        return self.seed if self.lever_seed is None else self.lever_seed

    def _uncertainty_seed(self) -> int:
        return self.seed if self.uncertainty_seed is None else self.uncertainty_seed

    def policy_points(self) -> np.ndarray:
        """Policies x lever paths."""
        if self._policies is None:
            rng = np.random.default_rng(np.random.SeedSequence([self._lever_seed(), 1]))
            n = self.samples or DEFAULT_SAMPLES
            self._policies = _points(self.levers, self.design, n, rng)
        return self._policies

    def future_points(self) -> np.ndarray:
        """Futures x uncertainty paths."""
        if self._futures is None:
            rng = np.random.default_rng(np.random.SeedSequence([self._uncertainty_seed(), 2]))
            n = self.futures or DEFAULT_FUTURES
            self._futures = _points(self.uncertainties, self.future_design, n, rng)
        return self._futures

    @property
    def n_policies(self) -> int:
        return len(self.policy_points())

    @property
    def n_futures(self) -> int:
        return len(self.future_points())

    @property
    def n_experiments(self) -> int:
        return self.n_policies * self.n_futures

    def experiments(self) -> pd.DataFrame:
        """The design: experiment, policy, future and each varied path's value."""
        pol, fut = self.policy_points(), self.future_points()
        f_idx, p_idx = np.divmod(np.arange(len(pol) * len(fut)), len(pol))
        df = pd.DataFrame(
            {
                "experiment": np.arange(len(pol) * len(fut), dtype=np.int64),
                "policy": p_idx.astype(np.int64),
                "future": f_idx.astype(np.int64),
            }
        )
        for j, f in enumerate(self.levers):
            df[f.path] = pol[p_idx, j].astype(float)
        for j, f in enumerate(self.uncertainties):
            df[f.path] = fut[f_idx, j].astype(float)
        return df

    def values(self, experiment: int) -> tuple[dict[str, float], dict[str, float]]:
        """(uncertainty values, lever values) of one experiment, by path."""
        f, p = divmod(experiment, self.n_policies)
        pol, fut = self.policy_points()[p], self.future_points()[f]
        return (
            {x.path: float(v) for x, v in zip(self.uncertainties, fut, strict=True)},
            {x.path: float(v) for x, v in zip(self.levers, pol, strict=True)},
        )

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same sweep: resuming requires every field to match."""
        base = self.base_document
        if base is None:
            base = _dump(self.scenario)
        specs = {
            k: [s.value, s.low, s.high, s.draw, s.integer] for k, s in self.scenario.specs().items()
        }
        return {
            "format": FORMAT,
            "package_version": _version(),
            "scenario_digest": _digest({"scenario": base, "patch": self.patch}),
            "parameters_digest": _digest(specs),
            "code_digest": _code_digest(),
            "design": {
                "kind": self.design,
                "futures_kind": self.future_design,
                "vary": [{"path": f.path, "role": f.role, "spec": f.spec} for f in self.factors],
                "samples": self.samples if self.design != "grid" else None,
                "futures": self.futures if self.future_design != "grid" else None,
                "policies": self.n_policies,
                "futures_count": self.n_futures,
                "experiments": self.n_experiments,
            },
            "seeds": {
                "seed": self.seed,
                "replications": f"SeedSequence({self.seed}).spawn({self.runs})",
                "levers": f"default_rng(SeedSequence([{self._lever_seed()}, 1]))",
                "uncertainties": f"default_rng(SeedSequence([{self._uncertainty_seed()}, 2]))",
            },
            "runs": self.runs,
        }


def _points(factors: Sequence[Factor], kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if not factors:
        return np.zeros((1, 0))
    if kind == "grid":
        return np.array(list(itertools.product(*(f.grid() for f in factors))), dtype=float)
    from scipy.stats import qmc

    d = len(factors)
    if kind == "lhs":
        u = qmc.LatinHypercube(d, rng=rng).random(n)
    else:
        if n & (n - 1):
            log.warning("a Sobol design of %d points is unbalanced; powers of 2 are best", n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            u = qmc.Sobol(d, scramble=True, rng=rng).random(n)
    return np.column_stack([f.from_unit(u[:, j]) for j, f in enumerate(factors)])


def _dump(sc: Scenario) -> dict:
    return sc.model_dump(mode="json", by_alias=True, exclude_none=True)


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _code_digest() -> str:
    """sha256 of the package's source and data files: results come from this code."""
    root = Path(__file__).resolve().parents[1]  # the sim package
    h = hashlib.sha256()
    for f in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        if "__pycache__" in f.parts:
            continue
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("srdi-sim")
    except Exception:  # not installed: the source tree's version
        from sim import __version__

        return __version__


def _check_int(value: Any, name: str, file: str, line: int | None, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(file, name, "a whole number", repr(value), "wrong_type", line=line)
    if value < minimum:
        raise _err(
            file,
            name,
            f"at least {minimum}",
            str(value),
            "bad_count",
            f"Set {name} to {minimum} or more.",
            line,
        )
    return value


def plan(
    scenario: Scenario | str | Path,
    vary: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    design: str | None = None,
    samples: int | None = None,
    futures: int | None = None,
    runs: int | None = None,
    seed: int | None = None,
    lever_seed: int | None = None,
    uncertainty_seed: int | None = None,
    patch: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Check a sweep and return its plan (nothing runs).

    Args:
        scenario: a `Scenario`, a scenario file, or a sweep file (YAML with ``vary``).
        vary: ``{PATH: SPEC}`` or ``["PATH=SPEC", ...]``; adds to (or replaces paths of) a sweep
            file's ``vary``.
        design: grid (default), lhs or sobol.
        samples: policies in an lhs or sobol design (default 16).
        futures: futures when the uncertainties are sampled (default 8).
        runs: replications per experiment (default 100).
        seed: root seed of the replications and (unless given) of both designs.
        lever_seed, uncertainty_seed: seeds of the policy and future designs.
        patch: merged into the scenario document before validation (a lever the plan lacks);
            every ``source`` in it must say the number is hypothetical.

    Raises:
        SweepError: any problem with the sweep (path, spec, counts, patch labels).
        ScenarioErrors: the scenario, or the scenario with the patch, does not validate.
    """
    file_cfg: dict[str, Any] = {}
    lines: dict[tuple, int] = {}
    file = "--vary"
    if isinstance(scenario, str | Path) and is_sweep_file(Path(scenario)):
        file_cfg, lines = _read_sweep_file(Path(scenario))
        file = str(scenario)
    # the scenario, patched
    if file_cfg:
        scenario_file = str(Path(file).parent / file_cfg["scenario"])
        base = _load_scenario(scenario_file, file, lines.get(("scenario",)))
    elif isinstance(scenario, Scenario):
        base, scenario_file = scenario, None
    else:
        from sim.scenario import load

        base, scenario_file = load(scenario), str(scenario)
    the_patch = copy.deepcopy(file_cfg.get("scenario_patch"))
    if patch is not None:
        the_patch = _merge(the_patch or {}, copy.deepcopy(dict(patch)))
    base_doc = _dump(base)
    sc = _apply_patch(base, the_patch, file if file_cfg else "patch", lines) if the_patch else base
    if not sc.targets:
        raise _err(
            file if file_cfg else (scenario_file or "scenario"),
            "targets",
            "a scenario with at least one target (a sweep reports the chance of reaching them)",
            "no targets",
            "bad_count",
            "Forecast a scenario without targets with `srdi forecast` (a status-quo forecast).",
        )

    # the varied paths: the file's, then the caller's (same path: the caller's wins)
    raw: dict[str, tuple[Any, str, int | None]] = {}
    for path, spec in (file_cfg.get("vary") or {}).items():
        raw[str(path)] = (spec, file, lines.get(("vary", path)))
    if isinstance(vary, Mapping):
        items = list(vary.items())
    else:
        items = [parse_vary(v) for v in (vary or [])]
        seen = set()
        for path, _ in items:
            if path in seen:
                raise _err(
                    "--vary",
                    path,
                    "each path varied once",
                    f"'{path}' twice",
                    "duplicate_path",
                    "Give all the path's values in one SPEC (a,b,c or lo:hi:n).",
                )
            seen.add(path)
    for path, spec in items:
        raw[str(path)] = (spec, "--vary", None)
    if not raw:
        raise _err(
            file,
            "vary",
            "at least one varied path (PATH=SPEC)",
            "none",
            "bad_count",
            "Add --vary levers.loans.coverage=0.2:0.8:4, for example.",
        )
    factors = [make_factor(p, s, sc, f, ln) for p, (s, f, ln) in raw.items()]

    design = design or file_cfg.get("design", "grid")
    if design not in DESIGNS:
        near = difflib.get_close_matches(str(design), DESIGNS, n=1)
        raise _err(
            file if "design" in file_cfg else "--design",
            "design",
            "one of " + ", ".join(DESIGNS),
            repr(design),
            "bad_spec",
            f"Did you mean '{near[0]}'?" if near else None,
            lines.get(("design",)),
        )
    values = {}
    for name, given, default in (
        ("samples", samples, None),
        ("futures", futures, None),
        ("runs", runs, DEFAULT_RUNS),
        ("seed", seed, 0),
    ):
        v = given if given is not None else file_cfg.get(name, default)
        src = file if given is None and name in file_cfg else f"--{name}"
        if v is not None:
            v = _check_int(v, name, src, lines.get((name,)), minimum=0 if name == "seed" else 1)
        values[name] = v
    seeds = file_cfg.get("seeds") or {}
    lever_seed = lever_seed if lever_seed is not None else seeds.get("levers")
    uncertainty_seed = (
        uncertainty_seed if uncertainty_seed is not None else seeds.get("uncertainties")
    )
    for name, v in (("seeds.levers", lever_seed), ("seeds.uncertainties", uncertainty_seed)):
        if v is not None:
            _check_int(v, name, file, lines.get(tuple(name.split("."))), minimum=0)
    future_kind = (
        "lhs" if design == "grid" and any(f.form == "distribution" for f in factors) else design
    )
    for f in factors:
        kind = design if f.role == "lever" else future_kind
        if kind == "grid" and f.form == "range" and f.n is None:
            raise _err(
                file if raw[f.path][1] == file else "--vary",
                f.path,
                "a range lo:hi:n with a number of points n (a grid design)",
                f"'{f.spec}'",
                "bad_count",
                f"Write {f.path}={f.spec}:5, or use --design lhs.",
                raw[f.path][2],
            )
    return SweepPlan(
        scenario=sc,
        factors=factors,
        design=design,
        samples=values["samples"],
        futures=values["futures"],
        runs=values["runs"],
        seed=values["seed"],
        lever_seed=lever_seed,
        uncertainty_seed=uncertainty_seed,
        patch=the_patch,
        source=file if file_cfg else None,
        description=file_cfg.get("description"),
        scenario_file=scenario_file,
        base_document=base_doc,
    )


def _load_scenario(path: str, sweep_file: str, line: int | None) -> Scenario:
    from sim.scenario import load

    if not Path(path).is_file():
        raise _err(
            sweep_file,
            "scenario",
            "the path of a scenario file, relative to the sweep file",
            f"'{path}', which does not exist",
            "no_file",
            "List shipped scenarios with `srdi list`.",
            line,
        )
    return load(path)


def _merge(base: dict, patch: Mapping[str, Any]) -> dict:
    """Merge `patch` into `base` in place: mappings recursively, anything else replaced."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _flat_keys(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield (*prefix, str(k))
            yield from _flat_keys(v, (*prefix, str(k)))


def _apply_patch(
    base: Scenario, patch: Mapping[str, Any], file: str, lines: Mapping[tuple, int]
) -> Scenario:
    """The scenario with `patch` merged in, validated as a new document (base untouched)."""
    from sim.scenario import parse

    if not isinstance(patch, Mapping):
        raise _err(file, "scenario_patch", "a mapping", repr(patch), "wrong_type")
    for key in _flat_keys(patch):
        if key[-1] == "source":
            node: Any = patch
            for k in key:
                node = node[k]
            if not isinstance(node, str) or "hypothetical" not in node.lower():
                raise _err(
                    file,
                    "scenario_patch." + ".".join(key),
                    "a source saying the number is hypothetical (added for this sweep, not in "
                    "the plan)",
                    repr(node),
                    "not_hypothetical",
                    "Begin it with 'hypothetical:' and say why; a cited number belongs in the "
                    "scenario file itself.",
                    lines.get(("scenario_patch", *key)),
                )
    doc = _merge(base.model_dump(mode="python", by_alias=True, exclude_none=True), patch)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    try:
        return parse(text, file=f"{file} (scenario + scenario_patch)")
    except ScenarioErrors as e:
        patched = set(_flat_keys(patch))
        out = []
        for x in e.errors:
            key = tuple(x.path.split(".")) if x.path else ()
            prefix = next((key[:i] for i in range(len(key), 0, -1) if key[:i] in patched), None)
            if prefix is not None:
                line = lines.get(("scenario_patch", *key)) or lines.get(("scenario_patch", *prefix))
                out.append(
                    SweepError(
                        file,
                        "scenario_patch." + x.path,
                        x.expected,
                        x.found,
                        line=line,
                        fix=x.fix,
                        kind=x.kind,
                    )
                )
            else:  # lines of the generated text mean nothing to the reader
                x.line = None
                out.append(x)
        raise ScenarioErrors(out) from None


# --- sweep files -------------------------------------------------------------------------------


def _read_sweep_file(p: Path) -> tuple[dict[str, Any], dict[tuple, int]]:
    """The sweep file's data and the line of each key, read as scenario files are
    (`scenario.read_document`: YAML errors, duplicate keys and alias bombs refused alike)."""
    file = str(p)
    data, lines, dups = read_document(read_text_file(p, "sweep file"), file)
    if dups:
        raise ScenarioErrors(dups)
    if not isinstance(data, dict):
        raise _err(file, "", "a mapping with scenario and vary", repr(data), "wrong_type", line=1)
    for key in data:
        if key not in _SWEEP_KEYS:
            near = difflib.get_close_matches(str(key), _SWEEP_KEYS, n=1)
            raise _err(
                file,
                str(key),
                "a key of a sweep file (" + ", ".join(_SWEEP_KEYS) + ")",
                f"'{key}'",
                "unknown_key",
                f"Did you mean '{near[0]}'?" if near else None,
                lines.get((key,)),
            )
    if not isinstance(data.get("scenario"), str):
        raise _err(
            file,
            "scenario",
            "the path of the scenario file, relative to the sweep file",
            repr(data.get("scenario")) if "scenario" in data else "nothing",
            "wrong_type" if "scenario" in data else "missing_key",
            line=lines.get(("scenario",)),
        )
    for key, kind in (("vary", dict), ("scenario_patch", dict), ("seeds", dict)):
        if key in data and not isinstance(data[key], kind):
            raise _err(
                file, key, "a mapping", repr(data[key]), "wrong_type", line=lines.get((key,))
            )
    for key in data.get("seeds") or {}:
        if key not in ("levers", "uncertainties"):
            raise _err(
                file,
                f"seeds.{key}",
                "a key of seeds (levers, uncertainties)",
                f"'{key}'",
                "unknown_key",
                line=lines.get(("seeds", key)),
            )
    return data, lines


# --- running -----------------------------------------------------------------------------------


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


def run_chunk(task: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run one chunk: the experiments of one future, sharing that future's counterfactual.

    `task` holds ``scenario``, ``seed``, ``runs``, ``future_values`` (uncertainty path -> value),
    ``experiments`` (a list of (experiment id, lever values)) and ``replications`` (bool).
    Returns the summary rows and, if asked, the per-replication rows.
    """
    from sim.levers import LEVER_NAMES
    from sim.runs import summary
    from sim.runs.ensemble import EnsembleResult, run_replication

    sc: Scenario = task["scenario"]
    seeds = np.random.SeedSequence(task["seed"]).spawn(task["runs"])
    fvals = task["future_values"]

    def ensemble(on: bool, values: dict[str, float]) -> dict[str, np.ndarray]:
        reps = [run_replication(sc, s, on, values or None) for s in seeds]
        return {k: np.stack([r[k] for r in reps]) for k in reps[0]}

    off = ensemble(False, fvals)
    years = [sc.period.base_year, *sc.period.years]
    present = [name for name in LEVER_NAMES if getattr(sc.levers, name, None) is not None]
    rows: list[dict[str, Any]] = []
    reps: list[pd.DataFrame] = []
    for e, lvals in task["experiments"]:
        on = ensemble(True, {**fvals, **lvals})
        res = EnsembleResult(
            scenario=sc,
            seed=task["seed"],
            years=years,
            tiers=sc.tier_ids,
            runs=on,
            counterfactual=off,
        )
        total = res.total_cost()
        n = len(total)
        cost_p05, _, cost_p95 = summary.band(total)
        by_lever = on["cost"].sum(axis=1).mean(axis=0)
        for t in sc.targets:
            x = res.outcome(t).astype(float)
            x0 = res.outcome(t, off).astype(float)
            d = x - x0
            p, se = summary.reach(x, t.value)
            p05, p50, p95 = summary.band(x)
            att, att_se = summary.paired(d)
            row = {
                "experiment": int(e),
                "target": t.id,
                "tier": t.tier,
                "kind": t.kind,
                "year": int(t.year),
                "value": float(t.value),
                "stretch": _float(t.stretch),
                "runs": int(n),
                "probability": p,
                "mc_se": se,
                "stretch_probability": (
                    summary.probability(x, t.stretch) if t.stretch is not None else math.nan
                ),
                "probability_without_levers": summary.probability(x0, t.value),
                "expected": float(x.mean()),
                "p05": p05,
                "p50": p50,
                "p95": p95,
                "expected_without_levers": float(x0.mean()),
                "attributable": att,
                "attributable_mc_se": att_se if att_se is not None else math.nan,
                "cost_yuan": float(total.mean()),
                "cost_p05_yuan": cost_p05,
                "cost_p95_yuan": cost_p95,
            }
            for name in present:
                row[f"cost_{name}_yuan"] = float(by_lever[LEVER_NAMES.index(name)])
            row["cost_per_extra_firm_yuan"] = float(total.mean()) / att if att > 0 else math.nan
            rows.append(row)
            if task["replications"]:
                reps.append(
                    pd.DataFrame(
                        {
                            "experiment": np.full(n, e, dtype=np.int64),
                            "replication": np.arange(n, dtype=np.int64),
                            "target": t.id,
                            "outcome": x,
                            "outcome_without_levers": x0,
                            "reached": x >= t.value,
                            "cost_yuan": total.astype(float),
                        }
                    )
                )
    return pd.DataFrame(rows), (pd.concat(reps, ignore_index=True) if reps else None)


def _chunks(missing: Sequence[int], n_policies: int, size: int) -> list[list[int]]:
    """Contiguous runs of missing experiments within one future, cut to `size`."""
    out: list[list[int]] = []
    run: list[int] = []
    for e in missing:
        if run and (
            e != run[-1] + 1 or e // n_policies != run[0] // n_policies or len(run) >= size
        ):
            out.append(run)
            run = []
        run.append(e)
    if run:
        out.append(run)
    return out


def _chunk_name(exps: Sequence[int]) -> str:
    return f"{exps[0]:06d}-{exps[-1]:06d}.parquet"


def _reps_path(chunk: Path) -> Path:
    """The per-replication file beside a chunk file (written first, so a chunk is complete)."""
    return chunk.with_name(chunk.name.replace(".parquet", ".replications.parquet"))


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write a chunk whole (sim/views/output.py), synced to disk before the rename."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            df.to_parquet(fh, index=False, engine="pyarrow")
            fh.flush()
            os.fsync(fh.fileno())

    write_atomic(path, write)


def _write_json(obj: Any, path: Path) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def _differences(old: Mapping, new: Mapping, prefix: str = "") -> list[str]:
    names = {
        "scenario_digest": "the scenario or its patch changed",
        "parameters_digest": "the model parameters changed",
        "code_digest": "the package's code or data changed since the first run",
        "package_version": "another package version",
    }
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        key = prefix + k
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _differences(a, b, key + ".")
        elif k == "vary":
            fa = ", ".join(f"{v['path']}={v['spec']}" for v in a or [])
            fb = ", ".join(f"{v['path']}={v['spec']}" for v in b or [])
            out.append(f"{key} was [{fa}], now [{fb}]")
        else:
            why = f" ({names[k]})" if k in names else ""
            out.append(f"{key} was {a!r}, now {b!r}{why}")
    return out


def _done(chunk_dir: Path, n_experiments: int, replications: bool) -> dict[int, Path]:
    """Experiments held by finished chunk files (experiment -> file)."""
    done: dict[int, Path] = {}
    if not chunk_dir.is_dir():
        return done
    for p in sorted(chunk_dir.iterdir()):
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)  # left by a killed run
            continue
        m = _CHUNK_RE.match(p.name)
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if b >= n_experiments or a > b:
            continue
        if replications and not _reps_path(p).exists():
            continue
        for e in range(a, b + 1):
            done.setdefault(e, p)
    return done


def run(
    the_plan: SweepPlan,
    out: str | Path | None = None,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    replications: bool = False,
    progress: Callable[[int, int], None] | None = None,
    connect_timeout: float | None = None,
) -> pd.DataFrame:
    """Run a planned sweep and return its table (one row per experiment and target).

    Args:
        the_plan: from `plan`.
        out: folder for the Parquet tables, the manifest and the chunks; None keeps everything
            in memory (nothing resumable).
        workers: local processes, or Dask LocalCluster workers with ``scheduler="local"``.
        scheduler: None (local processes), ``"local"`` or a Dask scheduler address.
        chunk_size: experiments per chunk (default: half a worker's share, within one future).
        replications: also write one row per replication (REPLICATIONS in `out`; needs `out`).
        progress: called with (experiments done, experiments in all) as chunks finish.
        connect_timeout: seconds to wait for a Dask scheduler (default
            `sim.runs.executor.CONNECT_TIMEOUT`).

    Raises:
        ResumeRefused: `out` holds another sweep's results.
        SchedulerUnreachable: no scheduler answered at `scheduler`.
    """
    start = time.perf_counter()
    p = the_plan
    if replications and out is None:
        raise ValueError("per-replication rows are written to files: give `out` as well")
    n_exp = p.n_experiments
    identity = {**p.identity(), "replications": bool(replications)}
    out_dir = Path(out) if out is not None else None
    chunk_dir = out_dir / CHUNKS if out_dir is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ResumeRefused(str(out_dir), ["it exists and is not a folder"])
        mpath = out_dir / MANIFEST
        if mpath.exists():
            try:
                old = json.loads(mpath.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise ResumeRefused(str(out_dir), [f"{MANIFEST} cannot be read"]) from None
            diff = _differences(old.get("identity", {}), identity)
            if diff:
                raise ResumeRefused(str(out_dir), diff)
        elif chunk_dir.is_dir() and any(_CHUNK_RE.match(q.name) for q in chunk_dir.iterdir()):
            raise ResumeRefused(str(out_dir), [f"it has chunk files but no {MANIFEST}"])
    done = _done(chunk_dir, n_exp, replications) if chunk_dir is not None else {}
    missing = [e for e in range(n_exp) if e not in done]
    if done:
        log.info("resuming: %d of %d experiments already done", len(done), n_exp)
    scheduler = scheduler or None
    results: dict[str, pd.DataFrame] = {}
    rep_results: dict[str, pd.DataFrame] = {}
    if not missing:  # a finished sweep run again: nothing to compute, no workers to start
        workers, scheduler = 1, None
    with executor(max(1, workers), scheduler, connect_timeout) as (submit, label, n_workers):
        label = label if missing else "nothing left to run"
        if chunk_size is None:
            # two chunks per worker: balanced, with few shared counterfactuals to recompute
            chunk_size = max(1, math.ceil(n_exp / (2 * n_workers))) if n_workers > 1 else n_exp
        chunk_size = max(1, min(chunk_size, p.n_policies))
        if out_dir is not None:
            chunk_dir.mkdir(parents=True, exist_ok=True)
            _write_json(
                _manifest(p, identity, "running", label, None, len(done)), out_dir / MANIFEST
            )
        if progress:
            progress(len(done), n_exp)
        tasks = []
        for exps in _chunks(missing, p.n_policies, chunk_size):
            fvals, _ = p.values(exps[0])
            tasks.append(
                {
                    "scenario": p.scenario,
                    "seed": p.seed,
                    "runs": p.runs,
                    "future_values": fvals,
                    "experiments": [(e, p.values(e)[1]) for e in exps],
                    "replications": replications,
                    "name": _chunk_name(exps),
                    "count": len(exps),
                }
            )
        finished = len(done)
        for task, (rows, reps) in submit(run_chunk, tasks):
            name = task["name"]
            if chunk_dir is not None:
                if reps is not None:
                    _write_parquet(reps, _reps_path(chunk_dir / name))
                _write_parquet(rows, chunk_dir / name)
            else:
                results[name] = rows
                if reps is not None:
                    rep_results[name] = reps
            finished += task["count"]
            if progress:
                progress(finished, n_exp)
    if chunk_dir is not None:
        files = sorted({f for f in _done(chunk_dir, n_exp, replications).values()})
        parts = [pd.read_parquet(f) for f in files]
        rep_parts = [pd.read_parquet(_reps_path(f)) for f in files] if replications else []
    else:
        parts, rep_parts = list(results.values()), list(rep_results.values())
    table = _assemble(p, parts)
    reps_table = _assemble_replications(p, rep_parts) if replications else None
    if out_dir is not None:
        _write_parquet(table, out_dir / TABLE)
        if reps_table is not None:
            _write_parquet(reps_table, out_dir / REPLICATIONS)
            _write_parquet(replication_draws(p), out_dir / DRAWS)
        elapsed = time.perf_counter() - start
        _write_json(
            _manifest(p, identity, "complete", label, elapsed, len(done)), out_dir / MANIFEST
        )
    return table


def _assemble(p: SweepPlan, parts: list[pd.DataFrame]) -> pd.DataFrame:
    rows = pd.concat(parts, ignore_index=True)
    rows = rows.drop_duplicates(["experiment", "target"], keep="first")
    order = {t.id: i for i, t in enumerate(p.scenario.targets)}
    rows = rows.assign(_t=rows["target"].map(order)).sort_values(
        ["experiment", "_t"], kind="stable"
    )
    rows = rows.drop(columns="_t")
    table = p.experiments().merge(rows, on="experiment", how="right", validate="one_to_many")
    if len(table) != p.n_experiments * len(order):
        raise RuntimeError(
            f"sweep table has {len(table)} rows, expected {p.n_experiments * len(order)}"
        )
    return table.reset_index(drop=True)


def _assemble_replications(p: SweepPlan, parts: list[pd.DataFrame]) -> pd.DataFrame:
    rows = pd.concat(parts, ignore_index=True)
    order = {t.id: i for i, t in enumerate(p.scenario.targets)}
    rows = rows.drop_duplicates(["experiment", "target", "replication"], keep="first")
    rows = rows.assign(_t=rows["target"].map(order)).sort_values(
        ["experiment", "_t", "replication"], kind="stable"
    )
    return rows.drop(columns="_t").reset_index(drop=True)


def replication_draws(the_plan: SweepPlan) -> pd.DataFrame:
    """Each replication's uncertain inputs that the design does not vary (see the module
    docstring, ``draws.parquet``): drawn quantities by path, then ``quota.<tier>.<year>``."""
    from sim.engine.model import draw_inputs

    sc = the_plan.scenario
    specs = sc.specs()
    varied = set(the_plan.paths)
    fvals, lvals = the_plan.values(0)
    values = {**fvals, **lvals}
    rows = []
    for r, seed in enumerate(np.random.SeedSequence(the_plan.seed).spawn(the_plan.runs)):
        p, comp = draw_inputs(sc, seed, values or None)
        row: dict[str, float] = {"replication": r}
        for path in sorted(p):
            spec = specs.get(path)
            if spec is not None and (spec.draw or spec.sample) and path not in varied:
                row[path] = float(p[path])
        for (level, year), places in sorted(comp.quota.items()):
            row[f"quota.{sc.tier_ids[level - 1]}.{year}"] = float(places)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.astype({"replication": np.int64})


def _manifest(
    p: SweepPlan,
    identity: dict,
    status: str,
    executor: str,
    elapsed: float | None,
    resumed: int,
) -> dict[str, Any]:
    return {
        "identity": identity,
        "scenario": {
            "place": p.scenario.place.id,
            "file": p.scenario_file,
            "sweep_file": p.source,
            "patch": p.patch,
        },
        "description": p.description,
        "levers": [f.path for f in p.levers],
        "uncertainties": [f.path for f in p.uncertainties],
        "targets": [t.id for t in p.scenario.targets],
        "tables": {
            "sweep": TABLE,
            **(
                {"replications": REPLICATIONS, "draws": DRAWS}
                if identity.get("replications")
                else {}
            ),
        },
        "status": status,
        "last_run": {
            "executor": executor,
            "experiments_already_done": resumed,
            "elapsed_seconds": None if elapsed is None else round(elapsed, 2),
        },
    }


def sweep(
    scenario: Scenario | str | Path,
    vary: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    out: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    replications: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **design: Any,
) -> pd.DataFrame:
    """Plan and run a sweep; one row per experiment and target (see the module docstring).

    ``design`` takes `plan`'s keywords: design, samples, futures, runs, seed, lever_seed,
    uncertainty_seed, patch. Example::

        sweep("scenarios/hebi.yaml", {"levers.loans.coverage": "0.2:0.8:4",
              "approval.national_little_giant": "uniform(0.2,0.5)"}, futures=4, runs=100)
    """
    return run(
        plan(scenario, vary, **design),
        out,
        workers=workers,
        scheduler=scheduler,
        chunk_size=chunk_size,
        replications=replications,
        progress=progress,
    )


def read(out: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A finished sweep's table and manifest."""
    out = Path(out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return pd.read_parquet(out / TABLE), manifest


__all__ = [
    "Factor",
    "ResumeRefused",
    "SchedulerUnreachable",
    "SweepError",
    "SweepPlan",
    "make_factor",
    "parse_vary",
    "plan",
    "read",
    "replication_draws",
    "run",
    "run_chunk",
    "sweep",
]
