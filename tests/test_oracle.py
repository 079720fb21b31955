"""The oracle: its greedy allocation is the optimum of a period's problem, checked on small cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from sim.policies.oracle import Response, greedy_allocation


def profit(plan, b_service, response, b_points, points_scale, b_complaint, acquisition_value):
    """What a plan earns in the period's problem, less the money it spends."""
    earned = (b_service * response.value(plan.service)).sum()
    earned += (b_points * -np.expm1(-plan.points / points_scale)).sum()
    earned += b_complaint[plan.handled].sum() + acquisition_value * plan.acquisition
    return earned


def test_concave_points_meet_the_closed_form():
    # Points alone, b_i (1 − e^(−s/k)): at the optimum every customer's marginal return is λ, and
    # s_i = k ln(b_i / (k λ)) spends the budget exactly: ln λ = (Σ ln(b_i / k) − B / k) / m.
    b, k, budget = np.array([40.0, 20.0, 10.0]), 1.0, 3.0
    plan = greedy_allocation(np.zeros(3), Response(2.0, 2.0), b, k, np.zeros(0), 5.0, 0.0, budget)
    lam = np.exp((np.log(b / k).sum() - budget / k) / 3)
    np.testing.assert_allclose(plan.points, k * np.log(b / (k * lam)), rtol=1e-9)
    assert plan.price == pytest.approx(lam, rel=1e-9)
    assert plan.points.sum() == pytest.approx(budget, rel=1e-12)


def test_concave_service_is_the_numerical_optimum():
    # Shape 1 is concave: the greedy plan must match a general-purpose optimiser's.
    rng = np.random.default_rng(4)
    b = rng.gamma(2.0, 10.0, 6)
    response, budget = Response(2.0, 1.0), 5.0
    plan = greedy_allocation(b, response, np.zeros(6), 1.0, np.zeros(0), 5.0, 0.0, budget)
    best = minimize(lambda s: -(b * response.value(np.maximum(s, 0))).sum(), np.full(6, budget / 6),
                    constraints=[{"type": "ineq", "fun": lambda s: budget - s.sum()}],
                    bounds=[(0, budget)] * 6, method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
    greedy = (b * response.value(plan.service)).sum()
    assert greedy >= -best.fun - 1e-4 * abs(best.fun)
    assert plan.service.sum() == pytest.approx(budget, rel=1e-3)


def test_s_shaped_service_is_optimal_for_the_money_it_spends():
    # With a threshold (shape 2) the problem is not concave; the Lagrangian plan is still the exact
    # optimum for the money it spends (Everett 1963). Checked against every allocation on a grid.
    b = np.array([30.0, 12.0, 4.0])
    response = Response(1.0, 2.0)
    plan = greedy_allocation(b, response, np.zeros(3), 1.0, np.zeros(0), 5.0, 0.0, 3.0)
    spent = plan.service.sum()
    assert 0 < spent <= 3.0 + 1e-9
    grid = np.arange(0.0, 3.0 + 1e-9, 0.01)
    s = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    s = s[s.sum(axis=1) <= spent + 1e-9]
    best = ((b * response.value(s)).sum(axis=1) - plan.price * s.sum(axis=1)).max()
    mine = (b * response.value(plan.service)).sum() - plan.price * spent
    assert mine >= best - 1e-6
    # The least valuable customer is below the threshold where service pays: nothing for them.
    assert plan.service[2] == 0.0 and plan.service[0] > plan.service[1] > 0


def test_money_goes_where_it_earns_most_and_unprofitable_money_is_kept():
    response = Response(1.0, 2.0)
    # A complaint worth more than it costs is handled; one worth less is not, even with money left.
    plan = greedy_allocation(np.zeros(2), response, np.zeros(2), 1.0, np.array([50.0, 2.0]), 5.0, 0.0, 100.0)
    assert plan.handled.tolist() == [True, False]
    assert plan.acquisition == 0.0 and plan.service.sum() == 0.0
    # Acquisition at a return above 1 takes what is left over.
    plan = greedy_allocation(np.array([10.0]), response, np.zeros(1), 1.0, np.zeros(0), 5.0, 1.5, 100.0)
    assert plan.acquisition == pytest.approx(100.0 - plan.service.sum())
    assert plan.price == pytest.approx(1.5)


def test_no_money_no_spending():
    plan = greedy_allocation(np.array([10.0, 5.0]), Response(1.0, 2.0), np.array([3.0, 1.0]), 1.0,
                             np.array([40.0]), 5.0, 2.0, 0.0)
    assert plan.service.sum() == plan.points.sum() == plan.acquisition == 0.0
    assert not plan.handled.any()
