"""Model parameters: shipped defaults with sources, scenario overrides, per-replication draws.

Every number the model uses is a `Quantity`: a cited point value or a range. Ranges marked as
uncertain are drawn once per replication; point values are used as they are. Draws consume
one uniform per quantity, in sorted order of the quantity's dotted path, so that two runs with
the same paths (a scenario and its counterfactual, or two sweep points) share their draws;
quantities added later (`DRAWN_LAST`) draw after the others, so that seeded runs are unchanged.

Calibrated defaults: the calibration's fit (`sim/data/calibration/fit.yaml`, package data made
by `srdi calibrate`; or the file named by $SRDI_CALIBRATION, `off` for none) replaces the
shipped values with its point estimates, and each replication draws the calibrated parameters
jointly from its posterior sample (one row, chosen by one more uniform drawn after the others).
A scenario's own `parameters:` entry still wins over a calibrated default. A fit that is
missing or cannot be read is an error (`CalibrationMissing`), never a silent fall back to the
shipped values: the same answer however the package is installed.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from sim.errors import ScenarioErrors, SrdiError
from sim.yaml_io import read_yaml

log = logging.getLogger(__name__)
CALIBRATION_ENV = "SRDI_CALIBRATION"
FIT_DIR = Path(str(resources.files("sim").joinpath("data", "calibration")))
DEFAULT_FIT = FIT_DIR / "fit.yaml"


class CalibrationMissing(SrdiError):
    """The calibration every forecast's defaults come from cannot be read."""

    def __init__(self, path: Path, why: str) -> None:
        self.path, self.why = path, why
        super().__init__(
            f"{path}: the calibration cannot be read ({why}). Forecasts take their calibrated "
            f"parameters from it. Reinstall the package (pip install .) or run `srdi calibrate`; "
            f"set {CALIBRATION_ENV}=off to run with the shipped, uncalibrated defaults."
        )


@dataclass(frozen=True)
class Spec:
    """One quantity: a value, a range, whether replications draw it, and where it comes from."""

    value: float
    low: float
    high: float
    draw: bool
    basis: str
    source: str
    integer: bool = False
    sample: tuple[float, ...] | None = None  # posterior sample: replications draw a row of it

    def at(self, u: float) -> float:
        """The value at uniform draw `u` (the fixed value when not drawn)."""
        if not self.draw:
            return self.value
        x = self.low + u * (self.high - self.low)
        return float(np.floor(x + 0.5)) if self.integer else x


@lru_cache(maxsize=1)
def _default_document() -> dict:
    from sim.scenario.data_schema import check_parameters

    text = resources.files("sim").joinpath("data/parameters.yaml").read_text(encoding="utf-8")
    doc = read_yaml(text, "sim/data/parameters.yaml")
    check_parameters(doc, "sim/data/parameters.yaml")
    return doc


def defaults() -> dict[str, Spec]:
    """The shipped parameter defaults (sim/data/parameters.yaml), a fresh dict each call."""
    return dict(_defaults())


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Spec]:
    out = {}
    for name, e in _default_document().items():
        lo, hi = e["range"]
        out[name] = Spec(
            value=float(e["value"]),
            low=float(lo),
            high=float(hi),
            draw=bool(e["draw"]),
            basis=str(e["basis"]),
            source=str(e["source"]),
        )
    path = calibration_path()
    if path is not None:
        _apply_fit(out, path)
    return out


def calibration_path() -> Path | None:
    """The calibration fit every scenario's defaults come from (None: the shipped values)."""
    env = os.environ.get(CALIBRATION_ENV)
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "none") else Path(env)
    return DEFAULT_FIT


def _read_fit(path: Path) -> tuple[dict, dict[str, list[float]]]:
    """A fit file and its posterior sample, or CalibrationMissing saying why not."""
    try:
        fit = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ScenarioErrors) as e:
        raise CalibrationMissing(path, getattr(e, "strerror", None) or str(e)) from None
    if not isinstance(fit, dict) or not isinstance(fit.get("parameters"), dict):
        raise CalibrationMissing(path, "not a fit: no 'parameters' mapping")
    sample: dict[str, list[float]] = {}
    if fit.get("posterior"):
        posterior = path.parent / fit["posterior"]
        try:
            with open(posterior, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    for name, v in row.items():
                        sample.setdefault(name, []).append(float(v))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            why = getattr(e, "strerror", None) or str(e)
            raise CalibrationMissing(posterior, f"its posterior sample: {why}") from None
    return fit, sample


def _apply_fit(out: dict[str, Spec], path: Path) -> None:
    """Replace defaults by a fit's point estimates, posterior sample and future ranges."""
    fit, sample = _read_fit(path)
    note = f"calibrated: {path.name} ({fit.get('method', 'fit')})"
    for name, value in (fit.get("parameters") or {}).items():
        if name not in out:
            log.warning("calibrated parameter %s is not a model parameter; ignored", name)
            continue
        col = tuple(sample.get(name, ())) or None
        base = out[name]
        out[name] = Spec(
            value=float(value),
            low=min(col) if col else float(value),
            high=max(col) if col else float(value),
            draw=False,
            basis="calibrated",
            source=f"{base.source} [{note}]",
            sample=col,
        )
    for name, e in (fit.get("ranges") or {}).items():
        if name in out:
            lo, hi = e["range"]
            out[name] = Spec(
                float(e["value"]), float(lo), float(hi), True, "calibrated",
                f"{out[name].source} [{note}: {e.get('how', '')}]",
            )  # fmt: skip


# Quantities added after the draw order was fixed (issue 15: constants of the cycle moved into
# sim/data/parameters.yaml). Each draws its uniform after every other quantity and after the
# posterior row, in this order, so that adding one leaves every seeded run's draws as they
# were. Append only: a quantity added later goes at the end.
DRAWN_LAST: tuple[str, ...] = (
    "firm.main_share_capability_loading",
    "firm.debt_ratio_capability_loading",
    "firm.main_share_floor",
    "firm.debt_ratio_ceiling",
    "rd.max_intensity",
    "ip.rd_elasticity",
    "population.revenue_capability_loading",
    "population.high_tech_capability_effect",
    "population.years_in_niche_tier_step",
    "population.title_age_years",
    "competition.share_log_sd",
    "batches.sigma_prior",
    "batches.prior_weight",
    "batches.sigma_floor",
    "batches.sigma_one_batch",
    "batches.floor_share",
)


def draw(specs: Mapping[str, Spec], rng: np.random.Generator) -> dict[str, float]:
    """One replication's values: one uniform per quantity, in sorted path order.

    The quantities of `DRAWN_LAST` draw theirs after the others (and after the row of the
    posterior sample), in the order listed.
    """
    last = set(DRAWN_LAST)
    names = sorted(name for name in specs if name not in last)
    u = rng.random(len(names))
    out = {name: specs[name].at(float(ui)) for name, ui in zip(names, u, strict=True)}
    sampled = sorted(name for name in specs if specs[name].sample)
    row = rng.random() if sampled else 0.0  # calibrated parameters: one row, jointly
    appended = [name for name in DRAWN_LAST if name in specs]
    u = rng.random(len(appended))
    out |= {name: specs[name].at(float(ui)) for name, ui in zip(appended, u, strict=True)}
    for name in sampled:
        col = specs[name].sample
        out[name] = col[min(int(row * len(col)), len(col) - 1)]
    return {name: out[name] for name in sorted(out)}


def central(specs: Mapping[str, Spec]) -> dict[str, float]:
    """Values at the centre of every range (a deterministic, representative draw)."""
    return {name: s.at(0.5) for name, s in specs.items()}
