"""Validation against published customer-base results (sim.validation).

Each test asserts a figure of docs/validation.md against its stated tolerance
(`sim.validation.TOLERANCES`); the last test checks that the page's table is
exactly what these runs measure.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sim import validation as v
from sim.scenario import Behaviour

ROOT = Path(__file__).resolve().parent.parent
TOL = v.TOLERANCES


@pytest.fixture(scope="module")
def bgnbd() -> v.BGNBDValidation:
    return v.bgnbd_cdnow()


@pytest.fixture(scope="module")
def sbg() -> dict[str, v.SBGValidation]:
    return {k: v.sbg_retention(k) for k in v.SBG_PUBLISHED}


@pytest.fixture(scope="module")
def bass() -> v.BassValidation:
    return v.bass_diffusion()


@pytest.fixture(scope="module")
def nwom() -> v.NegativeWOMValidation:
    return v.negative_wom()


@pytest.fixture(scope="module")
def telco() -> v.TelcoCalibration:
    return v.telco_calibration()


# --------------------------------------------------------------------------- BG/NBD / CDNOW


def test_bgnbd_loglik_reproduces_published_value():
    real = v.cdnow_summary()
    assert len(real) == v.CDNOW_CUSTOMERS
    ll = v.bgnbd_loglik(v.CDNOW_PARAMS, real["frequency"], real["recency"], real["T"])
    assert ll == pytest.approx(v.CDNOW_LOGLIK, abs=TOL["bgnbd_real_loglik"])


def test_cdnow_transactions_agree_with_summary():
    weekly = v.cdnow_weekly_repeats()
    assert weekly.size == 78
    # The calibration weeks hold exactly the summary's repeat transactions.
    assert weekly[:39].sum() == v.cdnow_summary()["frequency"].sum() == 2457


def test_bgnbd_expectation_formula_matches_lifetimes():
    from lifetimes import BetaGeoFitter

    f = BetaGeoFitter()
    f.params_ = __import__("pandas").Series(v.CDNOW_PARAMS)
    t = np.array([1.0, 10.0, 39.0, 78.0])
    assert np.allclose(v.bgnbd_expected_purchases(t, v.CDNOW_PARAMS),
                       f.expected_number_of_purchases_up_to_time(t), rtol=1e-6)


def test_bgnbd_cohort_is_pure_bgnbd():
    c = v.simulate_bgnbd_cohort(3, customers=500)
    assert c.frequency.shape == c.recency.shape == c.T.shape == (500,)
    assert set(np.unique(c.T)) <= set(range(27, 40))
    assert np.all((c.recency == 0) == (c.frequency == 0))
    assert np.all(c.recency <= c.T) and np.all(c.recency >= 0)
    # Every repeat purchase lands in a calendar week, calibration + hold-out.
    assert c.weekly.sum() == c.frequency.sum() + c.holdout.sum()


@pytest.mark.parametrize("param", ["r", "alpha", "a", "b"])
def test_bgnbd_parameters_recovered(bgnbd, param):
    assert bgnbd.relative_error[param] <= TOL[f"bgnbd_{param}"], bgnbd.estimates


def test_bgnbd_real_fit_is_published(bgnbd):
    for k, val in v.CDNOW_PARAMS.items():
        assert abs(bgnbd.real_fit[k] - val) / val <= TOL["bgnbd_real_fit"]


def test_bgnbd_histogram_matches_cdnow(bgnbd):
    h = bgnbd.histogram
    assert np.isclose(h["real"].sum(), 1) and np.isclose(h["simulated"].sum(), 1)
    assert bgnbd.histogram_max_error <= TOL["bgnbd_histogram"], h


def test_bgnbd_cumulative_repeats(bgnbd):
    assert bgnbd.cumulative_model_error <= TOL["bgnbd_cumulative_model"]
    assert bgnbd.calibration_error <= TOL["bgnbd_calibration"]
    assert bgnbd.total_error <= TOL["bgnbd_total"]
    assert bgnbd.holdout_error <= TOL["bgnbd_holdout"]
    assert bgnbd.cumulative["simulated"].is_monotonic_increasing


# --------------------------------------------------------------------------- sBG


def test_sbg_closed_form_known_values():
    s = v.sbg_survival(0.704, 1.182, 2)
    assert s[1] == pytest.approx(1.182 / 1.886)
    assert s[2] == pytest.approx(s[1] * 2.182 / 2.886)


@pytest.mark.parametrize("kind", ["regular", "high_end"])
def test_sbg_survival_reproduced(sbg, kind):
    res = sbg[kind]
    assert res.max_error_published / 100 <= TOL[f"sbg_{kind}_published"], res.survival
    assert res.max_error_sbg / 100 <= TOL["sbg_closed_form"], res.survival


@pytest.mark.parametrize("kind", ["regular", "high_end"])
def test_sbg_retention_rate_rises(sbg, kind):
    assert sbg[kind].retention_rising, sbg[kind].survival


def test_homogeneous_churn_is_geometric():
    seg = v.Segment(name="cohort", share=1.0, churn=0.2, churn_concentration=None,
                    purchase_rate=0.0, purchase_shape=None)
    sc = v.validation_scenario("geometric", (seg,), horizon=6, period="year", size=40_000)
    surv = v.simulate_survival(sc, 11)["all"].to_numpy()
    assert np.allclose(surv, 0.8 ** np.arange(7), atol=0.01)
    # Without heterogeneity the retention rate stays flat.
    ret = surv[1:] / surv[:-1]
    assert np.ptp(ret) < 0.02


# --------------------------------------------------------------------------- Bass


def test_bass_closed_form_solves_the_ode():
    t = np.linspace(0, 50, 501)
    f = v.bass_curve(t, 0.01, 0.3, 0.05)
    assert f[0] == pytest.approx(0.05)
    df = np.gradient(f, t)
    assert np.allclose(df, (0.01 + 0.3 * f) * (1 - f), atol=2e-3)


def test_bass_complete_network_follows_bass(bass):
    assert bass.max_error_recursion <= TOL["bass_recursion"]
    assert bass.max_error_bass <= TOL["bass_closed_form"]
    assert abs(bass.fitted_q - bass.q) / bass.q <= TOL["bass_q"]
    assert abs(bass.fitted_p - bass.mean_field_p) / bass.mean_field_p <= TOL["bass_p"]
    assert bass.fit_rmse <= TOL["bass_rmse"]


def test_bass_small_world_is_slower(bass):
    # The direction, not the size: customers and prospects are mixed on the ring, and small worlds
    # diffuse nearly as fast as fully mixed markets (Rahmandad & Sterman 2008; docs/validation.md).
    ratio = bass.half_time["small_world"] / bass.half_time["complete"]
    assert ratio > TOL["bass_small_world_slowdown"]
    # Without a network there is only paid acquisition: slowest of all.
    assert bass.adoption["none"].iloc[-1] < bass.adoption["small_world"].iloc[-1]


# --------------------------------------------------------------------------- negative WOM


def test_wom_deterrence_default_is_off():
    assert Behaviour().wom_deterrence == 0.0


def test_negative_wom_costs_more_than_its_share(nwom):
    for rw, row in nwom.runs.iterrows():
        assert row["multiplier"] >= TOL["nwom_multiplier"], (rw, row)
        # Part of the damage falls on other customers (its size is reported, not asserted:
        # docs/validation.md, "What moved").
        assert row["others_loss_share"] > 0, (rw, row)
        assert row["acquisitions_lost"] > 0


def test_negative_wom_reaches_other_customers_at_every_rewiring(nwom):
    # Whether it spreads faster with weak ties is reported, not asserted (docs/validation.md).
    assert (nwom.runs["early_spread"] > 0).all(), nwom.runs["early_spread"]


# --------------------------------------------------------------------------- telco


def test_kaplan_meier_without_censoring_is_empirical_survival():
    tenure = np.array([1, 2, 2, 3, 5])
    s = v.kaplan_meier(tenure, np.ones(5, dtype=bool), 5)
    assert np.allclose(s, [1, 0.8, 0.4, 0.2, 0.2, 0.0])


def test_fit_sbg_recovers_simulated_parameters():
    rng = np.random.default_rng(5)
    theta = rng.beta(0.7, 3.0, 20_000)
    life = rng.geometric(theta)
    censor = rng.integers(1, 30, theta.size)
    a, b, _ = v.fit_sbg(np.minimum(life, censor), life <= censor)
    assert a == pytest.approx(0.7, rel=0.1) and b == pytest.approx(3.0, rel=0.15)


def test_telco_calibration_fits(telco):
    assert telco.survival["data"].iloc[0] == 1.0
    assert telco.rmse <= TOL["telco_rmse"]
    assert telco.max_error_5y <= TOL["telco_max_5y"]
    assert telco.max_error <= TOL["telco_max"]
    sim_vs_closed = (telco.survival["simulated"] - telco.survival["sbg"]).abs().max()
    assert sim_vs_closed <= TOL["telco_closed_form"]
    assert telco.scenario.period == "month"


# --------------------------------------------------------------------------- the page


def test_every_check_passes_and_docs_are_in_sync(bgnbd, sbg, bass, nwom, telco):
    items = v.checks(bgnbd, sbg, bass, nwom, telco)
    failed = [c for c in items if c.asserted and not c.ok]
    assert not failed, failed
    table = v.checks_table(items)
    page = (ROOT / "docs" / "validation.md").read_text()
    assert table in page, (
        "docs/validation.md is out of date: run `.venv/bin/python docs/make_validation.py`")


def test_docs_script_exists():
    spec = importlib.util.spec_from_file_location("make_validation",
                                                  ROOT / "docs" / "make_validation.py")
    assert spec is not None and spec.loader is not None
