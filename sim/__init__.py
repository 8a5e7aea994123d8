"""srdi-sim: agent-based forecasts of China's SRDI (专精特新) firm-cultivation plans.

The public API::

    from sim.scenario import load
    from sim.model import GrowthModel
    from sim.ensemble import run_ensemble

    hebi = load("scenarios/hebi.yaml")
    result = run_ensemble(hebi, runs=1000, seed=1)
    result.targets()
"""

from . import ensemble, ladder, model, scenario
from .ensemble import EnsembleResult, run_ensemble
from .model import GrowthModel
from .scenario import Scenario, load

__version__ = "0.1.0"
__all__ = [
    "EnsembleResult",
    "GrowthModel",
    "Scenario",
    "ensemble",
    "ladder",
    "load",
    "model",
    "run_ensemble",
    "scenario",
]
