"""The scenario file: one place's plan, every number cited, read strictly.

A scenario is the only place a place's measures live. Every number is a `Quantity` that cites
its source: a point (`value`) or a range (`low`, `high`) labelled `cited`, `estimate` or
`assumption`. Loading is strict: duplicate keys, unknown keys, wrong types, out-of-range values,
target years outside the period and unknown tiers or parameters are errors that name the file,
the dotted path, the line, what was expected and what was found.

The modules, in the order a file goes through them (`sim.yaml_io` reads the YAML first: plain
data, the line of every key, duplicate keys and hostile input refused):

- `schema`: the pydantic models (`Scenario` and its sections); `quantities`: `Quantity`.
- `messages`: pydantic's errors in the scenario's words.
- `checks`: checks across sections, and warnings.
- `loading`: `parse`, `load`, `validate_files`.
- `settings`: values set from outside (`--set`, `values=`), checked against the scenario.

This package re-exports what the rest of the code imports.
"""

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.checks import warnings_for
from sim.scenario.loading import is_sweep_file, load, parse, validate_files
from sim.scenario.quantities import Quantity, value_bounds
from sim.scenario.schema import LadderChanges, Scenario
from sim.scenario.settings import (
    check_values,
    describe_settings,
    lever_range_problems,
    nearest_paths,
    parse_settings,
)
from sim.yaml_io import read_document, read_text_file, read_yaml

__all__ = [
    "LadderChanges",
    "Quantity",
    "Scenario",
    "ScenarioError",
    "ScenarioErrors",
    "check_values",
    "describe_settings",
    "is_sweep_file",
    "lever_range_problems",
    "load",
    "nearest_paths",
    "parse",
    "parse_settings",
    "read_document",
    "read_text_file",
    "read_yaml",
    "validate_files",
    "value_bounds",
    "warnings_for",
]
