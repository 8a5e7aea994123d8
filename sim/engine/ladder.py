"""The ladder of titles and their eligibility criteria (MIIT 63号), read from data.

A `Ladder` is an ordered list of `Tier`s; level 0 is the candidate pool and level k is the
k-th tier. Each criterion is evaluated for all firms at once on numpy arrays, and can explain
for one firm what it needs and what it has. Scenarios may rename a tier, override a threshold
or add a local tier (`apply_changes`, from a scenario's `ladder:` section); none of that needs
code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from sim.yaml_io import read_yaml

POOL = "pool"
STANDARD_TIERS = ("innovative_sme", "provincial_srdi", "national_little_giant", "single_champion")

Values = Callable[[str], np.ndarray]
"""A function giving the array of one (column or derived) attribute for all firms."""


@dataclass(frozen=True)
class Explanation:
    """One criterion for one firm: what is required, what the firm has, whether it passes."""

    criterion: str
    required: str
    actual: str
    passed: bool


@dataclass
class Criterion:
    """One eligibility rule of a title (see sim/data/ladder.yaml for the kinds)."""

    id: str
    kind: str
    spec: dict[str, Any]
    source: str = ""

    def attributes(self) -> list[str]:
        """The firm attributes this criterion reads."""
        s = self.spec
        if self.kind == "threshold":
            return [s["attribute"]]
        if self.kind == "banded":
            return [s["attribute"], s["band_by"]]
        names = []
        for ind in s["indicators"]:
            names.append(ind["attribute"])
            if "fallback" in ind:
                names.append(ind["fallback"]["attribute"])
        if s.get("direct_pass"):
            names.append(s["direct_pass"])
        return names

    def evaluate(self, values: Values) -> np.ndarray:
        """Boolean array: which firms meet this criterion."""
        s = self.spec
        if self.kind == "threshold":
            x = values(s["attribute"])
            ok = np.ones(x.shape, dtype=bool)
            if "min" in s:
                ok &= x >= s["min"]
            if "max" in s:
                ok &= x <= s["max"]
            if "max_exclusive" in s:
                ok &= x < s["max_exclusive"]
            return ok
        if self.kind == "banded":
            x = values(s["attribute"])
            # in the values' own dtype, as for thresholds: a value stored at the minimum passes
            return x >= self._band_minimum(values(s["band_by"])).astype(x.dtype, copy=False)
        return (self.score(values) >= s["min_total"]) | self._direct_pass(values)

    def _direct_pass(self, values: Values) -> np.ndarray | bool:
        name = self.spec.get("direct_pass")
        return values(name).astype(bool) if name else False

    def _band_minimum(self, by: np.ndarray) -> np.ndarray:
        minimum = np.full(by.shape, np.inf, dtype=np.float64)
        for band in self.spec["bands"]:
            lo = band.get("from", -np.inf)
            hi = band.get("to", np.inf)
            minimum = np.where((by >= lo) & (by < hi), band["min"], minimum)
        return minimum

    def score(self, values: Values) -> np.ndarray:
        """Points summed over the indicators (score criteria only)."""
        total = None
        for ind in self.spec["indicators"]:
            pts = _indicator_points(ind, values)
            if "fallback" in ind:
                pts = np.where(pts > 0, pts, _indicator_points(ind["fallback"], values))
            total = pts if total is None else total + pts
        return total

    def required_text(self, values: Values, i: int) -> str:
        s = self.spec
        if self.kind == "threshold":
            parts = []
            if "min" in s:
                parts.append(f">= {s['min']:g}")
            if "max" in s:
                parts.append(f"<= {s['max']:g}")
            if "max_exclusive" in s:
                parts.append(f"< {s['max_exclusive']:g}")
            return f"{s['attribute']} " + " and ".join(parts)
        if self.kind == "banded":
            m = float(self._band_minimum(values(s["band_by"])[i : i + 1])[0])
            return f"{s['attribute']} >= {m:g} (band of {s['band_by']})"
        dp = f" or {s['direct_pass']}" if s.get("direct_pass") else ""
        return f"score >= {s['min_total']}{dp}"

    def actual_text(self, values: Values, i: int) -> str:
        if self.kind == "score":
            return f"score {float(self.score(values)[i]):g}"
        name = self.spec["attribute"]
        return f"{name} = {float(values(name)[i]):g}"


# Up to this many values, an integral points table is read by one search rather than one
# comparison per threshold (fewer numpy calls; the per-threshold form is faster on many values).
SMALL_BATCH = 4096


def _indicator_points(ind: Mapping[str, Any], values: Values) -> np.ndarray:
    """Points of one score indicator: the best table row the value reaches wins.

    Rows are `[threshold, points]`: reached when the value is >= threshold, or, for a table
    with `below: true`, when it is < threshold (<= with a third element "inclusive").
    """
    x = values(ind["attribute"])
    table = _table(ind)
    if table.below:
        pts = np.full(x.shape, table.otherwise, dtype=table.dtype)
        for threshold, points, inclusive in table.rows:
            hit = x <= threshold if inclusive else x < threshold
            pts[hit] = points
        return pts
    # thresholds in the values' own dtype: no converted copy of x, and a value stored at a
    # threshold compares equal to it
    t = table.thresholds.astype(x.dtype, copy=False)
    if table.steps is None:
        return table.points[np.searchsorted(t, x, side="right")]
    if x.size <= SMALL_BATCH and not np.isnan(x).any():
        # a few firms: the same points by one search (thresholds reached = thresholds <= x;
        # a NaN reaches none, which the search would not say)
        return table.int_points[np.searchsorted(t, x, side="right")]
    # points of the highest threshold reached = otherwise + the steps of every threshold
    # reached (the thresholds are ascending); small integers: exact, and no search per value
    pts = np.full(x.shape, table.points[0], dtype=np.int16)
    for ti, si in zip(t, table.steps, strict=True):
        pts += (x >= ti) * si
    return pts


def _integral(points) -> bool:
    """Whole-number points that int16 score sums hold exactly."""
    return all(float(v).is_integer() and abs(v) <= 1000 for v in points)


@dataclass(frozen=True)
class _PointsTable:
    """An indicator's points table, prepared once (the criteria are judged every year)."""

    below: bool
    otherwise: float
    dtype: type  # of the points: int16 when they are small whole numbers
    rows: tuple[tuple[float, float, bool], ...] = ()  # below: (threshold, points, inclusive)
    thresholds: np.ndarray | None = None  # ascending (not below)
    points: np.ndarray | None = None  # otherwise, then the points of each threshold
    steps: np.ndarray | None = None  # int16 steps between points, when they are integral
    int_points: np.ndarray | None = None  # the points as int16, when they are integral


