"""One trainee's game: a `RetentionModel` driven round by round through the workshop's controls.

A round is a quarter (13 weekly periods). Before the first round the market
runs one quarter under the previous manager (an even split of the budget), so
the dashboard has complaints, surveys and trends to show, and the figures of
that quarter become "last year's report".

Everything here is deterministic: the same scenario, seed and plans give the
same game, which is how a restarted server rebuilds a trainee's game from the
plans stored in SQLite, and how the debrief replays bots on the same market
realisation (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.allocation import CHANNELS
from sim.crm import CRMView, build_view
from sim.i18n import N_, msg, nmsg
from sim.metrics import nps_of
from sim.model import RetentionModel
from sim.policies.churn_risk import ChurnRiskPolicy
from sim.policies.human import HumanPolicy, Instruction
from sim.scenario import PolicySpec, Scenario
from sim.workshop.customer_lists import LISTS, customer_lists
from sim.workshop.profile import round_features
from sim.workshop.stories import STORY_TEXT, Story, Watch, tell

if TYPE_CHECKING:
    import pandas as pd

    from sim.agents.customers import CustomerPopulation

F32 = np.float32
COMPLAINT_ORDERS: dict[str, str] = {
    "oldest": N_("Oldest first (first come, first served)"),
    "value": N_("Most valuable customers first"),
    "loudest": N_("Loudest customers first"),
    "liked": N_("Customers you like first"),
}
#: Default split of the budget (the previous manager's).
DEFAULT_SHARES = {"service": 0.65, "complaints": 0.15, "points": 0.0, "acquisition": 0.2}


class PlanError(ValueError):
    """A trainee's plan is not valid; the message says why in plain words."""


def _number(value: Any, label: str, low: float, high: float) -> float:
    if isinstance(value, bool) or value is None:
        raise PlanError(f"{label}: expected a number between {low:g} and {high:g}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PlanError(
            f"{label}: expected a number between {low:g} and {high:g}, got {value!r}") from None
    if not math.isfinite(x) or x < low - 1e-9 or x > high + 1e-9:
        raise PlanError(f"{label}: expected a number between {low:g} and {high:g}, got {value!r}")
    return min(max(x, low), high)


