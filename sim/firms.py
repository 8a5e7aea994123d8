"""FirmPopulation: every firm's state, one numpy array per attribute.

Firms are agents with their own state and their own random draws each year, but they are
stored column-wise (as mesa-frames does) so that a yearly phase is a handful of vectorised
numpy operations over all firms, never a Python loop over firms. Closed firms stay in the
arrays with `alive = False`, so firm indices are stable for a whole run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kernels import poisson_from_uniform
from .ladder import Ladder

NATIVE, BROUGHT_IN = 0, 1

# name -> (dtype, meaning). Money in yuan; shares and intensities as fractions.
COLUMNS: dict[str, tuple[type, str]] = {
    "tier": (np.int8, "current title level (0 = candidate pool, 1 = first title, ...)"),
    "title_year": (np.int16, "year the current title was granted or last renewed"),
    "highest_tier": (np.int8, "highest level ever held"),
    "revenue_yuan": (np.float32, "revenue this year"),
    "revenue_prev_yuan": (np.float32, "revenue last year"),
    "growth": (np.float32, "revenue growth this year"),
    "growth_prev": (np.float32, "revenue growth last year"),
    "rd_intensity": (np.float32, "R&D spending / revenue this year"),
    "rd_intensity_prev": (np.float32, "R&D spending / revenue last year"),
    "rd_boost": (np.float32, "R&D intensity added next year by cash received this year"),
    "ip_class1": (np.int32, "class-I IP held (invention patents and the like)"),
    "ip_class2": (np.int32, "class-II IP held (utility models, software copyrights)"),
    "years_in_niche": (np.int16, "years in its niche market"),
    "main_share": (np.float32, "main-business revenue / total revenue"),
    "debt_ratio": (np.float32, "debt / assets"),
    "capability": (np.float32, "persistent latent capability (standard normal among candidates)"),
    "high_tech": (np.bool_, "valid high-tech enterprise (direct pass to innovative SME)"),
    "strategic_emerging": (np.bool_, "main product in the strategic-emerging-industry catalogue"),
    "alive": (np.bool_, "still operating"),
    "in_pool": (np.bool_, "in the cultivation pool (培育库)"),
    "steward": (np.bool_, "has a service steward (服务管家)"),
    "loan": (np.bool_, "holds a policy loan this year"),
    "origin": (np.int8, "0 native, 1 brought in from outside (招引)"),
    "awarded_yuan": (np.float32, "title awards received since the start"),
}


def _rd_spend(p: FirmPopulation) -> np.ndarray:
    return p.rd_intensity * p.revenue_yuan


def _rd_spend_prev(p: FirmPopulation) -> np.ndarray:
    return p.rd_intensity_prev * p.revenue_prev_yuan


# Quantities the criteria read that are not stored but derived from columns.
DERIVED = {
    "rd_spend_yuan": _rd_spend,
    "rd_spend_prev_yuan": _rd_spend_prev,
    "rd_spend_2y_yuan": lambda p: _rd_spend(p) + _rd_spend_prev(p),
    "rd_intensity_min_2y": lambda p: np.minimum(p.rd_intensity, p.rd_intensity_prev),
    "growth_mean_2y": lambda p: (p.growth + p.growth_prev) * np.float32(0.5),
    "rd_growth": lambda p: _rd_spend(p) / np.maximum(_rd_spend_prev(p), 1.0) - 1.0,
}


@dataclass(frozen=True)
class Firm:
    """One firm's state at a moment, for exploration (`model.firm(i)`)."""

    index: int
    state: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.state[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.state.items())
        return f"Firm({self.index}, {body})"


