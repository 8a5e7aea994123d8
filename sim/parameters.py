"""Model parameters: shipped defaults with sources, scenario overrides, per-replication draws.

Every number the model uses is a `Quantity`: a cited point value or a range. Ranges marked as
uncertain are drawn once per replication; point values are used as they are. Draws consume
one uniform per quantity, in sorted order of the quantity's dotted path, so that two runs with
the same paths (a scenario and its counterfactual, or two sweep points) share their draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml


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

    def at(self, u: float) -> float:
        """The value at uniform draw `u` (the fixed value when not drawn)."""
        if not self.draw:
            return self.value
        x = self.low + u * (self.high - self.low)
        return float(np.floor(x + 0.5)) if self.integer else x


@lru_cache(maxsize=1)
def _default_document() -> dict:
    text = resources.files("sim").joinpath("data/parameters.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


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
    return out


def draw(specs: Mapping[str, Spec], rng: np.random.Generator) -> dict[str, float]:
    """One replication's values: one uniform per quantity, in sorted path order."""
    names = sorted(specs)
    u = rng.random(len(names))
    return {name: specs[name].at(float(ui)) for name, ui in zip(names, u, strict=True)}


def central(specs: Mapping[str, Spec]) -> dict[str, float]:
    """Values at the centre of every range (a deterministic, representative draw)."""
    return {name: s.at(0.5) for name, s in specs.items()}
