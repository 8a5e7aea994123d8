"""The MIIT 63号 criteria of sim/data/ladder.yaml, at and around every threshold.

Each table row is one firm and the answer the criteria must give. Values are float64 and fed
through the Ladder API (`Ladder.meets`, `Criterion.evaluate`, `Criterion.score`,
`Ladder.explain`) as a function from attribute name to array, one element per firm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.firms import COLUMNS, DERIVED, FirmPopulation
from sim.engine.ladder import POOL, STANDARD_TIERS, Criterion, Ladder


def below(x: float) -> float:
    """The largest float64 below x."""
    return float(np.nextafter(x, -np.inf))


def above(x: float) -> float:
    """The smallest float64 above x."""
    return float(np.nextafter(x, np.inf))


def values_of(firms: list[Mapping[str, float]]):
    """Attribute name -> float64 array over `firms`; a name no firm has is a KeyError."""

    def get(name: str) -> np.ndarray:
        return np.array([float(f[name]) for f in firms], dtype=np.float64)

    return get


def criterion(ladder: Ladder, tier: str, crit_id: str) -> Criterion:
    (c,) = [c for c in ladder.tier(tier).criteria if c.id == crit_id]
    return c


# A firm comfortably meeting every criterion of every title (its evaluation score is 95).
STRONG = {
    "tier": 0,
    "years_in_niche": 12,
    "rd_spend_yuan": 5e6,
    "rd_intensity": 0.08,
    "rd_intensity_min_2y": 0.08,
    "rd_spend_2y_yuan": 3.2e7,
    "revenue_yuan": 2e8,
    "ip_class1": 5,
    "ip_class2": 3,
    "growth": 0.20,
    "growth_mean_2y": 0.20,
    "debt_ratio": 0.40,
    "strategic_emerging": 1,
    "high_tech": 0,
    "main_share": 0.90,
}

# A firm scoring the minimum on every indicator: 5 points, all from "not strategic emerging".
WEAK = {
    **STRONG,
    "ip_class1": 0,
    "ip_class2": 0,
    "rd_intensity": 0.0,
    "growth": -1.0,
    "debt_ratio": 1.0,
    "strategic_emerging": 0,
    "main_share": 0.0,
}
WEAK_SCORE = 5


# --- threshold criteria --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    tier: str
    criterion: str
    label: str
    changes: dict = field(default_factory=dict)
    passes: bool = True

    @property
    def id(self) -> str:
        return f"{self.tier}-{self.criterion}-{self.label}-{'passes' if self.passes else 'fails'}"


PS, LG, SC = "provincial_srdi", "national_little_giant", "single_champion"

THRESHOLD_CASES = [
    # provincial SRDI SME (63号 附件2)
    Case(PS, "years_in_niche", "at-2y", {"years_in_niche": 2}, True),
    Case(PS, "years_in_niche", "1y", {"years_in_niche": 1}, False),
    Case(PS, "rd_spend", "at-1M-yuan", {"rd_spend_yuan": 1e6}, True),
    Case(PS, "rd_spend", "just-below-1M-yuan", {"rd_spend_yuan": below(1e6)}, False),
    Case(PS, "rd_intensity", "at-3pct", {"rd_intensity": 0.03}, True),
    Case(PS, "rd_intensity", "just-below-3pct", {"rd_intensity": below(0.03)}, False),
    Case(PS, "revenue", "at-10M-yuan", {"revenue_yuan": 1e7}, True),
    Case(PS, "revenue", "just-below-10M-yuan", {"revenue_yuan": below(1e7)}, False),
    # national little giant (63号 附件3)
    Case(LG, "years_in_niche", "at-3y", {"years_in_niche": 3}, True),
    Case(LG, "years_in_niche", "2y", {"years_in_niche": 2}, False),
    Case(LG, "main_share", "at-70pct", {"main_share": 0.70}, True),
    Case(LG, "main_share", "just-below-70pct", {"main_share": below(0.70)}, False),
    Case(LG, "growth_2y", "at-5pct", {"growth_mean_2y": 0.05}, True),
    Case(LG, "growth_2y", "just-below-5pct", {"growth_mean_2y": below(0.05)}, False),
    Case(LG, "growth_2y", "negative", {"growth_mean_2y": -0.10}, False),
    Case(LG, "debt_ratio", "at-70pct", {"debt_ratio": 0.70}, True),
    Case(LG, "debt_ratio", "just-above-70pct", {"debt_ratio": above(0.70)}, False),
    Case(LG, "debt_ratio", "zero", {"debt_ratio": 0.0}, True),
    Case(LG, "class1_ip", "at-2", {"ip_class1": 2}, True),
    Case(LG, "class1_ip", "1", {"ip_class1": 1}, False),
    # single champion
    Case(SC, "years_in_niche", "at-10y", {"years_in_niche": 10}, True),
    Case(SC, "years_in_niche", "9y", {"years_in_niche": 9}, False),
    Case(SC, "main_share", "at-70pct", {"main_share": 0.70}, True),
    Case(SC, "main_share", "just-below-70pct", {"main_share": below(0.70)}, False),
    Case(SC, "revenue", "at-100M-yuan", {"revenue_yuan": 1e8}, True),
    Case(SC, "revenue", "just-below-100M-yuan", {"revenue_yuan": below(1e8)}, False),
]


@pytest.mark.parametrize("case", THRESHOLD_CASES, ids=lambda c: c.id)
def test_threshold(ladder, case):
    values = values_of([{**STRONG, **case.changes}])
    assert criterion(ladder, case.tier, case.criterion).evaluate(values).tolist() == [case.passes]
    # every other criterion of the tier passes, so the title follows this one criterion
    assert ladder.meets(ladder.level(case.tier), values).tolist() == [case.passes]


# --- R&D intensity of little giants, banded by revenue (63号 附件3 (三)) ----------------------


@dataclass(frozen=True)
class Band:
    label: str
    revenue: float
    rd_min_2y: float  # R&D / revenue, the lower of the last two years
    rd_2y: float  # R&D yuan over the last two years
    intensity_ok: bool
    spend_ok: bool

    @property
    def id(self) -> str:
        ok = self.intensity_ok and self.spend_ok
        return f"{LG}-rd-by-revenue-{self.label}-{'passes' if ok else 'fails'}"


BAND_CASES = [
    # revenue >= 100 M yuan: 3 % in both years
    Band("revenue-100M-rd-3pct", 1e8, 0.03, 0.0, True, True),
    Band("revenue-100M-rd-just-below-3pct", 1e8, below(0.03), 0.0, False, True),
    Band("revenue-1B-rd-3pct", 1e9, 0.03, 0.0, True, True),
    # 50-100 M yuan: 6 %
    Band("revenue-just-below-100M-rd-3pct", below(1e8), 0.03, 0.0, False, True),
    Band("revenue-just-below-100M-rd-6pct", below(1e8), 0.06, 0.0, True, True),
    Band("revenue-50M-rd-6pct", 5e7, 0.06, 0.0, True, True),
    Band("revenue-50M-rd-just-below-6pct", 5e7, below(0.06), 0.0, False, True),
    Band("revenue-50M-rd-3pct", 5e7, 0.03, 0.0, False, True),
    # below 50 M yuan: no intensity floor, R&D >= 30 M yuan over two years
    Band("revenue-just-below-50M-rd-30M-over-2y", below(5e7), 0.01, 3e7, True, True),
    Band("revenue-just-below-50M-rd-just-below-30M", below(5e7), 0.30, below(3e7), True, False),
    Band("revenue-10M-rd-30M-over-2y", 1e7, 0.0, 3e7, True, True),
    Band("revenue-10M-rd-29M-over-2y", 1e7, 0.5, 2.9e7, True, False),
    Band("revenue-10M-no-rd", 1e7, 0.0, 0.0, True, False),
]


@pytest.mark.parametrize("case", BAND_CASES, ids=lambda c: c.id)
def test_little_giant_rd_by_revenue(ladder, case):
    firm = {
        **STRONG,
        "revenue_yuan": case.revenue,
        "rd_intensity_min_2y": case.rd_min_2y,
        "rd_spend_2y_yuan": case.rd_2y,
    }
    values = values_of([firm])
    assert criterion(ladder, LG, "rd_intensity_2y").evaluate(values).tolist() == [case.intensity_ok]
    assert criterion(ladder, LG, "small_firm_rd_spend").evaluate(values).tolist() == [case.spend_ok]
    expected = case.intensity_ok and case.spend_ok
    assert ladder.meets(ladder.level(LG), values).tolist() == [expected]


def test_little_giant_rd_intensity_counts_the_weaker_of_two_years(ladder):
    """`rd_intensity_min_2y` is derived from the firm's columns: both years must reach 3 %."""
    pop = FirmPopulation(2)
    pop.add(
        {
            "revenue_yuan": np.array([2e8, 2e8]),
            "rd_intensity": np.array([0.08, 0.08]),
            "rd_intensity_prev": np.array([0.029, 0.031]),
        }
    )
    assert criterion(ladder, LG, "rd_intensity_2y").evaluate(pop.values()).tolist() == [
        False,
        True,
    ]


