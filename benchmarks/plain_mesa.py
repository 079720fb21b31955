"""A plain Mesa version of the customer step: one `mesa.Agent` per customer, scalar state.

This is the yardstick for the vectorised engine (`sim.agents.customers`): the
same equations and parameters as `CustomerPopulation.step`, written the way a
Mesa user would write them — each person of the market (customer or potential
customer) is an agent holding Python floats, the model steps them in phases with
`model.agents.do(...)`, neighbours are lists of agents on a Watts–Strogatz
graph (networkx; people take their places on the ring at random), and every
random number is a scalar draw from the model's own `numpy.random.Generator`
(no global random state). The equations are written here again, in plain
Python, from docs/model.md and the rules' labels ([Q1], [H1], ...): nothing of
`sim.agents.rules` or `sim.agents.kernels` is used, so the comparison checks the
engine against an independent reading of the model.

Phases are needed where the vectorised step is synchronous: everyone's
satisfaction is updated before the complaint desk works its queue, and everyone
has decided what to say before anyone hears it.

The manager is replaced by a fixed, simple allocation applied identically in
both versions (`uniform_allocation`): the default budget split (65 % service
spread evenly over active customers, 15 % complaint handling oldest first and
sincere, 20 % acquisition, honest promise, offer tuned to each segment's
initial needs). `run_vectorised` steps a `CustomerPopulation` with the same
allocation, so the two can be compared statistically (tests/test_plain_mesa.py)
and timed (benchmarks/run.py).

Run `python benchmarks/plain_mesa.py` for a quick side-by-side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import networkx as nx
import numpy as np

from sim.agents.customers import ACTIVE, CHURNED, POTENTIAL, CustomerPopulation, mean_revenue, segment_value
from sim.agents.state import MAX_HISTORY, NEVER
from sim.allocation import Allocation
from sim.events import NeedsShift
from sim.market import MarketModel, MarketState
from sim.rng import make_rng, spawn_streams
from sim.scenario import Behaviour, Network, Scenario, Segment

#: Budget split of the fixed manager (the policy base class defaults).
SHARES = {"service": 0.65, "complaints": 0.15, "points": 0.0, "acquisition": 0.2}
#: Per-period outcomes both versions report.
OUTCOMES = ("active", "satisfaction", "loyalty", "churned", "revenue", "complaints", "acquired",
            "referred", "purchases")


@dataclass(frozen=True)
class FixedAllocation:
    """The fixed manager's decision for one period, in scalars.

    Attributes:
        service: Service money per active customer.
        points: Points money per active customer.
        complaint_capacity: Complaints that can be handled.
        sincerity: Share of a sincere answer's recovery a handled complaint gets (1: sincere).
        acquisition: Money spent on winning customers.
        promise: Marketing promise level.
        offer: Needs position of the offer per segment.
    """

    service: float
    points: float
    complaint_capacity: int
    sincerity: float
    acquisition: float
    promise: float
    offer: tuple[float, ...]


def uniform_allocation(scenario: Scenario, state: MarketState, n_active: int) -> FixedAllocation:
    """The fixed manager: the default budget split, service spread evenly over active customers.

    Args:
        scenario: The scenario.
        state: The market this period (budget cuts).
        n_active: Active customers at the start of the period.

    Returns:
        The allocation.
    """
    m = scenario.market
    budget = m.budget * scenario.population.size * state.budget_factor
    service = budget * SHARES["service"] / max(n_active, 1)
    points = budget * SHARES["points"] / max(n_active, 1)
    return FixedAllocation(
        service=service,
        points=points,
        complaint_capacity=int(budget * SHARES["complaints"] // m.complaint_cost),
        sincerity=1.0,
        acquisition=budget * SHARES["acquisition"],
        promise=0.5,
        offer=tuple(float(s.needs) for s in scenario.population.segments),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def nurture(service: float, b: Behaviour, money: float) -> float:
    """Share of the full effect a period's service money buys: ADBUDG x^c / (1 + x^c) [Q1].

    x is the money in units of `service_scale` (half the effect) times `money`, the
    customers' mean revenue per period; c = `service_shape`.
    """
    xc = (service / (b.service_scale * money)) ** b.service_shape
    return xc / (1.0 + xc)


def _exact_split(m: int, shares: list[float], rng: np.random.Generator) -> list[int]:
    """Segment labels for `m` people, split by share exactly (largest remainders), shuffled."""
    counts = [math.floor(s * m) for s in shares]
    rest = m - sum(counts)
    order = sorted(range(len(shares)), key=lambda k: -(shares[k] * m - counts[k]))
    for k in order[:rest]:
        counts[k] += 1
    labels = [k for k, c in enumerate(counts) for _ in range(c)]
    return [labels[i] for i in rng.permutation(len(labels))]


class CustomerAgent(mesa.Agent):
    """One person of the market (customer or potential customer) with scalar state.

    Args:
        model: The model.
        segment: Segment index.
        seg: The segment's spec.
        active: Whether the person is a customer at period 0.
    """

    def __init__(self, model: PlainMesaMarket, segment: int, seg: Segment, active: bool) -> None:
        super().__init__(model)
        rng, weeks, written = model.rng, model.weeks, model.segments_written
        self.segment = segment
        self.status = ACTIVE if active else POTENTIAL
        self.joined = NEVER
        self.churned_at = -1

        def gamma(mean: float, shape: float | None) -> float:
            return mean if shape is None or mean <= 0 else float(rng.gamma(shape, mean / shape))

        def beta(mean: float, conc: float | None) -> float:
            if conc is None or mean <= 0 or mean >= 1:
                return mean
            return float(rng.beta(mean * conc, (1 - mean) * conc))

        def per_period(name: str) -> float:
            return segment_value(seg, name, weeks, written)

        self.spend = gamma(seg.spend, seg.spend_shape)
        self.purchase_rate = gamma(per_period("purchase_rate"), seg.purchase_shape)
        self.base_churn = beta(per_period("churn"), seg.churn_concentration)  # exogenous θ [H1]
        self.dropout = beta(seg.dropout_per_purchase, seg.dropout_concentration)
        self.growth_max = seg.growth_max if rng.random() < seg.growth_potential else 1.0
        self.price_sensitivity = seg.price_sensitivity
        self.complaint_propensity = seg.complaint_propensity
        self.sociability = seg.sociability
        self.service_sensitivity = seg.service_sensitivity
        self.likability = seg.likability + float(rng.standard_normal())
        self.advocacy = model.behaviour.advocacy_spread * float(rng.standard_normal())  # [V1]
        self.cost_to_serve = per_period("cost_to_serve")
        self.needs = seg.needs + seg.needs_spread * float(rng.standard_normal())
        # Everyone starts at rest [J1]: expecting what they perceive of their segment's offer.
        self.expectation = model.at_rest(self.needs, seg.needs)
        steady = model.steady_satisfaction(self.expectation)
        self.satisfaction = steady if seg.satisfaction is None else seg.satisfaction
        self.loyalty = self.satisfaction if seg.loyalty is None else seg.loyalty
        self.growth = 1.0
        self.lock = 0.0
        self.relationship = 0.0
        self.complaint_open = False
        self.complaint_age = 0
        self.grudge = False
        self.complaints_total = 0
        # CRM records.
        self.last_purchase = NEVER
        self.frequency = 0.0
        self.monetary = self.spend if active else 0.0
        if active:
            self._history()
        self.purchases_total = 0
        self.revenue_total = 0.0
        self.survey_nps = math.nan
        self.survey_csat = math.nan
        self.survey_at = -1
        self.needs_signal = self.needs
        self.service_total = 0.0
        self.neighbours: list[CustomerAgent] = []
        # Scratch of the current period.
        self.was_active = active
        self.gap = 0.0
        self.perceived = model.quality
        self.lift = 0.0
        self.files_complaint = False
        self.emit = 0.0
        self.promoter = 0.0
        self.purchases = 0
        self.revenue = 0.0
        self.leaves = False
        self.hazard = 0.0
        self.heard = 0.0
        self.joined_now = False
        self.referred_now = False

    def _history(self) -> None:
        """What the CRM recorded of an initial customer before period 0 [D0].

        Tenure is geometric in the customer's own chance of leaving (θ plus baseline
        switching), at most MAX_HISTORY periods; the last purchase is geometric in
        the purchase rate, within the tenure; the smoothed frequency is drawn from
        its stationary gamma around the true rate (variance λ·α/(2 − α), α = 0.1).
        """
        rng, b = self.model.rng, self.model.behaviour
        leave = min(1.0, max(1e-4, self.base_churn + b.switching_base))
        tenure = min(int(rng.geometric(leave)), MAX_HISTORY)
        buy = min(1.0, max(1e-4, -math.expm1(-self.purchase_rate)))
        since = int(rng.geometric(buy)) - 1
        self.joined = -tenure
        self.last_purchase = -min(since, tenure)
        spread = 0.1 / (2.0 - 0.1)
        self.frequency = float(rng.gamma(max(self.purchase_rate / spread, 1e-9), spread))

    # ---------------------------------------------------------------- phases

    def experience(self, alloc: FixedAllocation, quality: float) -> None:
        """Needs drift [N1]; perceive the offer and service [Q1]–[Q4]; satisfaction [S1, S2];
        decide to complain [C1]; a grudge fades [C4].

        Args:
            alloc: The fixed manager's allocation.
            quality: The product's quality this period (base plus quality events).
        """
        m, b, rng = self.model, self.model.behaviour, self.model.rng
        if self.status != CHURNED:
            centre = m.needs_centre[self.segment]
            self.needs += ((1.0 - m.needs_keep) * (centre - self.needs)
                           + m.needs_step[self.segment] * float(rng.standard_normal()))
        self.was_active = self.status == ACTIVE
        self.files_complaint = False
        if not self.was_active:
            return
        d = self.needs - alloc.offer[self.segment]
        fitted = math.exp(-(d * d) / (2 * b.fit_width ** 2))
        # Attention brings courtesy and repairs part of what the misfit costs [Q2].
        repair = b.service_personalisation * b.fit_weight * (1.0 - fitted)
        lift = self.service_sensitivity * nurture(alloc.service, b, m.money) * (b.service_effect + repair)
        self.lift = lift
        self.perceived = (quality + lift + b.fit_weight * (fitted - 1.0)
                          + b.perception_noise * float(rng.standard_normal()))
        gap = self.perceived - self.expectation
        target = m.satisfaction_target(self.expectation, gap)
        self.satisfaction += b.satisfaction_speed * (target - self.satisfaction)
        self.gap = gap
        self.files_complaint = (
            not self.complaint_open and not self.grudge and gap < -b.complaint_threshold
            and rng.random() < b.complaint_probability * self.complaint_propensity)
        if self.grudge:
            # The grudge's periods count on from the give-up; it ends at `complaint_give_up
            # + grudge_memory` [C4].
            if self.complaint_age >= b.complaint_give_up + b.grudge_memory:
                self.grudge, self.complaint_age = False, 0
            else:
                self.complaint_age += 1

    def file_and_talk(self) -> None:
        """File this period's complaint [C1]; decide how much bad word of mouth to spread [W1]."""
        b = self.model.behaviour
        if self.files_complaint:
            self.complaint_open = True
            self.complaints_total += 1
        if not self.was_active:
            self.emit = 0.0
            return
        unresolved = 1.0 if (self.complaint_open or self.grudge) else 0.0
        self.emit = self.sociability * (
            max(0.0, b.detractor_threshold - self.satisfaction) / b.detractor_threshold
            + b.wom_unresolved * unresolved)

    def react(self, t: int, alloc: FixedAllocation, state: MarketState) -> None:
        """Hear neighbours [W2]; relationship, lock-in, loyalty, growth [R1, L1–L3, G1]; buy [P1–P4];
        decide to leave [H1]; what the CRM records [D1]; expectations adapt [E1]."""
        # Potential customers hear it too (it can deter them from joining).
        self.heard = sum(nb.emit for nb in self.neighbours) / max(len(self.neighbours), 1)
        if not self.was_active:
            return
        m, b, rng = self.model, self.model.behaviour, self.model.rng
        heard = self.heard
        self.satisfaction = _clamp01(self.satisfaction - b.wom_negative * heard)

        nurtured = nurture(alloc.service, b, self.model.money)
        self.relationship += 0.1 * (nurtured - self.relationship)
        self.lock *= 1.0 - b.lock_decay
        self.lock += b.points_lock * -math.expm1(-alloc.points / (b.points_scale * self.model.money))
        self.lock = _clamp01(self.lock)
        loyal_target = _clamp01(self.satisfaction + b.relationship_weight * self.relationship
                                - b.lockin_crowding * self.lock)
        self.loyalty += b.loyalty_speed * (loyal_target - self.loyalty)
        self.growth += b.growth_speed * nurtured * (self.growth_max - self.growth)

        # The dissatisfied buy less, the delighted a little more [P1].
        d = self.satisfaction - b.reference_satisfaction
        lam = self.purchase_rate * math.exp(min(d, 0.0) * b.purchase_satisfaction
                                            + max(d, 0.0) * b.purchase_delight)
        purchases = int(rng.poisson(lam))
        drop_after = False
        if self.dropout > 0 and purchases > 0:
            until = int(rng.geometric(min(self.dropout, 1.0)))  # purchases until drop-out
            if until <= purchases:
                drop_after, purchases = True, until
        spend_factor = 1.0 - min(1.0, state.spend_drop * self.price_sensitivity)
        revenue = purchases * self.spend * self.growth * spend_factor

        self.hazard = self.churn_hazard(state)
        self.leaves = rng.random() < self.hazard or drop_after

        # The CRM records what it sees of purchases.
        if purchases > 0:
            self.last_purchase = t
            self.monetary += 0.2 * (revenue / purchases - self.monetary)
            self.needs_signal = self.needs + m.crm_noise * float(rng.standard_normal())
        self.frequency += 0.1 * (purchases - self.frequency)
        self.purchases_total += purchases
        self.revenue_total += revenue
        self.service_total += alloc.service
        self.purchases, self.revenue = purchases, revenue

        # Expectations adapt to experience (only partly to service).
        adapted = self.perceived - (1.0 - b.service_adaptation) * self.lift
        self.expectation += (b.expectation_adaptation * (adapted - self.expectation)
                             + b.promise_effect * (alloc.promise - b.honest_promise))

    def churn_hazard(self, state: MarketState) -> float:
        """Chance of leaving this period: exogenous churn θ, or switching to a competitor [H1].

        Switching starts from the competitors' attraction (a baseline plus their pull,
        felt by the price-sensitive), rises as satisfaction and loyalty fall below
        reference and while a complaint is unresolved, and lock-in holds a share of it
        back unless a competitor's promotion buys the lock-in out.
        """
        b = self.model.behaviour
        x = (b.churn_satisfaction * (b.reference_satisfaction - self.satisfaction)
             + b.churn_loyalty * (b.reference_loyalty - self.loyalty))
        if self.complaint_open or self.grudge:
            x += b.churn_unresolved
        attraction = b.switching_base + self.price_sensitivity * b.competitor_churn * state.pull
        held = b.lock_protection * self.lock * (1.0 - state.switching_cover)
        switching = min(attraction * math.exp(x), 1.0) * (1.0 - held)
        return _clamp01(self.base_churn + (1.0 - self.base_churn) * switching)

    def settle(self, t: int) -> None:
        """Close the account of a customer who leaves."""
        if self.was_active and self.leaves:
            self.status = CHURNED
            self.churned_at = t
            self.complaint_open = False

    def recommend(self) -> float:
        """True likelihood to recommend, 0–10: satisfaction, loyalty and the customer's own bent [V1]."""
        b = self.model.behaviour
        return min(10.0, max(0.0, 10.0 * (0.5 * self.satisfaction + 0.5 * self.loyalty
                                          + b.recommend_shift + self.advocacy)))

    def answer_survey(self, t: int, rate: float) -> None:
        """Answer the firm's survey if picked and willing (the angry answer more) [V2]."""
        if self.status != ACTIVE:
            return
        b, rng = self.model.behaviour, self.model.rng
        if rng.random() >= rate:
            return
        if rng.random() >= b.survey_response * (1 + b.survey_anger_bias * (1 - self.satisfaction)):
            return
        z1, z2 = rng.standard_normal(2)
        self.survey_nps = min(10.0, max(0.0, round(self.recommend() + float(z1))))
        self.survey_csat = min(5.0, max(1.0, round(1 + 4 * self.satisfaction + 0.5 * float(z2))))
        self.survey_at = t

    def promote(self) -> None:
        """Decide whether to speak for the firm (promoters, 9–10) [V2, A1]."""
        self.promoter = (self.sociability if self.status == ACTIVE and round(self.recommend()) >= 9
                         else 0.0)

    def consider_joining(self, t: int, paid: float) -> None:
        """A potential customer joins through paid acquisition or a referral [A1]; newcomers start
        at rest at what marketing promised them [J1]."""
        if self.status != POTENTIAL:
            self.joined_now = self.referred_now = False
            return
        m, b, rng = self.model, self.model.behaviour, self.model.rng
        share = sum(nb.promoter for nb in self.neighbours) / max(len(self.neighbours), 1)
        referral = b.referral_rate * share
        if b.wom_deterrence > 0:
            # Negative word of mouth heard deters potential customers (brand image).
            deter = math.exp(-b.wom_deterrence * self.heard)
            paid, referral = paid * deter, referral * deter
        rate = paid + referral
        self.joined_now = rng.random() < -math.expm1(-rate)
        self.referred_now = False
        if not self.joined_now:
            return
        self.referred_now = rng.random() * max(rate, 1e-12) < referral
        self.status = ACTIVE
        self.joined = t + 1
        offer = m.newcomer_offer[self.segment]
        self.expectation = m.at_rest(self.needs, offer, m.newcomer_quality) + m.promised
        self.satisfaction = m.steady_satisfaction(self.expectation)
        self.loyalty = 0.5 * self.satisfaction
        self.last_purchase = t + 1
        self.frequency = m.prior_rate[self.segment]
        self.monetary = self.spend


