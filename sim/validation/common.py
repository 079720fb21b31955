"""What every validation shares: the neutral scenario and independent seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.rng import SeedLike, make_rng
from sim.scenario import (
    Behaviour,
    BudgetShares,
    Market,
    Network,
    PolicySpec,
    Population,
    Scenario,
    Segment,
)

#: Behaviour constants that make purchases and churn independent of satisfaction,
#: loyalty and complaints, so that the segment's stochastic processes act alone.
NEUTRAL_BEHAVIOUR: dict[str, float] = {
    "purchase_satisfaction": 0.0,
    "churn_satisfaction": 0.0,
    "churn_loyalty": 0.0,
    "churn_unresolved": 0.0,
    "switching_base": 0.0,
    "purchase_delight": 0.0,
    "complaint_probability": 0.0,
}


def validation_scenario(name: str, segments: tuple[Segment, ...], *, horizon: int,
                        period: str = "week", size: int = 10_000, potential: float = 0.0,
                        network: Network | None = None, behaviour: dict[str, float] | None = None,
                        market: dict[str, Any] | None = None,
                        budget_shares: BudgetShares | None = None) -> Scenario:
    """A scenario with the manager's influence switched off.

    Args:
        name: Scenario name.
        segments: The customer segments.
        horizon: Periods simulated.
        period: Length of a period.
        size: Customers at period 0.
        potential: Potential customers as a share of `size`.
        network: Social network; default none (customers independent).
        behaviour: Behaviour constants on top of `NEUTRAL_BEHAVIOUR`.
        market: Market fields; default no budget, no competitor pull, no surveys.
        budget_shares: Budget split of the single `uniform` arm.

    Returns:
        The scenario, with one arm called `none`.
    """
    beh = {**NEUTRAL_BEHAVIOUR, **(behaviour or {})}
    mkt = {"budget": 0.0, "competitor_pull": 0.0, "survey_rate": 0.0, **(market or {})}
    return Scenario(
        name=name,
        horizon=horizon,
        period=period,
        replications=1,
        population=Population(size=size, potential=potential, segments=segments,
                              network=network or Network(kind="none"),
                              behaviour=Behaviour(**beh)),
        market=Market(**mkt),
        policies=(PolicySpec(name="none", kind="uniform", budget_shares=budget_shares),),
    )


def _seeds(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """`n` independent generators from one seed."""
    return make_rng(seed).spawn(n)
