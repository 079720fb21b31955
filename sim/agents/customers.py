"""Customers: agents whose state is held column-wise and stepped in bulk.

Every person of the market — current customers and the potential customers a
firm may still win — is a row of numpy columns. One period applies each
mechanism of DOMAIN.md to all rows at once (docs/model.md gives the equations).
`Customer` is a read/write view of one row, for notebooks and tests.

Random numbers come from the model's `customers`, `surveys` and `acquisition`
streams; each mechanism draws a fixed-size array every period, whatever the
manager does, so policies compared in one replication see identical random
numbers (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.allocation import Allocation
from sim.market import MarketState
from sim.network import SocialNetwork, build_network
from sim.scenario import NeedsShift, Scenario, Segment

POTENTIAL, ACTIVE, CHURNED = 0, 1, 2
F32 = np.float32

#: Columns shown by `Customer` views and `CustomerPopulation.to_frame`.
PUBLIC_COLUMNS = (
    "status", "segment", "joined", "churned_at", "spend", "purchase_rate", "base_churn",
    "dropout", "growth", "growth_max", "price_sensitivity", "complaint_propensity",
    "sociability", "service_sensitivity", "likability", "cost_to_serve", "needs", "expectation",
    "satisfaction", "loyalty", "lock", "relationship", "complaint_open", "complaint_age",
    "grudge", "complaints_total", "consent", "last_purchase", "frequency", "monetary",
    "purchases_total", "revenue_total", "survey_nps", "survey_csat", "survey_at", "needs_signal",
    "service_total",
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(F32)


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    """`_sigmoid` in place (float32 `x`)."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    return np.divide(1.0, x, out=x)


def _beta(rng: np.random.Generator, mean: float, conc: float | None, n: int) -> np.ndarray:
    if conc is None or mean <= 0 or mean >= 1:
        return np.full(n, mean, dtype=F32)
    return rng.beta(mean * conc, (1 - mean) * conc, size=n).astype(F32)


def _gamma(rng: np.random.Generator, mean: float, shape: float | None, n: int) -> np.ndarray:
    if shape is None or mean <= 0:
        return np.full(n, mean, dtype=F32)
    return rng.gamma(shape, mean / shape, size=n).astype(F32)


def weekly_to_period(value: float, weeks: float, kind: str) -> float:
    """Convert a weekly default to a period of `weeks` weeks.

    Args:
        value: The weekly value.
        weeks: Weeks per period.
        kind: "rate" (counts scale linearly) or "prob" (probabilities compound).

    Returns:
        The per-period value.
    """
    if weeks == 1.0:
        return value
    if kind == "rate":
        return value * weeks
    return 1.0 - (1.0 - value) ** weeks


_SEGMENT_RATES = {"purchase_rate": "rate", "churn": "prob", "cost_to_serve": "rate"}


def segment_value(seg: Segment, name: str, weeks: float, written: bool = True) -> float:
    """A segment parameter per period: weekly defaults are converted, values written kept.

    Args:
        seg: The segment.
        name: The parameter.
        weeks: Weeks per period.
        written: Whether the segment was written in the scenario file (the built-in
            default segments are not: all their rates are weekly defaults).
    """
    value = getattr(seg, name)
    if name in _SEGMENT_RATES and (not written or name not in seg.model_fields_set):
        return weekly_to_period(value, weeks, _SEGMENT_RATES[name])
    return value


@dataclass
class PeriodOutcome:
    """What happened to the customers in one period (input to the metrics).

    Attributes:
        active_start: Mask of customers active at the start of the period.
        purchases: Purchases per customer.
        revenue: Revenue per customer.
        churned: Mask of customers lost this period.
        acquired: Mask of customers won this period.
        referred: Mask of customers won this period through referrals.
        complaints_new: Mask of complaints filed this period.
        complaints_resolved: Number of complaints handled this period.
        complaints_abandoned: Number of complaints that turned into grudges.
        hazard: Churn probability per customer this period.
        serve_cost: Cost to serve per customer.
        recommend: Rounded true likelihood to recommend at the end of the period
            (None: not computed).
    """

    active_start: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
    churned: np.ndarray
    acquired: np.ndarray
    referred: np.ndarray
    complaints_new: np.ndarray
    complaints_resolved: int
    complaints_abandoned: int
    hazard: np.ndarray
    serve_cost: np.ndarray
    recommend: np.ndarray | None = None


