"""What a manager decides (`Decision`) and what the customers receive (`Allocation`).

A policy (or a trainee, through the `human` policy) produces a `Decision`: how to
split the period's budget across channels and whom to favour within each.
`allocate` turns it into money per customer, respecting the budget exactly,
so bots and people are held to the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sim import crm_kernels

CHANNELS = ("service", "complaints", "points", "acquisition")


@dataclass
class Decision:
    """A manager's decision for one period.

    Attributes:
        shares: Budget share per channel (`CHANNELS`); they add up to at most 1.
        service_weights: Non-negative weight per customer slot; service money is
            split in proportion (0 = not served).
        points_weights: Weight per customer slot for loyalty points; `None` = the
            service weights.
        complaint_priority: Higher is handled first; `None` = oldest first.
        handling: How complaints are answered: "sincere" or "token" (cheaper, recovers less);
            `None` = the arm's `complaint_handling`.
        promise: Marketing promise level in [0, 1] (`honest_promise` matches delivery).
        offer: Needs position the offer is tuned to, per segment.
        note: Free text kept with the decision (the workshop shows it).
    """

    shares: dict[str, float]
    service_weights: np.ndarray
    offer: np.ndarray
    promise: float = 0.5
    points_weights: np.ndarray | None = None
    complaint_priority: np.ndarray | None = None
    handling: str | None = None
    note: str = ""

    def with_shares(self, **changes: float) -> Decision:
        """A copy with some channel shares changed."""
        return replace(self, shares={**self.shares, **changes})


@dataclass
class Allocation:
    """Money the customers receive in one period, and the firm's marketing.

    Attributes:
        service: Service money per customer slot.
        points: Points money per customer slot.
        complaint_capacity: How many complaints can be handled this period.
        complaint_priority: Order key for the complaint queue (higher first).
        sincerity: Share of a sincere answer's recovery each handled complaint gets.
        acquisition: Money spent on winning customers.
        promise: Marketing promise level.
        offer: Needs position the offer is tuned to, per segment.
        spent: Money spent per channel.
    """

    service: np.ndarray
    points: np.ndarray
    complaint_capacity: int
    complaint_priority: np.ndarray | None
    sincerity: float
    acquisition: float
    promise: float
    offer: np.ndarray
    spent: dict[str, float]


def _spread(amount: float, weights: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """`amount` split in proportion to the non-negative weights of the visible customers (float32)."""
    if amount <= 0:
        return np.zeros(np.shape(weights), dtype=np.float32)
    w = crm_kernels.spread_weights(np.asarray(weights, dtype=np.float32), np.asarray(visible, dtype=bool))
    top = float(w.max(initial=0.0))
    if top <= 0:
        return np.zeros(w.shape, dtype=np.float32)
    if top < 1e-30:  # so tiny that amount / total would overflow float32: rescale the weights first
        w = (w.astype(np.float64) / top).astype(np.float32)
    total = float(w.sum(dtype=np.float64))  # numpy's pairwise sum
    # Shave float32 rounding so the money handed out never exceeds the amount.
    crm_kernels.scale_inplace(w, amount / total * (1 - 1e-6))
    return w


def _spent(money: np.ndarray, amount: float) -> float:
    """The sum of `_spread(amount, ...)`: 0.0 without summing when nothing was spread (all zeros)."""
    return 0.0 if amount <= 0 else float(money.sum(dtype=np.float64))


def allocate(decision: Decision, budget: float, known: np.ndarray,
             complaint_cost: float, token: tuple[float, float] = (1.0, 1.0)) -> Allocation:
    """Turn a decision into money per customer within the budget.

    Shares are clipped at 0 and scaled down together if they add up to more
    than 1, so the budget can never be exceeded.

    Args:
        decision: The decision.
        budget: Money available this period.
        known: Mask of customers the manager can serve (known active accounts).
        complaint_cost: Cost of handling one complaint sincerely.
        token: A token reply's cost and recovery as shares of a sincere one's
            (`Behaviour.token_cost`, `token_recovery`), used when the decision's
            handling is "token".

    Returns:
        The allocation.
    """
    shares = {c: max(0.0, float(decision.shares.get(c, 0.0))) for c in CHANNELS}
    total = sum(shares.values())
    if total > 1:
        shares = {c: s / total for c, s in shares.items()}
    service = _spread(budget * shares["service"], decision.service_weights, known)
    pw = decision.points_weights if decision.points_weights is not None else decision.service_weights
    points = _spread(budget * shares["points"], pw, known)
    cost_share, sincerity = token if decision.handling == "token" else (1.0, 1.0)
    unit = complaint_cost * cost_share
    capacity = int(budget * shares["complaints"] // unit)
    spent = {
        "service": _spent(service, budget * shares["service"]),
        "points": _spent(points, budget * shares["points"]),
        "complaints": capacity * unit,
        "acquisition": budget * shares["acquisition"],
    }
    return Allocation(
        service=service,
        points=points,
        complaint_capacity=capacity,
        complaint_priority=decision.complaint_priority,
        sincerity=float(sincerity),
        acquisition=spent["acquisition"],
        promise=float(np.clip(decision.promise, 0.0, 1.0)),
        offer=np.asarray(decision.offer, dtype=np.float32),
        spent=spent,
    )
