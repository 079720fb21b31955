"""Managers: they see only the CRM, decide as their policy does unless biased, and remedies weaken biases."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from sim.agents.managers import Manager, make_policy
from sim.allocation import Decision
from sim.crm import CRMView, build_view
from sim.model import RetentionModel
from sim.policies import Policy, register_policy
from sim.registry import BIASES, POLICIES
from sim.scenario import PolicySpec, Scenario

BIAS_KINDS = ("stereotype", "affinity", "stale_data", "acquisition_focus", "big_account", "overpromise",
              "points_lockin", "salience")
POLICY_KINDS = ("uniform", "random", "value", "churn_risk", "clv", "feedback", "oracle")


def scenario(*arms, horizon: int = 16, size: int = 600, **market) -> Scenario:
    return Scenario.model_validate({
        "name": "managers", "horizon": horizon, "population": {"size": size},
        "market": {"survey_rate": 0.1, **market}, "policies": list(arms)})


def queue(d: Decision, view: CRMView) -> np.ndarray:
    """The open complaints in the order they are handled (as the customers' step orders them)."""
    open_ids = np.flatnonzero(view.complaint_open)
    if d.complaint_priority is None:
        key = view.complaint_age[open_ids].astype(np.float64)
    else:
        key = np.nan_to_num(d.complaint_priority[open_ids].astype(np.float64), nan=-np.inf)
    return open_ids[np.lexsort((open_ids, -key))]


def assert_same_decision(a: Decision, b: Decision, view: CRMView | None = None) -> None:
    """The same decision; with a view, complaint orders count as the same if they handle the same queue."""
    assert a.shares == b.shares
    assert a.promise == b.promise
    names = ["service_weights", "offer", "points_weights"]
    if view is None:
        names.append("complaint_priority")
    else:
        assert np.array_equal(queue(a, view), queue(b, view)), "complaint order"
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y, equal_nan=True), name


def differs(a: Decision, b: Decision, view: CRMView | None = None) -> bool:
    try:
        assert_same_decision(a, b, view)
    except AssertionError:
        return True
    return False


# --------------------------------------------------------------------------- what a manager sees


def _scramble_truth(model: RetentionModel) -> None:
    """Change everything true about customers that the CRM does not record."""
    pop, rng = model.customers, np.random.default_rng(1)
    for col in ("satisfaction", "loyalty", "expectation", "relationship"):
        getattr(pop, col)[:] = rng.random(pop.n).astype(np.float32)
    pop.needs[:] += np.float32(2.0)
    pop.base_churn[:] = rng.random(pop.n).astype(np.float32) * np.float32(0.5)


@pytest.mark.parametrize("kind", ["churn_risk", "clv", "value", "feedback"])
def test_a_manager_decides_on_the_crm_alone(kind):
    sc = scenario({"name": "m", "kind": kind, "options": {"retarget_every": 1},
                   "biases": [{"kind": "affinity", "strength": 0.5}]})
    a, b = RetentionModel(sc, rng=4).run(6), RetentionModel(sc, rng=4).run(6)
    _scramble_truth(b)
    da = a.manager.decide(build_view(a.customers, 6, 500.0, a.manager.needs_truth))
    db = b.manager.decide(build_view(b.customers, 6, 500.0, b.manager.needs_truth))
    assert_same_decision(da, db)


def test_only_the_oracle_decides_on_the_true_state():
    sc = scenario({"name": "o", "kind": "oracle", "options": {"retarget_every": 1}})
    a, b = RetentionModel(sc, rng=4).run(6), RetentionModel(sc, rng=4).run(6)
    assert a.manager.needs_truth
    _scramble_truth(b)
    da = a.manager.decide(build_view(a.customers, 6, 500.0, a._truth(6, a.market.state(6))))
    db = b.manager.decide(build_view(b.customers, 6, 500.0, b._truth(6, b.market.state(6))))
    assert differs(da, db)  # the same check catches a manager who reads the truth


