"""Who a place's firms compete with for each title, and for how many places (MODEL.md).

For every title of the standard ladder, one of:

* **rationed**: the title's evaluator grants a batch a year. The place's firms compete for
  `quota(level, year)` places with `rest_applicants(level, year)` applicants from outside the
  place (an aggregate, `sim/engine/rationing.py`):
  - a country: MIIT's batches and the provinces' lists summed (sim/data/context/national.yaml);
    the whole pool is simulated, so nobody else competes;
  - a province: its share of MIIT's batch for the national titles (MIIT allots recommendation
    places by province), drawn around its last published share; its own lists where its
    context file publishes their sizes. Its whole pool is simulated;
  - a city, county or district: the same places as its province, and the rest of the province
    competes: `competition.applicants_per_holder.<tier>` applicants a year per firm of the
    province holding the title below (the province's stock of that title, from its context
    file, grown by the province's lists of it), less the place's own holders.
* **criteria**: the title is granted to every applicant that meets its criteria and passes
  the evaluator's checks, at the rate `approval.<tier>`: the innovative SME title (63号: a
  score of 60, no quota), a local tier of a scenario's own ladder, and a provincial list whose
  sizes the province's context file does not publish (the forecast says so in `notes`).

Batch sizes come from `sim/engine/batches.py`, knowing what was published before the scenario's
`origin` (the year after its base year, or a backtest's origin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from sim.engine.batches import BatchSpread, PublishedBatch, StatedGoal, plan_batches
from sim.scenario.context import Context, as_of_year
from sim.scenario.context import load_context as _load_context

NATIONAL_TIERS = ("national_little_giant", "single_champion")
# the title whose holders apply for each rationed title, whatever local tiers a ladder adds
APPLIES_FROM = {
    "provincial_srdi": "innovative_sme",
    "national_little_giant": "provincial_srdi",
    "single_champion": "national_little_giant",
}
BATCH_QUANTILE = "competition.batch_quantile."  # + tier id: a run's batches fixed at a quantile
ALL_PUBLISHED = 10_000  # an origin after every published batch: a forecast knows them all
PROVINCIAL_TIERS = ("innovative_sme", "provincial_srdi")


@cache
def load_context(region: str) -> Context:
    """A shipped context, parsed once per process (every replication reads it)."""
    return _load_context(region)


def _year(text: str) -> int:
    return int(str(text)[:4])


def published_batches(ctx: Context, tier: str) -> list[PublishedBatch]:
    """A context's batches of one title; a lower bound (part of a year's lists) is marked."""
    out = []
    for b in ctx.batches[tier].observed:
        low = b.low if b.low is not None else b.count
        high = b.high if b.high is not None else b.count
        if b.form == "lower":
            low = high = b.count if b.count is not None else low
        point = float(b.count) if b.count is not None else None
        out.append(PublishedBatch(b.year, float(low), float(high), b.form == "lower", point))
    return out


def stated_goals(ctx: Context, tier: str) -> list[StatedGoal]:
    return [
        StatedGoal(
            "per_year" if g.kind == "per_year" else "cumulative",
            float(g.value),
            int(g.by),
            _year(g.published),
        )
        for g in ctx.batches[tier].goals
        if g.kind in ("cumulative", "stock", "per_year")
    ]


def has_batches(ctx: Context, tier: str) -> bool:
    t = ctx.batches.get(tier)
    return t is not None and t.recognition == "rationed" and bool(t.observed)


def latest_share(ctx: Context, tier: str, origin: int) -> float:
    """The province's last published share of MIIT's batches of `tier` before `origin`."""
    shares = [
        (s.year, s.first_year is None, s.count / s.of)
        for s in ctx.national_shares.get(tier, [])
        if s.year < origin
    ]
    if not shares:
        raise ValueError(
            f"{ctx.region}: no share of the national {tier} batches published before {origin}"
        )
    # the latest year; a single batch's share before a cumulative one of the same year
    return max(shares)[2]


def province_stock(ctx: Context, tier: str, base_year: int) -> tuple[int, float, str | None]:
    """The province's last published count of `tier` holders at or before `base_year`.

    Where the province published none that early, its first later count stands for it (it
    overstates the rivals of that year), and the third item says so.
    """
    month = ctx.batches[tier].announced_month if tier in ctx.batches else None
    rows = sorted((as_of_year(s.as_of, month), s.count) for s in ctx.stocks.get(tier, []))
    if not rows:
        raise ValueError(f"{ctx.region}: no published count of {tier} holders")
    before = [r for r in rows if r[0] <= base_year]
    if before:
        return (*before[-1], None)
    year, count = rows[0]
    note = (
        f"{tier}: {ctx.region}'s first published count of holders is of {year}; it stands "
        f"for {base_year} (assumption: overstates the rest of the province's applicants)"
    )
    return year, count, note


def _whole_places(
    quota: dict[tuple[int, int], float], scale: float, rng: np.random.Generator
) -> dict[tuple[int, int], float]:
    """Quotas of a wholly simulated pool as whole places: `q * scale` rounded down or up at
    random, up with the probability of its fraction, so that a run at 1/400 of the country
    still grants batch 1's 248 titles in expectation (0.62 of a place, not none). Drawn last,
    in (level, year) order, so the batch draws before are unchanged."""
    out = {}
    for key in sorted(quota):
        q = quota[key] * scale
        out[key] = float(np.floor(q + rng.random()))
    return out


@dataclass
class Competition:
    """One replication's places and rivals per title and year (drawn once per replication)."""

    rationed: dict[int, bool]
    quota: dict[tuple[int, int], float] = field(default_factory=dict)
    province_holders: dict[tuple[str, int], float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    whole_pool: bool = True

    def quota_of(self, level: int, year: int) -> float:
        return self.quota.get((level, year), 0.0)

    def rest_applicants(
        self, tier: str, year: int, own_holders_below: float, per_holder: float
    ) -> float:
        """Applicants for `tier` from the rest of the pool this year (0 when it is all
        simulated): `per_holder` for each firm of the province holding the title the
        applicants come from (`APPLIES_FROM`), less the place's own `own_holders_below`."""
        if self.whole_pool:
            return 0.0
        held = self.province_holders[(APPLIES_FROM[tier], year)]
        return max(held - own_holders_below, 0.0) * per_holder


def build(
    place_level: str,
    province: str | None,
    tier_ids: list[str],
    years: list[int],
    origin: int,
    rng: np.random.Generator,
    p: Mapping[str, float],
    scale: float = 1.0,
    batch_quantiles: Mapping[str, float] | None = None,
) -> Competition:
    """Draw one replication's competition for a place (see the module docstring).

    `tier_ids[k-1]` is the id of level k. Draws consume the generator in a fixed order: the
    national batches by tier, then the province's share, then the province's own lists.
    `p` holds the assumptions of the draws (`batches.*`, `competition.share_log_sd`; a
    replication's values, or any mapping with those paths).
    `scale` multiplies every quota: the share of the pool simulated (calibration runs the
    country at 1/50). `batch_quantiles` (tier id -> quantile) fixes that title's batches at a
    quantile of their distribution instead of drawing them (`BatchPlan.draw`), for sensitivity
    analysis; the generator is consumed as without it.
    """
    fixed = dict(batch_quantiles or {})
    spread = BatchSpread.of(p)
    national = load_context("national")
    comp = Competition(rationed={}, whole_pool=place_level in ("country", "province"))
    level_of = {t: k for k, t in enumerate(tier_ids, start=1)}
    all_years = sorted(set(years))
    national_quota: dict[str, dict[int, float]] = {}
    for tier in (*NATIONAL_TIERS, "provincial_srdi"):
        if has_batches(national, tier):
            plan = plan_batches(
                published_batches(national, tier),
                stated_goals(national, tier),
                origin,
                all_years,
                spread,
            )
            national_quota[tier] = plan.draw(all_years, rng, fixed.get(tier))
    if place_level == "country":
        for tier, quota in national_quota.items():
            if tier in level_of:
                for year, q in quota.items():
                    comp.quota[(level_of[tier], year)] = q
        for tier, k in level_of.items():
            comp.rationed[k] = tier in national_quota
        comp.quota = _whole_places(comp.quota, scale, rng)
        return comp
    if province is None:
        raise ValueError(f"a place at level {place_level!r} needs its province")
    ctx = load_context(province)
    for tier in NATIONAL_TIERS:
        if tier not in level_of or tier not in national_quota:
            continue
        known = tier
        if not any(s.year < origin for s in ctx.national_shares.get(tier, [])):
            known = "national_little_giant"  # the nearest national list with a share
            comp.notes.append(
                f"{tier}: {ctx.region}'s share of the national list is not published; its share "
                "of the little-giant batches stands for it (assumption)"
            )
        share = latest_share(ctx, known, origin) * float(
            np.exp(float(p["competition.share_log_sd"]) * rng.standard_normal())
        )
        for year, q in national_quota[tier].items():
            comp.quota[(level_of[tier], year)] = share * q
    province_quota: dict[str, dict[int, float]] = {}
    for tier in PROVINCIAL_TIERS:
        if tier in level_of and has_batches(ctx, tier):
            plan = plan_batches(
                published_batches(ctx, tier), stated_goals(ctx, tier), origin, all_years, spread
            )
            province_quota[tier] = plan.draw(all_years, rng, fixed.get(tier))
            for year, q in province_quota[tier].items():
                comp.quota[(level_of[tier], year)] = q
        elif tier in level_of:
            comp.notes.append(
                f"{tier}: {ctx.region} publishes no yearly list sizes; granted on the criteria "
                f"at the rate approval.{tier}"
            )
    for k in level_of.values():
        comp.rationed[k] = any(key[0] == k for key in comp.quota)
    if comp.whole_pool:
        comp.quota = _whole_places(comp.quota, scale, rng)
    else:  # against an aggregate rest a quota is an expected count: fractions are exact
        comp.quota = {key: q * scale for key, q in comp.quota.items()}
    if not comp.whole_pool:
        # the province's holders of the title each rationed title's applicants come from, at
        # the start of each year: its last published count, plus its lists since
        for tier, k in level_of.items():
            if not comp.rationed[k]:
                continue
            below = APPLIES_FROM[tier]
            base_year, held, note = province_stock(ctx, below, min(origin, all_years[0]) - 1)
            if note:
                comp.notes.append(note)
            added = province_quota.get(below, {})
            for year in all_years:
                if year - 1 > base_year:
                    held += added.get(year - 1, 0.0)
                comp.province_holders[(below, year)] = held
    return comp
