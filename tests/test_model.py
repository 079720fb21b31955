"""The model's invariants, determinism, known answers and the direction of each mechanism."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.customers import ACTIVE, CHURNED, POTENTIAL
from sim.crm import build_view
from sim.model import RetentionModel
from sim.scenario import Scenario


def scenario(**over) -> Scenario:
    data = {
        "name": "t",
        "horizon": 40,
        "replications": 2,
        "population": {"size": 1500},
        "policies": [{"name": "a", "kind": "clv"}, {"name": "u", "kind": "uniform"},
                     {"name": "h", "kind": "human"}],
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
def stepped() -> RetentionModel:
    m = RetentionModel(scenario(market={"events": [
        {"at": 5, "kind": "needs_shift", "size": 0.5},
        {"at": 10, "kind": "competitor_promotion", "duration": 5},
        {"at": 15, "kind": "recession"},
        {"at": 20, "kind": "regulation", "consent_share": 0.5}]}), policy="a", rng=3)
    m.run()
    return m


def test_states_stay_in_bounds(stepped):
    c = stepped.customers
    for col in ("satisfaction", "loyalty", "lock", "relationship"):
        v = getattr(c, col)
        assert np.all((v >= 0) & (v <= 1)), col
    assert np.all(c.growth >= 1) and np.all(c.growth <= c.growth_max + 1e-6)


def test_customers_are_conserved(stepped):
    c, ts = stepped.customers, stepped.timeseries()
    active = int((c.status == ACTIVE).sum())
    churned = int((c.status == CHURNED).sum())
    ever = c.initial_size + int(ts.acquired.sum())
    assert active + churned == ever
    assert int((c.status == POTENTIAL).sum()) == c.n - ever
    assert churned == int(ts.churned.sum())
    assert ts.churn_rate.iloc[-1] == pytest.approx(churned / ever)
    # Churn and joining dates are consistent with status.
    assert np.all(c.churned_at[c.status == CHURNED] >= c.joined[c.status == CHURNED])
    assert np.all(c.churned_at[c.status != CHURNED] == -1)


def test_money_adds_up(stepped):
    ts = stepped.timeseries()
    spend = ts[["spend_service", "spend_complaints", "spend_points", "spend_acquisition",
                "spend_remedies"]].sum(axis=1)
    expected = stepped.scenario_spec.market.margin * ts.revenue - ts.cost_to_serve - spend
    np.testing.assert_allclose(ts.profit, expected, rtol=1e-9, atol=1e-6)
    budget = 1.0 * 1500
    assert np.all(spend <= budget + 1e-6)
    # The recession cuts the budget by 30 % from period 15.
    assert spend.iloc[20] <= 0.7 * budget + 1e-6 < spend.iloc[3] + 1e-6
    rev = ts.revenue.to_numpy()
    assert rev[16:25].mean() < rev[:15].mean()


def test_same_seed_same_run_different_seed_different_run():
    s = scenario()
    a = RetentionModel(s, policy="a", rng=11).run().timeseries()
    b = RetentionModel(s, policy="a", rng=11).run().timeseries()
    c = RetentionModel(s, policy="a", rng=12).run().timeseries()
    assert a.equals(b)
    assert not a.equals(c)


def test_common_random_numbers_across_policies():
    s = scenario(policies=[{"name": "x", "kind": "uniform"}, {"name": "y", "kind": "uniform"},
                           {"name": "z", "kind": "clv"}])
    x = RetentionModel(s, policy="x", rng=5)
    z = RetentionModel(s, policy="z", rng=5)
    for col in ("spend", "purchase_rate", "base_churn", "likability", "needs", "segment"):
        np.testing.assert_array_equal(getattr(x.customers, col), getattr(z.customers, col))
    np.testing.assert_array_equal(x.customers.network.indices, z.customers.network.indices)
    # Two arms with the same policy give exactly the same run.
    tx = x.run().timeseries()
    ty = RetentionModel(s, policy="y", rng=5).run().timeseries()
    assert tx.equals(ty)


def test_no_global_random_state_is_used():
    np.random.seed(0)
    s = scenario()
    a = RetentionModel(s, policy="a", rng=1).run(10).timeseries()
    np.random.seed(999)
    b = RetentionModel(s, policy="a", rng=1).run(10).timeseries()
    assert a.equals(b)


def test_constant_hazard_gives_geometric_survival():
    seg = {"name": "only", "share": 1.0, "churn": 0.02, "churn_concentration": None,
           "purchase_shape": None, "spend_shape": None, "needs_spread": 0.0}
    s = scenario(horizon=60, population={"size": 20000, "potential": 0.0, "segments": [seg],
                                          "network": {"kind": "none"},
                                          "behaviour": {"perception_noise": 0.0, "needs_halflife": None}},
                 market={"budget": 0.0, "competitor_pull": 0.0})
    m = RetentionModel(s, policy="u", rng=2)
    h0 = float(m.customers.hazard()[0])
    assert h0 > 0
    m.run()
    alive = 20000 - m.timeseries().churned.cumsum().to_numpy()
    t = np.arange(1, 61)
    expected = 20000 * (1 - h0) ** t
    sd = np.sqrt(20000 * (1 - h0) ** t * (1 - (1 - h0) ** t))
    assert np.all(np.abs(alive - expected) < 4 * sd + 1)
    # The per-period hazard does not drift.
    hz = m.timeseries().hazard.to_numpy()
    assert abs(hz[:30].mean() - hz[30:].mean()) < 0.004


def test_results_do_not_depend_on_the_unit_of_money():
    # Every money amount of a scenario times 128 (a power of two: float arithmetic scales
    # exactly): customers behave identically under every kind of policy (RFM, even spread,
    # learned churn model with lifetime value, the oracle) and money outcomes are 128 times
    # as large. The response to service and points money is in units of the customers' mean
    # revenue per period, the CRM's logarithms of money in units of its mean monetary value.
    base = Scenario.model_validate({"name": "m", "policies": [{"name": "v", "kind": "value"}]})
    k = 128.0
    segments = [s.model_dump() for s in base.population.segments]
    scaled = [{**s, "spend": s["spend"] * k, "cost_to_serve": s["cost_to_serve"] * k} for s in segments]
    market = base.market
    money = {"budget": market.budget * k, "acquisition_cost": market.acquisition_cost * k,
             "complaint_cost": market.complaint_cost * k}
    runs = {}
    for label, segs, mk in (("one", segments, {}), ("k", scaled, money)):
        s = scenario(horizon=30, population={"size": 1500, "segments": segs},
                     market=mk, policies=[{"name": "v", "kind": "value"}, {"name": "u", "kind": "uniform"},
                                            {"name": "c", "kind": "clv"}, {"name": "o", "kind": "oracle"}])
        runs[label] = {arm: RetentionModel(s, policy=arm, rng=11).run().timeseries()
                       for arm in ("v", "u", "c", "o")}
    for arm in ("v", "u", "c", "o"):
        one, big = runs["one"][arm], runs["k"][arm]
        for col in ("churned", "satisfaction", "loyalty", "nps", "active_customers", "complaints", "acquired"):
            assert np.array_equal(one[col].to_numpy(), big[col].to_numpy()), (arm, col)
        for col in ("revenue", "profit", "spend_service", "cost_to_serve"):
            assert np.allclose(big[col].to_numpy(), k * one[col].to_numpy(), rtol=1e-6), (arm, col)


def test_needs_wander_around_the_segment_with_its_spread_and_half_life():
    # [N1]: an AR(1) process around the segment's centre. Tolerances are sampling error at
    # 20,000 people, stated before the result: the spread's sd is 0.4 / sqrt(2n) = 0.002 (we
    # allow 0.01), a lag correlation's sd (1 - rho^2) / sqrt(n) < 0.006 (we allow 0.03), the
    # mean's sd 0.4 / sqrt(n) = 0.003 (we allow 0.015).
    seg = {"name": "only", "share": 1.0, "needs": 0.2, "needs_spread": 0.4, "churn": 0.0,
           "churn_concentration": None}
    s = scenario(horizon=70, population={"size": 20000, "potential": 0.0, "segments": [seg],
                                          "network": {"kind": "none"},
                                          "behaviour": {"needs_halflife": 26.0, "switching_base": 0.0}},
                 market={"budget": 0.0, "competitor_pull": 0.0,
                         "events": [{"at": 40, "kind": "needs_shift", "size": 0.5, "spread": 0.0}]})
    m = RetentionModel(s, policy="u", rng=5)
    start = m.customers.needs.astype(np.float64)
    m.run(26)
    later = m.customers.needs.astype(np.float64)
    assert abs(later.std() - 0.4) < 0.01  # the spread stays the segment's
    assert abs(later.mean() - 0.2) < 0.015
    assert abs(np.corrcoef(start, later)[0, 1] - 0.5) < 0.03  # half the departure is left after 26
    m.run(44)  # a shift at 40 moves the centre: needs do not wander back to the old one
    shifted = m.customers.needs.astype(np.float64)
    assert abs(shifted.mean() - 0.7) < 0.015 and abs(shifted.std() - 0.4) < 0.01
    # Without a half-life needs stay where they are.
    still = {**s.population.model_dump(), "behaviour": {"needs_halflife": None}}
    fixed = scenario(horizon=10, population=still, market={"budget": 0.0})
    f = RetentionModel(fixed, policy="u", rng=5)
    before = f.customers.needs.copy()
    f.run(10)
    assert np.array_equal(before, f.customers.needs)


def test_heterogeneous_churn_makes_cohort_retention_rise():
    seg = {"name": "only", "share": 1.0, "churn": 0.03, "churn_concentration": 1.0}
    s = scenario(horizon=104, population={"size": 20000, "potential": 0.0, "segments": [seg],
                                          "network": {"kind": "none"},
                                          "behaviour": {"perception_noise": 0.0, "needs_halflife": None}},
                 market={"budget": 0.0, "competitor_pull": 0.0})
    ts = RetentionModel(s, policy="u", rng=4).run().timeseries()
    retention = 1 - ts.hazard.to_numpy()
    quarters = retention.reshape(-1, 13).mean(axis=1)
    # The fragile leave first: the retention rate rises quarter by quarter, then
    # flattens once only the robust remain (late quarters differ by a few churns).
    assert quarters[0] < quarters[1] < quarters[2] < quarters[3]
    assert retention[52:].mean() > retention[:52].mean()


def _play(s: Scenario, instruction: dict, periods: int, rng: int = 7) -> RetentionModel:
    m = RetentionModel(s, policy="h", rng=rng)
    m.manager.policy.submit(instruction)
    m.run(periods)
    return m


def test_service_raises_satisfaction_and_loss_hurts_more_than_gain():
    s = scenario(horizon=60, population={"network": {"kind": "none"}})
    none = {"shares": {"service": 0.0}}
    full = {"shares": {"service": 1.0}}
    base = _play(s, none, 30)
    served = _play(s, full, 30)
    assert served.metrics["satisfaction"] > base.metrics["satisfaction"] + 0.02
    # Equal and opposite changes in the product's quality (customers at rest, expecting what they
    # get), four times the perception noise so every customer feels them: the loss moves
    # satisfaction more than the gain [S1]. Needs stay put [N1], so customers are at rest.
    after = {}
    still = {"network": {"kind": "none"}, "behaviour": {"needs_halflife": None}}
    for size in (0.2, 0.0, -0.2):  # the same customers and draws; 0 is the run without the change
        events = [{"at": 30, "kind": "quality_change", "size": size}] if size else []
        m = _play(scenario(horizon=60, population=still, market={"events": events}), none, 31)
        after[size] = float(m.customers.satisfaction[m.customers.active].mean())
    gain, loss = after[0.2] - after[0.0], after[0.0] - after[-0.2]
    assert gain > 0 and loss > 1.5 * gain


def test_promises_raise_expectations_and_signups():
    s = scenario(horizon=30)
    honest = _play(s, {"promise": 0.5, "shares": {"service": 0.6, "acquisition": 0.4}}, 26)
    over = _play(s, {"promise": 1.0, "shares": {"service": 0.6, "acquisition": 0.4}}, 26)
    act_h, act_o = honest.customers.active, over.customers.active
    assert over.customers.expectation[act_o].mean() > honest.customers.expectation[act_h].mean() + 0.05
    # More sign-ups while prospects still believe the promise [A2] ...
    early = slice(0, 8)
    assert over.timeseries().acquired.iloc[early].sum() > honest.timeseries().acquired.iloc[early].sum()
    # ... until they have learned to discount it.
    assert over.customers.broken_promises > 0.3
    assert over.metrics["satisfaction"] < honest.metrics["satisfaction"]


def test_prompt_complaint_handling_recovers_satisfaction():
    s = scenario(horizon=40)
    slow = _play(s, {"shares": {"service": 0.45, "complaints": 0.0}}, 40)
    fast = _play(s, {"shares": {"service": 0.45, "complaints": 0.15}}, 40)
    ts_s, ts_f = slow.timeseries(), fast.timeseries()
    assert ts_s.grudges.sum() > 10 * max(ts_f.grudges.sum(), 1)
    assert ts_s.complaints_resolved.sum() == 0 < ts_f.complaints_resolved.sum()
    assert ts_s.churned.sum() > ts_f.churned.sum()


def test_negative_word_of_mouth_spreads_over_the_network():
    beh = {"complaint_give_up": 1}
    alone = scenario(population={"network": {"kind": "none"}, "behaviour": beh})
    tied = scenario(population={"network": {"kind": "small_world", "degree": 10}, "behaviour": beh})
    play = {"shares": {"service": 0.5, "complaints": 0.0}}
    a, t = _play(alone, play, 30), _play(tied, play, 30)
    assert t.metrics["satisfaction"] < a.metrics["satisfaction"] - 0.005


def test_points_lock_in_keeps_customers_without_making_them_loyal():
    s = scenario(horizon=60)
    service = _play(s, {"shares": {"service": 0.8}}, 60)
    points = _play(s, {"shares": {"service": 0.1, "points": 0.7}}, 60)
    assert points.metrics["retained_not_loyal"] > service.metrics["retained_not_loyal"] + 0.05
    assert points.metrics["loyalty"] < service.metrics["loyalty"]
    assert points.customers.lock[points.customers.active].mean() > 0.3


def test_nurtured_small_accounts_grow():
    seg = {"name": "growers", "share": 1.0, "growth_potential": 1.0, "growth_max": 4.0}
    s = scenario(population={"segments": [seg]})
    nurtured = _play(s, {"shares": {"service": 1.0}}, 40)
    neglected = _play(s, {"shares": {"service": 0.0}}, 40)
    assert nurtured.customers.growth[nurtured.customers.active].mean() > 1.2
    assert neglected.customers.growth.max() == pytest.approx(1.0)


def test_surveys_hear_the_angry_more():
    s = scenario(horizon=30, market={"survey_rate": 0.5})
    m = _play(s, {"shares": {"service": 0.3}}, 30)
    c = m.customers
    answered = c.survey_at >= 0
    assert answered.sum() > 100
    assert c.satisfaction[answered & c.active].mean() < c.satisfaction[c.active].mean()


def test_manager_sees_only_the_crm_and_consent_hides_data(stepped):
    view = build_view(stepped.customers, stepped.period, 1000.0)
    assert view.truth is None
    for hidden in ("satisfaction", "loyalty", "hazard", "base_churn"):
        assert not hasattr(view, hidden)
    no_consent = view.known & ~view.consent
    assert no_consent.any()
    assert np.all(np.isnan(view.monetary[no_consent]))
    assert np.all(np.isfinite(view.monetary[view.known & view.consent]))


def test_a_bias_at_zero_strength_changes_nothing():
    kinds = ["stereotype", "affinity", "stale_data", "acquisition_focus", "big_account",
             "overpromise", "points_lockin", "salience"]
    s = scenario(horizon=20, policies=[
        {"name": "clean", "kind": "clv"},
        {"name": "zero", "kind": "clv", "biases": [{"kind": k, "strength": 0.0} for k in kinds]}])
    a = RetentionModel(s, policy="clean", rng=9).run().timeseries()
    b = RetentionModel(s, policy="zero", rng=9).run().timeseries()
    assert a.equals(b)


def test_customer_view_reads_and_writes_columns(stepped):
    c = stepped.customer(3)
    assert c.segment_name in stepped.customers.segment_names
    assert 0 <= c.satisfaction <= 1
    c.satisfaction = 0.25
    assert stepped.customers.satisfaction[3] == pytest.approx(0.25)
    with pytest.raises(AttributeError):
        c.not_a_column = 1
    df = stepped.customers.to_frame()
    assert len(df) == int(stepped.customers.active.sum())
    assert "segment_name" in df.columns


def test_datacollector_has_the_spec_metrics(stepped):
    ts = stepped.timeseries()
    for name in ("churn_rate", "revenue", "profit", "satisfaction", "loyalty", "nps",
                 "complaints", "active_customers", "retained_not_loyal"):
        assert name in ts.columns
    assert len(ts) == stepped.horizon
    assert stepped.datacollector.get_model_vars_dataframe().shape[0] == stepped.horizon
    assert not stepped.running


def test_a_pure_score_is_computed_only_in_the_periods_the_manager_retargets(monkeypatch):
    from sim.policies.clv import CLVPolicy
    from sim.policies.randomised import RandomPolicy

    s = scenario(horizon=25, policies=[{"name": "a", "kind": "clv", "options": {"retarget_every": 10}},
                                       {"name": "r", "kind": "random"}])
    scored: list[tuple[str, int]] = []
    for cls in (CLVPolicy, RandomPolicy):
        def spy(self, view, rng, _score=cls.score):
            scored.append((self.kind, view.t))
            return _score(self, view, rng)
        monkeypatch.setattr(cls, "score", spy)
    lazy = RetentionModel(s, policy="a", rng=4).run().timeseries()
    assert scored == [("clv", 0), ("clv", 10), ("clv", 20)]
    scored.clear()
    # Scoring every period (as a policy with an impure score is) decides the same.
    monkeypatch.setattr(CLVPolicy, "pure_score", False)
    eager = RetentionModel(s, policy="a", rng=4).run().timeseries()
    assert scored == [("clv", t) for t in range(25)]
    assert lazy.equals(eager)
    # A score that draws random numbers is drawn every period.
    scored.clear()
    RetentionModel(s, policy="r", rng=4).run()
    assert scored == [("random", t) for t in range(25)]


def test_a_model_that_keeps_nothing_for_inspection_runs_the_same():
    s = scenario(horizon=15)
    kept = RetentionModel(s, policy="a", rng=6).run()
    lean = RetentionModel(s, policy="a", rng=6, keep_last=False).run()
    assert kept.manager.last_view is not None and kept.manager.last_decision is not None
    assert lean.manager.last_view is None and lean.manager.last_decision is None
    assert lean.last_allocation is not None  # what customers received stays inspectable
    assert lean.timeseries().equals(kept.timeseries())


def test_survey_answers_are_whole_numbers_shown_as_floats_with_nan_for_none(stepped):
    from sim.agents.customers import NO_ANSWER

    pop = stepped.customers
    nps, csat = pop.survey_nps, pop.survey_csat
    assert nps.dtype == np.int8 and csat.dtype == np.int8
    answered = pop.survey_at >= 0
    assert answered.any() and (~answered).any()
    assert np.array_equal(nps == NO_ANSWER, ~answered) and np.array_equal(csat == NO_ANSWER, ~answered)
    assert nps[answered].min() >= 0 and nps[answered].max() <= 10
    assert csat[answered].min() >= 1 and csat[answered].max() <= 5
    frame = pop.to_frame(active_only=False)
    assert frame.survey_nps.dtype == np.float32
    assert frame.survey_nps[~answered].isna().all()
    assert np.array_equal(frame.survey_csat[answered].to_numpy(), csat[answered].astype(np.float32))
    view = build_view(pop, stepped.period, 0.0)
    seen = view.known & pop.consent & answered
    assert np.array_equal(view.survey_nps[seen], nps[seen].astype(np.float32))
    assert np.isnan(view.survey_nps[~answered]).all()
    i, j = int(np.flatnonzero(answered)[0]), int(np.flatnonzero(~answered)[0])
    assert stepped.customer(i).survey_nps == float(nps[i])
    assert np.isnan(stepped.customer(j).survey_csat)
    c, before = stepped.customer(i), int(csat[i])
    c.survey_csat = float("nan")  # forgetting an answer
    assert csat[i] == NO_ANSWER
    c.survey_csat = before
    assert csat[i] == before
