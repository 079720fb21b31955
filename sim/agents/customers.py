"""Customers: agents whose state is held column-wise and stepped in bulk.

Every person of the market — current customers and the potential customers a
firm may still win — is a row of numpy columns. One period applies each
mechanism of DOMAIN.md to all rows at once (docs/model.md gives the equations).
`Customer` is a read/write view of one row, for notebooks and tests.

Random numbers are counter-based (`sim.streams`), keyed by the model's
`customers`, `surveys` and `acquisition` streams: a customer's draw for a
mechanism in a period is the same whatever the manager does and whichever
other customers are drawn for, so policies compared in one replication see
identical random numbers (common random numbers). The step runs as compiled
kernels (`sim.agents.kernels`) or, without numba, as their numpy twin below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim import jit
from sim.agents import kernels
from sim.allocation import Allocation
from sim.market import MarketState
from sim.memory import Layout
from sim.network import SocialNetwork, build_network
from sim.scenario import NeedsShift, Scenario, Segment
from sim.streams import NORMAL_TABLE, exp32, normal, period_base, stream_key, uniform

POTENTIAL, ACTIVE, CHURNED = 0, 1, 2
F32 = np.float32
ONE = F32(1.0)

# The mechanism slots of the counter-based draws (`sim.streams.period_base`), per stream;
# the compiled kernels and the numpy twin draw through these same names.
NEEDS, QUALITY, COMPLAIN, PURCHASE, CHURN, SIGNAL, DROPOUT = range(7)  # customers' stream
SURVEY_PICK, SURVEY_ANSWER, SURVEY_NPS, SURVEY_CSAT = range(4)  # surveys' stream
ADOPT, SOURCE = range(2)  # acquisition stream
#: Full-length arrays `CustomerPopulation.step` allocates (each on its own cache-line slot, `sim.memory`).
STEP_OUTPUTS = 10

#: Traits the scenario sets per segment, the same for every customer of one. They are stored
#: per segment (4 bytes per customer each saved) until a notebook reads one as a column
#: (`CustomerPopulation.trait_column`); `CustomerPopulation.trait` reads one without that.
SEGMENT_TRAITS = ("price_sensitivity", "complaint_propensity", "sociability", "service_sensitivity",
                  "cost_to_serve")

#: Survey answers (0–10 and 1–5) are whole numbers, stored as int8; this marks "never answered".
NO_ANSWER = -1
#: The columns holding them; `Customer` views and `to_frame` show them as floats, NaN for none.
SURVEY_ANSWERS = ("survey_nps", "survey_csat")

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


def _poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inversion of one uniform each (float64, vectorised).

    `lam` is float32; p_0 = exp32(−λ). Only the customers whose count is still
    undecided are carried to the next term; a count stops growing once a term
    falls below 1e-12.
    """
    k = np.zeros(lam.shape, dtype=np.int32)
    p = exp32(-lam).astype(np.float64)
    lam = lam.astype(np.float64)
    idx = np.flatnonzero(u > p)
    cdf, p, lam, u = p[idx], p[idx], lam[idx], u[idx]
    j = 0
    while idx.size:
        j += 1
        p = p * (lam / j)
        cdf = cdf + p
        k[idx] = j
        go = (u > cdf) & (p > 1e-12)
        idx, p, cdf, lam, u = idx[go], p[go], cdf[go], lam[go], u[go]
    return k


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
    recommend: np.ndarray | None = None


