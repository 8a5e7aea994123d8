"""The mesa agents of a place besides its firms: the city government, which pays the year's
cash claims under the award rules and budget, and the evaluators, which grant titles
(rationed places or criteria) and re-review their holders."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.engine import competition, kernels, rationing
from sim.levers import LEVER_NAMES, cash_to_rd_shares

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


class City(mesa.Agent):
    """The city government: collects cash claims on its budget, pays them, books other costs."""

    def __init__(self, model: GrowthModel, awards) -> None:
        super().__init__(model)
        self.awards = awards
        # per lever (LEVER_NAMES order), the share of its cash a firm spends on R&D next year
        self.rd_share_of_cash = cash_to_rd_shares(model.p)
        self.reset_year()

    def reset_year(self) -> None:
        self.claims: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.cost = dict.fromkeys(LEVER_NAMES, 0.0)
        capped = self.awards is not None and "budget" not in self.model.relax
        self.budget_left = self.awards.budget if capped else np.inf

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
        lever_ids = np.concatenate(
            [np.full(i.size, LEVER_NAMES.index(lv)) for lv, i, _ in self.claims]
        )
        idx = np.concatenate([i for _, i, _ in self.claims])
        amt = np.concatenate([a for _, _, a in self.claims])
        keep = amt > 0
        lever_ids, idx, amt = lever_ids[keep], idx[keep], amt[keep]
        if self.awards is not None and self.awards.highest_only and idx.size > 1:
            # per firm, keep the single largest claim (ties: the earlier lever)
            best = model._scratch("best_claim", f.n, np.int64, fill=-1)
            sel = kernels.highest_claims(idx, amt, lever_ids, best)
            lever_ids, idx, amt = lever_ids[sel], idx[sel], amt[sel]
        award_lever = LEVER_NAMES.index("awards")
        capped = lever_ids == award_lever
        if np.isfinite(self.budget_left) and amt[capped].sum() > self.budget_left:
            pos = np.flatnonzero(capped)
            u = model.uniform("apply", idx[pos])  # the firms' apply draws: a deterministic lottery
            pos = pos[np.argsort(u)]  # ties only between one firm's claims; same order every run
            ok = np.cumsum(amt[pos]) <= self.budget_left
            drop = pos[~ok]
            amt[drop] = 0.0
        paid_awards = amt[capped].sum()
        self.budget_left -= paid_awards
        for k, name in enumerate(LEVER_NAMES):
            m = lever_ids == k
            if m.any():
                self.cost[name] += float(amt[m].sum())
        # cash effects on next year's R&D (`rd_boost` was spent, and zeroed, this year)
        np.add.at(f.awarded_yuan, idx, np.where(capped, amt, 0.0).astype(np.float32))
        share = self.rd_share_of_cash[lever_ids]
        boost = share * amt / np.maximum(f.revenue_yuan[idx], 1.0)
        np.add.at(f.rd_boost, idx, boost.astype(np.float32))


class Evaluator(mesa.Agent):
    """An evaluator of titles (the province or MIIT): approves applicants, re-reviews holders."""

    def __init__(self, model: GrowthModel, granted_by: str, levels: list[int]) -> None:
        super().__init__(model)
        self.granted_by = granted_by
        self.levels = levels
        self.approval = {k: model.p[f"approval.{model.ladder.tier(k).id}"] for k in levels}

    def approve(self, level: int, applicants: np.ndarray) -> np.ndarray:
        """Indices of the applicants approved at `level` this year.

        A rationed title (`GrowthModel.competition`): the applicants compete for the year's
        places on their evaluation score with noise (`rationing.py`), with the rest of the
        evaluator's pool as an aggregate where the place is part of a larger one. The score is
        the applicant's log R&D spending, standardised among the year's applicants (R&D scale
        and intensity are what every title's criteria weigh most), times
        `competition.score_weight`. A title granted on its criteria: each applicant passes the
        evaluator's checks at the rate `approval.<tier>` (a dated `approval.<tier>.<year>`
        takes precedence).
        """
        m = self.model
        u = m.uniform("approve", applicants)
        if not m.competition.rationed.get(level, False):
            rate = m.p.get(f"approval.{m.ladder.tier(level).id}.{m.year}", self.approval[level])
            return applicants[u < rate]
        if applicants.size == 0:
            return applicants
        spend = np.log(np.maximum(m.firms.values(applicants)("rd_spend_yuan"), 1.0))
        sd = float(spend.std())
        z = (spend - spend.mean()) / sd if sd > 0 else np.zeros_like(spend)
        log_weight = m.p["competition.score_weight"] * z
        rest_log_weight = (
            float(np.log(np.mean(np.exp(log_weight)))) - m.p["competition.place_strength"]
        )
        quota = m.competition.quota_of(level, m.year)
        won = rationing.approve(log_weight, u, quota, self.rivals(level), rest_log_weight)
        return applicants[won]

    def rivals(self, level: int) -> float:
        """Applicants from outside the place for a rationed title this year (0 when the whole
        pool is simulated): per firm of the province holding the title below, at last year end."""
        m = self.model
        if m.competition.whole_pool:
            return 0.0
        tier_id = m.ladder.tier(level).id
        below = m.ladder.level(competition.APPLIES_FROM[tier_id])
        return m.competition.rest_applicants(
            tier_id,
            m.year,
            float(m.history[-1].at_least[below]),
            m.p[f"competition.applicants_per_holder.{tier_id}"],
        )
