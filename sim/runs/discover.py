"""Scenario discovery: the ranges of inputs in which a target is missed (PRIM).

A sweep (`sim.runs.sweep`) answers "how do the odds move over this design?"; discovery asks the
reverse: "in which region of the inputs does the plan fail?", the question of scenario
discovery (Bryant & Lempert 2010), answered with PRIM, the Patient Rule Induction Method
(Friedman & Fisher 1999), as implemented by the EMA Workbench (`ema_workbench.analysis.prim`).

Cases
    ``replication`` (the default when the sweep wrote ``--replications``): one case per
    experiment and replication; its inputs are the experiment's varied values (levers and
    uncertainties, from ``sweep.parquet``) and the replication's own draws of every other
    uncertain quantity and of the places per rationed title (``draws.parquet``); the target is
    missed when the outcome falls short of the goal (``reached`` false). ``experiment``: one
    case per experiment, its inputs the varied values; the target is missed when its
    probability of being reached is below ``threshold`` (default 0.5: more likely missed than
    reached). Inputs with one value over all cases are left out (nothing to restrict).

Boxes
    PRIM peels a box, from the whole input space, by the slice (``peel_alpha`` = 5 % of the
    cases in the box, along one input's low or high end) whose removal raises the share of
    missed cases in the box most, until the box holds less than ``mass_min`` (5 %) of the cases;
    then pastes back slices that raise it further. Every box on that trajectory has a
    *coverage* (the share of all missed cases that it holds), a *density* (the share of its
    cases that miss) and a *mass* (the share of all cases in it). The box reported is the one
    on the trajectory closest to a perfect box (coverage 1, density 1), or with ``min_density``
    the one of highest coverage among those at least that dense. Each limit has a quasi-p value
    ``qp`` (Bryant & Lempert 2010; the workbench's binomial test): the chance of a density gain
    at least as large from the limit if the input did not matter, one per side (low, high).
    A side with qp above 0.05 (`QP_MAX`) may be noise and is freed from the chosen box (one
    step added at the end of its trajectory, again until none is); an input whose both sides
    are freed drops out. The search then starts again on the cases outside the chosen boxes, up to
    ``max_boxes``; it stops when a box would restrict no input or be no denser than the design
    as a whole (the share of all cases that miss). A box's limits name only the inputs it
    restricts, inclusive ``[low, high]`` in the inputs' units (yuan, shares, firms).

    With replication cases, the quantities drawn per replication take one value per
    replication (the same in every experiment: common random numbers), so their limits rest on
    ``runs`` distinct values, and their qp values, which count every case, overstate how sure
    they are: sweep with enough runs.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import SrdiError

UNITS = ("auto", "replication", "experiment")
DEFAULT_THRESHOLD = 0.5
MAX_BOXES = 3
PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
QP_MAX = 0.05  # a side of a limit with a larger quasi-p value is freed (may be noise)


class DiscoverError(SrdiError):
    """Input that discovery cannot use: no finished sweep, an unknown target, a bad option.

    Attributes:
        option: the option or argument at fault (``SWEEP_DIR``, ``--target``, ...).
        expected: what was expected.
        found: what was found.
    """

    def __init__(self, option: str, expected: str, found: str, fix: str | None = None) -> None:
        self.option, self.expected, self.found = option, expected, found
        super().__init__(
            f"{option}: expected {expected}, found {found}." + (f" {fix}" if fix else "")
        )


@dataclass
class Box:
    """A box of inputs in which the target is mostly missed, and the trajectory it came from."""

    limits: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    cases: int  # cases in the box
    missed: int  # of which missed
    trajectory: pd.DataFrame  # step, coverage, density, mass, restricted
    chosen: int  # the step of the trajectory reported
    qp: dict[str, float] = field(default_factory=dict)  # quasi-p value of each limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "limits": {k: [lo, hi] for k, (lo, hi) in self.limits.items()},
            "coverage": self.coverage,
            "density": self.density,
            "mass": self.mass,
            "qp": self.qp,
            "cases": self.cases,
            "missed": self.missed,
            "chosen_step": self.chosen,
            "trajectory": self.trajectory.to_dict(orient="records"),
        }


@dataclass
class Discovery:
    """The boxes in which one target of a sweep is missed."""

    sweep: str
    target: str
    goal: dict[str, Any]  # tier, kind, year, value of the target
    threshold: float
    unit: str  # "replication" | "experiment"
    cases: int
    missed: int
    ranges: dict[str, tuple[float, float]]  # every input used, its range over the cases
    boxes: list[Box] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: target, threshold, cases, boxes (limits, coverage, density, mass), ..."""
        return _plain(
            {
                "sweep": self.sweep,
                "target": self.target,
                "goal": self.goal,
                "threshold": self.threshold,
                "unit": self.unit,
                "cases": self.cases,
                "missed": self.missed,
                "inputs": {k: [lo, hi] for k, (lo, hi) in self.ranges.items()},
                "boxes": [b.to_dict() for b in self.boxes],
                "notes": self.notes,
            }
        )

    def table(self) -> pd.DataFrame:
        """One row per box and restricted input: its limits, the input's range, the box's
        coverage, density and mass (what ``discover.csv`` holds)."""
        rows = []
        for k, b in enumerate(self.boxes, start=1):
            for name, (lo, hi) in b.limits.items():
                rows.append(
                    {
                        "box": k,
                        "input": name,
                        "low": lo,
                        "high": hi,
                        "input_min": self.ranges[name][0],
                        "input_max": self.ranges[name][1],
                        "coverage": b.coverage,
                        "density": b.density,
                        "mass": b.mass,
                        "qp": b.qp.get(name, math.nan),
                        "cases": b.cases,
                        "missed": b.missed,
                    }
                )
        columns = ["box", "input", "low", "high", "input_min", "input_max", "coverage",
                   "density", "mass", "qp", "cases", "missed"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def trajectories(self) -> pd.DataFrame:
        """Every box's peeling and pasting trajectory, with the step chosen marked."""
        parts = []
        for k, b in enumerate(self.boxes, start=1):
            t = b.trajectory.copy()
            t.insert(0, "box", k)
            t["chosen"] = t["step"] == b.chosen
            parts.append(t)
        columns = ["box", "step", "coverage", "density", "mass", "restricted", "chosen"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _plain(x: Any) -> Any:
    """Numbers as JSON numbers (numpy scalars unwrapped, NaN as null)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# --- the cases ---------------------------------------------------------------------------------


def read_cases(
    folder: str | Path,
    target: str,
    threshold: float = DEFAULT_THRESHOLD,
    unit: str = "auto",
) -> tuple[pd.DataFrame, np.ndarray, str, dict[str, Any], list[str]]:
    """The cases of one target of a finished sweep.

    Returns (inputs: one row per case and one column per input with more than one value,
    missed: a boolean per case, the unit of a case, the target's goal, notes).

    Raises:
        DiscoverError: no finished sweep in `folder`, an unknown target, a threshold outside
            (0, 1], replication cases asked of a sweep that did not write them.
    """
    from sim.runs.sweep import DRAWS, MANIFEST, REPLICATIONS, TABLE

    folder = Path(folder)
    if not folder.is_dir() or not (folder / TABLE).is_file() or not (folder / MANIFEST).is_file():
        what = "a file" if folder.is_file() else "no such folder" if not folder.exists() else None
        raise DiscoverError(
            "SWEEP_DIR",
            f"the folder of a finished sweep (with {TABLE} and {MANIFEST})",
            f"'{folder}'" + (f", {what}" if what else f" without {TABLE} or {MANIFEST}"),
            "Run `srdi sweep ... --replications --out DIR` first (an interrupted sweep resumes).",
        )
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        table = pd.read_parquet(folder / TABLE)
    except (OSError, ValueError) as e:
        raise DiscoverError(
            "SWEEP_DIR", "a readable sweep", f"'{folder}', which cannot be read ({e})"
        ) from None
    if manifest.get("status") != "complete":
        raise DiscoverError(
            "SWEEP_DIR",
            "a finished sweep",
            f"'{folder}', whose manifest says '{manifest.get('status')}'",
            "Run the same `srdi sweep` command again to finish it.",
        )
    targets = list(manifest.get("targets") or dict.fromkeys(table["target"]))
    if target not in targets:
        import difflib

        near = difflib.get_close_matches(target, targets, n=1)
        raise DiscoverError(
            "--target",
            "one of the sweep's targets (" + ", ".join(targets) + ")",
            f"'{target}'",
            f"Did you mean '{near[0]}'?" if near else None,
        )
    if not (isinstance(threshold, int | float) and 0 < threshold <= 1):
        raise DiscoverError("--threshold", "a probability in (0, 1] (e.g. 0.5)", repr(threshold))
    if unit not in UNITS:
        raise DiscoverError("--cases", "one of " + ", ".join(UNITS), repr(unit))
    has_reps = (folder / REPLICATIONS).is_file()
    if unit == "auto":
        unit = "replication" if has_reps else "experiment"
    if unit == "replication" and not has_reps:
        raise DiscoverError(
            "--cases",
            f"a sweep with per-replication rows ({REPLICATIONS}) for --cases replication",
            f"'{folder}' without them",
            "Run the sweep with --replications into a new folder, or use --cases experiment.",
        )
    paths = list(manifest.get("levers", [])) + list(manifest.get("uncertainties", []))
    rows = table[table["target"] == target].reset_index(drop=True)
    first = rows.iloc[0]
    goal = {k: _plain(first[k]) for k in ("tier", "kind", "year", "value")}
    notes: list[str] = []
    if unit == "experiment":
        x = rows[paths].astype(float)
        missed = rows["probability"].to_numpy() < threshold
        notes.append(f"one case per experiment ({len(rows)}); missed when P(reach) < {threshold:g}")
    else:
        reps = pd.read_parquet(folder / REPLICATIONS)
        reps = reps[reps["target"] == target]
        cases = reps[["experiment", "replication", "reached"]].merge(
            rows[["experiment", *paths]], on="experiment", how="left", validate="many_to_one"
        )
        notes.append(
            f"one case per experiment and replication ({len(cases)}); missed when the outcome "
            f"is below the goal ({goal['value']:g}); --threshold is not used"
        )
        if (folder / DRAWS).is_file():
            draws = pd.read_parquet(folder / DRAWS)
            draws = draws.drop(columns=[c for c in draws.columns if c in paths])
            cases = cases.merge(draws, on="replication", how="left", validate="many_to_one")
            notes.append(
                f"each replication's draws of {draws.shape[1] - 1} uncertain quantities are "
                f"inputs too; they take {len(draws)} values each (one per replication, the same "
                "in every experiment), so limits on them rest on that many replications, and "
                "their qp values, which count every case, overstate how sure they are"
            )
        else:
            notes.append(
                f"{DRAWS} is missing (a sweep written before it was added): the inputs are the "
                "varied values only, not each replication's draws of the other uncertainties"
            )
        inputs = [c for c in cases.columns if c not in ("experiment", "replication", "reached")]
        x = cases[inputs].astype(float)
        missed = ~cases["reached"].to_numpy(dtype=bool)
    constant = [c for c in x.columns if x[c].nunique(dropna=False) <= 1]
    x = x.drop(columns=constant).reset_index(drop=True)
    return x, missed, unit, goal, notes


# --- PRIM --------------------------------------------------------------------------------------


def _prim_module():
    """ema_workbench's PRIM, imported quietly (the workbench warns about optional parts, such
    as ipyparallel, that PRIM does not use)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ModuleNotFoundError as e:  # pragma: no cover - a dependency of the package
        raise SrdiError(
            f"`srdi discover` needs {e.name} (the EMA Workbench's PRIM): "
            "pip install 'srdi-sim[discover]'"
        ) from None
    for name in ("EMA", "EMA.ema_workbench", "EMA.ema_workbench.analysis.prim"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return prim


def _trajectory(box) -> pd.DataFrame:
    """A workbench box's peeling, pasting (and dropping) trajectory."""
    t = box.peeling_trajectory.reset_index(drop=True)
    return pd.DataFrame(
        {
            "step": np.arange(len(t), dtype=np.int64),
            "coverage": t["coverage"].astype(float),
            "density": t["density"].astype(float),
            "mass": t["mass"].astype(float),
            "restricted": t["res_dim"].astype(np.int64),
        }
    )


def _limits(box, k: int, lows: pd.Series, highs: pd.Series):
    """Step k's limits on the inputs it restricts, and each one's quasi-p value (the larger of
    its restricted sides' values; the workbench marks a free side -1)."""
    lim = box.box_lims[k]
    limits = {
        c: (float(lim.loc[0, c]), float(lim.loc[1, c]))
        for c in lim.columns
        if lim.loc[0, c] > lows[c] or lim.loc[1, c] < highs[c]
    }
    qp = {}
    for c in limits:
        sides = [float(v) for v in box.qp[k].get(c, []) if v >= 0]
        qp[c] = max(sides) if sides else math.nan
    return limits, qp


def _drop_noise(search, box, k: int, x: pd.DataFrame) -> bool:
    """Free each side of step k's limits whose quasi-p value is above `QP_MAX` (it may be
    noise): the box without them becomes a new, last step of its trajectory. Whether any was."""
    lim = box.box_lims[k].copy()
    free = search.box_init
    noisy = False
    for c, sides in box.qp[k].items():
        for side, q in enumerate(sides):
            if q > QP_MAX:  # -1: a side not restricted
                lim.loc[side, c] = free.loc[side, c]
                noisy = True
    if noisy:
        rest = search.yi_remaining
        inside = np.ones(len(rest), dtype=bool)
        for c in lim.columns:
            v = x[c].to_numpy()[rest]
            inside &= (v >= lim.loc[0, c]) & (v <= lim.loc[1, c])
        box.update(lim, rest[inside])
    return noisy


def _choose(trajectory: pd.DataFrame, min_density: float | None) -> int:
    """The step reported: closest to coverage 1 and density 1, or, with `min_density`, the
    highest coverage among steps at least that dense (the densest step if none is)."""
    cov, den = trajectory["coverage"].to_numpy(), trajectory["density"].to_numpy()
    if min_density is None:
        return int(np.argmin((1 - cov) ** 2 + (1 - den) ** 2))
    ok = np.flatnonzero(den >= min_density - 1e-12)
    if not len(ok):
        return int(np.argmax(den))
    return int(ok[np.lexsort((-den[ok], -cov[ok]))[0]])


def find_boxes(
    x: pd.DataFrame,
    missed: np.ndarray,
    max_boxes: int = MAX_BOXES,
    min_density: float | None = None,
    peel_alpha: float = PEEL_ALPHA,
    paste_alpha: float = PASTE_ALPHA,
    mass_min: float = MASS_MIN,
    progress: Callable[[int], object] | None = None,
) -> list[Box]:
    """PRIM boxes of `x` (cases x inputs, numbers) in which `missed` is mostly true (see the
    module docstring for the choice of each box and when the search stops). `progress` is
    called with 1 after each box searched."""
    prim = _prim_module()
    missed = np.asarray(missed, dtype=bool)
    if x.shape[1] == 0 or not missed.any() or missed.all():
        return []
    x = x.astype(float).reset_index(drop=True)
    with warnings.catch_warnings():
        # the workbench's own use of pandas features pandas deprecates: not the user's concern
        warnings.filterwarnings("ignore", module="ema_workbench")
        return _find_boxes(prim, x, missed, max_boxes, min_density, peel_alpha, paste_alpha,
                           mass_min, progress)  # fmt: skip


def _find_boxes(
    prim, x, missed, max_boxes, min_density, peel_alpha, paste_alpha, mass_min, progress
) -> list[Box]:
    search = prim.Prim(
        x,
        missed.astype(int),
        # a case of interest is y >= threshold (a miss, y = 1), and a box is kept when its
        # density is at least the threshold: any box with a miss is kept and its trajectory
        # reported; `_choose` and the stop rule below judge it
        threshold=1e-9,
        peel_alpha=peel_alpha,
        paste_alpha=paste_alpha,
        mass_min=mass_min,
    )
    lows, highs = x.min(), x.max()
    boxes: list[Box] = []
    outside = np.ones(len(x), dtype=bool)  # cases in no chosen box yet
    base_rate = float(missed.mean())
    while len(boxes) < max_boxes and missed[outside].any():
        found = search.find_box()
        if progress:
            progress(1)
        if found is None:
            break
        traj = _trajectory(found)
        k = _choose(traj, min_density)
        found.select(k)
        for _ in range(2 * x.shape[1]):  # each pass frees a side at least
            if not _drop_noise(search, found, k, x):
                break
            traj = _trajectory(found)
            k = len(traj) - 1
        limits, qp = _limits(found, k, lows, highs)
        density = float(traj.loc[k, "density"])
        if not limits or density <= base_rate:
            break  # restricts nothing, or no denser than the design: nothing more to find
        inside = np.ones(len(x), dtype=bool)
        for c, (lo, hi) in limits.items():
            inside &= (x[c].to_numpy() >= lo) & (x[c].to_numpy() <= hi)
        inside &= outside
        boxes.append(
            Box(
                limits=limits,
                coverage=float(traj.loc[k, "coverage"]),
                density=density,
                mass=float(traj.loc[k, "mass"]),
                cases=int(inside.sum()),
                missed=int(missed[inside].sum()),
                trajectory=traj,
                chosen=k,
                qp=qp,
            )
        )
        outside &= ~inside
    return boxes


def discover(
    folder: str | Path,
    target: str,
    threshold: float = DEFAULT_THRESHOLD,
    unit: str = "auto",
    max_boxes: int = MAX_BOXES,
    min_density: float | None = None,
    progress: Callable[[int], object] | None = None,
) -> Discovery:
    """The boxes of inputs in which `target` is missed, over the cases of a finished sweep.

    Args:
        folder: a sweep's ``--out`` folder.
        target: a target id of the sweep.
        threshold: with experiment cases, an experiment misses when P(reach) < threshold.
        unit: "replication", "experiment" or "auto" (replications when the sweep wrote them).
        max_boxes: boxes to look for at most (each on the cases outside the earlier ones).
        min_density: choose each box as the widest at least this dense (default: the box
            closest to coverage 1 and density 1).
        progress: called with 1 once the cases are read and after each box searched.

    Raises:
        DiscoverError: see `read_cases`; max_boxes < 1 or min_density outside (0, 1].
    """
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 1:
        raise DiscoverError("--boxes", "a whole number of at least 1", repr(max_boxes))
    if min_density is not None and not 0 < min_density <= 1:
        raise DiscoverError("--min-density", "a share in (0, 1] (e.g. 0.8)", repr(min_density))
    x, missed, unit, goal, notes = read_cases(folder, target, threshold, unit)
    if progress:
        progress(1)
    result = Discovery(
        sweep=str(folder),
        target=target,
        goal=goal,
        threshold=threshold,
        unit=unit,
        cases=int(len(missed)),
        missed=int(missed.sum()),
        ranges={c: (float(x[c].min()), float(x[c].max())) for c in x.columns},
        notes=notes,
    )
    if not missed.any():
        result.notes.append("the target is reached in every case: no region where it is missed")
    elif missed.all():
        result.notes.append("the target is missed in every case: the whole design is the box")
    elif x.shape[1] == 0:
        result.notes.append("no input takes more than one value over the cases")
    else:
        result.boxes = find_boxes(x, missed, max_boxes, min_density, progress=progress)
        if not result.boxes:
            result.notes.append(
                "no box is denser in misses than the design as a whole: no input range "
                "explains the misses"
            )
    return result


__all__ = ["Box", "DiscoverError", "Discovery", "discover", "find_boxes", "read_cases"]
