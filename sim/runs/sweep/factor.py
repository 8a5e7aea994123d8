"""One varied quantity of a sweep: ``PATH=SPEC`` read and checked against the scenario
(`make_factor`, `parse_vary`), then turned into values: a grid's points, or the values at a
sampled design's unit coordinates (`Factor`).

Varied quantities (``PATH=SPEC``)
    PATH is the dotted path of any quantity in ``Scenario.specs()``. Paths under ``levers.``
    are *levers* (what the place decides); every other path (``approval.national_little_giant``,
    ``baseline.counts.provincial_srdi``, ...) is an *uncertainty*. SPEC is one of

    - ``lo:hi:n``: a range; a grid takes n evenly spaced points from lo to hi (n = 1 gives lo);
      sampled designs draw in [lo, hi] and need no n (``lo:hi``);
    - ``a,b,c``: a list of values (a sampled design picks among them with equal weight);
    - a distribution, for an uncertainty only: ``uniform(lo,hi)``, ``normal(mu,sd)``,
      ``normal(mu,sd,lo,hi)`` (truncated to [lo, hi]) or ``triangular(lo,mode,hi)``.

    Values are checked where the scenario schema would check them: lever and baseline values are
    non-negative, shares and probabilities (approval, application, re-review and exit rates,
    coverage, fees, shares) lie in [0, 1]; a distribution on such a path must be bounded inside
    that interval. Integer quantities (baseline counts, firms per year, pool size) are rounded.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.scenario import Scenario, nearest_paths, value_bounds

DISTRIBUTIONS = {
    "uniform": "uniform(lo,hi)",
    "normal": "normal(mu,sd) or normal(mu,sd,lo,hi)",
    "triangular": "triangular(lo,mode,hi)",
}


class SweepError(ScenarioError):
    """A sweep specification that cannot be run as written (a `ScenarioError` with its fields).

    ``kind`` is one of ``unknown_path``, ``bad_spec``, ``bad_range`` (lo > hi), ``bad_count``
    (n < 1, runs < 1, ...), ``distribution_on_lever``, ``out_of_range``, ``unknown_key``,
    ``wrong_type``, ``duplicate_path``, ``not_hypothetical``, ``no_file``.
    """


def _err(
    file: str,
    path: str,
    expected: str,
    found: str,
    kind: str,
    fix: str | None = None,
    line: int | None = None,
) -> SweepError:
    """A `SweepError`, its fields in the order the checks here and in `spec` name them."""
    return SweepError(file, path, expected, found, line=line, fix=fix, kind=kind)


@dataclass(frozen=True)
class Factor:
    """One varied path: its role, its form (range, list, distribution) and its numbers."""

    path: str
    role: str  # "lever" | "uncertainty"
    form: str  # "range" | "list" | "distribution"
    spec: str  # canonical text, as recorded in the manifest
    lo: float | None = None
    hi: float | None = None
    n: int | None = None
    items: tuple[float, ...] = ()
    dist: str | None = None
    params: tuple[float, ...] = ()
    integer: bool = False

    def grid(self) -> np.ndarray:
        """The points of a grid design."""
        if self.form == "list":
            x = np.array(self.items, dtype=float)
        else:
            x = np.linspace(self.lo, self.hi, self.n) if self.n > 1 else np.array([self.lo])
        return self._round(x)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Values at unit coordinates u in [0, 1) (a sampled design)."""
        u = np.asarray(u, dtype=float)
        if self.form == "list":
            k = np.minimum((u * len(self.items)).astype(int), len(self.items) - 1)
            return self._round(np.array(self.items, dtype=float)[k])
        if self.form == "range":
            return self._round(self.lo + u * (self.hi - self.lo))
        return self._round(_ppf(self.dist, self.params, np.clip(u, 1e-12, 1 - 1e-12)))

    def _round(self, x: np.ndarray) -> np.ndarray:
        return np.floor(x + 0.5) if self.integer else x


