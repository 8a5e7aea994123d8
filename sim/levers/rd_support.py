"""Rewards of a share of last year's R&D to firms over R&D thresholds (Zhejiang 措施5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.ladder import POOL
from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class RDSupportSection(Strict):
    """A reward of a share of last year's R&D to firms above thresholds (Zhejiang 措施5)."""

    min_rd_intensity: Quantity
    min_rd_growth: Quantity
    share_of_last_year_rd: Quantity
    cap_yuan: Quantity | None = None
    from_tier: str = POOL
    source: NonEmpty


class RDSupport(Lever):
    """Reward of a share of last year's R&D to firms over R&D thresholds (Zhejiang 措施5).

    At the end of each year, firms whose R&D intensity and R&D growth that year pass the
    thresholds are owed a share of that year's R&D spending (their "last year's" R&D when the
    reward is paid). Changes: R&D (the reward raises next year's intensity by
    crowding-in x reward / revenue).
    Costs: the rewards, paid as cash claims.
    """

    name = "rd_support"
    words = ("研发支持", "R&D support")
    Section = RDSupportSection
    CASH_TO_RD = "rd.support_crowding_in"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.from_tier)
        self.min_rd = p["levers.rd_support.min_rd_intensity"]
        self.min_growth = p["levers.rd_support.min_rd_growth"]
        self.share = p["levers.rd_support.share_of_last_year_rd"]
        self.cap = p["levers.rd_support.cap_yuan"] if spec.cap_yuan else np.inf

    def invest(self, model: GrowthModel) -> None:
        f = model.firms
        idx = np.flatnonzero(f.alive & (f.tier >= self.level) & (f.rd_intensity >= self.min_rd))
        v = f.values(idx)
        ok = v("rd_growth") >= self.min_growth
        # a share of the R&D of the year just measured (the year before the reward is paid)
        reward = np.minimum(self.share * v("rd_spend_yuan")[ok], self.cap)
        model.city.claim(self.name, idx[ok], reward)