# --- the evaluation score (63号 附件1; approximates 附件2 (四)) -----------------------------

SCORE_TIERS = ("innovative_sme", "provincial_srdi")

# (indicator, label, changes to WEAK, points of that indicator)
SCORE_CASES = [
    ("ip", "none", {}, 0),
    ("ip", "class1-1", {"ip_class1": 1}, 15),
    ("ip", "class1-3", {"ip_class1": 3}, 15),
    ("ip", "class2-only-1", {"ip_class2": 1}, 5),
    ("ip", "class1-and-class2", {"ip_class1": 1, "ip_class2": 4}, 15),
    ("rd_intensity", "at-5pct", {"rd_intensity": 0.05}, 20),
    ("rd_intensity", "just-below-5pct", {"rd_intensity": below(0.05)}, 15),
    ("rd_intensity", "at-3pct", {"rd_intensity": 0.03}, 15),
    ("rd_intensity", "just-below-3pct", {"rd_intensity": below(0.03)}, 10),
    ("rd_intensity", "at-2pct", {"rd_intensity": 0.02}, 10),
    ("rd_intensity", "just-below-2pct", {"rd_intensity": below(0.02)}, 5),
    ("rd_intensity", "at-1pct", {"rd_intensity": 0.01}, 5),
    ("rd_intensity", "just-below-1pct", {"rd_intensity": below(0.01)}, 0),
    ("rd_intensity", "50pct", {"rd_intensity": 0.5}, 20),
    ("growth", "at-15pct", {"growth": 0.15}, 20),
    ("growth", "just-below-15pct", {"growth": below(0.15)}, 15),
    ("growth", "at-10pct", {"growth": 0.10}, 15),
    ("growth", "just-below-10pct", {"growth": below(0.10)}, 10),
    ("growth", "at-5pct", {"growth": 0.05}, 10),
    ("growth", "just-below-5pct", {"growth": below(0.05)}, 5),
    ("growth", "at-0pct", {"growth": 0.0}, 5),
    ("growth", "just-below-0pct", {"growth": below(0.0)}, 0),
    ("growth", "minus-30pct", {"growth": -0.30}, 0),
    ("debt_ratio", "zero", {"debt_ratio": 0.0}, 10),
    ("debt_ratio", "just-below-55pct", {"debt_ratio": below(0.55)}, 10),
    ("debt_ratio", "at-55pct", {"debt_ratio": 0.55}, 5),
    ("debt_ratio", "65pct", {"debt_ratio": 0.65}, 5),
    ("debt_ratio", "at-75pct", {"debt_ratio": 0.75}, 5),
    ("debt_ratio", "just-above-75pct", {"debt_ratio": above(0.75)}, 0),
    ("debt_ratio", "100pct", {"debt_ratio": 1.0}, 0),
    ("strategic_emerging", "yes", {"strategic_emerging": 1}, 10),
    ("strategic_emerging", "no", {"strategic_emerging": 0}, 5),
    ("main_share", "at-70pct", {"main_share": 0.70}, 20),
    ("main_share", "just-below-70pct", {"main_share": below(0.70)}, 15),
    ("main_share", "at-60pct", {"main_share": 0.60}, 15),
    ("main_share", "just-below-60pct", {"main_share": below(0.60)}, 10),
    ("main_share", "at-55pct", {"main_share": 0.55}, 10),
    ("main_share", "just-below-55pct", {"main_share": below(0.55)}, 5),
    ("main_share", "at-50pct", {"main_share": 0.50}, 5),
    ("main_share", "just-below-50pct", {"main_share": below(0.50)}, 0),
    ("main_share", "100pct", {"main_share": 1.0}, 20),
]