def _mapping(value: Any, label: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlanError(f"{label}: expected a mapping of names to shares, got {value!r}")
    return value


@dataclass
class Plan:
    """A trainee's decision for one round, in the terms of the workshop's controls.

    Shares are fractions (0.25 = 25 %). Service money goes first to the named
    customers and the lists (each a share of the service money), the rest is
    split over segments (`segment_service`; empty = evenly over all customers).

    Attributes:
        shares: Share of the budget per channel (service, complaints, points, acquisition).
        segment_service: Relative weight of each segment for the rest of the service money.
        lists: Share of the service money per customer list (`LISTS`).
        named: Share of the service money per named customer (customer id).
        customers: Share of the service money per any customer id (scripts and bots).
        complaint_order: Which complaints are handled first (`COMPLAINT_ORDERS`).
        promise: Marketing promise level, 0..1 (0.5 honest).
        range_update: How far the product range is retuned to this quarter's purchase
            data (1) rather than kept at last year's range (0).
        note: The trainee's own words.
    """

    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    segment_service: dict[str, float] = field(default_factory=dict)
    lists: dict[str, float] = field(default_factory=dict)
    named: dict[int, float] = field(default_factory=dict)
    customers: dict[int, float] = field(default_factory=dict)
    complaint_order: str = "oldest"
    promise: float = 0.5
    range_update: float = 1.0
    note: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """Build a plan from plain data, checking every value.

        Raises:
            PlanError: With a plain-words message naming the field.
        """
        if not isinstance(data, dict):
            raise PlanError("a plan must be a mapping of fields to values")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PlanError(f"unknown field(s): {', '.join(unknown)}")
        shares_in = _mapping(data.get("shares", DEFAULT_SHARES), "shares")
        bad = [k for k in shares_in if k not in CHANNELS]
        if bad:
            raise PlanError(f"shares: unknown channel(s) {', '.join(map(str, bad))}; "
                            f"channels are {', '.join(CHANNELS)}")
        shares = {c: _number(shares_in.get(c, 0.0), f"{c} share of the budget", 0, 1)
                  for c in CHANNELS}
        seg = {str(k): _number(v, f"service weight of segment {k}", 0, 1e6)
               for k, v in _mapping(data.get("segment_service"), "segment_service").items()}
        lists = {str(k): _number(v, f"service share of list {k}", 0, 1)
                 for k, v in _mapping(data.get("lists"), "lists").items()}

        def ids(name: str) -> dict[int, float]:
            out: dict[int, float] = {}
            for k, v in _mapping(data.get(name), name).items():
                try:
                    cid = int(k)
                except (TypeError, ValueError):
                    raise PlanError(f"{name}: {k!r} is not a customer number") from None
                out[cid] = _number(v, f"service share of customer {cid}", 0, 1)
            return out

        order = data.get("complaint_order", "oldest")
        if order not in COMPLAINT_ORDERS:
            raise PlanError(f"complaint order: one of {', '.join(COMPLAINT_ORDERS)}, got {order!r}")
        note = data.get("note", "")
        if not isinstance(note, str):
            raise PlanError("note: expected text")
        return cls(
            shares=shares, segment_service=seg, lists=lists, named=ids("named"),
            customers=ids("customers"), complaint_order=order,
            promise=_number(data.get("promise", 0.5), "promise level", 0, 1),
            range_update=_number(data.get("range_update", 1.0), "range update", 0, 1),
            note=note[:2000],
        )

    def validate(self, segment_names: tuple[str, ...], named_ids: tuple[int, ...] | None = None,
                 n_customers: int | None = None) -> None:
        """Check the plan against the game; raise `PlanError` in plain words.

        Args:
            segment_names: The scenario's segments.
            named_ids: The named customers of the stories (None = any id allowed).
            n_customers: Number of customer slots (bounds for `customers`).
        """
        total = sum(self.shares.get(c, 0.0) for c in CHANNELS)
        if total > 1 + 1e-6:
            parts = msg("service {service:.0%}, complaints {complaints:.0%}, points {points:.0%}, "
                        "acquisition {acquisition:.0%}", **{c: self.shares.get(c, 0.0) for c in CHANNELS})
            raise PlanError(msg(
                "The budget is exceeded: you planned to spend {total:.0%} of it ({parts}). "
                "At most 100 % can be spent; lower one of the channels. Nothing was changed.",
                total=total, parts=parts))
        bad = [s for s in self.segment_service if s not in segment_names]
        if bad:
            raise PlanError(f"unknown segment(s) {', '.join(bad)}; the segments are "
                            f"{', '.join(segment_names)}")
        bad = [k for k in self.lists if k not in LISTS]
        if bad:
            raise PlanError(f"unknown customer list(s) {', '.join(bad)}; the lists are "
                            f"{', '.join(LISTS)}")
        if named_ids is not None:
            bad_ids = [i for i in self.named if i not in named_ids]
            if bad_ids:
                raise PlanError(f"customer(s) {bad_ids} are not among the named customers")
        if n_customers is not None:
            bad_ids = [i for i in self.customers if not 0 <= i < n_customers]
            if bad_ids:
                raise PlanError(f"customer number(s) {bad_ids[:5]} do not exist")
        targeted = (sum(self.lists.values()) + sum(self.named.values())
                    + sum(self.customers.values()))
        if targeted > 1 + 1e-6:
            raise PlanError(msg(
                "The service money is over-committed: lists and named customers get "
                "{targeted:.0%} of it, at most 100 % is possible. Nothing was changed.",
                targeted=targeted))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready; customer ids as strings)."""
        d = asdict(self)
        d["named"] = {str(k): v for k, v in self.named.items()}
        d["customers"] = {str(k): v for k, v in self.customers.items()}
        return d


class WorkshopPolicy(HumanPolicy):
    """The `human` policy with one more control: how far the range follows current needs.

    `range_update` = 1 tunes the offer to the needs revealed by this period's
    purchases (what `HumanPolicy` does); 0 keeps last year's range.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.range_update = 1.0
        self.last_year_offer: np.ndarray | None = None

    def offer(self, view: CRMView) -> np.ndarray:
        """Blend of last year's range and the needs revealed now."""
        now = super().offer(view)
        if self.last_year_offer is None:
            self.last_year_offer = now.copy()
        u = self.range_update
        return ((1 - u) * self.last_year_offer + u * now).astype(F32)


