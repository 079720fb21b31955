"""Customers: agents whose state is held column-wise and stepped in bulk.

Every person of the market — current customers and the potential customers a
firm may still win — is a row of the columns declared in `sim.agents.state`.
A period runs the passes of `sim.agents.kernels` over all rows; each pass
applies rules of `sim.agents.rules`, which hold the equations of
docs/model.md. `Customer` is a read/write view of one row, for notebooks and
tests.

Random numbers are counter-based (`sim.streams`), keyed by the model's
`customers`, `surveys` and `acquisition` streams: a customer's draw for a
mechanism in a period is the same whatever the manager does and whichever
other customers are drawn for, so policies compared in one replication see
identical random numbers (common random numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.agents import kernels
from sim.agents.state import (
    ACTIVE,
    BY_NAME,
    CHURNED,
    MAX_HISTORY,
    NEVER,
    NO_ANSWER,
    POTENTIAL,
    PUBLIC_COLUMNS,
    SEGMENT_TRAITS,
    STORED,
    SURVEY_ANSWERS,
    Params,
    State,
    Traits,
    make_params,
    needs_keep,
)
from sim.allocation import Allocation
from sim.empirical import apply_inputs
from sim.market import MarketState
from sim.memory import Layout
from sim.network import SocialNetwork, build_network
from sim.scenario import Scenario, Segment, weekly_to_period
from sim.streams import NORMAL_TABLE, period_base, stream_key

if TYPE_CHECKING:
    from sim.events import NeedsShift

__all__ = ["ACTIVE", "CHURNED", "NO_ANSWER", "POTENTIAL", "PUBLIC_COLUMNS", "SEGMENT_TRAITS", "SURVEY_ANSWERS",
           "Customer", "CustomerPopulation", "PeriodOutcome", "segment_value", "weekly_to_period"]

F32 = np.float32

# The mechanism slots of the counter-based draws (`sim.streams.period_base`), per stream.
NEEDS, PERCEPTION, COMPLAIN, PURCHASE, CHURN, SIGNAL, DROPOUT = range(7)  # customers' stream
SURVEY_PICK, SURVEY_ANSWER, SURVEY_NPS, SURVEY_CSAT = range(4)  # surveys' stream
ADOPT, SOURCE = range(2)  # acquisition stream
#: Full-length arrays `CustomerPopulation.step` allocates (each on its own cache-line slot, `sim.memory`).
STEP_OUTPUTS = 10


def _beta(rng: np.random.Generator, mean: float, conc: float | None, n: int) -> np.ndarray:
    if conc is None or mean <= 0 or mean >= 1:
        return np.full(n, mean, dtype=F32)
    return rng.beta(mean * conc, (1 - mean) * conc, size=n).astype(F32)


def _gamma(rng: np.random.Generator, mean: float, shape: float | None, n: int) -> np.ndarray:
    if shape is None or mean <= 0:
        return np.full(n, mean, dtype=F32)
    return rng.gamma(shape, mean / shape, size=n).astype(F32)


def segment_value(seg: Segment, name: str, weeks: float = 1.0, written: bool = True) -> float:
    """A segment parameter per period, as the scenario holds it.

    The scenario converts its weekly defaults to its period when it is read
    (`sim.scenario.in_periods`), so its values are per period already and are
    never converted here. `weeks` and `written` are accepted for older callers
    and ignored.
    """
    return getattr(seg, name)


def mean_revenue(segments: Sequence[Segment], weeks: float = 1.0, written: bool = True) -> float:
    """The customers' mean revenue per period at reference satisfaction: Σ share × spend × purchase rate.

    The unit of the money constants of `Behaviour` (`service_scale`, `points_scale`), so
    that multiplying every money amount of a scenario by a constant changes no customer's
    behaviour and multiplies money outcomes by the constant. Customers who never buy
    (every purchase rate 0) bring no revenue: then the mean spend per purchase.
    Per period of the scenario (`weeks` and `written` are ignored, as in `segment_value`).
    """
    total = sum(s.share for s in segments)
    spend = [s.share / total * segment_value(s, "spend") for s in segments]
    revenue = sum(m * segment_value(s, "purchase_rate")
                  for m, s in zip(spend, segments, strict=True))
    return revenue if revenue > 0 else sum(spend)


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


class _Column:
    """A column of `sim.agents.state.STORED` as an attribute of the population (read, replaced)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pop: CustomerPopulation | None, owner: type | None = None) -> Any:
        return self if pop is None else pop._cols.get(self.name)

    def __set__(self, pop: CustomerPopulation, value: np.ndarray) -> None:
        pop._cols[self.name] = value


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
    """All customers and potential customers of the market, as columns (`sim.agents.state.COLUMNS`).

    Args:
        scenario: The scenario.
        init_rng: Stream for traits.
        network_rng: Stream for the social network.
    """

    def __init__(self, scenario: Scenario, init_rng: np.random.Generator,
                 network_rng: np.random.Generator) -> None:
        pop = scenario.population
        self.behaviour = pop.behaviour
        self.quality = scenario.market.quality
        self.acq_cost = scenario.market.acquisition_cost
        self.crm_noise = scenario.market.crm_noise
        self.weeks = scenario.per_period
        #: Periods run before period 0 (`scenario.burn_in`): the initial customers' CRM history ends before.
        self.burn_in = scenario.burn_in
        self.params: Params = make_params(pop.behaviour, scenario.market.reference_quality, self.crm_noise,
                                          mean_revenue(pop.segments), self.weeks)
        size = pop.size
        n = size + round(size * pop.potential)
        self.n, self.initial_size = n, size
        self.pool_size = max(n - size, 1)
        self.segment_names = tuple(s.name for s in pop.segments)
        #: The needs each segment's offer is first tuned to.
        self.segment_needs = np.array([s.needs for s in pop.segments], dtype=F32)
        #: The needs each segment's customers wander around (moved by needs shifts), and the sd of
        #: their weekly step that keeps the segment's spread [N1].
        self.needs_centre = self.segment_needs.copy()
        keep = needs_keep(pop.behaviour.needs_halflife)
        self.needs_step = np.array([s.needs_spread * np.sqrt(max(1.0 - keep * keep, 0.0))
                                    for s in pop.segments], dtype=F32)
        # The network first: its construction needs more scratch memory than anything else, and
        # the columns do not exist yet (its own stream, so the order changes no draw).
        nw = pop.network
        self.network: SocialNetwork = build_network(nw.kind, n, nw.degree, nw.rewire, network_rng)
        self._cols: dict[str, np.ndarray] = {}
        # Per segment (SEGMENT_TRAITS): the table, and the per-customer column once one is made.
        self._trait_table = {name: np.array([segment_value(s, name) for s in pop.segments],
                                            dtype=F32) for name in SEGMENT_TRAITS}
        self._trait_rows: dict[str, np.ndarray] = {}
        self._draw_traits(pop.segments, size, init_rng)
        regulated = any(ev.kind == "regulation" for ev in scenario.market.events)
        self._start_state(size, init_rng, regulated)
        apply_inputs(self, scenario, init_rng)  # a customer table, an edge list (sim.empirical); else nothing
        self.has_dropout = bool((self.dropout > 0).any())
        #: How far prospects discount the firm's promises: what it has over-promised lately [A2].
        self.broken_promises = 0.0
        # The purchase rate the CRM assumes for a newcomer before it has watched them: their segment's mean.
        counts = np.bincount(self._cols["segment"], minlength=len(pop.segments))
        self._prior_rate = (np.bincount(self._cols["segment"], weights=self._cols["purchase_rate"],
                                        minlength=len(pop.segments)) / np.maximum(counts, 1)).astype(F32)
        self._keys: tuple[int, int, int] | None = None
        # Each column starts on its own cache line (sim.memory): the step's passes stream some
        # forty of them at once. The step's outputs take the slots after them. One column at a
        # time, nothing else holding it: each old copy is freed as its new one is made.
        self._layout = Layout()
        for col in STORED:
            if col.name in self._cols:
                self._cols[col.name] = self._layout.copy(self._cols[col.name])

    def _draw_traits(self, segments: tuple[Segment, ...], size: int, rng: np.random.Generator) -> None:
        """Segments and the traits drawn inside each (docs/model.md, Customers)."""
        n = self.n
        shares = np.array([s.share for s in segments])
        # Initial customers and the potential pool are each split by share exactly.
        seg = np.concatenate([self._split(size, shares, rng), self._split(n - size, shares, rng)])
        cols = self._cols
        cols["segment"] = seg.astype(np.int16)
        for name in ("spend", "purchase_rate", "base_churn", "dropout", "growth_max", "likability", "advocacy",
                     "needs", "satisfaction", "loyalty"):
            cols[name] = np.empty(n, dtype=F32)
        grower = np.zeros(n, dtype=bool)
        for k, s in enumerate(segments):
            idx = np.flatnonzero(seg == k)
            m = idx.size
            cols["spend"][idx] = _gamma(rng, s.spend, s.spend_shape, m)
            cols["purchase_rate"][idx] = _gamma(rng, segment_value(s, "purchase_rate"),
                                                s.purchase_shape, m)
            cols["base_churn"][idx] = _beta(rng, segment_value(s, "churn"),
                                            s.churn_concentration, m)
            cols["dropout"][idx] = _beta(rng, s.dropout_per_purchase, s.dropout_concentration, m)
            grower[idx] = rng.random(m) < s.growth_potential
            cols["growth_max"][idx] = s.growth_max
            cols["likability"][idx] = s.likability + rng.standard_normal(m)
            cols["advocacy"][idx] = s.advocacy + self.behaviour.advocacy_spread * rng.standard_normal(m)
            cols["needs"][idx] = s.needs + s.needs_spread * rng.standard_normal(m)
            cols["satisfaction"][idx] = np.nan if s.satisfaction is None else s.satisfaction
            cols["loyalty"][idx] = np.nan if s.loyalty is None else s.loyalty
        cols["growth_max"] = np.where(grower, cols["growth_max"], 1.0).astype(F32)

    def _start_state(self, size: int, rng: np.random.Generator, regulated: bool) -> None:
        """Everything else at period 0: the initial customers are active, the rest potential."""
        n, cols = self.n, self._cols
        status = np.zeros(n, dtype=np.int8)
        status[:size] = ACTIVE
        active = status == ACTIVE
        cols["status"] = status
        # Periods as int16: the horizon is at most MAX_HORIZON periods (sim.scenario), -1 for never.
        cols["joined"] = np.full(n, NEVER, dtype=np.int16)
        cols["churned_at"] = np.full(n, -1, dtype=np.int16)
        cols["growth"] = np.ones(n, dtype=F32)
        # Everyone starts at rest [J1]: expecting what they perceive of the offer tuned to their segment.
        given_sat, given_loy = cols["satisfaction"].copy(), cols["loyalty"].copy()
        cols["expectation"] = np.full(n, self.quality, dtype=F32)
        kernels.at_rest(np.arange(n), cols["needs"], cols["segment"], self.segment_needs, F32(self.quality),
                        F32(0.0),
                        cols["expectation"], cols["satisfaction"], cols["loyalty"], self.params)
        # A segment's own starting satisfaction or loyalty, when given, overrides; loyalty follows
        # satisfaction unless given.
        cols["satisfaction"] = np.where(np.isnan(given_sat), cols["satisfaction"], given_sat).astype(F32)
        cols["loyalty"] = np.where(np.isnan(given_loy), cols["satisfaction"], given_loy).astype(F32)
        del given_sat, given_loy
        for name in ("lock", "relationship", "revenue_total", "service_total"):
            cols[name] = np.zeros(n, dtype=F32)
        for name in ("complaint_open", "grudge"):
            cols[name] = np.zeros(n, dtype=bool)
        cols["complaint_age"] = np.zeros(n, dtype=np.int16)
        cols["complaints_total"] = np.zeros(n, dtype=np.int16)
        cols["consent"] = np.ones(n, dtype=bool)
        consent_draw = rng.random(n).astype(F32)
        if regulated:  # kept only if a data-protection regulation will need it (memory)
            cols["consent_draw"] = consent_draw
        # What the firm's CRM records (the manager's only window on customers).
        cols["last_purchase"] = np.full(n, NEVER, dtype=np.int16)
        cols["frequency"] = np.zeros(n, dtype=F32)
        cols["monetary"] = np.where(active, cols["spend"], 0).astype(F32)
        self._history(active, rng)
        cols["purchases_total"] = np.zeros(n, dtype=np.int32)
        for name in SURVEY_ANSWERS:
            cols[name] = np.full(n, NO_ANSWER, dtype=np.int8)
        cols["survey_at"] = np.full(n, NEVER, dtype=np.int16)
        cols["needs_signal"] = cols["needs"].copy()

    @staticmethod
    def _split(m: int, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        counts = np.floor(shares * m).astype(int)
        rest = m - counts.sum()
        if rest:
            frac = shares * m - counts
            counts[np.argsort(-frac, kind="stable")[:rest]] += 1
        seg = np.repeat(np.arange(len(shares)), counts)
        return rng.permutation(seg)

    # ------------------------------------------------------------------ the state as kernels take it

    def state(self) -> State:
        """Every stored column, by name, as the kernels take them."""
        return State(**{name: self._cols[name] for name in State._fields})

    def traits(self) -> Traits:
        """The segment traits as the kernels take them: (table, segments) or (column, None) each."""
        return Traits(**{name: self.trait_args(name) for name in SEGMENT_TRAITS})

    # ------------------------------------------------------------------ equations at the current state

    def recommend(self, rows: np.ndarray | None = None) -> np.ndarray:
        """True likelihood to recommend, 0–10 (promoters 9–10, detractors 0–6) [V1].

        Args:
            rows: Only these customers (indices); default all.
        """
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        out = np.empty(rows.size, dtype=F32)
        kernels.recommendations(self.state(), rows, self.params, out)
        return out

    def hazard(self, pull: float = 0.0, cover: float = 0.0) -> np.ndarray:
        """Churn probability per customer for one period (0 for inactive rows) [H1].

        The same rule as the customer step's churn, at the current state.

        Args:
            pull: Competitor pull.
            cover: Share of lock-in bought out by a competitor's promotion.

        Returns:
            Float32 array in [0, 1].
        """
        out = np.empty(self.n, dtype=F32)
        kernels.hazards(self.state(), self.traits(), F32(self.behaviour.competitor_churn * pull),
                        F32(1.0 - cover), self.params, out)
        return out

    # ------------------------------------------------------------------ events

    def shift_needs(self, ev: NeedsShift, rng: np.random.Generator) -> None:
        """Move customers' needs at once (a market-wide needs shift)."""
        noise = rng.standard_normal(self.n).astype(F32)
        mask = np.ones(self.n, dtype=bool)
        if ev.segments is not None:
            ids = [self.segment_names.index(s) for s in ev.segments if s in self.segment_names]
            mask = np.isin(self.segment, ids)
        self.needs += np.where(mask, ev.size + ev.spread * noise, 0).astype(F32)
        hit = np.ones(len(self.segment_names), dtype=bool)
        if ev.segments is not None:
            hit = np.isin(np.arange(len(self.segment_names)), ids)
        self.needs_centre += np.where(hit, ev.size, 0).astype(F32)

    def apply_consent(self, share: float) -> None:
        """Data-protection rules: only consenting customers' data may be used."""
        if self.consent_draw is None:
            raise RuntimeError("the scenario has no regulation event: consent draws were not kept")
        consent = self._layout.empty(self.n, bool)
        np.less(self.consent_draw, share, out=consent)
        self.consent = consent  # a new array: earlier views keep the consent they saw

    # ------------------------------------------------------------------ traits and columns

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
        shown = BY_NAME[name].shown
        if shown == "trait":
            return self.trait(name, rows)
        values = self._cols[name]
        if rows is not None:
            values = values[rows]
        if shown == "answer":
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
        arrays = [*self._cols.values(), *self._trait_table.values(), *self._trait_rows.values()]
        return sum(a.nbytes for a in arrays)

    @property
    def free_slot(self) -> int:
        """The first cache-line slot (`sim.memory`) that neither the columns nor the step's outputs use."""
        return self._layout.next + STEP_OUTPUTS

    # ------------------------------------------------------------------ one period

    def step(self, t: int, alloc: Allocation, market: MarketState,
             rng: np.random.Generator, survey_rng: np.random.Generator,
             acquisition_rng: np.random.Generator, survey_rate: float) -> PeriodOutcome:
        """Advance every customer by one period (docs/model.md, "One period").

        Customers experience the firm's service and offer, compare it with what
        they expected and complain; waiting complaints are handled or not; the
        dissatisfied talk; customers feel it, grow loyal or not, buy and churn;
        surveys run and new customers join.

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
        per = self._period(t, alloc, market, (rng, survey_rng, acquisition_rng), survey_rate)
        c, tr, p = self.state(), self.traits(), self.params
        lay = Layout(self._layout.next)  # the outputs' slots follow the columns' (sim.memory)
        active = c.status == ACTIVE
        filed = lay.empty(self.n, bool)  # the kernel writes every row
        offer = np.asarray(alloc.offer, dtype=F32)
        kernels.experience(c, tr, alloc.service, alloc.points, offer, self.needs_centre, self.needs_step, filed,
                           per, p, NORMAL_TABLE)
        resolved, abandoned = self._handle_complaints(c, alloc)
        self._file(filed)
        if p.weeks is not None:  # a period of several weeks: the desk answers its own complaints too [C2]
            resolved += self._handle_new_complaints(c, alloc, filed, alloc.complaint_capacity - resolved)
        emit, heard = self._word_of_mouth(c, tr, filed, lay)
        reaction = self._react(c, tr, heard, filed, emit, per, lay)
        won, referred = self._adoption(per, alloc, emit, heard, lay)
        self._welcome(t, alloc, per.quality, np.flatnonzero(won), reaction.scores)
        return PeriodOutcome(
            active_start=active, purchases=reaction.purchases, revenue=reaction.revenue,
            churned=reaction.churned, acquired=won, referred=referred, complaints_new=filed,
            complaints_resolved=resolved, complaints_abandoned=abandoned, recommend=reaction.scores)

    def _period(self, t: int, alloc: Allocation, market: MarketState, rngs: tuple[np.random.Generator, ...],
                survey_rate: float) -> kernels.Period:
        """The period as the passes see it: the counter bases of every mechanism and the market's terms."""
        if self._keys is None:  # counter-based draws: one key per stream (sim.streams)
            self._keys = tuple(stream_key(r) for r in rngs)
        kc, ks, ka = self._keys
        b = self.behaviour
        return kernels.Period(
            t=t, needs=period_base(kc, t, NEEDS), perception=period_base(kc, t, PERCEPTION),
            complain=period_base(kc, t, COMPLAIN), purchase=period_base(kc, t, PURCHASE),
            dropout=period_base(kc, t, DROPOUT), churn=period_base(kc, t, CHURN),
            signal=period_base(kc, t, SIGNAL),
            survey_pick=period_base(ks, t, SURVEY_PICK), survey_answer=period_base(ks, t, SURVEY_ANSWER),
            survey_nps=period_base(ks, t, SURVEY_NPS), survey_csat=period_base(ks, t, SURVEY_CSAT),
            adopt=period_base(ka, t, ADOPT), source=period_base(ka, t, SOURCE),
            promise_term=F32(b.promise_effect * (alloc.promise - b.honest_promise)),
            survey_rate=F32(survey_rate), has_dropout=self.has_dropout, **self.terms(market)._asdict())

    def terms(self, market: MarketState) -> kernels.Terms:
        """The market of a period as customers feel it: the product's quality, spend lost, competitors' pull."""
        b = self.behaviour
        return kernels.Terms(quality=F32(self.quality + market.quality_shift),
                             spend_drop=F32(market.spend_drop), pull_term=F32(b.competitor_churn * market.pull),
                             cover_keep=F32(1.0 - market.switching_cover))

    def _handle_complaints(self, c: State, alloc: Allocation) -> tuple[int, int]:
        """Complaints waiting from earlier periods are handled in the decision's order, up to capacity [C2, C3].

        Returns:
            Complaints handled and complaints that became grudges.
        """
        open_ids = np.flatnonzero(c.complaint_open)
        handled = np.zeros(open_ids.size, dtype=bool)
        if open_ids.size and alloc.complaint_capacity > 0:
            if alloc.complaint_priority is None:
                key = c.complaint_age[open_ids].astype(np.float64)
            else:
                key = np.nan_to_num(alloc.complaint_priority[open_ids].astype(np.float64), nan=-np.inf)
            # Ties broken by id so the order is deterministic.
            handled[np.lexsort((open_ids, -key))[:alloc.complaint_capacity]] = True
        abandoned = kernels.handle_complaints(c, open_ids, handled, np.float64(alloc.sincerity), self.params)
        return int(handled.sum()), int(abandoned)

    def _handle_new_complaints(self, c: State, alloc: Allocation, filed: np.ndarray, capacity: int) -> int:
        """This period's complaints handled within it, in the decision's order, up to the capacity left [C2].

        Only in a period longer than a week: by weeks a complaint is answered the
        week after it is filed; by months the desk, which works every week, would
        otherwise leave it a whole month. Those not answered wait for the next
        period's handling, as every complaint does by weeks.

        Returns:
            Complaints handled.
        """
        new_ids = np.flatnonzero(filed)
        if not new_ids.size or capacity <= 0:
            return 0
        if alloc.complaint_priority is None:
            chosen = new_ids[:capacity]  # all filed now: the oldest first is by id
        else:
            key = np.nan_to_num(alloc.complaint_priority[new_ids].astype(np.float64), nan=-np.inf)
            chosen = new_ids[np.lexsort((new_ids, -key))[:capacity]]
        kernels.handle_complaints(c, chosen, np.ones(chosen.size, dtype=bool), np.float64(alloc.sincerity),
                                  self.params)
        return int(chosen.size)

    def _file(self, filed: np.ndarray) -> None:
        """This period's complaints are filed [C1]."""
        new_ids = np.flatnonzero(filed)
        self.complaint_open[new_ids] = True
        self.complaints_total[new_ids] += 1

    def _word_of_mouth(self, c: State, tr: Traits, filed: np.ndarray,
                       lay: Layout) -> tuple[np.ndarray, np.ndarray]:
        """Negative word of mouth: the dissatisfied and unresolved talk; everyone hears [W1, W2]."""
        emit = lay.empty(self.n, F32)
        heard = lay.empty(self.n, F32)
        nw = self.network
        gather = nw.kind == "small_world"
        kernels.word_of_mouth(c, tr, nw.indptr, nw.indices, nw.weights, filed, emit, heard, gather,
                              self.behaviour.wom_deterrence > 0, self.params)
        if not gather:
            heard = nw.neighbour_mean(emit)
        return emit, heard

    def _react(self, c: State, tr: Traits, heard: np.ndarray, filed: np.ndarray, promote: np.ndarray,
               per: kernels.Period, lay: Layout) -> kernels.Reaction:
        """Loyalty, purchases, churn, CRM records, surveys, likelihood to recommend.

        `filed` marks this period's complaints; `promote` is a buffer the pass
        overwrites (the sociability of promoters who stay).
        """
        n = self.n
        o = kernels.Reaction(purchases=lay.empty(n, np.int32), revenue=lay.empty(n, F32),
                             churned=lay.empty(n, bool), scores=lay.empty(n, F32), promote=promote,
                             asked=lay.empty(n, bool))
        if kernels.react(c, tr, heard, filed, o, per, self.params, NORMAL_TABLE):
            kernels.react_rest(np.flatnonzero(o.purchases == -1), c, tr, heard, filed, o, per, self.params,
                               NORMAL_TABLE)
        # The few asked answer in a second, sparse pass (a survey reaches about 2 %).
        kernels.survey(np.flatnonzero(o.asked), c, per, self.params, NORMAL_TABLE)
        return o._replace(asked=None)

    def _adoption(self, per: kernels.Period, alloc: Allocation, promote: np.ndarray, heard: np.ndarray,
                  lay: Layout) -> tuple[np.ndarray, np.ndarray]:
        """New customers: paid acquisition and referrals by promoters [A1]."""
        b, nw = self.behaviour, self.network
        won = lay.zeros(self.n, bool)
        referred = lay.zeros(self.n, bool)
        # Prospects learn to discount promises the firm has been breaking [A2].
        over = alloc.promise - b.honest_promise
        self.broken_promises += b.promise_learning * (max(over, 0.0) - self.broken_promises)
        boost = float(np.exp(1.5 * (over - self.broken_promises)))
        paid = alloc.acquisition * boost / (self.acq_cost * self.pool_size)
        gather = nw.kind == "small_world"
        share = promote if gather else nw.neighbour_mean(promote)
        # A mean over ties is at most the largest value (times float32 rounding, < 1e-5 for
        # any degree below 10^4): the 0.1 % margin makes the bound safe.
        bound = float(promote.max(initial=0.0)) * 1.001 if gather else np.inf
        kernels.adoption(self.status, nw.indptr, nw.indices, nw.weights, promote, share, gather, heard, per,
                         paid, self.params, bound, won, referred)
        return won, referred

    def _history(self, active: np.ndarray, rng: np.random.Generator) -> None:
        """What the CRM has recorded of the initial customers before period 0 [D0].

        Tenure is drawn from the customer's own chance of leaving (exogenous churn
        plus the baseline switching times the segment's `switching`), so long-standing
        customers are the ones less likely to leave, as in a real book of customers (capped at MAX_HISTORY
        periods); the last purchase from their purchase rate, within their tenure;
        the smoothed frequency from its stationary distribution around the true rate
        (mean λ, variance λ·α/(2 − α) with the CRM's smoothing α = 0.1). The CRM never
        starts from the true rates: a manager who freezes the first snapshot gains
        no knowledge the running CRM would not give.
        """
        cols, idx = self._cols, np.flatnonzero(active)
        switching = self._trait_table["switching"][cols["segment"][idx]].astype(np.float64)
        leave = np.clip(cols["base_churn"][idx].astype(np.float64) + self.behaviour.switching_base * switching,
                        1e-4, 1.0)
        tenure = np.minimum(rng.geometric(leave), MAX_HISTORY)
        rate = cols["purchase_rate"][idx].astype(np.float64)
        since = rng.geometric(np.clip(-np.expm1(-rate), 1e-4, 1.0)) - 1
        start = -self.burn_in  # the history ends where the run starts: before the burn-in, if any
        cols["joined"][idx] = start - tenure
        cols["last_purchase"][idx] = start - np.minimum(since, tenure)
        alpha = float(self.params.crm_smoothing)  # the CRM's smoothing a period [D1]
        spread = alpha / (2.0 - alpha)
        cols["frequency"][idx] = rng.gamma(np.maximum(rate / spread, 1e-9), spread).astype(F32)

    def _welcome(self, t: int, alloc: Allocation, quality: np.float32, new: np.ndarray,
                 scores: np.ndarray) -> None:
        """Newcomers join: they expect what marketing promised them [J1]."""
        if not new.size:
            return
        b = self.behaviour
        self.status[new] = ACTIVE
        self.joined[new] = t + 1
        over = alloc.promise - b.honest_promise
        promised = F32(b.promise_effect / max(b.expectation_adaptation, 1e-6) * over)
        offer = np.asarray(alloc.offer, dtype=F32)
        kernels.at_rest(new, self.needs, self.segment, offer, F32(quality), promised, self.expectation,
                        self.satisfaction, self.loyalty, self.params)
        self.loyalty[new] *= F32(0.5)
        self.last_purchase[new] = t + 1
        self.frequency[new] = self._prior_rate[self.segment[new]]
        self.monetary[new] = self.spend[new]
        scores[new] = np.round(self.recommend(new))

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


for _col in STORED:  # every stored column is an attribute: `pop.satisfaction`
    setattr(CustomerPopulation, _col.name, _Column())
    CustomerPopulation.__dict__[_col.name].__set_name__(CustomerPopulation, _col.name)
for _name in SEGMENT_TRAITS:  # and every segment trait, made a column when read
    setattr(CustomerPopulation, _name, _SegmentTrait())
    CustomerPopulation.__dict__[_name].__set_name__(CustomerPopulation, _name)


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
