"""Titled firms brought in from outside (招引)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import bdtr, ndtri

from sim.engine.firms import BRING_IN_GROUP, BROUGHT_IN, create_at_level
from sim.levers.base import Lever
from sim.scenario.quantities import NonEmpty, Quantity, Strict

if TYPE_CHECKING:
    from sim.engine.model import GrowthModel


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
    if pmf < 1e-250:  # the recurrence would start from an underflow
        return _binomial_exact(n, p, u)
    cdf, k, odds = pmf, 0, p / (1.0 - p)
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1) * odds
        k += 1
        cdf += pmf
    return k


def _binomial_exact(n: int, p: float, u: float) -> int:
    """The smallest k with P(X <= k) >= u for X ~ Binomial(n, p), on the exact CDF.

    A normal start (Cornish-Fisher to the skewness), then unit steps on `scipy.special.bdtr`
    (the regularised incomplete beta function): the same count as `scipy.stats.binom.ppf` but
    for a uniform within rounding of a CDF value, without importing scipy.stats (a second on
    the first call of a process).
    """
    sd = math.sqrt(n * p * (1.0 - p))
    z = float(ndtri(u))
    skew = (1.0 - 2.0 * p) / sd
    k = int(min(max(math.floor(n * p + sd * (z + skew * (z * z - 1.0) / 6.0)), 0), n))
    while k < n and bdtr(k, n, p) < u:
        k += 1
    while k > 0 and bdtr(k - 1, n, p) >= u:
        k -= 1
    return k


class BringInSection(Strict):
    """Titled firms brought in from outside each year (招引)."""

    firms_per_year: Quantity
    tier: NonEmpty
    success_rate: Quantity
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class BringIn(Lever):
    """Titled firms brought in from outside (招引).

    Changes: entry (each year, Binomial(firms_per_year, success_rate) firms arrive holding
    `tier`, drawn to meet its criteria). Costs: cost per firm brought in.
    """

    name = "bring_in"
    words = ("招引企业", "firms brought in")
    Section = BringInSection

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