def prepare_scenario(scenario: Scenario, rounds: int, cap: int = 3000) -> Scenario:
    """The scenario as the workshop plays it: one human arm, a small population, a short horizon.

    Args:
        scenario: Any scenario.
        rounds: Rounds the trainees play.
        cap: Largest population (a class of 30 plays on one laptop).

    Returns:
        A validated scenario whose only arm is the trainee (`human`).
    """
    per = periods_per_round(scenario)
    horizon = per * (rounds + 1)
    data = scenario.model_dump(mode="json")
    data["population"]["size"] = min(scenario.population.size, cap)
    data["horizon"] = horizon
    data["replications"] = 1
    data["market"]["events"] = [e for e in data["market"]["events"] if e["at"] < horizon]
    data["policies"] = [PolicySpec(name="trainee", kind="human").model_dump(mode="json")]
    data["baseline"] = None
    data["sweep"] = None
    return Scenario.model_validate(data)


def periods_per_round(scenario: Scenario) -> int:
    """Periods in a quarter (13 weeks)."""
    return max(1, round(13.0 / scenario.per_period))


# --------------------------------------------------------------------------- stories

def plural(n: float, word: str, words: str | None = None) -> str:
    """`n` and the word in the right number: '1 week', '3 weeks', '0 rounds'."""
    k = int(n) if float(n).is_integer() else n
    return f"{k} {word if k == 1 else words or word + 's'}"


def ago(weeks: float | None) -> str:
    """How long ago, in weeks: 'this week', '1 week ago', '3 weeks ago' ('' when unknown)."""
    if weeks is None or not math.isfinite(weeks):
        return ""
    if round(weeks) <= 0:
        return msg("this week")
    return nmsg("{n} week ago", "{n} weeks ago", round(weeks))


def pick_stories(model: RetentionModel) -> dict[str, int]:
    """Choose the named customers of the stories from the true traits (the game designer's view).

    Args:
        model: The model after the warm-up quarter.

    Returns:
        Story key → customer id.
    """
    pop = model.customers
    active = np.flatnonzero(pop.status == 1)
    value = (pop.spend * pop.purchase_rate)[active]
    churn = pop.base_churn[active]
    lik = pop.likability[active]
    used: set[int] = set()

    def pick(score: np.ndarray, ok: np.ndarray) -> int:
        s = np.where(ok, score, -np.inf)
        for j in np.argsort(-s, kind="stable"):
            if np.isfinite(s[j]) and int(active[j]) not in used:
                used.add(int(active[j]))
                return int(active[j])
        j = int(np.argmax(score))
        return int(active[j])

    med_v, med_c = np.median(value), np.median(churn)
    out = {}
    out["liked"] = pick(lik - value / max(med_v, 1e-9), (lik > np.quantile(lik, 0.95))
                        & (value <= med_v) & (churn <= med_c))
    propensity = pop.trait("complaint_propensity", active)
    loud = pop.complaints_total[active].astype(float) + propensity
    out["loud"] = pick(loud - 100 * churn, (churn <= med_c) & (pop.loyalty[active] > 0.5))
    out["silent"] = pick(churn, (propensity <= 1.0)
                         & (pop.complaints_total[active] == 0) & (value >= med_v))
    out["big"] = pick(value, np.ones(active.size, dtype=bool))
    grow = pop.growth_max[active] * pop.trait("service_sensitivity", active)
    out["grower"] = pick(grow - value / max(med_v, 1e-9), (pop.growth_max[active] > 1.0)
                         & (value >= np.quantile(value, 0.25)) & (value <= med_v))
    return out


# --------------------------------------------------------------------------- the game


