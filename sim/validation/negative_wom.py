"""Negative word of mouth (Goldenberg et al. 2007).

A small share of dissatisfied customers costs far more than its share, and
weak ties (rewiring) spread it faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.model import RetentionModel
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
from sim.validation.common import _seeds


def nwom_scenario(rewire: float, size: int, horizon: int, potential: float = 4.0,
                  p: float = 0.003, q: float = 0.15, deterrence: float = 3.0,
                  degree: int = 8, acquisition_cost: float = 150.0) -> Scenario:
    """A growing market on a small world, with the default customer behaviour.

    Unlike the other validations, satisfaction drives purchases and churn here
    (the default behaviour): that is one channel negative word of mouth acts
    on; the other is `wom_deterrence` — potential customers who hear negative
    word of mouth are less likely to adopt. The firm spends its whole budget on
    paid acquisition (hazard `p`); satisfied customers are promoters who refer
    (rate `q`). Nobody handles complaints.
    """
    pool = round(size * potential)
    seg = Segment(name="customers", share=1.0, churn=0.004)
    return Scenario(
        name="negative-wom",
        horizon=horizon,
        replications=1,
        population=Population(
            size=size, potential=potential, segments=(seg,),
            network=Network(kind="small_world", degree=degree, rewire=rewire),
            behaviour=Behaviour(referral_rate=q, wom_deterrence=deterrence, recommend_shift=0.4)),
        market=Market(budget=p * acquisition_cost * pool / size, acquisition_cost=acquisition_cost,
                      competitor_pull=0.0, survey_rate=0.0),
        policies=(PolicySpec(name="none", kind="uniform", budget_shares=BudgetShares(
            service=0.0, complaints=0.0, points=0.0, acquisition=1.0)),),
    )


def _seed_dissatisfied(model: RetentionModel, ids: np.ndarray) -> None:
    """Make `ids` dissatisfied customers with a grievance (the initial condition)."""
    pop = model.customers
    pop.satisfaction[ids] = 0.05
    pop.loyalty[ids] = 0.05
    pop.grudge[ids] = True
    # They keep being let down: their expectation stays above what they get.
    pop.expectation[ids] = pop.quality + 0.3


@dataclass
class NegativeWOMValidation:
    """Negative word of mouth (Goldenberg et al. 2007).

    Attributes:
        share: Probability that a customer (initial or newly won) is dissatisfied.
        deterrence: `wom_deterrence` of the scenario.
        runs: One row per rewiring probability (means over replications):
            `own_share` (share of the control's revenue that the
            would-be-dissatisfied customers bring), `loss_share` (revenue lost ÷
            control revenue), `multiplier` (loss_share ÷ own_share: how many
            times their own worth the dissatisfied cost), `others_loss_share`
            (revenue lost from everyone else ÷ control revenue),
            `acquisitions_lost` (share of the control's new customers never
            won), `others_lost` (other customers lost at the horizon, share of
            the control's), `early_spread` (the same at `early_period`).
        spread: Per period and rewiring: other customers lost (share of control).
        early_period: The period at which the speed of spread is compared.
        faster_with_rewiring: `early_spread` rises with rewiring.
    """

    share: float
    deterrence: float
    runs: pd.DataFrame
    spread: pd.DataFrame
    early_period: int
    faster_with_rewiring: bool


def _nwom_pair(sc: Scenario, share: float, early_period: int,
               rng: np.random.Generator) -> tuple[dict[str, float], np.ndarray]:
    """Control and seeded runs of one market with common random numbers."""
    model_seq, mark_rng = rng.spawn(2)
    models: dict[str, RetentionModel] = {}
    rev: dict[str, np.ndarray] = {}
    others: dict[str, list[int]] = {"control": [], "seeded": []}
    model_seed = int(model_seq.integers(2**63))
    for arm in ("control", "seeded"):
        m = RetentionModel(sc, rng=model_seed)  # the same seed for both arms
        models[arm], rev[arm] = m, np.zeros(m.customers.n)
    u = mark_rng.random(models["control"].customers.n)
    bad = u < share
    seeded = models["seeded"]
    _seed_dissatisfied(seeded, np.flatnonzero(bad & seeded.customers.active))
    for t in range(sc.horizon):
        for arm, m in models.items():
            pop = m.customers
            before = pop.revenue_total.copy()
            m.step()
            rev[arm] += pop.revenue_total - before
            if arm == "seeded":
                new = (pop.joined == t + 1) & bad
                if new.any():
                    _seed_dissatisfied(m, np.flatnonzero(new))
            others[arm].append(int((pop.active & ~bad).sum()))
    ctrl, seed_arm = np.asarray(others["control"]), np.asarray(others["seeded"])
    spread = (ctrl - seed_arm) / ctrl
    total = rev["control"].sum()
    acq = {arm: m.summary()["acquired"] for arm, m in models.items()}
    row = {
        "own_share": rev["control"][bad].sum() / total,
        "loss_share": (total - rev["seeded"].sum()) / total,
        "others_loss_share": (rev["control"][~bad].sum() - rev["seeded"][~bad].sum()) / total,
        "acquisitions_lost": (acq["control"] - acq["seeded"]) / acq["control"],
        "others_lost": spread[-1],
        "early_spread": spread[early_period - 1],
    }
    return row, spread


def negative_wom(share: float = 0.05, rewires: tuple[float, ...] = (0.0, 0.1, 0.5),
                 size: int = 1000, potential: float = 10.0, horizon: int = 78,
                 deterrence: float = 3.0, early_period: int = 13, replications: int = 4,
                 seed: SeedLike = 2007) -> NegativeWOMValidation:
    """A small share of dissatisfied customers in a growing market, against a control.

    As in Goldenberg et al. (2007), each customer — at period 0 or when won —
    is dissatisfied with probability `share`: from then on they are let down
    (low satisfaction, an unresolved grievance, expectations above delivery),
    talk badly of the firm to customers and prospects, and refer nobody. The
    control is the same market with the same random numbers and nobody made
    dissatisfied. Revenue lost is compared with what the would-be-dissatisfied
    customers themselves bring in the control; the spread is measured on the
    *other* customers (those never made dissatisfied).

    Args:
        share: Probability that a customer is dissatisfied.
        rewires: Rewiring probabilities (weak ties) compared.
        size: Customers at period 0.
        potential: Prospects as a multiple of `size`.
        horizon: Periods.
        deterrence: How strongly negative word of mouth deters prospects.
        early_period: Period at which the speed of spread is compared.
        replications: Markets per rewiring (the same seeds for every rewiring).
        seed: Root seed.

    Returns:
        The figures (means over replications).
    """
    rows, spreads = [], {}
    rngs = _seeds(seed, replications)
    for rw in rewires:
        sc = nwom_scenario(rw, size, horizon, potential=potential, deterrence=deterrence)
        reps = [_nwom_pair(sc, share, early_period, make_rng(g.bit_generator.seed_seq))
                for g in rngs]
        row = pd.DataFrame([r for r, _ in reps]).mean().to_dict()
        row["multiplier"] = row["loss_share"] / row["own_share"]
        rows.append({"rewire": rw, **row})
        spreads[rw] = np.mean([sp for _, sp in reps], axis=0)
    runs = pd.DataFrame(rows).set_index("rewire")
    spread = pd.DataFrame(spreads, index=pd.RangeIndex(1, horizon + 1, name="period"))
    spread.columns.name = "rewire"
    return NegativeWOMValidation(
        share=share, deterrence=deterrence, runs=runs, spread=spread, early_period=early_period,
        faster_with_rewiring=bool(np.all(np.diff(runs["early_spread"].to_numpy()) > 0)),
    )
