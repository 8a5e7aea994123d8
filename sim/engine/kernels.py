"""The per-firm arithmetic of the yearly cycle, compiled: one pass over the firms per phase.

`GrowthModel` keeps firms column-wise; the work that touches every firm every year (growth,
R&D, IP arrivals, who applies, which titles are due for re-review, stewards, exits, the yearly
tally) and the settling of claims are loops compiled by numba that read and write each firm's
columns once, draw its random numbers in place (sim/engine/streams.py) and skip rows that are not
alive (candidates not yet born, firms closed). What touches a few firms (the criteria read for
applicants and titles due, approvals, the other lever rules) stays numpy on those firms, in
sim/engine/model.py and sim/levers/__init__.py.

Every formula here is the model's (MODEL.md; parameters in sim/data/parameters.yaml); the plain
one-object-per-firm version in benchmarks/plain_mesa.py states the same rules firm by firm.
Exponentials and logarithms of quantities stored in float32 (revenue, R&D intensity, the IP
rate) are taken in float32 and the growth loop is compiled with `fastmath`: results agree with
float64 arithmetic to float32 precision, and are identical from run to run on a machine.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from scipy.special import ndtri, pdtr

from sim.engine.streams import normal_from_uniform, uniform_at

# The sequential CDF search settles a Poisson draw when the rate is at most this; larger rates
# (and the rare uniform so close to 1 that the search runs past SEARCH_STEPS) take the exact
# inverse in `poisson_exact`.
SEARCH_RATE_MAX = 100.0
SEARCH_STEPS = 250

_RECIPROCALS = 1.0 / np.maximum(np.arange(SEARCH_STEPS + 1), 1)  # a multiply, not a divide
_UNROLLED = 8  # CDF terms summed without a branch: P(X <= 8) > 0.999 for rates up to 2.4

# Purposes of the keys `grow_and_invest` takes, in this order.
GROW_INVEST_DRAWS = ("growth", "rd", "main_share", "debt_ratio", "ip_class1", "ip_class2")


class YearRules(NamedTuple):
    """The year's parameters of growth, financial ratios, R&D and IP (MODEL.md)."""

    drift: float  # economy.growth_mean plus this year's common shock
    capability_effect: float
    title_effect: float
    shock_sd: float
    adjust_speed: float  # of the main-business share and the debt ratio
    ratio_shock_sd: float
    main_share_mean: float
    main_share_sd: float
    main_share_capability_loading: float  # in units of main_share_sd per sd of capability
    main_share_floor: float
    debt_ratio_mean: float
    debt_ratio_sd: float
    debt_ratio_capability_loading: float  # in units of debt_ratio_sd per sd of capability
    debt_ratio_ceiling: float
    rd_log_base: float  # log of rd.base_intensity
    rd_capability_effect: float
    rd_adjust_speed: float
    rd_shock_sd: float
    rd_max_intensity: float
    ip_rd_elasticity: float
    ip_capability_effect: float
    ip_class1_rate: float
    ip_class2_rate: float


def year_rules(p, drift: float) -> YearRules:
    """The year's rules from the replication's parameters (`p`, by dotted name) and this year's
    drift (growth mean plus the year's common shock), as plain floats: one compiled signature
    of `grow_and_invest`."""

    def v(name: str) -> float:
        return float(p[name])

    return YearRules(
        drift=drift,
        capability_effect=v("growth.capability_effect"),
        title_effect=v("growth.title_effect"),
        shock_sd=v("growth.shock_sd"),
        adjust_speed=v("firm.adjust_speed"),
        ratio_shock_sd=v("firm.ratio_shock_sd"),
        main_share_mean=v("firm.main_share_mean"),
        main_share_sd=v("firm.main_share_sd"),
        main_share_capability_loading=v("firm.main_share_capability_loading"),
        main_share_floor=v("firm.main_share_floor"),
        debt_ratio_mean=v("firm.debt_ratio_mean"),
        debt_ratio_sd=v("firm.debt_ratio_sd"),
        debt_ratio_capability_loading=v("firm.debt_ratio_capability_loading"),
        debt_ratio_ceiling=v("firm.debt_ratio_ceiling"),
        rd_log_base=float(np.log(v("rd.base_intensity"))),
        rd_capability_effect=v("rd.capability_effect"),
        rd_adjust_speed=v("rd.adjust_speed"),
        rd_shock_sd=v("rd.shock_sd"),
        rd_max_intensity=v("rd.max_intensity"),
        ip_rd_elasticity=v("ip.rd_elasticity"),
        ip_capability_effect=v("ip.capability_effect"),
        ip_class1_rate=v("ip.class1_rate"),
        ip_class2_rate=v("ip.class2_rate"),
    )


