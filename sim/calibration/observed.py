"""The calibration's inputs: its settings (calibration/config.yaml) and the observed series
(calibration/data/observed_counts.csv), read into `Moment`s.

Each moment is a point, a lower bound (an inequality: only simulated values below it are
penalised) or an interval (two sources that disagree), with the documented choices of
calibration/data/README.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import SrdiError
from sim.scenario import parameters as params_mod
from sim.yaml_io import read_yaml

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION_DIR = ROOT / "calibration"  # config, data, figures, hold-outs, backtest
FIT_DIR = params_mod.FIT_DIR  # the fit forecasts use: package data (sim/data/calibration)
CONFIG = CALIBRATION_DIR / "config.yaml"
OBSERVED = CALIBRATION_DIR / "data" / "observed_counts.csv"


class CalibrationError(SrdiError, ValueError):
    """A calibration input (config, observed data, saved fit) that cannot be used."""


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
    return read_yaml(Path(path).read_text(encoding="utf-8"), str(path))


def bounds_of(config: dict[str, Any], name: str) -> list[float]:
    """Search bounds of a calibrated parameter (or of the parameter it is tied to)."""
    pc = config["parameters"]
    if name in pc:
        return pc[name]["bounds"]
    owner = next((n for n, e in pc.items() if name in e.get("sets", [])), None)
    return pc[owner]["bounds"] if owner else [0.0, 1.0]


def run_settings(config: dict[str, Any], quick: bool) -> dict[str, Any]:
    """The settings a run uses: the config, with its `quick:` values over it when `quick`."""
    s = dict(config)
    if quick:
        s.update(config["quick"])
    return s


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
