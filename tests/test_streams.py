"""Counter-based random numbers (sim.streams) and the two paths of the customer step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim import jit, streams
from sim.jit import njit
from sim.loader import load_scenario
from sim.model import RetentionModel


@njit
def _compiled(base, ids, table):
    u = np.empty(ids.size, np.float32)
    z = np.empty(ids.size, np.float32)
    for j in range(ids.size):
        u[j] = streams.uniform_at(base, ids[j])
        z[j] = streams.normal_at(base, ids[j], table)
    return u, z


def _base(seed: int = 1, t: int = 3, slot: int = 2) -> np.uint64:
    return streams.period_base(streams.stream_key(np.random.default_rng(seed)), t, slot)


def test_a_customers_draw_does_not_depend_on_who_else_is_drawn():
    b = _base()
    everyone = np.arange(100_000)
    some = np.sort(np.random.default_rng(0).choice(everyone, 5_000, replace=False))
    assert np.array_equal(streams.uniform(b, everyone)[some], streams.uniform(b, some))
    assert np.array_equal(streams.normal(b, everyone)[some], streams.normal(b, some))


def test_draws_differ_by_key_period_and_slot():
    ids = np.arange(10_000)
    ref = streams.uniform(_base(), ids)
    for other in (_base(seed=2), _base(t=4), _base(slot=3)):
        u = streams.uniform(other, ids)
        assert np.mean(u == ref) < 0.001
        assert abs(np.corrcoef(u, ref)[0, 1]) < 0.05


def test_uniforms_are_uniform_in_float32_on_the_unit_interval():
    u = streams.uniform(_base(), np.arange(400_000))
    assert u.dtype == np.float32
    assert u.min() >= 0.0 and u.max() < 1.0
    assert np.all(u * 2**24 == np.floor(u * 2**24))  # 24-bit grid, as Generator.random(float32)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Neighbouring customers are not correlated.
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_normals_have_the_normal_moments_and_quantiles():
    z = streams.normal(_base(), np.arange(1_000_000)).astype(np.float64)
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se
    assert abs(z.std() - 1) < 4 * se
    assert abs(stats.skew(z)) < 4 * np.sqrt(6 / z.size)
    assert abs(stats.kurtosis(z)) < 4 * np.sqrt(24 / z.size)
    for q in (0.001, 0.025, 0.16, 0.5, 0.84, 0.975, 0.999):
        assert abs(np.mean(z <= stats.norm.ppf(q)) - q) < 4 * np.sqrt(q * (1 - q) / z.size) + 1e-5
    assert np.abs(z).max() <= -stats.norm.ppf(0.25 / 2**16) + 1e-6  # the documented truncation
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-3


def test_the_table_is_odd_and_increasing():
    t = streams.NORMAL_TABLE
    assert t.size == 2**16 + 1
    assert np.array_equal(t, -t[::-1])
    assert np.all(np.diff(t) > 0)


@pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed: only the numpy path exists")
def test_compiled_and_numpy_draws_are_bit_identical():
    b = _base(seed=7)
    ids = np.random.default_rng(1).integers(0, 2**31 - 1, 200_000)
    u, z = _compiled(b, ids, streams.NORMAL_TABLE)
    assert np.array_equal(u, streams.uniform(b, ids))
    assert np.array_equal(z, streams.normal(b, ids))


def _small(name: str, size: int = 2_000):
    s = load_scenario(name)
    return s.model_copy(update={"population": s.population.model_copy(update={"size": size})})


@pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed: only the numpy path exists")
@pytest.mark.parametrize("name", ["default", "points_lockin", "competitor_entry", "gdpr_consent",
                                  "overpromise", "retail_stale_data"])
def test_compiled_step_equals_the_numpy_step(name, monkeypatch):
    sc = _small(name)
    for policy in [p.name for p in sc.policies]:
        runs = {}
        for enabled in (True, False):
            monkeypatch.setattr(jit, "ENABLED", enabled)
            runs[enabled] = RetentionModel(sc, policy=policy, rng=11).run(40)
        a, b = runs[True], runs[False]
        assert a.timeseries().equals(b.timeseries()), policy
        assert a.customers.to_frame(active_only=False).equals(
            b.customers.to_frame(active_only=False)), policy


@pytest.mark.skipif(not jit.AVAILABLE, reason="numba is not installed: only the numpy path exists")
@pytest.mark.parametrize("dropout", [0.0, 0.08])
def test_heavy_buyers_are_finished_by_the_numpy_twin_identically(dropout, monkeypatch):
    """Counts above the vectorised pass's cap go to the numpy step; the run is still identical."""
    from sim.agents import kernels

    sc = _small("default", 1_500)
    segs = [seg.model_copy(update={"purchase_rate": 1.5 + 1.5 * k, "dropout_per_purchase": dropout})
            for k, seg in enumerate(sc.population.segments)]
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={"segments": segs})})
    left = []
    react = kernels.react
    monkeypatch.setattr(kernels, "react", lambda *a: left.append(react(*a)) or left[-1])
    runs = {}
    for enabled in (True, False):
        monkeypatch.setattr(jit, "ENABLED", enabled)
        runs[enabled] = RetentionModel(sc, rng=5).run(20)
    assert sum(left) > 100  # customers with more than COUNT_CAP purchases in a period
    assert runs[True].timeseries().equals(runs[False].timeseries())
    assert runs[True].customers.to_frame(active_only=False).equals(
        runs[False].customers.to_frame(active_only=False))


