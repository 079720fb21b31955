"""The customer mechanisms, each one scalar rule in the words of the model.

Every rule is the equation of docs/model.md it names in brackets, for one
customer, in float32 (float64 where noted). The kernels of `sim.agents.kernels`
are loops that load a customer's columns, call these rules and store the
results; the oracle and the views call the same rules. Rules are compiled
inline into the loops that call them (`sim.jit.rule`), so a loop of rules
vectorises as the hand-written loop did; with `NUMBA_DISABLE_JIT=1` they run
as plain Python, for debugging.

Constants come from `Params` (`sim.agents.state`) by name: `p.loss_aversion`.
The order of every operation is part of the rule: the golden digests of the
built-in scenarios (tests/golden.py) pin it.
"""

from __future__ import annotations

import math

import numpy as np

from sim.jit import by_type, is_none, njit, rule
from sim.streams import exp32_at

F32 = np.float32
ONE, ZERO = F32(1.0), F32(0.0)


@rule
def clamp01(x):  # pragma: no cover - compiled
    """The value limited to [0, 1] (builtin min/max: they vectorise)."""
    return min(max(x, ZERO), ONE)


@rule
def towards(x, target, speed):  # pragma: no cover - compiled
    """Partial adjustment: x moves a share `speed` of the way to `target` [S2, R1, L3, G1]."""
    return x + (target - x) * speed


# --------------------------------------------------------------------------- experience


@rule
def drifted_needs(needs, centre, step, z, p):  # pragma: no cover - compiled
    """Needs wander around the segment's centre: an AR(1) process [N1].

    Needs move back toward the centre by `needs_pull` of the departure and a
    normal step of sd `step` is added, so the spread stays the segment's.
    """
    return needs + p.needs_pull * (centre - needs) + step * z


@rule
def nurture(service, p):  # pragma: no cover - compiled
    """How much of the full effect a period's service money buys, 0–1 (ADBUDG response) [Q1].

    x^c / (1 + x^c) with x the money in units of `service_scale` (half the effect)
    and c = `service_shape`: with c > 1 a token does little, returns rise and then
    diminish; with c = 1 they diminish from the first unit.
    """
    x = service / p.service_scale
    xc = x * x if p.service_shape == F32(2.0) else x ** p.service_shape
    return xc / (ONE + xc)


@rule
def service_lift(sensitivity, nurtured, fitted, p):  # pragma: no cover - compiled
    """Quality added by service attention: courtesy, and the offer adapted to the customer's own needs [Q2].

    Attention repairs up to `service_personalisation` of what the misfit costs, so
    it does most for customers the segment's offer fits badly.
    """
    repair = p.service_personalisation * p.fit_weight * (ONE - fitted)
    return sensitivity * nurtured * (p.service_effect + repair)


@rule
def fit(needs, offer, p):  # pragma: no cover - compiled
    """How well the offer meets the customer's needs, 0–1 [Q3]."""
    d = needs - offer
    return exp32_at(-(d * d / p.fit_den))


@rule
def perceived_quality(quality, lift, fitted, z, p):  # pragma: no cover - compiled
    """The product's quality this period plus service, less the misfit, plus noise [Q4]."""
    return lift + quality + (fitted - ONE) * p.fit_weight + p.perception_noise * z


@rule
def felt_gap(gap, p):  # pragma: no cover - compiled
    """Disconfirmation as felt: losses weigh `loss_aversion` times more than gains [S1]."""
    return gap * p.loss_aversion if gap < ZERO else gap


@rule
def satisfaction_target(expectation, gap, p):  # pragma: no cover - compiled
    """Where satisfaction heads: expectations against the market's quality, and felt disconfirmation [S1].

    Expectations adapt to what the firm delivers, so in the long run the level term
    compares the firm's quality with the competitors' (`reference_quality`).
    """
    x = ((expectation - p.reference_quality) * p.expectation_weight + p.satisfaction_base
         + felt_gap(gap, p) * p.disconfirmation_weight)
    return ONE / (ONE + exp32_at(-x))


@rule
def files_complaint(gap, unresolved, u, propensity, p):  # pragma: no cover - compiled
    """A disappointed customer without an open complaint or grudge complains, by chance [C1]."""
    return (gap < -p.complaint_threshold) & (not unresolved) & (u < p.complaint_probability * propensity)


