"""The manager side computed by the numba kernels (`sim.crm_kernels`) equals the numpy code exactly.

Every CRM view field, per-segment mean, churn score, policy score, complaint
order, decision and allocation is compared between the numpy path
(`sim.jit.ENABLED = False`) and the path under test, bit for bit (same dtype,
same bits; NaN where NaN), on views of stepped models of the built-in
scenarios — with consent gaps, stale snapshots, stereotypes, segments without
data — and on views edited to hold infinities, signed zeros and other dtypes.
Whole runs are compared too.

The path under test is the compiled one when numba is installed; the numpy
path is always tested as well (against itself: it must run and be
deterministic), so nothing is skipped without numba.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import jit
from sim.allocation import Decision, allocate
from sim.crm import CRMView, build_view
from sim.loader import load_scenario
from sim.model import RetentionModel
from sim.policies import ChurnModel, churn_risk, top_share, zscore
from sim.policies.churn_risk import churn_features, linear_predictor
from sim.scenario import PolicySpec, Scenario

# The edited views overflow float32 and take logarithms of -inf on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

PATHS = [pytest.param(False, id="numpy")]
if jit.AVAILABLE:
    PATHS.append(pytest.param(True, id="jit"))

#: Numeric fields of a view with one entry per customer slot, and the observed value.
NUMERIC = ("recency", "frequency", "monetary", "tenure", "complaint_age", "complaints_total", "survey_nps",
           "survey_csat", "survey_age", "needs_signal", "likability", "lock", "service_total", "value")

NINE_SEGMENTS = Scenario.model_validate({
    "name": "nine", "horizon": 60,
    "population": {"size": 2000, "segments": [
        {"name": f"s{k}", "share": 1 / 9, "spend": 10.0 + 15 * k, "churn": 0.004 + 0.002 * (k % 3)}
        for k in range(9)]},
    "policies": [{"name": "x", "kind": "churn_risk"}],
})

#: id → (scenario, arm name or spec).
CASES: dict[str, tuple[str | Scenario, str | dict]] = {
    "default-clv": ("default", "data_driven"),
    "default-stale-affinity": ("default", "biased_manager"),
    "gdpr-clv": ("gdpr_consent", "data_driven"),
    "gdpr-stereotype": ("gdpr_consent", "segment_rules_only"),
    "gdpr-churn_risk-salience": ("gdpr_consent", {"name": "x", "kind": "churn_risk",
                                                  "biases": [{"kind": "salience"}]}),
    "stale-refresh": ("retail_stale_data", "stale_with_data_refresh"),
    "stereotype-team": ("manufacturer_stereotype", "fixed_beliefs_diverse_team"),
    "gdpr-value-big_account": ("gdpr_consent", {"name": "x", "kind": "value",
                                                "biases": [{"kind": "big_account"}]}),
    "feedback-affinity-loop": ("gdpr_consent", {"name": "x", "kind": "feedback",
                                                "biases": [{"kind": "affinity"}],
                                                "remedies": [{"kind": "feedback_loop"}]}),
    "uniform-points": ("points_lockin", {"name": "x", "kind": "uniform",
                                         "biases": [{"kind": "points_lockin"}]}),
    "oracle": ("default", {"name": "x", "kind": "oracle"}),
    "random-stale": ("retail_stale_data", {"name": "x", "kind": "random",
                                           "biases": [{"kind": "stale_data", "snapshot_at": 3}]}),
    "churn_risk-nine-segments": (NINE_SEGMENTS, "x"),
}
CHECKPOINTS = (0, 1, 4, 5, 9, 13, 17)


def make_model(case: str, size: int = 2000, seed: int = 7) -> RetentionModel:
    """A model of the case's arm with `size` customers."""
    name, arm = CASES[case]
    sc = load_scenario(name) if isinstance(name, str) else name
    update: dict[str, Any] = {"population": sc.population.model_copy(update={"size": size})}
    if isinstance(arm, dict):
        update |= {"policies": (PolicySpec.model_validate(arm),), "baseline": None}
        arm = arm["name"]
    return RetentionModel(sc.model_copy(update=update), policy=arm, rng=seed)


@contextmanager
def path(enabled: bool) -> Iterator[None]:
    """Compute with the kernels (`True`) or numpy (`False`)."""
    old = jit.ENABLED
    jit.ENABLED = enabled
    try:
        yield
    finally:
        jit.ENABLED = old


