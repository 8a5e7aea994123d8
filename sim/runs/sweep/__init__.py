"""Sweeps: many ensembles over a design of lever and uncertainty values, resumable on disk.

A planner's question "how do our odds move as the little-giant award goes from 0 to 1 million
yuan and loan coverage from 20 % to 80 %, whatever the approval rate turns out to be?" is a
sweep: one ensemble (`sim.runs.ensemble`) per point of a design, each summarised per target
with `sim.runs.summary`, as a forecast is.

The rules live with the code that applies them:

- `factor`: the varied quantities (``PATH=SPEC``: ranges, lists, distributions) and their checks;
- `design`: policies x futures (grid, LHS, Sobol), their seeds, and the sweep's identity;
- `spec`: `plan`, the checked sweep from a scenario or a sweep file, and the scenario patch;
- `runner`: `run` and `sweep`, chunks on the one executor, common random numbers;
- `store`: the output folder (chunk files, Parquet tables, manifest) and resuming.

Example::

    from sim.runs.sweep import sweep

    sweep("scenarios/hebi.yaml", {"levers.loans.coverage": "0.2:0.8:4",
          "approval.national_little_giant": "uniform(0.2,0.5)"}, futures=4, runs=100)
"""

from sim.runs.executor import SchedulerUnreachable
from sim.runs.sweep.design import SweepPlan
from sim.runs.sweep.factor import Factor, SweepError, make_factor, parse_vary
from sim.runs.sweep.runner import replication_draws, run, run_chunk, sweep
from sim.runs.sweep.spec import plan
from sim.runs.sweep.store import (
    CHUNKS,
    DRAWS,
    MANIFEST,
    REPLICATIONS,
    TABLE,
    ResumeRefused,
    read,
)

__all__ = [
    "CHUNKS",
    "DRAWS",
    "MANIFEST",
    "REPLICATIONS",
    "TABLE",
    "Factor",
    "ResumeRefused",
    "SchedulerUnreachable",
    "SweepError",
    "SweepPlan",
    "make_factor",
    "parse_vary",
    "plan",
    "read",
    "replication_draws",
    "run",
    "run_chunk",
    "sweep",
]
