"""The yearly cycle of `sim.engine.model.GrowthModel`, written the plain Mesa way.

One `mesa.Agent` per firm with its own yearly methods, scalar Python arithmetic, per-firm random
draws and a per-firm reading of the eligibility criteria. It is the reference the fast engine
is measured against (benchmarks/run.py) and checked against (tests/test_equivalence.py): the
same scenario, the same parameters (`sim.scenario.parameters.draw` on the scenario's specs, then
`values`), the same phases in the same order, the same levers. Only the random streams differ,
so the two agree in distribution, not run by run.

Titles are rationed as in the engine (sim/engine/rationing.py, README "Rationed titles"): the
places of each rationed title and year, and the size of the rest of the province a city
competes with, come from `sim.engine.competition.build` (a per-replication draw, made here with this
model's own generator); which of this model's applicants win them is decided firm by firm in
`Evaluator.approve`, in scalar Python, with each firm's own approve draw.

Firm creation (the base-year population, the candidates born each year, the firms brought in)
uses the engine's attribute generators in `sim.engine.firms`, and the rows become agents: this file
restates the yearly rules, not the initial distributions.

The engine allocates the candidates born in later years at the start and leaves their rows
untouched until they are born; here a candidate is created in its birth year with freshly
drawn attributes. Both draw a newborn's attributes from the same distribution.
"""

from __future__ import annotations

import math
from pathlib import Path

import mesa
import numpy as np

from sim.engine import competition
from sim.engine.firms import BROUGHT_IN, FirmDraws, create_at_level, create_titled, draw_firms
from sim.levers import LEVER_NAMES
from sim.scenario import Scenario, load
from sim.scenario.parameters import draw

INF = math.inf


# --- the criteria, read per firm ------------------------------------------------------------
def meets(firm: Firm, tier) -> bool:
    """Does `firm` meet every criterion of `tier` (a `sim.engine.ladder.Tier`)?"""
    return all(criterion_met(firm, c.kind, c.spec) for c in tier.criteria)


def criterion_met(firm: Firm, kind: str, s: dict) -> bool:
    if kind == "threshold":
        x = getattr(firm, s["attribute"])
        return (
            ("min" not in s or x >= s["min"])
            and ("max" not in s or x <= s["max"])
            and ("max_exclusive" not in s or x < s["max_exclusive"])
        )
    if kind == "banded":
        by = getattr(firm, s["band_by"])
        minimum = INF
        for band in s["bands"]:  # a later band wins where bands overlap
            if band.get("from", -INF) <= by < band.get("to", INF):
                minimum = band["min"]
        return getattr(firm, s["attribute"]) >= minimum
    total = 0.0
    for ind in s["indicators"]:
        pts = points(getattr(firm, ind["attribute"]), ind)
        if pts <= 0 and "fallback" in ind:
            pts = points(getattr(firm, ind["fallback"]["attribute"]), ind["fallback"])
        total += pts
    direct = s.get("direct_pass")
    return total >= s["min_total"] or (direct is not None and bool(getattr(firm, direct)))


def points(x: float, ind: dict) -> float:
    """Points of one score indicator: the best row of the table that `x` reaches."""
    pts = float(ind.get("otherwise", 0))
    if ind.get("below", False):
        for row in sorted(ind["points"], key=lambda r: -r[0]):
            inclusive = len(row) > 2 and row[2] == "inclusive"
            if x <= row[0] if inclusive else x < row[0]:
                pts = float(row[1])
        return pts
    for threshold, value in sorted(ind["points"]):
        if x >= threshold:
            pts = float(value)
    return pts


