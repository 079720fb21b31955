"""`RetentionModel`: the Mesa model of one manager and a market of customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.experimental.scenarios import Scenario as MesaScenario

from sim.agents.customers import Customer, CustomerPopulation, PeriodOutcome
from sim.agents.managers import Manager
from sim.allocation import Allocation, Decision, allocate
from sim.biases import Bias
from sim.crm import Truth, build_view
from sim.market import MarketModel, MarketState
from sim.metrics import METRICS, MetricsRecorder
from sim.policies import Policy
from sim.rng import SeedLike, make_rng, spawn_streams
from sim.scenario import Scenario


def _reporter(name: str):
    def report(model: RetentionModel) -> float:
        return model.metrics[name]

    report.__name__ = f"report_{name}"
    return report


def _scenarios(spec: Scenario | str | Path | None,
               scenario: Scenario | str | Path | MesaScenario | None) -> tuple[Scenario, MesaScenario | None]:
    """Ours (loaded if named) and Mesa's own, from the first argument and the `scenario` keyword.

    Mesa 3.5's `Model` has a `scenario` of its own, and SolaraViz's Reset passes
    one as `scenario=`: that one is Mesa's, never ours.
    """
    mesa_scenario = None
    if isinstance(scenario, MesaScenario):
        mesa_scenario, scenario = scenario, None
    if spec is not None and scenario is not None:
        raise TypeError("RetentionModel: the scenario was given twice (first argument and scenario=)")
    ours = spec if spec is not None else scenario
    if ours is None:
        raise TypeError("RetentionModel needs a scenario: a Scenario, a scenario file or a built-in name")
    if not isinstance(ours, Scenario):
        from sim.loader import load_scenario

        ours = load_scenario(ours)
    return ours, mesa_scenario


def _generator(rng: SeedLike, mesa_scenario: MesaScenario | None) -> np.random.Generator:
    """The model's one generator; Mesa's scenario, when given, carries the same (Mesa requires it)."""
    if mesa_scenario is None:
        return make_rng(rng)
    theirs = mesa_scenario.rng
    if rng is not None and theirs is not None and theirs is not rng and theirs != rng:
        raise ValueError("rng and scenario.rng (Mesa's scenario) must be the same")
    gen = make_rng(rng if rng is not None else theirs)
    mesa_scenario.rng = gen
    return gen


class RetentionModel(mesa.Model):
    """A market of customers and one manager, stepped one period at a time.

    Args:
        spec: A `Scenario`, a path to a scenario file, or a built-in name (the
            first argument; `scenario=` is still accepted for it).
        policy: The arm to play (a policy name of the scenario); default the first.
        rng: Seed or generator. The same seed gives an identical run, and every
            arm of a scenario given the same seed meets the same customers,
            market and random numbers.
        policy_object: Use this policy object instead of the arm's kind (for
            policies written in a notebook).
        biases: Use these bias objects instead of the arm's biases.
        keep_last: Keep each period's CRM view and decision for inspection
            (`manager.last_view`, `manager.last_decision`) until the next
            period starts. Without it (experiments and sweeps, which never
            look) the view is let go once the manager has decided and the
            decision before the customers step, which lowers the peak memory
            by about 45 bytes per customer.
        scenario: The scenario as a keyword, as before `spec` (the same thing), or
            Mesa's own `mesa.experimental.scenarios.Scenario`, which Mesa's
            SolaraViz passes when it resets a model: that one is handed to
            `mesa.Model` (it holds no parameter of ours) and `spec` is the scenario.

    Attributes:
        scenario_spec: The scenario played (`model.scenario` is Mesa's own).
        customers: The customers (column-wise; `customers[i]` is one customer).
        manager: The manager agent.
        datacollector: Mesa's collector of the per-period metrics.
        metrics: The metrics of the last period.
        period: Periods done so far.
    """

    def __init__(self, spec: Scenario | str | Path | None = None, policy: str | None = None,
                 rng: SeedLike = None, *, policy_object: Policy | None = None,
                 biases: list[Bias] | None = None, keep_last: bool = True,
                 scenario: Scenario | str | Path | MesaScenario | None = None) -> None:
        scenario, mesa_scenario = _scenarios(spec, scenario)
        gen = _generator(rng, mesa_scenario)
        super().__init__(rng=gen, scenario=mesa_scenario)
        self.scenario_spec = scenario
        streams = spawn_streams(gen)
        self.streams = streams
        self.customers = CustomerPopulation(scenario, streams["init"], streams["network"])
        self.customers_rng = streams["customers"]
        self.market = MarketModel(scenario)
        self.horizon = scenario.horizon
        self.last_allocation: Allocation | None = None
        self.last_market: MarketState | None = None
        self._burn_in(scenario.burn_in, streams["manager"])
        spec = scenario.policy(policy) if policy is not None else scenario.policies[0]
        self.manager = Manager(self, spec, streams["manager"], policy=policy_object,
                               biases=biases, keep_last=keep_last)
        self.recorder = MetricsRecorder(self.customers, scenario.market.margin, spec.cost)
        self.metrics: dict[str, float] = {}
        self.period = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in METRICS})

    @property
    def policy_name(self) -> str:
        """The arm this model plays."""
        return self.manager.name

    def budget(self, state: MarketState) -> float:
        """The manager's money for a period."""
        m = self.scenario_spec.market
        return m.budget * self.customers.initial_size * state.budget_factor

    def _burn_in(self, periods: int, manager_stream: np.random.Generator) -> None:
        """Run the periods before period 0 (`burn_in`) under the baseline arm's manager; nothing is recorded.

        Every arm runs the same burn-in: the baseline arm's manager (its own
        stream, spawned from the manager's, so the arm's manager draws as
        without a burn-in), the customers' counter-based draws of periods -B..-1.
        So every arm starts period 0 from the same state and shares every random
        number from there (common random numbers); only what the customers and
        the CRM hold is carried over, the burn-in's manager is let go.
        """
        if periods <= 0:
            return
        spec = self.scenario_spec.policy(self.scenario_spec.baseline_policy)
        self.manager = Manager(self, spec, manager_stream.spawn(1)[0], keep_last=False)
        for t in range(-periods, 0):
            self.manager.last_view = self.manager.last_decision = None
            self._period(t)
        self.manager.remove()

    def step(self) -> None:
        """One period: events, the manager decides, money is spent, customers experience and react, metrics.

        The customers' part (experience, complaints, word of mouth, loyalty,
        purchases, churn, surveys, newcomers) is `CustomerPopulation.step`.
        """
        t = self.period
        self._forget()
        outcome, allocation, market = self._period(t)
        self.metrics = self.recorder.record(t, outcome, allocation)
        self.last_allocation, self.last_market = allocation, market
        self.datacollector.collect(self)
        self.period += 1
        self.running = self.period < self.horizon

    def _period(self, t: int) -> tuple[PeriodOutcome, Allocation, MarketState]:
        """Period `t` without its metrics: events, the manager decides, money is spent, customers step."""
        market = self.market.state(t)
        for event in self.market.starting(t):
            event.start(self)
        allocation = self._spend(*self._decide(t, market))
        outcome = self.customers.step(t, allocation, market, self.customers_rng, self.streams["surveys"],
                                      self.streams["acquisition"], self.survey_rate(t))
        return outcome, allocation, market

    def _forget(self) -> None:
        """What the last period left for inspection goes before this one is built (never two at once)."""
        self.manager.last_view = self.manager.last_decision = None
        self.last_allocation = None

    def _decide(self, t: int, market: MarketState) -> tuple[Decision, float, np.ndarray, float]:
        """The manager looks at the CRM and decides; the view goes when this returns (unless kept).

        The remedies' cost comes off the budget first: the manager decides on what is left.
        """
        budget = self.budget(market)
        remedies = budget * self.manager.remedy_cost(t)
        view = build_view(self.customers, t, budget - remedies, self._truth(t, market))
        return self.manager.decide(view), view.budget, view.known, remedies

    def _truth(self, t: int, market: MarketState) -> Truth | None:
        """The true state and the run's economics, for a manager allowed them (the oracle)."""
        if not self.manager.needs_truth:
            return None
        m = self.scenario_spec.market
        return Truth(self.customers, market, self.horizon - t, m.margin, m.complaint_cost, m.acquisition_cost)

    def _spend(self, decision: Decision, budget: float, known: np.ndarray, remedies: float) -> Allocation:
        """The decision turned into money per customer within the budget; the remedies' cost is spent too."""
        b = self.scenario_spec.population.behaviour
        allocation = allocate(decision, budget, known, self.scenario_spec.market.complaint_cost,
                              (b.token_cost, b.token_recovery))
        allocation.spent["remedies"] = remedies
        return allocation

    def survey_rate(self, t: int) -> float:
        """Share of active customers surveyed in period `t` (remedies may raise it)."""
        return self.manager.survey_rate(t, self.scenario_spec.market.survey_rate)

    def run(self, periods: int | None = None) -> RetentionModel:
        """Step to the horizon (or `periods` more periods); returns self."""
        end = self.horizon if periods is None else min(self.horizon, self.period + periods)
        while self.period < end:
            self.step()
        return self

    def customer(self, i: int) -> Customer:
        """A view of customer `i` (attributes read and write its columns)."""
        return self.customers[i]

    def timeseries(self) -> pd.DataFrame:
        """Per-period metrics so far, indexed by period."""
        df = self.datacollector.get_model_vars_dataframe()
        df.index = pd.RangeIndex(len(df), name="period")
        return df

    def summary(self) -> dict[str, float]:
        """The run's summary: flows summed, stocks at the last period."""
        ts = self.timeseries()
        out: dict[str, Any] = {}
        for name, m in METRICS.items():
            col = ts[name].to_numpy(dtype=float)
            out[name] = float(col.sum()) if m.summary == "sum" else float(col[-1])
        return out

    def segments(self) -> pd.DataFrame:
        """Churn, revenue and service received per segment so far."""
        seg = self.recorder.segments()
        df = pd.DataFrame(seg, index=pd.Index(self.customers.segment_names, name="segment"))
        return df

    def __repr__(self) -> str:
        return (f"RetentionModel({self.scenario_spec.name!r}, policy={self.policy_name!r}, "
                f"period={self.period}/{self.horizon})")

