"""The numbers of a scenario: `Quantity` (a value or a range, with its source) and `Count`.

Every number a scenario states cites where it comes from, and says whether it is cited, an
estimate or an assumption. This module also says which values a quantity may take by its
dotted path (`value_bounds`) and walks a schema object for its quantities (`quantities_in`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sim.scenario.parameters import Spec

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

Basis = Literal["cited", "estimate", "assumption", "provisional"]
NonEmpty = Annotated[str, Field(min_length=1)]
TierId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]

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
# Model parameters that are probabilities, in [0, 1].
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


class Strict(BaseModel):
    """A schema section that refuses unknown keys, coerces no types and no infinities."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False, allow_inf_nan=False)


class Quantity(Strict):
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
    """Checks the form of a date (sim.yaml_io reads an unquoted 2023-03-22 as its text)."""
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


def quantities_in(obj: Any, prefix: str) -> Iterable[tuple[str, Quantity]]:
    """Every Quantity inside a schema object, with its dotted path."""
    if isinstance(obj, Quantity):
        yield prefix, obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from quantities_in(getattr(obj, name), f"{prefix}.{name}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from quantities_in(v, f"{prefix}.{k}")


def lever_paths(scenario: Scenario) -> dict[str, bool]:
    """The scenario's lever quantities by dotted path, each with whether it is a whole number
    (firms per year, a pool's size), as `Scenario.specs` reads them."""
    return {
        path: path.endswith("firms_per_year") or path.endswith(".size")
        for path, _ in quantities_in(scenario.levers, "levers")
    }
