"""Counter-based random numbers: a firm's draw is a function of (key, identity), nothing else.

Each replication derives, from its seed, one 64-bit key per year and purpose (growth shock,
apply, approve, exit, ...). A firm's uniform for that purpose is output number `draw_id + 1`
of the
SplitMix64 generator seeded with the key (Steele, Lea and Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA; the finaliser is Stafford's Mix13, the one
`java.util.SplittableRandom` uses). SplitMix64 passes BigCrush, and output `i` is computed from
`i` directly, so:

- only the rows a phase needs are drawn (applicants, titles due for re-review, alive firms),
  and no matrix of numbers per firm and year is held in memory;
- a firm's draw does not depend on how many other firms there are, nor on which were drawn
  before it: common random numbers hold firm by firm between a run and its counterfactual,
  and between runs whose inputs change the number of firms (a firm's `draw_id` is its group
  and its place in the group, sim/engine/firms.py), and results do not depend on the number of
  worker processes;
- the compiled yearly loops (sim/engine/kernels.py) draw inside their loop, with no temporaries.

Normals are the inverse normal CDF of a uniform, so one uniform is one normal and a firm keeps
its shock when its neighbours change: in the central 95 % a table of the exact quantile at 8,192
points, interpolated linearly (error below 1.1e-6); in the tails Acklam's rational
approximation (relative error below 1.2e-9). Both are far below what the float32 state resolves.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.special import ndtri

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (the golden ratio in 64 bits)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_TO_UNIT = 2.0**-53

# Acklam's inverse normal CDF coefficients (central region and tails)
_A = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690,
      -30.66479806614716, 2.506628274631000)  # fmt: skip
_B = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972,
      -13.28068155288572)  # fmt: skip
_C = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
      4.374664141464968, 2.938163982698783)  # fmt: skip
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
_P_LOW = 0.02425
# exact quantiles at evenly spaced points of the central region [_P_LOW, 1 - _P_LOW]
_TABLE_SIZE = 8192
_TABLE_STEP = (1.0 - 2.0 * _P_LOW) / _TABLE_SIZE
_TABLE = ndtri(_P_LOW + _TABLE_STEP * np.arange(_TABLE_SIZE + 1))


@numba.njit(cache=True, inline="always")
def splitmix_at(key: np.uint64, row: np.int64) -> np.uint64:
    """Output `row + 1` of SplitMix64 seeded with `key`: 64 random bits (`row` is a counter:
    a firm's `draw_id`, or a sub-stream's number)."""
    z = key + GAMMA * (np.uint64(row) + _ONE)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def uniform_at(key: np.uint64, row: np.int64) -> float:
    """Output `row + 1` of SplitMix64 seeded with `key`, as a float in (0, 1)."""
    return (np.float64(splitmix_at(key, row) >> _S11) + 0.5) * _TO_UNIT


@numba.njit(cache=True)
def _derived_key(key: np.uint64, counter: np.int64) -> np.uint64:
    return splitmix_at(key, counter)


def derived_key(key: int | np.uint64, counter: int) -> np.uint64:
    """A key for sub-stream `counter` of `key` (output `counter + 1` of SplitMix64 at `key`).

    Cheaper than a `SeedSequence` per sub-stream (set-up draws need hundreds of them); two
    SplitMix64 streams overlap only if their keys differ by a small multiple of the increment,
    which for 64-bit keys is negligible at the lengths drawn here.
    """
    return _derived_key(np.uint64(key), np.int64(counter))


@numba.njit(cache=True)
def _derived_keys(key: np.uint64, n: np.int64) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    for counter in range(n):
        out[counter] = splitmix_at(key, counter)
    return out


def derived_keys(key: int | np.uint64, n: int) -> np.ndarray:
    """The keys of sub-streams 0 to n - 1 of `key` (each `derived_key(key, counter)`), in one
    call: a group of new firms takes one per attribute drawn."""
    return _derived_keys(np.uint64(key), np.int64(n))


@numba.njit(cache=True, inline="always")
def normal_from_uniform(u: float) -> float:
    """The standard normal quantile of `u` in (0, 1): table in the centre, Acklam in the tails."""
    if _P_LOW <= u <= 1.0 - _P_LOW:
        x = (u - _P_LOW) * (1.0 / _TABLE_STEP)
        j = min(int(x), _TABLE_SIZE - 1)
        return _TABLE[j] + (x - j) * (_TABLE[j + 1] - _TABLE[j])
    return _normal_tail(u)


@numba.njit(cache=True, inline="always")
def _normal_tail(u: float) -> float:
    """Acklam's rational approximation of the normal quantile (used in the tails)."""
    if u < _P_LOW:
        q = np.sqrt(-2.0 * np.log(u))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    if u > 1.0 - _P_LOW:
        q = np.sqrt(-2.0 * np.log1p(-u))
        return -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    q = u - 0.5
    r = q * q
    return (
        (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
        * q
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    )


@numba.njit(cache=True)
def _uniforms(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.size, dtype=np.float64)
    for j in range(rows.size):
        out[j] = uniform_at(key, rows[j])
    return out


@numba.njit(cache=True)
def _normals(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.size, dtype=np.float64)
    for j in range(rows.size):
        out[j] = normal_from_uniform(uniform_at(key, rows[j]))
    return out


def uniforms(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    """The uniforms of firms `rows` (int indices) for the purpose `key`."""
    return _uniforms(np.uint64(key), np.ascontiguousarray(rows, dtype=np.int64))


def normals(key: np.uint64, rows: np.ndarray) -> np.ndarray:
    """The standard normals of firms `rows` for the purpose `key`."""
    return _normals(np.uint64(key), np.ascontiguousarray(rows, dtype=np.int64))


# numpy's SeedSequence (numpy/random/bit_generator.pyx): its hash constants, pool of 4 words
_SS_INIT_A, _SS_MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_SS_INIT_B, _SS_MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_SS_MIX_L, _SS_MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_SS_MASK, _SS_SHIFT, _SS_POOL = np.uint64(0xFFFFFFFF), np.uint64(16), 4


@numba.njit(cache=True, inline="always")
def _ss_hashmix(value: np.uint64, hash_const: np.uint64) -> tuple[np.uint64, np.uint64]:
    value ^= hash_const
    hash_const = (hash_const * _SS_MULT_A) & _SS_MASK
    value = (value * hash_const) & _SS_MASK
    return value ^ (value >> _SS_SHIFT), hash_const


@numba.njit(cache=True, inline="always")
def _ss_mix(x: np.uint64, y: np.uint64) -> np.uint64:
    result = (_SS_MIX_L * x - _SS_MIX_R * y) & _SS_MASK
    return result ^ (result >> _SS_SHIFT)


@numba.njit(cache=True)
def _seed_sequence_keys(words: np.ndarray) -> np.ndarray:
    """Row r of `words` (32-bit words, in uint64) is a SeedSequence's assembled entropy; the
    first 64-bit word of each one's `generate_state`, as numpy computes it."""
    out = np.empty(words.shape[0], dtype=np.uint64)
    pool = np.empty(_SS_POOL, dtype=np.uint64)
    n = words.shape[1]
    for r in range(words.shape[0]):
        h = _SS_INIT_A
        for i in range(_SS_POOL):  # the entropy up to the pool's size
            pool[i], h = _ss_hashmix(words[r, i] if i < n else np.uint64(0), h)
        for i_src in range(_SS_POOL):  # every word into every other
            for i_dst in range(_SS_POOL):
                if i_src != i_dst:
                    v, h = _ss_hashmix(pool[i_src], h)
                    pool[i_dst] = _ss_mix(pool[i_dst], v)
        for i_src in range(_SS_POOL, n):  # the rest of the entropy
            for i_dst in range(_SS_POOL):
                v, h = _ss_hashmix(words[r, i_src], h)
                pool[i_dst] = _ss_mix(pool[i_dst], v)
        h = _SS_INIT_B
        key = np.uint64(0)
        for j in range(2):  # two 32-bit words of state, little-endian into one 64-bit word
            d = pool[j] ^ h
            h = (h * _SS_MULT_B) & _SS_MASK
            d = (d * h) & _SS_MASK
            key |= (d ^ (d >> _SS_SHIFT)) << np.uint64(32 * j)
        out[r] = key
    return out


def _uint32_words(x) -> list[int]:
    """numpy's reading of SeedSequence entropy or a spawn key as 32-bit words: an integer
    little-endian (0 is one word), a sequence as the words of its items in order."""
    if isinstance(x, int | np.integer):
        n = int(x)
        if n < 0:
            raise ValueError("SeedSequence entropy and spawn keys are non-negative")
        words = []
        while True:
            words.append(n & 0xFFFFFFFF)
            n >>= 32
            if n == 0:
                return words
    return [w for item in x for w in _uint32_words(item)]


def seed_sequence_words(seed: np.random.SeedSequence) -> np.ndarray:
    """The first words of the entropy numpy assembles for any child of `seed` (its entropy,
    padded to the pool's size, then its spawn key), in uint64: `seed_sequence_keys`' prefix."""
    entropy = _uint32_words(seed.entropy)
    entropy += [0] * (_SS_POOL - len(entropy))  # with a spawn key, padded to the pool's size
    return np.array(entropy + _uint32_words(seed.spawn_key), dtype=np.uint64)


def seed_sequence_keys(prefix: np.ndarray, year: int, purposes: int) -> np.ndarray:
    """Key `i`, for i < `purposes`: the first 64-bit word of
    `SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, year, i)).generate_state(1,
    np.uint64)`, where `prefix` is `seed_sequence_words(seed)`: numpy's value, in one compiled
    pass (numpy spends some 20 microseconds on each in Python)."""
    year_words = _uint32_words(year)
    words = np.empty((purposes, prefix.size + len(year_words) + 1), dtype=np.uint64)
    words[:, : prefix.size] = prefix
    words[:, prefix.size : -1] = year_words
    words[:, -1] = np.arange(purposes)
    return _seed_sequence_keys(words)


class Streams:
    """The keys of one replication: one per (year, purpose), derived from a `SeedSequence`.

    `key(year, purpose)` is the first 64-bit word of the child sequence with spawn key
    `(*parent.spawn_key, year, purpose index)`, so keys of different years, purposes and
    replications are independent in the sense of `SeedSequence`.
    """

    def __init__(self, seed: np.random.SeedSequence, purposes: tuple[str, ...]) -> None:
        self.seed = seed
        self.purposes = purposes
        self._keys: dict[tuple[int, str], np.uint64] = {}
        self._words: np.ndarray | None = None  # the seed's entropy words, on first use

    def share_keys(self, keys: dict | None = None) -> dict:
        """Use `keys` (another `Streams` of the same seed's) as this one's cache of keys, and
        return the cache: a key is a function of the seed, year and purpose only, so the
        passes of one replication compute each key once."""
        if keys is not None:
            self._keys = keys
        return self._keys

    def key(self, year: int, purpose: str) -> np.uint64:
        k = self._keys.get((year, purpose))
        if k is None:  # the year's keys of every purpose, at once
            if self._words is None:
                self._words = seed_sequence_words(self.seed)
            keys = seed_sequence_keys(self._words, year, len(self.purposes))
            for name, key in zip(self.purposes, keys, strict=True):
                self._keys[(year, name)] = key
            k = self._keys[(year, purpose)]
        return k
