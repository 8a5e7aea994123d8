"""The criteria of every title compiled into numeric programs, judged in one compiled pass.

`Ladder.meets` judges a title criterion by criterion with numpy: about ten numpy calls per
criterion, whatever the number of firms. For the few firms a small place judges several times
a year (applicants, titles due for re-review, proposals of the set-up) those calls are most of
the work. `Eligibility` turns each tier's criteria into arrays once per ladder and judges all
of them for all the firms in one compiled loop (`_judge`), reading each firm's attributes once
and stopping at its first failed criterion.

The verdicts are `Ladder.meets`'s, firm by firm (tests/test_eligibility.py compares them on
random ladders and firms). For that, every threshold is stored as the value numpy compares:

- a criterion's threshold, band limit and a below-table's limit are Python numbers compared
  with a column: numpy takes them in the column's own float dtype (NEP 50: a float32 column
  compares with float32(0.03)), and compares integer and boolean columns exactly;
- a points table's ascending thresholds are cast to the column's dtype (`_indicator_points`);
- a band's minimum is cast to the attribute's dtype (`Criterion.evaluate`).

Values and thresholds are then held as float64, which holds every float32, int16 and int32
value exactly, so comparing them in float64 gives numpy's answer. Points are summed in float64:
the same whole numbers numpy sums in int16, and the same float64 sums when a table's points are
not whole. A NaN value reaches no threshold of an integral points table and every threshold of
another one, as `_indicator_points` has it.

A `Ladder` is not changed once made (a scenario's `ladder:` section makes a new one), so its
programs are compiled once (`eligibility`) and kept while the ladder lives.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np

from sim.engine.ladder import SMALL_BATCH, Ladder, Tier, Values, _table

# criterion kinds (column 0 of a program's `criteria`)
THRESHOLD, BANDED, SCORE = 0, 1, 2
# a threshold criterion's bounds (column 4: which of min, max and max_exclusive it has)
HAS_MIN, HAS_MAX, HAS_MAX_EXCLUSIVE = 1, 2, 4
# points-table kinds (column 0 of a program's `indicators`)
COUNT_REACHED, SEARCH, BELOW = 0, 1, 2


def _as_compared(t: Any, dtype: np.dtype) -> float:
    """A Python (or numpy) number `t` as numpy compares it with an array of `dtype`, as a
    float64 that compares the same with the array's values in float64."""
    if isinstance(t, np.generic):  # a numpy scalar keeps its own dtype (NEP 50)
        return float(np.result_type(dtype, t.dtype).type(t))
    if dtype.kind == "f":  # a Python number takes the array's float dtype
        with np.errstate(over="ignore"):
            return float(dtype.type(t))
    return float(t)  # integer and boolean arrays compare with Python numbers exactly


