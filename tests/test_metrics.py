"""Metrics: customers are conserved, money adds up, NPS is what its definition says, segments add to the run."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.agents.state import ACTIVE, CHURNED, POTENTIAL
from sim.metrics import HEADLINE, METRICS, nps_of
from sim.model import RetentionModel
from sim.scenario import Scenario

SIZE, MARGIN, APPROACH = 1500, 0.4, 3.0
SPEND = ["spend_service", "spend_complaints", "spend_points", "spend_acquisition", "spend_remedies"]


def scenario(**over) -> Scenario:
    data = {
        "name": "metrics", "horizon": 30, "replications": 2, "seed": 5,
        "population": {"size": SIZE},
        "market": {"margin": MARGIN, "survey_rate": 0.1, "events": [
            {"at": 8, "kind": "competitor_promotion", "duration": 6, "size": 0.6},
            {"at": 12, "kind": "recession", "duration": 10},
            {"at": 15, "kind": "regulation", "consent_share": 0.7}]},
        "policies": [{"name": "m", "kind": "clv", "cost": APPROACH,
                      "budget_shares": {"service": 0.5, "complaints": 0.1, "points": 0.1, "acquisition": 0.3}}],
    }
    data.update(over)
    return Scenario.model_validate(data)


class Run:
    """A stepped model, with what the test records before each period: who is active at its start."""

    def __init__(self, sc: Scenario, rng: int) -> None:
        self.model = RetentionModel(sc, rng=rng)
        pop = self.model.customers
        self.initial = int((pop.status == ACTIVE).sum())
        self.active_start, self.serve_cost = [], []
        cost = pop.trait("cost_to_serve").astype(np.float64)
        while self.model.running:
            active = pop.status == ACTIVE
            self.active_start.append(int(active.sum()))
            self.serve_cost.append(float(cost[active].sum()))
            self.model.step()
        self.ts = self.model.timeseries()


@pytest.fixture(scope="module")
def run() -> Run:
    return Run(scenario(), rng=7)


# --------------------------------------------------------------------------- NPS


@pytest.mark.parametrize(("answers", "nps"), [
    ([10, 9, 8, 7, 0], 20.0),        # 2 promoters, 1 detractor of 5
    ([9, 10, 9, 10], 100.0),
    ([0, 3, 6, 6], -100.0),
    ([7, 8, 7, 8], 0.0),             # passives only
    ([6, 7, 8, 9], 0.0),             # the boundaries: 6 detracts, 9 promotes, 7 and 8 do neither
    ([10, 6, 6, 6], -50.0),
    ([10], 100.0),
])
def test_nps_of_known_answer_sets(answers, nps):
    assert nps_of(np.array(answers)) == pytest.approx(nps)
    assert nps_of(np.array(answers, dtype=np.float32)) == pytest.approx(nps)


def test_nps_of_no_answers_is_undefined():
    assert np.isnan(nps_of(np.array([])))


# --------------------------------------------------------------------------- conservation


def test_customers_are_conserved_at_every_period(run):
    ts, pop = run.ts, run.model.customers
    ever = run.initial + ts.acquired.cumsum()
    lost = ts.churned.cumsum()
    assert ts.acquired.sum() > 0 and ts.churned.sum() > 0
    np.testing.assert_array_equal(ts.active_customers, ever - lost)
    np.testing.assert_allclose(ts.churn_rate, lost / ever, rtol=1e-12)
    # The end of the run agrees with the customers' own status.
    assert int((pop.status == ACTIVE).sum()) == ts.active_customers.iloc[-1]
    assert int((pop.status == CHURNED).sum()) == lost.iloc[-1]
    assert int((pop.status == POTENTIAL).sum()) == pop.n - ever.iloc[-1]
    assert ts.referrals.le(ts.acquired).all()


def test_hazard_and_market_share_follow_their_definitions(run):
    ts = run.ts
    np.testing.assert_allclose(ts.hazard, ts.churned / np.array(run.active_start), rtol=1e-12)
    np.testing.assert_allclose(ts.market_share, ts.active_customers / run.model.customers.n, rtol=1e-12)
    assert run.active_start[1:] == list(ts.active_customers[:-1])


# --------------------------------------------------------------------------- money


def test_profit_is_margin_on_revenue_less_costs_spend_and_approach(run):
    ts = run.ts
    spend = ts[SPEND].sum(axis=1)
    expected = MARGIN * ts.revenue - ts.cost_to_serve - spend - APPROACH
    np.testing.assert_allclose(ts.profit, expected, rtol=1e-12, atol=1e-9)
    assert (ts.spend_points > 0).all() and (ts.revenue > 0).all()


def test_cost_to_serve_is_paid_for_the_customers_active_at_the_start_of_each_period(run):
    np.testing.assert_allclose(run.ts.cost_to_serve, run.serve_cost, rtol=1e-9)


def test_spend_never_exceeds_the_budget_of_the_period(run):
    ts, model = run.ts, run.model
    budget = np.array([model.budget(model.market.state(t)) for t in range(len(ts))])
    assert (ts[SPEND].sum(axis=1) <= budget + 1e-9).all()
    assert budget[12] == pytest.approx(0.7 * budget[0])  # the recession's cut


# --------------------------------------------------------------------------- stocks at the end


def test_the_last_periods_stocks_are_those_of_the_active_customers(run):
    pop, last = run.model.customers, run.ts.iloc[-1]
    act = pop.status == ACTIVE
    assert last.satisfaction == pytest.approx(float(pop.satisfaction[act].astype(np.float64).mean()), rel=1e-9)
    assert last.loyalty == pytest.approx(float(pop.loyalty[act].astype(np.float64).mean()), rel=1e-9)
    assert last.nps == pytest.approx(nps_of(np.round(pop.recommend()[act])), abs=1e-9)
    b = run.model.scenario_spec.population.behaviour
    not_loyal = act & (pop.loyalty < b.loyal_threshold) & (pop.lock >= b.locked_threshold)
    assert last.retained_not_loyal == pytest.approx(not_loyal.sum() / act.sum())
    assert last.complaints_open == int((act & pop.complaint_open).sum())
    for name in ("satisfaction", "loyalty", "retained_not_loyal", "churn_rate", "hazard", "market_share"):
        assert run.ts[name].between(0, 1).all(), name
    assert run.ts.nps.between(-100, 100).all()


def test_surveyed_nps_is_that_of_the_recent_answers_the_manager_may_use(run):
    pop, t = run.model.customers, run.model.period - 1
    recent = (pop.status == ACTIVE) & (pop.survey_at > t - 13) & pop.consent
    assert recent.sum() > 30
    assert run.ts.nps_surveyed.iloc[-1] == pytest.approx(nps_of(pop.survey_nps[recent].astype(float)))
    assert run.ts.csat_surveyed.iloc[-1] == pytest.approx(pop.survey_csat[recent].astype(float).mean())


def test_complaints_filed_are_resolved_turn_to_grudges_or_wait(run):
    ts, pop = run.ts, run.model.customers
    # Each complaint filed is counted once; it is handled, becomes a grudge, still waits, or
    # left with its customer.
    assert ts.complaints.sum() == int(pop.complaints_total.sum())
    assert ts.complaints_resolved.sum() + ts.grudges.sum() + ts.complaints_open.iloc[-1] <= ts.complaints.sum()


# --------------------------------------------------------------------------- summaries and segments


def test_a_runs_summary_sums_flows_and_takes_stocks_at_the_end(run):
    summary = run.model.summary()
    assert set(summary) == set(METRICS) and set(HEADLINE) <= set(METRICS)
    for name, metric in METRICS.items():
        col = run.ts[name]
        expected = col.sum() if metric.summary == "sum" else col.iloc[-1]
        assert summary[name] == pytest.approx(expected, nan_ok=True), name
    assert summary["churn_rate"] == pytest.approx(summary["churned"] / (SIZE + summary["acquired"]))


def test_the_segments_table_adds_up_to_the_runs_totals(run):
    seg, ts = run.model.segments(), run.ts
    assert list(seg.index) == list(run.model.customers.segment_names)
    assert seg.customers.sum() == run.initial + ts.acquired.sum()
    assert seg.churned.sum() == ts.churned.sum()
    assert seg.revenue.sum() == pytest.approx(ts.revenue.sum(), rel=1e-9)
    assert seg.service.sum() == pytest.approx(ts.spend_service.sum(), rel=1e-9)
    np.testing.assert_allclose(seg.churn_rate, seg.churned / seg.customers)
    np.testing.assert_allclose(seg.service_per_customer, seg.service / seg.customers)


def test_a_results_segments_are_the_replication_means_of_the_runs_totals():
    sc = scenario(horizon=10, population={"size": 400}, replications=3, market={"margin": MARGIN},
                  policies=[{"name": "a", "kind": "value"}, {"name": "b", "kind": "uniform"}])
    result = sim.run(sc)
    reps = result.replications
    for pol in ("a", "b"):
        seg = result.segments[result.segments.policy == pol]
        runs = reps[reps.policy == pol]
        assert seg.customers.sum() == pytest.approx((400 + runs.acquired).mean())
        assert seg.churned.sum() == pytest.approx(runs.churned.mean())
        assert seg.revenue.sum() == pytest.approx(runs.revenue.mean(), rel=1e-9)
        assert seg.service.sum() == pytest.approx(runs.spend_service.mean(), rel=1e-9)
