"""Shared fixtures: the shipped ladder, the Hebi scenario, and Hebi with a cash-award lever."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from sim.engine.ladder import STANDARD_TIERS, Ladder
from sim.scenario import Scenario, load

HEBI = Path(__file__).resolve().parents[1] / "scenarios" / "hebi.yaml"


@pytest.fixture(scope="session")
def ladder() -> Ladder:
    return Ladder.standard()


@pytest.fixture(scope="session")
def hebi() -> Scenario:
    return load(HEBI)


@pytest.fixture(scope="session")
def with_awards(hebi: Scenario) -> Callable[..., Scenario]:
    """Build Hebi plus a `levers.awards` section (Hebi's plan itself pays no cash award).

    `amounts` is yuan per title: one number for every tier or a mapping tier id -> yuan.
    """

    def make(
        amounts: float | Mapping[str, float],
        budget: float | None = None,
        highest_only: bool = True,
        on: str = "first_recognition",
    ) -> Scenario:
        if not isinstance(amounts, Mapping):
            amounts = dict.fromkeys(STANDARD_TIERS, amounts)
        awards = {
            "by_tier": {t: {"value": float(a), "source": "test"} for t, a in amounts.items()},
            "on": on,
            "highest_only": highest_only,
            "source": "test",
        }
        if budget is not None:
            awards["budget_yuan_per_year"] = {"value": float(budget), "source": "test"}
        doc = hebi.model_dump(mode="python", exclude_none=True)
        doc["levers"]["awards"] = awards
        return Scenario.model_validate(doc)

    return make
