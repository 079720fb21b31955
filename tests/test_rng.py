"""Seeds and generators: one helper for any seed, reproducible replication seeds, named child streams."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import RetentionModel
from sim.rng import STREAMS, make_rng, replication_seeds, spawn_streams
from sim.scenario import Scenario


def _draws(gen: np.random.Generator, n: int = 8) -> np.ndarray:
    return gen.random(n)


# --------------------------------------------------------------------------- make_rng


def test_an_int_seed_gives_a_reproducible_generator():
    a, b, c = make_rng(42), make_rng(42), make_rng(43)
    assert isinstance(a, np.random.Generator)
    first = _draws(a)
    assert np.array_equal(first, _draws(b))
    assert not np.array_equal(first, _draws(c))


def test_a_numpy_integer_seeds_like_the_same_python_int():
    assert np.array_equal(_draws(make_rng(np.int64(7))), _draws(make_rng(7)))
    assert np.array_equal(_draws(make_rng(np.uint32(7))), _draws(make_rng(7)))


def test_a_seed_sequence_gives_the_stream_of_its_entropy():
    # SeedSequence(7) is what an int 7 is turned into: both name the same stream.
    ss = np.random.SeedSequence(7)
    gen = make_rng(ss)
    assert isinstance(gen, np.random.Generator)
    assert np.array_equal(_draws(gen), _draws(make_rng(7)))
    # A spawned child is a different stream from its parent.
    child = np.random.SeedSequence(7).spawn(1)[0]
    assert not np.array_equal(_draws(make_rng(child)), _draws(make_rng(7)))


def test_a_generator_is_returned_as_is_and_keeps_its_state():
    gen = np.random.default_rng(3)
    gen.random(5)  # advanced: a copy or a reseed would restart it
    expected = np.random.default_rng(3)
    expected.random(5)
    same = make_rng(gen)
    assert same is gen
    assert np.array_equal(_draws(same), _draws(expected))


def test_no_seed_draws_fresh_entropy():
    assert not np.array_equal(_draws(make_rng(None), 16), _draws(make_rng(None), 16))


# --------------------------------------------------------------------------- replication seeds


def test_replication_seeds_are_reproducible_distinct_64_bit_integers():
    seeds = replication_seeds(20261122, 200)
    assert seeds == replication_seeds(20261122, 200)
    assert len(seeds) == 200 == len(set(seeds))
    assert all(isinstance(s, int) and 0 <= s < 2**64 for s in seeds)
    assert set(seeds).isdisjoint(replication_seeds(20261123, 200))


def test_the_first_replications_do_not_depend_on_how_many_are_run():
    # Seeds come from SeedSequence(root).spawn(n): child r depends on r only, so adding
    # replications to a run keeps the ones it had.
    root = 99
    assert replication_seeds(root, 5)[:3] == replication_seeds(root, 3)
    assert replication_seeds(root, 1) == replication_seeds(root, 40)[:1]
    assert replication_seeds(root, 0) == []


def test_replication_seeds_are_those_of_seed_sequence_spawn():
    # The resolved scenario tells readers the seeds are `SeedSequence(root).spawn(n)`:
    # a child's 64-bit state word, so anyone can derive them with numpy alone.
    children = np.random.SeedSequence(5).spawn(4)
    expected = [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]
    assert replication_seeds(5, 4) == expected


def test_a_replication_seed_typed_back_in_reproduces_that_replication():
    import sim

    sc = Scenario.model_validate({
        "name": "seeds", "horizon": 8, "replications": 3, "seed": 17,
        "population": {"size": 300}, "policies": [{"name": "a", "kind": "value"}]})
    result = sim.run(sc)
    reps = result.replications.sort_values("replication")
    assert list(reps.seed) == replication_seeds(17, 3) == result.seeds
    alone = RetentionModel(sc, policy="a", rng=result.seeds[2]).run().summary()
    row = reps[reps.replication == 2].iloc[0]
    for metric in ("profit", "churn_rate", "active_customers", "satisfaction"):
        assert row[metric] == alone[metric]


# --------------------------------------------------------------------------- spawn_streams


def test_streams_are_named_in_a_fixed_order():
    streams = spawn_streams(make_rng(1))
    assert tuple(streams) == STREAMS
    assert STREAMS == ("init", "network", "customers", "surveys", "acquisition", "manager")
    # Stream k is the k-th child of the model's generator: the names never shift.
    children = make_rng(1).spawn(len(STREAMS))
    for k, name in enumerate(STREAMS):
        assert np.array_equal(_draws(streams[name]), _draws(children[k]))


def test_streams_are_reproducible_from_the_seed_and_differ_between_seeds():
    a, b, c = spawn_streams(make_rng(8)), spawn_streams(make_rng(8)), spawn_streams(make_rng(9))
    for name in STREAMS:
        x = _draws(a[name])
        assert np.array_equal(x, _draws(b[name])), name
        assert not np.array_equal(x, _draws(c[name])), name


def test_streams_are_distinct_and_uncorrelated():
    streams = spawn_streams(make_rng(12))
    draws = np.array([streams[name].random(20_000) for name in STREAMS])
    corr = np.corrcoef(draws)
    off = corr[~np.eye(len(STREAMS), dtype=bool)]
    # Independent uniforms: correlations are N(0, 1/20000); 0.03 is 4.2 sd.
    assert np.all(np.abs(off) < 0.03)
    assert len({tuple(d[:4]) for d in draws}) == len(STREAMS)


def test_drawing_from_one_stream_leaves_the_others_unchanged():
    # What common random numbers rest on: a policy that draws more from the manager's
    # stream does not move the customers' numbers.
    busy = spawn_streams(make_rng(4))
    busy["manager"].random(10_000)
    busy["init"].standard_normal(777)
    quiet = spawn_streams(make_rng(4))
    for name in ("network", "customers", "surveys", "acquisition"):
        assert np.array_equal(_draws(busy[name]), _draws(quiet[name])), name


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_every_64_bit_replication_seed_makes_a_model_generator(seed):
    # Replication seeds fill the whole 64-bit range; both ends seed distinct streams.
    streams = spawn_streams(make_rng(seed))
    other = spawn_streams(make_rng(1))
    for name in STREAMS:
        assert not np.array_equal(_draws(streams[name]), _draws(other[name]))