def both(enabled: bool, fn: Callable[[], Any]) -> tuple[Any, Any]:
    """`fn()` on the numpy path, then on the path under test."""
    with path(False):
        ref = fn()
    with path(enabled):
        got = fn()
    return ref, got


def assert_same(ref: Any, got: Any, what: str = "") -> None:
    """Exactly equal: arrays of the same dtype and bits (any NaN where NaN), recursively."""
    if isinstance(ref, np.ndarray) or isinstance(got, np.ndarray):
        assert isinstance(ref, np.ndarray) and isinstance(got, np.ndarray), what
        assert ref.dtype == got.dtype and ref.shape == got.shape, (what, ref.dtype, got.dtype)
        if ref.dtype.kind == "f":
            nan = np.isnan(ref)
            assert np.array_equal(nan, np.isnan(got)), what
            bits = np.dtype(f"u{ref.dtype.itemsize}")
            same = ref.view(bits) == got.view(bits)
            assert np.all(same | nan), (what, ref[~same & ~nan][:5], got[~same & ~nan][:5])
        else:
            assert np.array_equal(ref, got), what
    elif isinstance(ref, float | np.floating):
        assert type(ref) is type(got), (what, type(ref), type(got))
        assert_same(np.asarray(ref), np.asarray(got), what)
    elif isinstance(ref, dict):
        assert ref.keys() == got.keys(), what
        for k in ref:
            assert_same(ref[k], got[k], f"{what}[{k!r}]")
    elif isinstance(ref, list | tuple):
        assert len(ref) == len(got), what
        for i, (a, b) in enumerate(zip(ref, got, strict=True)):
            assert_same(a, b, f"{what}[{i}]")
    elif dataclasses.is_dataclass(ref) and not isinstance(ref, CRMView):
        assert type(ref) is type(got), what
        for f in dataclasses.fields(ref):
            assert_same(getattr(ref, f.name), getattr(got, f.name), f"{what}.{f.name}")
    else:
        assert ref == got, (what, ref, got)


def assert_same_views(ref: CRMView, got: CRMView, what: str) -> None:
    for f in dataclasses.fields(CRMView):
        if f.name not in ("truth", "_means"):
            assert_same(getattr(ref, f.name), getattr(got, f.name), f"{what}.{f.name}")
    assert ref.truth is got.truth


def fresh(view: CRMView) -> CRMView:
    """The same view with an empty per-view cache."""
    return view.replace()


def odd_views(view: CRMView) -> dict[str, CRMView]:
    """Views edited to hold what the kernels must treat as numpy does."""
    n = view.known.size
    rng = np.random.default_rng(n)
    pick = rng.random(n)
    rec = view.recency.copy()
    rec[pick < 0.02] = np.inf
    rec[(pick >= 0.02) & (pick < 0.04)] = -np.inf
    rec[(pick >= 0.04) & (pick < 0.06)] = -0.0
    mon = view.monetary.astype(np.float64)
    mon[pick > 0.98] = 1e300  # overflows float32
    mon[(pick > 0.96) & (pick <= 0.98)] = np.nan
    freq = view.frequency.copy()
    freq[(pick > 0.5) & (pick < 0.52)] = np.float32(3e38)  # frequency × monetary overflows
    no_seg1 = view.known & (view.segment != 1)
    return {
        "inf_zero_wide": view.replace(recency=rec, monetary=mon, frequency=freq,
                                      survey_nps=view.survey_nps.astype(np.float64),
                                      tenure=view.tenure.astype(np.float64)),
        "segment_without_data": view.replace(known=no_seg1,
                                             needs_signal=np.full(n, np.nan, dtype=np.float32)),
        "nobody_known": view.replace(known=np.zeros(n, dtype=bool), complaint_open=np.zeros(n, dtype=bool)),
    }


