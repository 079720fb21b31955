"""The passes of the customer step: loops that load a customer, apply the rules, store.

Each kernel is one pass over the rows of the market (`c`, the `State` of
`sim.agents.state`), calling the rules of `sim.agents.rules`, which hold the
equations. Loops compute every row and keep the result only where it applies
(selects, not branches), so they vectorise (`sim.jit`). Random numbers come
from `sim.streams` (counter-based): a customer's draw does not depend on which
other customers are drawn for.

`Period` carries what a pass needs of the period: its counter bases (one per
mechanism), the market's terms and the manager's promise.

What keeps a loop vectorised when it reads columns by name (`c.satisfaction[i]`
from the named tuple `c`): numba counts references to an array taken from a
tuple, and a count it cannot cancel within one block of code is a call in the
loop, which then stays scalar (about five times slower). So inside a loop no
column is read in only one arm of a choice: load first, then choose between
values (`x = c.needs[i]; c.needs[i] = new if live else x`); combine conditions
with `|` and `&` (which do not branch), never `or` and `and`; compute a
value, then choose it (the arms of a choice hold values, not work); and unpack
a segment trait's pair before the loop, not with `*` inside it. A function that
indexes columns for a row (`_react_row`) is a plain `njit` function, which
LLVM inlines: numba's own inlining (`rule`) of such a function leaves the loop
scalar, so `rule` is kept for the scalar rules.
tests/test_jit.py checks that the passes compile to vector code.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sim.agents.rules import (
    COUNT_CAP,
    adapted_expectation,
    after_hearing,
    answers_survey,
    churn_hazard,
    csat_answer,
    drifted_needs,
    files_complaint,
    fit,
    grown,
    grudge_kept,
    joining_probability,
    locked_in,
    loyalty_target,
    negative_word,
    nps_answer,
    nurture,
    perceived_quality,
    poisson_capped,
    poisson_count,
    purchase_rate,
    purchases_until_dropout,
    recommend,
    recovered,
    revealed_needs,
    revenue,
    satisfaction_target,
    service_lift,
    smoothed_frequency,
    smoothed_monetary,
    steady_satisfaction,
    towards,
)
from sim.agents.state import ACTIVE, CHURNED, POTENTIAL
from sim.jit import njit, rule
from sim.streams import normal_at, uniform_at

F32 = np.float32
ZERO32 = F32(0.0)

#: The period as the passes see it: counter bases per mechanism (`sim.streams.period_base`),
#: the market's terms and the manager's promise.
Period = namedtuple("Period", [
    "t", "needs", "perception", "complain", "purchase", "dropout", "churn", "signal",
    "survey_pick", "survey_answer", "survey_nps", "survey_csat", "adopt", "source",
    "quality", "promise_term", "spend_drop", "pull_term", "cover_keep", "survey_rate", "has_dropout"])
#: The market's terms of a period as the customers feel them (`CustomerPopulation.terms`).
Terms = namedtuple("Terms", ["quality", "spend_drop", "pull_term", "cover_keep"])
#: What `react` writes per row for the metrics and the next passes.
Reaction = namedtuple("Reaction", ["purchases", "revenue", "churned", "scores", "promote", "asked"])


@njit
def trait_at(values, index, i):  # pragma: no cover - compiled
    """Row i's value of a segment trait: `values` per segment and `index` the segments, or a column and None.

    numba prunes the branch on an argument that is None when it compiles, so
    each kind is its own straight-line load.
    """
    if index is None:
        return values[i]
    return values[index[i]]


@njit(simd=True)
def experience(c, tr, service, points, offer, centre, step, filed, per, p,
               table):  # pragma: no cover - compiled
    """Needs drift; what active customers experience and how they respond: [N1]–[G1] of docs/model.md.

    Returns the number of complaints filed (`filed` marks who).
    """
    n_filed = 0
    sens, sens_at = tr.service_sensitivity  # unpacked before the loop (see the module's docstring)
    prop, prop_at = tr.complaint_propensity
    for i in range(c.status.size):
        s = c.status[i]
        act = s == ACTIVE
        needs = c.needs[i]
        k = c.segment[i]
        nd = drifted_needs(needs, centre[k], step[k], normal_at(per.needs, i, table), p)
        c.needs[i] = nd if s != CHURNED else needs
        nurtured = nurture(service[i], p)
        fitted = fit(nd, offer[c.segment[i]], p)
        lift = service_lift(trait_at(sens, sens_at, i), nurtured, fitted, p)
        perceived = perceived_quality(per.quality, lift, fitted, normal_at(per.perception, i, table), p)
        expected = c.expectation[i]
        gap = perceived - expected
        sat = c.satisfaction[i]
        target = satisfaction_target(expected, gap, p)
        c.satisfaction[i] = towards(sat, target, p.satisfaction_speed) if act else sat
        f = act & files_complaint(gap, c.complaint_open[i] | c.grudge[i], uniform_at(per.complain, i),
                                  trait_at(prop, prop_at, i), p)
        filed[i] = f
        n_filed += np.int64(f)
        grudge, waited = c.grudge[i], c.complaint_age[i]
        kept, counted = grudge_kept(grudge, waited, p)
        c.grudge[i] = kept if act else grudge
        c.complaint_age[i] = counted if act else waited
        e = adapted_expectation(expected, perceived, lift, per.promise_term, p)
        c.expectation[i] = e if act else expected
        rel = c.relationship[i]
        c.relationship[i] = towards(rel, nurtured, p.relationship_speed) if act else rel
        lk = c.lock[i]
        c.lock[i] = locked_in(lk, points[i], p) if act else lk
        g = c.growth[i]
        c.growth[i] = grown(g, c.growth_max[i], nurtured, p) if act else g
        st = c.service_total[i]
        c.service_total[i] = st + service[i] if act else st
    return n_filed


@njit
def handle_complaints(c, open_ids, handled, sincerity, p):  # pragma: no cover - compiled
    """The open complaints `open_ids`: those `handled` recover [C2]; the others wait, and give up [C3].

    `sincerity` is the share of a sincere answer's recovery the handling gives (1: sincere).

    Returns the number that became grudges.
    """
    gave_up = 0
    for j in range(open_ids.size):
        i = open_ids[j]
        if handled[j]:
            c.satisfaction[i] = recovered(c.satisfaction[i], c.complaint_age[i], sincerity, p)
            c.complaint_open[i] = False
            c.complaint_age[i] = 0
        else:
            c.complaint_age[i] += 1
            c.satisfaction[i] -= p.complaint_wait_penalty
            if c.complaint_age[i] >= p.complaint_give_up:
                c.grudge[i] = True
                c.complaint_open[i] = False
                gave_up += 1
    return gave_up


@njit(simd=True)
def speak(c, tr, filed, emit, p):  # pragma: no cover - compiled
    """What each active customer says against the firm [W1] (0 for everyone else); returns how many speak.

    `filed` marks this period's complaints (answered within it if no longer open).
    """
    speakers = 0
    soc, soc_at = tr.sociability
    for i in range(c.status.size):
        unresolved = c.complaint_open[i] | c.grudge[i]
        answered = filed[i] & (not unresolved)
        e = negative_word(c.satisfaction[i], unresolved, answered, trait_at(soc, soc_at, i), p)
        e = e if c.status[i] == ACTIVE else F32(0.0)
        emit[i] = e
        speakers += np.int64(e != F32(0.0))
    return speakers


def word_of_mouth(c, tr, indptr, indices, weights, filed, emit, heard, gather, for_potential, p):
    """What each active customer says (`emit`) and what each person hears (`heard`) [W1, W2].

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
    speakers = speak(c, tr, filed, emit, p)
    if not gather:
        return
    if speakers * 4 < emit.size:
        _push(emit, indptr, indices, weights, heard)
        _listeners(c.status, for_potential, heard)
    else:
        _gather(c.status, for_potential, emit, indptr, indices, weights, heard)


