"""Counter-based random numbers: one draw per customer, mechanism and period.

The customer step draws its random numbers from a *counter-based* generator:
the draw of customer `i` for mechanism `slot` in period `t` is a hash of
`(key, t, slot, i)`, where `key` comes from the model's generator (one key per
stream: customers, surveys, acquisition). So

- a draw exists for every customer whether or not it is used, and using it
  consumes nothing: only the customers a mechanism concerns are drawn for
  (the surveyed, the buyers, the potential customers), at no cost to the others;
- every policy compared in a replication sees the same number for the same
  customer, mechanism and period — common random numbers by construction,
  whatever the order or the subset of customers a mechanism visits;
- a draw is computed where it is used, inside the compiled loops (`uniform_at`,
  `normal_at`); `draws` gives many at once, for tests and notebooks.

The hash is SplitMix64 (Steele, Lea & Flood 2014): the draw is
`mix64(base + (i + 1) * 0x9E3779B97F4A7C15)` with
`base = mix64(key ^ mix64(t * 256 + slot))`. Uniforms take the top 24 bits
(float32 in [0, 1), as `Generator.random(dtype=float32)`). Normal deviates come
from the inverse normal CDF, tabulated at 2^16 + 1 points and interpolated
linearly with the next 24 bits. The interpolated distribution has mean 0, standard
deviation 1 − 3·10⁻⁶ and its tails truncated at ±4.5 (a mass of 3.4·10⁻⁶ on
each side is moved inwards); tests/test_streams.py checks its moments and
quantiles.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from sim.jit import njit

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_U64 = np.uint64
TABLE_BITS = 16


def _mix_int(x: int) -> int:
    """SplitMix64's finaliser on a Python int (64-bit wrap-around)."""
    x &= MASK
    x = ((x ^ (x >> 30)) * _M1) & MASK
    x = ((x ^ (x >> 27)) * _M2) & MASK
    return x ^ (x >> 31)


def stream_key(rng: np.random.Generator) -> int:
    """A 64-bit key drawn from a generator (the one place a counter stream touches it)."""
    return int(rng.integers(0, 2**63, dtype=np.int64)) << 1 | int(rng.integers(0, 2))


def period_base(key: int, t: int, slot: int) -> np.uint64:
    """The counter base of mechanism `slot` in period `t` of the stream `key`."""
    return _U64(_mix_int(key ^ _mix_int(t * 256 + slot)))


def _normal_table() -> np.ndarray:
    """Inverse normal CDF at k / 2^16, k = 0..2^16; ends clipped to ±Φ⁻¹(0.25 / 2^16); odd."""
    n = 1 << TABLE_BITS
    k = np.arange(n // 2 + 1, dtype=np.float64)
    lower = ndtri(np.maximum(k, 0.25) / n)
    lower[-1] = 0.0
    return np.concatenate([lower, -lower[-2::-1]])


NORMAL_TABLE = _normal_table()
_FRAC = 2.0**-24

# exp in float32 from additions and multiplications only (Cephes' expf): x = k ln2 + r,
# |r| <= ln2 / 2, e^r by a degree-7 polynomial, times 2^k from a table. Within 2 ulp of
# the exact value; identical on both paths, and it vectorises (libm's exp does not).
_F = np.float32
_EXP_LO, _EXP_HI = _F(-87.0), _F(88.0)
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_P0, _P1, _P2, _P3, _P4, _P5 = (_F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3),
                                _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1))
_POW2_OFFSET = 150
POW2 = np.ldexp(_F(1.0), np.arange(-_POW2_OFFSET, 130).clip(-149, 127)).astype(_F)

def _exp32_clamped(x):
    """e^x in float32 from additions and multiplications, for x in [-87, 88]."""
    k = np.floor(x * _LOG2E + _F(0.5))
    r = x - k * _LN2_HI - k * _LN2_LO
    p = _P0 * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    y = p * r * r + r + _F(1.0)
    return y * POW2[np.intp(k) + _POW2_OFFSET]


# --------------------------------------------------------------------------- compiled


_exp32_clamped_at = njit(_exp32_clamped)


@njit
def exp32_at(x):  # pragma: no cover - compiled
    """e^x of a float32 scalar, within 2 ulp, clamped to [-87, 88] (no libm call: loops around it vectorise).

    The clamp is written with the builtin `min`/`max` (equal to `np.minimum`/`np.maximum`
    but for NaN, which never reaches it): numba's scalar `np.minimum` keeps `react`'s loop
    from vectorising (about 4x slower; tests/test_jit.py checks the loop is vector code).
    """
    return _exp32_clamped_at(min(max(x, _EXP_LO), _EXP_HI))


@njit
def mix64(x):  # pragma: no cover - compiled
    """SplitMix64's finaliser (uint64 → uint64)."""
    x = (x ^ (x >> _U64(30))) * _U64(_M1)
    x = (x ^ (x >> _U64(27))) * _U64(_M2)
    return x ^ (x >> _U64(31))


@njit
def bits_at(base, i):  # pragma: no cover - compiled
    """The 64 random bits of customer `i` (compiled path)."""
    return mix64(base + (_U64(i) + _U64(1)) * _U64(GOLDEN))


@njit
def uniform_at(base, i):  # pragma: no cover - compiled
    """Float32 uniform in [0, 1) of customer `i`."""
    return np.float32(bits_at(base, i) >> _U64(40)) * np.float32(_FRAC)


@njit
def normal_at(base, i, table):  # pragma: no cover - compiled
    """Float32 standard normal deviate of customer `i` (`table` = `NORMAL_TABLE`)."""
    h = bits_at(base, i)
    k = np.intp(h >> _U64(64 - TABLE_BITS))
    f = np.float64((h >> _U64(64 - TABLE_BITS - 24)) & _U64(0xFFFFFF)) * _FRAC
    lo = table[k]
    return np.float32((table[k + 1] - lo) * f + lo)


@njit
def draws(base, ids, table):  # pragma: no cover - compiled
    """The uniform and the normal deviate of each customer in `ids` for one counter base (tests, notebooks)."""
    u = np.empty(ids.size, np.float32)
    z = np.empty(ids.size, np.float32)
    for j in range(ids.size):
        u[j] = uniform_at(base, ids[j])
        z[j] = normal_at(base, ids[j], table)
    return u, z
