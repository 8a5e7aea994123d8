"""The policies x futures design of a sweep (`SweepPlan`): its points, its experiments, and the
identity that decides whether a folder may be resumed.

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

Identity
    `SweepPlan.identity` is what makes two runs the same sweep: the scenario digest (sha256 of
    the canonical dump of the scenario and of the patch), the parameter digest (every quantity
    the model reads, shipped defaults included), the code digest (sim/'s source and data
    files), the design, the seeds, runs and the package version. `store` resumes a folder only
    when every field matches.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
from sim.runs.sweep.factor import Factor
from sim.scenario import Scenario

log = logging.getLogger(__name__)

DESIGNS = ("grid", "lhs", "sobol")
DEFAULT_RUNS = 100
DEFAULT_SAMPLES = 16
DEFAULT_FUTURES = 8
FORMAT = "srdi-sweep/1"


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
    """Points x factors of one group: the full factorial (grid), or n draws (lhs, sobol)."""
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
    """The scenario as JSON data: the canonical form digested into the identity."""
    return sc.model_dump(mode="json", by_alias=True, exclude_none=True)


def _digest(obj: Any) -> str:
    """sha256 of `obj`'s canonical JSON (sorted keys), so equal data give equal digests."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _code_digest() -> str:
    """sha256 of the package's source and data files: results come from this code."""
    root = Path(sim.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        if "__pycache__" in f.parts:
            continue
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def _version() -> str:
    """The installed package's version (recorded in the identity)."""
    try:
        from importlib.metadata import version

        return version("srdi-sim")
    except Exception:  # not installed: the source tree's version
        return sim.__version__
