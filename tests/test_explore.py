"""`explore`: designs, common random numbers, outputs, resuming, Dask, PRIM and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.explore import (
    OUTPUTS,
    RESOLVED,
    comparator,
    parse_vary,
    plan,
    prim_boxes,
    robustness_frame,
    run_explore,
    sample_count,
)
from sim.loader import ScenarioError, load_scenario
from sim.metrics import HEADLINE, METRICS

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

TINY = """\
name: tiny-explore
horizon: 10
replications: 1
seed: 7
population: {size: 300}
policies:
  - {name: data_driven, kind: clv}
  - name: likes_some_customers
    kind: clv
    biases: [{kind: affinity, strength: 0.9}]
  - {name: uniform, kind: uniform}
baseline: data_driven
"""
VARY = ["--vary", "market.competitor_pull=0:0.4", "--vary", "population.size=200:400"]
ARGS = [*VARY, "--samples", "16", "--replications", "1", "--workers", "1"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def full(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("explore-full") / "full"
    res = runner.invoke(app, ["explore", str(tiny), *ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in (*OUTPUTS, RESOLVED)}


# --------------------------------------------------------------------------- inputs and designs


def test_parse_vary() -> None:
    assert parse_vary("market.competitor_pull=0:0.4") == ("market.competitor_pull", 0.0, 0.4)
    assert parse_vary(" population.size = 1000 : 3000") == ("population.size", 1000.0, 3000.0)
    for bad in ("market.competitor_pull", "a=1", "a=x:1", "a=0.5:0.5", "a=1:0", "a=nan:1"):
        with pytest.raises(ScenarioError) as e:
            parse_vary(bad)
        assert e.value.problems[0].file == "--vary"


def test_integer_paths_are_sampled_as_integers(tiny: Path) -> None:
    p = plan(load_scenario(tiny), VARY[1::2], samples=16)
    values = p.design.values()
    assert values["population.size"].dtype == np.int64
    assert values["population.size"].between(200, 400).all()
    assert values["market.competitor_pull"].between(0, 0.4).all()
    assert len(set(values["population.size"])) > 10  # spread over the range, one per stratum
    for s in p.samples:
        assert s.scenario.population.size == s.values["population.size"]
        assert s.scenario.market.competitor_pull == s.values["market.competitor_pull"]
        assert s.scenario.uncertainties is None


@pytest.mark.parametrize(("design", "n", "second", "runs"), [
    ("lhs", 16, False, 16), ("sobol", 4, False, 4 * (2 + 2)), ("sobol", 4, True, 4 * (2 * 2 + 2)),
    ("morris", 3, False, 3 * (2 + 1))])
def test_sample_counts(tiny: Path, design: str, n: int, second: bool, runs: int) -> None:
    p = plan(load_scenario(tiny), VARY[1::2], samples=n, design=design, second_order=second)
    assert len(p.samples) == runs == sample_count(design, n, 2, second)


def test_uncertainties_block_is_overridden_and_extended_by_vary(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "block.yaml"
    path.write_text(TINY + "uncertainties:\n  market.competitor_pull: {low: 0.1, high: 0.2}\n"
                           "  market.budget: {low: 0.5, high: 1.5}\n", encoding="utf-8")
    sc = load_scenario(path)
    p = plan(sc, [], samples=8)
    assert [u.path for u in p.design.uncertainties] == ["market.competitor_pull", "market.budget"]
    assert p.design.values()["market.competitor_pull"].between(0.1, 0.2).all()
    p = plan(sc, ["market.competitor_pull=0.3:0.4", "population.size=200:300"], samples=8)
    got = {u.path: (u.low, u.high, u.integer) for u in p.design.uncertainties}
    assert got == {"market.competitor_pull": (0.3, 0.4, False), "market.budget": (0.5, 1.5, False),
                   "population.size": (200, 300, True)}
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY + "uncertainties:\n  market.budget: {low: 2, high: 1}\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "low < high" in res.output


# --------------------------------------------------------------------------- outputs


def test_outputs(full: Path) -> None:
    exp = pd.read_csv(full / "experiments.csv")
    assert len(exp) == 16 * 3
    assert list(exp.columns[:4]) == ["sample", "market.competitor_pull", "population.size", "policy"]
    assert set(METRICS) <= set(exp.columns)
    assert exp["population.size"].dtype == np.int64
    # Common random numbers: every policy at a sample has the same inputs.
    assert (exp.groupby("sample")["population.size"].nunique() == 1).all()

    sens = pd.read_csv(full / "sensitivity.csv")
    assert list(sens.columns) == ["policy", "outcome", "input", "method", "index", "value", "conf",
                                  "ci_low", "ci_high"]
    profit = sens[(sens.outcome == "profit") & (sens.policy == "data_driven")]
    assert set(profit.input) == {"market.competitor_pull", "population.size"}
    assert set(profit.method) == {"rbd_fast"} and set(profit["index"]) == {"S1"}
    assert np.allclose(profit.ci_high - profit.value, profit.conf)
    assert set(sens.outcome) <= set(HEADLINE)
    # Profit grows with the customers: population size explains most of its variance.
    s1 = profit.set_index("input").value
    assert s1["population.size"] > s1["market.competitor_pull"]

    rob = pd.read_csv(full / "robustness.csv")
    assert list(rob.policy) == ["data_driven", "likes_some_customers", "uniform"]
    assert rob.minimax_regret.sum() == 1
    assert (rob.max_regret >= rob.p90_regret).all() and (rob.p90_regret >= 0).all()
    assert rob.best_share.sum() >= 1 - 1e-12  # some policy is best at every sample

    disc = pd.read_csv(full / "discovery.csv")
    assert set(disc.policy) == {"likes_some_customers"}
    assert set(disc.compared_with) == {"data_driven"}  # its unbiased twin (same kind, no bias)
    assert "likes_some_customers" in (full / "discovery.md").read_text(encoding="utf-8")
    resolved = (full / RESOLVED).read_text(encoding="utf-8")
    assert "# design: lhs; samples (N): 16" in resolved
    assert load_scenario(full / RESOLVED).uncertainties["population.size"].high == 400


def test_sobol_and_morris_indices_with_intervals(tiny: Path, tmp_path: Path) -> None:
    sc = load_scenario(tiny)
    sobol = run_explore(plan(sc, VARY[1::2], samples=4, design="sobol"), tmp_path / "sobol")
    rows = sobol.sensitivity[sobol.sensitivity.outcome == "profit"]
    assert set(rows["index"]) == {"S1", "ST"} and rows.conf.notna().all()
    morris = run_explore(plan(sc, VARY[1::2], samples=3, design="morris"), tmp_path / "morris")
    rows = morris.sensitivity[morris.sensitivity.outcome == "revenue"]
    assert set(rows["index"]) == {"mu_star", "mu", "sigma"}
    star = rows[rows["index"] == "mu_star"]
    assert (star.value >= 0).all() and star.conf.notna().all()
    assert (star.ci_low <= star.value).all()


def test_same_outputs_on_dask(full: Path, tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    p = plan(load_scenario(tiny), VARY[1::2], samples=16, replications=1)
    run_explore(p, tmp_path, workers=1, backend="dask")
    assert _bytes(tmp_path) == _bytes(full)


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")
def test_killed_exploration_resumes_to_identical_outputs(full: Path, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "explore", str(tiny), *ARGS, "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(out.glob("sample-*/replications/rep-*.npz"))) >= 6:
                proc.send_signal(signal.SIGKILL)  # about a third of the way
                break
            time.sleep(0.005)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = {p: p.stat().st_mtime_ns for p in out.glob("sample-*/replications/rep-*.npz")}
    assert 6 <= len(kept) < 16
    assert not (out / RESOLVED).exists()

    res = runner.invoke(app, ["explore", str(tiny), *ARGS, "--out", str(out)])
    assert res.exit_code == 2 and "--resume" in res.output  # not empty: refused, nothing touched
    res = runner.invoke(app, ["explore", str(tiny), *ARGS, "--out", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert f"{len(kept)} runs reused" in res.output
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert _bytes(out) == _bytes(full)
    assert not [p for p in out.rglob("*.tmp")]


def test_refuses_another_explorations_folder_and_force_replaces(full: Path, tiny: Path, tmp_path: Path) -> None:
    other_design = [*VARY, "--samples", "8", "--replications", "1", "--out", str(full)]
    res = runner.invoke(app, ["explore", str(tiny), *other_design])
    assert res.exit_code == 2 and "not empty" in res.output
    res = runner.invoke(app, ["explore", str(tiny), *other_design, "--resume"])
    assert res.exit_code == 2 and "different run" in res.output and "Traceback" not in res.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    res = runner.invoke(app, ["explore", str(tiny), *ARGS, "--out", str(other), "--force"])
    assert res.exit_code == 2 and "notes.txt" in res.output
    assert (other / "notes.txt").read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("vary", "words"), [
    ("market.no_such_field=0:1", "no field 'no_such_field'"),
    ("market.competitor_pull=0.4:0.1", "LOW < HIGH"),
    ("market.competitor_pull=0:lots", "a number"),
    ("market.competitor_pull", "no '='"),
    ("period=0:1", "not a number"),
    ("population.size=10.5:20", "integer"),
    ("population.potential=5:20", "sample"),  # beyond the field's bounds (≤ 10)
])
def test_bad_vary_exits_2_naming_it(tiny: Path, tmp_path: Path, vary: str, words: str) -> None:
    out = tmp_path / "never"
    res = runner.invoke(app, ["explore", str(tiny), "--vary", vary, "--samples", "8", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "--vary" in res.output and vary.partition("=")[0] in res.output
    assert words in res.output and "Traceback" not in res.output
    assert not out.exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--design", "sobol", "--samples", "6"], "power of two"),
    (["--samples", "4"], "at least 8"),
    (["--threshold", "0"], "--threshold"),
    ([], None),
])
def test_bad_design_exits_2(tiny: Path, args: list[str], words: str | None) -> None:
    if words is None:  # nothing to explore: no --vary and no block
        res = runner.invoke(app, ["explore", str(tiny), "--samples", "8"])
        words = "nothing to explore"
    else:
        res = runner.invoke(app, ["explore", str(tiny), *VARY, *args])
    assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output


def test_help_states_the_sample_counts() -> None:
    res = runner.invoke(app, ["explore", "--help"], terminal_width=200)
    text = " ".join(res.output.split())
    assert "N·(D+2)" in text and "N·(2D+2)" in text and "N·(D+1)" in text


# --------------------------------------------------------------------------- PRIM and regret


def test_prim_finds_a_known_box() -> None:
    rng = np.random.default_rng(2026)
    x = pd.DataFrame({"a": rng.uniform(size=600), "b": rng.uniform(size=600),
                      "c": rng.integers(1000, 3001, size=600)})
    y = ((x.a > 0.6) & (x.b < 0.3)).to_numpy()
    boxes = prim_boxes(x, y)
    first = boxes[0]
    assert set(first.limits) == {"a", "b"}  # c does not matter: left unrestricted
    (alo, ahi), (blo, bhi) = first.limits["a"], first.limits["b"]
    assert 0.55 < alo < 0.65 and ahi > 0.95
    assert blo < 0.05 and 0.25 < bhi < 0.4
    assert first.coverage > 0.9 and first.density >= 0.8  # the most coverage at density 0.8
    tight = prim_boxes(x, y, density=0.95)[0]  # asking for more density peels closer
    assert tight.density >= 0.95 and tight.coverage > 0.8
    assert 0.25 < tight.limits["b"][1] < first.limits["b"][1]
    assert first.mass == pytest.approx(y.mean() * first.coverage / first.density, rel=1e-9)
    assert prim_boxes(x, np.zeros(600, dtype=bool)) == []
    assert prim_boxes(x, np.ones(600, dtype=bool))[0].limits == {}


def test_regret_and_comparator(tiny: Path) -> None:
    sc = load_scenario(tiny)
    exp = pd.DataFrame({"sample": np.repeat([0, 1, 2], 3), "policy": ["data_driven", "likes_some_customers",
                                                                    "uniform"] * 3,
                        "profit": [10.0, 8.0, 9.0, 5.0, 7.0, 1.0, 3.0, 3.0, 6.0]})
    rob = robustness_frame(sc, exp).set_index("policy")
    assert rob.max_regret.to_dict() == {"data_driven": 3.0, "likes_some_customers": 3.0, "uniform": 6.0}
    assert rob.mean_regret["data_driven"] == pytest.approx(5 / 3)
    assert rob.best_share.to_dict() == {"data_driven": 1 / 3, "likes_some_customers": 1 / 3,
                                        "uniform": 1 / 3}
    assert list(rob.index[rob.minimax_regret]) == ["data_driven"]  # ties: the first
    assert rob.p90_regret["uniform"] == pytest.approx(np.percentile([1, 6, 0], 90))
    assert comparator(sc, "likes_some_customers") == "data_driven"
