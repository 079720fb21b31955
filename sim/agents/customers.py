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
        self.consent_draw = init_rng.random(n).astype(F32)
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
        self.last_service = np.zeros(n, dtype=F32)
        self.last_points = np.zeros(n, dtype=F32)
        self.last_perceived = np.full(n, self.quality, dtype=F32)
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

    def recommend(self) -> np.ndarray:
        """True likelihood to recommend, 0–10 (promoters 9–10, detractors 0–6)."""
        x = 0.5 * self.satisfaction + 0.5 * self.loyalty + self.behaviour.recommend_shift
        return np.clip(10.0 * x, 0.0, 10.0).astype(F32)

    def hazard(self, pull: float = 0.0, cover: float = 0.0) -> np.ndarray:
        """Churn probability per customer for one period (0 for inactive rows).

        Args:
            pull: Competitor pull.
            cover: Share of lock-in bought out by a competitor's promotion.

        Returns:
            Float32 array in [0, 1].
        """
        b = self.behaviour
        unresolved = (self.complaint_open | self.grudge).astype(F32)
        log_ratio = (b.churn_satisfaction * (b.reference_satisfaction - self.satisfaction)
                     + b.churn_loyalty * (b.reference_loyalty - self.loyalty)
                     + b.churn_unresolved * unresolved)
        h = self.base_churn * np.exp(log_ratio)
        h += b.competitor_churn * pull * self.price_sensitivity * (1.0 - self.loyalty)
        h *= 1.0 - b.lock_protection * self.lock * (1.0 - cover)
        h = np.clip(h, 0.0, 1.0).astype(F32)
        h[self.status != ACTIVE] = 0.0
        return h

    def service_lift(self, service: np.ndarray) -> np.ndarray:
        """Perceived-quality lift from service money (saturating)."""
        b = self.behaviour
        return (b.service_effect * self.service_sensitivity
                * -np.expm1(-service / b.service_scale)).astype(F32)

    def fit(self, offer: np.ndarray) -> np.ndarray:
        """Fit of the offer to each customer's current needs, in (0, 1]."""
        d = self.needs - offer[self.segment]
        return np.exp(-(d * d) / (2 * self.behaviour.fit_width ** 2)).astype(F32)

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
        self.needs += b.needs_drift * z_needs
        lift = self.service_lift(alloc.service)
        perceived = (self.quality + lift + b.fit_weight * (self.fit(alloc.offer) - 1.0)
                     + b.perception_noise * z_quality).astype(F32)

        # Expectation–disconfirmation with loss aversion.
        gap = perceived - self.expectation
        felt = np.where(gap >= 0, gap, b.loss_aversion * gap)
        target = _sigmoid(b.satisfaction_base
                          + b.expectation_weight * (self.expectation - self.quality)
                          + b.disconfirmation_weight * felt)
        self.satisfaction += b.satisfaction_speed * (target - self.satisfaction)

        # Complaints: filed when strongly disappointed; handled in priority order.
        new_c = (active & ~self.complaint_open & ~self.grudge
                 & (gap < -b.complaint_threshold)
                 & (u_complain < b.complaint_probability * self.complaint_propensity))
        resolved, abandoned = self._handle_complaints(alloc)
        self.complaint_open |= new_c
        self.complaints_total += new_c

        # Negative word of mouth: the dissatisfied and unresolved talk.
        unresolved = (self.complaint_open | self.grudge).astype(F32)
        emit = act * self.sociability * (
            np.maximum(0.0, b.detractor_threshold - self.satisfaction) / b.detractor_threshold
            + b.wom_unresolved * unresolved)
        heard = self.network.neighbour_mean(emit)
        self.satisfaction -= b.wom_negative * heard
        np.clip(self.satisfaction, 0.0, 1.0, out=self.satisfaction)

        # Relationship, lock-in, loyalty, growth.
        nurture = (-np.expm1(-alloc.service / b.service_scale)).astype(F32)
        self.relationship += 0.1 * (nurture - self.relationship)
        self.lock *= 1.0 - b.lock_decay
        self.lock += b.points_lock * (-np.expm1(-alloc.points / b.points_scale))
        np.clip(self.lock, 0.0, 1.0, out=self.lock)
        loyal_target = np.clip(self.satisfaction + b.relationship_weight * self.relationship
                               - b.lockin_crowding * self.lock, 0.0, 1.0)
        self.loyalty += b.loyalty_speed * (loyal_target - self.loyalty)
        self.growth += b.growth_speed * nurture * (self.growth_max - self.growth)

        # Purchases (Poisson, faster when satisfied) and spend.
        lam = self.purchase_rate * np.exp(
            b.purchase_satisfaction * (self.satisfaction - b.reference_satisfaction))
        purchases = self._poisson(lam * act, u_purchase)
        drop_after = np.zeros(n, dtype=bool)
        if u_dropout is not None:
            # BG/NBD: after each purchase the customer drops out with probability p.
            p = np.clip(self.dropout, 1e-9, 1.0)
            until = np.ceil(np.log1p(-u_dropout) / np.log1p(-p))  # geometric, >= 1
            drop_after = (purchases > 0) & (until <= purchases)
            purchases = np.where(drop_after, until, purchases).astype(np.int32)
        spend_factor = 1.0 - np.minimum(1.0, market.spend_drop * self.price_sensitivity)
        revenue = (purchases * self.spend * self.growth * spend_factor).astype(F32)

        # Churn.
        h = self.hazard(market.pull, market.switching_cover)
        churned = active & ((u_churn < h) | drop_after)
        serve_cost = (self.cost_to_serve * act).astype(F32)

        # CRM records what it can see of purchases.
        bought = purchases > 0
        self.last_purchase[bought] = t
        self.frequency += 0.1 * (purchases - self.frequency) * act
        mon = np.where(bought, revenue / np.maximum(purchases, 1), self.monetary)
        self.monetary += 0.2 * (mon - self.monetary) * bought
        self.purchases_total += purchases
        self.revenue_total += revenue
        self.needs_signal = np.where(bought, self.needs + self.crm_noise * z_signal,
                                     self.needs_signal).astype(F32)
        self.service_total += alloc.service
        self.last_service, self.last_points, self.last_perceived = (
            alloc.service, alloc.points, perceived)

        # Expectations adapt to experience (only partly to service) and are raised by promises.
        adapted = perceived - (1.0 - b.service_adaptation) * lift
        self.expectation += (b.expectation_adaptation * (adapted - self.expectation)
                             + b.promise_effect * (alloc.promise - b.honest_promise)) * act

        self.status[churned] = CHURNED
        self.churned_at[churned] = t
        self.complaint_open[churned] = False
        self._survey(t, survey_rate, survey_rng)
        acquired, referred = self._acquire(t, alloc, acquisition_rng, heard)
        return PeriodOutcome(
            active_start=active, purchases=purchases, revenue=revenue, churned=churned,
            acquired=acquired, referred=referred, complaints_new=new_c,
            complaints_resolved=resolved, complaints_abandoned=abandoned, hazard=h,
            serve_cost=serve_cost,
        )

    @staticmethod
    def _poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Poisson counts by inversion of one uniform each (exact, vectorised)."""
        k = np.zeros(lam.shape, dtype=np.int32)
        p = np.exp(-lam).astype(np.float64)
        cdf = p.copy()
        todo = u > cdf
        j = 0
        while todo.any():
            j += 1
            idx = np.flatnonzero(todo)
            p[idx] *= lam[idx] / j
            cdf[idx] += p[idx]
            k[idx] = j
            todo[idx] = (u[idx] > cdf[idx]) & (p[idx] > 1e-12)
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
        waiting = self.complaint_open
        self.complaint_age[waiting] += 1
        self.satisfaction[waiting] -= b.complaint_wait_penalty
        give_up = waiting & (self.complaint_age >= b.complaint_give_up)
        self.grudge |= give_up
        self.complaint_open[give_up] = False
        return resolved, int(give_up.sum())

    def _survey(self, t: int, rate: float, rng: np.random.Generator) -> None:
        b, n = self.behaviour, self.n
        u_pick = rng.random(n, dtype=F32)
        u_answer = rng.random(n, dtype=F32)
        z1 = rng.standard_normal(n, dtype=F32)
        z2 = rng.standard_normal(n, dtype=F32)
        active = self.status == ACTIVE
        answer_p = b.survey_response * (1 + b.survey_anger_bias * (1 - self.satisfaction))
        ans = active & (u_pick < rate) & (u_answer < answer_p)
        if not ans.any():
            return
        self.survey_nps = np.where(ans, np.clip(np.round(self.recommend() + z1), 0, 10),
                                   self.survey_nps)
        self.survey_csat = np.where(
            ans, np.clip(np.round(1 + 4 * self.satisfaction + 0.5 * z2), 1, 5), self.survey_csat)
        self.survey_at[ans] = t

    def _acquire(self, t: int, alloc: Allocation, rng: np.random.Generator,
                 heard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = self.behaviour
        u_adopt = rng.random(self.n, dtype=F32)
        u_source = rng.random(self.n, dtype=F32)
        potential = self.status == POTENTIAL
        promoters = ((self.status == ACTIVE) & (np.round(self.recommend()) >= 9)).astype(F32)
        share = self.network.neighbour_mean(promoters * self.sociability)
        boost = float(np.exp(1.5 * (alloc.promise - b.honest_promise)))
        paid = alloc.acquisition * boost / (self.acq_cost * self.pool_size)
        referral = b.referral_rate * share
        if b.wom_deterrence > 0:
            # Negative word of mouth heard by potential customers deters them (brand image).
            deter = np.exp(-b.wom_deterrence * heard)
            paid, referral = paid * deter, referral * deter
        rate = paid + referral
        adopt = potential & (u_adopt < -np.expm1(-rate))
        referred = adopt & (u_source * np.maximum(rate, 1e-12) < referral)
        if adopt.any():
            self.status[adopt] = ACTIVE
            self.joined[adopt] = t + 1
            # Newcomers expect what marketing promised them.
            exp0 = self.quality + b.promise_effect / max(b.expectation_adaptation, 1e-6) * (
                alloc.promise - b.honest_promise)
            self.expectation[adopt] = exp0
            s0 = self._steady_satisfaction(np.float32(exp0))
            self.satisfaction[adopt] = s0
            self.loyalty[adopt] = 0.5 * s0
            self.last_purchase[adopt] = t
            self.frequency[adopt] = self.purchase_rate[adopt]
            self.monetary[adopt] = self.spend[adopt]
        return adopt, referred

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
