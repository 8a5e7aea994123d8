"""The fast engine and the plain Mesa reference (benchmarks/plain_mesa.py) agree in distribution.

Both run the same scenario with every drawn quantity fixed at the centre of its range, on
their own random streams. For every tier and year, the mean stock (`at_least`), the mean new
titles (`new`), the mean firms titled since the base year (`ever`) and the mean eligible
applicants judged (`applied`) must agree within Monte Carlo error; so must the money each
lever costs over the period. Rationed titles are decided by each model's own code: the
engine's `rationing.py`, the reference's per-firm `Evaluator.approve`. A rule changed in one
of them and not in the other moves some of these means by more than the tolerance, and this
test fails.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sim.engine.model import GrowthModel
from sim.levers import LEVER_NAMES
from sim.scenario import Scenario, load
from sim.scenario.parameters import central

ROOT = Path(__file__).resolve().parents[1]


def _plain_model_class():
    spec = importlib.util.spec_from_file_location("plain_mesa", ROOT / "benchmarks/plain_mesa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PlainModel


PlainModel = _plain_model_class()


def _all_levers() -> dict:
    """The all_levers fixture as a document to edit."""
    scenario = load(ROOT / "tests/fixtures/all_levers.yaml")
    return scenario.model_dump(mode="python", exclude_none=True)


def _title_created_midway() -> Scenario:
    """all_levers without innovative SMEs at the base year 2020: the title exists from 2022
    (ladder `available_from`), so in 2021 pool firms apply for the provincial title directly,
    and in 2022 a pool firm may try both titles (one apply and one approve draw for both).

    Twice the fixture's candidates: the city's share of Henan's rationed provincial list grows
    with its applicants, and with 400 candidates it gets fewer than 10 titles in 2021 (in
    2020, Henan's first list had 100 places for the whole province; hence 2020 is not the
    base year either), too few for the comparison to have power.
    """
    doc = _all_levers()
    doc["period"] = {"base_year": 2020, "start": 2021, "end": 2025}
    del doc["baseline"]["counts"]["innovative_sme"]
    for name in ("candidates", "candidate_inflow_per_year"):
        count = doc["baseline"][name]
        count["low"], count["high"] = 2 * count["low"], 2 * count["high"]
    return Scenario.model_validate(doc)


def _province() -> Scenario:
    """all_levers as the province of Henan at 1/50 of its batches: the whole pool is simulated,
    so the places go to the top keys (Gumbel top-k), not against an aggregate rest; at this
    scale the little-giant places bind every year and the provincial ones from 2023."""
    doc = _all_levers()
    doc["place"]["level"] = "province"
    doc["parameters"] = {
        "competition.quota_scale": {
            "low": 0.02,
            "high": 0.02,
            "basis": "assumption",
            "source": "test: 1/50 of the province's batches, as calibration runs the country",
        }
    }
    return Scenario.model_validate(doc)


# scenario, replications per model. Hebi: the shipped plan (bring-in, stewards, pool, loans).
# all_levers: every lever, awards on recognition and re-review under a binding budget. Both are
# cities of Henan: rationed titles are contested with the rest of the province (an aggregate).
CASES = {
    "hebi": (lambda: load(ROOT / "scenarios/hebi.yaml"), 100),
    "all_levers": (lambda: load(ROOT / "tests/fixtures/all_levers.yaml"), 80),
    "title_created_midway": (_title_created_midway, 60),
    "province": (_province, 80),
}
COUNTS = ("at_least", "new", "ever", "applied")
SIGMAS = 4.0  # tolerance in combined standard errors
SLACK = 0.5  # firms: absolute slack for cells with (almost) no variance
COST_SLACK = 0.02  # relative slack on money


def outcomes(model) -> dict[str, np.ndarray]:
    """Per run: counts over (year, level >= 1) and the period's cost per lever."""
    h = model.history

    def get(rec, key):
        return rec[key] if isinstance(rec, dict) else getattr(rec, key)

    out = {m: np.array([get(r, m) for r in h], dtype=float)[:, 1:] for m in COUNTS}
    out["cost"] = np.array([sum(get(r, "cost")[lv] for r in h) for lv in LEVER_NAMES])
    return out


def replicate(cls, scenario, runs: int, seed: int) -> dict[str, np.ndarray]:
    values = central(scenario.specs())
    rows = []
    for s in np.random.SeedSequence(seed).spawn(runs):
        model = cls(scenario, seed=s, values=values)
        model.run_model()
        rows.append(outcomes(model))
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def disagreements(a: dict, b: dict, years: list[int], tiers: list[str]) -> list[str]:
    """Every cell where the two means differ by more than the tolerance, described."""
    out = []
    for metric in (*COUNTS, "cost"):
        x, y = a[metric], b[metric]
        n_x, n_y = len(x), len(y)
        mx, my = x.mean(0), y.mean(0)
        se = np.sqrt(x.var(0, ddof=1) / n_x + y.var(0, ddof=1) / n_y)
        if metric == "cost":
            bound = SIGMAS * se + COST_SLACK * np.maximum(np.abs(mx), np.abs(my))
        else:
            bound = SIGMAS * se + SLACK
        for cell in zip(*np.nonzero(np.abs(mx - my) > bound), strict=True):
            if metric == "cost":
                where = LEVER_NAMES[cell[0]]
            else:
                where = f"{tiers[cell[1]]} {years[cell[0]]}"
            out.append(
                f"{metric} {where}: engine {mx[cell]:.2f}, plain {my[cell]:.2f}, "
                f"allowed difference {bound[cell]:.2f}"
            )
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_engine_and_plain_mesa_agree(case: str) -> None:
    make, runs = CASES[case]
    scenario = make()
    engine = replicate(GrowthModel, scenario, runs, seed=101)
    plain = replicate(PlainModel, scenario, runs, seed=202)
    period = scenario.period
    years = [period.base_year, *period.years]
    problems = disagreements(engine, plain, years, scenario.ladder().ids)
    assert not problems, "engine and plain Mesa model disagree:\n" + "\n".join(problems)
    # the comparison has power: the scenario produces titles in every year
    assert (engine["new"][:, 1:].sum(axis=2).mean(0) > 10).all()
