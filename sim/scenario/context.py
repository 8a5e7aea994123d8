"""A place's context: the batches of the evaluators above it, its share of them, its stocks.

Titles are rationed: MIIT grants a limited number of national titles a year and each province a
limited number of provincial ones. A context file (sim/data/context/<region>.yaml) holds what
the sources say about an evaluator's yearly batches, the goals it paces them to, the region's
share of national batches and its stocks, each number with its source. Files are read as
scenarios are: strictly, with every problem reported at once (file, dotted path, line).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from sim.engine.ladder import STANDARD_TIERS
from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.messages import translate
from sim.scenario.quantities import NonEmpty, Strict
from sim.yaml_io import Loc, line_for, read_document, read_text_file

NATIONAL_TIERS = ("national_little_giant", "single_champion")
PROVINCIAL_TIERS = ("innovative_sme", "provincial_srdi")
FIRST_YEAR, LAST_YEAR = 2010, 2035
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _as_text(value: Any) -> Any:
    """A year written as a number (2022) as its text (sim.yaml_io keeps a date as text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_date(value: str) -> str:
    m = _DATE.match(value)
    if not m:
        raise ValueError(f"a date 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' (got {value!r})")
    year, month, day = (int(g) if g else None for g in m.groups())
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"a year from {FIRST_YEAR} to {LAST_YEAR} (got {year})")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"a month from 01 to 12 (got {value!r})")
    if day is not None:
        dt.date(year, month, day)  # raises ValueError on a day the month lacks
    return value


DateText = Annotated[str, BeforeValidator(_as_text), Field(pattern=_DATE.pattern)]
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]
Count = Annotated[float, Field(ge=0)]
Month = Annotated[int, Field(ge=1, le=12)]


def as_of_year(as_of: str, announced_month: int | None) -> int:
    """The model year whose end a count dated `as_of` corresponds to.

    A count dated before the month a year's list is usually announced is the previous year's
    end stock; a count dated in or after that month, or dated by year only, is that year's.
    Without a known announcement month a count is taken as the year's end only in December.
    """
    m = _DATE.match(str(as_of))
    if not m:
        raise ValueError(f"as_of must be 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', got {as_of!r}")
    year = int(m.group(1))
    if m.group(2) is None:
        return year
    month = int(m.group(2))
    return year if month >= (announced_month or 12) else year - 1


def _check_number(
    basis: str, how: str | None, point: float | None, point_name: str, low, high
) -> bool:
    """The checks a sourced number shares: 'how' unless cited; a point or a full range with
    low <= high. Returns whether a range is given."""
    if basis != "cited" and not how:
        raise ValueError(f"'how' the number was made (basis: {basis})")
    has_range = low is not None or high is not None
    if has_range and (low is None or high is None):
        raise ValueError("both 'low' and 'high'")
    if point is None and not has_range:
        raise ValueError(f"'{point_name}', or both 'low' and 'high'")
    if has_range and low > high:
        raise ValueError(f"'low' <= 'high' (low {low:g} > high {high:g})")
    return has_range


class BatchObservation(Strict):
    """One year's list of an evaluator: the firms newly titled that year."""

    year: Year
    count: Count | None = None
    low: Count | None = None
    high: Count | None = None
    form: Literal["point", "lower", "interval"] = "point"
    basis: Literal["cited", "estimate", "derived"] = "cited"
    announced: DateText | None = Field(
        default=None, description="the date by which the list was published, per the sources"
    )
    source: NonEmpty
    note: str | None = None
    how: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> BatchObservation:
        has_range = _check_number(self.basis, self.how, self.count, "count", self.low, self.high)
        if self.form == "interval" and not has_range:
            raise ValueError("'low' and 'high' (form: interval)")
        if self.announced is not None:
            _check_date(self.announced)
        return self


class Goal(Strict):
    """A stated goal an evaluator paces its batches to."""

    kind: Literal["cumulative", "per_year", "stock"]
    value: Count
    by: Year
    from_year: Year | None = None
    published: DateText
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _years(self) -> Goal:
        _check_date(self.published)
        if self.kind == "per_year" and self.from_year is None:
            raise ValueError("'from_year', the first year of a per_year goal")
        if self.from_year is not None and self.from_year > self.by:
            raise ValueError(f"'from_year' <= 'by' (got {self.from_year} > {self.by})")
        return self


class TierBatches(Strict):
    """How an evaluator grants one title: rationed batches or a criteria threshold."""

    recognition: Literal["rationed", "criteria"]
    reason: str | None = None
    announced_month: Month | None = None
    announced_source: str | None = None
    observed: list[BatchObservation] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)

    @model_validator(mode="after")
    def _explained(self) -> TierBatches:
        if self.recognition == "criteria" and not self.reason:
            raise ValueError("a 'reason' for recognition: criteria (why there is no quota)")
        if self.announced_month is not None and not self.announced_source:
            raise ValueError("an 'announced_source' for 'announced_month'")
        return self