# --------------------------------------------------------------------------- the policy's decision


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_without_biases_the_decision_is_the_policys(kind):
    sc = scenario({"name": "m", "kind": kind, "options": {"retarget_every": 5}})
    model = RetentionModel(sc, rng=6)
    manager, decide = model.manager, model.manager.decide
    checked = []

    def checking(view):
        # The policy on its own, from the same state and the same random stream.
        policy, stream = copy.deepcopy(manager.policy), copy.deepcopy(manager.stream)
        policy.observe(view, stream)
        expected = policy.decide(view, policy.score(view, stream))
        actual = decide(view)
        assert_same_decision(actual, expected)
        checked.append(view.t)
        return actual

    manager.decide = checking
    model.run(12)
    assert checked == list(range(12))


def test_the_arm_settings_reach_the_policy():
    spec = PolicySpec.model_validate({
        "name": "x", "kind": "value", "budget_shares": {"service": 0.5, "complaints": 0.1, "points": 0.1,
                                                        "acquisition": 0.3},
        "target_share": 0.35, "promise": 0.7})
    policy = make_policy(spec)
    assert policy.shares == {"service": 0.5, "complaints": 0.1, "points": 0.1, "acquisition": 0.3}
    assert policy.target_share == 0.35 and policy.promise == 0.7
    default = make_policy(PolicySpec.model_validate({"name": "y", "kind": "uniform"}))
    assert default.promise == 0.5 and math.isclose(sum(default.shares.values()), 1.0)
    with pytest.raises(ValueError, match="unknown policy kind"):
        make_policy(PolicySpec.model_construct(name="z", kind="gut_feeling", budget_shares=None,
                                               target_share=None, promise=None, options={}))


# --------------------------------------------------------------------------- biases and training


def test_bias_strengths_decay_with_training_from_its_start():
    sc = scenario({"name": "m", "kind": "value",
                   "biases": [{"kind": "affinity", "strength": 0.8}, {"kind": "overpromise", "strength": 0.5}],
                   "remedies": [{"kind": "training", "start": 4, "rate": 0.1},
                                {"kind": "feedback_loop"}, {"kind": "data_refresh"}]})
    manager = RetentionModel(sc, rng=1).manager
    for t in range(4):
        assert manager.strengths(t) == [0.8, 0.5]
    for t in (4, 5, 10, 30):
        f = math.exp(-0.1 * (t - 4))
        assert manager.strengths(t) == pytest.approx([0.8 * f, 0.5 * f])


def test_two_trainings_compound():
    sc = scenario({"name": "m", "kind": "value", "biases": [{"kind": "salience", "strength": 1.0}],
                   "remedies": [{"kind": "training", "start": 0, "rate": 0.1},
                                {"kind": "training", "start": 10, "rate": 0.2}]})
    manager = RetentionModel(sc, rng=1).manager
    assert manager.strengths(5) == pytest.approx([math.exp(-0.5)])
    assert manager.strengths(15) == pytest.approx([math.exp(-1.5) * math.exp(-1.0)])


def test_an_over_promise_fades_as_training_weakens_it():
    sc = scenario({"name": "m", "kind": "uniform", "biases": [{"kind": "overpromise", "strength": 1.0}],
                   "remedies": [{"kind": "training", "start": 3, "rate": 0.2}]}, horizon=12)
    model = RetentionModel(sc, rng=2)
    for t in range(12):
        model.step()
        s = 1.0 if t < 3 else math.exp(-0.2 * (t - 3))
        # An honest promise of 0.5 moved by s toward the maximum.
        assert model.last_allocation.promise == pytest.approx(0.5 + s * 0.5)


@pytest.mark.parametrize("kind", BIAS_KINDS)
def test_a_bias_at_strength_zero_gives_exactly_the_unbiased_decision(kind):
    arms = [{"name": "clean", "kind": "churn_risk", "options": {"retarget_every": 2}}]
    arms += [{**arms[0], "name": f"s{s}", "biases": [{"kind": kind, "strength": s}]} for s in (0.0, 0.9)]
    sc = scenario(*arms, events=[{"at": 3, "kind": "needs_shift", "size": 0.6}])
    model = RetentionModel(sc, policy="clean", rng=8)
    managers = [Manager(model, sc.policy(a["name"]), np.random.default_rng(5)) for a in arms]
    strong_differs = False
    for _ in range(10):
        model.step()
        view = model.manager.last_view
        clean, zero, strong = (m.decide(view) for m in managers)
        # What customers receive is the same: service, points, offer, promise, budget and the
        # order complaints are handled in (a bias at strength 0 may rescale the queue's key).
        assert_same_decision(zero, clean, view)
        strong_differs |= differs(strong, clean, view)
    assert strong_differs  # the comparison can see the bias when it has strength
    assert isinstance(managers[1].biases[0], BIASES[kind])