class FirmPopulation:
    """Column-wise state of all firms that ever existed in a run."""

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self._cols = {name: np.zeros(capacity, dtype=dt) for name, (dt, _) in COLUMNS.items()}

    def __len__(self) -> int:
        return self.n

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            return cols[name][: self.n]
        raise AttributeError(name)

    def column(self, name: str) -> np.ndarray:
        """The array of a stored column or a derived quantity, for all firms."""
        return _attribute(self, name)

    def values(self, rows: np.ndarray | None = None):
        """A memoising accessor for one phase (derived quantities computed once).

        With `rows`, the attributes of those firms only (in that order): a phase that judges a
        few firms (applicants, titles due for re-review) gathers their columns and derives
        from them, never touching the whole population.
        """
        source = self if rows is None else _Rows(self, rows)
        cache: dict[str, np.ndarray] = {}

        def get(name: str) -> np.ndarray:
            if name not in cache:
                cache[name] = source.column(name)
            return cache[name]

        return get

    @property
    def capacity(self) -> int:
        return len(self._cols["tier"])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._cols.values())

    def reserve(self, capacity: int) -> None:
        """Make room for `capacity` firms in all (no growth by doubling later)."""
        if capacity > self.capacity:
            for name, arr in self._cols.items():
                grown = np.zeros(capacity, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown

    def add(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Append firms; `columns` maps names to equal-length arrays. Returns their indices."""
        m = len(next(iter(columns.values())))
        if self.n + m > self.capacity:
            new_cap = max(2 * self.capacity, self.n + m)
            for name, arr in self._cols.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown
        idx = np.arange(self.n, self.n + m)
        for name, arr in columns.items():
            self._cols[name][self.n : self.n + m] = arr
        self.n += m
        return idx

    def firm(self, i: int) -> Firm:
        """Firm `i` as one object (a snapshot of its columns and derived quantities)."""
        if not 0 <= i < self.n:
            raise IndexError(f"firm index {i} outside 0..{self.n - 1}")
        state = {name: self._cols[name][i].item() for name in COLUMNS}
        state.update({name: float(f(self)[i]) for name, f in DERIVED.items()})
        return Firm(i, state)


class _Rows:
    """Some firms' stored columns, each gathered once on first use, and what derives from them."""

    def __init__(self, firms: FirmPopulation, rows: np.ndarray) -> None:
        self._firms = firms
        self._rows = rows
        self._gathered: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in COLUMNS:
            raise AttributeError(name)
        if name not in self._gathered:
            self._gathered[name] = self._firms.column(name)[self._rows]
        return self._gathered[name]

    def column(self, name: str) -> np.ndarray:
        """The array of a stored column or a derived quantity, for these firms."""
        return _attribute(self, name)


def _attribute(firms: FirmPopulation | _Rows, name: str) -> np.ndarray:
    """A stored column (an attribute of `firms`) or a quantity derived from them."""
    if name in COLUMNS:
        return getattr(firms, name)
    if name in DERIVED:
        return DERIVED[name](firms)
    raise KeyError(f"unknown firm attribute {name!r}")


def _normals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normals in float32, the precision the population stores."""
    return rng.standard_normal(n, dtype=np.float32)


def _poisson(rng: np.random.Generator, lam, n: int) -> np.ndarray:
    """Poisson counts at rates `lam` (scalar or per firm), by inversion at uniforms from `rng`
    (the engine's method; faster than `Generator.poisson` at the small rates drawn here)."""
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), (n,))
    return poisson_from_uniform(lam, rng.random(n))


def idiosyncratic_loading(loading: float) -> float:
    """Loading of a firm's own part of a ratio whose capability loading is `loading`.

    Derived, not a parameter: sqrt(1 - loading^2), so that the ratio's cross-firm sd is its
    parameter's sd (capability is standard normal). Rounded to two places, the factors the
    model was written with (0.87 and 0.95 for the shipped loadings 0.5 and 0.3), so that seeded
    results are unchanged; the total sd is then within 0.5 % of the parameter's.
    """
    if not -1.0 <= loading <= 1.0:
        raise ValueError(f"a capability loading must lie in [-1, 1], not {loading}")
    return round(math.sqrt(1.0 - loading * loading), 2)


def draw_firms(
    n: int,
    level: int | np.ndarray,
    params: Mapping[str, float],
    rng: np.random.Generator,
    year: int,
) -> dict[str, np.ndarray]:
    """Attributes of `n` new firms from the candidate distribution shifted toward `level`.

    The shift (revenue and capability steps per level) is a proposal only: `create_at_level`
    keeps the drawn firms that meet their title's criteria.
    """
    p = params
    share_loading = float(p["firm.main_share_capability_loading"])
    debt_loading = float(p["firm.debt_ratio_capability_loading"])
    rd_cap = float(p["rd.max_intensity"])
    cap = _normals(rng, n) + p["population.capability_tier_step"] * level
    log_rev = (
        np.log(p["population.revenue_median_yuan"])
        + p["population.revenue_tier_step_log"] * level
        + float(p["population.revenue_capability_loading"]) * cap
        + p["population.revenue_sd_log"] * _normals(rng, n)
    )
    g_mean = p["economy.growth_mean"] + p["growth.capability_effect"] * cap
    growth = g_mean + p["growth.shock_sd"] * _normals(rng, n)
    growth_prev = g_mean + p["growth.shock_sd"] * _normals(rng, n)
    rd_level = np.log(p["rd.base_intensity"]) + p["rd.capability_effect"] * cap
    rd = np.exp(rd_level + p["rd.shock_sd"] * _normals(rng, n))
    rd_prev = np.exp(rd_level + p["rd.shock_sd"] * _normals(rng, n))
    revenue = np.exp(log_rev)
    rd_m = np.maximum(rd * revenue / 1e6, 0.0) ** float(p["ip.rd_elasticity"])
    ip_rate = rd_m * np.exp(p["ip.capability_effect"] * cap) * p["population.ip_history_years"]
    niche_step = float(p["population.years_in_niche_tier_step"])
    niche_mean = max(p["population.years_in_niche_mean"] - 1.0, 0.0) + niche_step * level
    niche_extra = _poisson(rng, niche_mean, n)
    level = np.broadcast_to(np.asarray(level, dtype=np.int8), (n,))
    share_level = p["firm.main_share_mean"] + share_loading * p["firm.main_share_sd"] * cap
    debt_level = p["firm.debt_ratio_mean"] - debt_loading * p["firm.debt_ratio_sd"] * cap
    high_tech_logit = np.log(
        p["population.high_tech_share"] / (1 - p["population.high_tech_share"])
    )
    high_tech_slope = float(p["population.high_tech_capability_effect"])
    title_age_years = int(round(p["population.title_age_years"]))
    cols = {
        "tier": level.copy(),
        "title_year": (year - rng.integers(0, title_age_years, n)) * (level > 0),
        "highest_tier": level.copy(),
        "revenue_yuan": revenue,
        "revenue_prev_yuan": revenue / (1.0 + np.maximum(growth, -0.9)),
        "growth": growth,
        "growth_prev": growth_prev,
        "rd_intensity": np.minimum(rd, rd_cap),
        "rd_intensity_prev": np.minimum(rd_prev, rd_cap),
        "ip_class1": _poisson(rng, p["ip.class1_rate"] * ip_rate, n),
        "ip_class2": _poisson(rng, p["ip.class2_rate"] * ip_rate, n),
        "years_in_niche": 1 + niche_extra,
        "main_share": np.clip(
            share_level
            + idiosyncratic_loading(share_loading) * p["firm.main_share_sd"] * _normals(rng, n),
            float(p["firm.main_share_floor"]),
            1.0,
        ),
        "debt_ratio": np.clip(
            debt_level
            + idiosyncratic_loading(debt_loading) * p["firm.debt_ratio_sd"] * _normals(rng, n),
            0.0,
            float(p["firm.debt_ratio_ceiling"]),
        ),
        "capability": cap,
        "high_tech": rng.random(n)
        < 1.0 / (1.0 + np.exp(-(high_tech_logit + high_tech_slope * cap))),
        "strategic_emerging": rng.random(n) < p["population.strategic_emerging_share"],
        "alive": np.ones(n, dtype=bool),
    }
    # stored as the population stores them (float32 and narrow integers), so that callers
    # holding many drawn firms hold them at the population's size
    return {name: a.astype(COLUMNS[name][0], copy=False) for name, a in cols.items()}


def create_at_level(
    n: int,
    level: int,
    ladder: Ladder,
    params: Mapping[str, float],
    rng: np.random.Generator,
    year: int,
) -> dict[str, np.ndarray]:
    """`n` firms holding `level`, each meeting the criteria of every title up to `level`."""
    counts = np.zeros(ladder.top + 1, dtype=np.int64)
    counts[level] = n
    return create_titled(counts, ladder, params, rng, year)


def create_titled(
    counts: np.ndarray,
    ladder: Ladder,
    params: Mapping[str, float],
    rng: np.random.Generator,
    year: int,
    max_rounds: int = 200,
) -> dict[str, np.ndarray]:
    """`counts[k]` firms at each level k, each meeting the criteria of every title up to k.

    Rejection sampling in vectorised batches over all levels at once: draw from the proposal
    shifted toward each level, keep the firms that qualify, redraw only what is missing.
    Firms are returned ordered by level.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() == 0:
        return draw_firms(0, 0, params, rng, year)
    need = counts.copy()
    need[0] = 0
    kept: list[dict[str, np.ndarray]] = []
    if counts[0]:
        kept.append(draw_firms(int(counts[0]), 0, params, rng, year))
    # first guess of the acceptance rate per level; refined from each round
    rate = np.full(counts.size, 0.25)
    for _ in range(max_rounds):
        if not need.any():
            break
        batch = np.where(need > 0, np.ceil(1.5 * need / rate).astype(np.int64) + 16, 0)
        levels = np.repeat(np.arange(counts.size), batch)
        cand = draw_firms(levels.size, levels, params, rng, year)
        tmp = FirmPopulation(levels.size)
        tmp.add(cand)
        values = tmp.values()
        ok = np.ones(levels.size, dtype=bool)
        for k in range(1, counts.size):
            holds_k = levels >= k
            if holds_k.any():
                ok &= ~holds_k | ladder.meets(k, values)
        take = np.zeros(levels.size, dtype=bool)
        for k in np.flatnonzero(need):
            at_k = np.flatnonzero(ok & (levels == k))
            rate[k] = max(at_k.size / max(batch[k], 1), 0.01)
            chosen = at_k[: need[k]]
            take[chosen] = True
            need[k] -= chosen.size
        kept.append({name: arr[take] for name, arr in cand.items()})
    else:
        raise RuntimeError(
            f"could not draw firms meeting the criteria of levels {np.flatnonzero(need).tolist()}"
            "; the population parameters make them too rare"
        )
    order = np.argsort(np.concatenate([k["tier"] for k in kept]), kind="stable")
    # one column at a time, each part released as it is copied: the peak is one column
    return {name: np.concatenate([k.pop(name) for k in kept])[order] for name in list(kept[0])}
