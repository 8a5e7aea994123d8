"""A sweep's folder: chunk files, the assembled Parquet tables, the manifest, and the identity
check that lets a rerun resume without mixing two sweeps.

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
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import SrdiError
from sim.runs.sweep.design import SweepPlan
from sim.views.output import write_atomic, write_text_atomic

TABLE = "sweep.parquet"
REPLICATIONS = "replications.parquet"
DRAWS = "draws.parquet"
MANIFEST = "manifest.json"
CHUNKS = "chunks"
_CHUNK_RE = re.compile(r"^(\d+)-(\d+)\.parquet$")


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
    """The chunk file of experiments `exps` (first and last in the name, for `_done`)."""
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
    """Write the manifest whole (sim/views/output.py)."""
    write_text_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def _differences(old: Mapping, new: Mapping, prefix: str = "") -> list[str]:
    """One line per field where two identities differ, saying what each difference means."""
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


def _check_resumable(out_dir: Path, identity: dict[str, Any]) -> None:
    """Refuse a folder that holds another sweep's results (`ResumeRefused`): its manifest's
    identity differs, it cannot be read, or chunk files lie there without a manifest."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ResumeRefused(str(out_dir), ["it exists and is not a folder"])
    mpath = out_dir / MANIFEST
    chunk_dir = out_dir / CHUNKS
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


def _read_chunks(
    chunk_dir: Path, n_experiments: int, replications: bool
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Every finished chunk's rows and, if asked, its per-replication rows."""
    files = sorted({f for f in _done(chunk_dir, n_experiments, replications).values()})
    parts = [pd.read_parquet(f) for f in files]
    rep_parts = [pd.read_parquet(_reps_path(f)) for f in files] if replications else []
    return parts, rep_parts


def _assemble(p: SweepPlan, parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The sweep table from chunk rows: each experiment once, in experiment and target order,
    with the design's columns (policy, future, varied values) in front."""
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
    """The per-replication table from chunk rows, in experiment, target, replication order."""
    rows = pd.concat(parts, ignore_index=True)
    order = {t.id: i for i, t in enumerate(p.scenario.targets)}
    rows = rows.drop_duplicates(["experiment", "target", "replication"], keep="first")
    rows = rows.assign(_t=rows["target"].map(order)).sort_values(
        ["experiment", "_t", "replication"], kind="stable"
    )
    return rows.drop(columns="_t").reset_index(drop=True)


def _manifest(
    p: SweepPlan,
    identity: dict,
    status: str,
    executor: str,
    elapsed: float | None,
    resumed: int,
) -> dict[str, Any]:
    """The manifest: the identity `_check_resumable` compares, what was swept, the tables,
    and the last run's status, executor and time."""
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


def read(out: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A finished sweep's table and manifest."""
    out = Path(out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return pd.read_parquet(out / TABLE), manifest