def _score_expected(indicator: str, points: int) -> int:
    """WEAK's total with one indicator replaced (all of WEAK's 5 points are strategic_emerging)."""
    return points if indicator == "strategic_emerging" else WEAK_SCORE + points


@pytest.mark.parametrize(
    "tier,indicator,changes,points",
    [
        pytest.param(tier, ind, changes, pts, id=f"{tier}-score-{ind}-{label}-{pts}pts")
        for tier in SCORE_TIERS
        for ind, label, changes, pts in SCORE_CASES
    ],
)
def test_score_indicator_points(ladder, tier, indicator, changes, points):
    score = criterion(ladder, tier, "evaluation_score").score(values_of([{**WEAK, **changes}]))
    assert score.tolist() == [_score_expected(indicator, points)]


def test_score_tables_scored_all_at_once(ladder):
    """The same rows as one array of firms give the same points (no leakage across firms)."""
    firms = [{**WEAK, **changes} for _, _, changes, _ in SCORE_CASES]
    expected = [_score_expected(ind, pts) for ind, _, _, pts in SCORE_CASES]
    for tier in SCORE_TIERS:
        score = criterion(ladder, tier, "evaluation_score").score(values_of(firms))
        assert score.tolist() == expected


# ip 15 + R&D 15 + growth 10 + debt 5 + not strategic 5 + main business 10 = 60
SCORE_60 = {
    **WEAK,
    "ip_class1": 1,
    "rd_intensity": 0.03,
    "growth": 0.05,
    "debt_ratio": 0.60,
    "strategic_emerging": 0,
    "main_share": 0.55,
}
SCORE_55 = {**SCORE_60, "main_share": below(0.55)}
SCORE_95 = {**WEAK, **{k: STRONG[k] for k in ("ip_class1", "rd_intensity", "growth")}}
SCORE_95.update({k: STRONG[k] for k in ("debt_ratio", "strategic_emerging", "main_share")})

