"""The scenario file: schema, strict YAML loading, validation with clear messages.

A scenario is the only place a place's measures live. Every number is a `Quantity` that cites
its source: a point (`value`) or a range (`low`, `high`) labelled `cited`, `estimate` or
`assumption`. Loading is strict: duplicate keys, unknown keys, wrong types, out-of-range values,
target years outside the period and unknown tiers or parameters are errors that name the file,
the dotted path, the line, what was expected and what was found.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .errors import ScenarioError, ScenarioErrors
from .ladder import POOL, STANDARD_TIERS, Ladder, standard_document
from .parameters import Spec, defaults

Basis = Literal["cited", "estimate", "assumption", "provisional"]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


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


class Place(_Strict):
    id: NonEmpty
    name: NonEmpty
    name_zh: str | None = None
    level: Literal["country", "province", "city", "county", "district"]
    parent: str | None = None


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

    counts: dict[str, Quantity] = Field(
        description="firms holding at least each title at the end of the base year"
    )
    candidates: Quantity = Field(description="untitled candidate firms (level 0) at the base year")
    candidate_inflow_per_year: Quantity = Field(description="new candidate firms born each year")


class Target(_Strict):
    """A plan's goal and how to read it (MODEL.md 'Targets')."""

    id: NonEmpty
    tier: NonEmpty
    kind: Literal["stock", "cumulative", "new", "pool_size"]
    year: int
    value: float = Field(ge=0)
    stretch: float | None = Field(default=None, ge=0)
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _stretch(self) -> Target:
        if self.stretch is not None and self.stretch < self.value:
            raise ValueError(f"'stretch' >= 'value' (got {self.stretch:g} < {self.value:g})")
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