class _SegmentTrait:
    """A trait of `SEGMENT_TRAITS` as an attribute: the per-customer column, made when first read.

    Reading `pop.sociability` gives a column that can be edited in place (one
    customer's value changed), which the step then uses; assigning sets every
    customer's value.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pop: CustomerPopulation | None, owner: type | None = None) -> Any:
        return self if pop is None else pop.trait_column(self.name)

    def __set__(self, pop: CustomerPopulation, value: Any) -> None:
        pop.trait_column(self.name)[...] = value


class CustomerPopulation:
    """All customers and potential customers of the market, as columns.

    Args:
        scenario: The scenario.
        init_rng: Stream for traits.
        network_rng: Stream for the social network.
    """

    price_sensitivity = _SegmentTrait()
    complaint_propensity = _SegmentTrait()
    sociability = _SegmentTrait()
    service_sensitivity = _SegmentTrait()
    cost_to_serve = _SegmentTrait()

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
        # The network first: its construction needs more scratch memory than anything else, and
        # the columns do not exist yet (its own stream, so the order changes no draw).
        nw = pop.network
        self.network: SocialNetwork = build_network(nw.kind, n, nw.degree, nw.rewire, network_rng)
        shares = np.array([s.share for s in pop.segments])
        # Initial customers and the potential pool are each split by share exactly.
        seg = np.concatenate([self._split(size, shares, init_rng),
                              self._split(n - size, shares, init_rng)])
        self.segment = seg.astype(np.int16)
        self.status = np.zeros(n, dtype=np.int8)
        self.status[:size] = ACTIVE
        # Periods (joined, churned, last purchase, last survey) as int16: the horizon is at most
        # MAX_HORIZON periods (sim.scenario), -1 for never.
        self.joined = np.full(n, -1, dtype=np.int16)
        self.joined[:size] = 0
        self.churned_at = np.full(n, -1, dtype=np.int16)
        cols: dict[str, np.ndarray] = {k: np.empty(n, dtype=F32) for k in (
            "spend", "purchase_rate", "base_churn", "dropout", "growth_max", "likability", "needs",
            "satisfaction", "loyalty")}
        written = "segments" in pop.model_fields_set
        # Per segment (SEGMENT_TRAITS): the table, and the per-customer column once one is made.
        self._trait_table = {name: np.array(
            [segment_value(s, name, weeks, written) for s in pop.segments], dtype=F32)
            for name in SEGMENT_TRAITS}
        self._trait_rows: dict[str, np.ndarray] = {}
        grower = np.zeros(n, dtype=bool)
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
            cols["likability"][idx] = s.likability + init_rng.standard_normal(m)
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
        self.last_purchase = np.where(self.status == ACTIVE, 0, -1).astype(np.int16)
        self.frequency = np.where(self.status == ACTIVE, self.purchase_rate, 0).astype(F32)
        self.monetary = np.where(self.status == ACTIVE, self.spend, 0).astype(F32)
        self.purchases_total = np.zeros(n, dtype=np.int32)
        self.revenue_total = np.zeros(n, dtype=F32)
        self.survey_nps = np.full(n, NO_ANSWER, dtype=np.int8)
        self.survey_csat = np.full(n, NO_ANSWER, dtype=np.int8)
        self.survey_at = np.full(n, -1, dtype=np.int16)
        self.needs_signal = self.needs.copy()
        self.service_total = np.zeros(n, dtype=F32)
        self.has_dropout = bool((self.dropout > 0).any())
        self.pool_size = max(n - size, 1)
        self._keys: tuple[int, int, int] | None = None
        # Each column starts on its own cache line (sim.memory): the step's passes stream
        # some forty of them at once. The step's outputs take the slots after them.
        # One column at a time, nothing else holding it: each old copy is freed as its new one is made.
        del cols, grower, seg, idx, consent_draw
        self._layout = Layout()
        for name in [k for k, v in vars(self).items() if isinstance(v, np.ndarray) and v.shape == (n,)]:
            setattr(self, name, self._layout.copy(getattr(self, name)))

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

        The same equation as the customer step's churn, at the current state.

        Args:
            pull: Competitor pull.
            cover: Share of lock-in bought out by a competitor's promotion.

        Returns:
            Float32 array in [0, 1].
        """
        b = self.behaviour
        ids = np.flatnonzero(self.status == ACTIVE)
        h = np.zeros(self.n, dtype=F32)
        h[ids] = self._hazard_of(ids, self.satisfaction[ids], self.loyalty[ids],
                                 F32(b.competitor_churn * pull), F32(1.0 - cover))
        return h

    def _hazard_of(self, ids: np.ndarray, sat: np.ndarray, loy: np.ndarray, pull_term: np.float32,
                   cover_keep: np.float32) -> np.ndarray:
        """The churn hazard of the customers `ids` given their satisfaction and loyalty."""
        b = self.behaviour
        x = (F32(b.reference_satisfaction) - sat) * F32(b.churn_satisfaction)
        x += (F32(b.reference_loyalty) - loy) * F32(b.churn_loyalty)
        x[self.complaint_open[ids] | self.grudge[ids]] += F32(b.churn_unresolved)
        h = exp32(x)
        h *= self.base_churn[ids]
        h += (ONE - loy) * self.trait("price_sensitivity", ids) * pull_term
        h *= ONE - self.lock[ids] * F32(b.lock_protection) * cover_keep
        return np.clip(h, 0.0, 1.0, out=h)

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
        consent = self._layout.empty(self.n, bool)
        np.less(self.consent_draw, share, out=consent)
        self.consent = consent  # a new array: earlier views keep the consent they saw

    def trait(self, name: str, rows: Any = None) -> np.ndarray:
        """A segment trait's values per customer (or at `rows`), without making its column.

        A new array unless the trait is already a column (then the column, or
        its values at `rows`): edit a trait through the attribute instead.

        Args:
            name: One of `SEGMENT_TRAITS`.
            rows: Customer indices, a mask or a slice; default all.
        """
        col = self._trait_rows.get(name)
        if col is not None:
            return col if rows is None else col[rows]
        table = self._trait_table[name]
        return table[self.segment] if rows is None else table[self.segment[rows]]

    def column(self, name: str, rows: Any = None) -> np.ndarray:
        """A column of `PUBLIC_COLUMNS` (or its values at `rows`) as `to_frame` and `Customer` show it.

        A segment trait is read without making it a column; survey answers are
        float32, NaN where the customer never answered.
        """
        if name in SEGMENT_TRAITS:
            return self.trait(name, rows)
        values = getattr(self, name)
        if rows is not None:
            values = values[rows]
        if name in SURVEY_ANSWERS:
            return np.where(values == NO_ANSWER, np.float32(np.nan), values.astype(F32))
        return values

    def trait_column(self, name: str) -> np.ndarray:
        """The per-customer column of a segment trait, made from its segment's values if need be.

        From then on the column is the trait: editing it changes the customers
        it is edited for (4 bytes per customer more, for this trait).
        """
        col = self._trait_rows.get(name)
        if col is None:
            col = self._layout.copy(self._trait_table[name][self.segment])
            self._trait_rows[name] = col
        return col

    def trait_args(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """A segment trait as the kernels take it (`kernels.trait_at`): table and segments, or column, None."""
        col = self._trait_rows.get(name)
        return (col, None) if col is not None else (self._trait_table[name], self.segment)

    @property
    def nbytes(self) -> int:
        """Bytes of the customers' state (the network has its own `nbytes`).

        Every column, the segment traits' tables and any column made of one.
        """
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        arrays += [*self._trait_table.values(), *self._trait_rows.values()]
        return sum(a.nbytes for a in arrays)

    @property
    def free_slot(self) -> int:
        """The first cache-line slot (`sim.memory`) that neither the columns nor the step's outputs use."""
        return self._layout.next + STEP_OUTPUTS

    # ------------------------------------------------------------------ one period

    def step(self, t: int, alloc: Allocation, market: MarketState,
             rng: np.random.Generator, survey_rng: np.random.Generator,
             acquisition_rng: np.random.Generator, survey_rate: float) -> PeriodOutcome:
        """Advance every customer by one period.

        Customers experience the firm's service and offer, compare it with what
        they expected, complain, talk, grow, churn and buy; then surveys run and
        new customers join. See docs/model.md for each equation.

        The work is done by the compiled kernels of `sim.agents.kernels` when
        numba is available (`sim.jit.ENABLED`), otherwise by the numpy methods
        below, which apply the same equations in the same order.

        Args:
            t: The period (0-based).
            alloc: What the firm gives customers this period.
            market: The market this period.
            rng: The customers' stream (its first call gives the stream's key).
            survey_rng: The surveys' stream (likewise).
            acquisition_rng: The acquisition stream (likewise).
            survey_rate: Share of active customers surveyed.

        Returns:
            What happened, for the metrics.
        """
        if self._keys is None:  # counter-based draws: one key per stream (sim.streams)
            self._keys = (stream_key(rng), stream_key(survey_rng), stream_key(acquisition_rng))
        kc, ks, ka = self._keys
        b, n = self.behaviour, self.n
        active = self.status == ACTIVE
        compiled = jit.ENABLED
        lay = Layout(self._layout.next)  # the outputs' slots follow the columns' (sim.memory)
        filed = (lay.empty if compiled else lay.zeros)(n, bool)  # the kernel writes every row
        promise_term = F32(b.promise_effect * (alloc.promise - b.honest_promise))
        offer = np.asarray(alloc.offer, dtype=F32)
        if compiled:
            kernels.experience(
                self.status, self.segment, self.needs, alloc.service, alloc.points, offer,
                *self.trait_args("service_sensitivity"), self.expectation, self.satisfaction,
                self.relationship, self.lock, self.growth, self.growth_max, self.service_total,
                self.complaint_open, self.grudge, *self.trait_args("complaint_propensity"), filed,
                period_base(kc, t, NEEDS), period_base(kc, t, QUALITY), period_base(kc, t, COMPLAIN),
                self._experience_params(),
                *self._experience_scales(), promise_term, NORMAL_TABLE)
        else:
            self._experience(t, alloc, offer, filed, promise_term)

        # Complaints waiting from earlier periods are handled (or not); then this period's are filed.
        resolved, abandoned = self._handle_complaints(alloc)
        new_ids = np.flatnonzero(filed)
        self.complaint_open[new_ids] = True
        self.complaints_total[new_ids] += 1

        # Negative word of mouth: the dissatisfied and unresolved talk; everyone hears.
        emit = lay.empty(n, F32)
        heard = lay.empty(n, F32)
        nw = self.network
        gather = compiled and nw.kind == "small_world"
        if compiled:
            kernels.word_of_mouth(
                self.status, self.satisfaction, self.complaint_open, self.grudge,
                *self.trait_args("sociability"), nw.indptr, nw.indices, nw.weights, emit, heard, gather,
                b.wom_deterrence > 0, F32(b.detractor_threshold), F32(b.wom_unresolved))
        else:
            self._emit(emit)
        if not gather:
            heard = nw.neighbour_mean(emit)

        # Loyalty, purchases, churn, CRM records, surveys, likelihood to recommend.
        # The compiled pass writes every row of its outputs; the numpy one only the active rows.
        out = lay.empty if compiled else lay.zeros
        purchases = out(n, np.int32)
        revenue = out(n, F32)
        churned = out(n, bool)
        scores = out(n, F32)
        promote = emit  # reuse the buffer: the sociability of promoters who stay
        if not compiled:
            promote[:] = 0.0
        outs = (purchases, revenue, churned, scores, promote)
        pull_term = F32(b.competitor_churn * market.pull)
        cover_keep = F32(1.0 - market.switching_cover)
        if compiled:
            asked = lay.empty(n, bool)
            prm = self._react_params()
            left = kernels.react(
                t, self.status, self.satisfaction, self.loyalty, self.relationship, self.lock,
                self.growth, self.purchase_rate, self.spend, *self.trait_args("price_sensitivity"),
                self.base_churn, self.dropout, self.complaint_open, self.grudge, self.needs,
                self.needs_signal, self.last_purchase, self.frequency, self.monetary,
                self.purchases_total, self.revenue_total, self.churned_at,
                *self.trait_args("sociability"), heard, *outs, asked,
                *(period_base(kc, t, s) for s in (PURCHASE, DROPOUT, CHURN, SIGNAL)),
                period_base(ks, t, SURVEY_PICK), prm, F32(market.spend_drop), pull_term, cover_keep,
                F32(survey_rate), self.has_dropout, NORMAL_TABLE)
            # The few asked answer in a second, sparse pass (a survey reaches about 2 %).
            kernels.survey(t, np.flatnonzero(asked), self.satisfaction, self.loyalty, self.survey_nps,
                           self.survey_csat, self.survey_at,
                           *(period_base(ks, t, s) for s in (SURVEY_ANSWER, SURVEY_NPS, SURVEY_CSAT)),
                           *prm[-3:], NORMAL_TABLE)
            del asked
            # The numpy step finishes the customers buying more than COUNT_CAP times (rare).
            rest = np.flatnonzero(purchases == -1) if left else None
        else:
            rest = np.flatnonzero(self.status == ACTIVE)
        if rest is not None:
            self._react(t, kc, ks, heard, outs, F32(market.spend_drop), pull_term, cover_keep,
                        F32(survey_rate), rest)

        # New customers: paid acquisition and referrals by promoters.
        won = lay.zeros(n, bool)
        referred = lay.zeros(n, bool)
        boost = float(np.exp(1.5 * (alloc.promise - b.honest_promise)))
        paid = alloc.acquisition * boost / (self.acq_cost * self.pool_size)
        if compiled:
            share = promote if gather else nw.neighbour_mean(promote)
            # A mean over ties is at most the largest value (times float32 rounding, < 1e-5 for
            # any degree below 10^4): the 0.1 % margin makes the bound safe.
            bound = float(promote.max(initial=0.0)) * 1.001 if gather else np.inf
            kernels.adoption(
                self.status, nw.indptr, nw.indices, nw.weights, promote, share, gather, heard,
                period_base(ka, t, ADOPT), period_base(ka, t, SOURCE), paid, float(b.referral_rate),
                float(b.wom_deterrence), bound, won, referred)
        else:
            self._adoption(t, ka, promote, heard, paid, won, referred)
        self._welcome(t, alloc, np.flatnonzero(won), scores)
        return PeriodOutcome(
            active_start=active, purchases=purchases, revenue=revenue, churned=churned,
            acquired=won, referred=referred, complaints_new=filed,
            complaints_resolved=resolved, complaints_abandoned=abandoned,
            recommend=scores,
        )

    def _experience_params(self) -> tuple:
        b = self.behaviour
        return tuple(F32(v) for v in (
            b.needs_drift, self.quality, b.service_effect, b.fit_weight, b.perception_noise,
            b.loss_aversion, b.expectation_weight, b.satisfaction_base, b.disconfirmation_weight,
            b.satisfaction_speed, b.complaint_threshold, b.complaint_probability,
            1.0 - b.service_adaptation, b.expectation_adaptation, 1.0 - b.lock_decay, b.points_lock,
            b.growth_speed))

    def _experience_scales(self) -> tuple[np.float32, np.float32, np.float32]:
        b = self.behaviour
        return F32(-b.service_scale), F32(-b.points_scale), F32(-2.0 * float(b.fit_width) ** 2)

    def _react_params(self) -> tuple:
        b = self.behaviour
        return tuple(F32(v) for v in (
            b.wom_negative, b.relationship_weight, b.lockin_crowding, b.loyalty_speed,
            b.reference_satisfaction, b.purchase_satisfaction, b.churn_satisfaction,
            b.reference_loyalty, b.churn_loyalty, b.churn_unresolved, b.lock_protection,
            self.crm_noise, b.survey_response, b.survey_anger_bias, b.recommend_shift))

    # The numpy twin of the kernels: the same equations on index subsets, in the same order.

    def _experience(self, t: int, alloc: Allocation, offer: np.ndarray, filed: np.ndarray,
                    promise_term: np.float32) -> None:
        (drift, quality, eff, fitw, noise, la, ew, base, dw, speed, cthr, cprob, keep_lift, ea,
         lock_keep, plock, gspeed) = self._experience_params()
        kc = self._keys[0]
        live = np.flatnonzero(self.status != CHURNED)
        self.needs[live] += drift * normal(period_base(kc, t, NEEDS), live)
        neg_scale, neg_pscale, neg_fit_den = self._experience_scales()
        ids = np.flatnonzero(self.status == ACTIVE)
        service = alloc.service[ids]
        nurture = ONE - exp32(service / neg_scale)
        lift = self.trait("service_sensitivity", ids) * eff * nurture
        d = self.needs[ids] - offer[self.segment[ids]]
        fit = exp32(d * d / neg_fit_den)
        perceived = lift + quality + (fit - ONE) * fitw + noise * normal(period_base(kc, t, QUALITY), ids)
        exp_i = self.expectation[ids]
        gap = perceived - exp_i
        felt = np.where(gap < 0, gap * la, gap)
        x = (exp_i - quality) * ew + base + felt * dw
        target = ONE / (ONE + exp32(-x))
        sat = self.satisfaction[ids]
        self.satisfaction[ids] = sat + (target - sat) * speed
        cand = ids[(gap < -cthr) & ~(self.complaint_open[ids] | self.grudge[ids])]
        hit = uniform(period_base(kc, t, COMPLAIN), cand) < cprob * self.trait("complaint_propensity", cand)
        filed[cand[hit]] = True
        self.expectation[ids] = exp_i + ((perceived - lift * keep_lift - exp_i) * ea + promise_term)
        rel = self.relationship[ids]
        self.relationship[ids] = rel + (nurture - rel) * F32(0.1)
        lk = self.lock[ids] * lock_keep + (ONE - exp32(alloc.points[ids] / neg_pscale)) * plock
        self.lock[ids] = np.clip(lk, 0.0, 1.0)
        g = self.growth[ids]
        self.growth[ids] = g + (self.growth_max[ids] - g) * (nurture * gspeed)
        self.service_total[ids] += service

    def _emit(self, emit: np.ndarray) -> None:
        b = self.behaviour
        emit[:] = 0.0
        ids = np.flatnonzero(self.status == ACTIVE)
        thr = F32(b.detractor_threshold)
        e = np.maximum(F32(0.0), thr - self.satisfaction[ids]) / thr
        e[self.complaint_open[ids] | self.grudge[ids]] += F32(b.wom_unresolved)
        emit[ids] = e * self.trait("sociability", ids)

    def _react(self, t: int, kc: int, ks: int, heard: np.ndarray, outs: tuple, spend_drop: np.float32,
               pull_term: np.float32, cover_keep: np.float32, survey_rate: np.float32,
               ids: np.ndarray) -> None:
        """`kernels.react` for the active customers `ids` (all of them, or the compiled pass's rest)."""
        (wneg, rw, crowd, lspeed, ref_s, ps, _cs, _ref_l, _cl, _cu, _lprot, crm_noise, resp, anger,
         shift) = self._react_params()
        purchases, revenue, churned, scores, promote = outs
        sat = np.clip(self.satisfaction[ids] - heard[ids] * wneg, 0.0, 1.0)
        self.satisfaction[ids] = sat
        lt = np.clip(self.relationship[ids] * rw + sat - self.lock[ids] * crowd, 0.0, 1.0)
        loy0 = self.loyalty[ids]
        loy = loy0 + (lt - loy0) * lspeed
        self.loyalty[ids] = loy
        lam = exp32((sat - ref_s) * ps) * self.purchase_rate[ids]
        k = _poisson(lam, uniform(period_base(kc, t, PURCHASE), ids).astype(np.float64))
        drop = np.zeros(ids.size, dtype=bool)
        if self.has_dropout:
            # BG/NBD: after each purchase the customer drops out with probability p; the
            # j-th purchase is the last if 1 − u ≥ (1 − p)^j (the inverse geometric CDF).
            bb = np.flatnonzero(k > 0)
            q = 1.0 - np.clip(self.dropout[ids[bb]].astype(np.float64), 1e-9, 1.0)
            v = 1.0 - uniform(period_base(kc, t, DROPOUT), ids[bb]).astype(np.float64)
            until = np.ones(bb.size, dtype=np.int32)
            qj = q.copy()
            go = np.flatnonzero((v < qj) & (until <= k[bb]))
            while go.size:
                until[go] += 1
                qj[go] *= q[go]
                go = go[(v[go] < qj[go]) & (until[go] <= k[bb[go]])]
            dd = until <= k[bb]
            drop[bb[dd]] = True
            k[bb[dd]] = until[dd]
        purchases[ids] = k
        h = self._hazard_of(ids, sat, loy, pull_term, cover_keep)
        c = drop | (uniform(period_base(kc, t, CHURN), ids) < h)
        churned[ids] = c
        f = self.frequency[ids].astype(np.float64)
        self.frequency[ids] = (f + (k - f) * 0.1).astype(F32)
        bb = np.flatnonzero(k > 0)
        bid, kb = ids[bb], k[bb]
        sf = 1.0 - np.minimum(1.0, (spend_drop * self.trait("price_sensitivity", bid)).astype(np.float64))
        r = (kb.astype(np.float64) * self.spend[bid].astype(np.float64)
             * self.growth[bid].astype(np.float64) * sf).astype(F32)
        revenue[bid] = r
        self.last_purchase[bid] = t
        m = self.monetary[bid].astype(np.float64)
        self.monetary[bid] = (m + 0.2 * (r.astype(np.float64) / kb - m)).astype(F32)
        self.purchases_total[bid] += kb
        self.revenue_total[bid] += r
        self.needs_signal[bid] = self.needs[bid] + crm_noise * normal(period_base(kc, t, SIGNAL), bid)
        rec = np.clip((sat * F32(0.5) + loy * F32(0.5) + shift) * F32(10.0), 0.0, 10.0)
        score = np.round(rec)
        scores[ids] = score
        lost = ids[c]
        self.status[lost] = CHURNED
        self.churned_at[lost] = t
        self.complaint_open[lost] = False
        stay = ~c
        sid = ids[stay]
        promote[sid] = np.where(score[stay] >= 9, self.trait("sociability", sid), F32(0.0))
        pick = uniform(period_base(ks, t, SURVEY_PICK), sid) < survey_rate
        pid, sat_p, rec_p = sid[pick], sat[stay][pick], rec[stay][pick]
        ans = uniform(period_base(ks, t, SURVEY_ANSWER), pid) < resp * (ONE + anger * (ONE - sat_p))
        aid, sat_a = pid[ans], sat_p[ans]
        self.survey_nps[aid] = np.clip(np.round(rec_p[ans] + normal(period_base(ks, t, SURVEY_NPS), aid)),
                                       0.0, 10.0)
        self.survey_csat[aid] = np.clip(np.round(ONE + F32(4.0) * sat_a + F32(0.5) * normal(
            period_base(ks, t, SURVEY_CSAT), aid)), 1.0, 5.0)
        self.survey_at[aid] = t

    def _adoption(self, t: int, ka: int, promote: np.ndarray, heard: np.ndarray, paid: float,
                  won: np.ndarray, referred: np.ndarray) -> None:
        b = self.behaviour
        pot = np.flatnonzero(self.status == POTENTIAL)
        share = self.network.neighbour_mean(promote)[pot]
        referral = float(b.referral_rate) * share.astype(np.float64)
        pd = np.full(pot.size, paid)
        if b.wom_deterrence > 0:
            # Negative word of mouth heard by potential customers deters them (brand image).
            deter = np.exp(-float(b.wom_deterrence) * heard[pot].astype(np.float64))
            pd, referral = pd * deter, referral * deter
        rate = pd + referral
        hit = uniform(period_base(ka, t, ADOPT), pot).astype(np.float64) < -np.expm1(-rate)
        new = pot[hit]
        won[new] = True
        referred[new] = (uniform(period_base(ka, t, SOURCE), new).astype(np.float64)
                         * np.maximum(rate[hit], 1e-12) < referral[hit])

    def _welcome(self, t: int, alloc: Allocation, new: np.ndarray, scores: np.ndarray) -> None:
        """Newcomers join: they expect what marketing promised them."""
        if not new.size:
            return
        b = self.behaviour
        self.status[new] = ACTIVE
        self.joined[new] = t + 1
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
        df = pd.DataFrame({c: self.column(c) for c in PUBLIC_COLUMNS})
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
            v = self._pop.column(name, self.id)
            return v.item() if hasattr(v, "item") else v
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in PUBLIC_COLUMNS:
            raise AttributeError(f"customers have no column {name!r}")
        if name in SURVEY_ANSWERS and value is not None and np.isnan(value):
            value = NO_ANSWER
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