class NationalShare(Strict):
    """The region's firms among those of a national (MIIT) batch or list."""

    year: Year
    first_year: Year | None = None
    count: Count
    of: Count
    form: Literal["point", "lower"] = "point"
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _part(self) -> NationalShare:
        if self.of < self.count:
            raise ValueError(f"'of' >= 'count' (of {self.of:g} < count {self.count:g})")
        if self.of == 0:
            raise ValueError("'of' > 0")
        if self.first_year is not None and self.first_year > self.year:
            raise ValueError(f"'first_year' <= 'year' (got {self.first_year} > {self.year})")
        return self

    @property
    def share(self) -> float:
        return self.count / self.of


class StockObservation(Strict):
    """Firms holding a title at a date."""

    as_of: DateText
    count: Count
    measure: Literal["valid", "cumulative"]
    form: Literal["point", "lower", "approximate"] = "point"
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _date(self) -> StockObservation:
        _check_date(self.as_of)
        return self


class ReReview(Strict):
    """The three-year re-review (复核) of one batch: how many of its firms kept the title."""

    batch_year: Year
    reviewed_year: Year
    passed: Count
    passed_alt: Count | None = Field(default=None, description="another source's count")
    of: Count
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _part(self) -> ReReview:
        for name, passed in (("passed", self.passed), ("passed_alt", self.passed_alt)):
            if passed is not None and passed > self.of:
                raise ValueError(f"'{name}' <= 'of' (got {passed:g} > {self.of:g})")
        if self.reviewed_year <= self.batch_year:
            raise ValueError(
                f"'reviewed_year' > 'batch_year' (got {self.reviewed_year} <= {self.batch_year})"
            )
        return self


class Rate(Strict):
    """A share in [0, 1]: an observed `value`, a range `low`..`high`, or both."""

    value: Annotated[float, Field(ge=0, le=1)] | None = None
    low: Annotated[float, Field(ge=0, le=1)] | None = None
    high: Annotated[float, Field(ge=0, le=1)] | None = None
    basis: Literal["cited", "estimate", "assumption"] = "cited"
    source: NonEmpty
    how: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Rate:
        has_range = _check_number(self.basis, self.how, self.value, "value", self.low, self.high)
        if has_range and self.value is not None and not self.low <= self.value <= self.high:
            raise ValueError(f"'value' within 'low'..'high' (got {self.value:g})")
        if self.basis == "assumption" and not has_range:
            raise ValueError("a range 'low'..'high' (basis: assumption)")
        return self

    @property
    def central(self) -> float:
        return self.value if self.value is not None else (self.low + self.high) / 2


class Applicants(Strict):
    """How many firms compete per title."""

    approval_rate: Rate


class Context(Strict):
    """What the sources say about a region's evaluators, its shares and its stocks."""

    region: NonEmpty
    name_zh: NonEmpty
    level: Literal["country", "province"]
    parent: str | None = None
    batches: dict[str, TierBatches]
    national_shares: dict[str, list[NationalShare]] = Field(default_factory=dict)
    national_goals: dict[str, list[Goal]] = Field(
        default_factory=dict,
        description="a province's own goals for its count of national titles",
    )
    stocks: dict[str, list[StockObservation]] = Field(default_factory=dict)
    re_review: dict[str, list[ReReview]] = Field(default_factory=dict)
    applicants: dict[str, Applicants] = Field(default_factory=dict)
    not_known: list[NonEmpty] = Field(default_factory=list)

    def batch_history(
        self, tier: str
    ) -> list[tuple[int, float | None, float | None, float | None, str]]:
        """(year, count, low, high, form) of each observed batch of a tier, by year."""
        tb = self.batches.get(tier)
        rows = tb.observed if tb else []
        return sorted(((o.year, o.count, o.low, o.high, o.form) for o in rows), key=_by_year)

    def share_history(self, tier: str) -> list[tuple[int, int | None, float]]:
        """(year, first_year, share) of the region in each national batch or list of a tier."""
        rows = self.national_shares.get(tier, [])
        return sorted(((s.year, s.first_year, s.share) for s in rows), key=_by_year)


def _by_year(row: tuple) -> tuple:
    return (row[0], -1 if row[1] is None else row[1])


# --- checks across fields, on the document as read ------------------------------------------


