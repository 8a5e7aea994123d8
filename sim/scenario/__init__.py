"""The scenario file: schema, strict YAML loading, validation with clear messages.

A scenario is the only place a place's measures live. Every number is a `Quantity` that cites
its source: a point (`value`) or a range (`low`, `high`) labelled `cited`, `estimate` or
`assumption`. Loading is strict: duplicate keys, unknown keys, wrong types, out-of-range values,
target years outside the period and unknown tiers or parameters are errors that name the file,
the dotted path, the line, what was expected and what was found.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from sim.engine.firms import COLUMNS, DERIVED
from sim.engine.ladder import (
    OVERRIDABLE,
    POOL,
    STANDARD_TIERS,
    Ladder,
    apply_changes,
    standard_document,
)
from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.parameters import Spec, defaults
from sim.scenario.target_kinds import KIND_NAMES, KINDS

Basis = Literal["cited", "estimate", "assumption", "provisional"]
NonEmpty = Annotated[str, Field(min_length=1)]
TierId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]

# Model parameters a local tier must bring with it (the standard tiers have them as defaults).
TIER_PARAMETERS = ("apply.base.{}", "approval.{}", "exit.hazard.{}")


# Lever quantities whose name ends so are fractions in [0, 1] (shares, rates, fees).
SHARE_SUFFIXES = (
    "share",
    "coverage",
    "success_rate",
    "guarantee_fee",
    "selection_rate",
    "min_rd_intensity",
    "share_of_last_year_rd",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, allow_inf_nan=False)


class Quantity(_Strict):
    """A number with its source: `value` (a point) or `low`..`high` (a range drawn per run)."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    basis: Basis = "cited"
    source: NonEmpty
    how: str | None = Field(default=None, description="how an estimate was made")

    @model_validator(mode="after")
    def _one_form(self) -> Quantity:
        has_point = self.value is not None
        has_range = self.low is not None or self.high is not None
        if has_point == has_range:
            raise ValueError("either 'value' or both 'low' and 'high'")
        if has_range:
            if self.low is None or self.high is None:
                raise ValueError("both 'low' and 'high'")
            if self.low > self.high:
                raise ValueError(f"'low' <= 'high' (low {self.low:g} > high {self.high:g})")
        return self

    @property
    def is_range(self) -> bool:
        return self.value is None

    def spec(self, integer: bool = False) -> Spec:
        if self.is_range:
            return Spec(
                value=(self.low + self.high) / 2,
                low=self.low,
                high=self.high,
                draw=True,
                basis=self.basis,
                source=self.source,
                integer=integer,
            )
        return Spec(self.value, self.value, self.value, False, self.basis, self.source, integer)

    @property
    def central(self) -> float:
        return self.value if self.value is not None else (self.low + self.high) / 2


_AS_OF = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _as_of_text(value: Any) -> Any:
    """A date YAML read as a date (2023-03-22 unquoted) back to its text; checks the form."""
    if isinstance(value, dt.date):
        value = value.isoformat()
    if isinstance(value, str):
        m = _AS_OF.match(value)
        if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
            raise ValueError(f"a date 'YYYY-MM' (or 'YYYY-MM-DD', 'YYYY'); got {value!r}")
    return value


class Count(Quantity):
    """A base-year count as published: `as_of` its date, `measure` valid or cumulative titles.

    Converted to the model's end-of-base-year count of valid titles by `baseline.resolve`
    (the rules are in that module's docstring).
    """

    as_of: Annotated[str, BeforeValidator(_as_of_text)] | None = Field(
        default=None,
        description="the date of the count (YYYY-MM): after the base year's list, before the next",
    )
    measure: Literal["valid", "cumulative"] = Field(
        default="valid",
        description="valid: titles still held; cumulative: every title ever granted",
    )


class Place(_Strict):
    id: NonEmpty
    name: NonEmpty
    name_zh: str | None = None
    level: Literal["country", "province", "city", "county", "district"]
    parent: str | None = None
    province: str | None = Field(
        default=None,
        description=(
            "the province whose lists and share of MIIT's batches the place competes for "
            "(a context file in sim/data/context/); required below the province level, and "
            "for a province its own name"
        ),
    )

    @model_validator(mode="after")
    def _province(self) -> Place:
        if self.level != "country" and not self.province:
            raise ValueError(
                f"a place at level {self.level!r} names its province in 'province' "
                "(e.g. province: Henan), whose context file holds its lists and shares"
            )
        if self.province:
            from sim.scenario.context import known_regions

            known = known_regions()
            if self.province.lower() not in [r.lower() for r in known]:
                raise ValueError(
                    f"'province' is a region with a context file ({', '.join(known)}); "
                    f"got {self.province!r}"
                )
        return self


class Document(_Strict):
    title: NonEmpty
    number: str | None = None
    published: NonEmpty
    seed_file: str | None = None
    url: str | None = None


class Period(_Strict):
    base_year: int = Field(ge=1990, le=2100)
    start: int = Field(ge=1990, le=2100)
    end: int = Field(ge=1990, le=2100)

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if not self.base_year < self.start <= self.end:
            raise ValueError(
                f"base_year < start <= end (got {self.base_year}, {self.start}, {self.end})"
            )
        return self

    @property
    def years(self) -> list[int]:
        return list(range(self.start, self.end + 1))


class Baseline(_Strict):
    """The state at the end of the base year."""

    counts: dict[str, Count] = Field(
        description="firms holding at least each title at the end of the base year"
    )
    candidates: Quantity | None = Field(
        default=None,
        description="untitled candidate firms (level 0) at the base year; default: derived",
    )
    candidate_inflow_per_year: Quantity | None = Field(
        default=None, description="new candidate firms born each year; default: derived"
    )
    created_in_start_year: list[str] = Field(
        default_factory=list,
        description=(
            "titles created in the period's first year (the innovative SME title, 2022): their "
            "base-year holders are the firms of the first list, counted as titled that year"
        ),
    )


def _kinds_needing(field_name: str) -> str:
    return ", ".join(k.name for k in KINDS.values() if field_name in k.needs)