@dataclass
class Setup:
    """What every game of a workshop shares: the scenario, seed, rounds and stories.

    Attributes:
        scenario: The prepared scenario (one human arm).
        seed: The market realisation every trainee and bot plays.
        rounds: Rounds to play.
        per_round: Periods per round.
        stories: Story key → customer id.
        last_year: Segment figures of the warm-up quarter ("last year's report").
    """

    scenario: Scenario
    seed: int
    rounds: int
    per_round: int
    stories: dict[str, int] = field(default_factory=dict)
    last_year: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls, scenario: Scenario, rounds: int, seed: int, cap: int = 3000) -> Setup:
        """Prepare the scenario and play the warm-up once to pick the stories."""
        prepared = prepare_scenario(scenario, rounds, cap)
        setup = cls(prepared, int(seed), int(rounds), periods_per_round(prepared))
        probe = Game(setup)
        setup.stories = pick_stories(probe.model)
        setup.last_year = probe.segment_figures(0, setup.per_round)
        return setup

    @property
    def segment_names(self) -> tuple[str, ...]:
        """Segment labels."""
        return tuple(s.name for s in self.scenario.population.segments)

    @property
    def named_ids(self) -> tuple[int, ...]:
        """Ids of the named customers."""
        return tuple(self.stories.values())


@dataclass
class RoundRecord:
    """What one round did: the plan, the quarter's results, the profile features and the named customers.

    ``named`` is what happened to the named customers in the round and where they
    stand at its end (`Watch.state`), for their stories (`Game.stories`).
    """

    round: int
    plan: dict[str, Any]
    results: dict[str, float]
    features: dict[str, Any]
    named: dict[str, Any] = field(default_factory=dict)


