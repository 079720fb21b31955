"""A plain Mesa version of the customer step: one `mesa.Agent` per customer, scalar state.

This is the yardstick for the vectorised engine (`sim.agents.customers`): the
same equations and parameters as `CustomerPopulation.step`, written the way a
Mesa user would write them — each person of the market (customer or potential
customer) is an agent holding Python floats, the model steps them in phases with
`model.agents.do(...)`, neighbours are lists of agents on a Watts–Strogatz
graph (networkx), and every random number is a scalar draw from the model's
own `numpy.random.Generator` (no global random state).

Phases are needed where the vectorised step is synchronous: everyone's
satisfaction is updated before the complaint desk works its queue, and everyone
has decided what to say before anyone hears it.

The manager is replaced by a fixed, simple allocation applied identically in
both versions (`uniform_allocation`): the default budget split (65 % service
spread evenly over active customers, 15 % complaint handling oldest first, 20 %
acquisition, honest promise, offer tuned to each segment's initial needs).
`run_vectorised` steps a `CustomerPopulation` with the same allocation, so the
two can be compared statistically (tests/test_plain_mesa.py) and timed
(benchmarks/run.py).

Run `python benchmarks/plain_mesa.py` for a quick side-by-side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import networkx as nx
import numpy as np

from sim.agents.customers import ACTIVE, CHURNED, POTENTIAL, CustomerPopulation, segment_value
from sim.allocation import Allocation
from sim.events import NeedsShift
from sim.market import MarketModel, MarketState
from sim.rng import make_rng, spawn_streams
from sim.scenario import Scenario, Segment

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
        acquisition: Money spent on winning customers.
        promise: Marketing promise level.
        offer: Needs position of the offer per segment.
    """

    service: float
    points: float
    complaint_capacity: int
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
        acquisition=budget * SHARES["acquisition"],
        promise=0.5,
        offer=tuple(float(s.needs) for s in scenario.population.segments),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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
        rng, weeks = model.rng, model.weeks
        self.segment = segment
        self.status = ACTIVE if active else POTENTIAL
        self.joined = 0 if active else -1
        self.churned_at = -1

        def gamma(mean: float, shape: float | None) -> float:
            return mean if shape is None or mean <= 0 else float(rng.gamma(shape, mean / shape))

        def beta(mean: float, conc: float | None) -> float:
            if conc is None or mean <= 0 or mean >= 1:
                return mean
            return float(rng.beta(mean * conc, (1 - mean) * conc))

        self.spend = gamma(seg.spend, seg.spend_shape)
        self.purchase_rate = gamma(segment_value(seg, "purchase_rate", weeks), seg.purchase_shape)
        self.base_churn = beta(segment_value(seg, "churn", weeks), seg.churn_concentration)
        self.dropout = beta(seg.dropout_per_purchase, seg.dropout_concentration)
        self.growth_max = seg.growth_max if rng.random() < seg.growth_potential else 1.0
        self.price_sensitivity = seg.price_sensitivity
        self.complaint_propensity = seg.complaint_propensity
        self.sociability = seg.sociability
        self.service_sensitivity = seg.service_sensitivity
        self.likability = seg.likability + float(rng.standard_normal())
        self.cost_to_serve = segment_value(seg, "cost_to_serve", weeks)
        self.needs = seg.needs + seg.needs_spread * float(rng.standard_normal())
        steady = model.steady_satisfaction(model.quality)
        self.satisfaction = steady if seg.satisfaction is None else seg.satisfaction
        self.loyalty = self.satisfaction if seg.loyalty is None else seg.loyalty
        self.growth = 1.0
        self.expectation = model.quality
        self.lock = 0.0
        self.relationship = 0.0
        self.complaint_open = False
        self.complaint_age = 0
        self.grudge = False
        self.complaints_total = 0
        # CRM records.
        self.last_purchase = 0 if active else -1
        self.frequency = self.purchase_rate if active else 0.0
        self.monetary = self.spend if active else 0.0
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

    # ---------------------------------------------------------------- phases

    def experience(self, alloc: FixedAllocation) -> None:
        """Needs drift; perceive the offer and service; satisfaction; decide to complain."""
        m, b, rng = self.model, self.model.behaviour, self.model.rng
        self.needs += b.needs_drift * float(rng.standard_normal())
        self.was_active = self.status == ACTIVE
        self.files_complaint = False
        if not self.was_active:
            return
        service = alloc.service
        lift = b.service_effect * self.service_sensitivity * -math.expm1(-service / b.service_scale)
        d = self.needs - alloc.offer[self.segment]
        fit = math.exp(-(d * d) / (2 * b.fit_width ** 2))
        self.lift = lift
        self.perceived = (m.quality + lift + b.fit_weight * (fit - 1.0)
                          + b.perception_noise * float(rng.standard_normal()))
        gap = self.perceived - self.expectation
        felt = gap if gap >= 0 else b.loss_aversion * gap
        target = _sigmoid(b.satisfaction_base
                          + b.expectation_weight * (self.expectation - m.quality)
                          + b.disconfirmation_weight * felt)
        self.satisfaction += b.satisfaction_speed * (target - self.satisfaction)
        self.gap = gap
        self.files_complaint = (
            not self.complaint_open and not self.grudge and gap < -b.complaint_threshold
            and rng.random() < b.complaint_probability * self.complaint_propensity)

    def file_and_talk(self) -> None:
        """File this period's complaint; decide how much bad word of mouth to spread."""
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
        """Hear neighbours; relationship, lock-in, loyalty, growth; buy; decide to leave."""
        # Potential customers hear it too (it can deter them from joining).
        self.heard = sum(nb.emit for nb in self.neighbours) / max(len(self.neighbours), 1)
        if not self.was_active:
            return
        m, b, rng = self.model, self.model.behaviour, self.model.rng
        heard = self.heard
        self.satisfaction = min(1.0, max(0.0, self.satisfaction - b.wom_negative * heard))

        nurture = -math.expm1(-alloc.service / b.service_scale)
        self.relationship += 0.1 * (nurture - self.relationship)
        self.lock *= 1.0 - b.lock_decay
        self.lock += b.points_lock * -math.expm1(-alloc.points / b.points_scale)
        self.lock = min(1.0, max(0.0, self.lock))
        loyal_target = min(1.0, max(0.0, self.satisfaction
                                    + b.relationship_weight * self.relationship
                                    - b.lockin_crowding * self.lock))
        self.loyalty += b.loyalty_speed * (loyal_target - self.loyalty)
        self.growth += b.growth_speed * nurture * (self.growth_max - self.growth)

        lam = self.purchase_rate * math.exp(
            b.purchase_satisfaction * (self.satisfaction - b.reference_satisfaction))
        purchases = int(rng.poisson(lam))
        drop_after = False
        if self.dropout > 0 and purchases > 0:
            until = int(rng.geometric(min(self.dropout, 1.0)))  # purchases until drop-out
            if until <= purchases:
                drop_after, purchases = True, until
        spend_factor = 1.0 - min(1.0, state.spend_drop * self.price_sensitivity)
        revenue = purchases * self.spend * self.growth * spend_factor

        unresolved = 1.0 if (self.complaint_open or self.grudge) else 0.0
        h = self.base_churn * math.exp(
            b.churn_satisfaction * (b.reference_satisfaction - self.satisfaction)
            + b.churn_loyalty * (b.reference_loyalty - self.loyalty)
            + b.churn_unresolved * unresolved)
        h += b.competitor_churn * state.pull * self.price_sensitivity * (1.0 - self.loyalty)
        h *= 1.0 - b.lock_protection * self.lock * (1.0 - state.switching_cover)
        h = min(1.0, max(0.0, h))
        self.hazard = h
        self.leaves = rng.random() < h or drop_after

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

    def settle(self, t: int) -> None:
        """Close the account of a customer who leaves."""
        if self.was_active and self.leaves:
            self.status = CHURNED
            self.churned_at = t
            self.complaint_open = False

    def recommend(self) -> float:
        """True likelihood to recommend, 0–10."""
        b = self.model.behaviour
        return min(10.0, max(0.0, 10.0 * (0.5 * self.satisfaction + 0.5 * self.loyalty
                                          + b.recommend_shift)))

    def answer_survey(self, t: int, rate: float) -> None:
        """Answer the firm's survey if picked and willing (the angry answer more)."""
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
        """Decide whether to speak for the firm (promoters, 9–10)."""
        self.promoter = (self.sociability if self.status == ACTIVE and round(self.recommend()) >= 9
                         else 0.0)

    def consider_joining(self, t: int, paid: float) -> None:
        """A potential customer joins through paid acquisition or a referral."""
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
        self.expectation = m.newcomer_expectation
        self.satisfaction = m.steady_satisfaction(self.expectation)
        self.loyalty = 0.5 * self.satisfaction
        self.last_purchase = t
        self.frequency = self.purchase_rate
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
        self.crm_noise = scenario.market.crm_noise
        self.weeks = scenario.per_period
        self.market = MarketModel(scenario)
        self.period = 0
        size = pop.size
        n = size + round(size * pop.potential)
        self.pool_size = max(n - size, 1)
        shares = [s.share for s in pop.segments]
        labels = _exact_split(size, shares, self.rng) + _exact_split(n - size, shares, self.rng)
        self.people = [CustomerAgent(self, k, pop.segments[k], i < size)
                       for i, k in enumerate(labels)]
        nw = pop.network
        if nw.kind == "small_world" and n >= 3:
            graph = nx.watts_strogatz_graph(n, min(nw.degree, n - 1), nw.rewire,
                                            seed=int(self.rng.integers(2**31)))
            for i, person in enumerate(self.people):
                person.neighbours = [self.people[j] for j in graph.adj[i]]
        elif nw.kind == "complete":
            for person in self.people:
                person.neighbours = [p for p in self.people if p is not person]
        self.newcomer_expectation = self.quality
        self.survey_rate = scenario.market.survey_rate
        self.outcomes: list[dict[str, float]] = []
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m.outcomes[-1][k]) for k in OUTCOMES})

    def steady_satisfaction(self, expectation: float) -> float:
        """Satisfaction at rest: expectation met, no disconfirmation."""
        b = self.behaviour
        return _sigmoid(b.satisfaction_base + b.expectation_weight * (expectation - self.quality))

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

    def _complaint_desk(self, capacity: int) -> None:
        """Handle the open complaints, oldest first; the rest wait, and may turn to grudges."""
        b = self.behaviour
        queue = [p for p in self.people if p.complaint_open]
        if capacity > 0 and queue:
            queue.sort(key=lambda p: (-p.complaint_age, p.unique_id))
            for p in queue[:capacity]:
                p.satisfaction += b.complaint_recovery * math.exp(
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

    def step(self) -> None:
        """One period: events, the fixed manager, customers experience, talk, react, join."""
        t = self.period
        state = self.market.state(t)
        self._events(t)
        n_active = sum(1 for p in self.people if p.status == ACTIVE)
        alloc = uniform_allocation(self.scenario_spec, state, n_active)
        self.agents.do("experience", alloc)
        self._complaint_desk(alloc.complaint_capacity)
        self.agents.do("file_and_talk")
        self.agents.do("react", t, alloc, state)
        self.agents.do("settle", t)
        self.agents.do("answer_survey", t, self.survey_rate)
        self.agents.do("promote")
        b = self.behaviour
        # Newcomers expect what marketing promised them.
        self.newcomer_expectation = self.quality + b.promise_effect / max(
            b.expectation_adaptation, 1e-6) * (alloc.promise - b.honest_promise)
        boost = math.exp(1.5 * (alloc.promise - b.honest_promise))
        paid = alloc.acquisition * boost / (self.scenario_spec.market.acquisition_cost
                                            * self.pool_size)
        self.agents.do("consider_joining", t, paid)
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
        complaint_priority=None, acquisition=fixed.acquisition, promise=fixed.promise,
        offer=np.asarray(fixed.offer, dtype=np.float32),
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
