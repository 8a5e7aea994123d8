"""srdi-sim: agent-based forecasts of China's SRDI (专精特新) firm-cultivation plans.

The public API::

    from sim.scenario import load
    from sim.engine.model import GrowthModel
    from sim.runs.ensemble import run_ensemble

    hebi = load("scenarios/hebi.yaml")
    result = run_ensemble(hebi, runs=1000, seed=1)
    result.targets()

    table = sim.sweep(hebi, ["levers.bring_in.firms_per_year=0:20:3"], runs=50, seed=5)
"""

import importlib
from typing import Any

__version__ = "0.1.0"
# The public names are imported on first use (PEP 562), so that `srdi validate` and other light
# verbs do not pay for the simulation's imports (mesa, numba, pandas).
_NAMES = {
    "EnsembleResult": "runs.ensemble",
    "run_ensemble": "runs.ensemble",
    "GrowthModel": "engine.model",
    "Scenario": "scenario",
    "load": "scenario",
    "sweep": "runs.sweep",  # the function: sim.sweep(scenario, ["path=lo:hi:n"], ...)
}
_MODULES = ("engine", "levers", "scenario", "runs", "calibration", "views", "cli")
__all__ = sorted([*_NAMES, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
