"""Experiments: every arm of a scenario over many replications, compared in pairs.

`run(scenario)` is a pure function: it never prints. Replication `r` uses the
seed `replication_seeds(root, R)[r]` for *every* arm, so the arms meet the same
customers, market and random numbers (common random numbers), and differences
are computed replication by replication (paired). Results do not depend on the
number of workers or the backend: replications are computed independently (in
whatever order they finish) and aggregated in replication order.

With `store=DIR`, each replication is written to the replication store
(`sim.store`) as soon as it finishes, and the `Result` (`sim.result`) is then
built by streaming over those files in replication order, so memory does not
grow with the replications; `resume=True` reuses exactly the replications of
the same run and refuses a folder that holds another one.

This module is the runner only: it imports no interface (output files, report,
plots, command line, sweeps). `Result`, `ReplicationStore`, `STORE_DIR`,
`StoreMismatchError`, `mean_ci` and `paired` are re-exported from here, where
notebooks, scripts and tests have always imported them from.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

import numpy as np

from sim.agents_output import AgentsOutput
from sim.loader import load_scenario
from sim.metrics import METRICS
from sim.model import RetentionModel
from sim.result import Result, assemble, load_result, mean_ci, paired
from sim.rng import replication_seeds
from sim.scenario import Scenario
from sim.store import STORE_DIR, ReplicationResult, ReplicationStore, StoreMismatchError
from sim.targets import solve

__all__ = [
    "STORE_DIR",
    "Progress",
    "ReplicationResult",
    "ReplicationStore",
    "Result",
    "StoreMismatchError",
    "mean_ci",
    "paired",
    "resolve",
    "run",
    "run_replication",
    "start_method",
]

Progress = Callable[[int, int], None]


def run_replication(scenario: Scenario, replication: int, seed: int,
                    agents: AgentsOutput | None = None) -> ReplicationResult:
    """Run every arm of `scenario` with one seed.

    Args:
        scenario: The scenario.
        replication: Index (recorded in the result).
        seed: The replication's seed, shared by all arms.
        agents: Also write the customers' data there (`sim.agents_output`); None collects nothing.

    Returns:
        The replication's results.
    """
    summaries, series, segments = {}, {}, {}
    scenario = solve(scenario)  # observed targets: solved once (`resolve`), here for a scenario that was not
    for arm, spec in enumerate(scenario.policies):
        model = RetentionModel(scenario, policy=spec.name, rng=seed, keep_last=False)
        if agents is None:
            model.run()
        else:
            agents.play(model, replication, arm)
        ts = model.timeseries()
        summaries[spec.name] = model.summary()
        series[spec.name] = ts[list(METRICS)].to_numpy(dtype=np.float64)
        segments[spec.name] = model.segments()
        _dispose(model)
    return ReplicationResult(replication, seed, summaries, series, segments)


def _dispose(model: RetentionModel) -> None:
    """Free a finished model now rather than at the next full garbage collection.

    The model and its parts (agents, customers' arrays, data collector) refer to
    one another in cycles, which only the cyclic collector frees, and its full
    collections are triggered by object counts, not bytes: dead models of a
    large population would pile up over the replications. Dropping the model's
    attributes breaks the cycles, so reference counting frees them at once.
    """
    vars(model).clear()


def _task(args: tuple[Scenario, int, int, AgentsOutput | None]) -> ReplicationResult:
    return run_replication(*args)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_method() -> str:
    """How worker processes are started: `RETENTION_LAB_START_METHOD`, else automatic.

    Automatic is "fork" where the platform has it and this process runs a single
    thread: workers then inherit the imported, compiled engine and start at once
    (a spawned worker first spends seconds importing Mesa and loading the
    compiled kernels). Otherwise "spawn", which is always safe. Results do not
    depend on it: each replication seeds its own generator.
    """
    chosen = os.environ.get("RETENTION_LAB_START_METHOD", "auto")
    if chosen != "auto":
        return chosen
    if "fork" in get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _pool_results(tasks: list[tuple[Scenario, int, int, AgentsOutput | None]],
                  workers: int) -> Iterator[ReplicationResult]:
    """Run tasks on a process pool, yielding results as they finish (any order).

    At most two tasks per worker are submitted at a time, so finished results
    never pile up in this process while an early one is still running.
    """
    # One BLAS thread per worker process: the processes already use the cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context(start_method()),
                               initializer=_ignore_sigint)
    queue = iter(tasks)
    pending: set[Future[ReplicationResult]] = set()
    try:
        # Workers are spawned while the first tasks are submitted; they inherit an ignored
        # SIGINT, so Ctrl-C reaches only this process (no traceback from every worker).
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for task in queue:
                pending.add(pool.submit(_task, task))
                if len(pending) >= 2 * workers:
                    break
        finally:
            signal.signal(signal.SIGINT, old)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: f.result().replication):
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_task, nxt))
                yield fut.result()
    except BaseException:
        _stop(pool)  # Ctrl-C or an error: do not finish the replications under way
        raise
    pool.shutdown()


def _iterate(scenario: Scenario, seeds: list[int], workers: int, backend: str,
             scheduler: str | None,
             indices: Iterable[int] | None = None,
             agents: AgentsOutput | None = None) -> Iterator[ReplicationResult]:
    """Compute the given replications (default: all), yielding them as they finish.

    The order is the order of completion; callers that need replication order sort.
    """
    which = range(len(seeds)) if indices is None else indices
    tasks = [(scenario, r, seeds[r], agents) for r in which]
    if not tasks:
        return
    if backend == "dask":
        from sim.distributed import dask_map

        yield from dask_map(_task, tasks, scheduler=scheduler, workers=workers, ordered=False)
        return
    if workers <= 1 or len(tasks) == 1:
        for t in tasks:
            yield _task(t)
        return
    yield from _pool_results(tasks, workers)


def _stop(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def resolve(scenario: Scenario | str | Path, replications: int | None = None,
            seed: int | None = None) -> tuple[Scenario, list[int]]:
    """The scenario as it will run (overrides applied, observed targets solved) and its replication seeds."""
    sc = load_scenario(scenario)
    updates: dict[str, Any] = {}
    if replications is not None:
        updates["replications"] = replications
    if seed is not None:
        updates["seed"] = seed
    if updates:
        sc = sc.model_copy(update=updates)
    return solve(sc), replication_seeds(sc.seed, sc.replications)


def run(scenario: Scenario | str | Path, replications: int | None = None, workers: int = 1,
        backend: str = "local", seed: int | None = None, progress: Progress | None = None,
        scheduler: str | None = None, store: Path | str | None = None,
        resume: bool = False, agents: AgentsOutput | None = None) -> Result:
    """Run every arm of a scenario over its replications and compare them.

    Args:
        scenario: A `Scenario`, a file path or a built-in name.
        replications: Overrides the scenario's replications.
        workers: Parallel processes (local) or Dask workers of a local cluster.
        backend: "local" (processes) or "dask".
        seed: Overrides the scenario's root seed.
        progress: Called with (done, total) once at the start (done: the replications a
            resumed run already has; a progress bar's clock starts there) and after each
            replication.
        scheduler: Address of a Dask scheduler (backend "dask"); None starts a local cluster.
        store: A folder: each replication is written to `store/replications/` as it
            finishes and the result is built by streaming over those files, so memory
            does not grow with the replications. None keeps everything in memory.
        resume: With `store`: reuse the replications already finished there by this same
            run (same resolved scenario and seeds) and compute only the others (and
            those whose `agents` files are missing).
        agents: Write the customers' data of every replication and arm there, as Parquet
            (`sim.agents_output`; the workers write it). None collects nothing.

    Returns:
        The comparison's `Result`.

    Raises:
        ValueError: If `resume` is asked without a `store`.
        StoreMismatchError: If `resume` and the store holds another run's replications.
    """
    if resume and store is None:
        raise ValueError("resume=True needs a store folder")
    sc, seeds = resolve(scenario, replications, seed)
    total = len(seeds)
    if agents is not None:
        agents.clean()
    if store is None:
        done: list[ReplicationResult] = []
        if progress is not None:
            progress(0, total)
        it = _iterate(sc, seeds, workers, backend, scheduler, agents=agents)
        try:
            for rr in it:
                done.append(rr)
                if progress is not None:
                    progress(len(done), total)
        finally:
            it.close()
        return assemble(sc, seeds, done)
    st = ReplicationStore(store, sc, seeds)
    finished = st.prepare(resume)
    if agents is not None:  # a replication kept without its customers' files is run again
        finished = sorted(set(finished) - agents.missing(sc, finished))
    count = len(finished)
    if progress is not None:
        progress(count, total)
    todo = sorted(set(range(total)) - set(finished))
    it = _iterate(sc, seeds, workers, backend, scheduler, todo, agents)
    try:
        for rr in it:
            st.write(rr)
            del rr
            count += 1
            if progress is not None:
                progress(count, total)
    finally:
        it.close()
    return load_result(store, sc, seeds)
