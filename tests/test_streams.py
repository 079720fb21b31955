"""Counter-based random numbers (sim.streams), Poisson purchase counts, segment traits stored per segment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim import streams
from sim.agents import rules
from sim.jit import njit
from sim.loader import load_scenario
from sim.model import RetentionModel


def _base(seed: int = 1, t: int = 3, slot: int = 2) -> np.uint64:
    return streams.period_base(streams.stream_key(np.random.default_rng(seed)), t, slot)


def _uniform(base, ids):
    return streams.draws(base, np.asarray(ids, dtype=np.int64), streams.NORMAL_TABLE)[0]


def _normal(base, ids):
    return streams.draws(base, np.asarray(ids, dtype=np.int64), streams.NORMAL_TABLE)[1]


def test_a_customers_draw_does_not_depend_on_who_else_is_drawn():
    b = _base()
    everyone = np.arange(100_000)
    some = np.sort(np.random.default_rng(0).choice(everyone, 5_000, replace=False))
    assert np.array_equal(_uniform(b, everyone)[some], _uniform(b, some))
    assert np.array_equal(_normal(b, everyone)[some], _normal(b, some))


def test_draws_differ_by_key_period_and_slot():
    ids = np.arange(10_000)
    ref = _uniform(_base(), ids)
    for other in (_base(seed=2), _base(t=4), _base(slot=3)):
        u = _uniform(other, ids)
        assert np.mean(u == ref) < 0.001
        assert abs(np.corrcoef(u, ref)[0, 1]) < 0.05


def test_uniforms_are_uniform_in_float32_on_the_unit_interval():
    u = _uniform(_base(), np.arange(400_000))
    assert u.dtype == np.float32
    assert u.min() >= 0.0 and u.max() < 1.0
    assert np.all(u * 2**24 == np.floor(u * 2**24))  # 24-bit grid, as Generator.random(float32)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Neighbouring customers are not correlated.
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_normals_have_the_normal_moments_and_quantiles():
    z = _normal(_base(), np.arange(1_000_000)).astype(np.float64)
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


@njit
def _exp32_many(x):
    out = np.empty(x.size, np.float32)
    for i in range(x.size):
        out[i] = streams.exp32_at(x[i])
    return out


def test_exp32_is_within_two_ulp_of_e_to_the_x():
    x = np.linspace(-87.0, 88.0, 400_001, dtype=np.float32)
    y = _exp32_many(x)
    assert y.dtype == np.float32
    exact = np.exp(x.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(y - exact) / ulp) <= 2.0
    assert _exp32_many(np.float32([0.0]))[0] == 1.0  # no service, no points: exactly no effect
    assert np.all(np.diff(y) >= 0)  # non-decreasing, as e^x is


@njit
def _counts(lam, u):
    k = np.empty(u.size, np.int64)
    rest = 0
    for i in range(u.size):
        c, more = rules.poisson_capped(lam, u[i])
        k[i] = rules.poisson_count(lam, u[i]) if more else c
        rest += more
    return k, rest


@pytest.mark.parametrize("lam", [0.05, 0.5, 3.0, 9.0])
def test_purchase_counts_are_poisson_by_inversion_beyond_the_vectorised_cap(lam):
    """[P2] k is the smallest count whose Poisson CDF reaches u; counts above COUNT_CAP take the slow path."""
    u = (np.arange(1, 20_000) / 20_000).astype(np.float64)
    k, rest = _counts(np.float32(lam), u)
    want = stats.poisson.ppf(u, float(np.float32(lam)))
    # Inversion of the same CDF: equal but where u falls within float rounding of a CDF step.
    assert np.mean(k == want) > 0.999
    assert rest == np.count_nonzero(k > rules.COUNT_CAP)
    assert (rest > 0) == (lam > 1.0)


def _small(name: str, size: int = 2_000):
    s = load_scenario(name)
    return s.model_copy(update={"population": s.population.model_copy(update={"size": size})})


def test_heavy_buyers_buy_as_often_as_their_rate_says():
    """Customers buying more than COUNT_CAP times a period are counted in full: purchases match λ."""
    sc = _small("default", 1_500)
    segs = [seg.model_copy(update={"purchase_rate": 6.0, "purchase_shape": None, "churn": 0.0,
                                   "churn_concentration": None}) for seg in sc.population.segments]
    sc = sc.model_copy(update={"population": sc.population.model_copy(update={"segments": segs})})
    model = RetentionModel(sc, rng=5)
    model.run(10)
    pop = model.customers
    active = pop.active
    # λ_i = rate · exp(β_P (S_i − S_ref)) at each period: compare the totals with the expected counts.
    assert pop.purchases_total[active].min() >= 0
    per_period = pop.purchases_total[active].mean() / 10
    assert 0.6 * 6.0 < per_period < 1.4 * 6.0


def test_the_model_is_deterministic_and_seeds_matter():
    sc = _small("default", 1_500)
    a = RetentionModel(sc, rng=9).run(20).timeseries()
    b = RetentionModel(sc, rng=9).run(20).timeseries()
    c = RetentionModel(sc, rng=10).run(20).timeseries()
    assert a.equals(b)
    assert not a.equals(c)


def test_segment_traits_as_columns_give_the_same_run_and_edits_take_effect():
    """Traits set per segment are stored per segment; made into columns, the run is the same."""
    from sim.agents.customers import SEGMENT_TRAITS

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