@numba.njit(cache=True, inline="always")
def poisson_search(lam: float, u: float) -> int:
    """Smallest k with P(X <= k) >= u for X ~ Poisson(lam); -1 when left to the exact inverse.

    The first terms of the CDF are summed without branching (k counts the terms below u), as
    most rates are small; the search goes on past them only when u is beyond.
    """
    if lam <= 0.0:
        return 0
    if lam > SEARCH_RATE_MAX:
        return -1
    pmf = np.exp(-lam)
    cdf = pmf
    k = 0
    for j in range(1, _UNROLLED + 1):
        pmf *= lam * _RECIPROCALS[j]
        k += u > cdf
        cdf += pmf
    if u <= cdf:
        return k
    k = _UNROLLED
    while u > cdf:
        k += 1
        if k > SEARCH_STEPS:
            return -1
        pmf *= lam * _RECIPROCALS[k]
        cdf += pmf
    return k


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def grow_and_invest(
    rows,
    tier,
    growth_boost,
    rd_log_boost,
    debt_added,
    capability,
    revenue,
    revenue_prev,
    growth,
    growth_prev,
    years_in_niche,
    main_share,
    debt_ratio,
    rd_intensity,
    rd_intensity_prev,
    rd_boost,
    ip_class1,
    ip_class2,
    draw_id,
    rules,
    keys,
    unsettled_rows,
    unsettled_rates,
    unsettled_class,
    ip_rate,
):
    """Grow, invest and receive IP for one year, for the firms `rows` (the grow and invest
    phases: every alive firm, or the candidates brought up to date, `GrowthModel(lazy=True)`).

    Revenue: log growth = drift + capability and title effects + what the levers add this year
    (`growth_boost`) + shock. Main-business share and debt ratio move part of the way to their
    capability levels, plus a shock and the debt the levers add (`debt_added`). R&D intensity:
    log intensity moves toward its capability level, plus what the levers add (`rd_log_boost`)
    and a shock, and cash received last year adds to it (`rd_boost`, then spent), up to
    `rd_max_intensity`. The levers' columns are filled by the levers (sim/levers: a policy
    loan fills all three); the kernel knows no lever. IP of each class arrives as
    Poisson((R&D in M yuan)^elasticity x exp(capability effect) x class rate),
    by inversion at the firm's uniform. Draws the search cannot settle are listed in
    `unsettled_*` (row, rate, class 1 or 2) for `poisson_exact`; returns how many.
    `ip_rate` is float32 scratch space, one per row: the IP draws run in a second, tighter
    loop (their searches then overlap from firm to firm, about a third faster). A firm's
    year depends on its own columns and numbers only, so it is the same whichever other rows
    are passed.
    """
    r = rules
    k_growth, k_rd, k_share, k_debt = keys[0], keys[1], keys[2], keys[3]
    k_ip1, k_ip2 = keys[4], keys[5]
    n_unsettled = 0
    for j in range(rows.size):
        i = rows[j]
        cap = np.float64(capability[i])
        # grow
        dlog = (
            r.drift
            + r.capability_effect * cap
            + growth_boost[i]
            + (r.title_effect if tier[i] > 0 else 0.0)
            + r.shock_sd * normal_from_uniform(uniform_at(k_growth, draw_id[i]))
        )
        ratio = np.float64(np.exp(np.float32(dlog)))
        growth_prev[i] = growth[i]
        growth[i] = ratio - 1.0
        revenue_prev[i] = revenue[i]
        revenue[i] = np.float64(revenue[i]) * ratio
        years_in_niche[i] += 1
        ms = np.float64(main_share[i])
        share_level = r.main_share_mean + r.main_share_capability_loading * r.main_share_sd * cap
        ms += r.adjust_speed * (share_level - ms)
        ms += r.ratio_shock_sd * normal_from_uniform(uniform_at(k_share, draw_id[i]))
        main_share[i] = min(max(ms, r.main_share_floor), 1.0)
        debt = np.float64(debt_ratio[i])
        debt_level = r.debt_ratio_mean - r.debt_ratio_capability_loading * r.debt_ratio_sd * cap
        debt += r.adjust_speed * (debt_level - debt) + debt_added[i]
        debt += r.ratio_shock_sd * normal_from_uniform(uniform_at(k_debt, draw_id[i]))
        debt_ratio[i] = min(max(debt, 0.0), r.debt_ratio_ceiling)
        # invest
        log_rd = np.float64(np.log(max(rd_intensity[i], np.float32(1e-4))))
        target = r.rd_log_base + r.rd_capability_effect * cap
        log_rd += r.rd_adjust_speed * (target - log_rd) + rd_log_boost[i]
        log_rd += r.rd_shock_sd * normal_from_uniform(uniform_at(k_rd, draw_id[i]))
        rd_intensity_prev[i] = rd_intensity[i]
        rd = min(np.float64(np.exp(np.float32(log_rd))) + rd_boost[i], r.rd_max_intensity)
        rd_intensity[i] = rd
        rd_boost[i] = 0.0
        # IP arrivals, from the stored R&D and revenue:
        # (R&D in M yuan)^elasticity x exp(capability effect), as one exp of a log
        rd_m = np.float32(rd_intensity[i] * revenue[i] * np.float32(1e-6))
        log_rate = r.ip_rd_elasticity * np.log(rd_m) + r.ip_capability_effect * cap
        rate = np.float64(np.exp(np.float32(log_rate))) if rd_m > 0 else 0.0
        ip_rate[i] = rate  # float32 scratch
    for j in range(rows.size):
        i = rows[j]
        rate = ip_rate[i]
        if rate <= 0.0:
            continue
        for c in (1, 2):
            lam = (r.ip_class1_rate if c == 1 else r.ip_class2_rate) * rate
            k = poisson_search(lam, uniform_at(k_ip1 if c == 1 else k_ip2, draw_id[i]))
            if k < 0:  # left to the exact inverse
                unsettled_rows[n_unsettled] = i
                unsettled_rates[n_unsettled] = lam
                unsettled_class[n_unsettled] = c
                n_unsettled += 1
            elif c == 1:
                ip_class1[i] += k
            else:
                ip_class2[i] += k
    return n_unsettled


