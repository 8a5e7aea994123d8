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

from sim.engine.ladder import Ladder

# FirmDraws imports the random streams and kernels (compiled with numba) when it first draws, so
# that what reads only the columns (a scenario's checks, Ladder.from_dict) does not load numba.

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
    # what the levers change this year, filled by them and read by the kernels (sim/levers)
    "apply_odds": (np.float64, "odds multiplier of applying for a title this year (pool, steward)"),
    "growth_boost": (np.float64, "log revenue growth added this year (a policy loan)"),
    "rd_log_boost": (np.float64, "log R&D intensity added this year (a policy loan)"),
    "debt_added": (np.float64, "debt ratio added this year (a policy loan)"),
    "origin": (np.int8, "0 native, 1 brought in from outside (招引)"),
    "awarded_yuan": (np.float32, "title awards received since the start"),
    "draw_id": (np.int64, "the firm's identity in the random streams: its group and place in it"),
}

# the value a column holds for a firm nothing has set it for (0 unless named here): no lever
# changes the odds of applying
START_VALUE = {"apply_odds": 1.0}


def _empty_column(name: str, capacity: int) -> np.ndarray:
    start = START_VALUE.get(name, 0)
    if start == 0:  # zeroed pages from the system: a column no firm writes costs no memory
        return np.zeros(capacity, dtype=COLUMNS[name][0])
    return np.full(capacity, start, dtype=COLUMNS[name][0])


