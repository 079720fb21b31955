"""The Dask backend: same results as the local process pool, and no loss when a worker dies."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from sim.experiment import _task, run
from sim.loader import load_scenario
from sim.result import assemble
from sim.rng import replication_seeds
from sim.scenario import Scenario

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


@pytest.fixture(scope="module")
def small() -> Scenario:
    sc = load_scenario("default")
    return sc.model_copy(update={
        "horizon": 20,
        "replications": 4,
        "population": sc.population.model_copy(update={"size": 600}),
    })


def _csv(df) -> bytes:
    return df.to_csv(index=False, float_format="%.17g").encode()


def test_dask_identical_to_process_pool(small: Scenario, tmp_path: Path) -> None:
    local = run(small, workers=2, backend="local")
    # Streamed to a store as the replications finish (in any order) on the cluster.
    dask = run(small, workers=2, backend="dask", store=tmp_path)
    assert len(list((tmp_path / "replications").glob("rep-*.npz"))) == small.replications
    assert _csv(dask.summary) == _csv(local.summary)
    assert _csv(dask.comparison) == _csv(local.comparison)
    assert _csv(dask.segments) == _csv(local.segments)
    assert _csv(dask.timeseries) == _csv(local.timeseries)
    assert _csv(dask.bands("profit")) == _csv(local.bands("profit"))
    assert dask.seeds == local.seeds


def test_unordered_dask_map_yields_every_result() -> None:
    from sim.distributed import dask_map

    assert sorted(dask_map(abs, [-3, 1, -2, 0], workers=1, ordered=False)) == [0, 1, 2, 3]


def test_killed_worker_is_retried_without_loss(small: Scenario, tmp_path: Path) -> None:
    from sim.distributed import dask_map

    marker = tmp_path / "killed-once"

    # Nested, so cloudpickle ships it by value (workers cannot import test modules).
    def killer_task(args):
        if args[1] == 1:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-task
        return _task(args)

    seeds = replication_seeds(small.seed, small.replications)
    tasks = [(small, r, s) for r, s in enumerate(seeds)]
    results = list(dask_map(killer_task, tasks, workers=2))

    assert marker.exists(), "the worker was never killed"
    assert [r.replication for r in results] == list(range(small.replications))
    got = assemble(small, seeds, results)
    want = run(small, workers=1)
    assert _csv(got.summary) == _csv(want.summary)
    assert _csv(got.comparison) == _csv(want.comparison)


def test_task_errors_are_retried(tmp_path: Path) -> None:
    from sim.distributed import dask_map

    marker = tmp_path / "failed-once"

    def flaky(x):
        if x == 2 and not marker.exists():
            marker.touch()
            raise RuntimeError("transient failure")
        return x * x

    assert list(dask_map(flaky, range(5), workers=1)) == [0, 1, 4, 9, 16]
    assert marker.exists()


def test_missing_dask_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.distributed as sd

    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(sd.DaskNotInstalledError, match=r"retention-lab\[dask\]"):
        list(sd.dask_map(abs, [1], workers=1))
