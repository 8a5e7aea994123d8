"""Policy loans and guarantees for titled firms (专精特新贷, guarantee-fee subsidies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class LoansSection(Strict):
    """Policy loans and guarantees for titled firms (专精特新贷)."""

    from_tier: NonEmpty
    coverage: Quantity
    guarantee_fee: Quantity
    city_pays_fee_gap: bool = True
    source: NonEmpty


class Loans(Lever):
    """Policy loans and guarantees for titled firms.

    Changes: finance (titled firms from `from_tier` up take a loan with probability
    coverage x base uptake x exp(-s (fee - market fee))); a loan raises growth, R&D and debt
    that year. Costs: when the city pays the guarantee-fee gap, (market fee - fee) x loan size.
    """

    name = "loans"
    words = ("贷款与担保", "loans and guarantees")
    Section = LoansSection

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.from_tier)
        fee = p["levers.loans.guarantee_fee"]
        market = p["loans.market_guarantee_fee"]
        uptake = p["loans.base_uptake"] * np.exp(-p["loans.fee_semi_elasticity"] * (fee - market))
        self.prob = float(np.clip(p["levers.loans.coverage"] * uptake, 0.0, 1.0))
        gap = max(market - fee, 0.0) if spec.city_pays_fee_gap else 0.0
        self.cost_per_loan = gap * p["loans.size_yuan"]
        self.growth_effect = p["growth.loan_effect"]
        self.rd_effect = p["rd.loan_effect"]
        self.debt_increase = p["firm.loan_debt_increase"]

    def finance(self, model: GrowthModel) -> None:
        f = model.firms
        titled = np.flatnonzero(f.alive & (f.tier >= self.level))
        borrowers = titled[model.uniform("loan", titled) < self.prob]
        f.loan[borrowers] = True  # the model cleared last year's loans and boosts
        f.growth_boost[borrowers] += self.growth_effect
        f.rd_log_boost[borrowers] += self.rd_effect
        f.debt_added[borrowers] += self.debt_increase
        model.city.spend(self.name, self.cost_per_loan * borrowers.size)
