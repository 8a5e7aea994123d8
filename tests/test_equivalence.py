"""The fast engine and the plain Mesa reference (benchmarks/plain_mesa.py) agree in distribution.

Both run the same scenario with every drawn quantity fixed at the centre of its range, on
their own random streams. For every tier and year, the mean stock (`at_least`), the mean new
titles (`new`) and the mean firms titled since the base year (`ever`) must agree within
Monte Carlo error; so must the money each lever costs over the period. A rule changed in one
of them and not in the other moves some of these means by more than the tolerance, and this
test fails.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sim.levers import LEVER_NAMES
from sim.model import GrowthModel
from sim.parameters import central
from sim.scenario import Scenario, load

ROOT = Path(__file__).resolve().parents[1]


def _plain_model_class():
    spec = importlib.util.spec_from_file_location("plain_mesa", ROOT / "benchmarks/plain_mesa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PlainModel


PlainModel = _plain_model_class()


def _title_created_midway() -> Scenario:
    """all_levers from 2019 without innovative SMEs at the base year: the title exists from
    2022 (ladder `available_from`), so until then pool firms apply for the provincial title
    directly."""
    doc = load(ROOT / "tests/fixtures/all_levers.yaml").model_dump(mode="python", exclude_none=True)
    doc["period"] = {"base_year": 2019, "start": 2020, "end": 2024}
    del doc["baseline"]["counts"]["innovative_sme"]
    for t in doc["targets"]:
        t["year"] = 2024
    return Scenario.model_validate(doc)


# scenario, replications per model. Hebi: the shipped plan (bring-in, stewards, pool, loans).
# all_levers: every lever, awards on recognition and re-review under a binding budget.
CASES = {
    "hebi": (lambda: load(ROOT / "scenarios/hebi.yaml"), 100),
    "all_levers": (lambda: load(ROOT / "tests/fixtures/all_levers.yaml"), 80),
    "title_created_midway": (_title_created_midway, 60),
}
SIGMAS = 4.0  # tolerance in combined standard errors
SLACK = 0.5  # firms: absolute slack for cells with (almost) no variance
COST_SLACK = 0.02  # relative slack on money


def outcomes(model) -> dict[str, np.ndarray]:
    """Per run: counts over (year, level >= 1) and the period's cost per lever."""
    h = model.history

    def get(rec, key):
        return rec[key] if isinstance(rec, dict) else getattr(rec, key)

    out = {
        m: np.array([get(r, m) for r in h], dtype=float)[:, 1:] for m in ("at_least", "new", "ever")
    }
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
    for metric in ("at_least", "new", "ever", "cost"):
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
@pytest.mark.xfail(
    strict=True,
    reason=(
        "benchmarks/plain_mesa.py still approves applicants one by one at a rate; the engine "
        "rations titles (sim/rationing.py). The reference must ration too before they agree."
    ),
)
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