class PlainMesaMarket(mesa.Model):
    """The customers of a scenario as one `mesa.Agent` each, under the fixed manager.

    Args:
        scenario: The scenario (population, behaviour, market and events are used;
            its policies are not — the manager is `uniform_allocation`).
        rng: Seed or generator; the only source of randomness.

    Attributes:
        outcomes: Per-period outcomes (`OUTCOMES`), one dict per period.
    """

    def __init__(self, scenario: Scenario, rng: int | np.random.Generator | None = None) -> None:
        super().__init__(rng=make_rng(rng))
        pop = scenario.population
        self.scenario_spec = scenario
        self.behaviour = pop.behaviour
        self.quality = scenario.market.quality
        self.reference_quality = scenario.market.reference_quality
        self.crm_noise = scenario.market.crm_noise
        self.weeks = scenario.per_period
        # Segments written in the scenario keep their rates; built-in ones are weekly defaults.
        self.segments_written = "segments" in pop.model_fields_set
        # The unit of the money constants: the customers' mean revenue per period.
        self.money = mean_revenue(pop.segments, self.weeks, self.segments_written)
        self.market = MarketModel(scenario)
        self.period = 0
        # Needs wander around each segment's centre with its spread [N1]; shifts move the centre.
        halflife = self.behaviour.needs_halflife
        self.needs_keep = 1.0 if halflife is None else 2.0 ** (-1.0 / halflife)
        self.needs_centre = [s.needs for s in pop.segments]
        self.needs_step = [s.needs_spread * math.sqrt(1.0 - self.needs_keep ** 2) for s in pop.segments]
        size = pop.size
        n = size + round(size * pop.potential)
        self.pool_size = max(n - size, 1)
        shares = [s.share for s in pop.segments]
        labels = _exact_split(size, shares, self.rng) + _exact_split(n - size, shares, self.rng)
        self.people = [CustomerAgent(self, k, pop.segments[k], i < size)
                       for i, k in enumerate(labels)]
        self._connect(pop.network, n)
        # The purchase rate the CRM assumes for a newcomer: their segment's mean.
        self.prior_rate = [float(np.mean([p.purchase_rate for p in self.people if p.segment == k] or [0.0]))
                           for k in range(len(pop.segments))]
        self.newcomer_quality, self.newcomer_offer, self.promised = self.quality, None, 0.0
        self.broken_promises = 0.0
        self.survey_rate = scenario.market.survey_rate
        self.outcomes: list[dict[str, float]] = []
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m.outcomes[-1][k]) for k in OUTCOMES})

    def _connect(self, nw: Network, n: int) -> None:
        """Neighbours: a Watts–Strogatz ring on which people sit at random places, or everyone."""
        if nw.kind == "small_world" and n >= 3:
            graph = nx.watts_strogatz_graph(n, min(nw.degree, n - 1), nw.rewire,
                                            seed=int(self.rng.integers(2**31)))
            place = self.rng.permutation(n)  # who sits at each position of the ring
            for pos in range(n):
                self.people[place[pos]].neighbours = [self.people[place[j]] for j in graph.adj[pos]]
        elif nw.kind == "complete":
            for person in self.people:
                person.neighbours = [p for p in self.people if p is not person]

    def satisfaction_target(self, expectation: float, gap: float) -> float:
        """Where satisfaction heads: expectation against the competitors' quality, and felt
        disconfirmation (losses weigh `loss_aversion` times more) [S1]."""
        b = self.behaviour
        felt = gap if gap >= 0 else b.loss_aversion * gap
        return _sigmoid(b.satisfaction_base
                        + b.expectation_weight * (expectation - self.reference_quality)
                        + b.disconfirmation_weight * felt)

    def at_rest(self, needs: float, offer: float, quality: float | None = None) -> float:
        """What a customer perceives of an offer without service or noise: the expectation at rest [J1]."""
        b = self.behaviour
        d = needs - offer
        fitted = math.exp(-(d * d) / (2 * b.fit_width ** 2))
        return (self.quality if quality is None else quality) + b.fit_weight * (fitted - 1.0)

    def steady_satisfaction(self, expectation: float) -> float:
        """Satisfaction at rest: expectation met, no disconfirmation [S1, J1]."""
        return self.satisfaction_target(expectation, 0.0)

    def _events(self, t: int) -> None:
        for ev in self.market.starting(t):
            if isinstance(ev, NeedsShift):
                self._shift_needs(ev)

    def _shift_needs(self, ev: NeedsShift) -> None:
        names = [s.name for s in self.scenario_spec.population.segments]
        hit = None if ev.segments is None else {names.index(s) for s in ev.segments if s in names}
        for p in self.people:
            z = float(self.rng.standard_normal())
            if hit is None or p.segment in hit:
                p.needs += ev.size + ev.spread * z
        for k in range(len(names)):
            if hit is None or k in hit:
                self.needs_centre[k] += ev.size

    def _complaint_desk(self, capacity: int, sincerity: float) -> None:
        """Handle the open complaints, oldest first [C2]; the rest wait, and may turn to grudges [C3]."""
        b = self.behaviour
        queue = [p for p in self.people if p.complaint_open]
        if capacity > 0 and queue:
            queue.sort(key=lambda p: (-p.complaint_age, p.unique_id))
            for p in queue[:capacity]:
                p.satisfaction += sincerity * b.complaint_recovery * math.exp(
                    -b.complaint_recovery_decay * p.complaint_age)
                p.complaint_open = False
                p.complaint_age = 0
            queue = queue[capacity:]
        for p in queue:
            p.complaint_age += 1
            p.satisfaction -= b.complaint_wait_penalty
            if p.complaint_age >= b.complaint_give_up:
                p.grudge = True
                p.complaint_open = False

    def _paid_hazard(self, alloc: FixedAllocation) -> float:
        """Adoption hazard bought by acquisition money, boosted by promises prospects still believe [A2]."""
        b = self.behaviour
        over = alloc.promise - b.honest_promise
        self.broken_promises += b.promise_learning * (max(over, 0.0) - self.broken_promises)
        boost = math.exp(1.5 * (over - self.broken_promises))
        return alloc.acquisition * boost / (self.scenario_spec.market.acquisition_cost * self.pool_size)

    def step(self) -> None:
        """One period: events, the fixed manager, customers experience, talk, react, join."""
        t = self.period
        state = self.market.state(t)
        quality = self.quality + state.quality_shift
        self._events(t)
        n_active = sum(1 for p in self.people if p.status == ACTIVE)
        alloc = uniform_allocation(self.scenario_spec, state, n_active)
        self.agents.do("experience", alloc, quality)
        self._complaint_desk(alloc.complaint_capacity, alloc.sincerity)
        self.agents.do("file_and_talk")
        self.agents.do("react", t, alloc, state)
        self.agents.do("settle", t)
        self.agents.do("answer_survey", t, self.survey_rate)
        self.agents.do("promote")
        b = self.behaviour
        # Newcomers expect what marketing promised them of this period's quality [J1].
        self.newcomer_quality, self.newcomer_offer = quality, alloc.offer
        over = alloc.promise - b.honest_promise
        self.promised = b.promise_effect / max(b.expectation_adaptation, 1e-6) * over
        self.agents.do("consider_joining", t, self._paid_hazard(alloc))
        active = [p for p in self.people if p.status == ACTIVE]
        was = [p for p in self.people if p.was_active]
        self.outcomes.append({
            "active": float(len(active)),
            "satisfaction": float(np.mean([p.satisfaction for p in active])),
            "loyalty": float(np.mean([p.loyalty for p in active])),
            "churned": float(sum(p.leaves for p in was)),
            "revenue": float(sum(p.revenue for p in was)),
            "complaints": float(sum(p.files_complaint for p in was)),
            "acquired": float(sum(p.joined_now for p in self.people)),
            "referred": float(sum(p.referred_now for p in self.people)),
            "purchases": float(sum(p.purchases for p in was)),
        })
        self.datacollector.collect(self)
        self.period += 1