class Target(_Strict):
    """A plan's goal and how to read it (MODEL.md 'Targets')."""

    id: NonEmpty
    tier: NonEmpty
    kind: Literal[KIND_NAMES]  # sim/scenario/target_kinds.py: what each kind counts
    year: int
    value: float = Field(ge=0)
    stretch: float | None = Field(default=None, ge=0)
    rd_intensity_min: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="kind rd_intensive_new: the R&D spending / revenue a firm must reach",
    )
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _stretch(self) -> Target:
        if self.stretch is not None and self.stretch < self.value:
            raise ValueError(f"'stretch' >= 'value' (got {self.stretch:g} < {self.value:g})")
        return self

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Target:
        needs = KINDS[self.kind].needs
        for name in ("rd_intensity_min",):
            given = getattr(self, name) is not None
            if name in needs and not given:
                raise ValueError(f"'{name}' in a {self.kind} target (sim/scenario/target_kinds.py)")
            if given and name not in needs:
                raise ValueError(
                    f"'{name}' only in a target of kind {_kinds_needing(name)} (this one is "
                    f"{self.kind})"
                )
        return self


class Awards(_Strict):
    """Cash award per title (奖励). Paid in the awards phase, under the rules and budget."""

    by_tier: dict[str, Quantity]
    on: Literal["first_recognition", "recognition_or_re_review"] = "first_recognition"
    highest_only: bool = Field(
        default=True, description="a firm with several cash claims in a year gets the highest"
    )
    once_per_firm: bool = Field(default=False, description="a firm is paid at most once")
    budget_yuan_per_year: Quantity | None = None
    source: NonEmpty


class MatchingSubsidy(_Strict):
    """A city top-up of a provincial subsidy to holders of a title (Xinxiang §二(一))."""

    tier: NonEmpty
    share: Quantity
    provincial_subsidy_yuan: Quantity
    provincial_selection_rate: Quantity
    source: NonEmpty


class Loans(_Strict):
    """Policy loans and guarantees for titled firms (专精特新贷)."""

    from_tier: NonEmpty
    coverage: Quantity
    guarantee_fee: Quantity
    city_pays_fee_gap: bool = True
    source: NonEmpty


class RDSupport(_Strict):
    """A reward of a share of last year's R&D to firms above thresholds (Zhejiang 措施5)."""

    min_rd_intensity: Quantity
    min_rd_growth: Quantity
    share_of_last_year_rd: Quantity
    cap_yuan: Quantity | None = None
    from_tier: str = POOL
    source: NonEmpty


class BringIn(_Strict):
    """Titled firms brought in from outside each year (招引)."""

    firms_per_year: Quantity
    tier: NonEmpty
    success_rate: Quantity
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class CultivationPool(_Strict):
    """The cultivation pool (培育库): the best-placed firms below a tier get guidance."""

    size: Quantity
    below_tier: NonEmpty
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class Stewards(_Strict):
    """Service stewards (服务管家) for firms holding the listed titles."""

    tiers: list[NonEmpty]
    coverage: Quantity
    cost_per_firm_yuan: Quantity
    source: NonEmpty


class Levers(_Strict):
    awards: Awards | None = None
    matching_subsidy: MatchingSubsidy | None = None
    loans: Loans | None = None
    rd_support: RDSupport | None = None
    bring_in: BringIn | None = None
    cultivation_pool: CultivationPool | None = None
    stewards: Stewards | None = None


class NotModelled(_Strict):
    measure: NonEmpty
    source: NonEmpty
    reason: NonEmpty


class LeverRange(_Strict):
    """The values `srdi plan` tries for one lever quantity: low, low + step, ... up to high."""

    low: float
    high: float
    step: float | None = Field(
        default=None,
        gt=0,
        description="default: 1 for whole-number quantities, (high - low) / 20 for the others",
    )

    @model_validator(mode="after")
    def _ordered(self) -> LeverRange:
        if self.low > self.high:
            raise ValueError(f"'low' <= 'high' (low {self.low:g} > high {self.high:g})")
        return self


class PlanSearch(_Strict):
    """The `plan:` section: the lever quantities `srdi plan` searches, by dotted path."""

    levers: dict[str, LeverRange] = Field(min_length=1)
    note: str | None = None


# --- the ladder section: renamed tiers, changed thresholds, local tiers -----------------------


class CriterionChange(_Strict):
    """A new threshold of a standard criterion: `min`, `max`, `max_exclusive`, or `min_total`."""

    min: float | None = None
    max: float | None = None
    max_exclusive: float | None = None
    min_total: float | None = None
    source: NonEmpty

    @model_validator(mode="after")
    def _some_value(self) -> CriterionChange:
        if all(getattr(self, k) is None for k in ("min", "max", "max_exclusive", "min_total")):
            raise ValueError("one of 'min', 'max', 'max_exclusive' or 'min_total'")
        return self


class TierChange(_Strict):
    """A standard tier as the place knows it: its local name, and changed criteria."""

    name: NonEmpty | None = None
    name_zh: NonEmpty | None = None
    observed_as: TierId | None = Field(
        default=None, description="its tier id in calibration/data/observed_counts.csv"
    )
    validity_years: int | None = Field(default=None, ge=1, le=10)
    criteria: dict[str, CriterionChange] = Field(default_factory=dict)
    source: NonEmpty


class Band(_Strict):
    """One band of a banded criterion: `min` applies where `from` <= band_by < `to`."""

    model_config = ConfigDict(populate_by_name=True)
    lo: float | None = Field(default=None, alias="from")
    to: float | None = None
    min: float


class LocalCriterion(_Strict):
    """An eligibility rule of a local tier (same meaning as in sim/data/ladder.yaml)."""

    id: TierId
    kind: Literal["threshold", "banded"]
    attribute: NonEmpty
    min: float | None = None
    max: float | None = None
    max_exclusive: float | None = None
    band_by: str | None = None
    bands: list[Band] | None = None
    unit: str | None = None
    description: str | None = None
    source: NonEmpty

    @model_validator(mode="after")
    def _complete(self) -> LocalCriterion:
        if self.kind == "threshold" and all(
            getattr(self, k) is None for k in ("min", "max", "max_exclusive")
        ):
            raise ValueError("a threshold with 'min', 'max' or 'max_exclusive'")
        if self.kind == "banded" and (not self.band_by or not self.bands):
            raise ValueError("a banded criterion with 'band_by' and 'bands'")
        return self


class LocalTier(_Strict):
    """A title of the place's own, placed on the ladder right after an existing tier."""

    id: TierId
    name: NonEmpty
    name_zh: NonEmpty | None = None
    after: NonEmpty
    granted_by: Literal["county", "city", "province", "national"] = "city"
    validity_years: int = Field(default=3, ge=1, le=10)
    observed_as: TierId | None = None
    criteria_from: str | None = Field(
        default=None, description="start from a copy of this tier's criteria"
    )
    criteria: list[LocalCriterion] = Field(default_factory=list)
    not_modelled: list[NonEmpty] = Field(default_factory=list)
    source: NonEmpty