# --- the agents -----------------------------------------------------------------------------
class Firm(mesa.Agent):
    """One firm: its state as attributes, one year of its own decisions in `step()`."""

    def __init__(self, model: PlainModel, state: dict) -> None:
        super().__init__(model)
        self.__dict__.update(state)

    # quantities the criteria read that are not stored (sim/engine/firms.py: DERIVED)
    @property
    def rd_spend_yuan(self) -> float:
        return self.rd_intensity * self.revenue_yuan

    @property
    def rd_spend_prev_yuan(self) -> float:
        return self.rd_intensity_prev * self.revenue_prev_yuan

    @property
    def rd_spend_2y_yuan(self) -> float:
        return self.rd_spend_yuan + self.rd_spend_prev_yuan

    @property
    def rd_intensity_min_2y(self) -> float:
        return min(self.rd_intensity, self.rd_intensity_prev)

    @property
    def growth_mean_2y(self) -> float:
        return (self.growth + self.growth_prev) * 0.5

    @property
    def rd_growth(self) -> float:
        return self.rd_spend_yuan / max(self.rd_spend_prev_yuan, 1.0) - 1.0

    def grow_and_invest(self) -> None:
        """This firm's year up to recognition: steward, finance, growth, R&D and IP."""
        m, p, rnd = self.model, self.model.p, self.random
        city = m.city
        # select: a service steward for the titles the lever covers
        self.steward = self.tier in m.steward_tiers and rnd.random() < m.steward_coverage
        if self.steward:
            city.spend("stewards", m.steward_cost)

        # finance
        if m.matching and self.tier == m.matching_level and rnd.random() < m.matching_rate:
            city.claim("matching_subsidy", self, m.matching_amount)
        self.loan = bool(m.loans) and self.tier >= m.loan_level and rnd.random() < m.loan_prob
        if self.loan:
            city.spend("loans", m.loan_cost)

        # growth
        dlog = (
            p["economy.growth_mean"]
            + m.year_shock
            + p["growth.capability_effect"] * self.capability
            + p["growth.loan_effect"] * self.loan
            + p["growth.title_effect"] * (self.tier > 0)
            + p["growth.shock_sd"] * rnd.gauss(0.0, 1.0)
        )
        self.growth_prev, self.growth = self.growth, math.expm1(dlog)
        self.revenue_prev_yuan = self.revenue_yuan
        self.revenue_yuan *= math.exp(dlog)
        self.years_in_niche += 1
        a, sd = p["firm.adjust_speed"], p["firm.ratio_shock_sd"]
        share_level = (
            p["firm.main_share_mean"]
            + p["firm.main_share_capability_loading"] * p["firm.main_share_sd"] * self.capability
        )
        share = self.main_share + a * (share_level - self.main_share) + sd * rnd.gauss(0.0, 1.0)
        self.main_share = min(max(share, p["firm.main_share_floor"]), 1.0)
        debt_level = (
            p["firm.debt_ratio_mean"]
            - p["firm.debt_ratio_capability_loading"] * p["firm.debt_ratio_sd"] * self.capability
        )
        debt = (
            self.debt_ratio
            + a * (debt_level - self.debt_ratio)
            + p["firm.loan_debt_increase"] * self.loan
            + sd * rnd.gauss(0.0, 1.0)
        )
        self.debt_ratio = min(max(debt, 0.0), p["firm.debt_ratio_ceiling"])

        # R&D and IP
        target = math.log(p["rd.base_intensity"]) + p["rd.capability_effect"] * self.capability
        log_rd = math.log(max(self.rd_intensity, 1e-4))
        log_rd += (
            p["rd.adjust_speed"] * (target - log_rd)
            + p["rd.loan_effect"] * self.loan
            + p["rd.shock_sd"] * rnd.gauss(0.0, 1.0)
        )
        self.rd_intensity_prev = self.rd_intensity
        self.rd_intensity = min(math.exp(log_rd) + self.rd_boost, p["rd.max_intensity"])
        self.rd_boost = 0.0
        if (  # the R&D reward: judged on this year's R&D, paid at the year's end
            m.rd_support
            and self.tier >= m.rd_level
            and self.rd_intensity >= m.rd_min_intensity
            and self.rd_growth >= m.rd_min_growth
        ):
            city.claim("rd_support", self, min(m.rd_share * self.rd_spend_yuan, m.rd_cap))
        rate = (self.rd_intensity * self.revenue_yuan * 1e-6) ** p["ip.rd_elasticity"] * math.exp(
            p["ip.capability_effect"] * self.capability
        )
        self.ip_class1 += int(m.rng.poisson(p["ip.class1_rate"] * rate))
        self.ip_class2 += int(m.rng.poisson(p["ip.class2_rate"] * rate))

        # recognition is the evaluators' (PlainModel.recognise): this year's draws are not made yet
        self.start_tier = self.tier
        self.u_apply = self.u_approve = None

    def applies_for(self, k: int) -> bool:
        """Does this firm, at its start-of-year level, meet the criteria of level `k` and apply?

        A firm has one apply draw and one approve draw a year, the same whichever title it
        tries (the next title; in the year a title first appears, also the one above it).
        """
        if not meets(self, self.model.tiers[k]):
            return False
        if self.u_apply is None:
            self.u_apply, self.u_approve = self.random.random(), self.random.random()
        return self.u_apply < self.apply_probability(k)

    def recognised(self, k: int) -> None:
        """This firm is granted the title at level `k`; the city owes its award."""
        m = self.model
        first = self.highest_tier < k
        self.tier, self.title_year = k, m.year
        self.highest_tier = max(self.highest_tier, k)
        m.new[k] += 1
        if m.awards:
            owed = m.award[k] if first else 0.0
            if m.awards.once_per_firm and self.awarded_yuan > 0:
                owed = 0.0
            m.city.claim("awards", self, owed)

    def review_and_exit(self) -> None:
        """The rest of this firm's year, after recognition: re-review, then exit."""
        m, p, rnd = self.model, self.model.p, self.random
        city = m.city
        # re-review of a title past its validity
        k = self.tier
        if k > 0 and m.year - self.title_year >= m.tiers[k].validity_years:
            eligible = meets(self, m.tiers[k])
            fail = p["re_review.fail_if_eligible" if eligible else "re_review.fail_if_ineligible"]
            m.reviewed[k] += 1
            if rnd.random() < fail:
                self.tier = m.drop_to[k]  # the highest title below that exists this year
                m.lost[k] += 1
            elif m.awards and m.awards.on == "recognition_or_re_review":
                owed = m.award[k]
                if m.awards.once_per_firm and self.awarded_yuan > 0:
                    owed = 0.0
                city.claim("awards", self, owed)
            self.title_year = m.year

        # exit (claims already made are still settled by the city this year)
        if rnd.random() < m.hazard[self.tier]:
            m.closed_highest[self.highest_tier] += 1
            self.remove()

    def apply_probability(self, k: int) -> float:
        """Chance that this firm, eligible for level `k`, applies this year."""
        m, p = self.model, self.model.p
        prob = m.apply_base[k]
        if m.awards:
            promised = m.award[k] if self.highest_tier < k else 0.0
            if m.awards.once_per_firm and self.awarded_yuan > 0:
                promised = 0.0
            rel = promised / max(self.revenue_yuan, 1.0)
            prob = 1.0 - (1.0 - prob) * math.exp(-p["apply.award_elasticity"] * rel)
        odds = prob / max(1.0 - prob, 1e-12)
        if self.steward:
            odds *= p["apply.steward_multiplier"]
        if self.in_pool:
            odds *= p["apply.pool_multiplier"]
        return odds / (1.0 + odds)