# --------------------------------------------------------------------------- remedies


def test_the_survey_rate_after_remedies():
    sc = scenario({"name": "plain", "kind": "value"},
                  {"name": "heard", "kind": "value",
                   "remedies": [{"kind": "feedback_loop", "start": 5, "survey_rate": 0.25},
                                {"kind": "training"}]},
                  {"name": "twice", "kind": "value",
                   "remedies": [{"kind": "feedback_loop", "survey_rate": 0.05},
                                {"kind": "feedback_loop", "start": 8, "survey_rate": 0.4}]},
                  survey_rate=0.02)
    plain, heard, twice = (RetentionModel(sc, policy=p, rng=1) for p in ("plain", "heard", "twice"))
    assert [plain.survey_rate(t) for t in (0, 9)] == [0.02, 0.02]
    assert [heard.survey_rate(t) for t in (0, 4, 5, 20)] == [0.02, 0.02, 0.25, 0.25]
    assert [twice.survey_rate(t) for t in (0, 7, 8)] == [0.05, 0.05, 0.4]
    assert heard.manager.survey_rate(6, 0.5) == 0.5  # a remedy never lowers it


def test_a_diverse_team_pools_the_biased_decision_with_colleagues():
    base = {"kind": "value", "budget_shares": {"service": 0.6, "complaints": 0.2, "points": 0.0,
                                               "acquisition": 0.2}}
    biases = [{"kind": "overpromise", "strength": 1.0}, {"kind": "acquisition_focus", "strength": 1.0}]
    sc = scenario({**base, "name": "alone", "biases": biases},
                  {**base, "name": "team", "biases": biases, "remedies": [{"kind": "diverse_team", "size": 3}]},
                  {**base, "name": "unbiased_team", "remedies": [{"kind": "diverse_team", "size": 3}]},
                  {**base, "name": "clean"})
    model = RetentionModel(sc, policy="clean", rng=3)
    model.step()
    view = model.manager.last_view
    alone, team, unbiased, clean = (Manager(model, sc.policy(n), np.random.default_rng(0)).decide(view)
                                    for n in ("alone", "team", "unbiased_team", "clean"))
    # Two colleagues decide as the policy does: (biased + 2 × fair) / 3.
    assert alone.promise == 1.0 and team.promise == pytest.approx((1.0 + 2 * 0.5) / 3)
    for channel, share in clean.shares.items():
        assert team.shares[channel] == pytest.approx((alone.shares[channel] + 2 * share) / 3)
    assert team.shares["acquisition"] < alone.shares["acquisition"]
    assert_same_decision(unbiased, clean)  # nothing to pool without biases


class Recent(Policy):
    """Serves recent buyers (no score for customers whose data is blank)."""

    kind = "finding_recent"

    def score(self, view, rng):
        return -view.recency


@pytest.fixture
def recent():
    register_policy(Recent)
    yield
    POLICIES.unregister("finding_recent")


def test_a_bias_at_strength_zero_keeps_unscored_customers_last(recent):
    arms = [{"name": "clean", "kind": "finding_recent", "options": {"retarget_every": 1}}]
    arms += [{**arms[0], "name": "zero", "biases": [{"kind": "affinity", "strength": 0.0}]}]
    sc = Scenario.model_validate({"name": "p", "horizon": 10, "population": {"size": 600},
                                  "market": {"events": [{"at": 2, "kind": "regulation", "consent_share": 0.5}]},
                                  "policies": arms})
    model = RetentionModel(sc, policy="clean", rng=8)
    clean, zero = (Manager(model, sc.policy(a["name"]), np.random.default_rng(5)) for a in arms)
    for _ in range(6):
        model.step()
        v = model.manager.last_view
        np.testing.assert_array_equal(zero.decide(v).service_weights, clean.decide(v).service_weights)
