"""Per-customer outputs (`run --agents`, `sweep --agents`): rows, columns, totals, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.agents_output import AGENTS_DIR, LEAD, STATE, AgentsOutput
from sim.cli import app
from sim.experiment import run, run_replication
from sim.loader import parse_text
from sim.metrics import METRICS
from sim.model import RetentionModel
from sim.rng import replication_seeds

pytest.importorskip("pyarrow")

TEXT = """\
name: agents-test
horizon: 10
replications: 2
seed: 11
population: {size: 300}
market:
  events:
    - {at: 4, kind: needs_shift, size: 0.5}
policies:
  - {name: data_driven, kind: churn_risk}
  - name: stale manager
    kind: churn_risk
    biases: [{kind: stale_data, strength: 0.8}]
"""
SCENARIO = parse_text(TEXT, "agents-test.yaml")
SEEDS = replication_seeds(SCENARIO.seed, SCENARIO.replications)
runner = CliRunner()


@pytest.fixture(scope="module")
def every(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Replication 1 of the scenario, written with `every`."""
    folder = tmp_path_factory.mktemp("every") / AGENTS_DIR
    rr = run_replication(SCENARIO, 1, SEEDS[1], AgentsOutput(folder, every=True))
    return folder, rr


def test_one_row_per_customer_ever_active_with_every_column(every: tuple[Path, object]) -> None:
    folder, rr = every
    df = pd.read_parquet(folder / "customers")
    assert list(df.columns) == [c for c in LEAD if c != "period"] + list(STATE)
    assert set(df.policy) == {p.name for p in SCENARIO.policies} and set(df.replication) == {1}
    for arm in SCENARIO.policies:
        mine = df[df.policy == arm.name]
        s = rr.summaries[arm.name]
        series = rr.timeseries[arm.name]
        acquired = series[:, list(METRICS).index("acquired")].sum()
        assert len(mine) == SCENARIO.population.size + acquired  # ever active
        assert mine.id.is_unique and set(mine.status) <= {"active", "churned"}
        churned = int((mine.status == "churned").sum())
        assert churned == series[:, list(METRICS).index("churned")].sum()
        assert churned / len(mine) == pytest.approx(s["churn_rate"], rel=1e-12)
        assert int((mine.status == "active").sum()) == s["active_customers"]
        total = {c: mine[c].to_numpy().sum(dtype=np.float64) for c in ("revenue_total", "service_total")}
        assert total["revenue_total"] == pytest.approx(s["revenue"], rel=1e-5)
        assert total["service_total"] == pytest.approx(s["spend_service"], rel=1e-4)
        assert set(mine.segment) <= {seg.name for seg in SCENARIO.population.segments}
        assert ((mine.tenure >= 0) & mine.hazard.between(0, 1)).all()
        assert (mine.hazard[mine.status == "churned"] == 0).all()


def test_the_hazard_is_the_true_one(every: tuple[Path, object]) -> None:
    folder, _ = every
    arm = SCENARIO.policies[1].name
    df = pd.read_parquet(folder / "customers")
    mine = df[df.policy == arm]
    model = RetentionModel(SCENARIO, policy=arm, rng=SEEDS[1]).run()
    m = model.last_market
    truth = model.customers.hazard(m.pull, m.switching_cover)[mine.id.to_numpy()]
    np.testing.assert_array_equal(mine.hazard.to_numpy(), truth)
    ids = mine.id.to_numpy()
    np.testing.assert_array_equal(mine.satisfaction.to_numpy(), model.customers.satisfaction[ids])


def test_every_period_has_a_row_per_active_or_just_lost_customer(every: tuple[Path, object]) -> None:
    folder, rr = every
    df = pd.read_parquet(folder / "periods")
    assert list(df.columns) == list(LEAD) + list(STATE)
    final = pd.read_parquet(folder / "customers")
    for arm in SCENARIO.policies:
        mine = df[df.policy == arm.name]
        series = rr.timeseries[arm.name]
        active = series[:, list(METRICS).index("active_customers")]
        churned = series[:, list(METRICS).index("churned")]
        assert len(mine) == int((active + churned).sum())
        counts = mine.groupby("period").size().reindex(range(SCENARIO.horizon), fill_value=0)
        np.testing.assert_array_equal(counts.to_numpy(), active + churned)
        last = mine[mine.period == SCENARIO.horizon - 1].set_index("id")
        end = final[(final.policy == arm.name) & (final.status == "active")].set_index("id")
        pd.testing.assert_frame_equal(last.loc[end.index].drop(columns="period"), end)


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_same_bytes_serial_or_parallel(tmp_path: Path) -> None:
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    run(SCENARIO, workers=1, store=serial, agents=AgentsOutput(serial / AGENTS_DIR))
    run(SCENARIO, workers=2, store=parallel, agents=AgentsOutput(parallel / AGENTS_DIR))
    a, b = _bytes(serial / AGENTS_DIR), _bytes(parallel / AGENTS_DIR)
    assert len(a) == SCENARIO.replications * len(SCENARIO.policies) and a == b
    other = tmp_path / "other"
    run(SCENARIO, workers=1, seed=12, store=other, agents=AgentsOutput(other / AGENTS_DIR))
    assert _bytes(other / AGENTS_DIR) != a


def test_resume_writes_the_files_a_run_without_agents_lacked(tmp_path: Path) -> None:
    run(SCENARIO, workers=1, store=tmp_path)
    assert not (tmp_path / AGENTS_DIR).exists()  # nothing collected unless asked
    left = tmp_path / AGENTS_DIR / "customers" / ".rep-00000-00-data_driven.parquet.x1.tmp"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"cut short")  # a worker stopped mid-write
    run(SCENARIO, workers=1, store=tmp_path, resume=True, agents=AgentsOutput(tmp_path / AGENTS_DIR))
    assert len(_bytes(tmp_path / AGENTS_DIR)) == SCENARIO.replications * len(SCENARIO.policies)
    assert not left.exists()


def test_cli_run_and_sweep_with_agents(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(TEXT.replace("replications: 2", "replications: 1"), encoding="utf-8")
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", str(path), "--out", str(out), "--agents", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert len(list((out / AGENTS_DIR / "customers").glob("*.parquet"))) == 2
    assert not (out / AGENTS_DIR / "periods").exists()
    res = runner.invoke(app, ["run", str(path), "--out", str(out), "--force", "--workers", "1", "--agents"])
    assert res.exit_code == 0, res.output  # --force clears agents/ too, then writes it again
    out2 = tmp_path / "sweep"
    res = runner.invoke(app, ["sweep", str(path), "--set", "market.competitor_pull=0.1,0.3", "--out", str(out2),
                              "--workers", "1", "--agents", "every"])
    assert res.exit_code == 0, res.output
    for point in ("point-000", "point-001"):
        assert len(list((out2 / point / AGENTS_DIR / "periods").glob("*.parquet"))) == 2
    res = runner.invoke(app, ["run", str(path), "--agents", "sometimes"])
    assert res.exit_code == 2