class LadderChanges(_Strict):
    """The scenario's `ladder:` section: changes to the standard MIIT ladder for this place."""

    tiers: dict[str, TierChange] = Field(default_factory=dict)
    add: list[LocalTier] = Field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


class Scenario(_Strict):
    """One place's plan: targets, measures (levers) and the baseline, each number cited."""

    model_config = ConfigDict(populate_by_name=True)

    place: Place
    document: Document | None = None
    period: Period
    ladder_changes: LadderChanges | None = Field(default=None, alias="ladder")
    baseline: Baseline
    targets: list[Target] = Field(default_factory=list)
    levers: Levers = Field(default_factory=Levers)
    parameters: dict[str, Quantity] = Field(default_factory=dict)
    not_modelled: list[NotModelled] = Field(default_factory=list)
    plan: PlanSearch | None = Field(
        default=None, description="the levers `srdi plan` searches and their ranges"
    )
    notes: str | None = None
    _ladder: Ladder | None = PrivateAttr(default=None)
    _specs: dict[str, Spec] | None = PrivateAttr(default=None)
    _resolved: Any = PrivateAttr(default=None)

    # --- derived views -------------------------------------------------------------------
    @property
    def province(self) -> str | None:
        """The province the place competes in (None for the country)."""
        return self.place.province

    @property
    def tier_ids(self) -> list[str]:
        """The ladder's tier ids from the lowest title up (standard and local tiers)."""
        return self.ladder().ids

    def ladder(self) -> Ladder:
        """The ladder this scenario uses: the MIIT criteria with the `ladder:` section applied."""
        if self._ladder is None:
            changes = self.ladder_changes.as_data() if self.ladder_changes else None
            self._ladder = Ladder.from_dict(apply_changes(standard_document(), changes))
        return self._ladder

    @property
    def has_levers(self) -> bool:
        """Whether any lever is set (without, the counterfactual is the forecast itself)."""
        return any(
            getattr(self.levers, name) is not None for name in type(self.levers).model_fields
        )

    def resolved_baseline(self):
        """The baseline as the model reads it (`baseline.resolve`): counts at the end of the
        base year in valid titles, candidates stated or by default, and notes saying how."""
        if self._resolved is None:
            from sim.scenario.baseline import resolve

            self._resolved = resolve(self)
        return self._resolved

    def notes_for_forecast(self) -> list[str]:
        """What the forecast output says about this scenario's inputs: no targets, no levers,
        baseline counts converted, candidates by default."""
        out = []
        if not self.targets:
            out.append(
                "No targets: the scenario states none, so this is a status-quo forecast of each "
                "tier's counts (no probabilities of reaching anything)."
            )
        if not self.has_levers:
            out.append(
                "No levers: the counterfactual (every lever off) is the forecast itself; no "
                "firms are attributable to policy and nothing is spent."
            )
        if self.document is None:
            out.append("No document: the scenario cites no plan.")
        return out + list(self.resolved_baseline().notes)

    def specs(self) -> dict[str, Spec]:
        """Every quantity the model reads, by dotted path: defaults, then scenario entries."""
        if self._specs is not None:
            return self._specs
        out = defaults()
        for name, q in self.parameters.items():
            out[name] = q.spec()
        base = self.resolved_baseline()
        for tier, q in base.counts.items():
            out[f"baseline.counts.{tier}"] = q.spec(integer=True)
        out["baseline.candidates"] = base.candidates.spec(integer=True)
        out["baseline.candidate_inflow_per_year"] = base.candidate_inflow_per_year.spec(
            integer=True
        )
        whole = lever_paths(self)
        for path, q in _quantities(self.levers, "levers"):
            out[path] = q.spec(integer=whole[path])
        self._specs = out
        return out

    def with_lever(self, path: str, value: float) -> Scenario:
        """A copy with one lever quantity (`loans.coverage`, i.e. `levers.loans.coverage`) set
        to a point value; the original is untouched. ScenarioErrors for a path the scenario's
        levers do not have or a value the quantity cannot take."""
        full = path if path.startswith("levers.") else f"levers.{path}"
        check_values(self, {full: value}, "with_lever", within="levers.")
        doc = self.model_dump(mode="python", by_alias=True, exclude_none=True)
        node = doc
        parts = full.split(".")
        for p in parts[:-1]:
            node = node[p]
        q = dict(node[parts[-1]])
        q.pop("low", None)
        q.pop("high", None)
        q["value"] = float(value)
        node[parts[-1]] = q
        return Scenario.model_validate(doc)


FRACTION_PREFIXES = ("approval.", "apply.base.", "re_review.", "exit.hazard.")


def value_bounds(path: str) -> tuple[float, float] | None:
    """The interval a quantity's values must lie in, or None when any finite number will do:
    rates and shares in [0, 1], other lever and baseline quantities at least 0."""
    last = path.rsplit(".", 1)[-1]
    if path.startswith("competition.batch_quantile."):  # a quantile of the batch's distribution
        return 0.0, 1.0
    if path.startswith(FRACTION_PREFIXES) or last.endswith(SHARE_SUFFIXES):
        return 0.0, 1.0
    if path.startswith(("levers.", "baseline.")):
        return 0.0, math.inf
    return None


def nearest_paths(path: str, known: Iterable[str]) -> list[str]:
    """Up to three known paths close to a misspelt one."""
    known = sorted(known)
    near = difflib.get_close_matches(path, known, n=3, cutoff=0.6)
    if not near:  # the last word often carries the meaning (`little_giant` vs `national_...`)
        tail = path.rsplit(".", 1)[-1]
        near = [k for k in known if tail and tail in k][:3]
    return near


def _known_path(path: str, known: set[str]) -> bool:
    """A quantity the scenario reads, or a dated value of one (`apply.base.<tier>.<year>`)."""
    if path in known:
        return True
    head, _, year = path.rpartition(".")
    return year.isdigit() and len(year) == 4 and head in known


