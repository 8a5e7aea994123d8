"""Golden forecasts: seeded forecasts of the shipped scenarios, as recorded, number for number.

A change that is meant to leave the model alone (moving a constant into
sim/data/parameters.yaml, restructuring modules) must leave every seeded forecast identical:
targets, counts, costs and attributable firms of each shipped city and province scenario, at a
few replications with the counterfactual. The fixtures in tests/fixtures/golden/ were recorded
at commit ecbe5e4 (before the constants of the cycle moved into parameters.yaml), on x86-64
with numpy 2.4 and numba 0.68; the compiled loops use float32 and `fastmath`, so another
processor or compiler may differ in the last bits (record the fixtures there from the commit
before a change, then compare). A change that is meant to change results re-records them
(`python tests/test_golden.py`) and says so in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.ensemble import run_ensemble
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
SCENARIOS = ("hebi", "xinxiang", "zhanjiang", "wujiang", "zhejiang", "henan_status_quo")
RUNS, SEED = 8, 7
KEYS = ("runs", "seed", "years", "targets", "counts", "cost", "attributable")


def forecast(name: str) -> dict[str, Any]:
    """The numbers of a seeded forecast of a shipped scenario, as JSON would carry them."""
    result = run_ensemble(load(ROOT / "scenarios" / f"{name}.yaml"), runs=RUNS, seed=SEED)
    doc = result.to_dict()
    return json.loads(json.dumps({key: doc[key] for key in KEYS}))


@pytest.mark.parametrize("name", SCENARIOS)
def test_seeded_forecast_is_the_recorded_one(name: str) -> None:
    recorded = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert forecast(name) == recorded


def record() -> None:
    """Write the fixtures from the code as it is."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        text = json.dumps(forecast(name), ensure_ascii=False, indent=1)
        (GOLDEN / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    record()
