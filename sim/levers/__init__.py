"""Policy levers: what each changes in the yearly cycle, and what it costs.

Each lever is built from its scenario section and the replication's drawn values, and follows
the `Lever` protocol: the model calls every phase method of every lever, in the order of the
yearly cycle, and a lever acts in the phases it overrides. A lever changes firms only through
their columns, which the compiled kernels read without knowing any lever:

* `apply_odds`: odds multiplier of applying for a title this year (the model resets it to 1
  in the select phase; the cultivation pool and the stewards multiply it);
* `growth_boost`, `rd_log_boost`, `debt_added`: log revenue growth, log R&D intensity and
  debt ratio added this year (reset to 0 in the finance phase; a policy loan fills them);
* cash: claimed from the city (`City.claim`) and settled in the awards phase under the award
  rules and budget; a firm spends `rd_share_of_cash` of it on R&D next year (`rd_boost`).

Other spending (stewards, pool services, guarantee-fee subsidies, firms brought in) is booked
with `City.spend`. One exception remains: the award's effect on applying depends on the level
a firm applies for, so `kernels.applicants` takes the awards' amounts per level (`Awards.amount`).

Effect sizes are model parameters (sim/data/parameters.yaml), each with a range and a source
or the label "assumption".
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import binom

from sim.engine import kernels
from sim.engine.firms import BRING_IN_GROUP, BROUGHT_IN, create_at_level

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel

LEVER_NAMES = (
    "awards",
    "matching_subsidy",
    "loans",
    "rd_support",
    "bring_in",
    "cultivation_pool",
    "stewards",
)


class Lever:
    """What the model calls on every lever, in the order of the yearly cycle.

    Each method is a no-op here; a lever overrides the phases it acts in. `name` is the lever's
    key in a scenario's `levers:` section and in `LEVER_NAMES` (costs are booked under it).
    `CASH_TO_RD` names the parameter giving the share of this lever's cash a firm spends on R&D.
    """

    name: str = ""
    CASH_TO_RD = "rd.award_share"

    def prepare(self, model: GrowthModel) -> None:
        """At set-up, after the baseline firms exist."""

    def entry(self, model: GrowthModel) -> None:
        """Entry phase: after the year's born candidates come alive."""

    def select(self, model: GrowthModel) -> None:
        """Select phase: firms served this year (`apply_odds` was reset to 1)."""

    def finance(self, model: GrowthModel) -> None:
        """Finance phase: loans and subsidies (this year's boosts were reset to 0)."""

    def invest(self, model: GrowthModel) -> None:
        """After growth and R&D: rewards judged on this year's R&D."""

    def recognised(
        self, model: GrowthModel, level: int, idx: np.ndarray, first: np.ndarray
    ) -> None:
        """Firms `idx` were granted `level` this year (`first`: their first title that high)."""

    def re_reviewed(self, model: GrowthModel, level: int, idx: np.ndarray) -> None:
        """Firms `idx` passed the re-review of `level` this year."""


class Awards(Lever):
    """Cash award per title.

    Changes: recognition (the award raises the chance an eligible firm applies, in proportion
    to the award over the firm's revenue; the model reads `amount` and `once_per_firm` when
    firms decide to apply, in `kernels.applicants`) and R&D (a share of the award is spent on
    R&D next year). Costs: the awards paid, within the yearly budget.
    Rules: first recognition only (or also on re-review pass); the highest only within a year;
    at most once per firm; a yearly budget cap.
    """

    name = "awards"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.on = spec.on
        self.highest_only = spec.highest_only
        self.once_per_firm = spec.once_per_firm
        self.amount = np.zeros(ladder.top + 1)
        for tier_id in spec.by_tier:
            self.amount[ladder.level(tier_id)] = p[f"levers.awards.by_tier.{tier_id}"]
        self.budget = (
            p["levers.awards.budget_yuan_per_year"] if spec.budget_yuan_per_year else np.inf
        )

    def recognised(self, model: GrowthModel, level: int, idx: np.ndarray, first: np.ndarray):
        f = model.firms
        owed = np.where(first, self.amount[level], 0.0)
        if self.once_per_firm:
            owed = np.where(f.awarded_yuan[idx] > 0, 0.0, owed)
        model.city.claim(self.name, idx, owed)

    def re_reviewed(self, model: GrowthModel, level: int, idx: np.ndarray):
        if self.on != "recognition_or_re_review":
            return
        owed = np.full(idx.size, self.amount[level])
        if self.once_per_firm:
            owed = np.where(model.firms.awarded_yuan[idx] > 0, 0.0, owed)
        model.city.claim(self.name, idx, owed)