class City(mesa.Agent):
    """The city: collects the year's cash claims, pays them under the award rules and budget."""

    def __init__(self, model: PlainModel) -> None:
        super().__init__(model)
        self.reset_year()

    def reset_year(self) -> None:
        self.claims: list[tuple[str, Firm, float]] = []
        self.cost = dict.fromkeys(LEVER_NAMES, 0.0)

    def claim(self, lever: str, firm: Firm, amount: float) -> None:
        if amount > 0:
            self.claims.append((lever, firm, amount))

    def spend(self, lever: str, amount: float) -> None:
        self.cost[lever] += amount

    def pay(self) -> None:
        m = self.model
        claims = self.claims
        if m.awards and m.awards.highest_only:  # one claim per firm: the largest
            best: dict[Firm, tuple[str, Firm, float]] = {}
            for c in claims:
                held = best.get(c[1])
                if held is None or (c[2], -LEVER_NAMES.index(c[0])) > (
                    held[2],
                    -LEVER_NAMES.index(held[0]),
                ):
                    best[c[1]] = c
            claims = list(best.values())
        awards = [c for c in claims if c[0] == "awards"]
        if sum(c[2] for c in awards) > m.budget:  # a lottery until the budget is spent
            self.random.shuffle(awards)
            paid, spent = set(), 0.0
            for c in awards:
                if spent + c[2] > m.budget:
                    break
                spent += c[2]
                paid.add(id(c))
            claims = [c for c in claims if c[0] != "awards" or id(c) in paid]
        p = m.p
        for lever, firm, amount in claims:
            self.cost[lever] += amount
            if lever == "awards":
                firm.awarded_yuan += amount
            share = p["rd.support_crowding_in"] if lever == "rd_support" else p["rd.award_share"]
            firm.rd_boost += share * amount / max(firm.revenue_yuan, 1.0)


