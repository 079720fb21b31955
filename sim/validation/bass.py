"""Word of mouth against the Bass curve.

On a fully mixed network the model's adoption follows the Bass curve; on a
sparse small world it diffuses more slowly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from sim.agents.customers import ACTIVE
from sim.model import RetentionModel
from sim.rng import SeedLike, replication_seeds
from sim.scenario import BudgetShares, Network, Scenario, Segment
from sim.validation.common import validation_scenario


def bass_curve(t: np.ndarray, p: float, q: float, f0: float = 0.0) -> np.ndarray:
    """Closed-form Bass adoption F(t) of dF/dt = (p + qF)(1 − F), with F(0) = f0."""
    t = np.asarray(t, dtype=float)
    c = (1.0 - f0) / (1.0 + (q / p) * f0)
    e = np.exp(-(p + q) * t)
    return (1.0 - c * e) / (1.0 + (q / p) * c * e)


def bass_recursion(periods: int, p: float, q: float, f0: float) -> np.ndarray:
    """The model's mean field: F' = F + (1 − F)(1 − exp(−(p + qF))) per period."""
    f = np.empty(periods + 1)
    f[0] = f0
    for t in range(periods):
        f[t + 1] = f[t] + (1 - f[t]) * -math.expm1(-(p + q * f[t]))
    return f


def bass_scenario(network: Network, p: float, q: float, size: int, potential: float,
                  horizon: int, acquisition_cost: float = 150.0) -> Scenario:
    """Word-of-mouth acquisition with paid hazard `p` and referral rate `q` per period.

    Every customer is a promoter (`recommend_shift` 1), nobody churns, and the
    whole budget goes to acquisition, sized so that the paid adoption hazard of
    each potential customer is `p`.
    """
    pool = round(size * potential)
    budget = p * acquisition_cost * pool / size
    seg = Segment(name="market", share=1.0, churn=0.0, churn_concentration=None)
    return validation_scenario(
        "bass", (seg,), horizon=horizon, size=size, potential=potential, network=network,
        behaviour={"referral_rate": q, "recommend_shift": 1.0},
        market={"budget": budget, "acquisition_cost": acquisition_cost},
        budget_shares=BudgetShares(service=0.0, complaints=0.0, points=0.0, acquisition=1.0),
    )


def simulate_adoption(scenario: Scenario, seed: SeedLike) -> np.ndarray:
    """Share of the market active after each period (0..horizon)."""
    model = RetentionModel(scenario, rng=seed)
    pop = model.customers
    out = [float((pop.status == ACTIVE).mean())]
    for _ in range(scenario.horizon):
        model.step()
        out.append(float((pop.status == ACTIVE).mean()))
    return np.asarray(out)


def time_to(curve: np.ndarray, level: float) -> float:
    """First (interpolated) period at which `curve` reaches `level`; inf if never."""
    idx = np.flatnonzero(curve >= level)
    if idx.size == 0:
        return math.inf
    i = int(idx[0])
    if i == 0:
        return 0.0
    return i - 1 + (level - curve[i - 1]) / (curve[i] - curve[i - 1])


@dataclass
class BassValidation:
    """Word-of-mouth diffusion against the Bass curve.

    Attributes:
        p: Paid-acquisition hazard per period (the model's Bass p).
        q: Referral rate per period (the model's Bass q).
        f0: Share of the market that are customers at period 0.
        adoption: Per period: `complete`, `small_world`, `none` (simulated
            shares), `recursion` (the model's mean field), `bass` (closed form
            with the model's p, q) and `bass_fit` (closed form, fitted p, q).
        max_error_recursion: Largest |complete − recursion|.
        max_error_bass: Largest |complete − Bass closed form with model p, q|.
        fitted_p: p of the Bass curve fitted to the complete-network runs.
        fitted_q: q of that fit.
        mean_field_p: p of the Bass curve fitted to the model's mean field: the
            continuous-time p equivalent to the model's per-period hazard (below
            the model's p, because adoption within a period is a discrete step).
        fit_rmse: RMSE of that fit.
        half_time: Periods to reach 50 % adoption per network.
        small_world_slower: Whether the small world reaches 50 % later than the
            fully mixed network at every period's comparison (curve below it).
    """

    p: float
    q: float
    f0: float
    adoption: pd.DataFrame
    max_error_recursion: float
    max_error_bass: float
    fitted_p: float
    fitted_q: float
    mean_field_p: float
    fit_rmse: float
    half_time: dict[str, float]
    small_world_slower: bool


def bass_diffusion(p: float = 0.002, q: float = 0.12, size: int = 1500, potential: float = 10.0,
                   horizon: int = 78, degree: int = 8, rewire: float = 0.1,
                   seed: int = 1969, replications: int = 8) -> BassValidation:
    """Word-of-mouth acquisition on a complete network, a small world and no network.

    Each curve is the mean of `replications` runs (the early periods of one run
    are a few dozen adoptions, whose noise the referral feedback amplifies).

    Args:
        p: Paid-acquisition hazard per potential customer per period.
        q: Referral rate (adoption hazard per unit share of promoter neighbours).
        size: Customers at period 0.
        potential: Potential customers as a multiple of `size`.
        horizon: Periods.
        degree: Ties per person in the small world.
        rewire: Rewiring probability of the small world.
        seed: Root seed (the same replications for every network).
        replications: Runs averaged per network.

    Returns:
        The comparison.
    """
    nets = {"complete": Network(kind="complete"),
            "small_world": Network(kind="small_world", degree=degree, rewire=rewire),
            "none": Network(kind="none")}
    seeds = replication_seeds(seed, replications)
    curves = {k: np.mean([simulate_adoption(bass_scenario(nw, p, q, size, potential, horizon), sd)
                          for sd in seeds], axis=0)
              for k, nw in nets.items()}
    n = size + round(size * potential)
    f0 = size / n
    q_eff = q * n / (n - 1)  # a potential customer's neighbours are the n − 1 others
    t = np.arange(horizon + 1)
    rec = bass_recursion(horizon, p, q_eff, f0)
    closed = bass_curve(t, p, q, f0)
    full = curves["complete"]
    def fit(curve: np.ndarray) -> tuple[float, float]:
        (pp, qq), _ = optimize.curve_fit(lambda tt, a, b: bass_curve(tt, a, b, f0), t, curve,
                                         p0=(p, q), bounds=([1e-6, 1e-6], [1.0, 5.0]))
        return float(pp), float(qq)

    fp, fq = fit(full)
    fitted = bass_curve(t, fp, fq, f0)
    df = pd.DataFrame({**curves, "recursion": rec, "bass": closed, "bass_fit": fitted},
                      index=pd.RangeIndex(horizon + 1, name="period"))
    half = {k: time_to(v, 0.5) for k, v in curves.items()}
    return BassValidation(
        p=p, q=q, f0=f0, adoption=df,
        max_error_recursion=float(np.abs(full - rec).max()),
        max_error_bass=float(np.abs(full - closed).max()),
        fitted_p=fp, fitted_q=fq, mean_field_p=fit(rec)[0],
        fit_rmse=float(np.sqrt(np.mean((full - fitted) ** 2))),
        half_time=half,
        small_world_slower=bool(np.all(curves["small_world"][1:] < full[1:])),
    )