class Game:
    """A trainee's (or bot's) game on the workshop's market.

    Args:
        setup: The workshop's shared set-up.
    """

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.policy = WorkshopPolicy(shares=dict(DEFAULT_SHARES))
        self.model = RetentionModel(setup.scenario, policy="trainee", rng=setup.seed,
                                    policy_object=self.policy)
        self.per_round = setup.per_round
        self.records: list[RoundRecord] = []
        self.view0 = self.view()
        self.policy.last_year_offer = self.policy.offer(self.view0).copy()
        # The firm's analysts: an unbiased churn model on the same CRM, the profile's yardstick.
        self.analyst = ChurnRiskPolicy(options={"refit_every": 1, "sample": 1500})
        self.analyst_rng = np.random.default_rng(setup.seed)
        self.analyst.observe(self.view0, self.analyst_rng)
        self._marks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._mark()
        self.watch = Watch(setup.stories, self.model.customers)
        self._run(self.per_round)
        #: The named customers at the end of the warm-up quarter (`Watch.state`).
        self.named_start = self.watch.state(self.model, 0, self.t)

    # ---------------------------------------------------------------- state

    @property
    def rounds_done(self) -> int:
        """Rounds played so far."""
        return len(self.records)

    @property
    def finished(self) -> bool:
        """All rounds played."""
        return self.rounds_done >= self.setup.rounds

    @property
    def t(self) -> int:
        """The current period."""
        return self.model.period

    def view(self) -> CRMView:
        """What the manager sees now (the CRM at the start of the coming period)."""
        m = self.model
        state = m.market.state(m.period)
        return build_view(m.customers, m.period, m.budget(state))

    def _mark(self) -> None:
        pop = self.model.customers
        self._marks[self.t] = (pop.revenue_total.copy(), pop.complaints_total.copy())

    def _run(self, periods: int) -> None:
        for _ in range(periods):
            self.model.step()
            self.watch.step(self.model.customers)
        self._mark()

    # ---------------------------------------------------------------- controls

    def lists(self, view: CRMView) -> dict[str, np.ndarray]:
        """Members of each customer list (masks over customer slots; `customer_lists`)."""
        return customer_lists(view)

    def instruction(self, plan: Plan, view: CRMView) -> Instruction:
        """Turn a plan into the `human` policy's instruction on this view."""
        customers: dict[int, float] = {}
        lists = self.lists(view)
        for key, share in plan.lists.items():
            ids = np.flatnonzero(lists[key] & view.known)
            if share > 0 and ids.size:
                each = share / ids.size
                for i in ids.tolist():
                    customers[i] = customers.get(i, 0.0) + each
        for src in (plan.named, plan.customers):
            for i, share in src.items():
                if share > 0 and 0 <= i < view.known.size and view.known[i]:
                    customers[i] = customers.get(i, 0.0) + share
        total = sum(customers.values())
        if total > 1.0:  # rounding of many small shares
            customers = {i: s / total for i, s in customers.items()}
        return Instruction(
            shares={c: float(plan.shares.get(c, 0.0)) for c in CHANNELS},
            segment_service={k: v for k, v in plan.segment_service.items() if v > 0},
            customers=customers,
            complaint_order=plan.complaint_order,  # type: ignore[arg-type]
            promise=float(plan.promise),
            note=plan.note,
        )

    def check(self, plan: Plan) -> None:
        """Validate a plan for this game (raises `PlanError`)."""
        if self.finished:
            raise PlanError(msg("All rounds have been played; there is nothing left to decide."))
        plan.validate(self.setup.segment_names, self.setup.named_ids, self.model.customers.n)

    def play(self, plan: Plan) -> RoundRecord:
        """Play one round (a quarter) with this plan.

        Raises:
            PlanError: If the plan is not valid; the game is then unchanged.
        """
        self.check(plan)
        view = self.view()
        inst = self.instruction(plan, view)
        try:
            inst.validate(view.segment_names)
        except ValueError as exc:
            raise PlanError(str(exc)) from None
        self.analyst.observe(view, self.analyst_rng)
        risk = self.analyst.score(view, self.analyst_rng)
        features = round_features(self, view, plan, inst, risk)
        self.policy.submit(inst)
        self.policy.range_update = float(plan.range_update)
        t0 = self.t
        self._run(self.per_round)
        rec = RoundRecord(self.rounds_done + 1, plan.to_dict(), self.quarter_results(t0, self.t),
                          features, self.watch.state(self.model, t0, self.t))
        self.records.append(rec)
        return rec

    # ---------------------------------------------------------------- figures

    def quarter_results(self, t0: int, t1: int) -> dict[str, float]:
        """What the manager can see of the quarter [t0, t1)."""
        ts = self.model.timeseries().iloc[t0:t1]
        return {
            "revenue": float(ts["revenue"].sum()),
            "profit": float(ts["profit"].sum()),
            "churned": float(ts["churned"].sum()),
            "acquired": float(ts["acquired"].sum()),
            "complaints": float(ts["complaints"].sum()),
            "active_customers": float(ts["active_customers"].iloc[-1]),
            "csat_surveyed": float(ts["csat_surveyed"].iloc[-1]),
            "nps_surveyed": float(ts["nps_surveyed"].iloc[-1]),
        }

    def segment_figures(self, t0: int, t1: int) -> list[dict[str, Any]]:
        """Per segment, what the CRM shows about the periods [t0, t1)."""
        pop = self.model.customers
        names = pop.segment_names
        k = len(names)
        seg = pop.segment
        known = pop.status == 1
        rev0, com0 = self._marks.get(t0, (np.zeros(pop.n, F32), np.zeros(pop.n, np.int16)))
        rev1, com1 = self._marks.get(t1, (pop.revenue_total, pop.complaints_total))
        rev = np.bincount(seg, weights=(rev1 - rev0).astype(float), minlength=k)
        com = np.bincount(seg, weights=(com1.astype(float) - com0), minlength=k)
        gone = (pop.churned_at >= t0) & (pop.churned_at < t1)
        churned = np.bincount(seg[gone], minlength=k)
        active = np.bincount(seg[known], minlength=k)
        answered = known & pop.consent & (pop.survey_at >= t0) & (pop.survey_at < t1)
        offer0 = self.policy.last_year_offer
        width = self.model.scenario_spec.population.behaviour.fit_width
        view = self.view()
        needs_now = view.segment_mean(view.needs_signal)
        out = []
        total = max(int(active.sum()), 1)
        for j, name in enumerate(names):
            a = answered & (seg == j)
            base = active[j] + churned[j]
            moved = (abs(float(needs_now[j]) - float(offer0[j])) / width
                     if offer0 is not None else 0.0)
            out.append({
                "segment": name,
                "customers": int(active[j]),
                "share": float(active[j] / total),
                "revenue": float(rev[j]),
                "revenue_per_customer": float(rev[j] / max(base, 1)),
                "churn": float(churned[j] / max(base, 1)),
                "churned": int(churned[j]),
                "complaints": int(com[j]),
                "complaints_per_100": float(100 * com[j] / max(base, 1)),
                "answers": int(a.sum()),
                "nps": nps_of(pop.survey_nps[a]) if a.any() else float("nan"),
                "csat": float(np.mean(pop.survey_csat[a].astype(np.float32))) if a.any() else float("nan"),
                "needs_moved": float(moved),
            })
        return out

    def _left_at(self, view: CRMView, c: int) -> int | None:
        """The period customer `c` left in, if the CRM has seen them leave (churn is seen when it happens)."""
        at = int(self.model.customers.churned_at[c])
        return at if view.churned[c] and at >= 0 else None

    def outcomes(self) -> dict[str, float]:
        """The trainee's results over the rounds played (what the debrief compares)."""
        ts = self.model.timeseries()
        w = self.per_round
        play = ts.iloc[w:]
        if play.empty:
            play = ts.iloc[-1:]
        start = float(ts["active_customers"].iloc[w - 1])
        churned = float(play["churned"].sum())
        acquired = float(play["acquired"].sum())
        last = play.iloc[-1]
        return {
            "churn_rate": churned / max(start + acquired, 1.0),
            "revenue": float(play["revenue"].sum()),
            "profit": float(play["profit"].sum()),
            "satisfaction": float(last["satisfaction"]),
            "loyalty": float(last["loyalty"]),
            "nps": float(last["nps"]),
            "complaints": float(play["complaints"].sum()),
            "retained_not_loyal": float(last["retained_not_loyal"]),
            "active_customers": float(last["active_customers"]),
        }

    def stories(self) -> list[Story]:
        """The named customers' stories so far, told from what happened to them (`tell`)."""
        return tell(self.setup.stories, self.named_start,
                    [(r.plan, r.named) for r in self.records], self.per_round)

    def series(self) -> dict[str, list[float]]:
        """Per-period series for charts (observed and true)."""
        ts = self.model.timeseries()
        cols = ("active_customers", "revenue", "profit", "churned", "complaints", "csat_surveyed",
                "nps_surveyed", "satisfaction", "loyalty")
        return {c: [float(x) for x in ts[c].to_numpy()] for c in cols}

    def dashboard(self) -> dict[str, Any]:
        """Everything the CRM dashboard shows at the start of the coming round."""
        view = self.view()
        t, w = self.t, self.per_round
        known = view.known
        value = np.nan_to_num(view.fill_by_segment(view.value), nan=0.0)
        lists = self.lists(view)
        avg_value = float(value[known].mean()) if known.any() else 0.0
        return {
            "round": self.rounds_done + 1,
            "rounds": self.setup.rounds,
            "finished": self.finished,
            "period": t,
            "per_round": w,
            "budget_per_period": float(view.budget),
            "budget_round": float(view.budget) * w,
            "avg_value": avg_value,
            "quarter": self.quarter_results(max(t - w, 0), t) if t > 0 else {},
            "segments": self.segment_figures(max(t - w, 0), t),
            "last_year": self.setup.last_year,
            "trends": trend_series(self.model.timeseries()),
            "complaints_open": int(np.count_nonzero(view.complaint_open & known)),
            "queue": complaint_queue(view, value, lists["liked"]),
            "answers": survey_answers(view, self.model.customers, t, w),
            "stories": [story_card(view, key, int(cid), value, lists["liked"],
                                   left_at=self._left_at(view, int(cid)), story=told)
                        for (key, cid), told in zip(self.setup.stories.items(), self.stories(),
                                                    strict=True)],
            "lists": list_rows(view, lists, value, avg_value),
            "segment_names": list(view.segment_names),
        }