def check_values(
    scenario: Scenario, values: Mapping[str, float], source: str = "values", within: str = ""
) -> None:
    """Refuse overrides (`values=` of the model and ensemble, `with_lever`) the scenario cannot
    take: an unknown path (with the nearest known ones; `within` limits the known paths to
    those starting with it), a value that is not a finite number, or one outside what the
    quantity allows. Every problem is reported at once."""
    from sim.engine.competition import BATCH_QUANTILE

    known = {k for k in scenario.specs() if k.startswith(within)}
    # a run may also fix a title's batches at a quantile (`srdi sensitivity`): no drawn quantity
    known |= {p for t in scenario.tier_ids if (p := BATCH_QUANTILE + t).startswith(within)}
    errs = []
    for path, v in values.items():
        if not _known_path(str(path), known):
            near = nearest_paths(str(path), known)
            errs.append(ScenarioError(
                source, str(path), expected="the dotted path of a quantity the model reads",
                found=f"'{path}' (no such quantity)", kind="unknown_key",
                fix=f"Did you mean {' or '.join(repr(n) for n in near)}?" if near else None,
            ))  # fmt: skip
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            errs.append(ScenarioError(source, str(path), expected="a finite number",
                                      found=repr(v), kind="wrong_type"))  # fmt: skip
            continue
        bounds = value_bounds(str(path))
        if bounds is not None and not bounds[0] <= v <= bounds[1]:
            lo, hi = bounds
            what = f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"at least {lo:g}"
            errs.append(ScenarioError(
                source, str(path), expected=f"a number {what}", found=repr(v), kind="out_of_range",
                fix="Write 25 % as 0.25." if hi == 1.0 and v > 1 else None,
            ))  # fmt: skip
    if errs:
        raise ScenarioErrors(errs)


def parse_settings(
    scenario: Scenario, items: Iterable[str], source: str = "--set"
) -> dict[str, float]:
    """`PATH=VALUE` settings (the command line's `--set`) as the `values=` of a run, checked
    against the scenario like any override (`check_values`): any quantity the scenario reads,
    a lever or an uncertainty. Every problem is reported at once, as ScenarioErrors."""
    values: dict[str, float] = {}
    errs = []
    for item in items:
        path, eq, text = (part.strip() for part in str(item).partition("="))
        problem = None
        if not eq or not path:
            problem = ("PATH=VALUE, e.g. levers.loans.coverage=0.6", repr(item))
        elif path in values:
            problem = ("set once", f"'{path}' set twice")
        else:
            try:
                values[path] = float(text.replace("_", ""))
            except ValueError:
                problem = ("a number after '='", repr(text))
        if problem:
            errs.append(ScenarioError(source, path, expected=problem[0], found=problem[1],
                                      kind="wrong_type"))  # fmt: skip
    try:
        check_values(scenario, values, source)
    except ScenarioErrors as e:
        for err in e.errors:
            lever = err.path.split(".")[1] if err.path.startswith("levers.") else None
            if err.kind == "unknown_key" and lever and getattr(scenario.levers, lever, 1) is None:
                err.fix = (
                    f"The scenario has no '{lever}' lever: --set changes quantities the "
                    "scenario reads; add the lever to the scenario (or a sweep file's "
                    "scenario_patch) first."
                )
        errs += e.errors
    if errs:
        raise ScenarioErrors(errs)
    return values


def describe_settings(scenario: Scenario, values: Mapping[str, float]) -> list[str]:
    """One line per setting: the path, the value set, and what the scenario had."""
    specs = scenario.specs()
    out = []
    for path, v in values.items():
        spec = specs.get(path) or specs.get(path.rpartition(".")[0])
        had = ""
        if spec is not None and spec.sample:
            had = f"calibrated, posterior {spec.low:g}-{spec.high:g}"
        elif spec is not None:
            had = f"{spec.low:g}-{spec.high:g}" if spec.draw else f"{spec.value:g}"
        out.append(f"{path} = {v:g}" + (f" (scenario: {had})" if had else ""))
    return out


def lever_paths(scenario: Scenario) -> dict[str, bool]:
    """The scenario's lever quantities by dotted path, each with whether it is a whole number
    (firms per year, a pool's size), as `Scenario.specs` reads them."""
    return {
        path: path.endswith("firms_per_year") or path.endswith(".size")
        for path, _ in _quantities(scenario.levers, "levers")
    }


def lever_range_problems(
    scenario: Scenario, path: str, low: float, high: float, step: float | None
) -> list[tuple[str, str, str, str | None, str]]:
    """What is wrong with a range `srdi plan` would search for a lever quantity (the scenario's
    `plan:` section and `--lever`), as (field, expected, found, fix, kind); field is '' for the
    path itself, else 'low', 'high' or 'step'. Empty when the range can be searched."""
    levers = lever_paths(scenario)
    if path not in levers:
        near = nearest_paths(path, levers)
        if f"levers.{path}" in levers:
            fix = f"Write the full path 'levers.{path}'."
        elif near:
            fix = f"Did you mean {' or '.join(repr(n) for n in near)}?"
        else:
            fix = "The scenario has no levers to search." if not levers else None
        known = ", ".join(sorted(levers)) or "none"
        return [("", f"a lever quantity of the scenario ({known})", repr(path), fix,
                 "unknown_key")]  # fmt: skip
    out = []
    lo, hi = value_bounds(path) or (-math.inf, math.inf)
    for key, v in (("low", low), ("high", high)):
        if not lo <= v <= hi:
            what = f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"at least {lo:g}"
            fix = "Write 25 % as 0.25." if hi == 1.0 and v > 1 else None
            out.append((key, f"a number {what}", f"{v:g}", fix, "out_of_range"))
    if step is not None and not step > 0:
        out.append(("step", "a number greater than 0", f"{step:g}", None, "out_of_range"))
    elif levers[path]:
        for key, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and v != int(v):
                out.append((key, f"a whole number ({path} counts firms)", f"{v:g}", None,
                            "invalid"))  # fmt: skip
    if step is not None and high > low and step > high - low:
        out.append(("step", f"at most high - low ({high - low:g}), so that more than one "
                    "value is searched", f"{step:g}", None, "out_of_range"))  # fmt: skip
    return out