# --------------------------------------------------------------------------- vectorised twin


def to_allocation(fixed: FixedAllocation, active: np.ndarray) -> Allocation:
    """The fixed manager's allocation as the vectorised engine takes it."""
    service = np.where(active, fixed.service, 0.0).astype(np.float32)
    points = np.where(active, fixed.points, 0.0).astype(np.float32)
    return Allocation(
        service=service, points=points, complaint_capacity=fixed.complaint_capacity,
        complaint_priority=None, sincerity=fixed.sincerity, acquisition=fixed.acquisition,
        promise=fixed.promise, offer=np.asarray(fixed.offer, dtype=np.float32),
        spent={"service": float(service.sum(dtype=np.float64)),
               "points": float(points.sum(dtype=np.float64)),
               "complaints": 0.0, "acquisition": fixed.acquisition})


class VectorisedMarket:
    """`CustomerPopulation` under the same fixed manager, reporting the same outcomes.

    Args:
        scenario: The scenario.
        rng: Seed or generator.
    """

    def __init__(self, scenario: Scenario, rng: int | np.random.Generator | None = None) -> None:
        self.scenario = scenario
        self.streams = spawn_streams(make_rng(rng))
        self.customers = CustomerPopulation(scenario, self.streams["init"],
                                            self.streams["network"])
        self.market = MarketModel(scenario)
        self.period = 0
        self.outcomes: list[dict[str, float]] = []

    def step(self) -> None:
        """One period, exactly as `RetentionModel.step` but with the fixed manager."""
        t, pop = self.period, self.customers
        state = self.market.state(t)
        for ev in self.market.starting(t):
            if isinstance(ev, NeedsShift):
                pop.shift_needs(ev, self.streams["init"])
        active = pop.status == ACTIVE
        alloc = to_allocation(uniform_allocation(self.scenario, state, int(active.sum())), active)
        out = pop.step(t, alloc, state, self.streams["customers"], self.streams["surveys"],
                       self.streams["acquisition"], self.scenario.market.survey_rate)
        now = pop.status == ACTIVE
        self.outcomes.append({
            "active": float(now.sum()),
            "satisfaction": float(pop.satisfaction[now].mean(dtype=np.float64)),
            "loyalty": float(pop.loyalty[now].mean(dtype=np.float64)),
            "churned": float(out.churned.sum()),
            "revenue": float(out.revenue.sum(dtype=np.float64)),
            "complaints": float(out.complaints_new.sum()),
            "acquired": float(out.acquired.sum()),
            "referred": float(out.referred.sum()),
            "purchases": float(out.purchases.sum()),
        })
        self.period += 1


