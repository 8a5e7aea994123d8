"""The lever protocol (sim/levers `Lever`): the model calls every phase of every lever, in
the order of the yearly cycle, and a lever changes firms only through the columns the kernels
read (`apply_odds`, `growth_boost`, `rd_log_boost`, `debt_added`, cash claims)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.engine.model import GrowthModel
from sim.levers import LEVER_NAMES, Lever, build_levers, cash_to_rd_shares
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"


class Recorder(Lever):
    """A lever that only records which phases it is called in."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def entry(self, model):
        self.calls.append("entry")

    def select(self, model):
        self.calls.append("select")

    def finance(self, model):
        self.calls.append("finance")

    def invest(self, model):
        self.calls.append("invest")

    def recognised(self, model, level, idx, first):
        self.calls.append("recognised")

    def re_reviewed(self, model, level, idx):
        self.calls.append("re_reviewed")


class NoApplying(Lever):
    """Sets every firm's odds of applying to zero."""

    name = "no_applying"

    def select(self, model):
        model.firms.apply_odds[:] = 0.0


class GrowthBoost(Lever):
    """Adds `boost` to every firm's log revenue growth this year."""

    name = "growth_boost"

    def __init__(self, boost: float) -> None:
        self.boost = boost

    def finance(self, model):
        model.firms.growth_boost[:] += self.boost


def test_every_shipped_lever_follows_the_protocol():
    sc = load(HEBI)
    model = GrowthModel(sc, seed=1)
    levers = build_levers(sc.levers, model.p, model.ladder)
    assert levers and all(isinstance(lever, Lever) for lever in levers)
    assert [lv.name for lv in levers] == [n for n in LEVER_NAMES if getattr(sc.levers, n)]


def test_the_model_calls_each_phase_in_the_order_of_the_cycle():
    model = GrowthModel(HEBI, seed=2)
    rec = Recorder()
    model.levers.append(rec)
    model.step()
    phases = list(dict.fromkeys(rec.calls))  # first call of each phase, in order
    assert (
        phases
        == ["entry", "select", "finance", "invest", "recognised", "re_reviewed"][: len(phases)]
    )
    assert {"entry", "select", "finance", "invest", "recognised"} <= set(phases)


def test_the_kernels_read_the_odds_a_lever_sets():
    model = GrowthModel(HEBI, seed=3)
    model.levers.append(NoApplying())
    model.step()
    assert model.history[-1].applied.sum() == 0
    assert model.history[-1].new.sum() == 0
    plain = GrowthModel(HEBI, seed=3)
    plain.step()
    assert plain.history[-1].applied.sum() > 0


def test_the_kernels_read_the_growth_a_lever_adds():
    base = GrowthModel(HEBI, seed=4)
    boosted = GrowthModel(HEBI, seed=4)
    boosted.levers.append(GrowthBoost(0.1))
    base.step()
    boosted.step()
    alive = base.firms.alive & boosted.firms.alive
    ratio = boosted.firms.revenue_yuan[alive] / base.firms.revenue_yuan[alive]
    np.testing.assert_allclose(ratio, np.exp(0.1), rtol=1e-5)


def test_the_columns_of_this_year_start_afresh():
    model = GrowthModel(HEBI, seed=5)
    model.levers.append(GrowthBoost(0.1))
    loan = model.p["growth.loan_effect"]  # Hebi's loans add to their borrowers' growth too
    for _ in range(2):  # this year's 0.1, not 0.1 a year more
        model.step()
        f = model.firms
        expected = 0.1 + np.where(f.loan, loan, 0.0)
        np.testing.assert_allclose(f.growth_boost[f.alive], expected[f.alive])
    assert f.loan[f.alive].any() and not f.loan[f.alive].all()


def test_cash_to_rd_share_is_each_levers_own_parameter():
    p = {"rd.award_share": 0.5, "rd.support_crowding_in": 0.8}
    shares = dict(zip(LEVER_NAMES, cash_to_rd_shares(p), strict=True))
    assert shares["rd_support"] == 0.8
    assert shares["awards"] == shares["matching_subsidy"] == 0.5


def test_a_levers_module_holds_its_section_words_and_name_and_the_registry_lists_it():
    """Everything about a lever is in its module; the registry (sim/levers/__init__.py) is the
    one list the scenario schema, the costs and the labels read."""
    from sim.levers import LEVER_CLASSES
    from sim.scenario.schema import Levers
    from sim.views.labels import lever_name

    assert list(Levers.model_fields) == list(LEVER_NAMES) == list(LEVER_CLASSES)
    sc = load(HEBI)
    for name, cls in LEVER_CLASSES.items():
        assert cls.name == name and issubclass(cls, Lever)
        assert cls.Section.__module__ == cls.__module__ == f"sim.levers.{name}"
        assert Levers.model_fields[name].annotation == (cls.Section | None)
        assert lever_name(name, "zh") == cls.words[0] and lever_name(name, "en") == cls.words[1]
        section = getattr(sc.levers, name)
        assert section is None or isinstance(section, cls.Section)