def poisson_exact(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson draws by exact inversion of the CDF at the uniforms `u` (any rate).

    Cornish-Fisher start, then unit steps on the exact CDF (`scipy.special.pdtr`) until the
    smallest k with P(X <= k) >= u is found. Used for the few draws `poisson_search` leaves.
    """
    lam = np.asarray(lam, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    z = ndtri(u)
    g = np.maximum(np.floor(lam + np.sqrt(lam) * z + (z * z - 1.0) / 6.0), 0.0)
    up = np.flatnonzero(pdtr(g, lam) < u)
    while up.size:
        g[up] += 1.0
        up = up[pdtr(g[up], lam[up]) < u[up]]
    down = np.flatnonzero(g > 0)
    while down.size:
        down = down[pdtr(g[down] - 1.0, lam[down]) >= u[down]]
        g[down] -= 1.0
        down = down[g[down] > 0]
    return g.astype(np.int64)


@numba.njit(cache=True)
def _poisson_search_all(lam, u, out):
    for j in range(lam.size):
        out[j] = poisson_search(lam[j], u[j])


def poisson_from_uniform(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson(lam) draws by inverting the CDF at the uniforms `u`, one per firm.

    Unlike `Generator.poisson`, a firm's draw depends only on its own rate and uniform, so a
    change in one firm's rate leaves every other firm's draw alone (common random numbers).
    """
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    k = np.empty(lam.size, dtype=np.int64)
    _poisson_search_all(lam, u, k)
    left = np.flatnonzero(k < 0)
    if left.size:
        k[left] = poisson_exact(lam[left], u[left])
    return k


@numba.njit(cache=True)
def close_firms(alive, draw_id, in_pool, tier, hazard, key, closed) -> int:
    """Each alive firm closes with the hazard of the title it holds; returns how many closed
    and adds them, by the level they held, to `closed` (one slot per level)."""
    n_closed = 0
    for i in range(alive.size):
        if alive[i] and uniform_at(key, draw_id[i]) < hazard[tier[i]]:
            alive[i] = False
            in_pool[i] = False
            closed[tier[i]] += 1
            n_closed += 1
    return n_closed


@numba.njit(cache=True)
def tally(alive, tier, highest_tier, in_pool, top):
    """Alive firms holding exactly each level, firms per highest level ever held, pool size."""
    exactly = np.zeros(top + 1, dtype=np.int64)
    highest = np.zeros(top + 1, dtype=np.int64)
    pool = 0
    for i in range(alive.size):
        highest[highest_tier[i]] += 1
        exactly[tier[i]] += alive[i]
        pool += alive[i] & in_pool[i]
    return exactly, highest, pool


@numba.njit(cache=True)
def highest_claims(firm, amount, lever, best):
    """Mask of the claims kept when a firm is paid its single largest claim of the year.

    Ties go to the lever listed first (the smaller `lever` id). `best` is scratch with a slot
    per firm, all -1 on entry and on return (only the claimants' slots are touched).
    """
    for j in range(firm.size):
        b = best[firm[j]]
        if b < 0 or amount[j] > amount[b] or (amount[j] == amount[b] and lever[j] < lever[b]):
            best[firm[j]] = j
    keep = np.zeros(firm.size, dtype=np.bool_)
    for j in range(firm.size):
        keep[j] = best[firm[j]] == j
    for j in range(firm.size):
        best[firm[j]] = -1
    return keep


@numba.njit(cache=True, error_model="numpy")
def applicants(
    start,
    alive,
    draw_id,
    highest_tier,
    awarded_yuan,
    revenue,
    apply_odds,
    below,
    base,
    award,
    key,
    once_per_firm,
    award_elasticity,
    rows,
    levels,
):
    """The firms that apply this year, each with the level it applies for (one pass).

    A firm alive at level s at the start of the year can apply for each level k > s with
    `below[k] <= s` (`below[k] < 0`: k cannot be granted this year); normally that is k = s + 1
    only. It applies with its chance (MODEL.md): the base rate of the level, raised by the
    award it would receive, 1 - (1 - base) exp(-elasticity x award / revenue), then the odds
    multiplied by the firm's `apply_odds` (filled by the levers: the cultivation pool and the
    service stewards, sim/levers/__init__.py). `award[k]` is the
    first-recognition award of level k (0 without awards); with `once_per_firm`, a firm already
    awarded expects nothing. A firm has one apply draw a year, whichever level it tries.
    Writes the rows and their levels into `rows` and `levels` (room for every (firm, level)
    pair that may apply) and returns how many applied and how many apply draws were made.
    """
    top = below.size - 1
    n_applying = 0
    n_drawn = 0
    for i in range(alive.size):
        if not alive[i]:
            continue
        s = start[i]
        u = -1.0
        for k in range(s + 1, top + 1):
            if below[k] < 0 or below[k] > s:
                continue
            prob = base[k]
            already_awarded = once_per_firm and awarded_yuan[i] > 0
            if award[k] > 0.0 and highest_tier[i] < k and not already_awarded:
                rel = award[k] / max(np.float64(revenue[i]), 1.0)
                prob = 1.0 - (1.0 - prob) * np.exp(-award_elasticity * rel)
            odds = prob / max(1.0 - prob, 1e-12) * apply_odds[i]
            if u < 0.0:
                u = uniform_at(key, draw_id[i])
                n_drawn += 1
            rows[n_applying] = i  # written always, kept if the firm applies
            levels[n_applying] = k
            n_applying += u * (1.0 + odds) < odds  # u < odds / (1 + odds)
    return n_applying, n_drawn


@numba.njit(cache=True)
def due_for_re_review(alive, tier, title_year, validity, year, rows):
    """Alive titled firms whose title is `validity[level]` years old or more this year.

    Writes their rows into `rows` (room for every firm) and returns how many.
    """
    n_due = 0
    for i in range(alive.size):
        k = tier[i]
        rows[n_due] = i  # written always, kept if due (no branch on the state)
        n_due += (k > 0) & alive[i] & (year - title_year[i] >= validity[k])
    return n_due


@numba.njit(cache=True)
def assign_stewards(alive, draw_id, tier, served_levels, key, coverage, steward):
    """A service steward for each alive firm holding a served level, with chance `coverage`.

    Sets `steward` for every firm (one pass); returns how many are served and how many
    firms drew (the holders of a served level).
    """
    n_served = 0
    n_drawn = 0
    for i in range(alive.size):
        has = False
        if alive[i] and served_levels[tier[i]]:
            n_drawn += 1
            has = uniform_at(key, draw_id[i]) < coverage
            n_served += has
        steward[i] = has
    return n_served, n_drawn