@rule
def adapted_expectation(expectation, perceived, lift, promise_term, p):  # pragma: no cover - compiled
    """Expectations adapt to experience, less the service lift that keeps delighting, plus promises [E1]."""
    return expectation + ((perceived - lift * p.keep_lift - expectation) * p.expectation_adaptation
                          + promise_term)


@rule
def locked_in(lock, points, p):  # pragma: no cover - compiled
    """Lock-in decays and is bought with points, with diminishing returns [L1]."""
    return clamp01(lock * p.lock_keep + (ONE - exp32_at(-(points / p.points_scale))) * p.points_lock)


@rule
def grown(growth, growth_max, nurtured, p):  # pragma: no cover - compiled
    """A nurtured grower's spend multiplier moves toward its maximum [G1]."""
    return towards(growth, growth_max, nurtured * p.growth_speed)


# --------------------------------------------------------------------------- complaints handled


@rule
def recovered(satisfaction, waited, sincerity, p):  # pragma: no cover - compiled
    """Satisfaction after a complaint is handled: recovery fades with the wait (float64) [C2].

    A token reply (`sincerity` < 1) recovers only its share of a sincere answer's.
    """
    return F32(np.float64(satisfaction) + sincerity * p.complaint_recovery * math.exp(
        -p.complaint_recovery_decay * np.float64(waited)))


@rule
def grudge_kept(grudge, waited, p):  # pragma: no cover - compiled
    """A grudge fades `grudge_memory` periods after it formed; its periods count on (`waited`) [C4].

    Returns (grudge still held, periods counted).
    """
    ends = grudge & (waited >= p.grudge_end)
    counted = np.int16(0) if ends else (waited + np.int16(1) if grudge else waited)
    return grudge ^ ends, counted


# --------------------------------------------------------------------------- word of mouth


@rule
def negative_word(satisfaction, unresolved, answered, sociability, p):  # pragma: no cover - compiled
    """What a customer says against the firm: dissatisfaction, more with a complaint unresolved [W1].

    A complaint filed and `answered` within a period longer than a week was
    unresolved for its first week only: a week's share of the extra.
    """
    e = max(ZERO, p.detractor_threshold - satisfaction) / p.detractor_threshold
    e = e + p.wom_unresolved if unresolved else (e + p.wom_unresolved * p.week_share if answered else e)
    return e * sociability


@rule
def after_hearing(satisfaction, heard, p):  # pragma: no cover - compiled
    """Satisfaction lowered by the negative word of mouth heard [W2]."""
    return clamp01(satisfaction - heard * p.wom_negative)


# --------------------------------------------------------------------------- loyalty, purchases, churn


@rule
def loyalty_target(relationship, satisfaction, lock, p):  # pragma: no cover - compiled
    """Loyalty follows satisfaction and relationship; lock-in crowds it out [L2]."""
    return clamp01(relationship * p.relationship_weight + satisfaction - lock * p.lockin_crowding)


@rule
def purchase_rate(satisfaction, rate, p):  # pragma: no cover - compiled
    """Purchases per period: the dissatisfied buy less, the delighted a little more (asymmetric) [P1]."""
    d = satisfaction - p.reference_satisfaction
    return exp32_at(min(d, ZERO) * p.purchase_satisfaction + max(d, ZERO) * p.purchase_delight) * rate


#: Largest purchase count `poisson_capped` finds without branches (`kernels.react` finishes the rest).
COUNT_CAP = 5
#: A Poisson term this small ends the count.
TINY = 1e-12


@rule
def poisson_capped(lam, u):  # pragma: no cover - compiled
    """Poisson count by inversion of `u`, without branches, for counts up to COUNT_CAP [P2].

    p_0 = exp32(−λ), p_k = p_(k−1) · (λ / k) in float64, stopping once u ≤ the
    cumulative sum or a term ≤ TINY. Returns (k, tail): k = min(count,
    COUNT_CAP), tail is True when the count is larger (`poisson_from`).
    """
    lam64 = np.float64(lam)
    p = np.float64(exp32_at(-lam))
    cdf = p
    go = u > cdf
    k = np.int32(go)
    for j in range(1, COUNT_CAP + 1):  # unrolled by the compiler
        p *= lam64 / j
        cdf += p
        go = go & (u > cdf) & (p > TINY)
        k += np.int32(go) if j < COUNT_CAP else np.int32(0)
    return k, go