@njit
def neighbour_mean_at(indptr, indices, weights, values, i):  # pragma: no cover - compiled
    """Mean of `values` over node i's neighbours: the float32 sum of weight × value, in order."""
    acc = F32(0.0)
    w = weights[i]
    for j in range(indptr[i], indptr[i + 1]):
        acc += w * values[indices[j]]
    return acc


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


@rule
def _listens(s, for_potential):  # pragma: no cover - compiled
    """Who hears word of mouth: the active, and potential customers if it deters them."""
    return (s == ACTIVE) | ((s == POTENTIAL) & for_potential)


@njit
def _gather(status, for_potential, emit, indptr, indices, weights, heard):  # pragma: no cover - compiled
    """`heard` by gathering over each listener's ties (0 for rows that do not listen, as `_listeners`)."""
    for i in range(emit.size):
        listens = _listens(status[i], for_potential)
        heard[i] = neighbour_mean_at(indptr, indices, weights, emit, i) if listens else F32(0.0)


@njit(simd=True)
def _listeners(status, for_potential, heard):  # pragma: no cover - compiled
    """Zero what is heard by rows that do not listen: the churned, and potential rows unless `for_potential`."""
    for i in range(status.size):
        heard[i] = heard[i] if _listens(status[i], for_potential) else F32(0.0)