def _quantities(obj: Any, prefix: str) -> Iterable[tuple[str, Quantity]]:
    """Every Quantity inside a schema object, with its dotted path."""
    if isinstance(obj, Quantity):
        yield prefix, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _quantities(getattr(obj, name), f"{prefix}.{name}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _quantities(v, f"{prefix}.{k}")


# --- strict YAML ------------------------------------------------------------------------

Loc = tuple[str, ...]


class YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads on/off/yes/no as booleans, which would turn the key `on` of
    `levers.awards` into True and a value `no` into False without a word.
    """


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_yaml(text: str) -> Any:
    """A YAML document as plain data, read as scenario files are (only true/false are booleans).

    For tools that edit scenario documents; `parse` is what validates them.
    """
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader


def _key(value: Any) -> str:
    """A mapping key or list index as it appears in a dotted path."""
    return str(value)


def _walk(node: yaml.Node, path: Loc, lines: dict[Loc, int], dups: list, seen: set[int]) -> None:
    """Record the line of every key and item, and every duplicate key, by path."""
    if id(node) in seen:  # an alias to a node already walked (or a recursive alias)
        return
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            name = _key(k.value) if isinstance(k, yaml.ScalarNode) else "<complex key>"
            line = k.start_mark.line + 1
            if (
                name in first
                and isinstance(k, yaml.ScalarNode)
                and k.tag != "tag:yaml.org,2002:merge"
            ):
                dups.append(((*path, name), first[name], line))
            first.setdefault(name, line)
            lines[(*path, name)] = line
            _walk(v, (*path, name), lines, dups, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*path, _key(i)), lines, dups, seen)
    seen.discard(id(node))


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(_key(p) for p in loc)


def _line_for(lines: Mapping[Loc, int], loc: Iterable[Any]) -> int | None:
    """The line of a path, or of its nearest ancestor present in the file."""
    loc = tuple(_key(p) for p in loc)
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _field_names(cls: type[BaseModel]) -> list[str]:
    """The keys a schema class accepts in a file (aliases where a field has one)."""
    return sorted(f.alias or name for name, f in cls.model_fields.items())


def _field(cls: type[BaseModel], key: str) -> Any:
    for name, f in cls.model_fields.items():
        if (f.alias or name) == key:
            return f
    return None


def _schema_at(cls: Any, loc: tuple) -> Any:
    """The schema type at a location (to list allowed keys), or None."""
    t = cls
    for part in loc:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            f = _field(t, part)
            if f is None:
                return None
            t = f.annotation
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        elif typing.get_origin(t) is list:
            t = typing.get_args(t)[0]
        else:
            return None
    return _unwrap(t)


def _unwrap(t: Any) -> Any:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else t
    if origin is Annotated:
        return _unwrap(typing.get_args(t)[0])
    return t


_TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "string": "a text string",
    "bool": "true or false",
    "dict": "a mapping of keys to values",
    "list": "a list",
    "model": "a mapping of keys to values",
    "literal": "one of",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "less_than_equal": "<=",
    "greater_than": ">",
    "less_than": "<",
}


def _expected_for(err: Mapping[str, Any]) -> str:
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "literal_error":
        return f"one of {ctx.get('expected')}"
    if t in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return f"a number {_BOUNDS[t]} {bound}"
    if t == "finite_number":
        return "a finite number"
    if t == "string_too_short":
        return "a non-empty text"
    if t == "string_too_long":
        return f"a text of at most {ctx.get('max_length')} characters"
    if t == "string_pattern_mismatch":
        return "an id of lower-case letters, digits and '_', starting with a letter"
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    for word, text in _TYPE_WORDS.items():
        if t.startswith(word):
            return text
    return err["msg"]


def _found(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "an empty mapping"
        return "a mapping with keys " + ", ".join(map(str, value))
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _translate(
    exc: ValidationError, file: str, lines: Mapping[Loc, int], root: type[BaseModel] | None = None
) -> list[ScenarioError]:
    """Pydantic's errors as ScenarioErrors; `root` is the document's schema (Scenario)."""
    root = root or Scenario
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        t = err["type"]
        if t == "extra_forbidden":
            parent = _schema_at(root, loc[:-1])
            allowed = (
                _field_names(parent)
                if isinstance(parent, type) and issubclass(parent, BaseModel)
                else []
            )
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            is_lever = loc[:-1] == ("levers",)
            what = "lever" if is_lever else "key"
            out.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected=f"a known {what} (allowed: " + ", ".join(allowed) + ")",
                    found=f"unknown {what} '{loc[-1]}'",
                    line=_line_for(lines, loc),
                    fix=f"Did you mean '{near[0]}'?" if near else None,
                    kind="unknown_lever" if is_lever else "unknown_key",
                )
            )
        elif t == "missing":
            out.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected="present",
                    found="nothing (the key is missing)",
                    line=_line_for(lines, loc[:-1]),
                    fix=f"Add '{loc[-1]}'.",
                    kind="missing_key",
                )
            )
        else:
            if t in _BOUNDS or t == "finite_number":
                kind = "out_of_range"
            elif t == "value_error":
                kind = "invalid"
            else:
                kind = "wrong_type"
            out.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected=_expected_for(err),
                    found=_found(err.get("input")),
                    line=_line_for(lines, loc),
                    kind=kind,
                    fix=number_hint(err.get("input")) if t.startswith(("float", "int")) else None,
                )
            )
    return out


_CHINESE_UNITS = {"万": 1e4, "亿": 1e8, "千": 1e3}


def number_hint(value: Any) -> str | None:
    """A fix for a number written as people write it in a plan: 50万, "10-15", 30%."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "").replace("，", "")
    m = re.fullmatch(r"([0-9.]+)\s*(万|亿|千)(元|家|户)?", text)
    if m:
        n = float(m.group(1)) * _CHINESE_UNITS[m.group(2)]
        return f"Write the number out: {value} is {n:,.0f} (e.g. {n:.0f})."
    m = re.fullmatch(r"([0-9.]+)\s*[-–~至到]\s*([0-9.]+)", text)
    if m:
        return f"Write a range as two keys: low: {m.group(1)} and high: {m.group(2)}."
    m = re.fullmatch(r"([0-9.]+)\s*[%％]", text)
    if m:
        return f"Write a share as a fraction: {value} is {float(m.group(1)) / 100:g}."
    return None


def _ladder_errors(
    sc: Scenario, file: str, lines: Mapping[Loc, int]
) -> tuple[list[ScenarioError], list[str]]:
    """Problems of the `ladder:` section, and the tier ids the scenario's ladder has."""
    errs: list[ScenarioError] = []
    doc = standard_document()
    tiers = {t["id"]: t for t in doc["tiers"]}
    ids = list(STANDARD_TIERS)
    ch = sc.ladder_changes
    if ch is None:
        return errs, ids

    def err(loc: tuple, expected: str, found: str, kind: str, choices=(), fix=None) -> None:
        near = difflib.get_close_matches(found.strip("'"), list(choices), n=1)
        if near and fix is None:
            fix = f"Did you mean '{near[0]}'?"
        errs.append(
            ScenarioError(file, _dotted(loc), expected, found, _line_for(lines, loc), fix, kind)
        )

    for tier_id, change in ch.tiers.items():
        loc = ("ladder", "tiers", tier_id)
        if tier_id not in tiers:
            err(loc, f"a standard tier ({', '.join(ids)})", repr(tier_id), "unknown_tier", ids)
            continue
        crits = {c["id"]: c for c in tiers[tier_id].get("criteria", [])}
        for cid, over in change.criteria.items():
            cloc = (*loc, "criteria", cid)
            if cid not in crits:
                err(
                    cloc,
                    f"a criterion of {tier_id} ({', '.join(crits)})",
                    repr(cid),
                    "unknown_criterion",
                    crits,
                )
                continue
            kind = crits[cid]["kind"]
            allowed = ("min", "max", "max_exclusive", "min_total")
            for key in allowed:
                if getattr(over, key) is not None and key not in OVERRIDABLE[kind]:
                    can = ", ".join(OVERRIDABLE[kind]) or "nothing (bands are fixed)"
                    err(
                        (*cloc, key),
                        f"a key a {kind} criterion has ({can})",
                        repr(key),
                        "invalid",
                    )
    attributes = set(COLUMNS) | set(DERIVED)
    for i, add in enumerate(ch.add):
        loc = ("ladder", "add", i)
        if add.id in ids or add.id == POOL:
            err(
                (*loc, "id"),
                "an id not used by another tier",
                repr(add.id),
                "duplicate_tier",
                fix="Choose another id.",
            )
            continue
        if add.after not in ids:
            err(
                (*loc, "after"),
                f"a tier of the ladder ({', '.join(ids)})",
                repr(add.after),
                "unknown_tier",
                ids,
            )
            continue
        if add.criteria_from is not None and add.criteria_from not in ids:
            err(
                (*loc, "criteria_from"),
                f"a tier of the ladder ({', '.join(ids)})",
                repr(add.criteria_from),
                "unknown_tier",
                ids,
            )
        for j, c in enumerate(add.criteria):
            for key, name in (("attribute", c.attribute), ("band_by", c.band_by)):
                if name is not None and name not in attributes:
                    err(
                        (*loc, "criteria", j, key),
                        "a firm attribute (sim/engine/firms.py)",
                        repr(name),
                        "unknown_attribute",
                        sorted(attributes),
                    )
        ids.insert(ids.index(add.after) + 1, add.id)
    return errs, ids


def _reference_errors(sc: Scenario, file: str, lines: Mapping[Loc, int]) -> list[ScenarioError]:
    """Checks across fields: ladder, tiers, parameters, years within the period, labels."""
    errs, tiers = _ladder_errors(sc, file, lines)
    known = tiers + [POOL]

    def bad_tier(loc: tuple, value: str, allow_pool: bool = False) -> None:
        choices = known if allow_pool else tiers
        if value not in choices:
            near = difflib.get_close_matches(value, choices, n=1)
            errs.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected="a tier of the ladder (" + ", ".join(choices) + ")",
                    found=repr(value),
                    line=_line_for(lines, loc),
                    fix=f"Did you mean '{near[0]}'?" if near else None,
                    kind="unknown_tier",
                )
            )

    for name in sc.baseline.counts:
        bad_tier(("baseline", "counts", name), name)
    # counts are firms holding AT LEAST each title: they cannot grow up the ladder. Single
    # champions are a programme of their own (a champion need not be a little giant: in 2018
    # China had 125-200 champions and no little giant), so their count is not compared.
    counted = [t for t in tiers if t in sc.baseline.counts and t != "single_champion"]
    for lower, higher in zip(counted, counted[1:], strict=False):
        lo_q, hi_q = sc.baseline.counts[lower], sc.baseline.counts[higher]
        if lo_q.measure != hi_q.measure:
            continue  # a cumulative count is compared after its conversion (baseline.py)
        lower_max = lo_q.high if lo_q.is_range else lo_q.value
        higher_min = hi_q.low if hi_q.is_range else hi_q.value
        if None not in (lower_max, higher_min) and higher_min > lower_max:
            errs.append(
                ScenarioError(
                    file,
                    f"baseline.counts.{higher}",
                    expected=f"at most the count of {lower} ({lower_max:g}): counts are firms "
                    "holding at least each title, so a higher title has no more holders",
                    found=f"{higher_min:g}",
                    line=_line_for(lines, ("baseline", "counts", higher)),
                    fix=f"Check both counts; {lower} includes the holders of {higher}.",
                    kind="inconsistent",
                )
            )
    for i, name in enumerate(sc.baseline.created_in_start_year):
        bad_tier(("baseline", "created_in_start_year", i), name)
    seen_ids: dict[str, int] = {}
    for i, t in enumerate(sc.targets):
        bad_tier(("targets", i, "tier"), t.tier, allow_pool=KINDS[t.kind].tier_rule == "pool")
        if t.id in seen_ids:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.id",
                    expected="a target id used once",
                    found=f"'{t.id}' again (first at targets.{seen_ids[t.id]})",
                    line=_line_for(lines, ("targets", i, "id")),
                    fix="Give each target its own id.",
                    kind="duplicate_id",
                )
            )
        seen_ids.setdefault(t.id, i)
        if not sc.period.start <= t.year <= sc.period.end:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.year",
                    expected=f"a year within the period {sc.period.start}-{sc.period.end}",
                    found=str(t.year),
                    line=_line_for(lines, ("targets", i, "year")),
                    fix="Change the year or the period.",
                    kind="year_outside_period",
                )
            )
        if t.kind == "pool_size" and sc.levers.cultivation_pool is None:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.kind",
                    expected="a pool_size target only with levers.cultivation_pool",
                    found="no cultivation_pool lever",
                    line=_line_for(lines, ("targets", i, "kind")),
                    fix="Add levers.cultivation_pool (its size is the plan's pool).",
                    kind="invalid",
                )
            )
    lv = sc.levers
    if lv.awards:
        for name in lv.awards.by_tier:
            bad_tier(("levers", "awards", "by_tier", name), name)
    if lv.matching_subsidy:
        bad_tier(("levers", "matching_subsidy", "tier"), lv.matching_subsidy.tier)
    if lv.loans:
        bad_tier(("levers", "loans", "from_tier"), lv.loans.from_tier)
    if lv.rd_support:
        bad_tier(("levers", "rd_support", "from_tier"), lv.rd_support.from_tier, allow_pool=True)
    if lv.bring_in:
        bad_tier(("levers", "bring_in", "tier"), lv.bring_in.tier)
    if lv.cultivation_pool:
        bad_tier(("levers", "cultivation_pool", "below_tier"), lv.cultivation_pool.below_tier)
    if lv.stewards:
        for i, name in enumerate(lv.stewards.tiers):
            bad_tier(("levers", "stewards", "tiers", i), name)

    # parameters: the shipped ones, plus those of the scenario's local tiers (required)
    known_params = set(defaults())
    # (a local tier placed wrongly is reported above; its parameters are still its own)
    local = [a.id for a in sc.ladder_changes.add] if sc.ladder_changes else []
    local = list(dict.fromkeys(t for t in local if t not in STANDARD_TIERS and t != POOL))
    for tier_id in local:
        for pattern in TIER_PARAMETERS:
            name = pattern.format(tier_id)
            known_params.add(name)
            if name not in sc.parameters:
                i = next(j for j, a in enumerate(sc.ladder_changes.add) if a.id == tier_id)
                errs.append(
                    ScenarioError(
                        file,
                        f"parameters.{name}",
                        expected=f"a value for the local tier '{tier_id}' (cited or a range)",
                        found="nothing (the parameter is missing)",
                        line=lines.get(("parameters",)) or _line_for(lines, ("ladder", "add", i)),
                        fix=f"Add parameters.{name} with a value or low/high and a source.",
                        kind="missing_parameter",
                    )
                )
    for name in sc.parameters:
        if name not in known_params:
            near = difflib.get_close_matches(name, sorted(known_params), n=3)
            errs.append(
                ScenarioError(
                    file,
                    f"parameters.{name}",
                    expected="a model parameter of sim/data/parameters.yaml or of a local tier",
                    found=repr(name),
                    line=_line_for(lines, ("parameters", name)),
                    fix=("Nearest: " + ", ".join(near) + ".") if near else None,
                    kind="unknown_parameter",
                )
            )

    if sc.plan is not None:
        for path, r in sc.plan.levers.items():
            loc = ("plan", "levers", path)
            for key, expected, found, fix, kind in lever_range_problems(
                sc, path, r.low, r.high, r.step
            ):
                errs.append(ScenarioError(
                    file, ".".join(filter(None, ("plan.levers", path, key))), expected, found,
                    _line_for(lines, (*loc, key) if key else loc), fix, kind,
                ))  # fmt: skip
    # every number: non-negative; estimates say how; assumptions are ranges
    for path, q in _quantities(sc, ""):
        dotted = path.strip(".")
        loc = tuple(dotted.split("."))
        lo = q.low if q.is_range else q.value
        if lo is not None and lo < 0:
            errs.append(
                ScenarioError(
                    file,
                    dotted + (".low" if q.is_range else ".value"),
                    expected="a non-negative number",
                    found=f"{lo:g}",
                    line=_line_for(lines, (*loc, "low" if q.is_range else "value")),
                    kind="out_of_range",
                )
            )
        if q.basis == "estimate" and not q.how:
            errs.append(
                ScenarioError(
                    file,
                    dotted + ".how",
                    expected="'how' the estimate was made (basis: estimate)",
                    found="nothing (the key is missing)",
                    line=_line_for(lines, loc),
                    fix="Add 'how': the numbers and the arithmetic behind the estimate.",
                    kind="missing_key",
                )
            )
        if q.basis == "assumption" and not q.is_range:
            errs.append(
                ScenarioError(
                    file,
                    dotted,
                    expected="a range 'low'..'high' (basis: assumption)",
                    found=f"a point value {q.value:g}",
                    line=_line_for(lines, (*loc, "value")),
                    fix="State an assumption as the range you believe, with 'low' and 'high'.",
                    kind="invalid",
                )
            )
    for path, q in _quantities(sc.levers, "levers"):
        if path.rsplit(".", 1)[-1].endswith(SHARE_SUFFIXES):
            hi = q.high if q.is_range else q.value
            if hi is not None and hi > 1:
                key = "high" if q.is_range else "value"
                errs.append(
                    ScenarioError(
                        file,
                        f"{path}.{key}",
                        expected="a fraction between 0 and 1",
                        found=f"{hi:g}",
                        line=_line_for(lines, (*path.split("."), key)),
                        fix="Write 25 % as 0.25.",
                        kind="out_of_range",
                    )
                )
    # counts as of a date, cumulative counts, default candidates (once the rest is sound)
    if not errs:
        for p in sc.resolved_baseline().problems:
            loc = tuple(p.path.split("."))
            line = _line_for(lines, loc)
            errs.append(ScenarioError(file, p.path, p.expected, p.found, line, p.fix, p.kind))
    return errs


