"""BG/NBD (Fader, Hardie & Lee 2005) on a CDNOW-like cohort.

Parameters are recovered with lifetimes' `BetaGeoFitter`; the frequency
histogram and cumulative repeat purchases are compared with the real CDNOW
sample. `lifetimes` is imported only by the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
from scipy import special

from sim.agents.customers import CHURNED
from sim.model import RetentionModel
from sim.rng import SeedLike
from sim.scenario import Segment
from sim.validation.common import _seeds, validation_scenario

#: Fader, Hardie & Lee (2005), BG/NBD on the CDNOW sample.
CDNOW_PARAMS: dict[str, float] = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: Published log-likelihood of that fit.
CDNOW_LOGLIK = -9582.4
CDNOW_CUSTOMERS = 2357
CALIBRATION_WEEKS = 39
HOLDOUT_WEEKS = 39
#: Repeat-purchase counts shown in the histogram: 0..6 and "7+".
HISTOGRAM_BINS = 8


def _lifetimes_file(name: str):
    return resources.files("lifetimes") / "datasets" / name


def cdnow_summary() -> pd.DataFrame:
    """The CDNOW sample summarised for BG/NBD: `frequency`, `recency`, `T` (weeks).

    Read from the file lifetimes ships (`cdnow_customers_summary.csv`), not via
    `lifetimes.datasets`, which needs `pkg_resources`.
    """
    with _lifetimes_file("cdnow_customers_summary.csv").open() as f:
        return pd.read_csv(f, index_col=0)


def cdnow_weekly_repeats() -> np.ndarray:
    """Repeat transactions of the CDNOW sample per calendar week, 1997-01-01 + 78 weeks.

    A customer's first purchase is the trial; later purchases on distinct days
    are repeat transactions (as in Fader, Hardie & Lee 2005).
    """
    with _lifetimes_file("CDNOW_sample.txt").open() as f:
        df = pd.read_csv(f, sep=r"\s+", header=None, names=["id", "cust", "date", "cds", "dollars"],
                         dtype={"date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    df = df.drop_duplicates(["cust", "date"])
    first = df.groupby("cust")["date"].transform("min")
    days = (df.loc[df["date"] > first, "date"] - pd.Timestamp("1997-01-01")).dt.days.to_numpy()
    weeks = CALIBRATION_WEEKS + HOLDOUT_WEEKS
    return np.bincount(np.minimum(days // 7, weeks - 1), minlength=weeks).astype(float)


def bgnbd_loglik(params: dict[str, float], frequency: np.ndarray, recency: np.ndarray,
                 T: np.ndarray) -> float:
    """BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6).

    Args:
        params: `r`, `alpha`, `a`, `b`.
        frequency: Repeat transactions x per customer.
        recency: Time of the last repeat transaction t_x (0 when x = 0).
        T: Length of each customer's calibration period.

    Returns:
        The summed log-likelihood.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                  - (r + x) * np.log(alpha + tx), -np.inf)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