@njit
def poisson_count(lam, u):  # pragma: no cover - compiled
    """The whole Poisson count of `poisson_capped` (a loop: for the rare counts above COUNT_CAP) [P2]."""
    lam64 = np.float64(lam)
    p = np.float64(exp32_at(-lam))
    cdf = p
    k = np.int32(0)
    while u > cdf and (k == 0 or p > TINY):
        k += 1
        p *= lam64 / k
        cdf += p
    return k


@rule
def purchases_until_dropout(dropout, u, cap):  # pragma: no cover - compiled
    """BG/NBD: the purchase after which the customer drops out, the first j ≥ 1 with 1 − u ≥ (1 − p)^j [P3].

    Counted up to `cap` (returns cap + 1 when later).
    """
    q = 1.0 - min(max(np.float64(dropout), 1e-9), 1.0)
    v = 1.0 - np.float64(u)
    qj = q
    until = np.int32(1)
    for _ in range(cap):
        until += np.int32(v < qj)
        qj *= q
    return until


@rule
def weekly_switching(attraction, x):  # pragma: no cover - compiled
    """The chance to switch in a week: the competitors' attraction scaled by exp(x) [H1]."""
    return min(attraction * exp32_at(x), ONE)


@rule
def compounded_switching(attraction, x, upset, weeks_upset, weeks, per_week):  # pragma: no cover - compiled
    """The chance to switch in a period of `weeks` weeks: the weekly chance compounded [H1].

    For `weeks_upset` of the weeks the customer waits on a complaint (`upset`: the
    log-ratio then), for the others not (`x`).
    """
    weekly = ONE - (ONE - min(attraction, ONE)) ** per_week
    calm = (ONE - min(weekly * exp32_at(x), ONE)) ** (weeks - weeks_upset)
    waiting = (ONE - min(weekly * exp32_at(upset), ONE)) ** weeks_upset
    return ONE - calm * waiting


def period_switching(attraction, x, upset, unresolved, answered, weeks, per_week):
    """The chance to switch in a period: weekly, or compounded over `weeks` weeks [H1].

    `x` is the log-ratio of switching without a complaint waiting, `upset` with one.
    A complaint `unresolved` all period weighs all its weeks; one filed and
    `answered` within a longer period weighs its first week (by weeks it is
    answered the week after it is filed; a weekly period has no such case).

    A weekly model has `weeks` None (`make_params` leaves it out). Compiled, the
    choice is made by the type of `weeks` when a kernel is compiled
    (`_period_switching`), so a weekly kernel carries no trace of the compounding
    (two powers per customer, a tenth of the step's time).
    """
    if weeks is None:
        return weekly_switching(attraction, upset if unresolved else x)
    return compounded_switching(attraction, x, upset, weeks_waiting(unresolved, answered, weeks), weeks,
                                per_week)


@rule
def weeks_waiting(unresolved, answered, weeks):  # pragma: no cover - compiled
    """Weeks of a longer period a customer waits on a complaint: all, the first, or none [H1, C2]."""
    return weeks if unresolved else (ONE if answered else ZERO)


@by_type(period_switching)
def _period_switching(attraction, x, upset, unresolved, answered, weeks,
                      per_week):  # pragma: no cover - compiled
    """`period_switching` compiled for the type of `weeks`."""
    if is_none(weeks):
        return lambda attraction, x, upset, unresolved, answered, weeks, per_week: weekly_switching(
            attraction, upset if unresolved else x)
    return lambda attraction, x, upset, unresolved, answered, weeks, per_week: compounded_switching(
        attraction, x, upset, weeks_waiting(unresolved, answered, weeks), weeks, per_week)