@pytest.mark.parametrize("kind", ["complete", "none"])
def test_both_paths_agree_on_closed_form_networks(kind, monkeypatch):
    sc = _small("default", 1_000)
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={
        "network": sc.population.network.model_copy(update={"kind": kind})})})
    runs = []
    for enabled in ({True, False} if jit.AVAILABLE else {False}):
        monkeypatch.setattr(jit, "ENABLED", enabled)
        runs.append(RetentionModel(sc, rng=3).run(30).timeseries())
    assert all(r.equals(runs[0]) for r in runs)
    assert runs[0].acquired.sum() > 0


def test_the_numpy_path_alone_is_deterministic(monkeypatch):
    monkeypatch.setattr(jit, "ENABLED", False)
    sc = _small("default", 1_500)
    a = RetentionModel(sc, rng=9).run(20).timeseries()
    b = RetentionModel(sc, rng=9).run(20).timeseries()
    c = RetentionModel(sc, rng=10).run(20).timeseries()
    assert a.equals(b)
    assert not a.equals(c)


def test_exp32_is_within_two_ulp_and_the_same_on_both_paths():
    x = np.linspace(-87.0, 88.0, 400_001, dtype=np.float32)
    y = streams.exp32(x)
    assert y.dtype == np.float32
    exact = np.exp(x.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(y - exact) / ulp) <= 2.0
    assert streams.exp32(np.float32([0.0]))[0] == 1.0  # no service, no points: exactly no effect
    assert np.all(np.diff(y) >= 0)  # non-decreasing, as e^x is
    some = x[::997]
    assert np.array_equal(np.array([streams.exp32_at(v) for v in some], dtype=np.float32),
                          streams.exp32(some))


@pytest.mark.parametrize("enabled", [False, True] if jit.AVAILABLE else [False])
def test_segment_traits_as_columns_give_the_same_run_and_edits_take_effect(enabled, monkeypatch):
    """Traits set per segment are stored per segment; made into columns, the run is the same."""
    from sim.agents.customers import SEGMENT_TRAITS

    monkeypatch.setattr(jit, "ENABLED", enabled)
    sc = _small("competitor_entry", 1_500)  # a price war: price sensitivity matters
    plain = RetentionModel(sc, rng=4)
    pop = plain.customers
    assert not pop._trait_rows  # no per-customer copies
    seg_of = {s.name: k for k, s in enumerate(sc.population.segments)}
    for s in sc.population.segments:
        rows = pop.segment == seg_of[s.name]
        assert np.all(pop.trait("sociability", rows) == np.float32(s.sociability))
    first = pop[0]
    assert first.price_sensitivity == pop.trait("price_sensitivity", 0)
    frame = pop.to_frame(active_only=False)
    assert np.array_equal(frame["service_sensitivity"].to_numpy(), pop.trait("service_sensitivity"))
    assert not pop._trait_rows  # reading a customer or the frame makes no column
    plain.run(30)

    columns = RetentionModel(sc, rng=4)
    before = columns.customers.nbytes
    for name in SEGMENT_TRAITS:
        col = getattr(columns.customers, name)  # the column, made from the segments' values
        assert col.shape == (columns.customers.n,) and col.dtype == np.float32
        assert getattr(columns.customers, name) is col
    assert columns.customers.nbytes == before + 4 * columns.customers.n * len(SEGMENT_TRAITS)
    columns.run(30)
    assert plain.timeseries().equals(columns.timeseries())
    assert plain.customers.to_frame(active_only=False).equals(columns.customers.to_frame(active_only=False))

    # One customer's own value: edits through the attribute and through a customer view take effect.
    edited = RetentionModel(sc, rng=4)
    cust = edited.customers
    active = np.flatnonzero(cust.active)
    cust.price_sensitivity[active] = 0.0  # nobody is moved by price any more
    cust[int(active[0])].sociability = 7.5
    assert cust.trait("sociability", int(active[0])) == np.float32(7.5)
    assert cust.trait("sociability", int(active[1])) == pop.trait("sociability", int(active[1]))
    edited.run(30)
    assert edited.timeseries().churned.sum() < plain.timeseries().churned.sum()
