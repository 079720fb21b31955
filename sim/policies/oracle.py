"""`oracle`: sees the truth and spends each period's budget where it earns most — an upper bound.

The oracle is told what no manager can know (`sim.crm.Truth`): every customer's
true state and the run's economics. From the customers' own rules it computes
what each use of money would earn (`sim.agents.kernels.opportunities`): a
period of service attention for each customer, points for each customer,
handling each open complaint, and winning a new customer. It then buys the
opportunities in order of profit per unit of money (`greedy_allocation`):
service along the customers' response to it (a threshold, then diminishing
returns: `Response`), points with diminishing returns per customer, complaints one by
one, acquisition at a constant rate; it stops where a unit of money would
return less than itself, so it may leave money unspent. It promises honestly
and tunes the offer to the customers' true needs.

Greedy by marginal profit is the exact optimum of the period's problem
(concave returns, a budget), tested on small cases with a known answer; over
many periods it is a heuristic, but the best-informed one: no policy should
beat it, and the comparisons check that none does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sim.agents import kernels
from sim.agents.state import ACTIVE
from sim.allocation import CHANNELS, Decision
from sim.crm import CRMView
from sim.policies.base import Policy
from sim.registry import POLICIES

F32 = np.float32
#: Bisection steps for the price of money (relative precision 2^-60).
STEPS = 60


@dataclass
class Plan:
    """The oracle's spending for one period.

    Attributes:
        service: Service money per customer.
        points: Points money per customer.
        handled: Mask of the complaints to handle.
        acquisition: Money for winning customers.
        price: Profit a unit of money earns at the margin (the Lagrange multiplier).
    """

    service: np.ndarray
    points: np.ndarray
    handled: np.ndarray
    acquisition: float
    price: float


#: Grid of money in units of the response's scale, for inverting its marginal return.
GRID = 4096
#: The largest service spend per customer the oracle considers, in units of `service_scale`.
X_MAX = 64.0


class Response:
    """The customers' response to service money, b · f(s), f(s) = x^c / (1 + x^c) with x = s / scale [Q1].

    `spend(b, price)` is the money that maximises b · f(s) − price · s for each
    customer: where the marginal return b · f'(s) falls to `price` on the
    response's concave side, or nothing when even that spend would return less
    than it costs (with c > 1 a token of attention returns little).
    """

    def __init__(self, scale: float, shape: float) -> None:
        self.scale, self.shape = float(scale), float(shape)
        c = self.shape
        low = ((c - 1.0) / (c + 1.0)) ** (1.0 / c) if c > 1.0 else 0.0  # the inflection: f' is largest there
        self.x = np.linspace(low, X_MAX, GRID)
        xc = self.x ** c
        with np.errstate(divide="ignore", invalid="ignore"):
            self.slope = np.where(self.x > 0, c * xc / self.x, c) / (1.0 + xc) ** 2  # f'(x), falling
        self.average = np.divide(xc / (1.0 + xc), self.x, out=np.full_like(self.x, np.inf), where=self.x > 0)

    def value(self, s: np.ndarray) -> np.ndarray:
        """f(s), the share of the full effect `s` money buys."""
        xc = (np.asarray(s, dtype=np.float64) / self.scale) ** self.shape
        return xc / (1.0 + xc)

    def spend(self, b: np.ndarray, price: float) -> np.ndarray:
        """The best money per customer at `price` (the profit a unit of money must earn)."""
        with np.errstate(divide="ignore"):
            y = np.where(b > 0, price * self.scale / b, np.inf)  # the slope f'(x) must fall to
        # f' falls along the grid: interpolate x at y on the reversed (rising) arrays.
        x = np.interp(y, self.slope[::-1], self.x[::-1], left=X_MAX, right=0.0)
        avg = np.interp(x, self.x, self.average)
        return np.where((y <= self.slope[0]) & (avg >= y) & (x > 0), x * self.scale, 0.0)


def _fill(b: np.ndarray, scale: float, price: float) -> np.ndarray:
    """Money per customer where b (1 − e^(−s/scale)) earns `price` at the margin: scale ln(b/(scale price))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = scale * np.log(b / (scale * price))
    return np.where(b > scale * price, s, 0.0)