TOTAL_CASES = [
    ("innovative_sme", "score-95", SCORE_95, 95, True),
    ("innovative_sme", "score-60", SCORE_60, 60, True),
    ("innovative_sme", "score-55", SCORE_55, 55, False),
    ("innovative_sme", "score-5", WEAK, 5, False),
    ("innovative_sme", "score-5-high-tech-direct-pass", {**WEAK, "high_tech": 1}, 5, True),
    ("innovative_sme", "score-55-high-tech-direct-pass", {**SCORE_55, "high_tech": 1}, 55, True),
    ("provincial_srdi", "score-95", SCORE_95, 95, True),
    ("provincial_srdi", "score-60", SCORE_60, 60, True),
    ("provincial_srdi", "score-55", SCORE_55, 55, False),
    (
        "provincial_srdi",
        "score-55-high-tech-no-direct-pass",
        {**SCORE_55, "high_tech": 1},
        55,
        False,
    ),
]


@pytest.mark.parametrize(
    "tier,firm,score,passes",
    [c[:1] + c[2:] for c in TOTAL_CASES],
    ids=[f"{t}-{label}-{'passes' if ok else 'fails'}" for t, label, _, _, ok in TOTAL_CASES],
)
def test_score_total_and_direct_pass(ladder, tier, firm, score, passes):
    crit = criterion(ladder, tier, "evaluation_score")
    values = values_of([firm])
    assert crit.score(values).tolist() == [score]
    assert crit.evaluate(values).tolist() == [passes]


@pytest.mark.parametrize(
    "firm,passes",
    [(SCORE_60, True), (SCORE_55, False), ({**WEAK, "high_tech": 1}, True)],
    ids=["innovative_sme-score-60-passes", "innovative_sme-score-55-fails", "high-tech-passes"],
)
def test_innovative_sme_title_is_the_score(ladder, firm, passes):
    assert ladder.meets(ladder.level("innovative_sme"), values_of([firm])).tolist() == [passes]


def test_provincial_srdi_needs_the_score_besides_the_thresholds(ladder):
    # SCORE_60 and SCORE_55 keep R&D intensity at 3 %, so only the score differs
    firms = [{**STRONG, **SCORE_60}, {**STRONG, **SCORE_55}]
    assert ladder.meets(ladder.level(PS), values_of(firms)).tolist() == [True, False]


# --- the whole table -----------------------------------------------------------------------


