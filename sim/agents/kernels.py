"""Compiled kernels of the customer step (numba); `customers.py` holds the numpy twin.

Each kernel is one pass over the rows of the market and applies the
equations of docs/model.md in float32 (transcendental functions in float64,
rounded to float32; counts and money sums in float64), in the same order of
operations as the numpy fallback in `CustomerPopulation`, so the two paths
agree to the bit but for the rare rounding of a float64 transcendental that
numpy and the C library compute differently in the last place.

Random numbers come from `sim.streams` (counter-based): a customer's draw does
not depend on which other customers are drawn for.
"""

from __future__ import annotations

import math

import numpy as np

from sim.jit import njit
from sim.streams import exp32_at, normal_at, uniform_at

POTENTIAL, ACTIVE, CHURNED = 0, 1, 2
F32 = np.float32


@njit
def trait_at(values, index, i):  # pragma: no cover - compiled
    """Row i's value of a segment trait (`CustomerPopulation.SEGMENT_TRAITS`).

    `values` is the per-segment table and `index` the segments, or `values` is
    a per-customer column and `index` is None. The test is made when the kernel
    compiles (numba prunes a branch on an argument that is None), so each kind
    compiles to its own straight-line load.
    """
    if index is None:
        return values[i]
    return values[index[i]]


@njit(simd=True)
def experience(status, segment, needs, service, points, offer, sens, sens_at, expectation, satisfaction,
               relationship, lock, growth, growth_max, service_total, complaint_open, grudge,
               propensity, propensity_at, filed, b_needs, b_quality, b_complain, prm, neg_scale, neg_pscale,
               neg_fit_den, promise_term, table):  # pragma: no cover - compiled
    """Needs drift; what active customers experience and how they respond to it.

    Perceived quality, disconfirmation, satisfaction, complaints filed,
    expectations, relationship, lock-in and growth. One vectorised pass: every
    row is computed and only live (needs) or active rows keep the result.

    Returns the number of complaints filed.
    """
    (drift, quality, eff, fitw, noise, la, ew, base, dw, speed, cthr, cprob, keep_lift, ea,
     lock_keep, plock, gspeed) = prm
    one, zero = F32(1.0), F32(0.0)
    n_filed = 0
    for i in range(status.size):
        s = status[i]
        act = s == ACTIVE
        nd0 = needs[i]
        nd = nd0 + drift * normal_at(b_needs, i, table)
        needs[i] = nd if s != CHURNED else nd0
        sv = service[i]
        nurture = one - exp32_at(sv / neg_scale)
        lift = trait_at(sens, sens_at, i) * eff * nurture
        d = nd - offer[segment[i]]
        fit = exp32_at(d * d / neg_fit_den)
        perceived = lift + quality + (fit - one) * fitw + noise * normal_at(b_quality, i, table)
        exp_i = expectation[i]
        gap = perceived - exp_i
        felt = gap * la if gap < zero else gap
        x = (exp_i - quality) * ew + base + felt * dw
        target = one / (one + exp32_at(-x))
        sat = satisfaction[i]
        satisfaction[i] = sat + (target - sat) * speed if act else sat
        f = (act & (gap < -cthr) & (not (complaint_open[i] or grudge[i]))
             & (uniform_at(b_complain, i) < cprob * trait_at(propensity, propensity_at, i)))
        filed[i] = f
        n_filed += np.int64(f)
        exp_new = exp_i + ((perceived - lift * keep_lift - exp_i) * ea + promise_term)
        expectation[i] = exp_new if act else exp_i
        rel = relationship[i]
        relationship[i] = rel + (nurture - rel) * F32(0.1) if act else rel
        lk0 = lock[i]
        lk = lk0 * lock_keep + (one - exp32_at(points[i] / neg_pscale)) * plock
        lock[i] = min(max(lk, zero), one) if act else lk0
        g = growth[i]
        growth[i] = g + (growth_max[i] - g) * (nurture * gspeed) if act else g
        st = service_total[i]
        service_total[i] = st + sv if act else st
    return n_filed


#: Largest purchase count `react` finds without branches; larger counts are left to numpy.
COUNT_CAP = 5


