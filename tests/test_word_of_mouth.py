"""What people hear over the network [W1, W2] and who joins [A1]: the kernels against plain definitions."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

from sim.agents import kernels
from sim.network import build_network


def _net(n: int = 5_000, seed: int = 4):
    return build_network("small_world", n, 8, 0.2, np.random.default_rng(seed))


def test_rows_are_sorted_and_ties_symmetric():
    nw = _net()
    rows = np.repeat(np.arange(nw.n), np.diff(nw.indptr))
    for i in range(0, nw.n, 37):
        assert np.all(np.diff(nw.indices[nw.indptr[i]:nw.indptr[i + 1]]) >= 0)
    forward = np.sort(rows.astype(np.int64) * nw.n + nw.indices)
    backward = np.sort(nw.indices.astype(np.int64) * nw.n + rows)
    assert np.array_equal(forward, backward)


@pytest.mark.parametrize(("n", "degree", "rewire"),
                         [(3, 8, 1.0), (10, 2, 0.0), (5_000, 8, 0.2), (20_001, 6, 0.5)])
def test_the_network_is_the_ring_lattice_rewired_as_the_model_describes(n, degree, rewire):
    """The CSR arrays hold exactly the ties of docs/model.md, drawn from the same random numbers."""
    nw = build_network("small_world", n, degree, rewire, np.random.default_rng(n))
    rng = np.random.default_rng(n)  # the same draws, made as plainly as possible
    half = min(degree // 2, (n - 1) // 2)
    place = rng.permutation(n)  # people sit on the ring in random order
    src = np.repeat(np.arange(n), half)
    dst = (src + np.tile(np.arange(1, half + 1), n)) % n
    moved = rng.random(src.size) < rewire
    dst[moved] = rng.integers(0, n, size=int(moved.sum()))
    src, dst = place[src[dst != src]], place[dst[dst != src]]
    ties = sorted(zip(np.concatenate([src, dst]).tolist(), np.concatenate([dst, src]).tolist(), strict=True))
    rows = np.repeat(np.arange(n), np.diff(nw.indptr))
    assert list(zip(rows.tolist(), nw.indices.tolist(), strict=True)) == ties
    assert nw.indptr.dtype == np.int32 and nw.indices.dtype == np.int32


def test_a_customers_ties_reach_prospects_in_the_prospects_share():
    """Customers and prospects are mixed on the ring: no stretch of it is all customers [issue 15]."""
    from sim.agents.customers import ACTIVE
    from sim.model import RetentionModel
    from sim.scenario import Scenario

    sc = Scenario.model_validate({"name": "mix", "population": {"size": 20_000, "potential": 2.0},
                                  "policies": [{"name": "u", "kind": "uniform"}]})
    pop = RetentionModel(sc, rng=12).customers
    nw = pop.network
    rows = np.repeat(np.arange(nw.n), np.diff(nw.indptr))
    initial = pop.status[rows] == ACTIVE
    to_prospect = pop.status[nw.indices[initial]] != ACTIVE
    share = float((pop.status != ACTIVE).mean())  # 2/3 of the market are prospects
    # Sampling error of a share over the ties, doubled as a person's ties are not independent.
    se = 2 * np.sqrt(share * (1 - share) / to_prospect.size)
    assert abs(to_prospect.mean() - share) < 4 * se


@pytest.mark.parametrize("unhappy", [0.002, 0.1, 0.9])  # few speakers (push) … most (gather)
@pytest.mark.parametrize("for_potential", [False, True])
def test_compiled_hearing_equals_the_sparse_matrix_product(unhappy, for_potential):
    nw = _net()
    rng = np.random.default_rng(8)
    n = nw.n
    status = rng.choice(np.array([0, 1, 2], dtype=np.int8), size=n, p=[0.3, 0.6, 0.1])
    satisfaction = np.where(rng.random(n) < unhappy, rng.random(n) * 0.3, 0.9).astype(np.float32)
    complaint_open = rng.random(n) < unhappy / 10
    grudge = np.zeros(n, dtype=bool)
    segment = rng.integers(0, 5, n).astype(np.int16)
    table = rng.gamma(2.0, 0.5, 5).astype(np.float32)  # sociability per segment
    sociability = rng.gamma(2.0, 0.5, n).astype(np.float32)  # or one customer's own
    # A segment trait passed as its table (with the segments) or as a column (kernels.trait_at).
    runs = []
    # The kernels read columns, traits and constants by name: small named tuples stand in for the model's.
    c = namedtuple("C", "status satisfaction complaint_open grudge")(
        status, satisfaction, complaint_open, grudge)
    p = namedtuple("P", "detractor_threshold wom_unresolved week_share")(np.float32(0.5), np.float32(0.3),
                                                                        np.float32(1.0))
    filed = np.zeros(n, dtype=bool)  # by weeks a complaint filed is open: `answered` never arises
    for trait in ((sociability, None), (table, segment), (table[segment], None)):
        emit, heard = np.empty(n, np.float32), np.empty(n, np.float32)
        tr = namedtuple("T", "sociability")(trait)
        kernels.word_of_mouth(c, tr, nw.indptr, nw.indices, nw.weights, filed, emit, heard, True, for_potential,
                              p)
        runs.append((emit, heard))
    assert np.array_equal(runs[1][0], runs[2][0]) and np.array_equal(runs[1][1], runs[2][1])
    emit, heard = runs[0]
    speakers = np.count_nonzero(emit)
    assert speakers > 0
    expected = nw.neighbour_mean(emit)
    wanted = (status == 1) | ((status == 0) & for_potential)
    assert np.array_equal(heard[wanted], expected[wanted])
    assert not heard[~wanted].any()
    assert np.count_nonzero(heard) > speakers  # words reach neighbours


@pytest.mark.parametrize("deterrence", [0.0, 2.0])
def test_adoption_skips_only_those_who_cannot_join(deterrence):
    """The share of promoters is not computed where the draw rules joining out: same result."""
    nw = _net()
    rng = np.random.default_rng(2)
    n = nw.n
    status = rng.choice(np.array([0, 1], dtype=np.int8), size=n, p=[0.5, 0.5])
    promote = np.where((status == 1) & (rng.random(n) < 0.5), rng.gamma(2.0, 0.5, n), 0.0).astype(np.float32)
    heard = (rng.random(n) * 0.2).astype(np.float32)
    runs = []
    for bound in (np.inf, float(promote.max()) * 1.001):
        won, referred = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        per = namedtuple("Per", "adopt source")(np.uint64(123), np.uint64(456))
        p = namedtuple("P", "referral_rate wom_deterrence")(0.3, float(deterrence))
        n_won = kernels.adoption(status, nw.indptr, nw.indices, nw.weights, promote, promote, True,
                                 heard, per, 0.01, p, bound, won, referred)
        runs.append((n_won, won, referred))
    (n_a, won_a, ref_a), (n_b, won_b, ref_b) = runs
    assert n_a == n_b > 20
    assert np.array_equal(won_a, won_b) and np.array_equal(ref_a, ref_b)
    assert 0 < ref_a.sum() < n_a  # both paid and referred customers join
