"""Turning a decision into money: within the budget, in proportion to weights, visible customers only."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.allocation import CHANNELS, Decision, allocate

F32 = np.float32


def decision(weights, shares=None, **kw) -> Decision:
    return Decision(shares=shares if shares is not None else {"service": 1.0},
                    service_weights=np.asarray(weights, dtype=F32), offer=np.zeros(2, dtype=F32), **kw)


def handed_out(a) -> float:
    """Everything the allocation pays for, summed from the money itself (not from `spent`)."""
    return (float(a.service.sum(dtype=np.float64)) + float(a.points.sum(dtype=np.float64))
            + a.complaint_capacity * COST + a.acquisition)


COST = 5.0


# --------------------------------------------------------------------------- the budget


def test_money_never_exceeds_the_budget_whatever_the_decision():
    rng = np.random.default_rng(2024)
    specials = np.array([np.nan, np.inf, -np.inf, -3.0, 0.0, 1e30, 1e-3], dtype=F32)
    for case in range(400):
        n = int(rng.integers(1, 60))
        weights = rng.normal(1.0, 2.0, n).astype(F32)
        hit = rng.random(n) < 0.2
        weights[hit] = rng.choice(specials, int(hit.sum()))
        points = None
        if case % 2:
            points = rng.normal(0.0, 3.0, n).astype(F32)
            points[rng.random(n) < 0.1] = np.nan
        shares = {c: float(rng.uniform(-0.5, 1.5)) for c in CHANNELS if rng.random() < 0.9}
        visible = rng.random(n) < rng.uniform(0.0, 1.0)
        budget = float(rng.choice([0.0, 1.0, 37.5, 1e4, 2e7]))
        a = allocate(decision(weights, shares, points_weights=points), budget, visible, COST)
        assert handed_out(a) <= budget, (case, shares, budget)
        assert sum(a.spent.values()) <= budget, case
        for money in (a.service, a.points):
            assert np.all(np.isfinite(money)) and np.all(money >= 0), case
            assert np.all(money[~visible] == 0), case


def test_shares_adding_up_to_more_than_one_are_scaled_down_together():
    a = allocate(decision(np.ones(4), {"service": 1.0, "complaints": 0.5, "points": 0.5, "acquisition": 0.0}),
                 1000.0, np.ones(4, dtype=bool), COST)
    # 1 : 0.5 : 0.5 of 2 → half, a quarter and a quarter of the budget.
    assert a.spent["service"] == pytest.approx(500.0, rel=1e-5)
    assert a.spent["points"] == pytest.approx(250.0, rel=1e-5)
    assert a.complaint_capacity == 50  # ⌊250 / 5⌋
    assert a.acquisition == 0.0
    assert handed_out(a) <= 1000.0


def test_negative_and_missing_shares_spend_nothing_on_their_channel():
    a = allocate(decision(np.ones(3), {"service": -0.4, "complaints": float("nan"), "acquisition": 0.3}),
                 100.0, np.ones(3, dtype=bool), COST)
    assert a.spent["service"] == 0.0 and not a.service.any()
    assert a.complaint_capacity == 0 and a.spent["complaints"] == 0.0
    assert a.spent["points"] == 0.0  # a channel the decision does not name gets nothing
    assert a.acquisition == pytest.approx(30.0)


def test_a_zero_budget_buys_nothing():
    a = allocate(decision(np.ones(5), {"service": 0.5, "complaints": 0.3, "acquisition": 0.2}), 0.0,
                 np.ones(5, dtype=bool), COST)
    assert handed_out(a) == 0.0 and sum(a.spent.values()) == 0.0


def test_nobody_visible_gets_no_service_but_acquisition_and_complaints_are_still_bought():
    a = allocate(decision(np.full(6, 2.0), {"service": 0.5, "points": 0.2, "complaints": 0.2,
                                             "acquisition": 0.1}),
                 200.0, np.zeros(6, dtype=bool), COST)
    assert not a.service.any() and not a.points.any()
    assert a.spent["service"] == 0.0 and a.spent["points"] == 0.0
    assert a.complaint_capacity == 8 and a.acquisition == pytest.approx(20.0)


# --------------------------------------------------------------------------- service and points


def test_service_is_split_in_proportion_to_weights_among_visible_customers():
    weights = [1.0, 2.0, 3.0, 0.0, 5.0]
    visible = np.array([True, True, True, True, False])
    a = allocate(decision(weights), 600.0, visible, COST)
    # The invisible customer's weight of 5 counts for nothing: 600 split 1 : 2 : 3.
    np.testing.assert_allclose(a.service, [100.0, 200.0, 300.0, 0.0, 0.0], rtol=2e-6)
    assert a.service.sum(dtype=np.float64) <= 600.0


def test_unusable_weights_give_nothing_and_an_infinite_weight_takes_all():
    a = allocate(decision([np.nan, -2.0, -np.inf, 1.0, 3.0]), 400.0, np.ones(5, dtype=bool), COST)
    np.testing.assert_allclose(a.service, [0.0, 0.0, 0.0, 100.0, 300.0], rtol=2e-6)
    b = allocate(decision([np.inf, 1.0, 1.0]), 400.0, np.ones(3, dtype=bool), COST)
    assert b.service[0] == pytest.approx(400.0, rel=1e-5)
    assert b.service[1:].sum() < 1e-3 and b.service.sum(dtype=np.float64) <= 400.0


def test_all_weights_zero_spends_nothing_on_service():
    a = allocate(decision(np.zeros(4), {"service": 0.7, "acquisition": 0.3}), 100.0, np.ones(4, dtype=bool),
                 COST)
    assert not a.service.any() and a.spent["service"] == 0.0
    assert a.acquisition == pytest.approx(30.0)


def test_points_default_to_the_service_weights():
    weights = [4.0, 0.0, 1.0]
    visible = np.ones(3, dtype=bool)
    a = allocate(decision(weights, {"service": 0.5, "points": 0.25}), 800.0, visible, COST)
    np.testing.assert_allclose(a.points, [160.0, 0.0, 40.0], rtol=2e-6)
    np.testing.assert_allclose(a.points / a.points.sum(), a.service / a.service.sum(), rtol=1e-6)
    b = allocate(decision(weights, {"service": 0.5, "points": 0.25},
                          points_weights=np.array([0.0, 1.0, 1.0], dtype=F32)), 800.0, visible, COST)
    np.testing.assert_allclose(b.points, [0.0, 100.0, 100.0], rtol=2e-6)
    np.testing.assert_array_equal(b.service, a.service)  # service does not follow the points weights


# --------------------------------------------------------------------------- complaints


@pytest.mark.parametrize(("budget", "share", "cost", "capacity"), [
    (1000.0, 0.15, 7.0, 21),   # ⌊150 / 7⌋
    (1000.0, 0.15, 5.0, 30),   # exactly 150 / 5
    (1000.0, 0.15, 151.0, 0),  # one handling costs more than the channel
    (20000.0, 0.25, 3.0, 1666),
])
def test_complaint_capacity_is_the_whole_handlings_the_money_buys(budget, share, cost, capacity):
    a = allocate(decision(np.ones(2), {"complaints": share}), budget, np.ones(2, dtype=bool), cost)
    assert a.complaint_capacity == capacity == math.floor(budget * share / cost)
    assert a.spent["complaints"] == capacity * cost <= budget * share


# --------------------------------------------------------------------------- what is spent


def test_spent_per_channel_adds_up_to_the_money_given():
    rng = np.random.default_rng(5)
    weights = rng.gamma(2.0, 1.0, 500)
    visible = rng.random(500) < 0.7
    shares = {"service": 0.5, "complaints": 0.15, "points": 0.15, "acquisition": 0.2}
    a = allocate(decision(weights, shares), 12345.0, visible, COST)
    assert set(a.spent) == set(CHANNELS)
    assert a.spent["service"] == pytest.approx(float(a.service.sum(dtype=np.float64)), rel=1e-12)
    assert a.spent["points"] == pytest.approx(float(a.points.sum(dtype=np.float64)), rel=1e-12)
    assert a.spent["complaints"] == a.complaint_capacity * COST
    assert a.spent["acquisition"] == a.acquisition == pytest.approx(0.2 * 12345.0)
    # Each channel gets (almost exactly) its share, and never more.
    for channel, money in (("service", a.service), ("points", a.points)):
        assert float(money.sum(dtype=np.float64)) <= shares[channel] * 12345.0
        assert float(money.sum(dtype=np.float64)) == pytest.approx(shares[channel] * 12345.0, rel=1e-5)
    assert sum(a.spent.values()) <= 12345.0


def test_promise_is_kept_within_zero_and_one_and_the_offer_passes_through():
    offer = np.array([0.25, -0.5], dtype=F32)
    for promise, kept in ((1.7, 1.0), (-0.2, 0.0), (0.8, 0.8)):
        d = Decision(shares={"service": 1.0}, service_weights=np.ones(3, dtype=F32), offer=offer,
                     promise=promise)
        a = allocate(d, 10.0, np.ones(3, dtype=bool), COST)
        assert a.promise == pytest.approx(kept)
        np.testing.assert_array_equal(a.offer, offer)


def test_the_complaint_order_is_the_decisions():
    prio = np.array([3.0, 1.0, 2.0], dtype=F32)
    a = allocate(decision(np.ones(3), complaint_priority=prio), 10.0, np.ones(3, dtype=bool), COST)
    np.testing.assert_array_equal(a.complaint_priority, prio)
    assert allocate(decision(np.ones(3)), 10.0, np.ones(3, dtype=bool), COST).complaint_priority is None


def test_with_shares_copies_the_decision():
    d = decision(np.ones(2), {"service": 0.6, "acquisition": 0.4})
    e = d.with_shares(service=0.2)
    assert e.shares == {"service": 0.2, "acquisition": 0.4}
    assert d.shares == {"service": 0.6, "acquisition": 0.4}


@pytest.mark.parametrize("scale", [1e-36, 1e-38, 1e-45])
def test_money_never_exceeds_the_budget_with_tiny_positive_weights(scale):
    w = np.full(10, scale, dtype=F32)
    d = Decision(shares={"service": 0.65, "points": 0.1}, service_weights=w, offer=np.zeros(1, F32))
    a = allocate(d, 20000.0, np.ones(10, dtype=bool), 5.0)
    assert a.service.sum(dtype=np.float64) <= 0.65 * 20000.0
    assert a.points.sum(dtype=np.float64) <= 0.1 * 20000.0