class Evaluator(mesa.Agent):
    """The evaluators (the province, MIIT): grant each level's titles among its applicants.

    A title granted on its criteria: each applicant passes at the year's approval rate. A
    rationed title (the model's `competition`, drawn per replication by
    `sim.engine.competition.build`):
    the applicants compete for the year's places on a noisy score, written here firm by firm.
    A firm's score is its log R&D spending, standardised among the level's applicants, times
    `competition.score_weight`; its noise comes from its own approve draw `u`.

    * The evaluator's whole pool is simulated (a country or a province): each applicant's key
      is its score plus a Gumbel variate, -log(-log u); the applicants are sorted by key and
      the first floor(quota) win.
    * The place is part of a province: the rest of the province applies as an aggregate of
      `rest` applicants, each of the place's applicants' mean weight over exp(place_strength).
      An applicant of weight w = exp(score) wins with probability 1 - exp(-lam w), lam set so
      that the places are filled in expectation. It wins when u > exp(-lam w): the direction
      matters only to a firm trying two titles in a year, which has one approve draw for both,
      as in the engine.
    """

    def approve(self, k: int, applicants: list[Firm]) -> list[Firm]:
        """The applicants for level `k` that are granted the title this year."""
        m, p = self.model, self.model.p
        if not m.competition.rationed.get(k, False):
            return [firm for firm in applicants if firm.u_approve < m.approval[k]]
        quota = m.competition.quota_of(k, m.year)
        n = len(applicants)
        if n == 0 or quota <= 0:
            return []
        log_spend = [math.log(max(firm.rd_spend_yuan, 1.0)) for firm in applicants]
        mean = sum(log_spend) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in log_spend) / n)
        weight = p["competition.score_weight"]
        score = [weight * (x - mean) / sd if sd > 0 else 0.0 for x in log_spend]
        rest = 0.0
        if not m.competition.whole_pool:
            # the rest of the province's applicants: so many per holder of the title below,
            # its holders in the province less this place's own at the start of the year
            tier_id = m.ladder.ids[k - 1]
            below_id = competition.APPLIES_FROM[tier_id]
            held = m.competition.province_holders[(below_id, m.year)]
            own = m.history[-1]["at_least"][m.ladder.level(below_id)]
            rest = max(held - own, 0.0) * p[f"competition.applicants_per_holder.{tier_id}"]
        if rest <= 0:
            places = math.floor(quota + 1e-9)
            if places >= n:
                return list(applicants)
            keys = []
            for firm, s in zip(applicants, score, strict=True):
                u = min(max(firm.u_approve, 1e-300), 1.0 - 1e-16)
                keys.append((s - math.log(-math.log(u)), firm))
            keys.sort(key=lambda pair: -pair[0])
            return [firm for _, firm in keys[:places]]
        if quota >= n + rest:
            return list(applicants)
        top = max(score)
        rest_score = math.log(sum(math.exp(s - top) for s in score) / n) + top
        rest_score -= p["competition.place_strength"]
        shift = max(top, rest_score)  # weights of at most 1
        w = [math.exp(s - shift) for s in score]
        lam = filling_rate(w, quota, rest, math.exp(rest_score - shift))
        return [
            firm
            for firm, wi in zip(applicants, w, strict=True)
            if firm.u_approve > math.exp(-lam * wi)
        ]