@njit
def _react_row(i, ok, none_count, k, until, c, prices, prices_at, sw, sw_at, soc, soc_at, heard, filed, o, per,
               p, table):  # pragma: no cover - compiled
    """Row i's reaction given its purchase count `k` and drop-out point `until` (stored where `ok`).

    Word of mouth felt [W2], loyalty [L2, L3], purchases and drop-out [P2, P3],
    churn [H1], what the CRM records [P4, D1], likelihood to recommend [V1],
    promoters and who is asked to take the survey [V2].
    """
    zero = F32(0.0)
    sat0, loy0 = c.satisfaction[i], c.loyalty[i]
    sat = after_hearing(sat0, heard[i], p)
    loy = towards(loy0, loyalty_target(c.relationship[i], sat, c.lock[i], p), p.loyalty_speed)
    drop = per.has_dropout & (k > 0) & (until <= k)
    k = until if drop else k
    o.purchases[i] = k if ok else none_count
    c.satisfaction[i] = sat if ok else sat0
    c.loyalty[i] = loy if ok else loy0
    price, switching = trait_at(prices, prices_at, i), trait_at(sw, sw_at, i)
    unresolved = c.complaint_open[i] | c.grudge[i]
    answered = filed[i] & (not unresolved)  # filed and answered within the period (longer periods only)
    h = churn_hazard(sat, loy, unresolved, answered, c.base_churn[i], price, switching, c.lock[i],
                     per.pull_term, per.cover_keep, p)
    gone = ok & (drop | (uniform_at(per.churn, i) < h))
    o.churned[i] = gone
    freq = c.frequency[i]
    smoothed = smoothed_frequency(freq, k, p)
    c.frequency[i] = smoothed if ok else freq
    buy = ok & (k > 0)
    r = revenue(k, c.spend[i], c.growth[i], per.spend_drop, price)
    o.revenue[i] = r if buy else zero
    last = c.last_purchase[i]
    c.last_purchase[i] = per.t if buy else last
    mon = c.monetary[i]
    smoothed_m = smoothed_monetary(mon, r, k)
    c.monetary[i] = smoothed_m if buy else mon
    c.purchases_total[i] += k if buy else np.int32(0)
    rt = c.revenue_total[i]
    c.revenue_total[i] = rt + r if buy else rt
    sig0 = c.needs_signal[i]
    sig = revealed_needs(c.needs[i], normal_at(per.signal, i, table), p)
    c.needs_signal[i] = sig if buy else sig0
    score = np.round(recommend(sat, loy, c.advocacy[i], p))
    o.scores[i] = score if ok else zero
    status, churned_at = c.status[i], c.churned_at[i]
    c.status[i] = CHURNED if gone else status
    c.churned_at[i] = per.t if gone else churned_at
    c.complaint_open[i] = c.complaint_open[i] & (not gone)
    stay = ok & (not gone)
    sociability = trait_at(soc, soc_at, i)
    o.promote[i] = sociability if stay & (score >= F32(9.0)) else zero
    o.asked[i] = stay & (uniform_at(per.survey_pick, i) < per.survey_rate)


@njit(simd=True)
def react(c, tr, heard, filed, o, per, p, table):  # pragma: no cover - compiled
    """What the customers active at the start do, in one vectorised pass (`_react_row`).

    A customer who buys more than COUNT_CAP times in the period (rare) is left
    untouched and marked purchases = −1 for `react_rest`. Returns how many.
    """
    n_rest = 0
    price, price_at = tr.price_sensitivity
    sw, sw_at = tr.switching
    soc, soc_at = tr.sociability
    for i in range(c.status.size):
        act = c.status[i] == ACTIVE
        lam = purchase_rate(after_hearing(c.satisfaction[i], heard[i], p), c.purchase_rate[i], p)
        k, more = poisson_capped(lam, np.float64(uniform_at(per.purchase, i)))
        until = purchases_until_dropout(c.dropout[i], uniform_at(per.dropout, i), COUNT_CAP)
        late = act & more
        n_rest += np.int64(late)
        none_count = np.int32(-1) if late else np.int32(0)  # -1 marks the customers left for react_rest
        _react_row(i, act & (not more), none_count, k, until, c, price, price_at, sw, sw_at, soc, soc_at, heard,
                   filed, o, per, p, table)
    return n_rest


