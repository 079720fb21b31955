"""The plain Mesa version (one `mesa.Agent` per customer) agrees statistically with the engine.

`benchmarks/plain_mesa.py` re-implements `CustomerPopulation.step` with scalar
state per agent; both are run under the same fixed manager over many seeds,
and every outcome must agree within sampling error (Welch z of the difference
of means within 4). A deliberately changed equation must be caught, so the
comparison has teeth: when the engine's equations change, the plain version
must change with them.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "plain_mesa.py"
SIZE, PERIODS = 2000, 52
PLAIN_SEEDS = range(100, 110)
VECTOR_SEEDS = range(100, 130)
Z_MAX = 4.0
METRICS = ("active", "satisfaction", "loyalty", "churned", "revenue", "complaints", "acquired",
           "purchases")


@pytest.fixture(scope="module")
def pm():
    spec = importlib.util.spec_from_file_location("plain_mesa", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["plain_mesa"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scenario(pm):
    return pm.benchmark_scenario(SIZE, horizon=PERIODS)


@pytest.fixture(scope="module")
def plain_runs(pm, scenario):
    return [pm.run_plain(scenario, s, PERIODS) for s in PLAIN_SEEDS]


@pytest.fixture(scope="module")
def vector_runs(pm, scenario):
    return [pm.run_vectorised(scenario, s, PERIODS) for s in VECTOR_SEEDS]


def welch_z(a: list[dict], b: list[dict], metric: str) -> float:
    x = np.array([r[metric] for r in a])
    y = np.array([r[metric] for r in b])
    se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
    diff = x.mean() - y.mean()
    return 0.0 if diff == 0 else diff / max(se, 1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("metric", METRICS)
def test_plain_mesa_agrees_with_vectorised(plain_runs, vector_runs, metric):
    z = welch_z(plain_runs, vector_runs, metric)
    plain_mean = np.mean([r[metric] for r in plain_runs])
    vec_mean = np.mean([r[metric] for r in vector_runs])
    assert abs(z) < Z_MAX, (
        f"{metric}: plain {plain_mean:.5g} vs vectorised {vec_mean:.5g} (z={z:.2f})")


@pytest.mark.slow
def test_comparison_catches_a_changed_equation(pm, scenario, plain_runs):
    # The engine with expectations adapting to all of the service lift (a change in one
    # equation) must no longer agree with the plain version.
    b = scenario.population.behaviour.model_copy(update={"service_adaptation": 1.0})
    changed = scenario.model_copy(update={
        "population": scenario.population.model_copy(update={"behaviour": b})})
    runs = [pm.run_vectorised(changed, s, PERIODS) for s in VECTOR_SEEDS]
    worst = max(abs(welch_z(plain_runs, runs, m)) for m in METRICS)
    assert worst > 2 * Z_MAX


def test_plain_mesa_is_reproducible_and_uses_agents(pm, scenario):
    import mesa

    small = pm.benchmark_scenario(200, horizon=5)
    a = pm.PlainMesaMarket(small, rng=7)
    b = pm.PlainMesaMarket(small, rng=7)
    for _ in range(5):
        a.step()
        b.step()
    assert a.outcomes == b.outcomes
    assert len(a.agents) == 300  # customers and potential customers, one agent each
    assert all(isinstance(p, mesa.Agent) for p in a.agents)
    df = a.datacollector.get_model_vars_dataframe()
    assert list(df.columns) == list(pm.OUTCOMES) and len(df) == 5
