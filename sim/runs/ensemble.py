"""Monte Carlo replications: seeds, target probabilities, counts, costs, counterfactuals.

Replication r runs with child r of `SeedSequence(seed).spawn(runs)`, drawn in the parent
before any work is dispatched, so results are identical whatever the number of workers. The
counterfactual (every lever off) runs on the same child seeds: common random numbers, so
the difference is the firms attributable to the policy. With `by_lever`, each lever is also
switched off alone on the same seeds: the firms each lever brings, and what each costs per
extra firm (`EnsembleResult.lever_attribution`).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.engine import competition
from sim.engine.model import LEVER_QUANTITIES, RELAXATIONS, GrowthModel, SetUp
from sim.levers import LEVER_NAMES
from sim.runs import summary
from sim.runs.executor import executor
from sim.scenario import Scenario, check_values, target_kinds
from sim.scenario.parameters import central
from sim.scenario.target_kinds import KINDS

log = logging.getLogger(__name__)

METRICS = ("at_least", "exactly", "new", "ever", "lost", "reviewed", "applied", "brought_in")
# closures and places of each title, recorded in every run; the candidates and eligible firms
# of each title only in runs asked for the funnel (`srdi diagnose`)
PLACES = ("closed", "titles_available", "rivals")
FUNNEL = ("candidates", "eligible")
QUANTILES = (0.05, 0.5, 0.95)
TARGET_COLUMNS = (
    "id", "tier", "kind", "year", "value", "probability", "mc_se", "expected", "p05", "p95",
    "stretch", "stretch_probability", "source",
)  # fmt: skip


def run_replication(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    levers_on: bool = True,
    values: dict[str, float] | None = None,
    levers_off: tuple[str, ...] = (),
    relax: frozenset[str] = frozenset(),
    funnel: bool = False,
    set_up: SetUp | None = None,
    keep_set_up: bool = False,
) -> dict[str, np.ndarray]:
    """One run of the model; arrays over (year, level) and (year, lever). `levers_off`: levers
    left off while the others act; `relax`: stages of the funnel lifted
    (`model.RELAXATIONS`); `funnel`: also count each title's candidates and eligible firms;
    `set_up`, `keep_set_up`: share the set-up between passes of one seed (`run_passes`); with
    `keep_set_up` the result also holds it, under "set_up". A scenario simulated at 1/scale
    of its size (`simulation.scale`) has its counts, places and costs multiplied back."""
    # lazy: only yearly records are read, and they are the same (GrowthModel's `lazy`)
    model = GrowthModel(
        scenario, seed=seed, levers_on=levers_on, values=values, levers_off=levers_off,
        relax=relax, funnel=funnel, lazy=True, set_up=set_up, keep_set_up=keep_set_up,
        scale=scenario.scale,
    )  # fmt: skip
    model.run_model()
    h = model.history
    metrics = METRICS + PLACES + (FUNNEL if funnel else ())
    out = {m: np.stack([getattr(r, m) for r in h]) for m in metrics}
    out["pool_size"] = np.array([r.pool_size for r in h])
    for key, t in target_kinds.measured(scenario.targets).items():
        out[key] = target_kinds.measure_series(t, np.array([r.measures[key] for r in h]))
    out["cost"] = np.array([[r.cost[name] for name in LEVER_NAMES] for r in h])
    if scenario.scale != 1:  # every record is a count of firms or titles, or a cost
        out = {name: series * scenario.scale for name, series in out.items()}
    if keep_set_up:
        out["set_up"] = model.kept_set_up
    model.discard_firms()
    return out


Pass = tuple[Any, bool, tuple[str, ...]]  # (key, levers on, levers left off)


# where `run_sharing_set_up` returns the seed's set-up when asked to keep it
KEPT_SET_UP = "kept_set_up"


def run_sharing_set_up(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    runs: Sequence[tuple[Any, dict[str, Any]]],
    share: bool = True,
    set_up: SetUp | None = None,
    keep: bool = False,
) -> dict[Any, dict[str, np.ndarray]]:
    """Runs of one seed, by key: each `(key, keyword arguments of run_replication)`, its
    result that of `run_replication` alone. With `share` (and more than one run) they share
    the seed's set-up (inputs, base-year firms, births: drawn before any lever or relaxed stage
    acts): the first keeps it, and so is not lazy, and the others start from it.

    `set_up`: the seed's set-up kept by an earlier run (of this scenario, with values that
    differ in the levers' quantities only): every run starts from it. `keep`: when no set-up
    is given, the first run keeps it and it is returned too, under `KEPT_SET_UP` (None there
    when one was given).
    """
    out: dict[Any, dict[str, np.ndarray]] = {}
    kept = None
    for i, (key, kwargs) in enumerate(runs):
        keep_here = set_up is None and i == 0 and (keep or (share and len(runs) > 1))
        out[key] = run_replication(scenario, seed, **kwargs, set_up=set_up, keep_set_up=keep_here)
        if keep_here:
            set_up = kept = out[key].pop("set_up")
    if keep:
        out[KEPT_SET_UP] = kept
    return out


def run_passes(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    passes: Sequence[Pass],
    values: dict[str, float] | None = None,
    relax: frozenset[str] = frozenset(),
    funnel: bool = False,
    set_up: SetUp | None = None,
    keep: bool = False,
) -> dict[Any, dict[str, np.ndarray]]:
    """Every pass of one replication (levers on, the counterfactual, each lever off), by key,
    sharing the replication's set-up (`run_sharing_set_up`, whose `set_up` and `keep` these
    are)."""
    common = {"values": values, "relax": relax, "funnel": funnel}
    runs = [(key, {"levers_on": on, "levers_off": off, **common}) for key, on, off in passes]
    return run_sharing_set_up(scenario, seed, runs, set_up=set_up, keep=keep)


def _run_chunk(task: dict[str, Any]) -> list[dict[Any, dict[str, np.ndarray]]]:
    """Run one chunk: every pass of consecutive replications from `task["first"]` on, each
    from its set-up in `task["set_ups"]` when there is one (None: drawn, and kept if
    `task["keep"]`)."""
    set_ups = task.get("set_ups") or [None] * len(task["seeds"])
    return [
        run_passes(
            task["scenario"],
            s,
            task["passes"],
            task["values"],
            task["relax"],
            task["funnel"],
            set_up=u,
            keep=task.get("keep", False),
        )
        for s, u in zip(task["seeds"], set_ups, strict=True)
    ]


def _per_seed(
    run_chunk: Callable[[dict[str, Any]], list],
    task: dict[str, Any],
    seeds: Sequence[np.random.SeedSequence],
    workers: int,
    scheduler: str | None,
    connect_timeout: float | None,
    progress: Callable[[int], None] | None,
    per_seed: dict[str, Sequence] | None = None,
) -> list:
    """What `run_chunk` gives for every seed, in seed order: `run_chunk` takes `task` with
    `seeds` (consecutive seeds, from the `first`-th) and returns one result per seed. In this
    process (1 worker, no scheduler), or in chunks on local processes or Dask
    (`sim.runs.executor`); `progress` is called with the seeds just finished. `per_seed`:
    task entries with one item per seed (a seed's kept set-up), sliced as the seeds are."""
    per_seed = per_seed or {}

    def part(i: int, j: int) -> dict[str, Any]:
        return {**task, "first": i, "seeds": seeds[i:j], **{k: v[i:j] for k, v in per_seed.items()}}

    scheduler = scheduler or None
    workers = max(1, workers if scheduler else min(workers, os.cpu_count() or 1))
    if workers == 1 and scheduler is None:
        out = []
        for i in range(len(seeds)):
            out += run_chunk(part(i, i + 1))
            if progress:
                progress(1)
        return out
    parts: dict[int, list] = {}
    if scheduler is None and _load_kernels_here(task["scenario"]):
        # the first seed here: the workers forked after it start with the kernels loaded
        parts[0] = run_chunk(part(0, 1))
        if progress:
            progress(1)
        if len(seeds) == 1:
            return parts[0]
    start = len(parts)
    with executor(workers, scheduler, connect_timeout) as (submit, label, n_workers):
        log.info("%d replications on %s", len(seeds) - start, label)
        chunk = max(1, math.ceil((len(seeds) - start) / (n_workers * 8)))
        tasks = [part(i, i + chunk) for i in range(start, len(seeds), chunk)]
        for done, result in submit(run_chunk, tasks):
            parts[done["first"]] = result
            if progress:
                progress(len(result))
    # in seed order, whatever order the chunks finished in
    return [one for i in sorted(parts) for one in parts[i]]


# What loading the compiled kernels costs a process that has not run a replication (numba's
# cache read and its target initialised): about 0.6 s on the machine of benchmarks/national.md.
KERNELS_LOAD_SECONDS = 0.6


def _load_kernels_here(scenario: Scenario) -> bool:
    """Whether to run an ensemble's first seed in this process before starting local workers.

    Workers are forked from this process (`sim.runs.workers.mp_context`): when it has not yet
    run a replication, each would load the compiled kernels itself, and a verb that starts a
    pool per ensemble (`srdi plan`, one per mix evaluated) would pay that at every evaluation.
    Run here first, the kernels are loaded once and every worker forked later has them. Only
    when a replication is expected to cost less than the loading it saves (a city, not the
    country), and only where workers fork (spawned ones start empty)."""
    from sim.engine.kernels import grow_and_invest
    from sim.runs.workers import mp_context

    if grow_and_invest.signatures or mp_context().get_start_method() != "fork":
        return False
    return estimate_seconds(scenario, 1, counterfactual=False) <= KERNELS_LOAD_SECONDS


def _check_stages(relax: Collection[str]) -> frozenset[str]:
    """The stages to relax, refused before any worker starts when one is unknown."""
    relax = frozenset(relax)
    if relax - RELAXATIONS.keys():
        raise ValueError(
            f"relax: unknown stages {sorted(relax - RELAXATIONS.keys())}; "
            f"known: {list(RELAXATIONS)}"
        )
    return relax


def _run_variants_chunk(task: dict[str, Any]) -> list[dict[Any, dict[str, np.ndarray]]]:
    """Run one chunk of `run_variants`: every variant of consecutive replications, a seed's
    variants sharing its set-up."""
    runs = [(key, {"relax": relax, "funnel": funnel})
            for key, (relax, funnel) in task["variants"].items()]  # fmt: skip
    return [run_sharing_set_up(task["scenario"], s, runs) for s in task["seeds"]]


def run_variants(
    scenario: Scenario,
    runs: int,
    seed: int | None,
    variants: dict[Any, tuple[Sequence[str], bool]],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[Any, EnsembleResult]:
    """Ensembles of a scenario, levers on, that differ only in the stages of the funnel they
    relax and whether they count the funnel (`srdi diagnose`): `variants` maps a key to
    (relax, funnel). Every variant runs the same seeds, seed by seed, and a seed's variants
    share its set-up (drawn before any stage acts), so each result is that of
    `run_ensemble(scenario, runs, seed, counterfactual=False, relax=relax, funnel=funnel)`
    with the set-up drawn once per seed instead of once per variant. `progress` is called with
    the runs just finished, all variants together.
    """
    import time

    start = time.perf_counter()
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for relax, _ in variants.values():
        _check_stages(relax)
    seeds = np.random.SeedSequence(seed).spawn(runs)
    task = {
        "scenario": scenario,
        "variants": {key: (frozenset(relax), funnel) for key, (relax, funnel) in variants.items()},
    }
    n = len(variants)
    done = (lambda k: progress(k * n)) if progress else None
    every = _per_seed(_run_variants_chunk, task, seeds, workers, None, None, done)
    period = scenario.period
    return {
        key: EnsembleResult(
            scenario=scenario,
            seed=seed,
            years=[period.base_year, *period.years],
            tiers=scenario.tier_ids,
            runs=_stack([replication[key] for replication in every]),
            counterfactual=None,
            values={},
            lever_off=None,
            elapsed_seconds=time.perf_counter() - start,
        )
        for key in variants
    }


@dataclass
class EnsembleResult:
    """Every replication's yearly outcomes, with and without the levers.

    `values`: the quantities fixed by the caller (`values=` of `run_ensemble`, `--set`).
    `lever_off`: per lever of the scenario, the replications with that lever alone off (same
    seeds); None when not run (`by_lever=False`).
    """

    scenario: Scenario
    seed: int | None
    years: list[int]
    tiers: list[str]
    runs: dict[str, np.ndarray]
    counterfactual: dict[str, np.ndarray] | None = None
    values: dict[str, float] = field(default_factory=dict)
    lever_off: dict[str, dict[str, np.ndarray]] | None = None
    elapsed_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return self.runs["at_least"].shape[0]

    def _year_index(self, year: int) -> int:
        return self.years.index(year)

    def _level(self, tier: str) -> int:
        return self.tiers.index(tier) + 1

    def outcome(self, target, runs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Per replication, the value a target is judged on."""
        runs = self.runs if runs is None else runs
        kind = KINDS[target.kind]
        level = self._level(target.tier) if kind.per_tier else 0
        return kind.outcome(runs, target, self._year_index(target.year), level)

    def notes(self) -> list[str]:
        """What the output should say about its inputs: no targets or levers, baseline counts
        converted or made by default (`Scenario.notes_for_forecast`), and how titles are
        granted where the place's context lacks data (`competition.notes`)."""
        sc = self.scenario
        comp = competition.build(
            sc.place.level,
            sc.province,
            self.tiers,
            self.years[1:],
            competition.ALL_PUBLISHED,
            np.random.default_rng(0),  # the notes do not depend on the draws
            central(sc.specs()),
        )
        return sc.notes_for_forecast() + list(dict.fromkeys(comp.notes))

    def targets(self) -> pd.DataFrame:
        """Probability of reaching each target, with its Monte Carlo standard error (a table
        with no rows, and the same columns, for a scenario without targets)."""
        rows = []
        for t in self.scenario.targets:
            x = self.outcome(t)
            p, se = summary.reach(x, t.value)
            p05, _, p95 = summary.band(x)
            row = {
                "id": t.id,
                "tier": t.tier,
                "kind": t.kind,
                "year": t.year,
                "value": t.value,
                "probability": p,
                "mc_se": se,
                "expected": float(np.mean(x)),
                "p05": p05,
                "p95": p95,
                "stretch": t.stretch,
                "stretch_probability": (
                    summary.probability(x, t.stretch) if t.stretch is not None else None
                ),
                "source": t.source,
            }
            if self.counterfactual is not None:
                row["probability_without_levers"] = summary.probability(
                    self.outcome(t, self.counterfactual), t.value
                )
            rows.append(row)
        columns = list(TARGET_COLUMNS)
        if self.counterfactual is not None:
            columns.append("probability_without_levers")
        return pd.DataFrame(rows, columns=columns)

    def counts(self) -> pd.DataFrame:
        """Per tier, metric and year: mean and 5/50/95 % quantiles over replications."""
        rows = []
        for metric in ("at_least", "exactly", "new", "ever"):
            arr = self.runs[metric]
            q = np.quantile(arr, QUANTILES, axis=0)
            mean = arr.mean(axis=0)
            for k, tier in enumerate(self.tiers, start=1):
                for y, year in enumerate(self.years):
                    rows.append(
                        {
                            "tier": tier,
                            "metric": metric,
                            "year": year,
                            "mean": float(mean[y, k]),
                            "p05": float(q[0, y, k]),
                            "p50": float(q[1, y, k]),
                            "p95": float(q[2, y, k]),
                        }
                    )
        return pd.DataFrame(rows)

    def cost(self) -> pd.DataFrame:
        """Money per lever and year (yuan): mean and 5/95 % quantiles over replications."""
        rows = []
        c = self.runs["cost"]
        for j, lever in enumerate(LEVER_NAMES):
            if not c[:, :, j].any():
                continue
            for y, year in enumerate(self.years[1:], start=1):
                x = c[:, y, j]
                rows.append(
                    {
                        "lever": lever,
                        "year": year,
                        "mean_yuan": float(x.mean()),
                        "p05_yuan": float(np.quantile(x, 0.05)),
                        "p95_yuan": float(np.quantile(x, 0.95)),
                    }
                )
        return pd.DataFrame(rows, columns=["lever", "year", "mean_yuan", "p05_yuan", "p95_yuan"])

    def total_cost(self) -> np.ndarray:
        """Per replication, the money spent over the whole period (yuan)."""
        return self.runs["cost"].sum(axis=(1, 2))

    def attributable(self) -> pd.DataFrame:
        """Firms holding at least each title (`at_least`), or that reached it after the base
        year (`ever`), at the end because of the levers (vs. every lever off, same seeds).

        `whole_programme_cost_per_extra_firm_yuan` divides the whole programme's mean cost (every
        lever) by the tier's extra firms: the same money is divided by each tier's firms, so it
        is no price of a firm of that tier; `lever_attribution` gives each lever's own."""
        if self.counterfactual is None:
            return pd.DataFrame()
        rows = []
        total = self.total_cost()
        end = len(self.years) - 1
        for k, tier in enumerate(self.tiers, start=1):
            for metric in ("at_least", "ever"):
                d = self.runs[metric][:, end, k] - self.counterfactual[metric][:, end, k]
                mean, p05, p95, se = summary.difference(d)
                rows.append(
                    {
                        "tier": tier,
                        "metric": metric,
                        "year": self.years[end],
                        "mean": mean,
                        "p05": p05,
                        "p95": p95,
                        "mc_se": se,
                        "whole_programme_cost_per_extra_firm_yuan": float(total.mean() / mean)
                        if mean > 0
                        else None,
                    }
                )
        return pd.DataFrame(rows)

    def lever_attribution(self) -> pd.DataFrame:
        """Per lever of the scenario: what it costs and the firms it brings, each lever switched
        off alone on the same seeds (common random numbers).

        Columns: `lever`, `tier`, `metric` (`at_least`, `ever`, as in `attributable`), `year`
        (the last), `extra_firms` (mean over replications of levers on minus this lever off),
        `p05`, `p95`, `mc_se` (of the mean difference), `lever_cost_yuan` (the lever's own
        mean spending over the period, levers on), `marginal_cost_yuan` (mean total cost with
        the levers on minus with this lever off: its own money plus what other levers spend
        more, or less, because of it), `cost_per_extra_firm_yuan` (lever_cost / extra_firms,
        empty when it brings none). Levers interact (titles are rationed, awards and stewards
        act on the same applications), so the levers' extra firms need not add up to the
        whole programme's. An empty table when not run (`by_lever`)."""
        columns = [
            "lever", "tier", "metric", "year", "extra_firms", "p05", "p95", "mc_se",
            "lever_cost_yuan", "marginal_cost_yuan", "cost_per_extra_firm_yuan",
        ]  # fmt: skip
        if not self.lever_off:
            return pd.DataFrame(columns=columns)
        rows = []
        end = len(self.years) - 1
        total = self.total_cost()
        for lever, off in self.lever_off.items():
            own = float(self.runs["cost"][:, :, LEVER_NAMES.index(lever)].sum(axis=1).mean())
            marginal = float((total - off["cost"].sum(axis=(1, 2))).mean())
            for k, tier in enumerate(self.tiers, start=1):
                for metric in ("at_least", "ever"):
                    d = self.runs[metric][:, end, k] - off[metric][:, end, k]
                    mean, p05, p95, se = summary.difference(d)
                    rows.append(
                        {
                            "lever": lever,
                            "tier": tier,
                            "metric": metric,
                            "year": self.years[end],
                            "extra_firms": mean,
                            "p05": p05,
                            "p95": p95,
                            "mc_se": se,
                            "lever_cost_yuan": own,
                            "marginal_cost_yuan": marginal,
                            "cost_per_extra_firm_yuan": own / mean if mean > 0 else None,
                        }
                    )
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """Everything a planner needs, as plain JSON-ready values."""
        t = self.targets()
        tot = self.total_cost()
        doc = self.scenario.document
        return {
            "scenario": self.scenario.place.id,
            "place": self.scenario.place.name,
            "document": (doc.number or doc.title) if doc is not None else None,
            "runs": self.n_runs,
            "seed": self.seed,
            "years": self.years,
            "targets": _records(t),
            "counts": _records(self.counts()),
            "cost": {
                "total_yuan": {
                    "mean": float(tot.mean()),
                    "p05": float(np.quantile(tot, 0.05)),
                    "p95": float(np.quantile(tot, 0.95)),
                },
                "by_lever": _records(self.cost()),
            },
            "attributable": _records(self.attributable()),
            "lever_attribution": (
                _records(self.lever_attribution()) if self.lever_off is not None else None
            ),
            "set": dict(self.values),
            "has_targets": bool(self.scenario.targets),
            "has_levers": self.scenario.has_levers,
            "scale": self.scenario.scale,
            "notes": self.notes(),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            **self.meta,
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else _plain(v))
                for k, v in rec.items()
            }
        )
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _stack(results: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([r[k] for r in results]) for k in results[0]}


# What a replication costs, for `estimate_seconds`: CPU per firm-year of the national forecast
# (benchmarks/national.md as recorded in commit c3a7eb8 on an AMD EPYC machine: 143 ns) and
# the fixed cost of one small replication (Hebi: about 8 ms of CPU each on the same machine,
# idle). An estimate to warn users, good to about 2x on such a machine; the Intel Xeon machine
# of the current record is two to three times slower.
SECONDS_PER_FIRM_YEAR = 143e-9
SECONDS_PER_REPLICATION = 0.008


def runs_counterfactual(scenario: Scenario, counterfactual: bool = True) -> bool:
    """Whether a counterfactual pass is run: asked for, and the scenario has levers to turn off
    (without levers the counterfactual is the forecast itself, not run twice)."""
    return counterfactual and scenario.has_levers


def estimate_seconds(
    scenario: Scenario,
    runs: int,
    counterfactual: bool = True,
    workers: int = 1,
    by_lever: bool = False,
) -> float:
    """Roughly how long `run_ensemble` will take: `expected_firms` over the period, at the
    benchmarked cost per firm-year; `by_lever` adds one pass per lever of the scenario."""
    years = len(scenario.period.years)
    passes = 2 if runs_counterfactual(scenario, counterfactual) else 1
    if by_lever:
        passes += len(levers_of(scenario))
    per_run = SECONDS_PER_REPLICATION + expected_firms(scenario) * years * SECONDS_PER_FIRM_YEAR
    return passes * runs * per_run / max(1, min(workers, os.cpu_count() or 1))


def expected_firms(scenario: Scenario) -> float:
    """Roughly how many firms a replication holds, at the central values: the candidates and
    the titled firms of the base year, plus the candidates born and the firms brought in over
    the period, at the scenario's `simulation.scale`."""
    p = central(scenario.specs())
    years = len(scenario.period.years)
    counts = [v for k, v in p.items() if k.startswith("baseline.counts.")]
    firms = (
        p["baseline.candidates"]
        + max(counts, default=0.0)
        + (p["baseline.candidate_inflow_per_year"] + p.get("levers.bring_in.firms_per_year", 0.0))
        * years
    )
    return firms / scenario.scale


# The most memory the set-ups kept for ensembles that share them may take (`set_up_store`).
SET_UP_BYTES = 1 << 30


def set_up_store(
    scenario: Scenario, runs: int, varied: Iterable[str] = ()
) -> dict[int, SetUp] | None:
    """An empty store for `runs` replications' set-ups (`run_ensemble`'s `set_ups`) shared by
    ensembles that differ in the values of the quantities `varied`, or None when they cannot
    share them (a quantity varied is not a lever's: the set-up depends on it) or should not
    (they would take more than `SET_UP_BYTES`: for `runs` = 150, Hebi's take about 15 MB,
    881 firms of 105 bytes each; the country's hundreds of MB each)."""
    from sim.engine.firms import bytes_per_firm

    if not all(path.startswith(LEVER_QUANTITIES) for path in varied):
        return None
    if expected_firms(scenario) * bytes_per_firm() * runs > SET_UP_BYTES:
        return None
    return {}


def levers_of(scenario: Scenario) -> list[str]:
    """The levers a scenario sets, in `LEVER_NAMES` order."""
    return [name for name in LEVER_NAMES if getattr(scenario.levers, name) is not None]


def run_ensemble(
    scenario: Scenario,
    runs: int = 1000,
    seed: int | None = 0,
    counterfactual: bool = True,
    workers: int = 1,
    values: dict[str, float] | None = None,
    progress: Callable[[int], None] | None = None,
    by_lever: bool = False,
    relax: frozenset[str] | set[str] = frozenset(),
    funnel: bool = False,
    scheduler: str | None = None,
    connect_timeout: float | None = None,
    set_ups: dict[int, SetUp] | None = None,
) -> EnsembleResult:
    """Run `runs` replications (and their counterfactuals) of a scenario.

    Args:
        scenario: the validated scenario.
        runs: number of replications.
        seed: root seed; replication r uses child r of `SeedSequence(seed).spawn(runs)`.
        counterfactual: also run every replication with the levers off (for a scenario without
            levers, the forecast itself: not run twice).
        workers: worker processes (1 = in this process), or the workers of the Dask
            LocalCluster with ``scheduler="local"``; not used with a scheduler's address.
            Results do not depend on it.
        values: fixed values for drawn quantities, by dotted path.
        progress: called with the number of replications just finished.
        by_lever: also run every replication once per lever with that lever alone off (one
            more pass per lever), for `EnsembleResult.lever_attribution`.
        relax: stages of the funnel lifted in every run, the counterfactual's too
            (`sim.engine.model.RELAXATIONS`; `srdi diagnose`). Same seeds: a relaxation's effect is
            its own, not the draws'.
        funnel: also record each title's candidates and eligible firms per year (`runs`
            keys "candidates" and "eligible"; slower: every candidate's criteria are read).
        scheduler: None (this process or local processes), ``"local"`` (a Dask LocalCluster
            of `workers` workers) or a Dask scheduler's address (``tcp://host:8786``); every
            pass is sent in chunks and gathered in replication order (`sim.runs.executor`).
        connect_timeout: seconds to wait for a Dask scheduler (default
            `sim.runs.executor.CONNECT_TIMEOUT`).
        set_ups: set-ups by replication index, kept by ensembles of this scenario and `seed`
            whose `values` differ from these in the levers' quantities only (`srdi plan`'s
            mixes): a replication found there starts from its set-up (same results, drawn
            once), one not found keeps its set-up there. The caller owns the dict and its
            memory (`set_up_store` makes one when the set-ups fit).

    Raises:
        SchedulerUnreachable: no scheduler answered at `scheduler` (nothing was run).
    """
    import time

    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    start = time.perf_counter()
    seeds = np.random.SeedSequence(seed).spawn(runs)
    # each pass: (key, levers on, levers left off); without levers the counterfactual is the
    # forecast itself (same seeds, nothing to turn off)
    passes: list[Pass] = [(True, True, ())]
    if runs_counterfactual(scenario, counterfactual):
        passes.append((False, False, ()))
    if by_lever:
        passes += [(name, True, (name,)) for name in levers_of(scenario)]
    if values:
        check_values(scenario, values)  # refused here, before any worker starts
    relax = _check_stages(relax)
    results: dict[Any, list] = {key: [] for key, _, _ in passes}
    task = {"scenario": scenario, "passes": passes, "values": values, "relax": relax,
            "funnel": funnel, "keep": set_ups is not None}  # fmt: skip
    per_seed = None if set_ups is None else {"set_ups": [set_ups.get(i) for i in range(runs)]}
    every = _per_seed(
        _run_chunk, task, seeds, workers, scheduler, connect_timeout, progress, per_seed
    )
    for i, replication in enumerate(every):
        if set_ups is not None and (kept := replication.pop(KEPT_SET_UP)) is not None:
            set_ups[i] = kept
        for key, one in replication.items():
            results[key].append(one)
    period = scenario.period
    with_levers = _stack(results[True])
    without = None
    if counterfactual:
        without = _stack(results[False]) if False in results else with_levers
    return EnsembleResult(
        scenario=scenario,
        seed=seed,
        years=[period.base_year, *period.years],
        tiers=scenario.tier_ids,
        runs=with_levers,
        counterfactual=without,
        values=dict(values or {}),
        lever_off={name: _stack(results[name]) for name in levers_of(scenario)}
        if by_lever
        else None,
        elapsed_seconds=time.perf_counter() - start,
    )