@njit
def react_rest(ids, c, tr, heard, filed, o, per, p, table):  # pragma: no cover - compiled
    """`react` for the customers `ids` it left (more than COUNT_CAP purchases): whole counts."""
    price, price_at = tr.price_sensitivity
    sw, sw_at = tr.switching
    soc, soc_at = tr.sociability
    for i in ids:
        lam = purchase_rate(after_hearing(c.satisfaction[i], heard[i], p), c.purchase_rate[i], p)
        k = poisson_count(lam, np.float64(uniform_at(per.purchase, i)))
        until = purchases_until_dropout(c.dropout[i], uniform_at(per.dropout, i), k)
        _react_row(i, True, np.int32(0), k, until, c, price, price_at, sw, sw_at, soc, soc_at, heard, filed, o,
                   per, p, table)


@njit
def survey(ids, c, per, p, table):  # pragma: no cover - compiled
    """The answers of the customers `ids` whom `react` asked (after it updated their state) [V2]."""
    for i in ids:
        sat = c.satisfaction[i]
        if answers_survey(sat, uniform_at(per.survey_answer, i), p):
            rec = recommend(sat, c.loyalty[i], c.advocacy[i], p)
            c.survey_nps[i] = nps_answer(rec, normal_at(per.survey_nps, i, table))
            c.survey_csat[i] = csat_answer(sat, normal_at(per.survey_csat, i, table))
            c.survey_at[i] = per.t


@njit
def adoption(status, indptr, indices, weights, promote, share_given, gather, heard, per, paid, p, share_bound,
             won, referred):  # pragma: no cover - compiled
    """Potential customers won by paid acquisition and referrals (promoters they hear from) [A1].

    With `gather` the share of promoters among each potential customer's
    neighbours is computed here from `promote`; otherwise it is `share_given`.
    `share_bound` is at least every share: a potential customer whose draw is
    at least the joining probability that share would give cannot join, so
    their share is not computed (most of them, as joining is rare; the result
    is the same as computing it). Returns the number won.
    """
    # Rounding margin on top of `share_bound`'s: the probability only grows with the share.
    p_upper = joining_probability(paid, p.referral_rate, share_bound, 0.0, F32(0.0))[0] * (1.0 + 1e-9)
    n_won = 0
    for i in range(status.size):
        if status[i] != POTENTIAL:
            continue
        u = np.float64(uniform_at(per.adopt, i))
        if u >= p_upper:
            continue
        share = neighbour_mean_at(indptr, indices, weights, promote, i) if gather else share_given[i]
        prob, rate, referral = joining_probability(paid, p.referral_rate, share, p.wom_deterrence, heard[i])
        if u < prob:
            won[i] = True
            n_won += 1
            referred[i] = np.float64(uniform_at(per.source, i)) * max(rate, 1e-12) < referral
    return n_won


@njit
def hazards(c, tr, pull_term, cover_keep, p, out):  # pragma: no cover - compiled
    """Each active customer's churn hazard at the current state [H1] (0 for the other rows)."""
    price, price_at = tr.price_sensitivity
    sw, sw_at = tr.switching
    for i in range(c.status.size):
        h = churn_hazard(c.satisfaction[i], c.loyalty[i], c.complaint_open[i] | c.grudge[i], False,
                         c.base_churn[i], trait_at(price, price_at, i), trait_at(sw, sw_at, i), c.lock[i],
                         pull_term, cover_keep, p)
        out[i] = h if c.status[i] == ACTIVE else F32(0.0)


@njit
def recommendations(c, rows, p, out):  # pragma: no cover - compiled
    """True likelihood to recommend [V1] of the customers `rows`."""
    for j in range(rows.size):
        i = rows[j]
        out[j] = recommend(c.satisfaction[i], c.loyalty[i], c.advocacy[i], p)


@njit
def at_rest(ids, needs, segment, offer, quality, promised, expectation, satisfaction, loyalty,
            p):  # pragma: no cover - compiled
    """Customers `ids` start at rest: they expect what they perceive, plus what was promised [J1].

    Expectation = the product's quality less their misfit with the offer
    (`perceived_quality` without service or noise) + `promised`; satisfaction is
    where it heads when that expectation is met [S1]; loyalty starts at it.
    """
    for j in range(ids.size):
        i = ids[j]
        e = perceived_quality(quality, ZERO32, fit(needs[i], offer[segment[i]], p), ZERO32, p) + promised
        expectation[i] = e
        s = steady_satisfaction(e, p)
        satisfaction[i] = s
        loyalty[i] = s


@njit
def _remaining(h, periods_left):  # pragma: no cover - compiled
    """Expected periods a customer with constant hazard `h` stays, within the periods left (float64)."""
    h = max(np.float64(h), 1e-9)
    return (1.0 - h) * (1.0 - (1.0 - h) ** periods_left) / h