@rule
def churn_hazard(satisfaction, loyalty, unresolved, answered, base, price, switching, lock, pull_term,
                 cover_keep, p):  # pragma: no cover - compiled
    """Probability of leaving this period: life events, or switching to a competitor [H1].

    `base` (θ) is the customer's exogenous churn, which no management changes.
    Switching starts from the competitors' attraction (a baseline plus their pull,
    felt by the price-sensitive), scaled by the segment's own propensity to switch
    (`switching`, 1 by default), and rises as satisfaction and loyalty fall and
    while a complaint is unresolved; lock-in holds back a share of it, unless a
    competitor buys it out (`cover_keep` is what stays locked).

    A period longer than a week (`weeks` w > 1) is its w weeks at this state: the
    attraction per period is taken back to a week, the weekly chance to switch
    compounded over the period, so the dissatisfied, whose weekly chance is high,
    do not leave more than every week would take them.
    """
    x = (p.reference_satisfaction - satisfaction) * p.churn_satisfaction + (
        p.reference_loyalty - loyalty) * p.churn_loyalty
    upset = x + p.churn_unresolved
    attraction = (p.switching_base + price * pull_term) * switching
    chance = period_switching(attraction, x, upset, unresolved, answered, p.weeks, p.per_week)
    chance = chance * (ONE - lock * p.lock_protection * cover_keep)
    return clamp01(base + (ONE - base) * chance)


@rule
def revenue(count, spend, growth, spend_drop, price):  # pragma: no cover - compiled
    """Money from `count` purchases, less what a recession takes from the price-sensitive [P4]."""
    kept = 1.0 - min(1.0, np.float64(spend_drop * price))
    return F32(np.float64(count) * np.float64(spend) * np.float64(growth) * kept)


@rule
def smoothed_frequency(frequency, count, p):  # pragma: no cover - compiled
    """The CRM's purchase frequency: exponentially smoothed counts (float64) [D1].

    By `crm_smoothing` a period: 0.1 a week, compounded over a longer period.
    """
    f = np.float64(frequency)
    return F32(f + (np.float64(count) - f) * p.crm_smoothing)


@rule
def smoothed_monetary(monetary, money, count):  # pragma: no cover - compiled
    """The CRM's spend per purchase: exponentially smoothed (float64) [D1]."""
    m = np.float64(monetary)
    return F32(m + 0.2 * (np.float64(money) / np.float64(count) - m))


@rule
def revealed_needs(needs, z, p):  # pragma: no cover - compiled
    """Needs as a purchase reveals them to the CRM, with noise [D1]."""
    return needs + p.crm_noise * z


# --------------------------------------------------------------------------- recommendation, surveys


@rule
def recommend(satisfaction, loyalty, advocacy, p):  # pragma: no cover - compiled
    """True likelihood to recommend, 0–10, unrounded: satisfaction, loyalty and the customer's own bent [V1]."""
    return min(max((satisfaction * F32(0.5) + loyalty * F32(0.5) + p.recommend_shift + advocacy) * F32(10.0),
                   ZERO), F32(10.0))


@rule
def answers_survey(satisfaction, u, p):  # pragma: no cover - compiled
    """An asked customer answers, the angrier the likelier [V2]."""
    return u < p.survey_response * (ONE + p.survey_anger_bias * (ONE - satisfaction))


@rule
def nps_answer(recommendation, z):  # pragma: no cover - compiled
    """The 0–10 answer: likelihood to recommend with noise, rounded [V2]."""
    return np.int8(min(max(np.round(recommendation + z), ZERO), F32(10.0)))


@rule
def csat_answer(satisfaction, z):  # pragma: no cover - compiled
    """The 1–5 satisfaction answer, with noise, rounded [V2]."""
    return np.int8(min(max(np.round(ONE + F32(4.0) * satisfaction + F32(0.5) * z), ONE), F32(5.0)))


# --------------------------------------------------------------------------- acquisition


@rule
def joining_probability(paid, referral_rate, share, deterrence, heard):  # pragma: no cover - compiled
    """A potential customer's chance to join: paid acquisition plus referrals, deterred by bad word [A1].

    In float64: `paid` is the acquisition hazard, `share` the promoters' share of
    their ties, `heard` the negative word of mouth they hear.
    """
    referral = referral_rate * np.float64(share)
    pd = paid
    if deterrence > 0.0:
        deter = math.exp(-deterrence * np.float64(heard))
        pd, referral = pd * deter, referral * deter
    return -math.expm1(-(pd + referral)), pd + referral, referral


# --------------------------------------------------------------------------- newcomers


@rule
def steady_satisfaction(expectation, p):  # pragma: no cover - compiled
    """Satisfaction at rest, expectation met (no disconfirmation): where customers start [S1, J1]."""
    return satisfaction_target(expectation, ZERO, p)
