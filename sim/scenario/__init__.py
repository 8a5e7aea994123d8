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

This package re-exports what the rest of the code imports, each name on first use.
"""

import importlib
from typing import Any

# name -> the module that defines it. Imported on first use (PEP 562): a lever's module reads
# its section's types from `sim.scenario.quantities`, and `sim.scenario.schema` reads every
# lever's section (sim/levers/), so importing this package must not import the schema yet.
_EXPORTS = {
    "ScenarioError": "sim.errors",
    "ScenarioErrors": "sim.errors",
    "warnings_for": "sim.scenario.checks",
    "is_sweep_file": "sim.scenario.loading",
    "load": "sim.scenario.loading",
    "parse": "sim.scenario.loading",
    "validate_files": "sim.scenario.loading",
    "Quantity": "sim.scenario.quantities",
    "value_bounds": "sim.scenario.quantities",
    "LadderChanges": "sim.scenario.schema",
    "Scenario": "sim.scenario.schema",
    "check_values": "sim.scenario.settings",
    "describe_settings": "sim.scenario.settings",
    "lever_range_problems": "sim.scenario.settings",
    "nearest_paths": "sim.scenario.settings",
    "parse_settings": "sim.scenario.settings",
    "read_document": "sim.yaml_io",
    "read_text_file": "sim.yaml_io",
    "read_yaml": "sim.yaml_io",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim.scenario' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
