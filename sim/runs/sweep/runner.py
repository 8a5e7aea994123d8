"""Running a sweep: each chunk of experiments (`run_chunk`) on the one executor, the finished
chunks stored as they arrive, and the tables assembled at the end (`run`, `sweep`).

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

Executors
    ``workers=1``: in this process. ``workers=W``: W local processes (`concurrent.futures`,
    fork where the platform has it; on Linux they die with the sweep process, so a killed sweep
    leaves nothing computing). ``scheduler="tcp://host:8786"``: an existing Dask cluster
    (its workers need this package installed); ``scheduler="local"``: a `distributed.LocalCluster`
    of W single-threaded worker processes. Chunks default to half an even share per worker (at
    most one future's policies), so workers stay busy to the end while few counterfactuals are
    recomputed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.runs.executor import executor
from sim.runs.sweep.design import SweepPlan
from sim.runs.sweep.spec import plan
from sim.runs.sweep.store import (
    CHUNKS,
    DRAWS,
    MANIFEST,
    REPLICATIONS,
    TABLE,
    _assemble,
    _assemble_replications,
    _check_resumable,
    _chunk_name,
    _chunks,
    _done,
    _manifest,
    _read_chunks,
    _reps_path,
    _write_json,
    _write_parquet,
)
from sim.scenario import Scenario

log = logging.getLogger(__name__)


def _float(x: Any) -> float:
    """A float column's value: NaN for an absent number."""
    return float("nan") if x is None else float(x)


COUNTERFACTUAL = "counterfactual"  # the key of a chunk's runs with every lever off


def run_chunk(task: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run one chunk: the experiments of one future, sharing that future's counterfactual.

    `task` holds ``scenario``, ``seed``, ``runs``, ``future_values`` (uncertainty path -> value),
    ``experiments`` (a list of (experiment id, lever values)) and ``replications`` (bool).
    Returns the summary rows and, if asked, the per-replication rows.
    """
    from sim.levers import LEVER_NAMES
    from sim.runs import summary
    from sim.runs.ensemble import EnsembleResult, levers_of, run_sharing_set_up

    sc: Scenario = task["scenario"]
    seeds = np.random.SeedSequence(task["seed"]).spawn(task["runs"])
    fvals = task["future_values"]

    # seed by seed: a seed's experiments and its counterfactual share its set-up (drawn
    # before any lever acts, so whatever the levers' values: GrowthModel's `set_up`), each
    # run the same as drawn alone; without levers every run may go lazy instead, which a
    # national-size place gains more from
    passes = [(e, {"values": {**fvals, **lvals} or None}) for e, lvals in task["experiments"]]
    passes.append((COUNTERFACTUAL, {"levers_on": False, "values": fvals or None}))
    runs: dict[Any, list[dict[str, np.ndarray]]] = {key: [] for key, _ in passes}
    for s in seeds:
        for key, one in run_sharing_set_up(sc, s, passes, share=sc.has_levers).items():
            runs[key].append(one)

    def ensemble(key: Any) -> dict[str, np.ndarray]:
        reps = runs.pop(key)
        return {k: np.stack([r[k] for r in reps]) for k in reps[0]}

    off = ensemble(COUNTERFACTUAL)
    years = [sc.period.base_year, *sc.period.years]
    present = levers_of(sc)
    rows: list[dict[str, Any]] = []
    reps: list[pd.DataFrame] = []
    for e, _ in task["experiments"]:
        on = ensemble(e)
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
        _check_resumable(out_dir, identity)
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
        parts, rep_parts = _read_chunks(chunk_dir, n_exp, replications)
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


def replication_draws(the_plan: SweepPlan) -> pd.DataFrame:
    """Each replication's uncertain inputs that the design does not vary (``draws.parquet``,
    described in `store`): drawn quantities by path, then ``quota.<tier>.<year>``."""
    from sim.engine.inputs import draw_inputs

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
    """Plan and run a sweep; one row per experiment and target (the columns: `store`).

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
