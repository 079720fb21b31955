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
from sim.streams import normal_at, uniform_at

POTENTIAL, ACTIVE, CHURNED = 0, 1, 2
F32 = np.float32


@njit
def experience(status, segment, needs, service, points, offer, sens, expectation, satisfaction,
               relationship, lock, growth, growth_max, service_total, complaint_open, grudge,
               propensity, filed, b_needs, b_quality, b_complain, prm, neg_scale, neg_pscale,
               neg_fit_den, promise_term, table):  # pragma: no cover - compiled
    """Needs drift; what active customers experience and how they respond to it.

    Perceived quality, disconfirmation, satisfaction, complaints filed,
    expectations, relationship, lock-in and growth.

    Returns the number of complaints filed.
    """
    (drift, quality, eff, fitw, noise, la, ew, base, dw, speed, cthr, cprob, keep_lift, ea,
     lock_keep, plock, gspeed) = prm
    one, zero = F32(1.0), F32(0.0)
    n_filed = 0
    for i in range(status.size):
        s = status[i]
        if s == CHURNED:
            continue
        needs[i] += drift * normal_at(b_needs, i, table)
        if s != ACTIVE:
            continue
        sv = service[i]
        # No service: the nurture is exactly 0 (most customers, most periods).
        nurture = F32(-math.expm1(np.float64(sv) / neg_scale)) if sv != zero else zero
        lift = sens[i] * eff * nurture
        d = needs[i] - offer[segment[i]]
        fit = F32(math.exp(np.float64(d * d) / neg_fit_den))
        perceived = lift + quality + (fit - one) * fitw + noise * normal_at(b_quality, i, table)
        exp_i = expectation[i]
        gap = perceived - exp_i
        felt = gap * la if gap < zero else gap
        x = (exp_i - quality) * ew + base + felt * dw
        target = F32(1.0 / (1.0 + math.exp(-np.float64(x))))
        sat = satisfaction[i]
        satisfaction[i] = sat + (target - sat) * speed
        if gap < -cthr and not (complaint_open[i] or grudge[i]):
            if uniform_at(b_complain, i) < cprob * propensity[i]:
                filed[i] = True
                n_filed += 1
        expectation[i] = exp_i + ((perceived - lift * keep_lift - exp_i) * ea + promise_term)
        rel = relationship[i]
        relationship[i] = rel + (nurture - rel) * F32(0.1)
        lk = lock[i] * lock_keep
        pt = points[i]
        if pt != zero:
            lk += F32(-math.expm1(np.float64(pt) / neg_pscale)) * plock
        lock[i] = min(max(lk, zero), one)
        g = growth[i]
        growth[i] = g + (growth_max[i] - g) * (nurture * gspeed)
        service_total[i] += sv
    return n_filed


@njit
def poisson(lam, u):  # pragma: no cover - compiled
    """Poisson count by inversion of the uniform `u`, summed in float64.

    The same terms as `customers._poisson` (p_k = p_(k-1) · (λ / k), the sum
    stops once u ≤ the cumulative sum or a term ≤ 1e-12). The first three terms
    are computed without branches (counts above 3 are rare), which spares the
    processor the mispredicted jumps of a data-dependent loop.
    """
    tiny = 1e-12
    p0 = math.exp(-lam)
    p1 = p0 * (lam / 1)
    p2 = p1 * (lam / 2)
    p3 = p2 * (lam / 3)
    c1 = p0 + p1
    c2 = c1 + p2
    c3 = c2 + p3
    s1 = u > p0
    s2 = s1 & (u > c1) & (p1 > tiny)
    s3 = s2 & (u > c2) & (p2 > tiny)
    k = np.int64(s1) + np.int64(s2) + np.int64(s3)
    if s3 and u > c3 and p3 > tiny:
        p, cdf, k = p3, c3, 3
        while u > cdf:
            k += 1
            p *= lam / k
            cdf += p
            if p <= tiny:
                break
    return k


@njit
def neighbour_mean_at(indptr, indices, weights, values, i):  # pragma: no cover - compiled
    """Mean of `values` over node i's neighbours: the float32 sum of weight × value, in order."""
    acc = F32(0.0)
    w = weights[i]
    for j in range(indptr[i], indptr[i + 1]):
        acc += w * values[indices[j]]
    return acc


@njit
def word_of_mouth(status, satisfaction, complaint_open, grudge, sociability, indptr, indices,
                  weights, emit, heard, gather, for_potential, detractor, wom_unresolved
                  ):  # pragma: no cover - compiled
    """What each active customer says (negative word of mouth) and what each person hears.

    With `gather` (a small-world network in CSR form), `heard` is computed for
    active rows, and for potential rows if `for_potential`; otherwise only
    `emit` is filled and the caller averages it over the network.
    """
    zero = F32(0.0)
    for i in range(status.size):
        if status[i] == ACTIVE:
            e = max(zero, detractor - satisfaction[i]) / detractor
            if complaint_open[i] or grudge[i]:
                e += wom_unresolved
            emit[i] = e * sociability[i]
        else:
            emit[i] = zero
    if not gather:
        return
    for i in range(status.size):
        s = status[i]
        if s == ACTIVE or (s == POTENTIAL and for_potential):
            heard[i] = neighbour_mean_at(indptr, indices, weights, emit, i)
        else:
            heard[i] = zero