@njit
def opportunities(c, tr, offer, per, p, margin, periods_left, worth, b_service, b_points,
                  b_complaint):  # pragma: no cover - compiled
    """What a period of full service, full points or handling the complaint is worth for each customer.

    The oracle's yardstick, from the same rules the customers follow, at their
    true state: `worth` is the customer's expected margin over the periods left
    at their present hazard; `b_service` the profit a period of full service
    attention adds (hazard lowered by the satisfaction it brings, which lasts as
    satisfaction relaxes, and by the loyalty that follows it; purchases raised;
    growth it buys for good);
    `b_points` that of full points (lock-in gained, as it decays, against the
    loyalty it crowds out); `b_complaint` that of handling an open complaint now
    (satisfaction recovered, the unresolved complaint's hazard ended, for the
    periods it would still wait before turning into a grudge). All float64;
    0 for customers not active.
    """
    sens, sens_at = tr.service_sensitivity
    prices, prices_at = tr.price_sensitivity
    sws, sws_at = tr.switching
    costs, costs_at = tr.cost_to_serve
    for i in range(c.status.size):
        worth[i] = b_service[i] = b_points[i] = b_complaint[i] = 0.0
        if c.status[i] != ACTIVE:
            continue
        sat, loy, lock = c.satisfaction[i], c.loyalty[i], c.lock[i]
        price, sw = trait_at(prices, prices_at, i), trait_at(sws, sws_at, i)
        unresolved = c.complaint_open[i] | c.grudge[i]
        h0 = churn_hazard(sat, loy, unresolved, False, c.base_churn[i], price, sw, lock, per.pull_term,
                          per.cover_keep, p)
        rate0 = purchase_rate(sat, c.purchase_rate[i], p)
        per_purchase = revenue(1, c.spend[i], c.growth[i], per.spend_drop, price) * margin
        stay = _remaining(h0, periods_left)
        worth[i] = (np.float64(rate0) * per_purchase - np.float64(trait_at(costs, costs_at, i))) * stay
        # Service: the satisfaction a period of full attention adds, integrated as it relaxes (ΔS*).
        expected = c.expectation[i]
        fitted = fit(c.needs[i], offer[c.segment[i]], p)
        gap = perceived_quality(per.quality, F32(0.0), fitted, F32(0.0), p) - expected
        lift = service_lift(trait_at(sens, sens_at, i), F32(1.0), fitted, p)
        gain = satisfaction_target(expected, gap + lift, p) - satisfaction_target(expected, gap, p)
        sat1 = min(sat + gain, F32(1.0))
        # Loyalty follows satisfaction (slowly, for as long): the pulse lowers the hazard through both.
        loy1 = min(loy + gain, F32(1.0))
        h1 = churn_hazard(sat1, loy1, unresolved, False, c.base_churn[i], price, sw, lock, per.pull_term,
                          per.cover_keep, p)
        rate1 = purchase_rate(sat1, c.purchase_rate[i], p)
        grows = np.float64(p.growth_speed) * np.float64(c.growth_max[i] - c.growth[i])
        b_service[i] = (np.float64(h0 - h1) * worth[i] + np.float64(rate1 - rate0) * per_purchase
                        + grows * np.float64(rate0) * per_purchase / max(np.float64(c.growth[i]), 1e-9) * stay)
        # Points: lock-in bought, for as long as it lasts, less the loyalty it crowds out meanwhile.
        lasts = 1.0 / max(1.0 - np.float64(p.lock_keep), 1e-3)
        lock1 = min(lock + p.points_lock, F32(1.0))
        h_locked = churn_hazard(sat, loy, unresolved, False, c.base_churn[i], price, sw, lock1, per.pull_term,
                                per.cover_keep, p)
        crowded = min(p.lockin_crowding * (lock1 - lock) * p.loyalty_speed * F32(lasts), loy)
        h_crowded = churn_hazard(sat, loy - crowded, unresolved, False, c.base_churn[i], price, sw, lock,
                                 per.pull_term, per.cover_keep, p)
        b_points[i] = (np.float64(h0 - h_locked) - np.float64(h_crowded - h0)) * worth[i] * lasts
        # A complaint handled now rather than left to wait until it turns into a grudge.
        if c.complaint_open[i]:
            sat_r = recovered(sat, c.complaint_age[i], 1.0, p)
            h_r = churn_hazard(min(sat_r, F32(1.0)), loy, c.grudge[i], False, c.base_churn[i], price, sw, lock,
                               per.pull_term, per.cover_keep, p)
            waits = max(np.float64(p.complaint_give_up - c.complaint_age[i]), 1.0)
            b_complaint[i] = np.float64(h0 - h_r) * worth[i] * waits
