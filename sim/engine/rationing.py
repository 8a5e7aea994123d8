"""Rationed titles: a limited number of places, applicants competing for them on a noisy score.

The rule (MODEL.md section 5): an evaluator grants at most `quota` titles a year. Each
applicant has an evaluation score; the evaluator's judgement adds noise, and the places go to
the highest noisy scores. With Gumbel noise this is the Plackett-Luce draw without
replacement with weights w = exp(log_weight): the applicant with key

    key = log_weight - log(-log u),   u the applicant's own uniform,

ranks above another with probability w_i / (w_i + w_j). Two cases:

* **The evaluator's whole pool is simulated** (the national scenario for MIIT's batches, a
  province for its own lists): the `quota` highest keys are approved; exactly
  min(quota, applicants) titles.
* **The place is part of a larger pool** (a city inside its province): the rest of the pool
  is an aggregate of `rest_count` applicants of weight `rest_weight` each. The places go to
  keys above a cut-off c that fills the quota in expectation; an applicant's chance is
  1 - exp(-lambda w) with lambda = exp(-c), which is the exact large-pool limit of the same
  Gumbel ranking, and lambda solves

      sum_i (1 - exp(-lambda w_i)) + rest_count (1 - exp(-lambda rest_weight)) = quota.

  An applicant is approved when u > exp(-lambda w), i.e. when its key clears c: the same
  uniform decides in both cases, so common random numbers hold.

The approval rate (approved / applicants) is therefore an outcome of the quota and the pool,
not an input.
"""

from __future__ import annotations

import numpy as np

NEWTON_STEPS = 100
NEWTON_TOLERANCE = 1e-13  # relative: far below the 1e-10 the uniforms could tell apart


def gumbel_keys(log_weight: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Noisy scores: log weight plus a standard Gumbel variate at each applicant's uniform."""
    u = np.clip(u, 1e-300, 1.0 - 1e-16)
    return log_weight - np.log(-np.log(u))


def cutoff_rate(weights: np.ndarray, quota: float, rest_count: float, rest_weight: float) -> float:
    """The lambda at which the expected number approved equals `quota` (see module docstring).

    Returns inf when the quota is at least the number of applicants (everyone is approved) and
    0 when it is zero. The expected number approved, F(lambda), rises and is concave, so
    Newton's method started below the root climbs to it from below without overshooting
    (each tangent lies above F): a few steps where bisection took about 35. Bisection on
    log lambda remains the fallback should Newton stall (it has not been seen to).
    """
    n = weights.size + rest_count
    if quota <= 0 or n <= 0:
        return 0.0
    if quota >= n:
        return np.inf
    w_max = max(float(weights.max()) if weights.size else 0.0, rest_weight)
    lam = quota / n / w_max  # F(lam) <= quota: every chance below quota / n
    for _ in range(NEWTON_STEPS):
        e_w = np.exp(-lam * weights)
        e_r = np.exp(-lam * rest_weight)
        gap = quota - (
            float(np.sum(-np.expm1(-lam * weights))) + rest_count * -np.expm1(-lam * rest_weight)
        )
        if gap <= quota * NEWTON_TOLERANCE:
            return float(lam)
        slope = float(weights @ e_w) + rest_count * rest_weight * float(e_r)
        step = gap / slope
        if step <= lam * NEWTON_TOLERANCE:
            return float(lam + step)
        lam += step
    return _cutoff_by_bisection(weights, quota, rest_count, rest_weight, n, w_max)


def _cutoff_by_bisection(
    weights: np.ndarray, quota: float, rest_count: float, rest_weight: float, n: float, w_max: float
) -> float:
    """The same lambda by bisection on log lambda (monotone, 200 halvings at most)."""

    def filled(lam: float) -> float:
        return float(np.sum(-np.expm1(-lam * weights)) + rest_count * -np.expm1(-lam * rest_weight))

    w_min = min(float(weights.min()) if weights.size else np.inf, rest_weight)
    lo = np.log(quota / n / w_max)
    hi = lo + 1.0
    while filled(np.exp(hi)) < quota:
        hi += max(1.0, np.log(w_max / w_min))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if filled(np.exp(mid)) < quota:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    return float(np.exp(hi))


def approve(
    log_weight: np.ndarray,
    u: np.ndarray,
    quota: float,
    rest_count: float = 0.0,
    rest_log_weight: float = 0.0,
) -> np.ndarray:
    """Which applicants win a place: a boolean mask over the applicants.

    Args:
        log_weight: each applicant's evaluation score on the log-weight scale.
        u: each applicant's uniform (its noise; the same uniform in a counterfactual).
        quota: places available to the pool this year (rounded down to whole titles when the
            whole pool is simulated).
        rest_count: applicants of the same evaluator outside the simulated place (0: the
            whole pool is simulated).
        rest_log_weight: the log weight of each of those applicants.
    """
    n = log_weight.size
    if n == 0 or quota <= 0:
        return np.zeros(n, dtype=bool)
    if rest_count <= 0:
        places = int(np.floor(quota + 1e-9))
        if places >= n:
            return np.ones(n, dtype=bool)
        if places <= 0:
            return np.zeros(n, dtype=bool)
        keys = gumbel_keys(log_weight, u)
        # ties (equal keys) are broken by position: the same order every run
        top = np.argpartition(-keys, places - 1)[:places]
        out = np.zeros(n, dtype=bool)
        out[top] = True
        return out
    shift = float(max(log_weight.max(), rest_log_weight))  # weights scaled to <= 1
    weights = np.exp(log_weight - shift)
    lam = cutoff_rate(weights, quota, rest_count, float(np.exp(rest_log_weight - shift)))
    if np.isinf(lam):
        return np.ones(n, dtype=bool)
    return u > np.exp(-lam * weights)


def expected_approved(
    log_weight: np.ndarray, quota: float, rest_count: float, rest_log_weight: float = 0.0
) -> np.ndarray:
    """Each simulated applicant's chance of a place when the rest of the pool is an aggregate."""
    if log_weight.size == 0:
        return np.zeros(0)
    shift = float(max(log_weight.max(), rest_log_weight))
    weights = np.exp(log_weight - shift)
    lam = cutoff_rate(weights, quota, rest_count, float(np.exp(rest_log_weight - shift)))
    if np.isinf(lam):
        return np.ones(log_weight.size)
    return -np.expm1(-lam * weights)