def check_view(enabled: bool, view: CRMView, policy: Any, coef: np.ndarray | None, what: str) -> None:
    """Every per-view computation of the manager side, both paths."""
    for name in NUMERIC:
        values = getattr(view, name)
        for fill in (0.0, np.nan):
            ref, got = both(enabled, lambda v=values, f=fill: fresh(view).segment_mean(v, f))
            assert_same(ref, got, f"{what} segment_mean({name}, {fill})")
        ref, got = both(enabled, lambda v=values: fresh(view).fill_by_segment(v))
        assert_same(ref, got, f"{what} fill_by_segment({name})")
        ref, got = both(enabled, lambda n=name: fresh(view).field_segment_mean(n))
        assert_same(ref, got, f"{what} field_segment_mean({name})")
        for mask in ("known", "complaint_open"):
            ref, got = both(enabled, lambda v=values, m=mask: zscore(v, getattr(view, m)))
            assert_same(ref, got, f"{what} zscore({name}, {mask})")
    for names in (("recency", "frequency", "monetary", "complaints_total", "needs_signal", "value"),
                  ("value",), ("value", "survey_nps"), ("complaint_age", "lock", "value"),
                  ("tenure", "tenure", "survey_age")):
        ref, got = both(enabled, lambda n=names: fresh(view).field_segment_means(*n))
        assert_same(ref, got, f"{what} field_segment_means{names}")
        single = tuple(view.segment_mean(getattr(view, n)) for n in names)
        assert_same(single, got, f"{what} field_segment_means{names} one by one")
    k = view.n_segments
    coefs = [np.linspace(-0.8, 0.6, 9 + k)]
    if coef is not None:
        coefs.append(coef)
    for c in coefs:
        ref, got = both(enabled, lambda c=c: linear_predictor(fresh(view), c))
        assert_same(ref, got, f"{what} linear_predictor")
    for c in [None, *coefs]:
        model = ChurnModel()
        model.coef = c
        ref, got = both(enabled, lambda m=model: m.predict(fresh(view)))
        assert_same(ref, got, f"{what} predict(coef={'fit' if c is not None else None})")
    rows = np.flatnonzero(view.known)[::7]
    ref, got = both(enabled, lambda: churn_features(fresh(view), rows))
    assert_same(ref, got, f"{what} churn_features")

    def decide() -> tuple[Any, ...]:
        p = copy.deepcopy(policy)
        v = fresh(view)
        score = p.score(v, np.random.default_rng(5))
        dec = p.decide(v, score)
        alloc = allocate(dec, 10_000.0, v.known, 3.0)
        return score, p.complaint_priority(v), p.offer(v), dec, alloc

    ref, got = both(enabled, decide)
    assert_same(ref, got, f"{what} {type(policy).__name__}")


def manager_decides(model: RetentionModel) -> tuple[CRMView, Decision, Any]:
    """The model's view, decision and allocation this period; the manager's state is left as it was."""
    mg = model.manager
    saved = (copy.deepcopy(mg.policy), copy.deepcopy(mg.biases), copy.deepcopy(mg.remedies),
             mg.stream.bit_generator.state)
    t = model.period
    state = model.market.state(t)
    view = build_view(model.customers, t, model.budget(state), mg.needs_truth)
    decision = mg.decide(view)
    alloc = allocate(decision, view.budget, view.known, model.scenario_spec.market.complaint_cost)
    mg.policy, mg.biases, mg.remedies = saved[:3]
    mg.stream.bit_generator.state = saved[3]
    return view, decision, alloc


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("enabled", PATHS)
def test_manager_side_is_exact(enabled: bool, case: str) -> None:
    model = make_model(case)
    with path(enabled):
        for t in range(max(CHECKPOINTS) + 1):
            if t in CHECKPOINTS:
                what = f"{case} t={t}"
                ref, got = both(enabled, lambda: manager_decides(model))
                assert_same_views(ref[0], got[0], f"{what} view")
                assert_same(ref[1:], got[1:], f"{what} decide/allocate")
                view = ref[0]
                coef = getattr(getattr(model.manager.policy, "model", None), "coef", None)
                seen = view
                for b, s in zip(model.manager.biases, model.manager.strengths(t), strict=True):
                    seen = copy.deepcopy(b).see(seen, s)
                views = {"view": view, **({"seen": seen} if seen is not view else {})}
                if t in (4, 13):
                    views |= odd_views(view)
                for name, v in views.items():
                    check_view(enabled, v, model.manager.policy, coef, f"{what} {name}")
            model.step()


