"""Numba kernels of the manager side: the CRM snapshot, per-segment means, value at risk, allocation.

Each kernel fuses the passes of a numpy expression of `sim.crm`, `sim.policies`
or `sim.allocation` into one loop over customers and reproduces its result bit
for bit; the numpy code stays at the call site as the fallback (`sim.jit`).
What that takes:

- every operation is done in the dtype numpy does it in: float32 arithmetic in
  float32 (constants cast with `np.float32`, as numpy casts Python scalars to the
  array's dtype), float64 where numpy promotes to float64; a value numpy passes
  through float64 on its way to float32 (`np.where` of a float32 and a float64
  array, then `astype`) is converted the same way, `f32(f64(v))`;
- sums numpy does with `np.bincount(..., weights=...)` are float64 accumulators
  in index order, one per bin;
- `np.minimum`, `np.maximum` and `np.clip` keep NaN, and `np.maximum(-0.0, 0.0)`
  is `+0.0`: written as comparisons that do the same;
- transcendentals (`log1p`, `exp`) and numpy's pairwise sums (`mean`, `std`,
  `sum`) are not recomputed here: numpy's SIMD versions may differ from the
  C library's in the last bit. The call sites run them in numpy on the arrays
  the kernels prepare (for `log1p` and `exp` of full columns, in place).

Speed: full-length outputs are allocated with numpy by the wrappers below
(numpy asks the kernel for huge pages, which saves most of the page faults of
fresh memory) and filled by the `_` kernels, which never write to their inputs
(writing in place would also keep a loop from vectorising). Loops choose with
selects rather than branches (consent, status and missing answers make
branches mispredict), and look segment values up in
a per-segment table. A loop reads and writes at most about a dozen arrays: more
streams than that at once make a pass several times slower than two passes.
"""

from __future__ import annotations

import numpy as np

from sim import memory
from sim.agents.state import NEVER
from sim.jit import njit

F32 = np.float32
#: Dtypes of the values the kernels take where numpy would take any real dtype.
KERNEL_DTYPES = frozenset(np.dtype(t) for t in (
    np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32))


def values(x: object) -> np.ndarray:
    """`x` as the kernels take it: an array of a dtype of `KERNEL_DTYPES` (others widened to float64)."""
    a = np.asarray(x)
    return a if a.dtype in KERNEL_DTYPES else a.astype(np.float64)


# ---------------------------------------------------------------------- the CRM snapshot


def view_arrays(t: int, status: np.ndarray, active: int, churned_code: int, consent: np.ndarray,
                joined: np.ndarray, last_purchase: np.ndarray, survey_at: np.ndarray, frequency: np.ndarray,
                monetary: np.ndarray, complaints_total: np.ndarray, survey_nps: np.ndarray,
                survey_csat: np.ndarray, needs_signal: np.ndarray, complaint_open: np.ndarray,
                slot: int = 0) -> tuple[np.ndarray, ...]:
    """The per-customer arrays of `sim.crm.build_view` (each a new array).

    The arrays start on cache lines `slot`, `slot + 1`, ... of their pages
    (`sim.memory`): pick slots the population's columns do not use.

    Returns:
        `(known, churned, recency, frequency, monetary, tenure, complaint_open,
        complaints_total, survey_nps, survey_csat, survey_age, needs_signal)`.
    """
    n = status.size
    lay = memory.Layout(slot)
    known, churned, c_open = (lay.empty(n, np.bool_) for _ in range(3))
    tenure, recency, s_age, freq, mon, c_total, nps, csat, needs = (lay.empty(n, F32) for _ in range(9))
    _view_status(t, status, active, churned_code, consent, joined, last_purchase, survey_at, complaint_open,
                 known, churned, c_open, tenure, recency, s_age)
    _view_personal(known, consent, frequency, monetary, complaints_total, survey_nps, survey_csat,
                   needs_signal, freq, mon, c_total, nps, csat, needs)
    return known, churned, recency, freq, mon, tenure, c_open, c_total, nps, csat, s_age, needs


@njit
def _view_status(t, status, active, churned_code, consent, joined, last_purchase, survey_at, complaint_open,
                 known, churned, c_open, tenure, recency, s_age):
    # Loads first, then selects: no branches on the data (they mispredict on consent and status).
    nan = np.float32(np.nan)
    zero = np.float32(0.0)
    t32 = np.float32(t)  # np.subtract(t, at, dtype=float32) casts both sides to float32
    for i in range(status.size):
        st = status[i]
        kn = st == active
        ok = kn & consent[i]
        lp = last_purchase[i]
        sa = survey_at[i]
        ten = t32 - np.float32(joined[i])
        rec = t32 - np.float32(lp)
        age = t32 - np.float32(sa)
        known[i] = kn
        churned[i] = st == churned_code
        c_open[i] = complaint_open[i] & kn
        tenure[i] = ten if kn else zero
        recency[i] = rec if ok & (lp > NEVER) else nan
        s_age[i] = age if ok & (sa > NEVER) else nan


