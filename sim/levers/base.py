"""The lever protocol: what the model calls on every lever, once a year in cycle order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class Lever:
    """What the model calls on every lever, in the order of the yearly cycle.

    Each method is a no-op here; a lever overrides the phases it acts in. `name` is the lever's
    key in a scenario's `levers:` section and in `LEVER_NAMES` (costs are booked under it).
    `CASH_TO_RD` names the parameter giving the share of this lever's cash a firm spends on R&D.
    `Section` is the lever's section of a scenario file (`levers.<name>`, a pydantic model).
    """

    name: str = ""
    words: tuple[str, str] = ("", "")  # its name in Chinese and English, for tables and charts
    CASH_TO_RD = "rd.award_share"

    def prepare(self, model: GrowthModel) -> None:
        """At set-up, after the baseline firms exist."""

    def entry(self, model: GrowthModel) -> None:
        """Entry phase: after the year's born candidates come alive."""

    def select(self, model: GrowthModel) -> None:
        """Select phase: firms served this year (`apply_odds` was reset to 1)."""

    def finance(self, model: GrowthModel) -> None:
        """Finance phase: loans and subsidies (this year's boosts were reset to 0)."""

    def invest(self, model: GrowthModel) -> None:
        """After growth and R&D: rewards judged on this year's R&D."""

    def recognised(
        self, model: GrowthModel, level: int, idx: np.ndarray, first: np.ndarray
    ) -> None:
        """Firms `idx` were granted `level` this year (`first`: their first title that high)."""

    def re_reviewed(self, model: GrowthModel, level: int, idx: np.ndarray) -> None:
        """Firms `idx` passed the re-review of `level` this year."""
