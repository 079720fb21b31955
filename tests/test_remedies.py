"""Remedies: when each acts and what it changes — the manager's information or judgement, never customers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sim.agents.state import NEVER
from sim.allocation import Decision
from sim.crm import CRMView
from sim.model import RetentionModel
from sim.registry import REMEDIES
from sim.remedies import DataRefresh, DiverseTeam, FeedbackLoop, Remedy, Training, make_remedy
from sim.scenario import Scenario

F32 = np.float32
NAN = np.nan


def remedy(kind: str, **params) -> Remedy:
    return make_remedy(REMEDIES.spec(kind).model_validate({"kind": kind, **params}))


def view_of(t: int = 10, **cols) -> CRMView:
    """A hand-made view of a few customers of one segment."""
    n = len(cols["survey_nps"])
    base = {
        "known": np.ones(n, dtype=bool), "churned": np.zeros(n, dtype=bool), "segment": np.zeros(n, np.int16),
        "recency": np.zeros(n, F32), "frequency": np.ones(n, F32), "monetary": np.ones(n, F32),
        "tenure": np.full(n, 10, F32), "complaint_open": np.zeros(n, dtype=bool),
        "complaint_age": np.zeros(n, np.int16), "complaints_total": np.zeros(n, F32),
        "survey_nps": np.full(n, NAN, F32), "survey_csat": np.full(n, NAN, F32),
        "survey_age": np.zeros(n, F32), "needs_signal": np.zeros(n, F32), "likability": np.zeros(n, F32),
        "lock": np.zeros(n, F32), "service_total": np.zeros(n, F32), "consent": np.ones(n, dtype=bool),
    }
    for name, value in cols.items():
        base[name] = np.asarray(value, dtype=base[name].dtype)
    return CRMView(t=t, segment_names=("only",), budget=100.0, **base)


def decision(n: int, promise: float = 0.5, priority=None) -> Decision:
    return Decision(shares={"service": 1.0}, service_weights=np.ones(n, F32), offer=np.zeros(1, F32),
                    promise=promise, complaint_priority=None if priority is None else np.asarray(priority, F32))


# --------------------------------------------------------------------------- training


def test_training_decays_bias_strength_exponentially_from_its_start():
    tr = remedy("training", start=10, rate=0.1)
    assert isinstance(tr, Training)
    assert [tr.strength_factor(t) for t in range(11)] == [1.0] * 11  # not before, and 1 at the start
    for t in (11, 15, 30, 100):
        assert tr.strength_factor(t) == pytest.approx(math.exp(-0.1 * (t - 10)))
    factors = [tr.strength_factor(t) for t in range(10, 60)]
    assert all(a > b for a, b in itertools.pairwise(factors))
    # The default rate halves strength in ln 2 / 0.05 ≈ 13.9 periods.
    default = remedy("training")
    assert default.strength_factor(14) < 0.5 < default.strength_factor(13)


def test_training_at_rate_zero_changes_nothing():
    tr = remedy("training", start=0, rate=0.0)
    assert all(tr.strength_factor(t) == 1.0 for t in range(50))


# --------------------------------------------------------------------------- data refresh


def test_data_refresh_fires_every_few_periods_from_its_start():
    dr = remedy("data_refresh", start=6, every=4)
    assert isinstance(dr, DataRefresh)
    assert [t for t in range(40) if dr.refresh_due(t)] == [6, 10, 14, 18, 22, 26, 30, 34, 38]
    every_period = remedy("data_refresh", start=0, every=1)
    assert all(every_period.refresh_due(t) for t in range(20))


def test_data_refresh_renews_a_stale_snapshot_when_due():
    sc = Scenario.model_validate({
        "name": "refresh", "horizon": 20, "population": {"size": 400},
        "policies": [{"name": "stale", "kind": "value", "biases": [{"kind": "stale_data", "strength": 1.0}],
                      "remedies": [{"kind": "data_refresh", "start": 6, "every": 4}]}]})
    model = RetentionModel(sc, rng=3)
    pop, bias = model.customers, model.manager.biases[0]
    taken = []
    for _ in range(20):
        model.step()
        # The first customers joined before period 0: tenure in the snapshot less it is its period.
        # (those still customers when it was taken: the others show no tenure in it).
        first = (pop.joined < 0) & (pop.joined > NEVER) & (bias.snapshot["tenure"] > 0)
        at = bias.snapshot["tenure"][first] + pop.joined[first]
        assert np.nanmin(at) == np.nanmax(at)
        taken.append(int(np.nanmax(at)))
    assert taken == [0] * 6 + [6] * 4 + [10] * 4 + [14] * 4 + [18] * 2


# --------------------------------------------------------------------------- feedback loop


def test_feedback_loop_raises_the_survey_rate_from_its_start_and_never_lowers_it():
    fb = remedy("feedback_loop", start=5, survey_rate=0.1)
    assert isinstance(fb, FeedbackLoop)
    assert [fb.survey_rate(t, 0.02) for t in (0, 4, 5, 6, 50)] == [0.02, 0.02, 0.1, 0.1, 0.1]
    assert fb.survey_rate(9, 0.3) == 0.3


@pytest.mark.parametrize(("promise", "weight", "pulled"), [
    (1.0, 0.5, 0.75), (0.2, 0.5, 0.35), (0.5, 0.5, 0.5), (0.9, 1.0, 0.5), (0.9, 0.0, 0.9)])
def test_feedback_loop_pulls_the_promise_toward_honest(promise, weight, pulled):
    fb = remedy("feedback_loop", start=3, weight=weight)
    v = view_of(t=3, survey_nps=[5.0, 5.0])
    assert fb.correct(decision(2, promise), v).promise == pytest.approx(pulled)
    before = view_of(t=2, survey_nps=[5.0, 5.0])
    assert fb.correct(decision(2, promise), before).promise == promise


def test_feedback_loop_handles_complaints_in_order_of_waiting():
    v = view_of(t=4, survey_nps=[NAN] * 4, complaint_open=[True, True, True, False],
                complaint_age=[1, 6, 3, 0])
    # The decision put the newest complaint first; fully weighted, waiting time decides.
    d = remedy("feedback_loop", weight=1.0).correct(decision(4, priority=[9.0, 1.0, 5.0, 0.0]), v)
    open_ = v.complaint_open
    order = np.argsort(-d.complaint_priority[open_], kind="stable")
    assert list(order) == [1, 2, 0]
    # Unweighted, the decision's order stands.
    d0 = remedy("feedback_loop", weight=0.0).correct(decision(4, priority=[9.0, 1.0, 5.0, 0.0]), v)
    assert list(np.argsort(-d0.complaint_priority[open_], kind="stable")) == [0, 2, 1]
    # Oldest first already (no priority): nothing to correct.
    assert remedy("feedback_loop").correct(decision(4), v).complaint_priority is None


def test_feedback_loop_weighs_what_customers_said_into_whom_to_serve():
    # The policy prefers customer 0; customer 1 told the firm they are unhappy and complained.
    v = view_of(t=8, survey_nps=[10.0, 1.0, 9.0], complaints_total=[0.0, 2.0, 0.0])
    score = np.array([3.0, 1.0, 2.0], dtype=F32)
    heard = remedy("feedback_loop", weight=1.0).judge(score, v)
    assert int(np.argmax(heard)) == 1
    kept = remedy("feedback_loop", weight=0.0).judge(score, v)
    assert list(np.argsort(-kept)) == [0, 2, 1]
    assert remedy("feedback_loop", weight=1.0).judge(None, v) is None  # no preference stays none
    later = remedy("feedback_loop", start=9, weight=1.0)
    assert later.judge(score, v) is score  # not yet on


# --------------------------------------------------------------------------- each remedy does its own thing


@pytest.mark.parametrize("kind", ["training", "data_refresh", "feedback_loop", "diverse_team"])
def test_a_remedy_changes_only_what_it_is_about(kind):
    r = remedy(kind, start=2)
    v = view_of(t=7, survey_nps=[2.0, 9.0], complaint_open=[True, False], complaint_age=[3, 0])
    for t in range(12):
        if kind != "training":
            assert r.strength_factor(t) == 1.0
        if kind != "data_refresh":
            assert not r.refresh_due(t)
        if kind != "feedback_loop":
            assert r.survey_rate(t, 0.02) == 0.02
    if kind != "feedback_loop":
        score = np.array([1.0, 2.0], dtype=F32)
        assert r.judge(score, v) is score
        d = decision(2, promise=0.9, priority=[1.0, 0.0])
        assert r.correct(d, v) is d and d.promise == 0.9
    assert isinstance(r, DiverseTeam) == (kind == "diverse_team")
    if kind == "diverse_team":
        assert r.size == 3


# --------------------------------------------------------------------------- never customers directly


def _scenario(*arms) -> Scenario:
    return Scenario.model_validate({
        "name": "remedies", "horizon": 14, "population": {"size": 700},
        "market": {"survey_rate": 0.02, "events": [{"at": 5, "kind": "needs_shift", "size": 0.4}]},
        "policies": list(arms)})


CUSTOMER_COLUMNS = ("status", "satisfaction", "loyalty", "expectation", "needs", "lock", "growth",
                    "revenue_total", "service_total", "complaints_total")


def _same_customers(a: RetentionModel, b: RetentionModel) -> bool:
    return all(np.array_equal(getattr(a.customers, c), getattr(b.customers, c)) for c in CUSTOMER_COLUMNS)


@pytest.mark.parametrize("remedies", [
    [{"kind": "training", "rate": 0.3, "cost": 0}],
    [{"kind": "data_refresh", "every": 2, "cost": 0}],
    [{"kind": "diverse_team", "size": 5, "cost": 0}],
    [{"kind": "feedback_loop", "weight": 0.0, "survey_rate": 0.02, "cost": 0}],
    [{"kind": "training", "cost": 0}, {"kind": "data_refresh", "cost": 0}, {"kind": "diverse_team", "cost": 0}],
])
def test_a_remedy_with_nothing_to_correct_changes_nothing(remedies):
    # No bias to weaken, refresh or outvote, no weight on feedback and no cost: the run is the same
    # to the bit (a remedy's cost is tested in test_economics.py).
    sc = _scenario({"name": "plain", "kind": "value"},
                   {"name": "remedied", "kind": "value", "remedies": remedies})
    plain = RetentionModel(sc, policy="plain", rng=11).run()
    remedied = RetentionModel(sc, policy="remedied", rng=11).run()
    assert remedied.timeseries().equals(plain.timeseries())
    assert _same_customers(plain, remedied)


def test_more_surveys_reach_the_crm_but_change_no_customer():
    # A manager who serves everyone alike, oldest complaint first, honestly: the feedback loop's
    # only lever is the survey rate. More answers reach the CRM; customers live the same lives.
    sc = _scenario({"name": "plain", "kind": "uniform"},
                   {"name": "heard", "kind": "uniform",
                    "remedies": [{"kind": "feedback_loop", "weight": 1.0, "survey_rate": 0.3, "cost": 0}]})
    plain = RetentionModel(sc, policy="plain", rng=12).run()
    heard = RetentionModel(sc, policy="heard", rng=12).run()
    assert heard.survey_rate(3) == 0.3 and plain.survey_rate(3) == 0.02
    answered = [int((m.customers.survey_at >= 0).sum()) for m in (plain, heard)]
    assert answered[1] > 5 * answered[0]
    assert _same_customers(plain, heard)
    tp, th = plain.timeseries(), heard.timeseries()
    moved = [c for c in tp.columns if not tp[c].equals(th[c])]
    assert set(moved) <= {"nps_surveyed", "csat_surveyed"} and moved


def test_a_weighted_feedback_loop_moves_customers_through_the_decision():
    every = {"retarget_every": 3}
    sc = _scenario({"name": "loud", "kind": "value", "promise": 0.9, "options": every},
                   {"name": "heard", "kind": "value", "promise": 0.9, "options": every,
                    "remedies": [{"kind": "feedback_loop", "weight": 0.7, "survey_rate": 0.02, "cost": 0}]})
    loud, heard = (RetentionModel(sc, policy=p, rng=13) for p in ("loud", "heard"))
    for m in (loud, heard):
        m.step()
    # The first period: the same customers and market; nothing has been heard yet, so the
    # same customers are served, and the decision differs only in the promise.
    a, b = heard.last_allocation, loud.last_allocation
    assert a.promise == pytest.approx(0.9 - 0.7 * 0.4) and b.promise == pytest.approx(0.9)
    np.testing.assert_array_equal(a.service, b.service)
    assert a.spent == b.spent
    for m in (loud, heard):
        m.run()
    # Later, what customers said changes whom the manager serves ...
    assert not np.array_equal(heard.customers.service_total, loud.customers.service_total)
    # ... and pulling the over-promise toward honest keeps expectations nearer what is delivered.
    act_h, act_l = heard.customers.active, loud.customers.active
    assert heard.customers.expectation[act_h].mean() < loud.customers.expectation[act_l].mean()