@njit
def _view_personal(known, consent, frequency, monetary, complaints_total, survey_nps, survey_csat,
                   needs_signal, freq, mon, c_total, nps, csat, needs):
    # np.where(ok, a, nan) has the dtype of a and float32 (float64 for wide types), then astype(float32).
    nan = np.float32(np.nan)
    zero = np.float32(0.0)
    for i in range(known.size):
        ok = known[i] & consent[i]
        a = np.float32(np.float64(frequency[i]))
        b = np.float32(np.float64(monetary[i]))
        c = np.float32(np.float64(complaints_total[i]))
        d = np.float32(np.float64(survey_nps[i]))
        e = np.float32(np.float64(survey_csat[i]))
        f = np.float32(np.float64(needs_signal[i]))
        freq[i] = a if ok else nan
        mon[i] = b if ok else nan
        c_total[i] = c if ok else nan
        nps[i] = d if ok & (d >= zero) else nan  # a negative answer: never answered (`NO_ANSWER`)
        csat[i] = e if ok & (e >= zero) else nan
        needs[i] = f if ok else nan


# ---------------------------------------------------------------------- per-segment means


def segment_mean(values: np.ndarray, known: np.ndarray, segment: np.ndarray, k: int,
                 fill: float) -> np.ndarray:
    """`CRMView.segment_mean`: mean of `values` per segment over known customers with finite data.

    Returns:
        The `k` means (float64), `fill` for segments without data.
    """
    return segment_means((values,), values, values, False, known, segment, k, fill)[0]


@njit
def segment_means(arrays, a, b, product, known, segment, k, fill):
    """`segment_mean` of each of `arrays` (a tuple of one dtype) and, with `product`, of `a * b`, in one pass.

    Returns:
        One row of `k` means (float64) per array, then one for `a * b` if asked.
    """
    m = len(arrays)
    rows = m + 1 if product else m
    sums = np.zeros((k, rows), np.float64)
    cnt = np.zeros((k, rows), np.int64)
    zero = np.float64(0.0)
    for i in range(known.size):
        if not known[i]:  # unknown rows would add 0.0, which leaves a sum as it is
            continue
        s = segment[i]
        for j in range(m):
            v = arrays[j][i]
            ok = np.isfinite(v)
            sums[s, j] += np.float64(v) if ok else zero
            cnt[s, j] += ok
        if product:
            p = a[i] * b[i]
            ok = np.isfinite(p)
            sums[s, m] += np.float64(p) if ok else zero
            cnt[s, m] += ok
    out = np.empty((rows, k), np.float64)
    for j in range(rows):
        for s in range(k):
            out[j, s] = sums[s, j] / np.float64(cnt[s, j]) if cnt[s, j] > 0 else fill
    return out


def fill_by_segment(values: np.ndarray, segment: np.ndarray, means: np.ndarray) -> np.ndarray:
    """`CRMView.fill_by_segment` given the segment means (float64): a new float32 array."""
    out = np.empty(values.size, dtype=F32)
    _fill_by_segment(values, segment, means, out)
    return out


@njit
def _fill_by_segment(values, segment, means, out):
    for i in range(values.size):
        v = values[i]
        m = np.float32(means[segment[i]])
        out[i] = np.float32(np.float64(v)) if np.isfinite(v) else m


# ---------------------------------------------------------------------- churn risk and CLV