def bytes_per_firm() -> int:
    """The memory one firm takes in the population's columns."""
    return sum(np.dtype(dtype).itemsize for dtype, *_ in COLUMNS.values())


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
        self._cols = {name: _empty_column(name, capacity) for name in COLUMNS}

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
        return _memoised(self if rows is None else _Rows(self, rows))

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
                grown = _empty_column(name, capacity)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown

    def add(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Append firms; `columns` maps names to equal-length arrays. Returns their indices."""
        m = len(next(iter(columns.values())))
        if self.n + m > self.capacity:
            new_cap = max(2 * self.capacity, self.n + m)
            for name, arr in self._cols.items():
                grown = _empty_column(name, new_cap)
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


def _memoised(source: FirmPopulation | _Rows | _Drawn):
    """An accessor of `source`'s columns and derived quantities, each computed once."""
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = source.column(name)
        return cache[name]

    return get


class _Drawn:
    """Drawn firms' columns (a `draw_firms` result) as the population would hold them, the
    columns not drawn at their start values: for judging criteria before the firms are added."""

    def __init__(self, columns: Mapping[str, np.ndarray], n: int) -> None:
        self._columns = dict(columns)
        self._n = n

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in COLUMNS:
            raise AttributeError(name)
        if name not in self._columns:
            self._columns[name] = _empty_column(name, self._n)
        return self._columns[name]

    def column(self, name: str) -> np.ndarray:
        return _attribute(self, name)


class _Rows:
    """Some firms' stored columns, each gathered once on first use, and what derives from them."""

    def __init__(self, firms: FirmPopulation, rows: np.ndarray) -> None:
        self._firms = firms
        self._rows = rows
        self._gathered: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in COLUMNS:
            raise AttributeError(name)
        if name not in self._gathered:  # a stored column: `_rows` are among the firms
            self._gathered[name] = self._firms._cols[name][self._rows]
        return self._gathered[name]

    def column(self, name: str) -> np.ndarray:
        """The array of a stored column or a derived quantity, for these firms."""
        return _attribute(self, name)


def _attribute(firms: FirmPopulation | _Rows | _Drawn, name: str) -> np.ndarray:
    """A stored column (an attribute of `firms`) or a quantity derived from them."""
    if name in COLUMNS:
        return getattr(firms, name)
    if name in DERIVED:
        return DERIVED[name](firms)
    raise KeyError(f"unknown firm attribute {name!r}")


# Groups of firms whose attributes are drawn from their own streams (`FirmDraws`): the
# base-year firms of each level, the firms a lever may bring in, the candidates born each year.
BRING_IN_GROUP = 15
BIRTH_GROUP_0 = 16  # + the birth year's index in the period
GROUP_SHIFT = 40  # draw_id = group << GROUP_SHIFT | place in the group (2^40 firms a group)
PLACE_MASK = (1 << GROUP_SHIFT) - 1  # draw_id & PLACE_MASK: the firm's place in its group
# what a new firm's draws are for, each with its own stream in every group
ATTRIBUTE_DRAWS = (
    "capability", "revenue", "growth", "growth_prev", "rd", "rd_prev", "years_in_niche",
    "title_age", "ip_class1", "ip_class2", "main_share", "debt_ratio", "high_tech",
    "strategic_emerging",
)  # fmt: skip


class FirmDraws:
    """The random numbers new firms of one group are drawn from (counter-based, streams.py).

    Attribute `a` of the group's `j`-th firm (or proposal) is output `j + 1` of the stream
    keyed by (key, group, a), so a firm's attributes, and its `draw_id`, do not depend on how
    many firms the group or any other group holds: a run with more candidates, more champions
    or more firms brought in keeps every firm the other run had (common random numbers across
    inputs, which sensitivity analysis and the counterfactual rely on).
    """

    def __init__(self, key: int | np.uint64, group: int) -> None:
        from sim.engine.streams import derived_key, derived_keys

        self.group = group
        keys = derived_keys(derived_key(key, group), len(ATTRIBUTE_DRAWS))
        self._keys = dict(zip(ATTRIBUTE_DRAWS, keys, strict=True))

    def ids(self, index: np.ndarray) -> np.ndarray:
        """The `draw_id` of the group's firms at places `index` in the group."""
        return (np.int64(self.group) << GROUP_SHIFT) + index

    def uniforms(self, attribute: str, index: np.ndarray) -> np.ndarray:
        from sim.engine.streams import uniforms

        return uniforms(self._keys[attribute], index)

    def normals(self, attribute: str, index: np.ndarray) -> np.ndarray:
        """Standard normals in float32, the precision the population stores."""
        from sim.engine.streams import normals

        return normals(self._keys[attribute], index).astype(np.float32)

    def poisson(self, attribute: str, lam, index: np.ndarray) -> np.ndarray:
        """Poisson counts at rates `lam` (scalar or per firm), by inversion at the uniforms
        (a firm's count depends on its own rate and uniform only)."""
        from sim.engine.kernels import poisson_from_uniform

        lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), index.shape)
        return poisson_from_uniform(lam, self.uniforms(attribute, index))


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
    draws: FirmDraws,
    year: int,
    start: int = 0,
    index: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Attributes of firms `start .. start + n - 1` of a group (or of the firms at places
    `index` in the group, `n` of them), from the candidate distribution shifted toward `level`.

    The shift (revenue and capability steps per level) is a proposal only: `create_at_level`
    keeps the drawn firms that meet their title's criteria.
    """
    p = params
    if index is None:
        index = np.arange(start, start + n, dtype=np.int64)
    index = np.ascontiguousarray(index, dtype=np.int64)

    def normal(attribute: str) -> np.ndarray:
        return draws.normals(attribute, index)

    def uniform(attribute: str) -> np.ndarray:
        return draws.uniforms(attribute, index)

    share_loading = float(p["firm.main_share_capability_loading"])
    debt_loading = float(p["firm.debt_ratio_capability_loading"])
    rd_cap = float(p["rd.max_intensity"])
    cap = normal("capability") + p["population.capability_tier_step"] * level
    log_rev = (
        np.log(p["population.revenue_median_yuan"])
        + p["population.revenue_tier_step_log"] * level
        + float(p["population.revenue_capability_loading"]) * cap
        + p["population.revenue_sd_log"] * normal("revenue")
    )
    g_mean = p["economy.growth_mean"] + p["growth.capability_effect"] * cap
    growth = g_mean + p["growth.shock_sd"] * normal("growth")
    growth_prev = g_mean + p["growth.shock_sd"] * normal("growth_prev")
    rd_level = np.log(p["rd.base_intensity"]) + p["rd.capability_effect"] * cap
    rd = np.exp(rd_level + p["rd.shock_sd"] * normal("rd"))
    rd_prev = np.exp(rd_level + p["rd.shock_sd"] * normal("rd_prev"))
    revenue = np.exp(log_rev)
    rd_m = np.maximum(rd * revenue / 1e6, 0.0) ** float(p["ip.rd_elasticity"])
    ip_rate = rd_m * np.exp(p["ip.capability_effect"] * cap) * p["population.ip_history_years"]
    niche_step = float(p["population.years_in_niche_tier_step"])
    niche_mean = max(p["population.years_in_niche_mean"] - 1.0, 0.0) + niche_step * level
    niche_extra = draws.poisson("years_in_niche", niche_mean, index)
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
        "title_year": (year - np.floor(title_age_years * uniform("title_age")).astype(np.int64))
        * (level > 0),
        "highest_tier": level.copy(),
        "revenue_yuan": revenue,
        "revenue_prev_yuan": revenue / (1.0 + np.maximum(growth, -0.9)),
        "growth": growth,
        "growth_prev": growth_prev,
        "rd_intensity": np.minimum(rd, rd_cap),
        "rd_intensity_prev": np.minimum(rd_prev, rd_cap),
        "ip_class1": draws.poisson("ip_class1", p["ip.class1_rate"] * ip_rate, index),
        "ip_class2": draws.poisson("ip_class2", p["ip.class2_rate"] * ip_rate, index),
        "years_in_niche": 1 + niche_extra,
        "main_share": np.clip(
            share_level
            + idiosyncratic_loading(share_loading) * p["firm.main_share_sd"] * normal("main_share"),
            float(p["firm.main_share_floor"]),
            1.0,
        ),
        "debt_ratio": np.clip(
            debt_level
            + idiosyncratic_loading(debt_loading) * p["firm.debt_ratio_sd"] * normal("debt_ratio"),
            0.0,
            float(p["firm.debt_ratio_ceiling"]),
        ),
        "capability": cap,
        "high_tech": uniform("high_tech")
        < 1.0 / (1.0 + np.exp(-(high_tech_logit + high_tech_slope * cap))),
        "strategic_emerging": uniform("strategic_emerging")
        < p["population.strategic_emerging_share"],
        "alive": np.ones(n, dtype=bool),
        "draw_id": draws.ids(index),
    }
    # stored as the population stores them (float32 and narrow integers), so that callers
    # holding many drawn firms hold them at the population's size
    return {name: a.astype(COLUMNS[name][0], copy=False) for name, a in cols.items()}


def create_at_level(
    n: int,
    level: int,
    ladder: Ladder,
    params: Mapping[str, float],
    key: int | np.uint64,
    year: int,
    group: int,
) -> dict[str, np.ndarray]:
    """`n` firms holding `level`, each meeting the criteria of every title up to `level`,
    drawn from group `group` of the streams keyed by `key`."""
    counts = np.zeros(ladder.top + 1, dtype=np.int64)
    counts[level] = n
    groups = list(range(ladder.top + 1))
    groups[level] = group
    return create_titled(counts, ladder, params, key, year, groups)


def create_titled(
    counts: np.ndarray,
    ladder: Ladder,
    params: Mapping[str, float],
    key: int | np.uint64,
    year: int,
    groups: list[int] | None = None,
    max_rounds: int = 200,
) -> dict[str, np.ndarray]:
    """`counts[k]` firms at each level k, each meeting the criteria of every title up to k.

    Rejection sampling in vectorised batches: proposals shifted toward level k are drawn in
    order from group `groups[k]` (default `k`) of the streams keyed by `key`, and the first
    `counts[k]` proposals that meet the criteria are kept. A larger count keeps the same
    firms and more (common random numbers). Firms are returned ordered by level.
    """
    from sim.engine.eligibility import eligibility

    compiled = eligibility(ladder)
    counts = np.asarray(counts, dtype=np.int64)
    groups = list(range(counts.size)) if groups is None else groups
    draws = [FirmDraws(key, g) for g in groups]
    kept: list[dict[str, np.ndarray]] = []
    if counts[0]:
        kept.append(draw_firms(int(counts[0]), 0, params, draws[0], year))
    for k in np.flatnonzero(counts[1:]) + 1:
        need, drawn = int(counts[k]), 0
        rate = 0.25  # first guess of the acceptance rate; refined from each round
        for _ in range(max_rounds):
            batch = int(np.ceil(1.5 * need / rate)) + 16
            cand = draw_firms(batch, int(k), params, draws[k], year, start=drawn)
            drawn += batch
            values = _memoised(_Drawn(cand, batch))
            ok = np.ones(batch, dtype=bool)
            for j in range(1, int(k) + 1):
                ok &= compiled.meets(j, values)
            chosen = np.flatnonzero(ok)[:need]
            rate = max(np.count_nonzero(ok) / batch, 0.01)
            kept.append({name: arr[chosen] for name, arr in cand.items()})
            need -= chosen.size
            if need == 0:
                break
        else:
            raise RuntimeError(
                f"could not draw firms meeting the criteria of level {k}; the population "
                "parameters make them too rare"
            )
    if not kept:
        return draw_firms(0, 0, params, draws[0], year)
    # one column at a time, each part released as it is copied: the peak is one column
    return {name: np.concatenate([part.pop(name) for part in kept]) for name in list(kept[0])}