class Scenario(_Strict):
    """One place's plan: targets, measures (levers) and the baseline, each number cited."""

    place: Place
    document: Document
    period: Period
    baseline: Baseline
    targets: list[Target]
    levers: Levers = Field(default_factory=Levers)
    parameters: dict[str, Quantity] = Field(default_factory=dict)
    not_modelled: list[NotModelled] = Field(default_factory=list)
    notes: str | None = None
    _ladder: Ladder | None = PrivateAttr(default=None)
    _specs: dict[str, Spec] | None = PrivateAttr(default=None)

    # --- derived views -------------------------------------------------------------------
    @property
    def tier_ids(self) -> list[str]:
        return list(STANDARD_TIERS)

    def ladder(self) -> Ladder:
        """The ladder this scenario uses (the MIIT criteria); built once per scenario."""
        if self._ladder is None:
            self._ladder = Ladder.from_dict(standard_document())
        return self._ladder

    def specs(self) -> dict[str, Spec]:
        """Every quantity the model reads, by dotted path: defaults, then scenario entries."""
        if self._specs is not None:
            return self._specs
        out = defaults()
        for name, q in self.parameters.items():
            out[name] = q.spec()
        for path, q in _quantities(self.baseline, "baseline"):
            out[path] = q.spec(integer=True)
        for path, q in _quantities(self.levers, "levers"):
            out[path] = q.spec(integer=path.endswith("firms_per_year") or path.endswith(".size"))
        self._specs = out
        return out

    def with_lever(self, path: str, value: float) -> Scenario:
        """A copy with one lever quantity set to a point value; the original is untouched."""
        doc = self.model_dump(mode="python", exclude_none=True)
        node = doc
        parts = path.split(".")
        for p in parts[:-1]:
            node = node[p]
        q = dict(node[parts[-1]])
        q.pop("low", None)
        q.pop("high", None)
        q["value"] = float(value)
        node[parts[-1]] = q
        return Scenario.model_validate(doc)


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


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, seen[key], key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, again: int) -> None:
        self.key, self.first, self.again = key, first, again


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Dotted path (as a tuple) -> 1-based line, for every key and item in the document."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            p = (*path, k.value)
            out[p] = k.start_mark.line + 1
            _line_map(v, p, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_map(v, (*path, i), out)
    return out


def _dotted(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _line_for(lines: Mapping[tuple, int], loc: tuple) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _schema_at(cls: Any, loc: tuple) -> Any:
    """The schema type at a location (to list allowed keys), or None."""
    t = cls
    for part in loc:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            f = t.model_fields.get(part)
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


def _expected_for(err: Mapping[str, Any]) -> str:
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "literal_error":
        return f"one of {ctx.get('expected')}"
    for key in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if t == key:
            op = {
                "greater_than_equal": ">=",
                "less_than_equal": "<=",
                "greater_than": ">",
                "less_than": "<",
            }[key]
            bound = next(iter(ctx.values()))
            return f"a number {op} {bound}"
    if t == "string_too_short":
        return "a non-empty text"
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    for word, text in _TYPE_WORDS.items():
        if t.startswith(word):
            return text
    return err["msg"]


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping with keys " + ", ".join(map(str, value)) if value else "an empty mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return repr(value)


def _translate(exc: ValidationError, file: str, lines: Mapping[tuple, int]) -> list[ScenarioError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        t = err["type"]
        if t == "extra_forbidden":
            parent = _schema_at(Scenario, loc[:-1])
            allowed = (
                sorted(parent.model_fields)
                if isinstance(parent, type) and issubclass(parent, BaseModel)
                else []
            )
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            fix = f"Did you mean '{near[0]}'?" if near else None
            out.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected="a known key (allowed: " + ", ".join(allowed) + ")",
                    found=f"unknown key '{loc[-1]}'",
                    line=_line_for(lines, loc),
                    fix=fix,
                    kind="unknown_key",
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
            kind = (
                "out_of_range"
                if t in ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
                else ("invalid" if t == "value_error" else "wrong_type")
            )
            out.append(
                ScenarioError(
                    file,
                    _dotted(loc),
                    expected=_expected_for(err),
                    found=_found(err.get("input")),
                    line=_line_for(lines, loc),
                    kind=kind,
                )
            )
    return out


def _reference_errors(sc: Scenario, file: str, lines: Mapping[tuple, int]) -> list[ScenarioError]:
    """Checks across fields: tiers, parameter names, years within the period."""
    errs: list[ScenarioError] = []
    tiers = sc.tier_ids
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
    for i, t in enumerate(sc.targets):
        bad_tier(("targets", i, "tier"), t.tier, allow_pool=t.kind == "pool_size")
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
    known_params = defaults()
    for name in sc.parameters:
        if name not in known_params:
            near = difflib.get_close_matches(name, list(known_params), n=3)
            errs.append(
                ScenarioError(
                    file,
                    f"parameters.{name}",
                    expected="a model parameter of sim/data/parameters.yaml",
                    found=repr(name),
                    line=_line_for(lines, ("parameters", name)),
                    fix=("Nearest: " + ", ".join(near) + ".") if near else None,
                    kind="unknown_parameter",
                )
            )
    for path, q in _quantities(sc, ""):
        lo = q.low if q.is_range else q.value
        if lo is not None and lo < 0:
            loc = tuple(p for p in path.strip(".").split("."))
            errs.append(
                ScenarioError(
                    file,
                    path.strip(".") + (".low" if q.is_range else ".value"),
                    expected="a non-negative number",
                    found=f"{lo:g}",
                    line=_line_for(lines, loc),
                    kind="out_of_range",
                )
            )
    share_paths = (
        "share",
        "coverage",
        "success_rate",
        "guarantee_fee",
        "selection_rate",
        "min_rd_intensity",
    )
    for path, q in _quantities(sc.levers, "levers"):
        if path.rsplit(".", 1)[-1].endswith(share_paths):
            hi = q.high if q.is_range else q.value
            if hi is not None and hi > 1:
                errs.append(
                    ScenarioError(
                        file,
                        path + (".high" if q.is_range else ".value"),
                        expected="a fraction between 0 and 1",
                        found=f"{hi:g}",
                        line=_line_for(lines, tuple(path.split("."))),
                        fix="Write 25 % as 0.25.",
                        kind="out_of_range",
                    )
                )
    return errs


def parse(text: str, file: str = "<scenario>") -> Scenario:
    """Parse and validate a scenario document. Raises ScenarioErrors listing every problem."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _DuplicateKey as d:
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    str(d.key),
                    expected="each key once in a mapping",
                    found=f"'{d.key}' again (first on line {d.first})",
                    line=d.again,
                    fix="Remove or merge the duplicate.",
                    kind="duplicate_key",
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="valid YAML",
                    found=str(getattr(e, "problem", e)),
                    line=mark.line + 1 if mark else None,
                    kind="yaml_syntax",
                )
            ]
        ) from None
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
    lines = _line_map(node)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioErrors(_translate(e, file, lines)) from None
    errs = _reference_errors(sc, file, lines)
    if errs:
        raise ScenarioErrors(errs)
    return sc


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioErrors(
            [
                ScenarioError(
                    str(p),
                    "",
                    expected="an existing scenario file (YAML)",
                    found="no such file" if not p.exists() else "a directory",
                    kind="no_file",
                    fix="List shipped scenarios with `srdi list`.",
                )
            ]
        )
    try:
        text = p.read_text(encoding="utf-8")
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
    return parse(text, str(p))


def validate_files(paths: Iterable[str | Path]) -> list[ScenarioError]:
    """Every problem in every file (an empty list when all are valid)."""
    out: list[ScenarioError] = []
    for p in paths:
        try:
            load(p)
        except ScenarioErrors as e:
            out.extend(e.errors)
    return out


def copy_scenario(sc: Scenario) -> Scenario:
    return copy.deepcopy(sc)


__all__ = ["Scenario", "Quantity", "load", "parse", "validate_files", "np"]
