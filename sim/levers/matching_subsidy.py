"""The city's top-up of a provincial subsidy to a title's holders (Xinxiang §二(一))."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class MatchingSubsidySection(Strict):
    """A city top-up of a provincial subsidy to holders of a title (Xinxiang §二(一))."""

    tier: NonEmpty
    share: Quantity
    provincial_subsidy_yuan: Quantity
    provincial_selection_rate: Quantity
    source: NonEmpty


class MatchingSubsidy(Lever):
    """City top-up of the province's equipment/software subsidy to a title's holders.

    Changes: R&D (cash, like an award). Costs: share x provincial subsidy for each holder the
    province subsidises in a year (selection rate per holder-year).
    """

    name = "matching_subsidy"
    words = ("配套补助", "matching subsidy")
    Section = MatchingSubsidySection

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.tier)
        self.amount = (
            p["levers.matching_subsidy.share"]
            * p["levers.matching_subsidy.provincial_subsidy_yuan"]
        )
        self.rate = p["levers.matching_subsidy.provincial_selection_rate"]

    def finance(self, model: GrowthModel) -> None:
        f = model.firms
        holders = np.flatnonzero(f.alive & (f.tier == self.level))
        idx = holders[model.uniform("matching_subsidy", holders) < self.rate]
        model.city.claim(self.name, idx, np.full(idx.size, self.amount))