def filling_rate(w: list[float], quota: float, rest: float, rest_w: float) -> float:
    """The lam at which the expected places taken, sum of 1 - exp(-lam w) over the applicants
    and the `rest` applicants of weight `rest_w`, equal `quota` (0 < quota < all applicants).

    Bisection on log lam: the expected places rise with lam from 0 to every applicant.
    """

    def taken(log_lam: float) -> float:
        lam = math.exp(log_lam)
        return sum(-math.expm1(-lam * wi) for wi in w) + rest * -math.expm1(-lam * rest_w)

    lo, hi = 0.0, 0.0
    while taken(lo) > quota:
        lo -= 1.0
    while taken(hi) < quota:
        hi += 1.0
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        if taken(mid) < quota:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


# --- the model ------------------------------------------------------------------------------
class PlainModel(mesa.Model):
    """Same arguments as `GrowthModel`: a scenario, a seed, levers on or off, fixed values."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        seed: int | np.random.SeedSequence | None = None,
        levers_on: bool = True,
        values: dict[str, float] | None = None,
    ) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(rng=root)
        sc = scenario if isinstance(scenario, Scenario) else load(scenario)
        self.scenario = sc
        self.ladder = sc.ladder()
        self.top = self.ladder.top
        self.tiers = [None, *self.ladder.tiers]  # level k -> Tier
        self.p = p = draw(sc.specs(), self.rng)
        if values:
            p.update(values)
        # an undated rate set explicitly applies to every year: its dated defaults go
        explicit = set(values or ()) | set(sc.parameters)
        for name in [k for k in p if k.rsplit(".", 1)[-1].isdigit()]:
            if name not in explicit and name.rsplit(".", 1)[0] in explicit:
                del p[name]
        self.year = sc.period.base_year
        self.end = sc.period.end
        # first year each title can be granted; one the baseline counts holders of is in place
        self.available_from = [None] + [
            None if t.id in sc.baseline.counts else t.available_from for t in self.ladder.tiers
        ]
        self.hazard = [p["exit.hazard.pool"]] + [p[f"exit.hazard.{t}"] for t in self.ladder.ids]
        # the places and rivals of each rationed title, drawn once for the replication as the
        # engine draws them (its own generator here); who wins them is decided below, per firm
        self.competition = competition.build(
            sc.place.level,
            sc.province,
            self.ladder.ids,
            list(range(self.year + 1, self.end + 1)),
            competition.ALL_PUBLISHED,
            self.rng,
            p,
            scale=p["competition.quota_scale"],
        )
        self._levers(sc.levers if levers_on else None)
        self.city = City(self)
        self.evaluator = Evaluator(self)
        self.closed_highest = [0] * (self.top + 1)
        self.firm_years = 0  # firms stepped, summed over the years (for throughput)
        self.history: list[dict] = []

        at_least = [0.0] * (self.top + 2)
        for tier_id in sc.baseline.counts:
            at_least[self.ladder.level(tier_id)] = p[f"baseline.counts.{tier_id}"]
        for k in range(self.top, 0, -1):
            at_least[k] = max(at_least[k], at_least[k + 1])
        counts = [int(p["baseline.candidates"])]
        counts += [int(at_least[k] - at_least[k + 1]) for k in range(1, self.top + 1)]
        # new firms' attributes from the engine's generators, each set-up or arrival drawing
        # from a group of streams of its own
        self.firm_key = self.rng.integers(2**63, dtype=np.uint64)
        self._groups = 0
        groups = [self._next_group() for _ in counts]
        self._add_firms(
            create_titled(np.array(counts), self.ladder, p, self.firm_key, self.year, groups)
        )
        self.new = [0] * (self.top + 1)
        self.lost = [0] * (self.top + 1)
        self.reviewed = [0] * (self.top + 1)
        self.applied = [0] * (self.top + 1)
        self.pool_size = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                t: (lambda m, k=k: m.history[-1]["at_least"][k])
                for k, t in enumerate(self.ladder.ids, start=1)
            }
        )
        self.collect()

    def _levers(self, lv) -> None:
        """Each lever's constants, read from the scenario section and the drawn values."""
        p, level = self.p, self.ladder.level
        self.awards = lv.awards if lv else None
        self.award = [0.0] * (self.top + 1)
        self.budget = INF
        if self.awards:
            for t in self.awards.by_tier:
                self.award[level(t)] = p[f"levers.awards.by_tier.{t}"]
            if self.awards.budget_yuan_per_year:
                self.budget = p["levers.awards.budget_yuan_per_year"]
        self.matching = lv.matching_subsidy if lv else None
        if self.matching:
            self.matching_level = level(self.matching.tier)
            self.matching_amount = (
                p["levers.matching_subsidy.share"]
                * p["levers.matching_subsidy.provincial_subsidy_yuan"]
            )
            self.matching_rate = p["levers.matching_subsidy.provincial_selection_rate"]
        self.loans = lv.loans if lv else None
        if self.loans:
            self.loan_level = level(self.loans.from_tier)
            fee, market = p["levers.loans.guarantee_fee"], p["loans.market_guarantee_fee"]
            uptake = p["loans.base_uptake"] * math.exp(
                -p["loans.fee_semi_elasticity"] * (fee - market)
            )
            self.loan_prob = min(max(p["levers.loans.coverage"] * uptake, 0.0), 1.0)
            gap = max(market - fee, 0.0) if self.loans.city_pays_fee_gap else 0.0
            self.loan_cost = gap * p["loans.size_yuan"]
        self.rd_support = lv.rd_support if lv else None
        if self.rd_support:
            self.rd_level = level(self.rd_support.from_tier)
            self.rd_min_intensity = p["levers.rd_support.min_rd_intensity"]
            self.rd_min_growth = p["levers.rd_support.min_rd_growth"]
            self.rd_share = p["levers.rd_support.share_of_last_year_rd"]
            self.rd_cap = p["levers.rd_support.cap_yuan"] if self.rd_support.cap_yuan else INF
        self.bring_in = lv.bring_in if lv else None
        self.pool = lv.cultivation_pool if lv else None
        stewards = lv.stewards if lv else None
        self.steward_tiers = {level(t) for t in stewards.tiers} if stewards else set()
        self.steward_coverage = p["levers.stewards.coverage"] if stewards else 0.0
        self.steward_cost = p["levers.stewards.cost_per_firm_yuan"] if stewards else 0.0

    def _next_group(self) -> int:
        """A fresh group of the streams new firms are drawn from."""
        self._groups += 1
        return self._groups

    def _add_firms(self, cols: dict[str, np.ndarray], **fixed) -> None:
        """Make one Firm agent per row of drawn attribute columns."""
        names = list(cols)
        rows = zip(*(cols[name].tolist() for name in names), strict=True)
        base = {
            "alive": True,
            "in_pool": False,
            "steward": False,
            "loan": False,
            "origin": 0,
            "rd_boost": 0.0,
            "awarded_yuan": 0.0,
        }
        base.update(fixed)
        for row in rows:
            state = dict(zip(names, row, strict=True))
            state.update(base)
            Firm(self, state)

    @property
    def firms(self):
        return self.agents_by_type[Firm]

    def step(self) -> None:
        """One year: entry, the pool, every firm's growth, the evaluators' titles, every
        firm's re-review and exit, awards paid, collection."""
        self.year += 1
        p = self.p
        self.city.reset_year()
        self.new = [0] * (self.top + 1)
        self.lost = [0] * (self.top + 1)
        self.reviewed = [0] * (self.top + 1)
        self.applied = [0] * (self.top + 1)
        # entry: candidates born this year, titled firms brought in
        born = int(self.rng.poisson(p["baseline.candidate_inflow_per_year"]))
        draws = FirmDraws(self.firm_key, self._next_group())
        self._add_firms(draw_firms(born, 0, p, draws, self.year), years_in_niche=1)
        if self.bring_in:
            level = self.ladder.level(self.bring_in.tier)
            k = int(
                self.rng.binomial(
                    round(p["levers.bring_in.firms_per_year"]), p["levers.bring_in.success_rate"]
                )
            )
            if k:
                cols = create_at_level(
                    k, level, self.ladder, p, self.firm_key, self.year, self._next_group()
                )
                self._add_firms(cols, origin=BROUGHT_IN, title_year=self.year)
                self.city.spend("bring_in", k * p["levers.bring_in.cost_per_firm_yuan"])
        self.year_shock = p["economy.year_shock_sd"] * self.random.gauss(0.0, 1.0)
        self._titles_this_year()
        # the cultivation pool: the firms below a tier with the highest R&D intensity
        self.pool_size = 0
        for firm in self.firms:
            firm.in_pool = False
        if self.pool:
            below = self.ladder.level(self.pool.below_tier)
            cands = [f for f in self.firms if f.tier < below]
            cands.sort(key=lambda f: -f.rd_intensity)
            for firm in cands[: int(round(p["levers.cultivation_pool.size"]))]:
                firm.in_pool = True
                self.pool_size += 1
            self.city.spend(
                "cultivation_pool", self.pool_size * p["levers.cultivation_pool.cost_per_firm_yuan"]
            )
        self.firm_years += len(self.firms)
        self.firms.do("grow_and_invest")
        self.recognise()
        self.firms.do("review_and_exit")
        self.city.pay()
        self.collect()

    def recognise(self) -> None:
        """Titles from the top down: each level's applicants are judged together by the
        evaluator; a firm granted a title this year applies for no other."""
        firms = list(self.firms)
        for k in range(self.top, 0, -1):
            applicants = [
                firm
                for firm in firms
                if firm.tier == firm.start_tier
                and k in self.next_titles[firm.start_tier]
                and firm.applies_for(k)
            ]
            self.applied[k] = len(applicants)
            for firm in self.evaluator.approve(k, applicants):
                firm.recognised(k)

    def granted(self, k: int, year: int) -> bool:
        first = self.available_from[k]
        return first is None or year >= first

    def _titles_this_year(self) -> None:
        """This year's titles a firm at each level may apply for, application and approval
        rates, and where re-review failures drop to."""
        year, top = self.year, self.top
        below = {  # the title a firm must hold to apply for k: the highest granted before
            k: max(j for j in range(k) if j == 0 or self.granted(j, year - 1))
            for k in range(1, top + 1)
        }
        self.next_titles = [
            [k for k in range(t + 1, top + 1) if self.granted(k, year) and below[k] <= t]
            for t in range(top + 1)
        ]
        self.drop_to = [0] + [
            max(j for j in range(k) if j == 0 or self.granted(j, year)) for k in range(1, top + 1)
        ]
        # a dated rate (a year that happened) wins over the undated one
        p, ids = self.p, self.ladder.ids
        self.apply_base = [0.0] + [
            p.get(f"apply.base.{t}.{year}", p[f"apply.base.{t}"]) for t in ids
        ]
        self.approval = [0.0] + [p.get(f"approval.{t}.{year}", p[f"approval.{t}"]) for t in ids]

    def collect(self) -> None:
        exactly = [0] * (self.top + 1)
        highest = list(self.closed_highest)
        pool = 0
        for firm in self.firms:
            exactly[firm.tier] += 1
            highest[firm.highest_tier] += 1
            pool += firm.in_pool
        ever = [sum(highest[k:]) for k in range(self.top + 1)]
        if not self.history:  # titles held at the base year are not counted as cultivated ...
            self.ever_base = list(ever)
            created = self.scenario.baseline.created_in_start_year
            for k in sorted((self.ladder.level(t) for t in created), reverse=True):
                # ... except those of a title created in the first year (its first list)
                self.ever_base[k] = self.ever_base[k + 1] if k < self.top else 0
            ever = list(self.ever_base)
        self.history.append(
            {
                "year": self.year,
                "exactly": exactly,
                "at_least": [sum(exactly[k:]) for k in range(self.top + 1)],
                "new": list(self.new),
                "ever": [e - b for e, b in zip(ever, self.ever_base, strict=True)],
                "lost": list(self.lost),
                "reviewed": list(self.reviewed),
                "applied": list(self.applied),
                "pool_size": pool,
                "cost": dict(self.city.cost),
            }
        )
        self.datacollector.collect(self)

    def run_model(self) -> None:
        while self.year < self.end:
            self.step()