def recency_risk(recency: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`where(known, nan_to_num(recency, nan=0), 0).astype(float32)` for float32 or float64 recency."""
    out = np.empty(recency.size, dtype=F32)
    _recency_risk(recency, known, float(np.finfo(recency.dtype).max), out)
    return out


@njit
def _recency_risk(recency, known, big, out):
    # nan_to_num in the dtype of recency (`big` its largest value), then the cast to float32.
    zero = np.float32(0.0)
    for i in range(recency.size):
        v = np.float64(recency[i])
        v = 0.0 if np.isnan(v) else v
        v = big if v == np.inf else v
        v = -big if v == -np.inf else v
        out[i] = np.float32(v) if known[i] else zero


def clv_score(risk: np.ndarray, fixed_risk: bool, frequency: np.ndarray, monetary: np.ndarray,
              segment: np.ndarray, value_means: np.ndarray, discount: float, horizon: float) -> np.ndarray:
    """`CLVPolicy.score` (new, float32).

    Args:
        risk: Predicted churn risk (float32); clipped to [1e-4, 1].
        fixed_risk: Ignore `risk`: every customer's risk is 0.01 (before the first fit).
        frequency: Observed frequency.
        monetary: Observed monetary value.
        segment: Segment index.
        value_means: `segment_mean` of frequency × monetary value.
        discount: Discount rate per period.
        horizon: Cap on CLV, in periods of margin.
    """
    out = np.empty(segment.size, dtype=F32)  # not `risk`: writing in place would keep the loop scalar
    _clv_score(risk, fixed_risk, frequency, monetary, segment, value_means.astype(F32), discount, horizon, out)
    return out


@njit
def _clv_score(risk, fixed_risk, frequency, monetary, segment, table, discount, horizon, out):
    lo = np.float32(1e-4)
    hi = np.float32(1.0)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    d = np.float32(discount)
    h = np.float32(horizon)
    big = np.float32(np.finfo(np.float32).max)
    for i in range(segment.size):
        r = np.float32(0.01) if fixed_risk else risk[i]
        r = lo if r < lo else r  # np.clip, NaN kept
        r = hi if r > hi else r
        v = frequency[i] * monetary[i]
        v = v if np.isfinite(v) else table[segment[i]]  # fill_by_segment
        v = zero if np.isnan(v) else v  # nan_to_num
        v = big if v == np.inf else v
        v = -big if v == -np.inf else v
        inv = one / (r + d)
        inv = h if inv > h else inv  # np.minimum, NaN kept
        out[i] = (v * inv) * r


def value_priority(frequency: np.ndarray, monetary: np.ndarray, complaint_age: np.ndarray) -> np.ndarray:
    """`nan_to_num(frequency * monetary, nan=0) + complaint_age` (float32 value and result)."""
    out = np.empty(frequency.size, dtype=F32)
    _value_priority(frequency, monetary, complaint_age, out)
    return out


@njit
def _value_priority(frequency, monetary, complaint_age, out):
    big = np.float32(np.finfo(np.float32).max)
    zero = np.float32(0.0)
    for i in range(frequency.size):
        v = frequency[i] * monetary[i]
        v = zero if np.isnan(v) else v
        v = big if v == np.inf else v
        v = -big if v == -np.inf else v
        out[i] = v + np.float32(complaint_age[i])


# ---------------------------------------------------------------------- standardising, targeting


def finite_where(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`x[mask & isfinite(x)]` as float64 (what `zscore` takes the mean and deviation of)."""
    out = np.empty(_count_finite(x, mask), dtype=np.float64)
    _gather_finite(x, mask, out)
    return out


@njit
def _count_finite(x, mask):
    m = 0
    for i in range(x.size):
        m += mask[i] & np.isfinite(np.float64(x[i]))
    return m


@njit
def _gather_finite(x, mask, out):
    m = 0
    for i in range(x.size):
        v = np.float64(x[i])
        if mask[i] and np.isfinite(v):
            out[m] = v
            m += 1


def standardise(x: np.ndarray, mask: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """`where(mask & isfinite(x), (x - mean) / scale, 0).astype(float32)`, computed in float64."""
    out = np.empty(x.size, dtype=F32)
    _standardise(x, mask, mean, scale, out)
    return out


@njit
def _standardise(x, mask, mean, scale, out):
    zero = np.float32(0.0)
    for i in range(x.size):
        v = np.float64(x[i])
        z = np.float32((v - mean) / scale)
        out[i] = z if mask[i] & np.isfinite(v) else zero


# ---------------------------------------------------------------------- allocation


def spread_weights(weights: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """`where(visible, maximum(nan_to_num(weights, nan=0), 0), 0)` for float32 weights (a new array)."""
    out = np.empty(weights.size, dtype=F32)
    _spread_weights(weights, visible, out)
    return out


@njit
def _spread_weights(weights, visible, out):
    big = np.float32(np.finfo(np.float32).max)
    zero = np.float32(0.0)
    for i in range(weights.size):
        v = weights[i]
        v = big if v == np.inf else v
        v = v if v > zero else zero  # NaN, -inf, negatives and -0.0 give +0.0, as np.maximum(..., 0.0)
        out[i] = v if visible[i] else zero


@njit
def scale_inplace(buf, factor):
    """`buf *= float32(factor)` (numpy casts a Python float to the float32 array's dtype)."""
    f = np.float32(factor)
    for i in range(buf.size):
        buf[i] = buf[i] * f