@njit
def recommend_at(sat, loy, shift):  # pragma: no cover - compiled
    """Likelihood to recommend, 0–10, unrounded (`CustomerPopulation.recommend`; builtin clamps vectorise)."""
    return min(max((sat * F32(0.5) + loy * F32(0.5) + shift) * F32(10.0), F32(0.0)), F32(10.0))


@njit
def poisson_capped(lam, u):  # pragma: no cover - compiled
    """Poisson count by inversion of `u`, without branches, for counts up to COUNT_CAP.

    The same terms as `customers._poisson` (p_0 = exp32(−λ), p_k = p_(k−1) ·
    (λ / k) in float64, stopping once u ≤ the cumulative sum or a term ≤ 1e-12).
    Returns (k, tail): k = min(count, COUNT_CAP), and tail is True when the
    count is larger (the caller then finds it with `customers._poisson`).
    """
    tiny = 1e-12
    lam64 = np.float64(lam)
    p = np.float64(exp32_at(-lam))
    cdf = p
    go = u > cdf  # the count is above j (j = 0 here)
    k = np.int32(go)
    for j in range(1, COUNT_CAP + 1):  # unrolled by the compiler
        p *= lam64 / j
        cdf += p
        go = go & (u > cdf) & (p > tiny)
        k += np.int32(go) if j < COUNT_CAP else np.int32(0)
    return k, go


@njit
def neighbour_mean_at(indptr, indices, weights, values, i):  # pragma: no cover - compiled
    """Mean of `values` over node i's neighbours: the float32 sum of weight × value, in order."""
    acc = F32(0.0)
    w = weights[i]
    for j in range(indptr[i], indptr[i + 1]):
        acc += w * values[indices[j]]
    return acc


def word_of_mouth(status, satisfaction, complaint_open, grudge, sociability, sociability_at, indptr, indices,
                  weights, emit, heard, gather, for_potential, detractor, wom_unresolved):
    """What each active customer says (negative word of mouth) and what each person hears.

    With `gather` (a small-world network in CSR form), `heard` is computed for
    active rows, and for potential rows if `for_potential`; otherwise only
    `emit` is filled and the caller averages it over the network.

    What a person hears is the float32 sum, over their ties in ascending order,
    of their weight times what the neighbour says. Few people speak (the
    dissatisfied and the unresolved), so when fewer than a quarter of the rows
    do, the sum is built by pushing each speaker's word to their neighbours,
    speakers in ascending order: the same additions in the same order as
    gathering over every tie (a silent neighbour adds exactly 0), because ties
    are symmetric and each row's neighbours are sorted (`build_network`).
    """
    speakers = _emit(status, satisfaction, complaint_open, grudge, sociability, sociability_at, emit, detractor,
                     wom_unresolved)
    if not gather:
        return
    if speakers * 4 < status.size:
        _push(emit, indptr, indices, weights, heard)
        _listeners(status, for_potential, heard)
    else:
        _gather(status, for_potential, emit, indptr, indices, weights, heard)


@njit(simd=True)
def _emit(status, satisfaction, complaint_open, grudge, sociability, sociability_at, emit, detractor,
          wom_unresolved):  # pragma: no cover - compiled
    """What each active customer says (0 for everyone else); returns how many say something."""
    zero = F32(0.0)
    speakers = 0
    for i in range(status.size):
        e = max(zero, detractor - satisfaction[i]) / detractor
        e = e + wom_unresolved if (complaint_open[i] or grudge[i]) else e
        e *= trait_at(sociability, sociability_at, i)
        e = e if status[i] == ACTIVE else zero
        emit[i] = e
        speakers += np.int64(e != zero)
    return speakers


@njit
def _push(emit, indptr, indices, weights, heard):  # pragma: no cover - compiled
    """`heard` of every row, by pushing each speaker's word to their neighbours (then `_listeners`)."""
    zero = F32(0.0)
    heard[:] = zero
    for i in range(emit.size):
        e = emit[i]
        if e != zero:
            for j in range(indptr[i], indptr[i + 1]):
                r = indices[j]
                heard[r] += weights[r] * e


