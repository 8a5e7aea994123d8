"""The scenario's schema: the pydantic models of a scenario file, section by section.

`Scenario` is the whole file: the place, its plan document, the period, the ladder's local
changes, the baseline, the targets, the levers (one model per kind of measure), parameters the
place overrides, measures not modelled and the ranges `srdi plan` searches. Each model refuses
unknown keys; checks across sections are in `sim.scenario.checks`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, create_model, model_validator

from sim.engine.ladder import Ladder, apply_changes, standard_document
from sim.levers import LEVER_CLASSES
from sim.scenario.parameters import Spec, defaults
from sim.scenario.quantities import (
    Count,
    NonEmpty,
    Quantity,
    Strict,
    TierId,
    lever_paths,
    quantities_in,
)
from sim.scenario.settings import check_values
from sim.scenario.target_kinds import KIND_FIELDS, KIND_NAMES, KINDS


class Place(Strict):
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


class Document(Strict):
    title: NonEmpty
    number: str | None = None
    published: NonEmpty
    seed_file: str | None = None
    url: str | None = None


class Period(Strict):
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


class Baseline(Strict):
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


class Target(Strict):
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
        for name in KIND_FIELDS:
            given = getattr(self, name) is not None
            if name in needs and not given:
                raise ValueError(f"'{name}' in a {self.kind} target (sim/scenario/target_kinds.py)")
            if given and name not in needs:
                raise ValueError(
                    f"'{name}' only in a target of kind {_kinds_needing(name)} (this one is "
                    f"{self.kind})"
                )
        return self


# one section per lever, in the order of sim.levers.LEVER_NAMES: each lever's module defines it
Levers = create_model(
    "Levers",
    __base__=Strict,
    __doc__="The plan's measures: one section per lever (sim/levers/), each optional.",
    **{name: (cls.Section | None, None) for name, cls in LEVER_CLASSES.items()},
)


class NotModelled(Strict):
    measure: NonEmpty
    source: NonEmpty
    reason: NonEmpty


class LeverRange(Strict):
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


class PlanSearch(Strict):
    """The `plan:` section: the lever quantities `srdi plan` searches, by dotted path."""

    levers: dict[str, LeverRange] = Field(min_length=1)
    note: str | None = None


# --- the ladder section: renamed tiers, changed thresholds, local tiers -----------------------


class CriterionChange(Strict):
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


class TierChange(Strict):
    """A standard tier as the place knows it: its local name, and changed criteria."""

    name: NonEmpty | None = None
    name_zh: NonEmpty | None = None
    observed_as: TierId | None = Field(
        default=None, description="its tier id in calibration/data/observed_counts.csv"
    )
    validity_years: int | None = Field(default=None, ge=1, le=10)
    criteria: dict[str, CriterionChange] = Field(default_factory=dict)
    source: NonEmpty


class Band(Strict):
    """One band of a banded criterion: `min` applies where `from` <= band_by < `to`."""

    model_config = ConfigDict(populate_by_name=True)
    lo: float | None = Field(default=None, alias="from")
    to: float | None = None
    min: float


class LocalCriterion(Strict):
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


class LocalTier(Strict):
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


class LadderChanges(Strict):
    """The scenario's `ladder:` section: changes to the standard MIIT ladder for this place."""

    tiers: dict[str, TierChange] = Field(default_factory=dict)
    add: list[LocalTier] = Field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


class Simulation(Strict):
    """How finely the place is simulated (the scenario's `simulation:` section)."""

    scale: int = Field(
        default=1,
        ge=1,
        le=1000,
        description=(
            "each simulated firm stands for `scale` firms of the place (super-individuals): "
            "the base-year counts, the candidates, their yearly inflow and the rationed "
            "titles' batches are divided by it, and every count and cost of the output is "
            "multiplied back (sim.engine.inputs.at_scale); 1: every firm simulated"
        ),
    )
    source: NonEmpty


class Scenario(Strict):
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
    simulation: Simulation | None = None
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
    def scale(self) -> int:
        """Firms of the place each simulated firm stands for (`simulation.scale`; 1 without)."""
        return self.simulation.scale if self.simulation else 1

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
        if self.scale > 1:
            out.append(
                f"Simulated at 1/{self.scale} of the place's size (simulation.scale): each "
                f"simulated firm stands for {self.scale}, and every count and cost is "
                "multiplied back."
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
        for path, q in quantities_in(self.levers, "levers"):
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