def _cast(values, dtype: np.dtype) -> np.ndarray:
    """`values` cast to `dtype` by `astype`, as float64 (numpy's own cast, whatever it does
    with infinities and fractions for integer dtypes)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64)


class Program:
    """One tier's criteria as arrays: what `_judge` reads.

    - `attributes`: the names of the attributes read, in the order of the rows of `_judge`'s
      value matrix;
    - `criteria`: one row per criterion, `(kind, attribute, other, start, count)`: a
      threshold's bounds are `numbers[start:start + 3]` (min, max, max_exclusive) and `count`
      says which it has; a banded criterion's attribute is compared with the minimum of the band
      `other` (band_by) falls in, bands at `numbers[start:]` as (from, to, minimum), `count` of
      them, then the minimum when no band holds; a score criterion sums the points of
      `indicators[start:start + count]`, passes at `numbers[other]` (min_total) or when
      its direct-pass attribute (`attribute`, -1 for none) is not zero;
    - `indicators`: one row per points table, `(kind, attribute, start, count, fallback)`: an
      ascending table has `count` thresholds at `numbers[start:]` and their `count + 1` points
      after them (the first: below every threshold); a below table has `count` rows of
      (limit, points, inclusive) at `numbers[start:]`, widest first, then the points otherwise;
      `fallback` is the row of the table whose points replace points that are not positive
      (-1 for none);
    - `numbers`: float64 thresholds, limits and points.
    """

    def __init__(self, tier: Tier, attributes: Sequence[str], dtypes: Sequence[np.dtype]) -> None:
        self.attributes = list(attributes)
        dtypes = dict(zip(self.attributes, dtypes, strict=True))
        self._numbers: list[float] = []
        criteria: list[tuple[int, int, int, int, int]] = []
        self._indicators: list[list[int]] = []
        self._dtypes = dtypes
        for c in tier.criteria:
            s = c.spec
            if c.kind == "threshold":
                dtype = dtypes[s["attribute"]]
                bounds = 0
                start = len(self._numbers)
                bound_keys = (
                    (HAS_MIN, "min"),
                    (HAS_MAX, "max"),
                    (HAS_MAX_EXCLUSIVE, "max_exclusive"),
                )
                for flag, key in bound_keys:
                    if key in s:
                        bounds |= flag
                        self._numbers.append(_as_compared(s[key], dtype))
                    else:
                        self._numbers.append(0.0)
                criteria.append((THRESHOLD, self._attribute(s["attribute"]), -1, start, bounds))
            elif c.kind == "banded":
                x_dtype, by_dtype = dtypes[s["attribute"]], dtypes[s["band_by"]]
                start = len(self._numbers)
                for band in s["bands"]:
                    self._numbers += [
                        _as_compared(band.get("from", -np.inf), by_dtype),
                        _as_compared(band.get("to", np.inf), by_dtype),
                        float(_cast([band["min"]], x_dtype)[0]),
                    ]
                self._numbers.append(float(_cast([np.inf], x_dtype)[0]))  # no band holds
                criteria.append(
                    (
                        BANDED,
                        self._attribute(s["attribute"]),
                        self._attribute(s["band_by"]),
                        start,
                        len(s["bands"]),
                    )
                )
            else:
                rows = [self._indicator(ind) for ind in s["indicators"]]
                for row, ind in zip(rows, s["indicators"], strict=True):
                    if "fallback" in ind:
                        self._indicators[row][4] = self._indicator(ind["fallback"])
                start = rows[0]  # the summed tables are contiguous: fallbacks come after
                direct = s.get("direct_pass")
                total_at = len(self._numbers)
                # the total is compared as numpy compares it: int16 or float64 with a number
                self._numbers.append(float(s["min_total"]))
                criteria.append(
                    (SCORE, self._attribute(direct) if direct else -1, total_at, start, len(rows))
                )
        self.criteria = np.array(criteria, dtype=np.int64).reshape(-1, 5)
        self.indicators = np.array(self._indicators, dtype=np.int64).reshape(-1, 5)
        self.numbers = np.array(self._numbers, dtype=np.float64)
        del self._numbers, self._indicators, self._dtypes

    def _attribute(self, name: str) -> int:
        return self.attributes.index(name)

    def _indicator(self, ind: Mapping[str, Any]) -> int:
        """Add one points table; returns its row."""
        table = _table(ind)
        dtype = self._dtypes[ind["attribute"]]
        start = len(self._numbers)
        if table.below:
            for limit, points, inclusive in table.rows:
                self._numbers += [_as_compared(limit, dtype), float(points), float(inclusive)]
            self._numbers.append(float(table.otherwise))
            kind, count = BELOW, len(table.rows)
        else:
            self._numbers += list(_cast(table.thresholds, dtype))
            self._numbers += [float(v) for v in table.points]
            kind = COUNT_REACHED if table.steps is not None else SEARCH
            count = len(table.thresholds)
        self._indicators.append([kind, self._attribute(ind["attribute"]), start, count, -1])
        return len(self._indicators) - 1


@numba.njit(cache=True, inline="always")
def _points(x, kind, start, count, numbers):
    """Points of one table for the value `x` (see `Program`)."""
    if kind == BELOW:
        pts = numbers[start + 3 * count]
        for r in range(count):
            limit = numbers[start + 3 * r]
            hit = x <= limit if numbers[start + 3 * r + 2] != 0.0 else x < limit
            if hit:
                pts = numbers[start + 3 * r + 1]
        return pts
    if kind == SEARCH and x != x:  # NaN: after every threshold, as a sorted search puts it
        return numbers[start + 2 * count]
    reached = 0
    for j in range(count):
        reached += x >= numbers[start + j]
    return numbers[start + count + reached]


@numba.njit(cache=True)
def _judge(values, criteria, indicators, numbers, ok):
    """Whether each firm (a column of `values`) meets every criterion; fills `ok`."""
    for i in range(values.shape[1]):
        passed = True
        for c in range(criteria.shape[0]):
            kind, a, other, start, count = (
                criteria[c, 0], criteria[c, 1], criteria[c, 2], criteria[c, 3], criteria[c, 4],
            )  # fmt: skip
            if kind == THRESHOLD:
                x = values[a, i]
                below_min = count & HAS_MIN and not x >= numbers[start]
                above_max = count & HAS_MAX and not x <= numbers[start + 1]
                at_or_above = count & HAS_MAX_EXCLUSIVE and not x < numbers[start + 2]
                passed = not (below_min or above_max or at_or_above)
            elif kind == BANDED:
                by = values[other, i]
                minimum = numbers[start + 3 * count]
                for b in range(count):
                    if by >= numbers[start + 3 * b] and by < numbers[start + 3 * b + 1]:
                        minimum = numbers[start + 3 * b + 2]
                passed = values[a, i] >= minimum
            else:
                total = 0.0
                for j in range(start, start + count):
                    t_kind, t_attr, t_start, t_count, fallback = (
                        indicators[j, 0], indicators[j, 1], indicators[j, 2], indicators[j, 3],
                        indicators[j, 4],
                    )  # fmt: skip
                    pts = _points(values[t_attr, i], t_kind, t_start, t_count, numbers)
                    if fallback >= 0 and not pts > 0.0:
                        f_kind, f_attr = indicators[fallback, 0], indicators[fallback, 1]
                        f_start, f_count = indicators[fallback, 2], indicators[fallback, 3]
                        pts = _points(values[f_attr, i], f_kind, f_start, f_count, numbers)
                    total += pts
                passed = total >= numbers[other] or (a >= 0 and values[a, i] != 0.0)
            if not passed:
                break
        ok[i] = passed


class Eligibility:
    """Every tier's criteria of a ladder, compiled (`Program`); `meets` is `Ladder.meets`.

    A tier's program is made for the dtypes its attributes come in (the population's: float32
    money and shares, integer counts), the first time it meets them.

    Up to `SMALL_BATCH` firms are judged by the compiled program; more go to `Ladder.meets`,
    whose numpy passes are faster per firm on many firms (about 55 against 110 ns per firm for
    the innovative-SME score on a million), while the program saves their fixed cost on few.
    """

    def __init__(self, ladder: Ladder) -> None:
        self.ladder = ladder
        # the attributes each tier reads, in a fixed order: the rows of `_judge`'s values
        self._attributes = [[]] + [
            list(dict.fromkeys(a for c in t.criteria for a in c.attributes())) for t in ladder.tiers
        ]
        self._programs: dict[tuple[int, tuple[np.dtype, ...]], Program] = {}

    def meets(self, level: int, values: Values) -> np.ndarray:
        """Boolean array: firms meeting every criterion of the tier at `level` (`values`: the
        firms' attributes by name, as for `Ladder.meets`)."""
        names = self._attributes[level]
        if not names:  # a tier without criteria: everyone qualifies
            return np.ones(values("tier").shape, dtype=bool)
        first = values(names[0])
        if first.size > SMALL_BATCH:
            return self.ladder.meets(level, values)
        arrays = [first] + [values(name) for name in names[1:]]
        key = (level, tuple(a.dtype for a in arrays))
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = Program(self.ladder.tier(level), names, key[1])
        matrix = np.empty((len(names), first.size), dtype=np.float64)
        for a, array in enumerate(arrays):
            matrix[a] = array
        ok = np.empty(first.size, dtype=bool)
        _judge(matrix, program.criteria, program.indicators, program.numbers, ok)
        return ok


_COMPILED: weakref.WeakKeyDictionary[Ladder, Eligibility] = weakref.WeakKeyDictionary()


def eligibility(ladder: Ladder) -> Eligibility:
    """The compiled criteria of `ladder`, made once while the ladder lives."""
    compiled = _COMPILED.get(ladder)
    if compiled is None:
        compiled = _COMPILED[ladder] = Eligibility(ladder)
    return compiled
