"""Statistics over Monte Carlo replications, the same for every output.

A forecast (`EnsembleResult`), a sweep's rows (`sweep.runner.run_chunk`), a diagnosis and a
comparison all report the same few numbers over replications; they are computed here once:

- `reach`: the probability that an outcome reaches a goal (`x >= goal`: a target is "at least"
  its value) and its binomial Monte Carlo standard error, sqrt(p (1 - p) / n);
- `band`: the 5, 50 and 95 % quantiles (numpy's default linear interpolation);
- `paired` and `difference`: the mean of per-replication differences between two runs on the
  same seeds (levers on minus off, a stage relaxed minus as planned), its standard error
  (common random numbers: the paired sd, not two independent ones), and its quantiles.
"""

from __future__ import annotations

import math

import numpy as np


def reach(x: np.ndarray, goal: float) -> tuple[float, float]:
    """P(x >= goal) over replications and its Monte Carlo standard error."""
    p = float(np.mean(x >= goal))
    return p, math.sqrt(p * (1 - p) / len(x))


def probability(x: np.ndarray, goal: float) -> float:
    """P(x >= goal) over replications."""
    return float(np.mean(x >= goal))


def band(x: np.ndarray) -> tuple[float, float, float]:
    """The 5, 50 and 95 % quantiles over replications."""
    return float(np.quantile(x, 0.05)), float(np.quantile(x, 0.5)), float(np.quantile(x, 0.95))


def paired(d: np.ndarray) -> tuple[float, float | None]:
    """Mean of per-replication differences (same seeds) and its standard error (None for one
    replication: no spread to measure)."""
    mean = float(d.mean())
    if d.size < 2:
        return mean, None
    return mean, float(d.std(ddof=1) / math.sqrt(d.size))


def difference(d: np.ndarray) -> tuple[float, float, float, float | None]:
    """Per-replication differences: their mean, 5 and 95 % quantiles, and the standard error
    of the mean (None for one replication)."""
    mean, se = paired(d)
    p05, _, p95 = band(d)
    return mean, p05, p95, se
