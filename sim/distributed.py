"""Replications on a Dask cluster: `dask_map` runs tasks on workers, results in task order.

Used by `sim.experiment.run(..., backend="dask")`. Without a scheduler address a
local cluster of worker processes is started on loopback and closed at the
end; with an address (`tcp://host:8786`, a `dask-scheduler` or dask-jobqueue
cluster) the tasks go to that cluster. Tasks are pure functions of their
arguments (a replication's scenario, index and seed), so results are
identical to the local process pool's whatever the backend or the worker that
ran them.

A worker lost mid-task (killed, out of memory, node gone) is not a lost
result: the scheduler reschedules its tasks on another worker (up to
`distributed.scheduler.allowed-failures` times), and a task that raises is
retried `retries` times.

Dask is imported only when `dask_map` is called, so `import sim` and the local
backend pay nothing for it; it is an optional extra (`retention-lab[dask]`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Times a task that raised is resubmitted before its error is passed on.
DEFAULT_RETRIES = 3


class DaskNotInstalledError(ImportError):
    """The Dask backend was asked for but `dask[distributed]` is not installed."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DaskNotInstalledError(
            "the Dask backend needs dask.distributed, which is not installed; "
            "install it with: pip install 'retention-lab[dask]'"
        ) from exc
    return distributed


def dask_map[T, R](fn: Callable[[T], R], tasks: Iterable[T], scheduler: str | None = None,
             workers: int = 2, retries: int = DEFAULT_RETRIES,
             ordered: bool = True) -> Iterator[R]:
    """Apply `fn` to every task on a Dask cluster and yield the results.

    In task order (`ordered=True`), results are yielded as soon as they and
    all earlier ones are done; otherwise each is yielded as soon as it is
    done. Each is released on the cluster once yielded, so memory stays
    bounded by the tasks still running or waiting to be yielded, and this
    process holds one result at a time.

    Args:
        fn: A picklable function of one task (module-level, so workers can import it).
        tasks: The tasks' arguments, one per call.
        scheduler: Address of a running Dask scheduler; `None` starts a local
            cluster of `workers` single-threaded processes on 127.0.0.1 and
            closes it when the iteration ends.
        workers: Worker processes of the local cluster (ignored with `scheduler`).
        retries: Times a task that raised is resubmitted before the error is raised here.
        ordered: Yield in the order of `tasks`; False yields in order of completion
            (the caller then tells results apart by their content).

    Yields:
        `fn(task)` for each task.

    Raises:
        DaskNotInstalledError: If `dask[distributed]` is not installed.
        ValueError: If `workers` is less than 1 without a scheduler address.
    """
    distributed = _distributed()
    task_list = list(tasks)
    if scheduler is None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(scheduler)
    try:
        # pure=False: identical arguments are still separate tasks (never deduplicated).
        futures = client.map(fn, task_list, retries=retries, pure=False)
        if ordered:
            for i, fut in enumerate(futures):
                result = fut.result()
                fut.release()
                futures[i] = None
                yield result
        else:
            finished = distributed.as_completed(futures)
            futures.clear()
            for fut in finished:
                result = fut.result()
                fut.release()
                del fut
                yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
