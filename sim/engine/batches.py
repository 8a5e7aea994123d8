"""How many titles an evaluator grants a year: past batches as published, future ones drawn.

A batch is a policy decision, not a rate times a pool (MODEL.md section 5), so its size is an
input. For a year whose batch was published before the forecast's origin, the model uses the
published size (a range where sources disagree: drawn uniformly inside it). For a later year,
each replication draws it from this documented distribution:

* **Median path.** The batches follow their local linear trend (the last year-to-year change
  per year, continued) while the evaluator's stated cumulative goal stays out of reach. A
  batch that would reach the goal if it grew does not grow (an evaluator has no reason to
  enlarge the batch that completes its goal), and after it the level holds; so does it after
  a cut. Where the trend would leave the goal short by its deadline, each batch until then is
  at least the even pace that meets it (what is left over the years left): MIIT passed both
  of its goals (about 600 little giants over 2018-2020: 1,832 by 2020; 10,000 by 2025:
  about 12,000 by 2023), and Henan's first list after its goal of 1,000 provincial SRDI
  firms a year was 1,183. A per-year goal (Henan) sets the level where it is known. With
  one published batch there is no trend: the level is that batch, or the pace of a goal.
  Only goals published before the origin whose deadline is after the last published batch
  are used (`Goal.published`). The path never falls below a quarter of the last batch.
* **Spread.** Around the median path the log batch size moves as a random walk: year h after
  the last published batch has log standard deviation `sigma * sqrt(h)`. `sigma` is the
  root mean square of the rule's own one-year-ahead log errors over the published batches
  where it had a trend to follow, pooled with a prior `batches.sigma_prior` that counts as
  `batches.prior_weight` errors; at least `batches.sigma_floor`. With a single published batch
  there is no trend and no scale: a first batch is often a pilot (MIIT's 248 in 2019 was
  followed by 1,584; Henan's 100 in 2020 by 928), so the spread is `batches.sigma_one_batch`.
  These assumptions, and `batches.floor_share`, live in sim/data/parameters.yaml with their
  ranges (`BatchSpread`).

Both the goal rule and `batches.sigma_one_batch` were written knowing the batches of 2020-2023 that
`srdi backtest` scores: the backtest is in-sample for them (calibration/README.md says so).

The median path is therefore the naive "last change" forecast corrected by the stated goal:
the model claims no better foresight of MIIT's decisions than that; what it adds is the spread,
and what follows from a batch for each place and stock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

QUANTILE_CLIP = 1e-6  # a fixed quantile stays this far inside (0, 1): no batch of 0 or infinity


@dataclass(frozen=True)
class BatchSpread:
    """The assumptions of the batch distribution (sim/data/parameters.yaml, `batches.*`)."""

    sigma_prior: float  # log-sd of a one-year-ahead batch before any error is seen
    prior_weight: float  # the prior counts as this many observed errors
    sigma_floor: float  # no batch is known more closely a year ahead
    sigma_one_batch: float  # log-sd after a single (pilot) batch
    floor_share: float  # a batch is never forecast below this share of the last one

    @classmethod
    def of(cls, p: Mapping[str, float]) -> BatchSpread:
        """The spread from a replication's values (or any mapping of the `batches.*` paths)."""
        return cls(**{name: float(p[f"batches.{name}"]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PublishedBatch:
    """One year's published list size (low == high unless sources disagree)."""

    year: int
    low: float
    high: float
    lower_bound: bool = False  # only part of the year's lists is known: the year is forecast,
    # and no draw falls below `low`
    point: float | None = None  # the size the sources favour inside a range, if they say

    @property
    def central(self) -> float:
        """The size the trend is drawn through: the favoured point, else the range's middle."""
        return self.point if self.point is not None else 0.5 * (self.low + self.high)


@dataclass(frozen=True)
class StatedGoal:
    """A goal the evaluator paces its batches to, and the year it became known."""

    kind: str  # "cumulative" (titles granted since the first batch), "per_year"
    value: float
    by: int
    published_year: int


@dataclass(frozen=True)
class BatchPlan:
    """The distribution of one evaluator's batches of one title over a run's years."""

    published: dict[int, PublishedBatch]
    median: dict[int, float]  # years after the last published batch
    log_sd: dict[int, float]
    sigma: float
    bounds: dict[int, float] = field(default_factory=dict)  # lower bounds of forecast years
    notes: tuple[str, ...] = field(default=())

    def draw(
        self, years: Sequence[int], rng: np.random.Generator, quantile: float | None = None
    ) -> dict[int, float]:
        """One replication's batch per year: published sizes, then the random walk.

        Consumes one uniform per year with a published range and one normal per forecast
        year, in year order, so that two runs on the same stream draw the same batches.

        `quantile` fixes the batches instead (sensitivity analysis, `srdi sensitivity`): every
        year's batch at that quantile of its own distribution (a published range at that
        share of the way from low to high, a forecast batch at that quantile of its lognormal;
        kept inside 1e-6 .. 1 - 1e-6). The same numbers are consumed, so the draws that
        follow on the stream are unchanged.
        """
        out: dict[int, float] = {}
        walk, previous = 0.0, max(self.published, default=None)
        z = None
        if quantile is not None:
            q = min(max(float(quantile), QUANTILE_CLIP), 1.0 - QUANTILE_CLIP)
            z = float(ndtri(q))
        for year in sorted(years):
            if year in self.published:
                b = self.published[year]
                u = rng.random()
                out[year] = b.low + (u if z is None else q) * (b.high - b.low)
            elif year in self.median:
                gap = year - previous if previous is not None else 1
                walk += self.sigma * np.sqrt(gap) * rng.standard_normal()
                previous = year
                shift = walk if z is None else self.log_sd[year] * z
                out[year] = self.median[year] * float(np.exp(shift))
                if year in self.bounds:
                    out[year] = max(out[year], self.bounds[year])
        return out

    def quantiles(self, year: int, q: Sequence[float]) -> np.ndarray:
        """Quantiles of the batch of a forecast year (lognormal)."""
        from scipy.stats import norm

        return self.median[year] * np.exp(self.log_sd[year] * norm.ppf(np.asarray(q)))


def _trend_path(
    levels: list[tuple[int, float]],
    years: Sequence[int],
    goal_left: float | None,
    per_year: float | None,
    floor_share: float,
    goal_by: int | None = None,
) -> dict[int, float]:
    """Median batches for `years` after the published `levels` (year, size), oldest first.

    `goal_left` titles are still to be granted by the end of `goal_by` (a cumulative goal)."""
    last_year, last = levels[-1]
    slope = 0.0
    if len(levels) >= 2:
        (y0, b0), (y1, b1) = levels[-2], levels[-1]
        slope = max((b1 - b0) / (y1 - y0), 0.0)  # after a cut the level holds
    level = last
    if per_year is not None:
        level, slope = per_year, 0.0
    path: dict[int, float] = {}
    for year in range(last_year + 1, max(years, default=last_year) + 1):
        if goal_left is not None and goal_left <= level + slope:
            slope = 0.0  # this batch reaches the goal (or it is met): no further growth
        level = max(level + slope, floor_share * last)
        if goal_left is not None and goal_by is not None and year <= goal_by and goal_left > 0:
            level = max(level, goal_left / (goal_by - year + 1))  # behind: the even pace
        if goal_left is not None:
            goal_left -= level
        if year in years:
            path[year] = level
    return path


def plan_batches(
    published: Sequence[PublishedBatch],
    goals: Sequence[StatedGoal],
    origin: int,
    years: Sequence[int],
    spread: BatchSpread,
) -> BatchPlan:
    """The batch distribution for `years`, knowing the batches and goals published before
    `origin` (the first year forecast), with the assumptions of `spread`."""
    bounds = {b.year: b.low for b in published if b.lower_bound and b.year < origin}
    known = sorted(
        (b for b in published if b.year < origin and not b.lower_bound), key=lambda b: b.year
    )
    if not known:
        raise ValueError(f"no batch published before {origin}: the batch size has no basis")
    levels = [(b.year, b.central) for b in known]
    goals_known = [g for g in goals if g.published_year < origin]
    cumulative = [g for g in goals_known if g.kind == "cumulative" and g.by > levels[-1][0]]
    goal_left, goal_by = None, None
    if cumulative:
        g = min(cumulative, key=lambda g: g.by)
        goal_left, goal_by = g.value - sum(b for _, b in levels), g.by
    per_year = [g for g in goals_known if g.kind == "per_year" and g.by > levels[-1][0]]
    per_year_level = max(g.value for g in per_year) if per_year else None
    forecast_years = [y for y in years if y > levels[-1][0]]
    median = _trend_path(
        levels, forecast_years, goal_left, per_year_level, spread.floor_share, goal_by
    )
    # the rule's own one-year-ahead log errors where it had a trend to follow (two published
    # batches or more), pooled with the prior as if it were `prior_weight` such errors
    errors = []
    for i in range(2, len(levels)):
        step = _trend_path(levels[:i], [levels[i][0]], None, None, spread.floor_share)
        errors.append(np.log(levels[i][1] / step[levels[i][0]]))
    weight = spread.prior_weight
    sigma = float(
        np.sqrt(
            (weight * spread.sigma_prior**2 + np.sum(np.square(errors))) / (weight + len(errors))
        )
    )
    sigma = max(sigma, spread.sigma_floor) if len(levels) >= 2 else spread.sigma_one_batch
    last_year = levels[-1][0]
    log_sd = {y: sigma * np.sqrt(y - last_year) for y in median}
    pub = {b.year: b for b in known}
    return BatchPlan(published=pub, median=median, log_sd=log_sd, sigma=sigma, bounds=bounds)