# --------------------------------------------------------------------------- the dashboard's parts

#: The per-period series the dashboard's trend charts show.
TREND_COLUMNS = ("active_customers", "revenue", "churned", "complaints", "csat_surveyed")


def trend_series(ts: pd.DataFrame) -> dict[str, list[float]]:
    """The trend charts' series (`TREND_COLUMNS`) from the model's time series."""
    return {c: [float(x) for x in ts[c]] for c in TREND_COLUMNS}


def list_rows(view: CRMView, lists: dict[str, np.ndarray], value: np.ndarray,
              avg_value: float) -> list[dict[str, Any]]:
    """Each customer list (`LISTS`) as the dashboard shows it: its size and its members' value.

    Args:
        view: The CRM now.
        lists: The members of each list (`Game.lists`).
        value: Each customer's value as the CRM estimates it (segment mean where unknown).
        avg_value: The average value of the customers the CRM knows.

    Returns:
        One row per list, in the order of `LISTS`.
    """
    known = view.known
    rows = []
    for key, (label, desc) in LISTS.items():
        m = lists[key] & known
        rows.append({
            "key": key, "label": label, "description": desc, "size": int(m.sum()),
            "share_of_base": float(m.sum() / max(known.sum(), 1)),
            "avg_value": float(value[m].mean()) if m.any() else 0.0,
            "avg_value_all": avg_value,
        })
    return rows


