"""The cash award per title (奖励)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class AwardsSection(Strict):
    """Cash award per title (奖励). Paid in the awards phase, under the rules and budget."""

    by_tier: dict[str, Quantity]
    on: Literal["first_recognition", "recognition_or_re_review"] = "first_recognition"
    highest_only: bool = Field(
        default=True, description="a firm with several cash claims in a year gets the highest"
    )
    once_per_firm: bool = Field(default=False, description="a firm is paid at most once")
    budget_yuan_per_year: Quantity | None = None
    source: NonEmpty


class Awards(Lever):
    """Cash award per title.

    Changes: recognition (the award raises the chance an eligible firm applies, in proportion
    to the award over the firm's revenue; the model reads `amount` and `once_per_firm` when
    firms decide to apply, in `kernels.applicants`) and R&D (a share of the award is spent on
    R&D next year). Costs: the awards paid, within the yearly budget.
    Rules: first recognition only (or also on re-review pass); the highest only within a year;
    at most once per firm; a yearly budget cap.
    """

    name = "awards"
    words = ("认定奖励", "cash awards")
    Section = AwardsSection

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.on = spec.on
        self.highest_only = spec.highest_only
        self.once_per_firm = spec.once_per_firm
        self.amount = np.zeros(ladder.top + 1)
        for tier_id in spec.by_tier:
            self.amount[ladder.level(tier_id)] = p[f"levers.awards.by_tier.{tier_id}"]
        self.budget = (
            p["levers.awards.budget_yuan_per_year"] if spec.budget_yuan_per_year else np.inf
        )

    def recognised(self, model: GrowthModel, level: int, idx: np.ndarray, first: np.ndarray):
        f = model.firms
        owed = np.where(first, self.amount[level], 0.0)
        if self.once_per_firm:
            owed = np.where(f.awarded_yuan[idx] > 0, 0.0, owed)
        model.city.claim(self.name, idx, owed)

    def re_reviewed(self, model: GrowthModel, level: int, idx: np.ndarray):
        if self.on != "recognition_or_re_review":
            return
        owed = np.full(idx.size, self.amount[level])
        if self.once_per_firm:
            owed = np.where(model.firms.awarded_yuan[idx] > 0, 0.0, owed)
        model.city.claim(self.name, idx, owed)
