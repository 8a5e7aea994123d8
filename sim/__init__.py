"""srdi-sim: agent-based forecasts of China's SRDI (专精特新) firm-cultivation plans.

The public API::

    from sim.scenario import load
    from sim.model import GrowthModel
    from sim.ensemble import run_ensemble

    hebi = load("scenarios/hebi.yaml")
    result = run_ensemble(hebi, runs=1000, seed=1)
    result.targets()

    table = sim.sweep(hebi, ["levers.bring_in.firms_per_year=0:20:3"], runs=50, seed=5)
"""

from . import ensemble, ladder, model, scenario, sweep
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
    "sweep",
]