def complaint_queue(view: CRMView, value: np.ndarray, liked: np.ndarray,
                    size: int = 10) -> list[dict[str, Any]]:
    """The open complaints that have waited longest (the first `size`), longest first.

    ``waiting`` is the weeks a complaint has waited unhandled after the week it
    was filed in (the CRM's `complaint_age`); ``filed`` says when it was filed, in words.
    """
    open_ids = np.flatnonzero(view.complaint_open & view.known)
    order = open_ids[np.argsort(-view.complaint_age[open_ids], kind="stable")]
    names = view.segment_names
    return [{
        "id": int(i), "segment": names[int(view.segment[i])],
        "waiting": int(view.complaint_age[i]),
        # Filed in week t - 1 - age (complaints are filed after the week's handling), so at
        # the start of week t it has waited age + 1 weeks: "1 week ago" is last week's.
        "filed": ago(int(view.complaint_age[i]) + 1),
        "complaints_total": int(np.nan_to_num(view.complaints_total[i], nan=0)),
        "value": float(value[i]),
        "liked": bool(liked[i]),
    } for i in order[:size]]


def survey_answers(view: CRMView, pop: CustomerPopulation, t: int, weeks: int,
                   size: int = 8) -> list[dict[str, Any]]:
    """The latest survey answers of the past `weeks` (consenting customers, newest first)."""
    recent = np.flatnonzero(view.known & (pop.survey_at >= t - weeks) & pop.consent)
    recent = recent[np.argsort(-pop.survey_at[recent], kind="stable")][:size]
    names = view.segment_names
    return [{
        "id": int(i), "segment": names[int(view.segment[i])],
        "nps": int(view.survey_nps[i]), "csat": int(view.survey_csat[i]),
        "weeks_ago": int(t - pop.survey_at[i]),
    } for i in recent]


def story_card(view: CRMView, key: str, c: int, value: np.ndarray,
               liked: np.ndarray, left_at: int | None = None,
               story: Story | None = None) -> dict[str, Any]:
    """A named customer of the stories (`STORY_TEXT`) with what the CRM shows of them.

    Args:
        view: The CRM now.
        key: The story's key.
        c: The customer's id.
        value: Each customer's value as the CRM estimates it.
        liked: Members of the "liked" list.
        left_at: The period they left in, if they have left.
        story: Their story so far (`Game.stories`): its lines, one per round played.

    Returns:
        The story's card (JSON-ready). Of a customer who has left it gives when
        they left (`left`, and `left_round`) and no last purchase (`last_purchase`
        is ''; the CRM keeps no recency for closed accounts).
    """
    name, head, text = STORY_TEXT[key]
    active = bool(view.known[c])
    recency = float(view.recency[c])
    return {
        "key": key, "id": c, "name": name, "headline": head, "text": text,
        "segment": view.segment_names[int(view.segment[c])],
        "active": active,
        "spend": float(np.nan_to_num(view.monetary[c], nan=0.0)),
        "purchases": float(np.nan_to_num(view.frequency[c], nan=0.0)),
        "value": float(value[c]),
        "weeks_since_purchase": recency if active and math.isfinite(recency) else None,
        "last_purchase": ago(recency) if active else "",
        "left": "" if active or left_at is None else ago(view.t - left_at),
        "left_round": story.left_round if story is not None else None,
        "lines": list(story.lines) if story is not None else [],
        "complaints": int(np.nan_to_num(view.complaints_total[c], nan=0)),
        "complaint_open": bool(view.complaint_open[c]),
        "last_nps": (None if not np.isfinite(view.survey_nps[c])
                     else int(view.survey_nps[c])),
        "liked": bool(liked[c]),
    }
