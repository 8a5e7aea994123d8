"""From a scenario file to a validated `Scenario`, every problem of the file reported at once.

`parse` reads the text (`sim.yaml_io`), validates it against the schema (`schema`, its errors
worded by `messages`) and checks across sections (`checks`); `load` does so for a file, and
`validate_files` for many, sweep files included.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import ValidationError

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.checks import reference_errors
from sim.scenario.messages import found_text, translate
from sim.scenario.schema import Scenario
from sim.yaml_io import Loc, read_document, read_text_file


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
                    found=found_text(data),
                    line=1,
                    kind="wrong_type",
                )
            ]
        )
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as e:
        schema = translate(e, file, lines, Scenario)
        raise ScenarioErrors(errs + schema + _cross_checks_despite(data, e, file, lines)) from None
    except RecursionError:
        raise ScenarioErrors(
            [ScenarioError(file, "", "a finite document", "a recursive alias", kind="yaml_syntax")]
        ) from None
    errs += reference_errors(sc, file, lines)
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
    return reference_errors(sc, file, lines)


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