def greedy_allocation(b_service: np.ndarray, response: Response, b_points: np.ndarray, points_scale: float,
                      b_complaint: np.ndarray, complaint_cost: float, acquisition_value: float, budget: float,
                      floor: float = 1.0) -> Plan:
    """Spend `budget` on the opportunities in order of profit per unit of money.

    Service to customer i earns `b_service[i] · f(s)` for `s` money (`response`);
    points earn `b_points[i] · (1 − exp(−s / points_scale))`; handling complaint j
    earns `b_complaint[j]` for `complaint_cost`; each unit of acquisition money
    earns `acquisition_value`. Every unit spent earns the same at the margin
    (`price`, the Lagrange multiplier), at least `floor`; money that would earn
    less is kept. With concave returns this is the optimum of the period's
    problem; with a threshold in the response (shape > 1) it is the optimum for
    the money it spends (Everett 1963), which may leave a little unspent.

    Returns:
        The plan.
    """
    b_service = np.maximum(np.nan_to_num(b_service, nan=0.0), 0.0)
    b_points = np.maximum(np.nan_to_num(b_points, nan=0.0), 0.0)
    b_complaint = np.maximum(np.nan_to_num(b_complaint, nan=0.0), 0.0)

    def spend(price: float) -> float:
        return float(response.spend(b_service, price).sum() + _fill(b_points, points_scale, price).sum()
                     + complaint_cost * np.count_nonzero(b_complaint >= price * complaint_cost))

    low = max(floor, acquisition_value)  # nothing earning less than this is bought before acquisition
    if spend(low) <= budget:
        price = low
    else:  # the budget runs out before: the price where it is exactly spent
        high = max(low * 2.0, 1.0)
        while spend(high) > budget:
            high *= 2.0
        for _ in range(STEPS):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if spend(mid) > budget else (low, mid)
        price = high
    service = response.spend(b_service, price)
    points = _fill(b_points, points_scale, price)
    handled = b_complaint >= price * complaint_cost
    rest = budget - float(service.sum() + points.sum() + complaint_cost * np.count_nonzero(handled))
    acquisition = max(rest, 0.0) if acquisition_value >= max(floor, price) else 0.0
    return Plan(service, points, handled, acquisition, price)


@POLICIES.register
class OraclePolicy(Policy):
    """Knows every customer's true state and spends where a unit of money earns most; an upper bound."""

    kind: ClassVar[str] = "oracle"
    needs_truth: ClassVar[bool] = True

    def plan(self, view: CRMView) -> tuple[Plan, np.ndarray]:
        """This period's spending, and the value of handling each customer's complaint."""
        truth = view.truth
        assert truth is not None, "the oracle needs the true state (RetentionModel gives it)"
        pop = truth.customers
        b = pop.behaviour
        n = pop.n
        worth, b_service, b_points, b_complaint = (np.empty(n) for _ in range(4))
        kernels.opportunities(pop.state(), pop.traits(), self.offer(view), pop.terms(truth.market), pop.params,
                              truth.margin, truth.periods_left, worth, b_service, b_points, b_complaint)
        acquisition_value = newcomer_worth(pop, worth, view.t) / truth.acquisition_cost
        response = Response(float(pop.params.service_scale), b.service_shape)  # in money (`mean_revenue`)
        plan = greedy_allocation(b_service, response, b_points, float(pop.params.points_scale), b_complaint,
                                 truth.complaint_cost, acquisition_value, view.budget)
        return plan, b_complaint

    def decide(self, view: CRMView, score: np.ndarray | None) -> Decision:
        """The greedy plan as a decision: channel shares, money per customer, complaints by value."""
        plan, b_complaint = self.plan(view)
        spent = {"service": float(plan.service.sum()), "points": float(plan.points.sum()),
                 "complaints": float(truth_cost(view) * np.count_nonzero(plan.handled)),
                 "acquisition": plan.acquisition}
        budget = view.budget
        # Shares of the budget, the complaint share rounded up so the chosen complaints are all paid for.
        shares = {c: (spent[c] / budget if budget > 0 else 0.0) for c in CHANNELS}
        if budget > 0 and spent["complaints"] > 0:
            shares["complaints"] = math.nextafter(spent["complaints"] / budget, math.inf)
        return Decision(
            shares=shares,
            service_weights=plan.service.astype(F32),
            points_weights=plan.points.astype(F32),
            offer=self.offer(view),
            promise=0.5,
            complaint_priority=np.where(plan.handled, b_complaint, -1.0).astype(F32),
            note=f"marginal profit per unit of money {plan.price:.2f}",
        )

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """What a period of full service would earn from each customer (for biases laid over the oracle)."""
        plan, _ = self.plan(view)
        return plan.service.astype(F32)

    def offer(self, view: CRMView) -> np.ndarray:
        """The true mean needs of each segment's active customers."""
        truth = view.truth
        assert truth is not None
        return view.segment_mean(truth.customers.needs.astype(F32)).astype(F32)


#: Periods within which a customer counts as a newcomer, and how many the oracle needs to go by them.
RECENT, ENOUGH = 13, 20


def newcomer_worth(pop: object, worth: np.ndarray, t: int) -> float:
    """What a customer won now is worth: the mean worth of those won in the last RECENT periods.

    Newcomers are not average customers: the fragile have not yet left and their
    loyalty is still young, so they are worth less than the survivors. Before
    ENOUGH have joined, the mean over all active customers stands in. One
    newcomer costs `acquisition_cost` at an honest promise.
    """
    active = pop.status == ACTIVE
    recent = active & (pop.joined > t - RECENT) & (pop.joined >= 0)
    pick = recent if np.count_nonzero(recent) >= ENOUGH else active
    return float(worth[pick].mean()) if pick.any() else 0.0


def truth_cost(view: CRMView) -> float:
    """The cost of handling one complaint, as the oracle is told it."""
    assert view.truth is not None
    return view.truth.complaint_cost