def _document_errors(
    data: Mapping[str, Any], file: str, lines: Mapping[Loc, int]
) -> list[ScenarioError]:
    """Level and parent, and the tiers of each section (checked on the data as read)."""
    errs: list[ScenarioError] = []

    def err(loc: tuple, expected: str, found: str, kind: str, fix: str | None = None) -> None:
        dotted = ".".join(map(str, loc))
        errs.append(ScenarioError(file, dotted, expected, found, line_for(lines, loc), fix, kind))

    level, parent = data.get("level"), data.get("parent")
    if level == "province" and parent != "China":
        err(
            ("parent",),
            "'China' (level: province)",
            repr(parent),
            "invalid",
            "Add 'parent: China'.",
        )
    if level == "country" and parent is not None:
        err(("parent",), "absent (level: country)", repr(parent), "invalid")
    if level == "country":
        for section in ("national_shares", "national_goals"):
            if data.get(section):
                found = "a section (a country has no share of itself)"
                err((section,), "absent in a country file", found, "invalid")
    for section, allowed in (
        ("batches", STANDARD_TIERS),
        ("stocks", STANDARD_TIERS),
        ("re_review", STANDARD_TIERS),
        ("applicants", STANDARD_TIERS),
        ("national_shares", NATIONAL_TIERS),
        ("national_goals", NATIONAL_TIERS),
    ):
        value = data.get(section)
        if not isinstance(value, Mapping):
            continue
        kind_of = "national" if allowed == NATIONAL_TIERS else "standard"
        for tier in value:
            if tier not in allowed:
                near = difflib.get_close_matches(str(tier), allowed, n=1)
                err(
                    (section, tier),
                    f"a {kind_of} tier ({', '.join(allowed)})",
                    repr(tier),
                    "unknown_tier",
                    f"Did you mean '{near[0]}'?" if near else None,
                )
    if level == "province" and isinstance(data.get("batches"), Mapping):
        for tier in data["batches"]:
            if tier in NATIONAL_TIERS:
                err(
                    ("batches", tier),
                    f"a provincial tier ({', '.join(PROVINCIAL_TIERS)}) in a province file",
                    repr(tier),
                    "invalid",
                    "Put the province's part of national batches under national_shares.",
                )
    return errs


# --- loading -----------------------------------------------------------------------------------


def parse_context(text: str, file: str = "<context>") -> Context:
    """Parse and validate a context document. Raises ScenarioErrors listing every problem."""
    data, lines, errs = read_document(text, file)
    if not isinstance(data, dict):
        raise ScenarioErrors(
            errs
            + [
                ScenarioError(
                    file,
                    "",
                    expected="a mapping with region, name_zh, level, batches",
                    found=type(data).__name__,
                    line=1,
                    kind="wrong_type",
                )
            ]
        )
    errs += _document_errors(data, file, lines)
    try:
        ctx = Context.model_validate(data)
    except ValidationError as e:
        errs += translate(e, file, lines, root=Context)
        ctx = None
    except RecursionError:
        errs.append(ScenarioError(file, "", "a finite document", "a recursive alias"))
        ctx = None
    if errs or ctx is None:
        raise ScenarioErrors(errs)
    return ctx


def load_context_file(path: str | Path) -> Context:
    """Read and validate any context file."""
    return parse_context(read_text_file(path, "context file"), str(Path(path)))


_ALIASES = {"china": "national", "country": "national"}
_REGION_LINE = re.compile(r"^region:\s*[\"']?([^\"'#\n]+?)[\"']?\s*(?:#.*)?$", re.MULTILINE)


def _shipped() -> dict[str, str]:
    """File id -> region name (its `region:` line) of every shipped context file."""
    folder = resources.files("sim").joinpath("data/context")
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            file_id = entry.name[: -len(".yaml")]
            m = _REGION_LINE.search(entry.read_text(encoding="utf-8"))
            out[file_id] = m.group(1) if m else file_id.capitalize()
    return dict(sorted(out.items()))


def known_regions() -> list[str]:
    """The regions with a shipped context file ("China", "Guangdong", "Henan", ...)."""
    return sorted(_shipped().values())


def load_context(region: str) -> Context:
    """The shipped context of a region: "Henan", "henan", "China" or "national"."""
    key = region.strip().lower()
    shipped = _shipped()
    by_name = {name.lower(): file_id for file_id, name in shipped.items()}
    file_id = by_name.get(key) or _ALIASES.get(key, key)
    if file_id not in shipped:
        near = difflib.get_close_matches(key, [r.lower() for r in shipped.values()], n=1)
        raise ScenarioError(
            f"sim/data/context/{file_id}.yaml",
            "",
            expected="a region with a context file (" + ", ".join(known_regions()) + ")",
            found=repr(region),
            fix=(f"Did you mean '{shipped[by_name[near[0]]]}'? " if near else "")
            + "A new province needs a file sim/data/context/<province>.yaml.",
            kind="unknown_region",
        )
    entry = resources.files("sim").joinpath(f"data/context/{file_id}.yaml")
    return parse_context(entry.read_text(encoding="utf-8"), f"sim/data/context/{file_id}.yaml")


__all__ = [
    "Applicants",
    "BatchObservation",
    "Context",
    "Goal",
    "NationalShare",
    "Rate",
    "ReReview",
    "StockObservation",
    "TierBatches",
    "as_of_year",
    "known_regions",
    "load_context",
    "load_context_file",
    "parse_context",
]