MAX_NODES = 100_000  # values in a document with its aliases expanded (shipped files: < 2,000)
MAX_FILE_BYTES = 2_000_000  # the shipped files are under 40 kB
MAX_DEPTH = 100  # nesting of mappings and lists (shipped files: under 10)


def _nesting_depth(text: str) -> int:
    """An upper bound on a YAML text's nesting, read without parsing (so that a deeply nested
    document is refused before the parser recurses into it): open brackets outside quotes and
    comments, plus the deepest indentation in steps of two spaces."""
    depth = deepest = 0
    indent = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if stripped and not stripped.startswith("#"):
            indent = max(indent, (len(line) - len(stripped)) // 2)
        quote = None
        for ch in stripped:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in "]}":
                depth = max(0, depth - 1)
    return deepest + indent


def _expanded_size(node: yaml.Node, memo: dict[int, int], stack: tuple[int, ...]) -> int:
    """How many values `node` holds once every alias is expanded, counted without expanding
    (each node once, memoised), so that an alias bomb is measured in linear time. A node that
    contains itself raises RecursionError (reported as a recursive alias)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:
        raise RecursionError("recursive alias")
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, memo, (*stack, key))
        if total > MAX_NODES:
            break
    memo[key] = total
    return total


def read_document(text: str, file: str) -> tuple[Any, dict[Loc, int], list[ScenarioError]]:
    """A YAML document as data, the line of every key and item by path, and duplicate keys.

    Raises ScenarioErrors when the text is not YAML (or has a recursive alias).
    """
    if _nesting_depth(text) > MAX_DEPTH:
        raise ScenarioErrors([ScenarioError(
            file, "", expected=f"a document nested at most {MAX_DEPTH} levels deep",
            found="deeper nesting", kind="yaml_syntax",
            fix="Scenario files need a few levels; is this the right file?",
        )])  # fmt: skip
    try:
        loader = YamlLoader(text)
        try:
            node = loader.get_single_node()
            lines: dict[Loc, int] = {}
            dups: list = []
            if node is not None:
                size = _expanded_size(node, {}, ())
                if size > MAX_NODES:
                    raise ScenarioErrors(
                        [
                            ScenarioError(
                                file,
                                "",
                                expected=f"a document of at most {MAX_NODES:,} values once its "
                                "aliases (*name) are expanded",
                                found=f"more than {MAX_NODES:,} (aliases that repeat aliases)",
                                fix="Write the values out; scenario files need no nested aliases.",
                                kind="yaml_syntax",
                            )
                        ]
                    )
                _walk(node, (), lines, dups, set())
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="valid YAML",
                    found=str(getattr(e, "problem", None) or e),
                    line=mark.line + 1 if mark else None,
                    fix="Check the indentation and the ':' after each key near that line.",
                    kind="yaml_syntax",
                )
            ]
        ) from None
    except RecursionError:
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="a finite document",
                    found="a recursive alias or nesting too deep to read",
                    kind="yaml_syntax",
                )
            ]
        ) from None
    errs = [
        ScenarioError(
            file,
            _dotted(path),
            expected="each key once in a mapping",
            found=f"'{path[-1]}' again (first on line {first})",
            line=again,
            fix="Remove or merge the duplicate.",
            kind="duplicate_key",
        )
        for path, first, again in dups
    ]
    return data, lines, errs


def parse(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario document. Raises ScenarioErrors listing every problem."""
    data, lines, errs = read_document(text, file)
    if not isinstance(data, dict):
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="a mapping with place, document, period, baseline, targets",
                    found=_found(data),
                    line=1,
                    kind="wrong_type",
                )
            ]
        )
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        schema = _translate(e, file, lines)
        raise ScenarioErrors(errs + schema + _cross_checks_despite(data, e, file, lines)) from None
    except RecursionError:
        raise ScenarioErrors(
            [ScenarioError(file, "", "a finite document", "a recursive alias", kind="yaml_syntax")]
        ) from None
    errs += _reference_errors(sc, file, lines)
    if errs:
        raise ScenarioErrors(errs)
    return sc