def summarise(outcomes: list[dict[str, float]]) -> dict[str, float]:
    """A run's summary: flows summed, stocks (active, satisfaction, loyalty) at the end."""
    last = outcomes[-1]
    out = {k: last[k] for k in ("active", "satisfaction", "loyalty")}
    for k in ("churned", "revenue", "complaints", "acquired", "referred", "purchases"):
        out[k] = float(sum(o[k] for o in outcomes))
    return out


def run_plain(scenario: Scenario, seed: int, periods: int) -> dict[str, float]:
    """Summary of a plain Mesa run."""
    model = PlainMesaMarket(scenario, rng=seed)
    for _ in range(periods):
        model.step()
    return summarise(model.outcomes)


def run_vectorised(scenario: Scenario, seed: int, periods: int) -> dict[str, float]:
    """Summary of a vectorised run under the same fixed manager."""
    model = VectorisedMarket(scenario, rng=seed)
    for _ in range(periods):
        model.step()
    return summarise(model.outcomes)


def benchmark_scenario(size: int, horizon: int = 104) -> Scenario:
    """The default scenario's market with `size` customers (the benchmarks' set-up)."""
    from sim.loader import load_scenario

    sc = load_scenario("default")
    return sc.model_copy(update={
        "horizon": horizon,
        "population": sc.population.model_copy(update={"size": size}),
    })


if __name__ == "__main__":
    import time

    sc = benchmark_scenario(2000, horizon=52)
    for name, fn in (("plain mesa", run_plain), ("vectorised", run_vectorised)):
        t0 = time.perf_counter()
        s = fn(sc, 1, 52)
        dt = time.perf_counter() - t0
        print(f"{name:>11}: {dt:6.2f} s  " + "  ".join(f"{k}={v:.4g}" for k, v in s.items()))
