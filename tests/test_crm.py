"""The CRM view: what a manager can know and nothing more, segment means, and the risk customers report."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.agents.state import ACTIVE, CHURNED, NEVER
from sim.crm import CRMView, Truth, build_view, feedback_risk
from sim.model import RetentionModel
from sim.scenario import Scenario

F32 = np.float32
NAN = np.nan


def scenario(**market) -> Scenario:
    return Scenario.model_validate({
        "name": "crm", "horizon": 12, "population": {"size": 800},
        "market": {"survey_rate": 0.2, **market},
        "policies": [{"name": "a", "kind": "churn_risk"}, {"name": "o", "kind": "oracle"}]})


@pytest.fixture(scope="module")
def stepped() -> RetentionModel:
    return RetentionModel(scenario(), policy="a", rng=21).run(8)


@pytest.fixture(scope="module")
def regulated() -> RetentionModel:
    sc = scenario(events=[{"at": 3, "kind": "regulation", "consent_share": 0.5}])
    return RetentionModel(sc, policy="a", rng=22).run(6)


def view_of(**cols) -> CRMView:
    """A hand-made view of a few customers; every field not given is neutral."""
    n = len(cols["segment"])
    base = {
        "t": 10, "known": np.ones(n, dtype=bool), "churned": np.zeros(n, dtype=bool),
        "segment_names": ("a", "b", "c"), "recency": np.zeros(n, F32), "frequency": np.ones(n, F32),
        "monetary": np.ones(n, F32), "tenure": np.full(n, 10, F32), "complaint_open": np.zeros(n, dtype=bool),
        "complaint_age": np.zeros(n, np.int16), "complaints_total": np.zeros(n, F32),
        "survey_nps": np.full(n, NAN, F32), "survey_csat": np.full(n, NAN, F32),
        "survey_age": np.full(n, NAN, F32), "needs_signal": np.zeros(n, F32), "likability": np.zeros(n, F32),
        "lock": np.zeros(n, F32), "service_total": np.zeros(n, F32), "consent": np.ones(n, dtype=bool),
        "budget": 100.0,
    }
    for name, value in cols.items():
        like = base.get(name)
        if isinstance(like, np.ndarray):
            base[name] = np.asarray(value, dtype=like.dtype)
        elif name == "segment":
            base[name] = np.asarray(value, dtype=np.int16)
        else:
            base[name] = value
    return CRMView(**base)


# --------------------------------------------------------------------------- what a manager can know


HIDDEN = ("satisfaction", "loyalty", "hazard", "base_churn", "expectation", "needs", "relationship",
          "growth", "growth_max", "purchase_rate", "spend", "dropout", "price_sensitivity", "consent_draw",
          "grudge", "recommend")


def test_the_view_has_no_field_of_the_true_state():
    names = {f.name for f in dataclasses.fields(CRMView)}
    assert names.isdisjoint(HIDDEN)
    assert "truth" in names  # the one door to the truth, shut unless asked


def test_only_the_oracle_is_given_the_truth(stepped):
    assert build_view(stepped.customers, stepped.period, 10.0).truth is None
    truth = Truth(stepped.customers, stepped.market.state(stepped.period), 4, 0.5, 5.0, 400.0)
    assert build_view(stepped.customers, stepped.period, 10.0, truth).truth is truth
    assert stepped.manager.last_view.truth is None  # the data-driven arm
    oracle = RetentionModel(scenario(), policy="o", rng=21).run(1)
    told = oracle.manager.last_view.truth
    assert told.customers is oracle.customers and told.periods_left == oracle.horizon - 0
    assert told.margin == oracle.scenario_spec.market.margin


def test_the_view_does_not_move_when_only_the_true_state_does():
    model = RetentionModel(scenario(), policy="a", rng=23).run(5)
    pop, t = model.customers, model.period
    before = build_view(pop, t, 50.0)
    rng = np.random.default_rng(0)
    for col in ("satisfaction", "loyalty", "expectation", "relationship"):
        getattr(pop, col)[:] = rng.random(pop.n).astype(F32)
    pop.needs[:] += F32(3.0)
    pop.base_churn[:] = F32(0.9)
    after = build_view(pop, t, 50.0)
    for f in dataclasses.fields(CRMView):
        if f.name.startswith("_") or f.name == "truth":
            continue
        a, b = getattr(before, f.name), getattr(after, f.name)
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), f.name
        else:
            assert a == b, f.name


def test_status_recency_and_tenure_come_from_the_records(stepped):
    pop, t = stepped.customers, stepped.period
    v = build_view(pop, t, 10.0)
    np.testing.assert_array_equal(v.known, pop.status == ACTIVE)
    np.testing.assert_array_equal(v.churned, pop.status == CHURNED)
    assert v.churned.any() and v.known.any()
    k = v.known
    bought = k & (pop.last_purchase > NEVER)
    np.testing.assert_array_equal(v.recency[bought], (t - pop.last_purchase[bought]).astype(F32))
    assert np.isnan(v.recency[~k]).all()  # nobody's purchase history is shown once they are gone
    np.testing.assert_array_equal(v.tenure[k], (t - pop.joined[k]).astype(F32))
    assert (v.tenure[~k] == 0).all()
    assert (v.recency[bought] >= 0).all()
    assert (v.recency[bought] <= v.tenure[bought]).all()  # nobody bought before they were there
    # Newcomers have a tenure shorter than the run; the first customers were there before it started.
    first = k & (pop.joined < 0)
    assert first.any() and (v.tenure[first] > t).all()
    assert (v.tenure[k & (pop.joined >= 0)] <= t).all()
    assert not v.complaint_open[~k].any()
    answered = k & (pop.survey_at >= 0)
    assert answered.any()
    np.testing.assert_array_equal(v.survey_age[answered], (t - pop.survey_at[answered]).astype(F32))
    assert np.isnan(v.survey_nps[k & (pop.survey_at < 0)]).all()


def test_without_regulation_every_known_customer_shows_personal_data(stepped):
    v = build_view(stepped.customers, stepped.period, 10.0)
    assert v.consent.all()
    for name in ("frequency", "monetary", "complaints_total", "needs_signal"):
        assert np.isfinite(getattr(v, name)[v.known]).all(), name


def test_regulation_blanks_the_personal_data_of_customers_without_consent(regulated):
    v = build_view(regulated.customers, regulated.period, 10.0)
    hidden = v.known & ~v.consent
    shown = v.known & v.consent
    assert hidden.any() and shown.any()
    share = v.consent[v.known].mean()
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / v.known.sum())
    for name in CRMView.PERSONAL:
        assert np.isnan(getattr(v, name)[hidden]).all(), name
    for name in ("frequency", "monetary", "complaints_total", "needs_signal"):
        assert np.isfinite(getattr(v, name)[shown]).all(), name
    # What the firm knows without personal data stays: the account, its segment, tenure, open complaints.
    assert (v.tenure[hidden] >= 0).all() and np.isfinite(v.likability[hidden]).all()
    np.testing.assert_array_equal(v.complaint_open[hidden], regulated.customers.complaint_open[hidden])


# --------------------------------------------------------------------------- segment means


def small_view() -> CRMView:
    # Segment a: 2, 4 and a missing value; b: 10 and an unknown (churned) 100; c: nobody known.
    return view_of(segment=[0, 0, 0, 1, 1, 2],
                   known=[True, True, True, True, False, False],
                   frequency=[2.0, 4.0, NAN, 10.0, 100.0, 7.0],
                   monetary=[3.0, 5.0, 1.0, 2.0, 1.0, 1.0])


def test_segment_means_count_known_customers_with_data_only():
    v = small_view()
    np.testing.assert_allclose(v.segment_mean(v.frequency), [3.0, 10.0, 0.0])
    np.testing.assert_allclose(v.segment_mean(v.frequency, fill=-1.0), [3.0, 10.0, -1.0])
    np.testing.assert_allclose(v.segment_mean(v.monetary), [3.0, 2.0, 0.0])


def test_filling_by_segment_mean_replaces_only_missing_values():
    v = small_view()
    filled = v.fill_by_segment(v.frequency)
    np.testing.assert_allclose(filled, [2.0, 4.0, 3.0, 10.0, 100.0, 7.0])
    assert np.isnan(v.frequency[2])  # the view itself is not changed
    # A customer of a segment nobody known is in, with no data, gets the fill (0).
    w = view_of(segment=[0, 2], known=[True, False], frequency=[5.0, NAN])
    np.testing.assert_allclose(w.fill_by_segment(w.frequency), [5.0, 0.0])


def test_value_is_frequency_times_monetary_and_its_segment_mean():
    v = small_view()
    np.testing.assert_allclose(v.value, [6.0, 20.0, NAN, 20.0, 100.0, 7.0])
    np.testing.assert_allclose(v.field_segment_mean("value"), [13.0, 20.0, 0.0])
    rec, freq, val = v.field_segment_means("recency", "frequency", "value")
    np.testing.assert_allclose(freq, v.segment_mean(v.frequency))
    np.testing.assert_allclose(rec, v.segment_mean(v.recency))
    np.testing.assert_allclose(val, [13.0, 20.0, 0.0])


def test_a_replaced_view_has_its_own_segment_means():
    v = small_view()
    assert v.field_segment_mean("frequency")[0] == pytest.approx(3.0)
    w = v.replace(frequency=np.array([8.0, 8.0, 8.0, 1.0, 1.0, 1.0], dtype=F32))
    assert w.field_segment_mean("frequency")[0] == pytest.approx(8.0)
    assert v.field_segment_mean("frequency")[0] == pytest.approx(3.0)
    assert w.monetary is v.monetary and w.t == v.t


# --------------------------------------------------------------------------- the risk customers report


def test_feedback_risk_ranks_an_angry_complainer_above_a_happy_customer():
    v = view_of(segment=[0, 0, 0],
                survey_nps=[2.0, 10.0, NAN], survey_age=[0.0, 0.0, NAN],
                complaint_open=[True, False, False], complaints_total=[1.0, 0.0, 0.0])
    angry, happy, silent = feedback_risk(v)
    assert angry > silent > happy
    # A fresh answer counts fully: 10 is no risk at all, and an answer of 2 with an open complaint
    # is at least the 0.8 of the answer plus one for the complaint.
    assert happy == pytest.approx(0.0, abs=1e-7)
    assert angry >= 1.8


def test_feedback_risk_grows_with_complaints_and_fades_with_the_answers_age():
    fresh_vs_old = view_of(segment=[0, 0], survey_nps=[1.0, 1.0], survey_age=[0.0, 40.0])
    fresh, old = feedback_risk(fresh_vs_old)
    assert fresh > old > 0
    counts = view_of(segment=[0, 0, 0], survey_nps=[8.0, 8.0, 8.0], survey_age=[1.0, 1.0, 1.0],
                     complaints_total=[0.0, 1.0, 2.0])
    r0, r1, r2 = feedback_risk(counts)
    assert r0 < r1 < r2


def test_feedback_risk_hears_an_open_complaint_without_consent():
    # Under regulation answers and complaint counts are blank, but the open ticket is the firm's own.
    v = view_of(segment=[0, 0], consent=[False, False], survey_nps=[NAN, NAN], complaints_total=[NAN, NAN],
                complaint_open=[True, False])
    risk = feedback_risk(v)
    assert np.isfinite(risk).all()
    assert risk[0] > risk[1]