def _table(ind: Mapping[str, Any]) -> _PointsTable:
    """The prepared table of an indicator (cached by the indicator's identity)."""
    key = id(ind)
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is ind:
        return hit[1]
    otherwise = ind.get("otherwise", 0)
    if ind.get("below", False):
        rows = sorted(ind["points"], key=lambda r: -r[0])  # widest band first
        integral = _integral([otherwise, *(r[1] for r in rows)])
        table = _PointsTable(
            below=True,
            otherwise=otherwise,
            dtype=np.int16 if integral else np.float64,
            rows=tuple((r[0], r[1], len(r) > 2 and r[2] == "inclusive") for r in rows),
        )
    else:
        thresholds, points = _ascending_table(ind)
        integral = _integral(points)
        table = _PointsTable(
            below=False,
            otherwise=otherwise,
            dtype=np.int16 if integral else np.float64,
            thresholds=thresholds,
            points=points,
            steps=np.diff(points).astype(np.int16) if integral else None,
            int_points=points.astype(np.int16) if integral else None,
        )
    _TABLES[key] = (ind, table)
    return table


def _ascending_table(ind: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted thresholds and the points of each interval (value < first threshold: otherwise)."""
    rows = sorted((float(r[0]), float(r[1])) for r in ind["points"])
    thresholds = np.array([t for t, _ in rows])
    points = np.array([float(ind.get("otherwise", 0))] + [pt for _, pt in rows])
    return thresholds, points


# prepared tables by id(indicator), each with the indicator it was made from (an id can be
# reused once an indicator is freed: the stored one is compared by identity)
_TABLES: dict[int, tuple[Any, _PointsTable]] = {}


@dataclass
class Tier:
    """A title on the ladder and its eligibility criteria."""

    id: str
    name: str
    granted_by: str
    validity_years: int
    criteria: list[Criterion]
    source: str = ""
    not_modelled: list[str] = field(default_factory=list)
    observed_as: str | None = None
    available_from: int | None = None  # first year the title can be granted (None: always)
    name_zh: str = ""  # the title in Chinese (tier_zh in the output tables)


class Ladder:
    """The ordered titles. Level 0 is the candidate pool; `tiers[k-1]` is level k."""

    def __init__(self, tiers: list[Tier]) -> None:
        self.tiers = list(tiers)
        self._level = {t.id: k + 1 for k, t in enumerate(self.tiers)}

    @classmethod
    def standard(cls) -> Ladder:
        """The MIIT ladder shipped in sim/data/ladder.yaml."""
        return cls.from_dict(_standard_document())

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], file: str = "sim/data/ladder.yaml") -> Ladder:
        """The ladder of a criteria document, checked strictly first (scenario/data_schema.py)."""
        from sim.engine.firms import COLUMNS, DERIVED
        from sim.scenario.data_schema import check_ladder

        check_ladder(doc, file, set(COLUMNS) | set(DERIVED))
        tiers = []
        for t in doc["tiers"]:
            crits = [
                Criterion(
                    id=c["id"],
                    kind=c["kind"],
                    spec={k: v for k, v in c.items() if k not in ("id", "kind", "source")},
                    source=str(c.get("source", "")),
                )
                for c in t.get("criteria", [])
            ]
            tiers.append(
                Tier(
                    id=t["id"],
                    name=t.get("name", t["id"]),
                    name_zh=str(t.get("name_zh", "")),
                    granted_by=t.get("granted_by", "province"),
                    validity_years=int(t.get("validity_years", 3)),
                    criteria=crits,
                    source=str(t.get("source", "")),
                    not_modelled=list(t.get("not_modelled", [])),
                    observed_as=t.get("observed_as"),
                    available_from=t.get("available_from"),
                )
            )
        return cls(tiers)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tiers]

    @property
    def top(self) -> int:
        return len(self.tiers)

    def level(self, tier_id: str) -> int:
        """Level of a tier id (1 = first title); 0 for the pool."""
        if tier_id == POOL:
            return 0
        return self._level[tier_id]

    def tier(self, tier_id_or_level: str | int) -> Tier:
        k = tier_id_or_level if isinstance(tier_id_or_level, int) else self.level(tier_id_or_level)
        return self.tiers[k - 1]

    def meets(self, level: int, values: Values) -> np.ndarray:
        """Boolean array: firms meeting every criterion of the tier at `level`."""
        ok = None
        for c in self.tier(level).criteria:
            r = c.evaluate(values)
            ok = r if ok is None else ok & r
        if ok is None:  # a tier without criteria: everyone qualifies
            return np.ones(values("tier").shape, dtype=bool)
        return ok

    def explain(self, tier_id: str, values: Values, i: int) -> list[Explanation]:
        """For firm `i`, each criterion of `tier_id`: required, actual, passed."""
        out = []
        for c in self.tier(tier_id).criteria:
            out.append(
                Explanation(
                    criterion=c.id,
                    required=c.required_text(values, i),
                    actual=c.actual_text(values, i),
                    passed=bool(c.evaluate(values)[i]),
                )
            )
        return out

    def attributes(self) -> set[str]:
        """Every attribute any criterion reads (scenario validation checks they exist)."""
        return {a for t in self.tiers for c in t.criteria for a in c.attributes()}


@lru_cache(maxsize=1)
def _standard_document() -> dict[str, Any]:
    text = resources.files("sim").joinpath("data/ladder.yaml").read_text(encoding="utf-8")
    return read_yaml(text, "sim/data/ladder.yaml")


def standard_document() -> dict[str, Any]:
    """A fresh copy of the shipped criteria document (scenarios apply overrides to it)."""
    return copy.deepcopy(_standard_document())


# Keys of a criterion that a scenario may override, by criterion kind.
OVERRIDABLE = {"threshold": ("min", "max", "max_exclusive"), "score": ("min_total",), "banded": ()}


def apply_changes(doc: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The criteria document with a scenario's `ladder:` section applied (a new document).

    `changes` has two optional parts, as plain data (see scenarios/README.md):

    - `tiers`: per existing tier id, a new `name`, `name_zh`, `validity_years`, `observed_as`
      (the tier id used in observed data) and `criteria` overrides (criterion id -> new `min`,
      `max`, `max_exclusive` or `min_total`, with the `source` of the new value);
    - `add`: local tiers, each placed right `after` an existing tier, with its own `criteria`
      (optionally starting from a copy of another tier's, `criteria_from`).

    Raises ValueError naming the problem when a referenced tier or criterion does not exist
    (scenario validation reports these with file and line before this is ever called).
    """
    out = copy.deepcopy(dict(doc))
    tiers: list[dict[str, Any]] = out["tiers"]
    if not changes:
        return out
    by_id = {t["id"]: t for t in tiers}
    for tier_id, ch in (changes.get("tiers") or {}).items():
        if tier_id not in by_id:
            raise ValueError(f"ladder change for unknown tier {tier_id!r}")
        t = by_id[tier_id]
        for key in ("name", "name_zh", "validity_years", "observed_as"):
            if ch.get(key) is not None:
                t[key] = ch[key]
        if ch.get("source"):
            t["source"] = f"{t.get('source', '')}; changed by the scenario: {ch['source']}"
        crits = {c["id"]: c for c in t.get("criteria", [])}
        for cid, over in (ch.get("criteria") or {}).items():
            if cid not in crits:
                raise ValueError(f"tier {tier_id!r} has no criterion {cid!r}")
            c = crits[cid]
            allowed = OVERRIDABLE[c["kind"]]
            for key, value in over.items():
                if key == "source" or value is None:
                    continue
                if key not in allowed:
                    raise ValueError(f"criterion {tier_id}.{cid} ({c['kind']}) has no {key!r}")
                c[key] = value
            c["source"] = over.get("source", c.get("source", ""))
    for add in changes.get("add") or []:
        ids = [t["id"] for t in tiers]
        if add["id"] in ids or add["id"] == POOL:
            raise ValueError(f"local tier {add['id']!r} already exists")
        if add["after"] not in ids:
            raise ValueError(f"local tier {add['id']!r} placed after unknown tier {add['after']!r}")
        crits: list[dict[str, Any]] = []
        if add.get("criteria_from"):
            src = next((t for t in tiers if t["id"] == add["criteria_from"]), None)
            if src is None:
                raise ValueError(f"criteria_from unknown tier {add['criteria_from']!r}")
            crits = copy.deepcopy(src.get("criteria", []))
        crits += [dict(c) for c in add.get("criteria") or []]
        tier = {
            "id": add["id"],
            "name": add.get("name", add["id"]),
            "name_zh": add.get("name_zh", ""),
            "granted_by": add.get("granted_by", "city"),
            "validity_years": int(add.get("validity_years", 3)),
            "source": add.get("source", ""),
            "criteria": crits,
            "not_modelled": list(add.get("not_modelled") or []),
        }
        if add.get("observed_as"):
            tier["observed_as"] = add["observed_as"]
        tiers.insert(ids.index(add["after"]) + 1, tier)
    return out
