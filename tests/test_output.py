"""Outputs: atomic files, a resolved scenario that reads back to the same run, and the SPEC's CSV files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiment import run
from sim.files import RESOLVED, atomic_open, atomic_write, resolved_yaml
from sim.loader import parse_text
from sim.metrics import METRICS
from sim.output import (
    COMPARISON_COLUMNS,
    CSV_FILES,
    SUMMARY_COLUMNS,
    TIMESERIES_COLUMNS,
    is_complete,
    read_resolved,
    write_result,
)
from sim.result import Result
from sim.rng import replication_seeds
from sim.scenario import Scenario


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- atomic files


def test_atomic_write_writes_text_and_bytes_and_makes_the_folder(tmp_path):
    path = atomic_write(tmp_path / "a" / "b" / "note.txt", "naïve café\n")
    assert path.read_text(encoding="utf-8") == "naïve café\n"
    atomic_write(path, b"\x00\x01bytes")
    assert path.read_bytes() == b"\x00\x01bytes"
    assert leftovers(path.parent) == []


def test_a_written_file_has_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = atomic_write(tmp_path / "f.csv", "x\n")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_writer_failing_midway_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "summary.csv"
    path.write_text("old,complete\n", encoding="utf-8")
    with pytest.raises(type(error)):
        with atomic_open(path) as f:
            f.write(b"new,half")
            f.flush()
            raise error
    assert path.read_text(encoding="utf-8") == "old,complete\n"
    assert leftovers(tmp_path) == []


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path):
    with pytest.raises(UnicodeEncodeError):
        atomic_write(tmp_path / "new.txt", "half \ud800 written")  # cannot be encoded as UTF-8
    assert list(tmp_path.iterdir()) == []


def test_a_reader_never_sees_a_half_written_file(tmp_path):
    path = tmp_path / "big.csv"
    atomic_write(path, "a\n" * 10)
    with atomic_open(path) as f:
        for _ in range(1000):
            f.write(b"b\n")
        f.flush()
        assert path.read_text() == "a\n" * 10  # still the old file until the new one is whole
    assert path.read_text() == "b\n" * 1000


# --------------------------------------------------------------------------- the resolved scenario


def rich_scenario() -> Scenario:
    return Scenario.model_validate({
        "name": "resolved-check", "description": "Every block set away from its default.",
        "horizon": 26, "period": "month", "replications": 4, "seed": 31,
        "population": {"size": 900, "potential": 0.3,
                       "segments": [{"name": "a", "share": 0.6, "churn": 0.01, "spend_shape": None},
                                    {"name": "b", "share": 0.4, "purchase_rate": 0.25, "needs": 0.3}],
                       "network": {"kind": "complete"}, "behaviour": {"loss_aversion": 1.5}},
        "market": {"margin": 0.35, "events": [
            {"at": 3, "kind": "needs_shift", "size": -0.2, "segments": ["b"]},
            {"at": 5, "kind": "competitor_promotion", "duration": 2},
            {"at": 7, "kind": "recession", "spend_drop": 0.1},
            {"at": 9, "kind": "regulation", "consent_share": 0.8}]},
        "policies": [
            {"name": "base", "kind": "churn_risk", "options": {"retarget_every": 4}},
            {"name": "biased", "kind": "value", "promise": 0.7, "cost": 2.5,
             "budget_shares": {"service": 0.5, "complaints": 0.2, "points": 0.1, "acquisition": 0.2},
             "biases": [{"kind": "stale_data", "snapshot_at": 2, "strength": 0.6}, {"kind": "overpromise"}],
             "remedies": [{"kind": "training", "start": 4, "rate": 0.2}, {"kind": "feedback_loop"}]}],
        "baseline": "base",
        "sweep": {"parameters": {"policies.biased.biases.0.strength": [0.0, 0.5]}},
    })


def test_the_resolved_scenario_reads_back_to_an_equal_scenario():
    sc = rich_scenario()
    seeds = replication_seeds(sc.seed, sc.replications)
    text = resolved_yaml(sc, seeds, "9.9.9")
    assert parse_text(text, RESOLVED) == sc
    # Resolving what was read back gives the same text: nothing is lost or added on the way.
    assert resolved_yaml(parse_text(text, RESOLVED), seeds, "9.9.9") == text


def test_the_resolved_scenario_records_version_root_seed_and_every_replication_seed():
    sc = rich_scenario()
    seeds = replication_seeds(sc.seed, sc.replications)
    meta = read_resolved(resolved_yaml(sc, seeds, "9.9.9"))
    assert meta == {"version": "9.9.9", "root_seed": 31, "seeds": seeds}
    assert read_resolved(resolved_yaml(sc, seeds))["version"] == sim.__version__


def test_every_default_is_filled_in():
    sc = Scenario.model_validate({"name": "bare", "policies": [{"name": "a", "kind": "uniform"}]})
    text = resolved_yaml(sc, [1])
    for field in ("horizon: 104", "loss_aversion: 2.25", "competitor_pull: 0.2", "big_accounts",
                  "replications: 30", "seed: 20261122"):
        assert field in text, field
    assert parse_text(text, RESOLVED) == sc


# --------------------------------------------------------------------------- writing a result


@pytest.fixture(scope="module")
def tiny() -> Result:
    sc = Scenario.model_validate({
        "name": "tiny-out", "horizon": 6, "replications": 3, "seed": 4,
        "population": {"size": 300},
        "policies": [{"name": "data", "kind": "churn_risk"},
                     {"name": "liked", "kind": "churn_risk", "biases": [{"kind": "affinity", "strength": 1.0}]},
                     {"name": "loud", "kind": "value", "biases": [{"kind": "overpromise", "strength": 1.0}]}]})
    return run(sc)


@pytest.fixture(scope="module")
def written(tiny: Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    write_result(tiny, out, plots=False)
    return out


def test_write_result_writes_the_specs_files_and_nothing_half_done(written):
    names = {p.name for p in written.iterdir() if p.is_file()}
    assert names == {*CSV_FILES, RESOLVED}
    assert leftovers(written) == []
    assert is_complete(written)


def test_summary_csv_has_one_row_per_policy_and_metric(written, tiny):
    df = pd.read_csv(written / "summary.csv")
    assert tuple(df.columns) == SUMMARY_COLUMNS == ("policy", "metric", "mean", "ci_low", "ci_high", "n")
    assert len(df) == 3 * len(METRICS)
    assert set(df.policy) == {"data", "liked", "loud"} and set(df.metric) == set(METRICS)
    assert (df.n == 3).all()
    finite = df.dropna(subset=["ci_low", "ci_high"])
    assert (finite.ci_low <= finite["mean"] + 1e-9).all() and (finite["mean"] <= finite.ci_high + 1e-9).all()
    # The mean is the mean over replications of the run's summary.
    reps = tiny.replications
    row = df[(df.policy == "liked") & (df.metric == "profit")].iloc[0]
    assert row["mean"] == pytest.approx(reps[reps.policy == "liked"].profit.mean(), rel=1e-9)


def test_comparison_csv_has_the_paired_differences_against_the_baseline(written, tiny):
    df = pd.read_csv(written / "comparison.csv")
    assert tuple(df.columns) == COMPARISON_COLUMNS == (
        "policy", "metric", "diff_mean", "diff_ci_low", "diff_ci_high", "p_value")
    assert set(df.policy) == {"liked", "loud"}  # not the baseline against itself
    assert len(df) == 2 * len(METRICS)
    reps = tiny.replications.set_index(["policy", "replication"])
    diff = reps.loc["loud"].promise - reps.loc["data"].promise
    row = df[(df.policy == "loud") & (df.metric == "promise")].iloc[0]
    assert row.diff_mean == pytest.approx(diff.mean()) == pytest.approx(0.5)
    p = df.p_value.dropna()
    assert ((p >= 0) & (p <= 1)).all()
    revenue = df[(df.policy == "liked") & (df.metric == "revenue")].iloc[0]
    assert revenue.diff_ci_low <= revenue.diff_mean <= revenue.diff_ci_high


def test_timeseries_and_segments_csv(written, tiny):
    ts = pd.read_csv(written / "timeseries.csv")
    assert tuple(ts.columns) == TIMESERIES_COLUMNS
    assert len(ts) == 3 * 3 * 6
    assert sorted(ts.replication.unique()) == [0, 1, 2] and sorted(ts.period.unique()) == list(range(6))
    np.testing.assert_allclose(ts.profit.to_numpy(), tiny.timeseries.profit.to_numpy(), rtol=1e-9)
    seg = pd.read_csv(written / "segments.csv")
    assert {"policy", "segment", "customers", "churned", "churn_rate", "revenue", "service"} <= set(seg.columns)
    assert len(seg) == 3 * 4  # three arms, four default segments


def test_the_resolved_file_reproduces_the_run(written, tiny):
    text = (written / RESOLVED).read_text(encoding="utf-8")
    assert read_resolved(text) == {"version": sim.__version__, "root_seed": 4, "seeds": tiny.seeds}
    again = run(parse_text(text, RESOLVED))
    pd.testing.assert_frame_equal(again.summary, tiny.summary)


def test_writing_twice_gives_the_same_bytes(written, tiny, tmp_path):
    write_result(tiny, tmp_path, plots=False)
    for name in (*CSV_FILES, RESOLVED):
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes(), name


def test_a_rewrite_that_fails_leaves_the_folder_marked_incomplete(tiny, tmp_path, monkeypatch):
    write_result(tiny, tmp_path, plots=False)
    old = (tmp_path / "timeseries.csv").read_bytes()

    def broken():
        yield next(iter(Result.iter_timeseries(tiny)))
        raise OSError("disk full")

    monkeypatch.setattr(tiny, "iter_timeseries", broken)
    with pytest.raises(OSError, match="disk full"):
        write_result(tiny, tmp_path, plots=False)
    # The earlier run's resolved scenario no longer vouches for the folder; no file is half written.
    assert not (tmp_path / RESOLVED).exists() and not is_complete(tmp_path)
    assert (tmp_path / "timeseries.csv").read_bytes() == old
    assert leftovers(tmp_path) == []
    pd.read_csv(io.BytesIO((tmp_path / "summary.csv").read_bytes()))  # whole, readable
