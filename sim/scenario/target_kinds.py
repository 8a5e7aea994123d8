"""What a plan's target counts: one entry per kind of target (MODEL.md 'Targets').

Every part of the project that reads a target goes through its kind here: the scenario schema
(which kinds exist, what each needs), the model (a count it must take at year end), the
ensemble (the per-replication value the probability is computed on), the fan chart (which
series to draw) and the words of tables and charts. Adding a kind is one entry in `KINDS`,
the fields it needs in `sim.scenario.schema.Target`, and its tests.

Kinds:

* ``stock``: firms holding at least the title at the end of the year (``at_least``).
* ``cumulative``: firms recognised at the title or above since the base year (``ever``).
* ``new``: titles of that level granted in the year (``new``).
* ``pool_size``: firms in the cultivation pool at the end of the year (``tier: pool``).
* ``rd_intensive_new``: the year's net increase in the number of firms below ``tier`` whose
  R&D spending is at least ``rd_intensity_min`` of their revenue (Hebi §二: 研发经费支出占营业
  收入比重达到6%以上的中小企业(省级以上专精特新中小企业除外)每年新增50家以上). The model counts
  those firms at every year end; the target is judged on that count less the year before's.
  Read as a net increase (新增 in a city's yearly statistics is this year's count less last
  year's), not as firms crossing the line in the year, which would count a firm that dips
  below and back again twice. Only simulated firms are counted (the candidate pool and the
  titled firms): an SME outside the scenario's candidates never counts, so the count is a
  lower bound of the city's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

TierRule = Literal["title", "pool"]


@dataclass(frozen=True)
class TargetKind:
    """How one kind of target is read.

    Attributes:
        name: the `kind:` of a scenario's target.
        series: the run array the target is judged on (a key of a replication's outputs,
            `sim.runs.ensemble.run_replication`); for a kind with `measure`, the array of a target
            is `series` followed by the target's tier and threshold (`key`), so that targets of
            several years on the same count share one array.
        per_tier: the series has a level axis, picked by the target's tier.
        tier_rule: what the target's `tier:` names: a title of the ladder, or `pool`.
        phrase_zh, phrase_en: the target in words ({y} year, {tier} tier name, {v} value,
            {r} the R&D intensity threshold in %).
        from_first_year: the series has no value in the base year (a flow): charts start
            one year later.
        measure: for a kind the standard yearly records do not hold, what the model counts
            for a target at each year end (`measure(model, target) -> number`).
        yearly_change: the target is judged on the year's change of the measured count.
        needs: fields of the target this kind requires (validated by the scenario loader).
    """

    name: str
    series: str
    per_tier: bool
    tier_rule: TierRule
    phrase_zh: str
    phrase_en: str
    from_first_year: bool = False
    measure: Callable[[Any, Any], float] | None = None
    yearly_change: bool = False
    needs: tuple[str, ...] = ()

    def key(self, target) -> str:
        """The name of the run array a target of this kind is judged on."""
        if self.measure is None:
            return self.series
        needed = (f"{getattr(target, name):g}" for name in self.needs)
        return ":".join([self.series, target.tier, *needed])

    def outcome(self, runs: dict[str, np.ndarray], target, year_index: int, level: int):
        """Per replication, the value the target is judged on."""
        x = runs[self.key(target)]
        return x[:, year_index, level] if self.per_tier else x[:, year_index]


def rd_intensive_firms(model, target) -> float:
    """Live firms below the target's title whose R&D intensity is at least its threshold."""
    f = model.firms
    below = model.ladder.level(target.tier)
    counted = f.alive & (f.tier < below) & (f.rd_intensity >= np.float32(target.rd_intensity_min))
    return float(np.count_nonzero(counted))


KINDS: dict[str, TargetKind] = {
    k.name: k
    for k in (
        TargetKind("stock", "at_least", True, "title", "{y}年{tier}{v}家", "{v} {tier} in {y}"),
        TargetKind(
            "cumulative",
            "ever",
            True,
            "title",
            "到{y}年累计认定{tier}{v}家",
            "{v} {tier} recognised in all by {y}",
        ),  # fmt: skip
        TargetKind(
            "new",
            "new",
            True,
            "title",
            "{y}年新增{tier}{v}家",
            "{v} new {tier} in {y}",
            from_first_year=True,
        ),  # fmt: skip
        TargetKind(
            "pool_size",
            "pool_size",
            False,
            "pool",
            "{y}年培育库企业{v}家",
            "{v} firms in the cultivation pool in {y}",
        ),  # fmt: skip
        TargetKind(
            "rd_intensive_new",
            "rd_intensive",
            False,
            "title",
            "{y}年研发投入强度{r}%以上的中小企业新增{v}家（{tier}及以上除外）",
            "{v} more SMEs with R&D intensity of {r} % or more in {y} ({tier} and above excluded)",
            from_first_year=True,
            measure=rd_intensive_firms,
            yearly_change=True,
            needs=("rd_intensity_min",),
        ),  # fmt: skip
    )
}
KIND_NAMES = tuple(KINDS)
# the fields of `Target` that some kinds need and the others refuse
KIND_FIELDS = tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.needs))


def measured(targets) -> dict[str, Any]:
    """The counts the model must take at each year end: run array name -> a target that
    defines it (targets of several years on the same count share one)."""
    out: dict[str, Any] = {}
    for t in targets:
        if KINDS[t.kind].measure is not None:
            out.setdefault(KINDS[t.kind].key(t), t)
    return out


def measure_series(target, counts: np.ndarray) -> np.ndarray:
    """A measured target's yearly series from the model's year-end counts (base year first):
    the counts, or their change from the year before (0 in the base year)."""
    counts = np.asarray(counts, dtype=np.float64)
    if KINDS[target.kind].yearly_change:
        return np.diff(counts, prepend=counts[:1])
    return counts


__all__ = ["KINDS", "KIND_FIELDS", "KIND_NAMES", "TargetKind", "measured", "measure_series"]