@njit
def react(t, status, satisfaction, loyalty, relationship, lock, growth, purchase_rate, spend,
          price_sensitivity, base_churn, dropout, cost_to_serve, complaint_open, grudge, needs,
          needs_signal, last_purchase, frequency, monetary, purchases_total, revenue_total,
          churned_at, sociability, survey_nps, survey_csat, survey_at, heard,
          purchases, revenue, churned, hazard, serve_cost, scores, promote,
          b_purchase, b_dropout, b_churn, b_signal, s_pick, s_answer, s_nps, s_csat,
          prm, spend_drop, pull_term, cover_keep, survey_rate, has_dropout, table
          ):  # pragma: no cover - compiled
    """What the customers active at the start do.

    Word of mouth felt, loyalty, purchases, churn, CRM records, surveys and
    their likelihood to recommend.
    """
    (wneg, rw, crowd, lspeed, ref_s, ps, cs, ref_l, cl, cu, lprot, crm_noise, resp, anger,
     shift) = prm
    one, zero, ten = F32(1.0), F32(0.0), F32(10.0)
    for i in range(status.size):
        if status[i] != ACTIVE:
            continue
        sat = min(max(satisfaction[i] - heard[i] * wneg, zero), one)
        satisfaction[i] = sat
        lk = lock[i]
        lt = min(max(relationship[i] * rw + sat - lk * crowd, zero), one)
        loy = loyalty[i] + (lt - loyalty[i]) * lspeed
        loyalty[i] = loy
        lam = F32(math.exp(np.float64((sat - ref_s) * ps))) * purchase_rate[i]
        k = poisson(np.float64(lam), np.float64(uniform_at(b_purchase, i)))
        drop = False
        if has_dropout and k > 0:
            # BG/NBD: after each purchase the customer drops out with probability p.
            pd = min(max(np.float64(dropout[i]), 1e-9), 1.0)
            ud = np.float64(uniform_at(b_dropout, i))
            until = math.ceil(math.log1p(-ud) / math.log1p(-pd))
            if until <= k:
                drop, k = True, int(until)
        purchases[i] = k
        unresolved = complaint_open[i] or grudge[i]
        x = (ref_s - sat) * cs + (ref_l - loy) * cl
        if unresolved:
            x += cu
        h = F32(math.exp(np.float64(x))) * base_churn[i]
        h += (one - loy) * price_sensitivity[i] * pull_term
        h *= one - lk * lprot * cover_keep
        h = min(max(h, zero), one)
        hazard[i] = h
        c = drop or uniform_at(b_churn, i) < h
        churned[i] = c
        serve_cost[i] = cost_to_serve[i]
        f = np.float64(frequency[i])
        frequency[i] = F32(f + (np.float64(k) - f) * 0.1)
        if k > 0:
            sf = 1.0 - min(1.0, np.float64(spend_drop * price_sensitivity[i]))
            r = F32(np.float64(k) * np.float64(spend[i]) * np.float64(growth[i]) * sf)
            revenue[i] = r
            last_purchase[i] = t
            m = np.float64(monetary[i])
            monetary[i] = F32(m + 0.2 * (np.float64(r) / k - m))
            purchases_total[i] += k
            revenue_total[i] += r
            needs_signal[i] = needs[i] + crm_noise * normal_at(b_signal, i, table)
        rec = min(max((sat * F32(0.5) + loy * F32(0.5) + shift) * ten, zero), ten)
        score = np.round(rec)
        scores[i] = score
        if c:
            status[i] = CHURNED
            churned_at[i] = t
            complaint_open[i] = False
            continue
        promote[i] = sociability[i] if score >= F32(9.0) else zero
        if uniform_at(s_pick, i) < survey_rate:
            answer = resp * (one + anger * (one - sat))
            if uniform_at(s_answer, i) < answer:
                survey_nps[i] = min(max(np.round(rec + normal_at(s_nps, i, table)), zero), ten)
                survey_csat[i] = min(max(np.round(one + F32(4.0) * sat
                                                  + F32(0.5) * normal_at(s_csat, i, table)),
                                         one), F32(5.0))
                survey_at[i] = t


@njit
def adoption(status, indptr, indices, weights, promote, share_given, gather, heard, u_base,
             src_base, paid, referral_rate, deterrence, won, referred):  # pragma: no cover - compiled
    """Potential customers won by paid acquisition and referrals (promoters they hear from).

    With `gather` the share of promoters among each potential customer's
    neighbours is computed here from `promote`; otherwise it is `share_given`.
    Returns the number won.
    """
    n_won = 0
    for i in range(status.size):
        if status[i] != POTENTIAL:
            continue
        share = neighbour_mean_at(indptr, indices, weights, promote, i) if gather else share_given[i]
        referral = referral_rate * np.float64(share)
        pd = paid
        if deterrence > 0.0:
            deter = math.exp(-deterrence * np.float64(heard[i]))
            pd, referral = pd * deter, referral * deter
        rate = pd + referral
        if np.float64(uniform_at(u_base, i)) < -math.expm1(-rate):
            won[i] = True
            n_won += 1
            referred[i] = np.float64(uniform_at(src_base, i)) * max(rate, 1e-12) < referral
    return n_won