def _ppf(dist: str, params: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    from scipy import stats

    if dist == "uniform":
        lo, hi = params
        return lo + u * (hi - lo)
    if dist == "triangular":
        lo, mode, hi = params
        return stats.triang.ppf(u, (mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    mu, sd = params[:2]
    if len(params) == 4:
        lo, hi = params[2:]
        return stats.truncnorm.ppf(u, (lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
    return stats.norm.ppf(u, loc=mu, scale=sd)


def _support(f: Factor) -> tuple[float, float]:
    if f.form == "list":
        return min(f.items), max(f.items)
    if f.form == "range":
        return f.lo, f.hi
    if f.dist == "uniform":
        return f.params
    if f.dist == "triangular":
        return f.params[0], f.params[2]
    if len(f.params) == 4:
        return f.params[2], f.params[3]
    return -math.inf, math.inf


def _fmt(x: float) -> str:
    """Exact, short text of a number (repr without a trailing .0)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _number(text: str) -> float:
    x = float(text.strip())
    if not math.isfinite(x):
        raise ValueError(text)
    return x


def make_factor(
    path: str,
    spec: Any,
    scenario: Scenario,
    file: str = "--vary",
    line: int | None = None,
) -> Factor:
    """Check one ``PATH=SPEC`` against the scenario and return it as a `Factor`.

    Raises:
        SweepError: unknown path, unreadable spec, lo > hi, n < 1, a distribution on a lever,
            or values outside what the quantity allows.
    """
    specs = scenario.specs()
    where = f"vary.{path}" if file != "--vary" else path
    if path not in specs:
        near = nearest_paths(path, specs)
        fix = ("Nearest valid paths: " + ", ".join(near) + ".") if near else ""
        parts = path.split(".")
        if (
            parts[0] == "levers"
            and len(parts) > 1
            and getattr(scenario.levers, parts[1], 1) is None
        ):
            fix += (
                f" This scenario has no levers.{parts[1]} section: add one under scenario_patch"
                " in a sweep file (its numbers labelled hypothetical)."
            )
        raise _err(
            file,
            where,
            "the dotted path of a lever (levers.*) or a model parameter of the scenario",
            f"'{path}', which the scenario does not have",
            "unknown_path",
            fix.strip() or "List the paths with `sim.scenario.load(...).specs()`.",
            line,
        )
    role = "lever" if path.startswith("levers.") else "uncertainty"
    integer = specs[path].integer

    def bad(expected: str, found: str, kind: str = "bad_spec", fix: str | None = None):
        return _err(file, where, expected, found, kind, fix, line)

    form_help = "a range lo:hi:n, a list a,b,c" + (
        "" if role == "lever" else ", or a distribution " + " | ".join(DISTRIBUTIONS.values())
    )
    if isinstance(spec, bool) or spec is None:
        raise bad(form_help, repr(spec))
    if isinstance(spec, int | float):
        spec = str(spec)
    if isinstance(spec, list | tuple):
        if not spec or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in spec
        ):
            raise bad("a non-empty list of numbers", repr(spec))
        spec = ",".join(repr(float(v)) for v in spec)
    if not isinstance(spec, str) or not spec.strip():
        raise bad(form_help, repr(spec))
    text = spec.strip().replace(" ", "")

    m = re.fullmatch(r"([A-Za-z_]\w*)\((.*)\)", text)
    if m:
        name = m.group(1).lower()
        if role == "lever":
            raise bad(
                "a range lo:hi:n or a list a,b,c (a lever is decided, so the design chooses "
                "its values)",
                f"the distribution '{text}'",
                "distribution_on_lever",
                f"Write {path}=lo:hi:n for a grid, or lo:hi with --design lhs.",
            )
        if name not in DISTRIBUTIONS:
            raise bad(
                "a distribution " + " | ".join(DISTRIBUTIONS.values()),
                f"'{m.group(1)}'",
                fix=f"Nearest: {', '.join(difflib.get_close_matches(name, DISTRIBUTIONS))}."
                if difflib.get_close_matches(name, DISTRIBUTIONS)
                else None,
            )
        try:
            params = tuple(_number(p) for p in m.group(2).split(","))
        except ValueError:
            raise bad(DISTRIBUTIONS[name] + " with numbers", f"'{text}'") from None
        want = {"uniform": (2,), "normal": (2, 4), "triangular": (3,)}[name]
        if len(params) not in want:
            raise bad(DISTRIBUTIONS[name], f"'{text}' ({len(params)} numbers)")
        if name == "uniform" and params[0] >= params[1]:
            raise bad(
                "uniform(lo,hi) with lo < hi",
                f"lo {params[0]:g} >= hi {params[1]:g}",
                "bad_range",
                "Swap the bounds.",
            )
        if name == "triangular" and not (
            params[0] <= params[1] <= params[2] and params[0] < params[2]
        ):
            raise bad(
                "triangular(lo,mode,hi) with lo <= mode <= hi and lo < hi",
                f"lo {params[0]:g}, mode {params[1]:g}, hi {params[2]:g}",
                "bad_range",
            )
        if name == "normal":
            if params[1] <= 0:
                raise bad("normal(mu,sd) with sd > 0", f"sd {params[1]:g}", "bad_range")
            if len(params) == 4 and params[2] >= params[3]:
                raise bad(
                    "normal(mu,sd,lo,hi) with lo < hi",
                    f"lo {params[2]:g} >= hi {params[3]:g}",
                    "bad_range",
                    "Swap the bounds.",
                )
        canon = f"{name}({','.join(_fmt(p) for p in params)})"
        f = Factor(path, role, "distribution", canon, dist=name, params=params, integer=integer)
    elif ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise bad("a range lo:hi:n (or lo:hi in a sampled design)", f"'{text}'")
        try:
            lo, hi = _number(parts[0]), _number(parts[1])
        except ValueError:
            raise bad("a range lo:hi:n with numbers lo and hi", f"'{text}'") from None
        n = None
        if len(parts) == 3:
            try:
                n = int(parts[2])
            except ValueError:
                raise bad("a whole number of points n in lo:hi:n", f"'{parts[2]}'") from None
            if n < 1:
                raise bad(
                    "at least 1 point (n >= 1 in lo:hi:n)",
                    f"n = {n}",
                    "bad_count",
                    f"Write {path}={parts[0]}:{parts[1]}:5 for five points.",
                )
        if lo > hi:
            raise bad(
                "a range lo:hi:n with lo <= hi",
                f"lo {lo:g} > hi {hi:g}",
                "bad_range",
                f"Write {path}={parts[1]}:{parts[0]}" + (f":{n}" if n else "") + ".",
            )
        if lo == hi and n is not None and n > 1:
            raise bad(
                "a range with lo < hi when n > 1",
                f"lo = hi = {lo:g} with n = {n}",
                "bad_range",
                f"Write {path}={lo:g} for one value.",
            )
        canon = f"{_fmt(lo)}:{_fmt(hi)}" + (f":{n}" if n is not None else "")
        f = Factor(path, role, "range", canon, lo=lo, hi=hi, n=n, integer=integer)
    else:
        try:
            items = tuple(_number(p) for p in text.split(","))
        except ValueError:
            raise bad(form_help, f"'{text}'") from None
        if len(set(items)) != len(items):
            raise bad("a list with each value once", f"'{text}'", fix="Remove the repeated value.")
        canon = ",".join(_fmt(x) for x in items)
        f = Factor(path, role, "list", canon, items=items, integer=integer)

    limits = value_bounds(path)
    if limits is not None:
        lo, hi = _support(f)
        if lo < limits[0] or hi > limits[1]:
            what = (
                "a share or probability between 0 and 1"
                if limits == (0.0, 1.0)
                else "a non-negative number"
            )
            found = (
                f"values from {lo:g} to {hi:g}"
                if math.isfinite(lo) and math.isfinite(hi)
                else f"the unbounded distribution '{f.spec}'"
            )
            fix = (
                "Bound it: normal(mu,sd,lo,hi) is truncated to [lo, hi]."
                if f.form == "distribution" and not (math.isfinite(lo) and math.isfinite(hi))
                else "Write 25 % as 0.25."
                if limits == (0.0, 1.0)
                else None
            )
            raise bad(f"{what} ({path})", found, "out_of_range", fix)
    return f


def parse_vary(item: str) -> tuple[str, str]:
    """Split a command-line ``PATH=SPEC``."""
    path, sep, spec = item.partition("=")
    if not sep or not path.strip() or not spec.strip():
        raise _err(
            "--vary",
            path.strip() or item,
            "PATH=SPEC (e.g. levers.loans.coverage=0.2:0.8:4)",
            f"'{item}'",
            "bad_spec",
        )
    return path.strip(), spec.strip()
