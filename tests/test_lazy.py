"""Lazy candidates (`GrowthModel(lazy=True)`): the same run, with less work.

A candidate's state is brought up to date only when it applies; the records of every year and,
once brought up to date, every alive firm's columns must be identical to the pass over every
firm, and the work skipped must be real.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.firms import COLUMNS
from sim.engine.model import GrowthModel
from tests.test_model import SCENARIOS, histories_equal

LEVERLESS = SCENARIOS / "henan_status_quo.yaml"  # no levers: the lazy pass can act


def pair(seed: int, **kw) -> tuple[GrowthModel, GrowthModel]:
    """The same run without and with lazy candidates, the lazy one brought up to date."""
    models = []
    for lazy in (False, True):
        m = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(seed), lazy=lazy, **kw)
        m.run_model()
        m.bring_up_to_date()
        models.append(m)
    return models[0], models[1]


def alive_columns_differ(a: GrowthModel, b: GrowthModel) -> list[str]:
    """Columns whose values differ among the alive firms (closed candidates the lazy run
    never read keep their set-up values: nothing reads them)."""
    assert np.array_equal(a.firms.alive, b.firms.alive)
    alive = a.firms.alive
    return [
        c for c in COLUMNS if not np.array_equal(a.firms.column(c)[alive], b.firms.column(c)[alive])
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lazy_run_is_identical_to_the_pass_over_every_firm(seed):
    eager, lazy = pair(seed)
    assert lazy.lazy and not eager.lazy
    assert histories_equal(eager, lazy)
    assert alive_columns_differ(eager, lazy) == []


def test_firms_back_at_level_0_after_re_review_wait_from_that_year():
    # every title due for re-review is lost: holders drop to level 0 and become candidates
    # again, current as of that year, and may apply once more
    values = {"re_review.fail_if_eligible": 1.0, "re_review.fail_if_ineligible": 1.0}
    eager, lazy = pair(3, values=values)
    assert sum(int(r.lost.sum()) for r in eager.history) > 0
    assert histories_equal(eager, lazy)
    assert alive_columns_differ(eager, lazy) == []


def test_lazy_run_skips_the_candidates_that_do_not_apply():
    runs = {}
    for lazy in (False, True):
        runs[lazy] = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(4), lazy=lazy)
        runs[lazy].run_model()
    # growth, R&D and IP drawn for fewer firm-years, and the set-up attributes of some
    # candidates never drawn (those that never applied)
    assert runs[True].random_numbers["normal"] < 0.8 * runs[False].random_numbers["normal"]
    assert not runs[True]._drawn.all()


def test_a_lazy_model_is_current_only_once_brought_up_to_date():
    m = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(5), lazy=True)
    m.run_model()
    e = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(5))
    e.run_model()
    assert alive_columns_differ(e, m)  # stale candidates before
    m.bring_up_to_date()
    assert alive_columns_differ(e, m) == []


@pytest.mark.parametrize(
    "kw",
    [
        {"funnel": True},
        {"relax": frozenset({"apply"})},
        {"firm_history": ("revenue_yuan",)},
        {"keep_set_up": True},
    ],
    ids=["funnel", "relax-apply", "firm-history", "keep-set-up"],
)
def test_lazy_is_off_where_a_candidates_state_is_read(kw):
    m = GrowthModel(LEVERLESS, seed=1, lazy=True, **kw)
    assert not m.lazy


def test_a_kept_set_up_serves_a_lazy_run_as_its_own_would():
    # a run asked to keep its set-up is not lazy (the set-up holds every firm drawn); a lazy
    # run started from it is the lazy run drawn alone
    seed = np.random.SeedSequence(4)
    kept = GrowthModel(LEVERLESS, seed=seed, lazy=True, keep_set_up=True)
    assert not kept.lazy
    shared = GrowthModel(LEVERLESS, seed=seed, lazy=True, set_up=kept.kept_set_up)
    alone = GrowthModel(LEVERLESS, seed=seed, lazy=True)
    assert shared.lazy and alone.lazy
    shared.run_model()
    alone.run_model()
    assert histories_equal(shared, alone)


def test_lazy_is_off_when_a_lever_acts():
    # Xinxiang's levers act on candidates (awards raise their chance of applying); with
    # every lever off (the counterfactual) nothing else reads a candidate's state
    xinxiang = SCENARIOS / "xinxiang.yaml"
    assert not GrowthModel(xinxiang, seed=1, lazy=True).lazy
    assert GrowthModel(xinxiang, seed=1, lazy=True, levers_on=False).lazy


def test_lazy_is_off_when_a_target_counts_firms_by_their_state():
    # Hebi counts the firms at 6 % R&D intensity or more every year (`rd_intensive_new`)
    m = GrowthModel(SCENARIOS / "hebi.yaml", seed=1, lazy=True, levers_on=False)
    assert "rd_intensive_new" in {t.kind for t in m.scenario.targets}
    assert not m.lazy


def test_a_firm_listed_twice_is_brought_up_to_date_once():
    # a firm that may try two titles in a year is listed once per title it applies for
    eager = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(6))
    lazy = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(6), lazy=True)
    eager.step()
    lazy.step()
    rows = np.flatnonzero(lazy.firms.alive & (lazy.firms.tier == 0))[:50]
    lazy._catch_up(np.repeat(rows, 2))
    for c in COLUMNS:
        assert np.array_equal(eager.firms.column(c)[rows], lazy.firms.column(c)[rows]), c


def test_a_firm_read_from_a_lazy_run_is_current():
    eager = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(7))
    lazy = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(7), lazy=True)
    eager.run_model()
    lazy.run_model()
    i = int(np.flatnonzero(lazy.firms.alive & (lazy.firms.tier == 0))[-1])
    assert lazy.firm(i).state == eager.firm(i).state
    assert lazy.explain(i, "innovative_sme") == eager.explain(i, "innovative_sme")


def test_a_candidate_not_yet_born_reads_as_drawn_at_set_up():
    eager = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(8))
    lazy = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(8), lazy=True)
    eager.step()
    lazy.step()
    last_year = max(lazy.birth_blocks)
    i = int(lazy.birth_blocks[last_year][0])  # born in the last year of the period
    assert not lazy.firms.alive[i]
    assert lazy.firm(i).state == eager.firm(i).state


def test_a_closed_candidate_does_not_grow_when_read():
    lazy = GrowthModel(LEVERLESS, seed=np.random.SeedSequence(9), lazy=True)
    lazy.step()
    lazy.step()
    closed = np.flatnonzero(
        ~lazy.firms.alive[: lazy.n_base] & (lazy.firms.tier[: lazy.n_base] == 0)
    )
    assert closed.size
    i = int(closed[0])
    before = lazy.firm(i).state
    lazy.step()
    assert lazy.firm(i).state == before
