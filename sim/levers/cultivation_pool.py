"""The cultivation pool (培育库)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class CultivationPoolSection(Strict):
    """The cultivation pool (培育库): the best-placed firms below a tier get guidance."""

    size: Quantity
    below_tier: NonEmpty
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class CultivationPool(Lever):
    """The cultivation pool (培育库).

    Changes: each year the `size` alive firms below `below_tier` with the highest R&D
    intensity are in the pool; pool firms apply with higher odds (apply.pool_multiplier).
    Costs: cost per pool firm-year (guidance, growth plans).
    """

    name = "cultivation_pool"
    words = ("培育库", "cultivation pool")
    Section = CultivationPoolSection

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.size = int(round(p["levers.cultivation_pool.size"]))
        self.below = ladder.level(spec.below_tier)
        self.cost = p["levers.cultivation_pool.cost_per_firm_yuan"]
        self.odds = 1.0 + (p["apply.pool_multiplier"] - 1.0)

    def select(self, model: GrowthModel) -> None:
        f = model.firms
        f.in_pool[:] = False
        cand = np.flatnonzero(f.alive & (f.tier < self.below))
        if cand.size > self.size:
            # the `size` firms with the highest R&D intensity (an observable); O(n) selection
            top = np.argpartition(-f.rd_intensity[cand], self.size - 1)[: self.size]
            cand = cand[top]
        f.in_pool[cand] = True
        f.apply_odds[cand] *= self.odds
        model.city.spend(self.name, self.cost * cand.size)