@njit
def _gather(status, for_potential, emit, indptr, indices, weights, heard):  # pragma: no cover - compiled
    """`heard` by gathering over each listener's ties (0 for rows that do not listen, as `_listeners`)."""
    zero = F32(0.0)
    for i in range(emit.size):
        s = status[i]
        listens = (s == ACTIVE) | ((s == POTENTIAL) & for_potential)
        heard[i] = neighbour_mean_at(indptr, indices, weights, emit, i) if listens else zero


@njit(simd=True)
def _listeners(status, for_potential, heard):  # pragma: no cover - compiled
    """Zero what is heard by rows that do not listen: the churned, and potential rows unless `for_potential`."""
    zero = F32(0.0)
    for i in range(status.size):
        s = status[i]
        listens = (s == ACTIVE) | ((s == POTENTIAL) & for_potential)
        heard[i] = heard[i] if listens else zero


@njit(simd=True)
def react(t, status, satisfaction, loyalty, relationship, lock, growth, purchase_rate, spend,
          price_sensitivity, price_sensitivity_at, base_churn, dropout, complaint_open, grudge, needs,
          needs_signal, last_purchase, frequency, monetary, purchases_total, revenue_total,
          churned_at, sociability, sociability_at, heard,
          purchases, revenue, churned, scores, promote, asked,
          b_purchase, b_dropout, b_churn, b_signal, s_pick,
          prm, spend_drop, pull_term, cover_keep, survey_rate, has_dropout, table
          ):  # pragma: no cover - compiled
    """What the customers active at the start do, in one vectorised pass.

    Word of mouth felt, loyalty, purchases, churn, CRM records, who is asked
    to take the survey (`asked`; `survey` records the answers of these few)
    and their likelihood to recommend. Straight-line code: every row is
    computed and only the rows concerned keep the result. A customer who buys more than
    COUNT_CAP times in the period (rare) is left untouched and marked purchases = −1,
    for the numpy step (`CustomerPopulation._react`) to finish.

    Returns the number of customers left so.
    """
    (wneg, rw, crowd, lspeed, ref_s, ps, cs, ref_l, cl, cu, lprot, crm_noise, _resp, _anger,
     shift) = prm
    one, zero = F32(1.0), F32(0.0)
    n_tail = 0
    for i in range(status.size):
        act = status[i] == ACTIVE
        sat0, loy0 = satisfaction[i], loyalty[i]
        sat = min(max(sat0 - heard[i] * wneg, zero), one)
        lt = min(max(relationship[i] * rw + sat - lock[i] * crowd, zero), one)
        loy = loy0 + (lt - loy0) * lspeed
        lam = exp32_at((sat - ref_s) * ps) * purchase_rate[i]
        k, tail = poisson_capped(lam, np.float64(uniform_at(b_purchase, i)))
        # BG/NBD: after each purchase the customer drops out with probability p; the
        # j-th purchase is the last if 1 − u ≥ (1 − p)^j (the inverse geometric CDF).
        q = 1.0 - min(max(np.float64(dropout[i]), 1e-9), 1.0)
        v = 1.0 - np.float64(uniform_at(b_dropout, i))
        qj = q
        until = np.int32(1)
        for _ in range(COUNT_CAP):  # until = the first j with v >= q^j (COUNT_CAP + 1 if none)
            until += np.int32(v < qj)
            qj *= q
        drop = has_dropout & (k > 0) & (until <= k)
        k = until if drop else k
        ok = act & (not tail)
        late = act & tail
        n_tail += np.int64(late)
        purchases[i] = k if ok else (np.int32(-1) if late else np.int32(0))
        satisfaction[i] = sat if ok else sat0
        loyalty[i] = loy if ok else loy0
        # Churn.
        x = (ref_s - sat) * cs + (ref_l - loy) * cl
        x = x + cu if (complaint_open[i] or grudge[i]) else x
        h = exp32_at(x) * base_churn[i]
        price = trait_at(price_sensitivity, price_sensitivity_at, i)
        h += (one - loy) * price * pull_term
        h *= one - lock[i] * lprot * cover_keep
        h = min(max(h, zero), one)
        c = ok & (drop | (uniform_at(b_churn, i) < h))
        churned[i] = c
        # What the CRM records.
        f = np.float64(frequency[i])
        kf = np.float64(k)
        frequency[i] = F32(f + (kf - f) * 0.1) if ok else frequency[i]
        buy = ok & (k > 0)
        sf = 1.0 - min(1.0, np.float64(spend_drop * price))
        r = F32(kf * np.float64(spend[i]) * np.float64(growth[i]) * sf)
        revenue[i] = r if buy else zero
        last_purchase[i] = t if buy else last_purchase[i]
        m = np.float64(monetary[i])
        monetary[i] = F32(m + 0.2 * (np.float64(r) / kf - m)) if buy else monetary[i]
        purchases_total[i] += k if buy else np.int32(0)
        rt = revenue_total[i]
        revenue_total[i] = rt + r if buy else rt
        sig = needs[i] + crm_noise * normal_at(b_signal, i, table)
        needs_signal[i] = sig if buy else needs_signal[i]
        # Likelihood to recommend, leaving or staying, promoting, surveys.
        rec = recommend_at(sat, loy, shift)
        score = np.round(rec)
        scores[i] = score if ok else zero
        status[i] = CHURNED if c else status[i]
        churned_at[i] = t if c else churned_at[i]
        complaint_open[i] = complaint_open[i] and not c
        stay = ok & (not c)
        promote[i] = trait_at(sociability, sociability_at, i) if stay & (score >= F32(9.0)) else zero
        asked[i] = stay & (uniform_at(s_pick, i) < survey_rate)
    return n_tail


