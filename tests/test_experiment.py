"""Experiments streamed to a store: bounded memory, same numbers, resuming after an interruption."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scenario_text import two_arm_yaml

import sim.experiment as experiment
from sim.experiment import (
    STORE_DIR,
    ReplicationStore,
    StoreMismatchError,
    resolve,
    run,
    start_method,
)
from sim.loader import parse_text
from sim.metrics import METRICS
from sim.output import CSV_FILES, csv_text, write_result
from sim.scenario import Scenario
from sim.store import HASH_FILE

TINY = two_arm_yaml("store-tiny", horizon=20, replications=6, seed=13, size=1000, shift_at=8,
                    description="Two arms, a needs shift; small enough to run many replications.")


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return parse_text(TINY, "store-tiny.yaml")


@pytest.fixture(scope="module")
def straight(tiny: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted stored run, written without plots."""
    out = tmp_path_factory.mktemp("straight") / "out"
    write_result(run(tiny, workers=1, store=out), out, plots=False)
    return out


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format="%.17g").encode()


def _same_files(a: Path, b: Path) -> None:
    for name in CSV_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# --------------------------------------------------------------------------- the store


def test_store_holds_one_file_per_replication(straight: Path, tiny: Scenario) -> None:
    files = sorted(p.name for p in (straight / STORE_DIR).iterdir())
    assert files == [*(f"rep-{r:05d}.npz" for r in range(6)), HASH_FILE]
    sc, seeds = resolve(tiny)
    st = ReplicationStore(straight, sc, seeds)
    assert (straight / STORE_DIR / HASH_FILE).read_text().strip() == st.hash
    rr = st.read(4)
    assert (rr.replication, rr.seed) == (4, seeds[4])
    assert set(rr.summaries) == {"data_driven", "stale_manager"}
    assert rr.timeseries["data_driven"].shape == (20, len(METRICS))
    assert list(rr.segments["data_driven"].columns[:2]) == ["customers", "churned"]


def test_stored_result_equals_in_memory_result(straight: Path, tiny: Scenario) -> None:
    mem = run(tiny, workers=1)
    stored = run(tiny, workers=1, store=straight, resume=True)  # everything reused
    assert stored.store == straight
    assert _csv(stored.summary) == _csv(mem.summary)
    assert _csv(stored.comparison) == _csv(mem.comparison)
    assert _csv(stored.segments) == _csv(mem.segments)
    assert _csv(stored.timeseries) == _csv(mem.timeseries)  # loaded lazily from the files
    assert _csv(stored.bands("revenue")) == _csv(mem.bands("revenue"))
    assert list(stored.timeseries.columns) == ["replication", "policy", "period", *METRICS]
    # Streamed chunk by chunk, the file has the bytes of the whole frame written at once.
    assert (straight / "timeseries.csv").read_bytes() == csv_text(mem.timeseries).encode()


def test_bands_from_running_sums_match_the_full_series(straight: Path, tiny: Scenario) -> None:
    res = run(tiny, workers=1, store=straight, resume=True)
    ts = res.timeseries
    b = res.bands("satisfaction")
    for pol in ("data_driven", "stale_manager"):
        for period in (0, 9, 19):
            vals = ts[(ts.policy == pol) & (ts.period == period)]["satisfaction"].to_numpy()
            row = b[(b.policy == pol) & (b.period == period)].iloc[0]
            assert row["n"] == 6
            assert row["mean"] == pytest.approx(vals.mean(), rel=1e-12)
            half = 2.5705818366147395 * vals.std(ddof=1) / np.sqrt(6)  # t(0.975, 5)
            assert row["high"] - row["mean"] == pytest.approx(half, rel=1e-9)