@pytest.mark.parametrize("enabled", PATHS)
def test_allocation_edge_cases(enabled: bool) -> None:
    n = 1000
    rng = np.random.default_rng(3)
    w = rng.normal(size=n).astype(np.float32)
    w[:10] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1.0, 3e38, np.float32(1e-45), np.nan, 2.0]
    known = rng.random(n) < 0.7
    offer = np.zeros(4, dtype=np.float32)
    cases = {
        "mixed": Decision({"service": 0.6, "points": 0.3, "complaints": 0.1}, w, offer,
                          points_weights=np.abs(w)),
        "no_money": Decision({"service": 0.0, "points": -0.2}, w, offer),
        "overspent": Decision({"service": 0.9, "points": 0.9, "acquisition": 0.5}, w, offer),
        "all_negative": Decision({"service": 1.0}, -np.abs(w), offer),
        "float64_weights": Decision({"service": 1.0}, w.astype(np.float64), offer),
        "nobody": Decision({"service": 1.0}, w, offer),
    }
    for name, dec in cases.items():
        mask = np.zeros(n, dtype=bool) if name == "nobody" else known
        ref, got = both(enabled, lambda d=dec, m=mask: allocate(d, 5000.0, m, 2.0))
        assert_same(ref, got, name)
    scores = np.where(known, w, np.nan).astype(np.float32)
    ref, got = both(enabled, lambda: top_share(scores, known, 0.2))
    assert_same(ref, got, "top_share")
    for x in (w, w.astype(np.float64), np.arange(n, dtype=np.int16), np.full(n, np.nan, dtype=np.float32)):
        ref, got = both(enabled, lambda x=x: zscore(x, known))
        assert_same(ref, got, f"zscore {x.dtype}")


RUNS = ("default-clv", "default-stale-affinity", "gdpr-stereotype", "stereotype-team",
        "feedback-affinity-loop", "gdpr-churn_risk-salience", "uniform-points", "churn_risk-nine-segments")


@pytest.mark.parametrize("case", RUNS)
@pytest.mark.parametrize("enabled", PATHS)
def test_whole_runs_are_exact(enabled: bool, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = []
    for flag in (False, enabled):
        monkeypatch.setattr(jit, "ENABLED", flag)
        runs.append(make_model(case, size=1500, seed=11).run(30))
    ref, got = runs
    pd.testing.assert_frame_equal(ref.timeseries(), got.timeseries(), check_exact=True)
    for name, a in vars(ref.customers).items():
        if isinstance(a, np.ndarray):
            assert_same(a, getattr(got.customers, name), f"customers.{name}")
    assert_same(ref.last_allocation, got.last_allocation, "last allocation")


@pytest.mark.parametrize("enabled", PATHS)
def test_the_churn_sample_is_filled_with_segment_means_computed_only_when_missing(enabled: bool) -> None:
    model = make_model("default-clv")
    model.run(6)
    view = build_view(model.customers, model.period, 1000.0, False)
    rows = np.flatnonzero(view.known)[:200]
    with path(enabled):
        clean = fresh(view)
        x = churn_features(clean, rows)
        assert not {"recency", "frequency", "monetary", "complaints_total"} & clean._means.keys()
        rec = view.recency.copy()
        rec[rows[[3, 150]]] = np.nan
        holed = view.replace(recency=rec)
        y = churn_features(holed, rows)
        assert "recency" in holed._means and "monetary" not in holed._means
    means = view.segment_mean(rec).astype(np.float32)  # over known customers with data
    for r in (3, 150):
        assert y[r, 1] == np.log1p(means[view.segment[rows[r]]])
    keep = np.setdiff1d(np.arange(rows.size), [3, 150])
    assert np.array_equal(x[keep], y[keep])


@pytest.mark.parametrize("enabled", PATHS)
def test_the_churn_model_predicts_the_same_in_blocks(enabled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model("default-clv")
    model.run(9)  # fitted at period 8
    churn = model.manager.policy.model
    assert churn.coef is not None
    view = build_view(model.customers, model.period, 1000.0, False)
    assert view.known.size < churn_risk.BLOCK  # one block by default
    for name, v in {"view": view, **odd_views(view)}.items():
        with path(enabled):
            whole = churn.predict(fresh(v))
            monkeypatch.setattr(churn_risk, "BLOCK", 333)  # blocks of 333 rows, the last one short
            blocks = churn.predict(fresh(v))
            monkeypatch.undo()
        assert_same(whole, blocks, name)