def _cross_checks_despite(
    data: dict, exc: ValidationError, file: str, lines: Mapping[Loc, int]
) -> list[ScenarioError]:
    """The cross-field problems of a document that also has schema problems, so that one run
    reports both: where the schema problems are only unknown keys (the common typo), the
    document without them is validated and cross-checked; otherwise there is nothing sound to
    cross-check, and those problems come once the schema is fixed."""
    problems = exc.errors(include_url=False)
    if any(err["type"] != "extra_forbidden" for err in problems):
        return []
    doc = copy.deepcopy(data)
    for err in problems:
        *parent, key = err["loc"]
        node = doc
        for k in parent:
            node = node[k]
        node.pop(key, None)
    try:
        sc = Scenario.model_validate(doc)
    except (ValidationError, RecursionError):
        return []
    return _reference_errors(sc, file, lines)


def read_text_file(path: str | Path, what: str, fix: str | None = None) -> str:
    """The UTF-8 text of a file the user named; ScenarioErrors if it is missing or not text.

    `what` names the kind of file in the message ("scenario file", "context file").
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioErrors(
            [
                ScenarioError(
                    str(p),
                    "",
                    expected=f"an existing {what} (YAML)",
                    found="no such file" if not p.exists() else "a directory",
                    kind="no_file",
                    fix=fix,
                )
            ]
        )
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ScenarioErrors([ScenarioError(
            str(p), "", expected=f"a {what} of at most {MAX_FILE_BYTES // 1_000_000} MB",
            found=f"{size / 1e6:.1f} MB", kind="too_large",
            fix="A scenario is a few pages of YAML; is this the right file?",
        )])  # fmt: skip
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioErrors(
            [
                ScenarioError(
                    str(p),
                    "",
                    expected="UTF-8 text",
                    found=f"undecodable bytes ({e.reason})",
                    kind="encoding",
                )
            ]
        ) from None


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    text = read_text_file(path, "scenario file", "List shipped scenarios with `srdi list`.")
    return parse(text, str(Path(path)))


def is_sweep_file(p: Path) -> bool:
    """A YAML file whose top level has `vary` or `scenario` (a scenario file has `place`)."""
    p = Path(p)
    if not p.is_file():
        return False
    try:  # the guarded reader: a hostile file is refused by the loader that follows
        data, _, _ = read_document(read_text_file(p, "YAML file"), str(p))
    except (ScenarioErrors, RecursionError):
        return False
    return isinstance(data, dict) and "place" not in data and ("vary" in data or "scenario" in data)


def validate_files(paths: Iterable[str | Path]) -> list[ScenarioError]:
    """Every problem in every file (an empty list when all are valid)."""
    out: list[ScenarioError] = []
    for p in paths:
        try:
            if is_sweep_file(Path(p)):  # a sweep file is checked as one (its scenario too)
                from sim.runs.sweep import plan

                plan(p)
            else:
                load(p)
        except ScenarioErrors as e:
            out.extend(e.errors)
        except ScenarioError as e:  # the sweep's checks raise their first problem
            out.append(e)
    return out


def warnings_for(sc: Scenario, path: str | Path) -> list[str]:
    """What is valid but probably not meant: a file named other than its place id, a stock
    target the base year already meets (its probability is 1 by construction), a cited file
    that cannot be opened (`sim.scenario.citations`)."""
    from sim.scenario.citations import unresolved_citations

    out = []
    stem = Path(path).stem
    if stem != sc.place.id:
        out.append(f"{path}: the file name '{stem}' differs from place.id '{sc.place.id}'")
    for t in sc.targets:
        q = sc.baseline.counts.get(t.tier)
        if t.kind != "stock" or q is None:
            continue
        base_low = q.low if q.is_range else q.value
        if base_low is not None and base_low >= t.value:
            out.append(
                f"{path}: target '{t.id}' ({t.value:g} {t.tier} in {t.year}) is already met at "
                f"the base year ({base_low:g} at least): check the value or the tier"
            )
    for cited in unresolved_citations(sc, path):
        out.append(
            f"{path}: the cited file '{cited}' is not found (looked for from the scenario's "
            "folder, the current folder and the project's root): check the path"
        )
    return out


def copy_scenario(sc: Scenario) -> Scenario:
    return copy.deepcopy(sc)


__all__ = [
    "Scenario",
    "Quantity",
    "LadderChanges",
    "load",
    "parse",
    "read_yaml",
    "validate_files",
    "np",
]
