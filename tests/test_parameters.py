"""The constants of the cycle are parameters: shipped with a basis and a range, drawn after the
older quantities (so that seeded runs keep their draws), and read by the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim.scenario.parameters as pm
from sim.engine.firms import FirmDraws, draw_firms, idiosyncratic_loading
from sim.engine.model import GrowthModel
from sim.scenario import Scenario

LOADINGS = ("firm.main_share_capability_loading", "firm.debt_ratio_capability_loading")


def test_every_quantity_drawn_last_is_a_shipped_parameter_with_a_basis_and_a_range():
    shipped = pm._default_document()
    assert len(set(pm.DRAWN_LAST)) == len(pm.DRAWN_LAST)
    for name in pm.DRAWN_LAST:
        e = shipped[name]
        assert e["basis"] in ("cited", "assumption", "estimate") and e["source"].strip()
        low, high = e["range"]
        assert low <= e["value"] <= high and low < high


def test_quantities_drawn_last_leave_every_other_draw_alone():
    """With or without them, every other quantity (the posterior row too) draws the same."""
    specs = pm.defaults()
    older = {k: s for k, s in specs.items() if k not in pm.DRAWN_LAST}
    # every quantity drawn, so that a shifted uniform would show
    drawn = {k: pm.Spec(s.value, s.low, s.high, True, s.basis, s.source, s.integer, s.sample)
             for k, s in specs.items() if s.high > s.low or s.sample}  # fmt: skip
    for seed in range(5):
        assert pm.draw(older, np.random.default_rng(seed)) == {
            k: v for k, v in pm.draw(specs, np.random.default_rng(seed)).items() if k in older
        }
        with_all = pm.draw(drawn, np.random.default_rng(seed))
        without = pm.draw({k: drawn[k] for k in drawn if k in older}, np.random.default_rng(seed))
        assert {k: with_all[k] for k in without} == without
        assert all(drawn[k].low <= with_all[k] <= drawn[k].high for k in pm.DRAWN_LAST)


def test_the_draws_come_in_path_order():
    p = pm.draw(pm.defaults(), np.random.default_rng(0))
    assert list(p) == sorted(p)


def test_the_own_part_of_a_ratio_is_derived_from_its_capability_loading():
    """sqrt(1 - loading^2) to two places: the factors the model was written with, and a total
    sd within 0.5 % of the parameter's over the whole range of the loading."""
    specs = pm.defaults()
    assert idiosyncratic_loading(specs[LOADINGS[0]].value) == 0.87
    assert idiosyncratic_loading(specs[LOADINGS[1]].value) == 0.95
    for name in LOADINGS:
        for loading in np.linspace(specs[name].low, specs[name].high, 33):
            total = math.hypot(loading, idiosyncratic_loading(loading))
            assert total == pytest.approx(1.0, abs=0.005)


def _one_year(scenario: Scenario, values: dict[str, float]) -> GrowthModel:
    model = GrowthModel(scenario, seed=3, values=values)
    model.step()
    return model


def test_the_engine_reads_the_r_and_d_cap_and_the_ip_elasticity(hebi: Scenario):
    capped = _one_year(hebi, {"rd.max_intensity": 0.08})
    f = capped.firms
    assert f.rd_intensity.max() <= np.float32(0.08)
    assert f.rd_intensity.max() == pytest.approx(0.08, rel=1e-6)  # it binds, then
    drawn = draw_firms(2000, 2, {**capped.p, "rd.max_intensity": 0.08}, FirmDraws(1, 2), 2022)
    assert drawn["rd_intensity"].max() <= np.float32(0.08)
    for elasticity in (0.8, 0.6):
        model = _one_year(hebi, {"ip.rd_elasticity": elasticity})
        f = model.firms
        rows = np.flatnonzero(f.alive & (f.rd_intensity > 0))
        rd_m = f.rd_intensity[rows].astype(float) * f.revenue_yuan[rows] * 1e-6
        expected = rd_m**elasticity * np.exp(model.p["ip.capability_effect"] * f.capability[rows])
        rate = model._scratch("ip_rate", f.n, np.float32)[rows]
        np.testing.assert_allclose(rate, expected, rtol=1e-4)


def test_the_engine_reads_the_capability_loadings_and_the_bounds(hebi: Scenario):
    flat = _one_year(hebi, dict.fromkeys(LOADINGS, 0.0))
    shipped = _one_year(hebi, {})
    cap = shipped.firms.capability
    assert np.corrcoef(cap, shipped.firms.main_share)[0, 1] > 0.3
    assert np.corrcoef(cap, shipped.firms.debt_ratio)[0, 1] < -0.15
    assert abs(np.corrcoef(flat.firms.capability, flat.firms.main_share)[0, 1]) < 0.1
    bounded = _one_year(hebi, {"firm.main_share_floor": 0.7, "firm.debt_ratio_ceiling": 1.0})
    f = bounded.firms
    assert f.main_share[f.alive].min() >= np.float32(0.7)
    assert f.debt_ratio.max() <= np.float32(1.0)
