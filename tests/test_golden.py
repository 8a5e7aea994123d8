"""Golden forecasts: seeded forecasts of the shipped scenarios, as recorded, number for number.

A change that is meant to leave the model alone (moving a constant into
sim/data/parameters.yaml, restructuring modules) must leave every seeded forecast identical:
targets, counts, costs and attributable firms of each shipped city and province scenario, at a
few replications with the counterfactual. The fixtures in tests/fixtures/golden/ were recorded
with firms' random numbers keyed by their identity (`draw_id`) and the calibration refitted
with them (the commit that introduced `firms.FirmDraws`), on x86-64 with numpy 2.4 and
numba 0.68. The compiled loops use float32 and `fastmath`, so another processor or compiler
may differ in the last bits: numbers are compared to a relative 1e-9, which such bits pass
and any change of a rule does not (a count, a probability or a cost moves by far more). A
change that is meant to change results re-records them (`python tests/test_golden.py`) and
says so in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.runs.ensemble import run_ensemble
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


def same(a: Any, b: Any) -> bool:
    """Equal JSON documents, numbers to a relative 1e-9 (see the module docstring)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


@pytest.mark.parametrize("name", SCENARIOS)
def test_seeded_forecast_is_the_recorded_one(name: str) -> None:
    recorded = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert same(forecast(name), recorded)


def test_the_comparison_catches_a_changed_count() -> None:
    doc = {"counts": [{"mean": 12.5, "tier": "provincial_srdi"}], "runs": 8}
    assert same(doc, json.loads(json.dumps(doc)))
    assert not same(doc, {"counts": [{"mean": 12.5000001, "tier": "provincial_srdi"}], "runs": 8})
    assert not same(doc, {"counts": [{"mean": 12.5, "tier": "innovative_sme"}], "runs": 8})


def record() -> None:
    """Write the fixtures from the code as it is."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        text = json.dumps(forecast(name), ensure_ascii=False, indent=1)
        (GOLDEN / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        print(f"recorded {name}")


if __name__ == "__main__":
    record()