class CustomerPopulation:
    """All customers and potential customers of the market, as columns.

    Args:
        scenario: The scenario.
        init_rng: Stream for traits.
        network_rng: Stream for the social network.
    """

    def __init__(self, scenario: Scenario, init_rng: np.random.Generator,
                 network_rng: np.random.Generator) -> None:
        pop, beh = scenario.population, scenario.population.behaviour
        self.behaviour = beh
        self.quality = scenario.market.quality
        self.acq_cost = scenario.market.acquisition_cost
        self.crm_noise = scenario.market.crm_noise
        weeks = scenario.per_period
        self.weeks = weeks
        size = pop.size
        n = size + round(size * pop.potential)
        self.n, self.initial_size = n, size
        self.segment_names = tuple(s.name for s in pop.segments)
        shares = np.array([s.share for s in pop.segments])
        # Initial customers and the potential pool are each split by share exactly.
        seg = np.concatenate([self._split(size, shares, init_rng),
                              self._split(n - size, shares, init_rng)])
        self.segment = seg.astype(np.int16)
        self.status = np.zeros(n, dtype=np.int8)
        self.status[:size] = ACTIVE
        self.joined = np.full(n, -1, dtype=np.int32)
        self.joined[:size] = 0
        self.churned_at = np.full(n, -1, dtype=np.int32)
        cols: dict[str, np.ndarray] = {k: np.empty(n, dtype=F32) for k in (
            "spend", "purchase_rate", "base_churn", "dropout", "growth_max", "price_sensitivity",
            "complaint_propensity", "sociability", "service_sensitivity", "likability",
            "cost_to_serve", "needs", "satisfaction", "loyalty")}
        grower = np.zeros(n, dtype=bool)
        written = "segments" in pop.model_fields_set
        for k, s in enumerate(pop.segments):
            idx = np.flatnonzero(seg == k)
            m = idx.size
            cols["spend"][idx] = _gamma(init_rng, s.spend, s.spend_shape, m)
            cols["purchase_rate"][idx] = _gamma(
                init_rng, segment_value(s, "purchase_rate", weeks, written), s.purchase_shape, m)
            cols["base_churn"][idx] = _beta(
                init_rng, segment_value(s, "churn", weeks, written), s.churn_concentration, m)
            cols["dropout"][idx] = _beta(init_rng, s.dropout_per_purchase,
                                         s.dropout_concentration, m)
            grower[idx] = init_rng.random(m) < s.growth_potential
            cols["growth_max"][idx] = s.growth_max
            cols["price_sensitivity"][idx] = s.price_sensitivity
            cols["complaint_propensity"][idx] = s.complaint_propensity
            cols["sociability"][idx] = s.sociability
            cols["service_sensitivity"][idx] = s.service_sensitivity
            cols["likability"][idx] = s.likability + init_rng.standard_normal(m)
            cols["cost_to_serve"][idx] = segment_value(s, "cost_to_serve", weeks, written)
            cols["needs"][idx] = s.needs + s.needs_spread * init_rng.standard_normal(m)
            s0 = self._steady_satisfaction(np.float32(self.quality))
            sat = s0 if s.satisfaction is None else s.satisfaction
            cols["satisfaction"][idx] = sat
            cols["loyalty"][idx] = sat if s.loyalty is None else s.loyalty
        for k, v in cols.items():
            setattr(self, k, v)
        self.growth_max = np.where(grower, self.growth_max, 1.0).astype(F32)
        self.growth = np.ones(n, dtype=F32)
        self.expectation = np.full(n, self.quality, dtype=F32)
        self.lock = np.zeros(n, dtype=F32)
        self.relationship = np.zeros(n, dtype=F32)
        self.complaint_open = np.zeros(n, dtype=bool)
        self.complaint_age = np.zeros(n, dtype=np.int16)
        self.grudge = np.zeros(n, dtype=bool)
        self.complaints_total = np.zeros(n, dtype=np.int16)
        self.consent = np.ones(n, dtype=bool)
        consent_draw = init_rng.random(n).astype(F32)
        # Kept only if a data-protection regulation will need it (memory).
        regulated = any(ev.kind == "regulation" for ev in scenario.market.events)
        self.consent_draw = consent_draw if regulated else None
        # What the firm's CRM records (the manager's only window on customers).
        self.last_purchase = np.where(self.status == ACTIVE, 0, -1).astype(np.int32)
        self.frequency = np.where(self.status == ACTIVE, self.purchase_rate, 0).astype(F32)
        self.monetary = np.where(self.status == ACTIVE, self.spend, 0).astype(F32)
        self.purchases_total = np.zeros(n, dtype=np.int32)
        self.revenue_total = np.zeros(n, dtype=F32)
        self.survey_nps = np.full(n, np.nan, dtype=F32)
        self.survey_csat = np.full(n, np.nan, dtype=F32)
        self.survey_at = np.full(n, -1, dtype=np.int32)
        self.needs_signal = self.needs.copy()
        self.service_total = np.zeros(n, dtype=F32)
        self.has_dropout = bool((self.dropout > 0).any())
        nw = pop.network
        self.network: SocialNetwork = build_network(nw.kind, n, nw.degree, nw.rewire, network_rng)
        self.pool_size = max(n - size, 1)

    @staticmethod
    def _split(m: int, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        counts = np.floor(shares * m).astype(int)
        rest = m - counts.sum()
        if rest:
            frac = shares * m - counts
            counts[np.argsort(-frac, kind="stable")[:rest]] += 1
        seg = np.repeat(np.arange(len(shares)), counts)
        return rng.permutation(seg)

    # ------------------------------------------------------------------ equations

    def _steady_satisfaction(self, expectation: np.ndarray) -> np.ndarray:
        """Satisfaction at rest: expectation met, no disconfirmation."""
        b = self.behaviour
        return _sigmoid(b.satisfaction_base + b.expectation_weight * (expectation - self.quality))

    def recommend(self, rows: np.ndarray | None = None) -> np.ndarray:
        """True likelihood to recommend, 0–10 (promoters 9–10, detractors 0–6).

        Args:
            rows: Only these customers (indices); default all.
        """
        sat, loy = (self.satisfaction, self.loyalty) if rows is None else (
            self.satisfaction[rows], self.loyalty[rows])
        x = sat * F32(0.5)
        x += loy * F32(0.5)
        x += self.behaviour.recommend_shift
        x *= 10.0
        return np.clip(x, 0.0, 10.0, out=x)

    def hazard(self, pull: float = 0.0, cover: float = 0.0) -> np.ndarray:
        """Churn probability per customer for one period (0 for inactive rows).

        Args:
            pull: Competitor pull.
            cover: Share of lock-in bought out by a competitor's promotion.

        Returns:
            Float32 array in [0, 1].
        """
        return self._hazard(pull, cover, self.status == ACTIVE,
                            self.complaint_open | self.grudge)

    def _hazard(self, pull: float, cover: float, active: np.ndarray,
                unresolved: np.ndarray) -> np.ndarray:
        """`hazard` given the masks of active customers and unresolved complaints."""
        b = self.behaviour
        h = np.subtract(b.reference_satisfaction, self.satisfaction)
        h *= b.churn_satisfaction
        tmp = np.subtract(b.reference_loyalty, self.loyalty)
        tmp *= b.churn_loyalty
        h += tmp
        np.multiply(unresolved, F32(b.churn_unresolved), out=tmp)
        h += tmp
        np.exp(h, out=h)
        h *= self.base_churn
        if pull != 0.0:  # otherwise the term is an exact zero
            np.subtract(1.0, self.loyalty, out=tmp)
            tmp *= self.price_sensitivity * (b.competitor_churn * pull)
            h += tmp
        if self.lock.any():  # no lock-in: the factor is exactly 1
            np.multiply(self.lock, b.lock_protection, out=tmp)
            tmp *= 1.0 - cover
            np.subtract(1.0, tmp, out=tmp)
            h *= tmp
        np.clip(h, 0.0, 1.0, out=h)
        h[~active] = 0.0
        return h

    def service_lift(self, service: np.ndarray) -> np.ndarray:
        """Perceived-quality lift from service money (saturating)."""
        return self._lift(self._nurture(service))

    def _nurture(self, service: np.ndarray) -> np.ndarray:
        """Saturating response to service money, in [0, 1)."""
        x = np.divide(service, F32(-self.behaviour.service_scale), dtype=F32)
        np.expm1(x, out=x)
        return np.negative(x, out=x)

    def _lift(self, nurture: np.ndarray) -> np.ndarray:
        """`service_lift` from the nurture of the service money."""
        lift = self.service_sensitivity * F32(self.behaviour.service_effect)
        lift *= nurture
        return lift

    def fit(self, offer: np.ndarray) -> np.ndarray:
        """Fit of the offer to each customer's current needs, in (0, 1]."""
        d = self.needs - offer[self.segment]
        d *= d
        d /= F32(-(2 * self.behaviour.fit_width ** 2))
        return np.exp(d, out=d)

    # ------------------------------------------------------------------ events

    def shift_needs(self, ev: NeedsShift, rng: np.random.Generator) -> None:
        """Move customers' needs at once (a market-wide needs shift)."""
        noise = rng.standard_normal(self.n).astype(F32)
        mask = np.ones(self.n, dtype=bool)
        if ev.segments is not None:
            ids = [self.segment_names.index(s) for s in ev.segments if s in self.segment_names]
            mask = np.isin(self.segment, ids)
        self.needs += np.where(mask, ev.size + ev.spread * noise, 0).astype(F32)

    def apply_consent(self, share: float) -> None:
        """Data-protection rules: only consenting customers' data may be used."""
        if self.consent_draw is None:
            raise RuntimeError("the scenario has no regulation event: consent draws were not kept")
        self.consent = self.consent_draw < share

    # ------------------------------------------------------------------ one period

    def step(self, t: int, alloc: Allocation, market: MarketState,
             rng: np.random.Generator, survey_rng: np.random.Generator,
             acquisition_rng: np.random.Generator, survey_rate: float) -> PeriodOutcome:
        """Advance every customer by one period.

        Customers experience the firm's service and offer, compare it with what
        they expected, complain, talk, grow, churn and buy; then surveys run and
        new customers join. See docs/model.md for each equation.

        Args:
            t: The period (0-based).
            alloc: What the firm gives customers this period.
            market: The market this period.
            rng: The customers' stream.
            survey_rng: The surveys' stream.
            acquisition_rng: The acquisition stream.
            survey_rate: Share of active customers surveyed.

        Returns:
            What happened, for the metrics.
        """
        # Arithmetic is in place on float32 buffers; where the equations mix counts
        # and floats it stays in float64 as written, so results do not depend on
        # this layout. Work on index subsets (buyers, complainers, the surveyed)
        # is elementwise the same as on the full arrays.
        b, n = self.behaviour, self.n
        active = self.status == ACTIVE
        act = active.astype(F32)
        # Fixed-size draws, in a fixed order: common random numbers across policies.
        z_needs = rng.standard_normal(n, dtype=F32)
        z_quality = rng.standard_normal(n, dtype=F32)
        u_complain = rng.random(n, dtype=F32)
        u_churn = rng.random(n, dtype=F32)
        u_purchase = rng.random(n, dtype=F32)
        z_signal = rng.standard_normal(n, dtype=F32)
        u_dropout = rng.random(n, dtype=F32) if self.has_dropout else None

        # Needs drift; perceived quality from product, service and fit.
        z_needs *= b.needs_drift
        self.needs += z_needs
        nurture = self._nurture(alloc.service)
        lift = self._lift(nurture)
        perceived = lift + self.quality
        fit = self.fit(alloc.offer)
        fit -= 1.0
        fit *= b.fit_weight
        perceived += fit
        z_quality *= b.perception_noise
        perceived += z_quality

        # Expectation–disconfirmation with loss aversion.
        gap = perceived - self.expectation
        felt = fit  # reuse the buffer
        np.copyto(felt, gap)
        np.multiply(felt, b.loss_aversion, out=felt, where=gap < 0)
        target = np.subtract(self.expectation, self.quality)
        target *= b.expectation_weight
        target += b.satisfaction_base
        felt *= b.disconfirmation_weight
        target += felt
        _sigmoid_(target)
        target -= self.satisfaction
        target *= b.satisfaction_speed
        self.satisfaction += target

        # Complaints: filed when strongly disappointed; handled in priority order.
        new_c = gap < -b.complaint_threshold
        new_c &= active
        new_c &= ~(self.complaint_open | self.grudge)
        cand = np.flatnonzero(new_c)
        new_c[cand] = u_complain[cand] < b.complaint_probability * self.complaint_propensity[cand]
        filed = cand[new_c[cand]]
        resolved, abandoned = self._handle_complaints(alloc)
        self.complaint_open[filed] = True
        self.complaints_total[filed] += 1

        # Negative word of mouth: the dissatisfied and unresolved talk.
        unresolved = self.complaint_open | self.grudge
        emit = np.subtract(b.detractor_threshold, self.satisfaction)
        np.maximum(0.0, emit, out=emit)
        emit /= b.detractor_threshold
        tmp = np.multiply(unresolved, F32(b.wom_unresolved))
        emit += tmp
        np.multiply(act, self.sociability, out=tmp)
        emit *= tmp
        heard = self.network.neighbour_mean(emit)
        np.multiply(heard, b.wom_negative, out=tmp)
        self.satisfaction -= tmp
        np.clip(self.satisfaction, 0.0, 1.0, out=self.satisfaction)

        # Relationship, lock-in, loyalty, growth.
        np.subtract(nurture, self.relationship, out=tmp)
        tmp *= 0.1
        self.relationship += tmp
        self.lock *= 1.0 - b.lock_decay
        if alloc.points.any():  # no points: the increment is exactly zero
            np.divide(alloc.points, F32(-b.points_scale), out=tmp)
            np.expm1(tmp, out=tmp)
            tmp *= -b.points_lock
            self.lock += tmp
        np.clip(self.lock, 0.0, 1.0, out=self.lock)
        loyal_target = np.multiply(self.relationship, b.relationship_weight)
        loyal_target += self.satisfaction
        np.multiply(self.lock, b.lockin_crowding, out=tmp)
        loyal_target -= tmp
        np.clip(loyal_target, 0.0, 1.0, out=loyal_target)
        loyal_target -= self.loyalty
        loyal_target *= b.loyalty_speed
        self.loyalty += loyal_target
        np.subtract(self.growth_max, self.growth, out=tmp)
        nurture *= b.growth_speed
        tmp *= nurture
        self.growth += tmp

        # Purchases (Poisson, faster when satisfied) and spend.
        lam = loyal_target  # reuse the buffer
        np.subtract(self.satisfaction, b.reference_satisfaction, out=lam)
        lam *= b.purchase_satisfaction
        np.exp(lam, out=lam)
        lam *= self.purchase_rate
        lam *= act
        purchases = self._poisson(lam, u_purchase)
        buyers = np.flatnonzero(purchases)
        drop_after = np.zeros(n, dtype=bool)
        if u_dropout is not None:
            # BG/NBD: after each purchase the customer drops out with probability p.
            p = np.clip(self.dropout[buyers], 1e-9, 1.0)
            until = np.ceil(np.log1p(-u_dropout[buyers]) / np.log1p(-p))  # geometric, >= 1
            drops = until <= purchases[buyers]
            drop_after[buyers[drops]] = True
            purchases[buyers[drops]] = until[drops]
            buyers = buyers[purchases[buyers] > 0]
        bought_n = purchases[buyers]
        spend_factor = 1.0 - np.minimum(1.0, market.spend_drop * self.price_sensitivity[buyers])
        revenue = np.zeros(n, dtype=F32)
        revenue[buyers] = bought_n * self.spend[buyers] * self.growth[buyers] * spend_factor

        # Churn.
        h = self._hazard(market.pull, market.switching_cover, active, unresolved)
        churned = u_churn < h
        churned |= drop_after
        churned &= active
        serve_cost = np.multiply(self.cost_to_serve, act)

        # CRM records what it can see of purchases.
        self.last_purchase[buyers] = t
        step = np.subtract(purchases, self.frequency, dtype=np.float64)
        step *= 0.1
        step *= act
        self.frequency += step
        mon = self.monetary[buyers].astype(np.float64)
        self.monetary[buyers] = mon + 0.2 * (revenue[buyers] / bought_n - mon)
        self.purchases_total[buyers] += bought_n
        self.revenue_total[buyers] += revenue[buyers]
        self.needs_signal[buyers] = self.needs[buyers] + self.crm_noise * z_signal[buyers]
        self.service_total += alloc.service

        # Expectations adapt to experience (only partly to service) and are raised by promises.
        lift *= 1.0 - b.service_adaptation
        adapted = perceived
        adapted -= lift
        adapted -= self.expectation
        adapted *= b.expectation_adaptation
        adapted += b.promise_effect * (alloc.promise - b.honest_promise)
        adapted *= act
        self.expectation += adapted

        lost = np.flatnonzero(churned)
        self.status[lost] = CHURNED
        self.churned_at[lost] = t
        self.complaint_open[lost] = False
        self._survey(t, survey_rate, survey_rng)
        acquired, referred, scores = self._acquire(t, alloc, acquisition_rng, heard)
        return PeriodOutcome(
            active_start=active, purchases=purchases, revenue=revenue, churned=churned,
            acquired=acquired, referred=referred, complaints_new=new_c,
            complaints_resolved=resolved, complaints_abandoned=abandoned, hazard=h,
            serve_cost=serve_cost, recommend=scores,
        )

    @staticmethod
    def _poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Poisson counts by inversion of one uniform each (exact, vectorised).

        The cumulative probabilities are summed in float64; only the customers
        whose count is still undecided are carried to the next term.
        """
        k = np.zeros(lam.shape, dtype=np.int32)
        p0 = np.exp(-lam)
        idx = np.flatnonzero(u > p0)  # float32 compare: exact, like comparing in float64
        p = p0[idx].astype(np.float64)
        cdf = p.copy()
        lam, u = lam[idx], u[idx]
        j = 0
        while idx.size:
            j += 1
            p *= lam / j
            cdf += p
            k[idx] = j
            go = (u > cdf) & (p > 1e-12)
            idx, p, cdf, lam, u = idx[go], p[go], cdf[go], lam[go], u[go]
        return k

    def _handle_complaints(self, alloc: Allocation) -> tuple[int, int]:
        b = self.behaviour
        open_ids = np.flatnonzero(self.complaint_open)
        resolved = 0
        if open_ids.size and alloc.complaint_capacity > 0:
            if alloc.complaint_priority is None:
                key = self.complaint_age[open_ids].astype(np.float64)
            else:
                key = np.nan_to_num(alloc.complaint_priority[open_ids].astype(np.float64),
                                    nan=-np.inf)
            # Ties broken by id so the order is deterministic.
            order = np.lexsort((open_ids, -key))
            done = open_ids[order[: alloc.complaint_capacity]]
            self.satisfaction[done] += b.complaint_recovery * np.exp(
                -b.complaint_recovery_decay * self.complaint_age[done])
            self.complaint_open[done] = False
            self.complaint_age[done] = 0
            resolved = done.size
            open_ids = np.setdiff1d(open_ids, done, assume_unique=True)
        waiting = open_ids
        self.complaint_age[waiting] += 1
        self.satisfaction[waiting] -= b.complaint_wait_penalty
        give_up = waiting[self.complaint_age[waiting] >= b.complaint_give_up]
        self.grudge[give_up] = True
        self.complaint_open[give_up] = False
        return resolved, int(give_up.size)

    def _survey(self, t: int, rate: float, rng: np.random.Generator) -> None:
        b, n = self.behaviour, self.n
        u_pick = rng.random(n, dtype=F32)
        u_answer = rng.random(n, dtype=F32)
        z1 = rng.standard_normal(n, dtype=F32)
        z2 = rng.standard_normal(n, dtype=F32)
        picked = np.flatnonzero(u_pick < rate)
        picked = picked[self.status[picked] == ACTIVE]
        sat = self.satisfaction[picked]
        answer_p = b.survey_response * (1 + b.survey_anger_bias * (1 - sat))
        ans = picked[u_answer[picked] < answer_p]
        if not ans.size:
            return
        self.survey_nps[ans] = np.clip(np.round(self.recommend(ans) + z1[ans]), 0, 10)
        self.survey_csat[ans] = np.clip(
            np.round(1 + 4 * self.satisfaction[ans] + 0.5 * z2[ans]), 1, 5)
        self.survey_at[ans] = t

    def _acquire(self, t: int, alloc: Allocation, rng: np.random.Generator,
                 heard: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New customers won by marketing and referrals.

        Returns:
            Masks of the customers won and of those won by referral, and every
            customer's rounded likelihood to recommend at the end of the period.
        """
        b = self.behaviour
        u_adopt = rng.random(self.n, dtype=F32)
        u_source = rng.random(self.n, dtype=F32)
        scores = self.recommend()
        np.round(scores, out=scores)
        promoters = scores >= 9
        promoters &= self.status == ACTIVE
        share = self.network.neighbour_mean(np.multiply(promoters, self.sociability))
        pot = np.flatnonzero(self.status == POTENTIAL)
        boost = float(np.exp(1.5 * (alloc.promise - b.honest_promise)))
        paid = alloc.acquisition * boost / (self.acq_cost * self.pool_size)
        referral = b.referral_rate * share[pot]
        if b.wom_deterrence > 0:
            # Negative word of mouth heard by potential customers deters them (brand image).
            deter = np.exp(-b.wom_deterrence * heard[pot])
            paid, referral = paid * deter, referral * deter
        rate = paid + referral
        won = u_adopt[pot] < -np.expm1(-rate)
        adopt = np.zeros(self.n, dtype=bool)
        referred = np.zeros(self.n, dtype=bool)
        new = pot[won]
        adopt[new] = True
        referred[new] = u_source[new] * np.maximum(rate[won], 1e-12) < referral[won]
        if new.size:
            self.status[new] = ACTIVE
            self.joined[new] = t + 1
            # Newcomers expect what marketing promised them.
            exp0 = self.quality + b.promise_effect / max(b.expectation_adaptation, 1e-6) * (
                alloc.promise - b.honest_promise)
            self.expectation[new] = exp0
            s0 = self._steady_satisfaction(np.float32(exp0))
            self.satisfaction[new] = s0
            self.loyalty[new] = 0.5 * s0
            self.last_purchase[new] = t
            self.frequency[new] = self.purchase_rate[new]
            self.monetary[new] = self.spend[new]
            scores[new] = np.round(self.recommend(new))
        return adopt, referred, scores

    # ------------------------------------------------------------------ views

    @property
    def active(self) -> np.ndarray:
        """Mask of active customers."""
        return self.status == ACTIVE

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Customer:
        if not -self.n <= i < self.n:
            raise IndexError(f"customer {i} out of range (0..{self.n - 1})")
        return Customer(self, int(i) % self.n)

    def to_frame(self, active_only: bool = True) -> pd.DataFrame:
        """All customers as a DataFrame, one row each (a copy).

        Args:
            active_only: Only the active customers.
        """
        df = pd.DataFrame({c: getattr(self, c) for c in PUBLIC_COLUMNS})
        df.insert(2, "segment_name", pd.Categorical.from_codes(
            self.segment.astype(int), categories=list(self.segment_names)))
        df.index.name = "customer"
        return df[df.status == ACTIVE] if active_only else df


class Customer:
    """A view of one customer: reading or setting an attribute reads or sets its column.

    Example:
        >>> c = model.customers[17]
        >>> c.satisfaction, c.segment_name
    """

    __slots__ = ("_pop", "id")

    def __init__(self, pop: CustomerPopulation, i: int) -> None:
        object.__setattr__(self, "_pop", pop)
        object.__setattr__(self, "id", i)

    def __getattr__(self, name: str) -> Any:
        if name == "segment_name":
            return self._pop.segment_names[int(self._pop.segment[self.id])]
        if name in PUBLIC_COLUMNS:
            v = getattr(self._pop, name)[self.id]
            return v.item() if hasattr(v, "item") else v
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in PUBLIC_COLUMNS:
            raise AttributeError(f"customers have no column {name!r}")
        getattr(self._pop, name)[self.id] = value

    def as_dict(self) -> dict[str, Any]:
        """All columns of this customer."""
        d = {c: getattr(self, c) for c in PUBLIC_COLUMNS}
        d["segment_name"] = self.segment_name
        return d

    def __repr__(self) -> str:
        status = ("potential", "active", "churned")[self.status]
        return (f"Customer({self.id}, {self.segment_name}, {status}, "
                f"satisfaction={self.satisfaction:.2f}, loyalty={self.loyalty:.2f}, "
                f"lock={self.lock:.2f})")
