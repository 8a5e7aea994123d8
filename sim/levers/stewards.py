"""Service stewards (服务管家) for the holders of the listed titles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class StewardsSection(Strict):
    """Service stewards (服务管家) for firms holding the listed titles."""

    tiers: list[NonEmpty]
    coverage: Quantity
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class Stewards(Lever):
    """Service stewards (服务管家) for firms holding the listed titles.

    Changes: recognition (firms with a steward apply with higher odds, apply.steward_multiplier).
    Costs: cost per firm-year served.
    """

    name = "stewards"
    words = ("服务专员", "service stewards")
    Section = StewardsSection

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.levels = np.zeros(ladder.top + 1, dtype=bool)
        for t in spec.tiers:
            self.levels[ladder.level(t)] = True
        self.coverage = p["levers.stewards.coverage"]
        self.cost = p["levers.stewards.cost_per_firm_yuan"]
        self.odds = 1.0 + (p["apply.steward_multiplier"] - 1.0)

    def select(self, model: GrowthModel) -> None:
        from sim.engine import kernels  # compiled code: not imported to validate a scenario

        f = model.firms
        served, drawn = kernels.assign_stewards(
            f.alive,
            f.draw_id,
            f.tier,
            self.levels,
            model.key("steward"),
            self.coverage,
            f.steward,
        )
        model.random_numbers["uniform"] += drawn
        f.apply_odds[f.steward] *= self.odds
        model.city.spend(self.name, self.cost * served)
