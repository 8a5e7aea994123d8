"""Values set from outside a scenario file, checked against the scenario.

A run may override any quantity the scenario reads: the command line's `--set PATH=VALUE`
(`parse_settings`), the `values=` of the model and ensemble and `Scenario.with_lever`
(`check_values`), and the lever ranges `srdi plan` searches (`lever_range_problems`). An
unknown path is refused with the nearest known ones, a value with the bounds it must keep.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.quantities import lever_paths, value_bounds

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario


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
