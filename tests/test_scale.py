"""A place simulated at 1/scale of its size (`simulation.scale`: super-individuals).

The national scenario runs at 1/20: each simulated firm stands for 20, the base-year counts,
candidates, inflow and batches are divided, and every count and cost is multiplied back.
These tests check the division, the refusal where it would be wrong, and that a scaled run
follows the run of every firm on the same seed (benchmarks/national.md compares more seeds).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.engine.inputs import at_scale, draw_values
from sim.engine.model import GrowthModel
from sim.errors import ScenarioErrors
from sim.runs.ensemble import run_replication
from sim.scenario import load, parse

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def national():
    return load(SCENARIOS / "national.yaml")


def test_the_national_scenario_runs_at_one_twentieth(national):
    assert national.scale == 20
    assert any("1/20" in note for note in national.notes_for_forecast())


def test_a_scaled_run_divides_the_population_and_the_batches_only(national):
    seed = np.random.SeedSequence(3)
    full, scaled = draw_values(national, seed), draw_values(national, seed, scale=20)
    assert full.keys() == scaled.keys()
    for name, value in full.items():
        if name.startswith("baseline."):
            assert scaled[name] == max(0.0, float(np.round(value / 20)))
        elif name == "competition.quota_scale":
            assert scaled[name] == value / 20
        else:
            assert scaled[name] == value, name
    assert at_scale({"baseline.candidates": 29.0, "competition.quota_scale": 1.0}, 20) == {
        "baseline.candidates": 1.0,
        "competition.quota_scale": 0.05,
    }


def test_a_scaled_run_follows_the_run_of_every_firm(national):
    """Two seeds, each run with every firm simulated and at 1/20 (the forecast's way, counts
    multiplied back): the counts holding each title agree year by year. Across 40 seeds the
    paired difference in 2025 had a mean under 0.5 % and a standard deviation of 0.5-0.9 %
    for the three lower titles, 5 % for the single champions (about 80 simulated firms then,
    6-10 at the base year)."""
    for s in (11, 12):
        seed = np.random.SeedSequence(s)
        full = GrowthModel(national, seed=seed, lazy=True)
        full.run_model()
        every_firm = np.stack([r.at_least for r in full.history]).astype(float)
        full.discard_firms()
        scaled = run_replication(national, seed, levers_on=False)["at_least"]
        later = every_firm[1:, 1:]  # the years after the base year, titles held
        rel = np.abs(scaled[1:, 1:] / np.maximum(later, 1.0) - 1.0)
        assert rel[:, :3].max() < 0.05, rel
        # single champions: 6-10 simulated firms at the base year, so early years are noisy
        assert rel[-1, 3] < 0.2, rel


def _national_doc() -> dict:
    return yaml.safe_load((SCENARIOS / "national.yaml").read_text(encoding="utf-8"))


def test_a_scale_is_refused_with_levers():
    doc = copy.deepcopy(yaml.safe_load((SCENARIOS / "hebi.yaml").read_text(encoding="utf-8")))
    doc["simulation"] = {"scale": 10, "source": "a test"}
    with pytest.raises(ScenarioErrors) as info:
        parse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "scaled-hebi.yaml")
    (err,) = [e for e in info.value.errors if e.path == "simulation.scale"]
    assert "scaled-hebi.yaml" in err.message and "Got 10" in err.message
    assert "level 'city'" in err.found


def test_a_scale_is_refused_with_levers_at_the_country_level():
    doc = _national_doc()
    hebi = yaml.safe_load((SCENARIOS / "hebi.yaml").read_text(encoding="utf-8"))
    doc["levers"] = {"bring_in": hebi["levers"]["bring_in"]}
    with pytest.raises(ScenarioErrors) as info:
        parse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "levers.yaml")
    assert any(e.path == "simulation.scale" and "levers" in e.found for e in info.value.errors), (
        info.value.errors
    )


def test_scale_one_and_no_section_are_every_firm():
    doc = _national_doc()
    doc["simulation"]["scale"] = 1
    assert parse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "one.yaml").scale == 1
    del doc["simulation"]
    assert parse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "none.yaml").scale == 1
    doc["simulation"] = {"scale": 0, "source": "a test"}
    with pytest.raises(ScenarioErrors):
        parse(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "zero.yaml")