def test_tables_cover_every_criterion_of_every_tier(ladder):
    covered = {(c.tier, c.criterion) for c in THRESHOLD_CASES}
    covered |= {(LG, "rd_intensity_2y"), (LG, "small_firm_rd_spend")}
    covered |= {(t, "evaluation_score") for t in SCORE_TIERS}
    shipped = {(t.id, c.id) for t in ladder.tiers for c in t.criteria}
    assert covered == shipped


def test_vectorised_meets_matches_the_table_firm_by_firm(ladder):
    """All threshold rows of a tier as one array: each firm gets its own answer."""
    for tier in (PS, LG, SC):
        cases = [c for c in THRESHOLD_CASES if c.tier == tier]
        values = values_of([{**STRONG, **c.changes} for c in cases])
        assert ladder.meets(ladder.level(tier), values).tolist() == [c.passes for c in cases]


def test_strong_firm_meets_every_title_and_weak_firm_none(ladder):
    values = values_of([STRONG, WEAK])
    for level in range(1, ladder.top + 1):
        assert ladder.meets(level, values).tolist()[0] is True
    # WEAK fails: score 5 (innovative, provincial), main share 0 (little giant, champion)
    assert not any(ladder.meets(level, values)[1] for level in range(1, ladder.top + 1))


def test_ladder_order_levels_and_validity(ladder):
    assert ladder.ids == list(STANDARD_TIERS)
    assert ladder.top == 4
    assert ladder.level(POOL) == 0
    assert [ladder.level(t) for t in STANDARD_TIERS] == [1, 2, 3, 4]
    assert [t.validity_years for t in ladder.tiers] == [3, 3, 3, 3]
    assert [t.granted_by for t in ladder.tiers] == ["province", "province", "national", "national"]


def test_every_attribute_read_by_a_criterion_is_a_firm_column_or_derived(ladder):
    assert ladder.attributes() <= set(COLUMNS) | set(DERIVED)


# --- explain -------------------------------------------------------------------------------


def test_explain_names_the_failing_criteria_of_one_firm(ladder):
    bad = {**STRONG, "debt_ratio": 0.75, "ip_class1": 1}
    values = values_of([STRONG, bad, STRONG])
    out = ladder.explain(LG, values, 1)
    assert [e.criterion for e in out] == [c.id for c in ladder.tier(LG).criteria]
    assert [e.criterion for e in out if not e.passed] == ["debt_ratio", "class1_ip"]
    by_id = {e.criterion: e for e in out}
    assert by_id["debt_ratio"].required == "debt_ratio <= 0.7"
    assert by_id["debt_ratio"].actual == "debt_ratio = 0.75"
    assert by_id["class1_ip"].required == "ip_class1 >= 2"
    assert by_id["class1_ip"].actual == "ip_class1 = 1"
    # its neighbours in the same arrays pass everything
    assert all(e.passed for e in ladder.explain(LG, values, 0))
    assert all(e.passed for e in ladder.explain(LG, values, 2))


def test_explain_states_the_band_and_the_score(ladder):
    firm = {**STRONG, "revenue_yuan": 6e7, "rd_intensity_min_2y": 0.05}
    (rd,) = [
        e for e in ladder.explain(LG, values_of([firm]), 0) if e.criterion == "rd_intensity_2y"
    ]
    assert not rd.passed
    assert rd.required == "rd_intensity_min_2y >= 0.06 (band of revenue_yuan)"
    assert rd.actual == "rd_intensity_min_2y = 0.05"
    (score,) = ladder.explain("innovative_sme", values_of([SCORE_55]), 0)
    assert (score.criterion, score.passed) == ("evaluation_score", False)
    assert score.actual == "score 55"
    assert score.required == "score >= 60 or high_tech"


def test_explain_agrees_with_meets_on_random_firms(ladder):
    rng = np.random.default_rng(20230823)
    n = 300
    firms = {
        "tier": np.zeros(n),
        "years_in_niche": rng.integers(1, 14, n),
        "rd_spend_yuan": rng.uniform(0, 4e6, n),
        "rd_intensity": rng.uniform(0, 0.1, n),
        "rd_intensity_min_2y": rng.uniform(0, 0.1, n),
        "rd_spend_2y_yuan": rng.uniform(0, 6e7, n),
        "revenue_yuan": np.exp(rng.uniform(np.log(5e6), np.log(5e8), n)),
        "ip_class1": rng.integers(0, 4, n),
        "ip_class2": rng.integers(0, 4, n),
        "growth": rng.uniform(-0.2, 0.3, n),
        "growth_mean_2y": rng.uniform(-0.1, 0.2, n),
        "debt_ratio": rng.uniform(0.2, 0.9, n),
        "strategic_emerging": rng.integers(0, 2, n),
        "high_tech": rng.integers(0, 2, n),
        "main_share": rng.uniform(0.4, 1.0, n),
    }

    def values(name):
        return firms[name].astype(np.float64)

    for tier in ladder.ids:
        meets = ladder.meets(ladder.level(tier), values)
        assert 0 < meets.sum() < n, tier  # the sample has firms on both sides
        explained = [all(e.passed for e in ladder.explain(tier, values, i)) for i in range(n)]
        assert meets.tolist() == explained