class MatchingSubsidy(Lever):
    """City top-up of the province's equipment/software subsidy to a title's holders.

    Changes: R&D (cash, like an award). Costs: share x provincial subsidy for each holder the
    province subsidises in a year (selection rate per holder-year).
    """

    name = "matching_subsidy"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.tier)
        self.amount = (
            p["levers.matching_subsidy.share"]
            * p["levers.matching_subsidy.provincial_subsidy_yuan"]
        )
        self.rate = p["levers.matching_subsidy.provincial_selection_rate"]

    def finance(self, model: GrowthModel) -> None:
        f = model.firms
        holders = np.flatnonzero(f.alive & (f.tier == self.level))
        idx = holders[model.uniform("matching_subsidy", holders) < self.rate]
        model.city.claim(self.name, idx, np.full(idx.size, self.amount))


class Loans(Lever):
    """Policy loans and guarantees for titled firms.

    Changes: finance (titled firms from `from_tier` up take a loan with probability
    coverage x base uptake x exp(-s (fee - market fee))); a loan raises growth, R&D and debt
    that year. Costs: when the city pays the guarantee-fee gap, (market fee - fee) x loan size.
    """

    name = "loans"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.from_tier)
        fee = p["levers.loans.guarantee_fee"]
        market = p["loans.market_guarantee_fee"]
        uptake = p["loans.base_uptake"] * np.exp(-p["loans.fee_semi_elasticity"] * (fee - market))
        self.prob = float(np.clip(p["levers.loans.coverage"] * uptake, 0.0, 1.0))
        gap = max(market - fee, 0.0) if spec.city_pays_fee_gap else 0.0
        self.cost_per_loan = gap * p["loans.size_yuan"]
        self.growth_effect = p["growth.loan_effect"]
        self.rd_effect = p["rd.loan_effect"]
        self.debt_increase = p["firm.loan_debt_increase"]

    def finance(self, model: GrowthModel) -> None:
        f = model.firms
        titled = np.flatnonzero(f.alive & (f.tier >= self.level))
        borrowers = titled[model.uniform("loan", titled) < self.prob]
        f.loan[borrowers] = True  # the model cleared last year's loans and boosts
        f.growth_boost[borrowers] += self.growth_effect
        f.rd_log_boost[borrowers] += self.rd_effect
        f.debt_added[borrowers] += self.debt_increase
        model.city.spend(self.name, self.cost_per_loan * borrowers.size)


class RDSupport(Lever):
    """Reward of a share of last year's R&D to firms over R&D thresholds (Zhejiang 措施5).

    At the end of each year, firms whose R&D intensity and R&D growth that year pass the
    thresholds are owed a share of that year's R&D spending (their "last year's" R&D when the
    reward is paid). Changes: R&D (the reward raises next year's intensity by
    crowding-in x reward / revenue).
    Costs: the rewards, paid as cash claims.
    """

    name = "rd_support"
    CASH_TO_RD = "rd.support_crowding_in"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.from_tier)
        self.min_rd = p["levers.rd_support.min_rd_intensity"]
        self.min_growth = p["levers.rd_support.min_rd_growth"]
        self.share = p["levers.rd_support.share_of_last_year_rd"]
        self.cap = p["levers.rd_support.cap_yuan"] if spec.cap_yuan else np.inf

    def invest(self, model: GrowthModel) -> None:
        f = model.firms
        idx = np.flatnonzero(f.alive & (f.tier >= self.level) & (f.rd_intensity >= self.min_rd))
        v = f.values(idx)
        ok = v("rd_growth") >= self.min_growth
        # a share of the R&D of the year just measured (the year before the reward is paid)
        reward = np.minimum(self.share * v("rd_spend_yuan")[ok], self.cap)
        model.city.claim(self.name, idx[ok], reward)


def binomial_from_uniform(n: int, p: float, u: float) -> int:
    """The Binomial(n, p) count at the uniform `u`, by inverting the CDF.

    One uniform a year whatever `n` and `p`, and the count rises with both: a run that plans
    more arrivals, or expects more of them to land, keeps this run's arrivals and adds to them
    (common random numbers across inputs).
    """
    if p >= 1.0:
        return n
    if p <= 0.0 or n <= 0:
        return 0
    pmf = (1.0 - p) ** n
    if pmf < 1e-250:  # the recurrence would start from an underflow: scipy's inverse
        return int(binom.ppf(u, n, p))
    cdf, k, odds = pmf, 0, p / (1.0 - p)
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1) * odds
        k += 1
        cdf += pmf
    return k