def bgnbd_expected_purchases(t: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """BG/NBD expected repeat purchases E[X(t)] in the first t weeks of a customer's life."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def bgnbd_segment(r: float, alpha: float, a: float, b: float, name: str = "cdnow") -> Segment:
    """A segment whose purchases and drop-out follow BG/NBD(r, α, a, b) per week.

    Purchase rates are gamma(shape r, rate α) — mean r/α; the per-purchase
    drop-out probability p is beta(a, b) — mean a/(a+b), concentration a+b.
    Baseline churn is zero: customers leave only by dropping out after a purchase.
    """
    return Segment(name=name, share=1.0, purchase_rate=r / alpha, purchase_shape=r, churn=0.0,
                   churn_concentration=None, dropout_per_purchase=a / (a + b),
                   dropout_concentration=a + b)


@dataclass
class BGNBDCohort:
    """One simulated CDNOW-like cohort, in BG/NBD's summary form.

    Attributes:
        frequency: Repeat purchases in each customer's calibration period.
        recency: Time of the last calibration repeat purchase (weeks from birth).
        T: Calibration length per customer (weeks).
        holdout: Repeat purchases in the 39 hold-out weeks.
        weekly: Repeat purchases per calendar week (78 weeks).
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    holdout: np.ndarray
    weekly: np.ndarray


def cdnow_births(customers: int) -> np.ndarray:
    """Birth week (0–12) of each simulated customer: CDNOW's own, repeated as needed.

    CDNOW's customers made their first purchase during the first 12 weeks of
    1997; customer i of the simulation is born in the week of CDNOW customer
    i mod 2,357 (rounded to the nearest whole week), so calibration lengths
    are 27–39 whole weeks, as in the data (27.0–38.9 weeks).
    """
    births = np.clip(np.round(cdnow_birth_weeks()).astype(int), 0, CALIBRATION_WEEKS - 1)
    return births[np.arange(customers) % births.size]


def cdnow_birth_weeks() -> np.ndarray:
    """Week (fractional, from 1997-01-01) of each CDNOW customer's first purchase."""
    T = cdnow_summary()["T"].to_numpy()
    return (CALIBRATION_WEEKS * 7 - 1) / 7 - T  # T = 38.86 weeks for a birth on 1 January


def simulate_bgnbd_cohort(seed: SeedLike, customers: int = CDNOW_CUSTOMERS,
                          params: dict[str, float] | None = None) -> BGNBDCohort:
    """Simulate a CDNOW-like cohort with staggered births and summarise it.

    Customers are independent (no network, no manager), so a customer born in
    calendar week b is simulated from the model's period 0 and shifted by b:
    their calibration period is the first 39 − b weeks of their life, their
    hold-out the next 39. Purchase times inside a week are drawn from their
    exact conditional law (uniform order statistics; for the week of drop-out,
    the K-th arrival of the customer's Poisson process truncated to the week).

    Args:
        seed: Seed of the model and of the within-week timing.
        customers: Cohort size.
        params: BG/NBD parameters; default CDNOW's.

    Returns:
        The cohort's summary.
    """
    p = params or CDNOW_PARAMS
    weeks = CALIBRATION_WEEKS + HOLDOUT_WEEKS
    sc = validation_scenario("bgnbd-cdnow", (bgnbd_segment(**p),), horizon=weeks, size=customers)
    model_rng, timing_rng = _seeds(seed, 2)
    model = RetentionModel(sc, rng=model_rng)
    pop = model.customers
    counts = np.zeros((weeks, pop.n), dtype=np.int32)
    before = pop.purchases_total.copy()
    for t in range(weeks):
        model.step()
        counts[t] = pop.purchases_total - before
        before = pop.purchases_total.copy()

    births = cdnow_births(pop.n)
    T = (CALIBRATION_WEEKS - births).astype(int)
    w = np.arange(weeks)[:, None]
    calib = w < T[None, :]
    hold = (w >= T[None, :]) & (w < T[None, :] + HOLDOUT_WEEKS)
    frequency = (counts * calib).sum(axis=0)
    holdout = (counts * hold).sum(axis=0)
    last = np.where((counts > 0) & calib, w, -1).max(axis=0)
    has = last >= 0
    ids = np.flatnonzero(has)
    k = counts[last[ids], ids].astype(float)
    u = timing_rng.random(ids.size)
    offset = u ** (1.0 / k)  # max of k uniforms: the last of k purchases in a week
    dropped = (pop.status[ids] == CHURNED) & (pop.churned_at[ids] == last[ids])
    lam = pop.purchase_rate[ids].astype(float)
    d = dropped & (lam > 1e-9)
    if d.any():
        # The K-th arrival of a Poisson(λ) process, given that it falls inside the week.
        cap = special.gammainc(k[d], lam[d])
        offset[d] = special.gammaincinv(k[d], u[d] * cap) / lam[d]
    recency = np.zeros(pop.n)
    recency[ids] = last[ids] + np.clip(offset, 0.0, 1.0)
    cal_week = births[None, :] + w
    weekly = np.bincount(cal_week[cal_week < weeks], weights=counts[cal_week < weeks],
                         minlength=weeks)
    return BGNBDCohort(frequency.astype(int), recency, T.astype(float), holdout.astype(int),
                       weekly.astype(float))


def fit_bgnbd(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> dict[str, float]:
    """Fit BG/NBD with lifetimes' `BetaGeoFitter`; returns r, alpha, a, b and loglik."""
    from lifetimes import BetaGeoFitter

    f = BetaGeoFitter(penalizer_coef=0.0)
    f.fit(pd.Series(frequency), pd.Series(recency), pd.Series(T))
    est = {k: float(f.params_[k]) for k in ("r", "alpha", "a", "b")}
    est["loglik"] = bgnbd_loglik(est, frequency, recency, T)
    return est


def frequency_histogram(frequency: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Shares of customers with 0, 1, …, bins−2 and ≥ bins−1 repeat purchases."""
    f = np.minimum(np.asarray(frequency, dtype=int), bins - 1)
    return np.bincount(f, minlength=bins) / f.size


@dataclass
class BGNBDValidation:
    """BG/NBD on CDNOW: parameter recovery and fit to the real data.

    Attributes:
        true: The parameters simulated (Fader, Hardie & Lee 2005).
        estimates: One row per simulated cohort: r, alpha, a, b, loglik.
        recovered: Mean estimate over cohorts.
        relative_error: |mean estimate − true| / true per parameter.
        real_fit: lifetimes' fit on the real CDNOW summary (r, alpha, a, b, loglik).
        histogram: Share of customers per repeat-purchase count (0..6, 7+):
            `real`, `simulated` (all cohorts pooled).
        histogram_max_error: Largest |simulated − real| share.
        cumulative: Cumulative repeat purchases to the end of each calendar week
            1–78: `real`, `simulated` (mean per 2,357-customer cohort) and
            `bgnbd` (the BG/NBD expectation with the published parameters and
            CDNOW's exact first-purchase days).
        cumulative_max_error: Largest relative error of `simulated` against
            `real` from week 13 on (after every CDNOW customer was born).
        cumulative_model_error: The same against `bgnbd`.
        calibration_error: Relative error of total repeat purchases against the
            real data, weeks 1–39.
        holdout_error: The same for the hold-out, weeks 40–78.
        total_error: The same for all 78 weeks.
        holdout_model_error: The BG/NBD expectation's own hold-out error
            against the real data (the model's misfit, for reference).
        cumulative_model_misfit: Largest relative error of `bgnbd` against
            `real` from week 13 on (the model's misfit, for reference).
        cohorts: Number of cohorts simulated.
        customers: Customers per cohort.
    """

    true: dict[str, float]
    estimates: pd.DataFrame
    recovered: dict[str, float]
    relative_error: dict[str, float]
    real_fit: dict[str, float]
    histogram: pd.DataFrame
    histogram_max_error: float
    cumulative: pd.DataFrame
    cumulative_max_error: float
    cumulative_model_error: float
    calibration_error: float
    holdout_error: float
    total_error: float
    holdout_model_error: float
    cumulative_model_misfit: float
    cohorts: int
    customers: int


def bgnbd_cdnow(cohorts: int = 20, customers: int = CDNOW_CUSTOMERS,
                seed: SeedLike = 20051101) -> BGNBDValidation:
    """Simulate CDNOW-sized cohorts with the published BG/NBD parameters and compare.

    Args:
        cohorts: Independent cohorts simulated (their estimates are averaged).
        customers: Customers per cohort.
        seed: Root seed.

    Returns:
        The figures of the comparison.
    """
    rows, sims = [], []
    for rng in _seeds(seed, cohorts):
        c = simulate_bgnbd_cohort(rng, customers)
        sims.append(c)
        rows.append(fit_bgnbd(c.frequency, c.recency, c.T))
    est = pd.DataFrame(rows)
    est.index.name = "cohort"
    recovered = {k: float(est[k].mean()) for k in CDNOW_PARAMS}
    rel = {k: abs(recovered[k] - v) / v for k, v in CDNOW_PARAMS.items()}
    real = cdnow_summary()
    real_fit = fit_bgnbd(real["frequency"].to_numpy(), real["recency"].to_numpy(),
                         real["T"].to_numpy())

    freq = np.concatenate([c.frequency for c in sims])
    labels = [str(i) for i in range(HISTOGRAM_BINS - 1)] + [f"{HISTOGRAM_BINS - 1}+"]
    hist = pd.DataFrame({"real": frequency_histogram(real["frequency"].to_numpy()),
                         "simulated": frequency_histogram(freq)},
                        index=pd.Index(labels, name="repeat_purchases"))
    scale = CDNOW_CUSTOMERS / customers
    real_weekly = cdnow_weekly_repeats()
    sim_weekly = np.mean([c.weekly for c in sims], axis=0) * scale
    weeks = np.arange(1, real_weekly.size + 1)
    births = cdnow_birth_weeks()
    expected = np.array([bgnbd_expected_purchases(w - births, CDNOW_PARAMS).sum() for w in weeks])
    cum = pd.DataFrame({"real": real_weekly.cumsum(), "simulated": sim_weekly.cumsum(),
                        "bgnbd": expected}, index=pd.Index(weeks, name="week"))
    late = cum.index >= 13
    cal = CALIBRATION_WEEKS

    def rel_err(col: str) -> pd.Series:
        return (cum[col] - cum["real"]).abs() / cum["real"]

    def holdout(col: str) -> float:
        return float(cum[col].iloc[-1] - cum[col].iloc[cal - 1])

    real_hold = holdout("real")
    return BGNBDValidation(
        true=dict(CDNOW_PARAMS), estimates=est, recovered=recovered, relative_error=rel,
        real_fit=real_fit, histogram=hist,
        histogram_max_error=float((hist["simulated"] - hist["real"]).abs().max()),
        cumulative=cum, cumulative_max_error=float(rel_err("simulated")[late].max()),
        cumulative_model_error=float(
            ((cum["simulated"] - cum["bgnbd"]).abs() / cum["bgnbd"])[late].max()),
        calibration_error=float(abs(cum["simulated"].iloc[cal - 1] - cum["real"].iloc[cal - 1])
                                / cum["real"].iloc[cal - 1]),
        holdout_error=abs(holdout("simulated") - real_hold) / real_hold,
        total_error=float(rel_err("simulated").iloc[-1]),
        holdout_model_error=abs(holdout("bgnbd") - real_hold) / real_hold,
        cumulative_model_misfit=float(rel_err("bgnbd")[late].max()),
        cohorts=cohorts, customers=customers,
    )