@njit
def survey(t, ids, satisfaction, loyalty, survey_nps, survey_csat, survey_at, s_answer, s_nps, s_csat,
           resp, anger, shift, table):  # pragma: no cover - compiled
    """The answers of the customers `ids` whom `react` asked (after it updated their state)."""
    one, zero, ten = F32(1.0), F32(0.0), F32(10.0)
    for i in ids:
        sat = satisfaction[i]
        if uniform_at(s_answer, i) < resp * (one + anger * (one - sat)):
            rec = recommend_at(sat, loyalty[i], shift)
            # Whole numbers in range: exact as int8.
            survey_nps[i] = np.int8(min(max(np.round(rec + normal_at(s_nps, i, table)), zero), ten))
            csat = np.round(one + F32(4.0) * sat + F32(0.5) * normal_at(s_csat, i, table))
            survey_csat[i] = np.int8(min(max(csat, one), F32(5.0)))
            survey_at[i] = t


@njit
def adoption(status, indptr, indices, weights, promote, share_given, gather, heard, u_base,
             src_base, paid, referral_rate, deterrence, share_bound, won, referred
             ):  # pragma: no cover - compiled
    """Potential customers won by paid acquisition and referrals (promoters they hear from).

    With `gather` the share of promoters among each potential customer's
    neighbours is computed here from `promote`; otherwise it is `share_given`.
    `share_bound` is at least every share: a potential customer whose draw is
    at least the joining probability that share would give cannot join, so
    their share is not computed (most of them, as joining is rare; the result
    is the same as computing it). Returns the number won.
    """
    # Rounding margin on top of `share_bound`'s: the probability only grows with the share.
    p_upper = -math.expm1(-(paid + referral_rate * share_bound)) * (1.0 + 1e-9)
    n_won = 0
    for i in range(status.size):
        if status[i] != POTENTIAL:
            continue
        u = np.float64(uniform_at(u_base, i))
        if u >= p_upper:
            continue
        share = neighbour_mean_at(indptr, indices, weights, promote, i) if gather else share_given[i]
        referral = referral_rate * np.float64(share)
        pd = paid
        if deterrence > 0.0:
            deter = math.exp(-deterrence * np.float64(heard[i]))
            pd, referral = pd * deter, referral * deter
        rate = pd + referral
        if u < -math.expm1(-rate):
            won[i] = True
            n_won += 1
            referred[i] = np.float64(uniform_at(src_base, i)) * max(rate, 1e-12) < referral
    return n_won