class BringIn(Lever):
    """Titled firms brought in from outside (招引).

    Changes: entry (each year, Binomial(firms_per_year, success_rate) firms arrive holding
    `tier`, drawn to meet its criteria). Costs: cost per firm brought in.
    """

    name = "bring_in"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.level = ladder.level(spec.tier)
        self.n = int(round(p["levers.bring_in.firms_per_year"]))
        self.success = p["levers.bring_in.success_rate"]
        self.cost = p["levers.bring_in.cost_per_firm_yuan"]
        self._reserve: dict[str, np.ndarray] | None = None

    def prepare(self, model: GrowthModel) -> None:
        """At set-up, every candidate arrival of the period, drawn at once (one batch).

        Like the candidates born in the place, the firms that may be brought in are drawn when
        the model is built; each year's arrivals are then the next ones of this reserve.
        """
        n_max = self.n * len(model.period.years)
        self._reserve = create_at_level(
            n_max, self.level, model.ladder, model.p, model.firm_key, model.year, BRING_IN_GROUP
        )
        self._used = 0

    def entry(self, model: GrowthModel) -> None:
        # relaxed (`srdi diagnose`): every planned firm lands; the same stream is drawn from
        success = 1.0 if "bring_in" in model.relax else self.success
        k = binomial_from_uniform(self.n, success, float(model.bring_in_rng.random()))
        if k == 0:
            return
        cols = {name: arr[self._used : self._used + k] for name, arr in self._reserve.items()}
        self._used += k
        cols["origin"] = np.full(k, BROUGHT_IN, dtype=np.int8)
        cols["title_year"] = np.full(k, model.year)
        idx = model.firms.add(cols)
        model.brought_in[self.level] += idx.size
        model.city.spend(self.name, self.cost * idx.size)


class CultivationPool(Lever):
    """The cultivation pool (培育库).

    Changes: each year the `size` alive firms below `below_tier` with the highest R&D
    intensity are in the pool; pool firms apply with higher odds (apply.pool_multiplier).
    Costs: cost per pool firm-year (guidance, growth plans).
    """

    name = "cultivation_pool"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.size = int(round(p["levers.cultivation_pool.size"]))
        self.below = ladder.level(spec.below_tier)
        self.cost = p["levers.cultivation_pool.cost_per_firm_yuan"]
        self.odds = 1.0 + (p["apply.pool_multiplier"] - 1.0)

    def select(self, model: GrowthModel) -> None:
        f = model.firms
        f.in_pool[:] = False
        cand = np.flatnonzero(f.alive & (f.tier < self.below))
        if cand.size > self.size:
            # the `size` firms with the highest R&D intensity (an observable); O(n) selection
            top = np.argpartition(-f.rd_intensity[cand], self.size - 1)[: self.size]
            cand = cand[top]
        f.in_pool[cand] = True
        f.apply_odds[cand] *= self.odds
        model.city.spend(self.name, self.cost * cand.size)


class Stewards(Lever):
    """Service stewards (服务管家) for firms holding the listed titles.

    Changes: recognition (firms with a steward apply with higher odds, apply.steward_multiplier).
    Costs: cost per firm-year served.
    """

    name = "stewards"

    def __init__(self, spec, p: dict[str, float], ladder) -> None:
        self.levels = np.zeros(ladder.top + 1, dtype=bool)
        for t in spec.tiers:
            self.levels[ladder.level(t)] = True
        self.coverage = p["levers.stewards.coverage"]
        self.cost = p["levers.stewards.cost_per_firm_yuan"]
        self.odds = 1.0 + (p["apply.steward_multiplier"] - 1.0)

    def select(self, model: GrowthModel) -> None:
        f = model.firms
        served, drawn = kernels.assign_stewards(
            f.alive,
            f.draw_id,
            f.tier,
            self.levels,
            model.key("steward"),
            self.coverage,
            f.steward,
        )
        model.random_numbers["uniform"] += drawn
        f.apply_odds[f.steward] *= self.odds
        model.city.spend(self.name, self.cost * served)


_CLASSES = {
    "awards": Awards,
    "matching_subsidy": MatchingSubsidy,
    "loans": Loans,
    "rd_support": RDSupport,
    "bring_in": BringIn,
    "cultivation_pool": CultivationPool,
    "stewards": Stewards,
}


def cash_to_rd_shares(p: dict[str, float]) -> np.ndarray:
    """Per lever, in `LEVER_NAMES` order, the share of its cash a firm spends on R&D."""
    return np.array([p[_CLASSES[name].CASH_TO_RD] for name in LEVER_NAMES])


def build_levers(
    levers_spec, p: dict[str, float], ladder, off: Collection[str] = ()
) -> list[Lever]:
    """The lever objects a scenario switches on, in a fixed order, less those named in `off`."""
    out = []
    for name in LEVER_NAMES:
        spec = getattr(levers_spec, name)
        if spec is not None and name not in off:
            out.append(_CLASSES[name](spec, p, ladder))
    return out
