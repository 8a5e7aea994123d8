"""GrowthModel: one place's firms climbing the SRDI ladder, one year per `step()`.

The yearly cycle (MODEL.md) as named phases:
entry -> select (pool, stewards) -> finance -> grow -> invest (R&D and IP) -> recognise ->
re_review -> pay_awards -> exit -> collect.
Awards are settled after re-review so that re-review awards (Zhanjiang) and the rule "only the
highest award within a year" see every claim of the year before the budget is applied.

Randomness: everything derives from the seed given to the model (a `SeedSequence` or int).
The dynamics draw, each year, one matrix of uniforms and one of normals with a row per firm,
from a generator keyed by the year. Firms born in the place are allocated at the start (their
birth year fixed), and firms brought in are appended after them, so a firm has the same row
in a run and in its counterfactual: common random numbers hold firm by firm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mesa
import numpy as np
from scipy.special import ndtri, pdtr

from .firms import COLUMNS, NATIVE, Firm, FirmPopulation, create_titled, draw_firms
from .ladder import Explanation
from .levers import LEVER_NAMES, build_levers
from .parameters import draw
from .scenario import Scenario, load

# Columns of the per-year uniform matrix (one uniform per firm and purpose).
UNIFORMS = (
    "apply",
    "approve",
    "re_review",
    "exit",
    "loan",
    "steward",
    "matching_subsidy",
    "ip_class1",
    "ip_class2",
)
# Columns of the per-year normal matrix.
NORMALS = ("growth", "rd", "main_share", "debt_ratio")
# Child streams of the model's seed sequence.
STREAMS = ("parameters", "baseline", "births", "dynamics", "bring_in")


@dataclass
class YearRecord:
    """What one year produced, per level 0..top (index = level)."""

    year: int
    exactly: np.ndarray
    at_least: np.ndarray
    new: np.ndarray
    ever: np.ndarray  # firms that reached at least the level after the base year (cumulative)
    lost: np.ndarray
    reviewed: np.ndarray
    brought_in: np.ndarray
    pool_size: int
    cost: dict[str, float]
    budget_left: float


def _sweep_py(lam, u, cdf, k, sweeps):
    """Sequential search of the CDF from 0 for each firm, at most `sweeps` steps.

    Returns the firms still unsettled (their k is `sweeps`); `cdf` holds exp(-lam) on entry.
    """
    active = np.flatnonzero(u > cdf)
    pmf, cdf, lam_a, u_a = cdf[active], cdf[active], lam[active], u[active]
    for j in range(1, sweeps + 1):
        if not active.size:
            break
        k[active] += 1
        pmf *= lam_a / j
        cdf += pmf
        go = u_a > cdf
        active, pmf, cdf, lam_a, u_a = active[go], pmf[go], cdf[go], lam_a[go], u_a[go]
    return active


def poisson_from_uniform(lam: np.ndarray, u: np.ndarray, sweeps: int = 10) -> np.ndarray:
    """Poisson draws by inverting the CDF at given uniforms (one per firm).

    Unlike `Generator.poisson`, a firm's draw depends only on its own rate and uniform, so a
    change in one firm's rate (an award raising its R&D) leaves every other firm's draw alone:
    common random numbers hold for IP too. A few sweeps of the CDF settle almost every firm;
    the rare remainder (large rates, uniforms near 1) gets the exact inverse.
    """
    lam = np.asarray(lam, dtype=np.float64)
    k = np.zeros(lam.shape, dtype=np.int16)
    cdf = np.exp(-lam)
    active = _sweep_py(lam, u, cdf, k, sweeps)
    lam_a, u_a = lam[active], u[active]
    if active.size:  # exact inverse: the smallest k with pdtr(k, lam) >= u
        u_a = u_a.astype(np.float64)
        z = ndtri(u_a)  # Cornish-Fisher start, then one-step corrections on the exact CDF
        g = np.maximum(np.floor(lam_a + np.sqrt(lam_a) * z + (z * z - 1.0) / 6.0), 0.0)
        up = np.flatnonzero(pdtr(g, lam_a) < u_a)
        while up.size:
            g[up] += 1.0
            up = up[pdtr(g[up], lam_a[up]) < u_a[up]]
        down = np.flatnonzero(g > 0)
        while down.size:
            down = down[pdtr(g[down] - 1.0, lam_a[down]) >= u_a[down]]
            g[down] -= 1.0
            down = down[g[down] > 0]
        k[active] = g.astype(np.int16)
    return k


class City(mesa.Agent):
    """The city government: collects cash claims on its budget, pays them, books other costs."""

    def __init__(self, model: GrowthModel, awards) -> None:
        super().__init__(model)
        self.awards = awards
        self.reset_year()

    def reset_year(self) -> None:
        self.claims: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.cost = dict.fromkeys(LEVER_NAMES, 0.0)
        self.budget_left = self.awards.budget if self.awards else np.inf

    def claim(self, lever: str, idx: np.ndarray, amount: np.ndarray) -> None:
        """Register cash owed to firms `idx` by `lever`, paid in the awards phase."""
        if idx.size:
            self.claims.append((lever, np.asarray(idx), np.asarray(amount, dtype=np.float64)))

    def spend(self, lever: str, amount: float) -> None:
        """Book non-cash spending (services, fee subsidies, firms brought in)."""
        self.cost[lever] += float(amount)

    def pay(self) -> None:
        """Settle the year's claims: highest only per firm if the rules say so, budget last.

        The budget binds on title awards; when it runs out, firms are paid in a random order
        (a lottery among the year's claims) until it is spent.
        """
        if not self.claims:
            return
        model: GrowthModel = self.model
        f = model.firms
        n = f.n
        lever_ids = np.concatenate(
            [np.full(i.size, LEVER_NAMES.index(lv)) for lv, i, _ in self.claims]
        )
        idx = np.concatenate([i for _, i, _ in self.claims])
        amt = np.concatenate([a for _, _, a in self.claims])
        keep = amt > 0
        lever_ids, idx, amt = lever_ids[keep], idx[keep], amt[keep]
        if self.awards is not None and self.awards.highest_only and idx.size:
            # per firm, keep the single largest claim (ties: the earlier lever)
            order = np.lexsort((lever_ids, -amt, idx))
            first = np.ones(order.size, dtype=bool)
            first[1:] = idx[order][1:] != idx[order][:-1]
            sel = order[first]
            lever_ids, idx, amt = lever_ids[sel], idx[sel], amt[sel]
        award_lever = LEVER_NAMES.index("awards")
        capped = lever_ids == award_lever
        if np.isfinite(self.budget_left) and amt[capped].sum() > self.budget_left:
            pos = np.flatnonzero(capped)
            u = model.uniform("apply")[idx[pos]]  # reuse a per-firm uniform: deterministic lottery
            pos = pos[np.argsort(u, kind="stable")]
            ok = np.cumsum(amt[pos]) <= self.budget_left
            drop = pos[~ok]
            amt[drop] = 0.0
        paid_awards = amt[capped].sum()
        self.budget_left -= paid_awards
        for k, name in enumerate(LEVER_NAMES):
            m = lever_ids == k
            if m.any():
                self.cost[name] += float(amt[m].sum())
        # cash effects on next year's R&D
        award_cash = np.bincount(
            idx, weights=np.where(lever_ids == award_lever, amt, 0), minlength=n
        )
        f.awarded_yuan[:] += award_cash.astype(np.float32)
        rd_support = lever_ids == LEVER_NAMES.index("rd_support")
        support_cash = np.bincount(idx, weights=np.where(rd_support, amt, 0), minlength=n)
        other_cash = np.bincount(idx, weights=np.where(~rd_support, amt, 0), minlength=n)
        boost = (
            model.p["rd.award_share"] * other_cash
            + model.p["rd.support_crowding_in"] * support_cash
        ) / np.maximum(f.revenue_yuan, 1.0)
        f.rd_boost[:] = boost.astype(np.float32)


class Evaluator(mesa.Agent):
    """An evaluator of titles (the province or MIIT): approves applicants, re-reviews holders."""

    def __init__(self, model: GrowthModel, granted_by: str, levels: list[int]) -> None:
        super().__init__(model)
        self.granted_by = granted_by
        self.levels = levels
        self.approval = {k: model.p[f"approval.{model.ladder.tier(k).id}"] for k in levels}

    def approve(self, level: int, applicants: np.ndarray) -> np.ndarray:
        """Indices of the applicants approved at `level` this year.

        A dated rate `approval.<tier>.<year>` (a batch that happened) takes precedence over the
        undated one, which stands for the years without a dated value (future batches).
        """
        m = self.model
        rate = m.p.get(f"approval.{m.ladder.tier(level).id}.{m.year}", self.approval[level])
        u = m.uniform("approve")[applicants]
        return applicants[u < rate]


class GrowthModel(mesa.Model):
    """A place's candidate firms and titled firms, and the policy levers acting on them.

    Args:
        scenario: a `Scenario` or the path of a scenario file.
        seed: an int or `numpy.random.SeedSequence`; all randomness derives from it.
        levers_on: False runs the counterfactual with every lever off (same draws).
        values: override of drawn quantities by dotted path (for sweeps and calibration).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        seed: int | np.random.SeedSequence | None = None,
        levers_on: bool = True,
        values: dict[str, float] | None = None,
    ) -> None:
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(rng=root)
        self.scenario = scenario if isinstance(scenario, Scenario) else load(scenario)
        self.ladder = self.scenario.ladder()
        self.top = self.ladder.top
        self.levers_on = levers_on
        # children derived without spawning: `spawn` would mutate the caller's SeedSequence, and a
        # second model on the same seed (the counterfactual) would get different streams
        streams = {
            name: np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i))
            for i, name in enumerate(STREAMS)
        }
        self._streams = streams
        self.bring_in_rng = np.random.default_rng(streams["bring_in"])
        self.p = draw(self.scenario.specs(), np.random.default_rng(streams["parameters"]))
        if values:
            self.p.update(values)
        # an undated rate set explicitly (here or in the scenario's parameters) applies to every
        # year: dated defaults (`<name>.<year>`) that are not set explicitly too are dropped
        explicit = set(values or ()) | set(self.scenario.parameters)
        for name in [k for k in self.p if k.rsplit(".", 1)[-1].isdigit()]:
            if name not in explicit and name.rsplit(".", 1)[0] in explicit:
                del self.p[name]
        self.period = self.scenario.period
        self.year = self.period.base_year
        self.firms = FirmPopulation()
        self._create_baseline(np.random.default_rng(streams["baseline"]))
        self._allocate_births(np.random.default_rng(streams["births"]))
        self.levers = build_levers(self.scenario.levers, self.p, self.ladder) if levers_on else []
        awards = next((lv for lv in self.levers if lv.name == "awards"), None)
        self.awards = awards
        self.city = City(self, awards)
        self.evaluators = {}
        # one evaluator per granting level present (a scenario's local tier may be a city's)
        granting = ["province", "national"] + [t.granted_by for t in self.ladder.tiers]
        for g in dict.fromkeys(granting):
            levels = [k for k in range(1, self.top + 1) if self.ladder.tier(k).granted_by == g]
            self.evaluators[g] = Evaluator(self, g, levels)
        self._evaluator_of = {
            k: self.evaluators[self.ladder.tier(k).granted_by] for k in range(1, self.top + 1)
        }
        # first year each level can be granted (ladder `available_from`); a title the scenario's
        # baseline counts holders of is in place from the base year
        self._available_from = [None] + [
            None if t.id in self.scenario.baseline.counts else t.available_from
            for t in self.ladder.tiers
        ]
        self.history: list[YearRecord] = []
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        self._u: np.ndarray | None = None
        self._z: np.ndarray | None = None
        # the base year as the first record: the state every forecast starts from
        self.brought_in = np.zeros(self.top + 1, dtype=np.int64)
        zeros = np.zeros(self.top + 1, dtype=np.int64)
        self.collect(zeros, zeros, zeros)

    # --- set-up ------------------------------------------------------------------------------
    def _create_baseline(self, rng: np.random.Generator) -> None:
        """Firms at the end of the base year: counts per title from the scenario's baseline."""
        at_least = np.zeros(self.top + 2)
        for tier_id in self.scenario.baseline.counts:
            at_least[self.ladder.level(tier_id)] = self.p[f"baseline.counts.{tier_id}"]
        # a missing count inherits the one above it; stocks cannot rise with the level
        for k in range(self.top, 0, -1):
            at_least[k] = max(at_least[k], at_least[k + 1])
        exactly = (at_least[1:-1] - at_least[2:]).astype(int)
        counts = np.concatenate([[int(self.p["baseline.candidates"])], exactly])
        self.firms.add(create_titled(counts, self.ladder, self.p, rng, self.year))
        self.n_base = self.firms.n

    def _allocate_births(self, rng: np.random.Generator) -> None:
        """Pre-draw the candidates born in each year of the period (not alive until then)."""
        self.birth_blocks: dict[int, np.ndarray] = {}
        years = self.period.years
        born = rng.poisson(self.p["baseline.candidate_inflow_per_year"], len(years))
        # room for every firm of the run: the births, and the most firms levers can bring in
        lever = self.scenario.levers.bring_in if self.levers_on else None
        most_brought_in = (
            int(round(self.p["levers.bring_in.firms_per_year"])) * len(years) if lever else 0
        )
        self.firms.reserve(self.firms.n + int(born.sum()) + most_brought_in)
        cols = draw_firms(int(born.sum()), 0, self.p, rng, self.year)
        cols["alive"] = np.zeros(born.sum(), dtype=bool)
        cols["years_in_niche"] = np.ones(born.sum(), dtype=np.int16)
        idx = self.firms.add(cols)
        for year, block in zip(years, np.split(idx, np.cumsum(born)[:-1]), strict=True):
            self.birth_blocks[year] = block
        self.n_native = self.firms.n

    def _reporters(self) -> dict:
        rep = {}
        for k, t in enumerate(self.ladder.tiers, start=1):
            rep[t.id] = lambda m, k=k: int(m.history[-1].at_least[k])
            rep[f"new_{t.id}"] = lambda m, k=k: int(m.history[-1].new[k])
        rep["cost_yuan"] = lambda m: float(sum(m.history[-1].cost.values()))
        return rep

    # --- random numbers ----------------------------------------------------------------------
    def _draw_year(self) -> None:
        ss = self._streams["dynamics"]
        rng = np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, self.year))
        )
        # the common shock first, so that it does not depend on the number of firms
        self._year_shock = float(self.p["economy.year_shock_sd"] * rng.standard_normal())
        n = self.firms.n
        self._u = self._z = None  # last year's draws go before this year's arrive
        self._u = rng.random((n, len(UNIFORMS)), dtype=np.float32)
        # normals from their own generator: with firms brought in, n differs between a run and
        # its counterfactual, and a shared generator would shift the normals of every firm
        normals = np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, self.year, 1))
        )
        self._z = normals.standard_normal((n, len(NORMALS)), dtype=np.float32)

    def uniform(self, name: str) -> np.ndarray:
        """This year's uniform per firm for one purpose (rows are firm indices)."""
        return self._u[:, UNIFORMS.index(name)]

    draws = uniform

    def normal(self, name: str) -> np.ndarray:
        return self._z[:, NORMALS.index(name)]

    # --- the year ----------------------------------------------------------------------------
    def step(self) -> None:
        """One year of the cycle."""
        self.year += 1
        self.city.reset_year()
        self.brought_in = np.zeros(self.top + 1, dtype=np.int64)
        self.entry()
        self._draw_year()
        self.select()
        self.finance()
        self.grow()
        self.invest()
        newly = self.recognise()
        lost, reviewed = self.re_review()
        self.pay_awards()
        self.exit()
        self.collect(newly, lost, reviewed)
        self.running = self.year < self.period.end  # mesa.batch_run stops at the period's end

    def entry(self) -> None:
        """Candidates born this year come alive; levers bring in titled firms from outside."""
        born = self.birth_blocks.get(self.year)
        if born is not None:
            self.firms.alive[born] = True
        for lever in self.levers:
            if hasattr(lever, "entry"):
                lever.entry(self)

    def select(self) -> None:
        """The cultivation pool and the service stewards are assigned for the year."""
        for lever in self.levers:
            if hasattr(lever, "select"):
                lever.select(self)

    def finance(self) -> None:
        """Titled firms take policy loans; subsidies with yearly selection are claimed."""
        self.firms.loan[:] = False
        for lever in self.levers:
            if hasattr(lever, "finance"):
                lever.finance(self)

    def grow(self) -> None:
        """log revenue moves by capability drift, loan and title effects, and shocks."""
        f, p = self.firms, self.p
        alive = f.alive
        dlog = (
            p["economy.growth_mean"]
            + self._year_shock
            + p["growth.capability_effect"] * f.capability
            + p["growth.loan_effect"] * f.loan
            + p["growth.title_effect"] * (f.tier > 0)
            + p["growth.shock_sd"] * self.normal("growth")
        ).astype(np.float32)
        dlog = np.where(alive, dlog, np.float32(0.0))
        f.growth_prev[:] = f.growth
        f.growth[:] = np.expm1(dlog)
        f.revenue_prev_yuan[:] = f.revenue_yuan
        f.revenue_yuan[:] = f.revenue_yuan * np.exp(dlog)
        f.years_in_niche[:] += alive
        a = np.float32(p["firm.adjust_speed"])
        sd = np.float32(p["firm.ratio_shock_sd"])
        share_level = p["firm.main_share_mean"] + 0.5 * p["firm.main_share_sd"] * f.capability
        f.main_share[:] = np.clip(
            f.main_share + a * (share_level - f.main_share) + sd * self.normal("main_share"),
            0.05,
            1.0,
        )
        debt_level = p["firm.debt_ratio_mean"] - 0.3 * p["firm.debt_ratio_sd"] * f.capability
        f.debt_ratio[:] = np.clip(
            f.debt_ratio
            + a * (debt_level - f.debt_ratio)
            + p["firm.loan_debt_increase"] * f.loan
            + sd * self.normal("debt_ratio"),
            0.0,
            1.5,
        )

    def invest(self) -> None:
        """R&D intensity moves toward its capability level; cash received adds to it; IP arrives.

        R&D rewards (a lever's `invest`) are judged on this year's R&D once it is known and
        paid at the year's end, so they raise next year's R&D.
        """
        f, p = self.firms, self.p
        target = np.log(p["rd.base_intensity"]) + p["rd.capability_effect"] * f.capability
        log_rd = np.log(np.maximum(f.rd_intensity, 1e-4))
        log_rd = (
            log_rd
            + p["rd.adjust_speed"] * (target - log_rd)
            + p["rd.loan_effect"] * f.loan
            + p["rd.shock_sd"] * self.normal("rd")
        )
        f.rd_intensity_prev[:] = f.rd_intensity
        f.rd_intensity[:] = np.minimum(np.exp(log_rd) + f.rd_boost, 0.5)
        f.rd_boost[:] = 0.0
        for lever in self.levers:
            if hasattr(lever, "invest"):
                lever.invest(self)
        rd_m = (f.rd_intensity * f.revenue_yuan * 1e-6) ** 0.8
        rate = rd_m * np.exp(p["ip.capability_effect"] * f.capability) * f.alive
        # one class at a time: half the temporaries of one call on both
        for column, rate_of in (("ip_class1", "ip.class1_rate"), ("ip_class2", "ip.class2_rate")):
            getattr(f, column)[:] += poisson_from_uniform(p[rate_of] * rate, self.uniform(column))

    def apply_probability(self, level: int, idx: np.ndarray) -> np.ndarray:
        """Chance that eligible firms `idx` apply for `level` this year."""
        f, p = self.firms, self.p
        tier_id = self.ladder.tier(level).id
        base = p.get(f"apply.base.{tier_id}.{self.year}", p[f"apply.base.{tier_id}"])  # dated
        prob = np.full(idx.size, base)
        if self.awards is not None:
            rel = self.awards.promised(self, level, idx) / np.maximum(f.revenue_yuan[idx], 1.0)
            prob = 1.0 - (1.0 - prob) * np.exp(-p["apply.award_elasticity"] * rel)
        odds = prob / np.maximum(1.0 - prob, 1e-12)
        odds = odds * np.where(f.steward[idx], p["apply.steward_multiplier"], 1.0)
        odds = odds * np.where(f.in_pool[idx], p["apply.pool_multiplier"], 1.0)
        return odds / (1.0 + odds)

    def granted(self, level: int, year: int) -> bool:
        """Whether the title at `level` can be granted in `year` (ladder `available_from`)."""
        first = self._available_from[level]
        return first is None or year >= first

    def step_below(self, level: int, year: int) -> int:
        """The level a firm must hold to apply for `level` in `year`: the highest title below
        it that could already be granted before `year` (the pool if none)."""
        return max(j for j in range(level) if j == 0 or self.granted(j, year - 1))

    def recognise(self) -> np.ndarray:
        """Eligible firms one level below a title apply and are approved: one step a year.

        Before a title exists (`available_from`), firms below it apply for the title above it
        directly; a firm is granted at most one title a year, the highest it can get (titles are
        judged from the top down; outside such a year each firm can try one title only).
        """
        f = self.firms
        start = f.tier.copy()
        values = f.values()
        u_apply = self.uniform("apply")
        newly = np.zeros(self.top + 1, dtype=np.int64)
        for k in range(self.top, 0, -1):
            if not self.granted(k, self.year):
                continue
            below = self.step_below(k, self.year)
            cand = np.flatnonzero(f.alive & (start >= below) & (start < k) & (f.tier == start))
            if cand.size == 0:
                continue
            cand = cand[self.ladder.meets_among(k, values, cand)]
            applicants = cand[u_apply[cand] < self.apply_probability(k, cand)]
            approved = self._evaluator_of[k].approve(k, applicants)
            first = f.highest_tier[approved] < k
            f.tier[approved] = k
            f.title_year[approved] = self.year
            f.highest_tier[approved] = np.maximum(f.highest_tier[approved], k)
            newly[k] = approved.size
            for lever in self.levers:
                if hasattr(lever, "recognised"):
                    lever.recognised(self, k, approved, first)
        return newly

    def re_review(self) -> tuple[np.ndarray, np.ndarray]:
        """Titles past their validity are re-reviewed; failing firms drop one level."""
        f, p = self.firms, self.p
        lost = np.zeros(self.top + 1, dtype=np.int64)
        reviewed = np.zeros(self.top + 1, dtype=np.int64)
        u = self.uniform("re_review")
        values = f.values()
        for k in range(1, self.top + 1):
            validity = self.ladder.tier(k).validity_years
            due = np.flatnonzero(f.alive & (f.tier == k) & (self.year - f.title_year >= validity))
            if due.size == 0:
                continue
            meets = self.ladder.meets_among(k, values, due)
            fail_p = np.where(
                meets, p["re_review.fail_if_eligible"], p["re_review.fail_if_ineligible"]
            )
            fails = u[due] < fail_p
            # a failing firm drops to the highest title below that exists this year
            f.tier[due[fails]] = max(j for j in range(k) if j == 0 or self.granted(j, self.year))
            f.title_year[due] = self.year
            lost[k] = np.count_nonzero(fails)
            reviewed[k] = due.size
            passed = due[~fails]
            for lever in self.levers:
                if hasattr(lever, "re_reviewed"):
                    lever.re_reviewed(self, k, passed)
        return lost, reviewed

    def pay_awards(self) -> None:
        """The city settles the year's cash claims under the award rules and budget."""
        self.city.pay()

    def exit(self) -> None:
        """Firms close with a hazard that falls with the title held."""
        f, p = self.firms, self.p
        hazard = np.array(
            [p["exit.hazard.pool"]] + [p[f"exit.hazard.{t}"] for t in self.ladder.ids],
            dtype=np.float32,
        )
        closes = f.alive & (self.uniform("exit") < hazard[f.tier])
        f.alive[:] &= ~closes
        f.in_pool[:] &= ~closes

    def collect(self, newly: np.ndarray, lost: np.ndarray, reviewed: np.ndarray) -> None:
        f = self.firms
        exactly = f.counts_by_tier(self.top)
        at_least = np.cumsum(exactly[::-1])[::-1]
        ever = np.cumsum(np.bincount(f.highest_tier, minlength=self.top + 1)[::-1])[::-1]
        if not self.history:  # the base year: titles held then are not counted as cultivated
            self._ever_base = ever.copy()
            # ... except those of a title created in the first year: its first list
            created = self.scenario.baseline.created_in_start_year
            for k in sorted((self.ladder.level(t) for t in created), reverse=True):
                self._ever_base[k] = self._ever_base[k + 1] if k < self.top else 0
        ever = ever - self._ever_base if self.history else np.zeros_like(ever)
        self.history.append(
            YearRecord(
                year=self.year,
                exactly=exactly,
                at_least=at_least,
                new=newly,
                ever=ever,
                lost=lost,
                reviewed=reviewed,
                brought_in=self.brought_in.copy(),
                pool_size=int(np.count_nonzero(f.in_pool & f.alive)),
                cost=dict(self.city.cost),
                budget_left=float(self.city.budget_left),
            )
        )
        self.datacollector.collect(self)

    # --- running and looking -----------------------------------------------------------------
    def run_model(self) -> None:
        """Step through every year of the scenario's period."""
        while self.year < self.period.end:
            self.step()

    def firm(self, i: int) -> Firm:
        """Firm `i` as one object."""
        return self.firms.firm(i)

    def explain(self, i: int, tier_id: str) -> list[Explanation]:
        """For firm `i`, which criteria of `tier_id` it meets and which it fails."""
        return self.ladder.explain(tier_id, self.firms.values(), i)


__all__ = ["GrowthModel", "City", "Evaluator", "YearRecord", "COLUMNS", "NATIVE"]