# --- firms as the model stores them (float32 columns) ----------------------------------------

STORED_CASES = [
    pytest.param(
        PS, "rd_intensity", {"rd_intensity": 0.03}, id="provincial_srdi-rd_intensity-3pct"
    ),
    pytest.param(
        LG, "main_share", {"main_share": 0.70}, id="national_little_giant-main_share-70pct"
    ),
    pytest.param(
        LG, "debt_ratio", {"debt_ratio": 0.70}, id="national_little_giant-debt_ratio-70pct"
    ),
    pytest.param(
        LG,
        "growth_2y",
        {"growth": 0.05, "growth_prev": 0.05},
        id="national_little_giant-growth_2y-5pct",
    ),
    pytest.param(
        LG,
        "rd_intensity_2y",
        {
            "rd_intensity": 0.03,
            "rd_intensity_prev": 0.03,
            "revenue_yuan": 2e8,
            "revenue_prev_yuan": 2e8,
        },
        id="national_little_giant-rd_intensity_2y-revenue-200M-3pct",
    ),
    pytest.param(
        LG,
        "rd_intensity_2y",
        {
            "rd_intensity": 0.06,
            "rd_intensity_prev": 0.06,
            "revenue_yuan": 6e7,
            "revenue_prev_yuan": 6e7,
        },
        id="national_little_giant-rd_intensity_2y-revenue-60M-6pct",
    ),
]


@pytest.mark.parametrize("tier,crit_id,columns", STORED_CASES)
def test_stored_firm_exactly_at_a_threshold_passes(ladder, tier, crit_id, columns):
    pop = FirmPopulation(1)
    pop.add({name: np.array([v]) for name, v in columns.items()})
    assert criterion(ladder, tier, crit_id).evaluate(pop.values()).tolist() == [True]


@pytest.mark.parametrize(
    "columns",
    [{"rd_intensity": 0.03}, {"main_share": 0.70}],
    ids=["rd_intensity-3pct-15pts", "main_share-70pct-20pts"],
)
def test_stored_firm_at_a_band_edge_scores_as_the_float64_firm(ladder, columns):
    pop = FirmPopulation(1)
    pop.add({name: np.array([v]) for name, v in columns.items()})
    crit = criterion(ladder, "innovative_sme", "evaluation_score")

    def as_float64(name: str) -> np.ndarray:
        if name in columns:
            return np.array([columns[name]], dtype=np.float64)
        return pop.column(name).astype(np.float64)

    assert crit.score(pop.values()).tolist() == crit.score(as_float64).tolist()


@given(
    values=st.lists(
        st.one_of(
            st.sampled_from([np.nan, -1.0, 0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 1.0]),
            st.floats(-1.0, 2.0, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_a_few_firms_score_as_many_do(values, dtype):
    # a few firms' points come from one search, many firms' from one comparison per
    # threshold: the same points either way, NaN (reaching no threshold) included
    from sim.engine import ladder as ladder_module

    x = np.array(values, dtype=dtype)
    for ind in [
        {"attribute": "rd_intensity", "points": [[0.05, 20], [0.03, 15], [0.02, 10], [0.01, 5]]},
        {"attribute": "growth", "points": [[0.15, 20], [0.10, 15], [0.05, 10], [0.0, 5]]},
    ]:
        small = ladder_module._indicator_points(ind, lambda name: x)
        saved = ladder_module.SMALL_BATCH
        ladder_module.SMALL_BATCH = 0
        try:
            many = ladder_module._indicator_points(ind, lambda name: x)
        finally:
            ladder_module.SMALL_BATCH = saved
        assert small.dtype == many.dtype
        assert np.array_equal(small, many)