def test_two_workers_give_the_same_files(straight: Path, tiny: Scenario, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned workers here (this test process may run threads); forked ones are what a
    # command-line run uses, compared in tests/test_cli.py::test_workers_do_not_change_outputs.
    monkeypatch.setenv("RETENTION_LAB_START_METHOD", "spawn")
    out = tmp_path / "w2"
    write_result(run(tiny, workers=2, store=out), out, plots=False)
    _same_files(straight, out)


def test_workers_fork_only_from_a_single_threaded_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_LAB_START_METHOD", raising=False)
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert start_method() == "spawn"
    finally:
        stop.set()
        helper.join()
    # A fresh interpreter (as the command line is) forks.
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_START_METHOD"}
    out = subprocess.run([sys.executable, "-c", "from sim.experiment import start_method; "
                          "print(start_method())"], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "fork"
    monkeypatch.setenv("RETENTION_LAB_START_METHOD", "spawn")
    assert start_method() == "spawn"


# --------------------------------------------------------------------------- memory


MEMORY = """\
name: store-memory
horizon: 60
replications: 1
seed: 3
population: {size: 100}
policies:
  - {name: a, kind: churn_risk}
  - {name: b, kind: uniform}
"""


def _traced(sc: Scenario, replications: int, store: Path | None) -> tuple[list[int], int]:
    """What the process holds after each replication (garbage collected), and the peak while writing.

    Held memory, not the peak, is compared across runs while they compute: a
    replication's own peak depends on its seed (some markets grow larger than
    others), so the peak of a longer run is that of its largest replication.
    Writing handles every replication alike, so its peak is comparable.
    """
    held: list[int] = []

    def finished(done: int, total: int) -> None:
        gc.collect()  # what is left is what the run really holds on to
        held.append(tracemalloc.get_traced_memory()[0])

    gc.collect()
    tracemalloc.start()
    try:
        res = run(sc, replications=replications, workers=1, store=store, progress=finished)
        tracemalloc.reset_peak()
        if store is not None:
            write_result(res, store, plots=False)
        else:
            _ = res.timeseries
        return held, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_replications(tmp_path: Path) -> None:
    sc = parse_text(MEMORY, "store-memory.yaml")
    r = 2
    _traced(sc, 1, tmp_path / "warm-up")  # first-use allocations (imports, caches)
    # Every replication's time series as float64 (2 arms × 60 periods × metrics): holding them
    # would add at least this much for the 3r replications after the first r. (The summary
    # rows every replication adds, which the comparison needs, do not grow with the horizon.)
    extra_series = 3 * r * 2 * 60 * len(METRICS) * 8
    held, write_small = _traced(sc, r, tmp_path / "r")
    held, write_large = _traced(sc, 4 * r, tmp_path / "4r")
    assert held[-1] - held[r - 1] < 0.4 * extra_series, held  # while running: a summary row each
    assert write_large - write_small < 0.4 * extra_series, (write_small, write_large)  # writing streams
    # The measures can see growth: an in-memory result does hold every series.
    held, write_small = _traced(sc, r, None)
    held, write_large = _traced(sc, 4 * r, None)
    assert held[-1] - held[r - 1] > extra_series, held
    assert write_large - write_small > extra_series, (write_small, write_large)


# --------------------------------------------------------------------------- resume


class Stop(Exception):
    """Raised from a progress callback to interrupt a run."""


def test_resume_computes_only_the_missing_replications(
        straight: Path, tiny: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "resumed"

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tiny, workers=1, store=out, progress=stop_after_two)
    chunks = sorted((out / STORE_DIR).glob("rep-*.npz"))
    assert [p.name for p in chunks] == ["rep-00000.npz", "rep-00001.npz"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    kept = {p.name: p.stat().st_mtime_ns for p in chunks}

    computed: list[int] = []
    task = experiment._task

    def counting(args):
        computed.append(args[1])
        return task(args)

    monkeypatch.setattr(experiment, "_task", counting)
    seen: list[tuple[int, int]] = []
    result = run(tiny, workers=1, store=out, resume=True,
                 progress=lambda d, t: seen.append((d, t)))
    assert computed == [2, 3, 4, 5]
    assert seen == [(2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]
    assert {p.name: p.stat().st_mtime_ns for p in chunks} == kept
    write_result(result, out, plots=False)
    _same_files(straight, out)


def test_damaged_or_foreign_chunks_are_recomputed(straight: Path, tiny: Scenario,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "damaged"
    out.mkdir()
    (out / STORE_DIR).mkdir()
    for r in range(6):
        src = straight / STORE_DIR / f"rep-{r:05d}.npz"
        (out / STORE_DIR / src.name).write_bytes(src.read_bytes())
    (out / STORE_DIR / "rep-00001.npz").write_bytes(b"PK\x03\x04 truncated")
    # A chunk of replication 2 stored under the name of replication 3.
    (out / STORE_DIR / "rep-00003.npz").write_bytes(
        (straight / STORE_DIR / "rep-00002.npz").read_bytes())
    (out / STORE_DIR / ".rep-00004.npz.abc.tmp").write_bytes(b"half")  # left by a kill
    sc, seeds = resolve(tiny)
    assert ReplicationStore(out, sc, seeds).prepare(resume=True) == [0, 2, 4, 5]
    assert not list((out / STORE_DIR).glob("*.tmp"))
    result = run(tiny, workers=1, store=out, resume=True)
    write_result(result, out, plots=False)
    _same_files(straight, out)


def test_resume_refuses_another_run(straight: Path, tiny: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "other"
    run(tiny, replications=2, workers=1, store=out)
    with pytest.raises(StoreMismatchError, match="different run"):
        run(tiny, replications=3, workers=1, store=out, resume=True)
    with pytest.raises(StoreMismatchError):
        run(tiny, replications=2, seed=99, workers=1, store=out, resume=True)
    # Without resume the folder's replications are replaced.
    res = run(tiny, replications=3, workers=1, store=out)
    assert len(list((out / STORE_DIR).glob("rep-*.npz"))) == 3
    assert res.replications.replication.nunique() == 3
    with pytest.raises(ValueError, match="store"):
        run(tiny, workers=1, resume=True)
