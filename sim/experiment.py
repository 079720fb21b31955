"""Experiments: every arm of a scenario over many replications, compared in pairs.

`run(scenario)` is a pure function: it never prints. Replication `r` uses the
seed `replication_seeds(root, R)[r]` for *every* arm, so the arms meet the same
customers, market and random numbers (common random numbers), and differences
are computed replication by replication (paired). Results do not depend on the
number of workers or the backend: replications are computed independently and
assembled in replication order.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.loader import load_scenario
from sim.metrics import HEADLINE, METRICS
from sim.model import RetentionModel
from sim.rng import replication_seeds
from sim.scenario import Scenario

Progress = Callable[[int, int], None]


@dataclass
class ReplicationResult:
    """All arms of one replication.

    Attributes:
        replication: Index of the replication.
        seed: Its seed.
        summaries: Arm → metric → value.
        timeseries: Arm → array (periods × metrics, in `METRICS` order).
        segments: Arm → per-segment DataFrame.
    """

    replication: int
    seed: int
    summaries: dict[str, dict[str, float]]
    timeseries: dict[str, np.ndarray]
    segments: dict[str, pd.DataFrame]


def run_replication(scenario: Scenario, replication: int, seed: int) -> ReplicationResult:
    """Run every arm of `scenario` with one seed.

    Args:
        scenario: The scenario.
        replication: Index (recorded in the result).
        seed: The replication's seed, shared by all arms.

    Returns:
        The replication's results.
    """
    summaries, series, segments = {}, {}, {}
    for spec in scenario.policies:
        model = RetentionModel(scenario, policy=spec.name, rng=seed)
        model.run()
        ts = model.timeseries()
        summaries[spec.name] = model.summary()
        series[spec.name] = ts[list(METRICS)].to_numpy(dtype=np.float64)
        segments[spec.name] = model.segments()
    return ReplicationResult(replication, seed, summaries, series, segments)


def _task(args: tuple[Scenario, int, int]) -> ReplicationResult:
    return run_replication(*args)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t interval of `values` (NaN bounds for fewer than 2 values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if n < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def paired(diff: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """Mean paired difference, its t interval and the two-sided p-value."""
    m, lo, hi = mean_ci(diff, level)
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return m, lo, hi, math.nan
    sd = d.std(ddof=1)
    if sd == 0:
        return m, lo, hi, (1.0 if m == 0 else 0.0)
    tstat = m / (sd / math.sqrt(d.size))
    return m, lo, hi, float(2 * stats.t.sf(abs(tstat), d.size - 1))


@dataclass
class Result:
    """The outcome of a comparison.

    Attributes:
        scenario: The scenario as run (replications and seed filled in).
        seeds: The replication seeds.
        replications: One row per replication × arm with every summary metric.
        timeseries: `replication, policy, period` and every metric per period.
        segments: Per arm and segment: customers, churn, revenue, service (means).
    """

    scenario: Scenario
    seeds: list[int]
    replications: pd.DataFrame
    timeseries: pd.DataFrame
    segments: pd.DataFrame
    level: float = 0.95
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def policies(self) -> list[str]:
        """Arm names in scenario order."""
        return [p.name for p in self.scenario.policies]

    @property
    def baseline(self) -> str:
        """The baseline arm."""
        return self.scenario.baseline_policy

    @property
    def summary(self) -> pd.DataFrame:
        """`policy, metric, mean, ci_low, ci_high, n` for every arm and metric."""
        if "summary" not in self._cache:
            rows = []
            for pol in self.policies:
                sub = self.replications[self.replications.policy == pol]
                for metric in METRICS:
                    m, lo, hi = mean_ci(sub[metric].to_numpy(), self.level)
                    rows.append({"policy": pol, "metric": metric, "mean": m, "ci_low": lo,
                                 "ci_high": hi, "n": int(sub[metric].notna().sum())})
            self._cache["summary"] = pd.DataFrame(rows)
        return self._cache["summary"]

    @property
    def comparison(self) -> pd.DataFrame:
        """Paired differences against the baseline, replication by replication."""
        if "comparison" not in self._cache:
            rows = []
            reps = self.replications
            base = reps[reps.policy == self.baseline].set_index("replication").sort_index()
            for pol in self.policies:
                if pol == self.baseline:
                    continue
                arm = reps[reps.policy == pol].set_index("replication").sort_index()
                for metric in METRICS:
                    d = (arm[metric] - base[metric]).to_numpy()
                    m, lo, hi, p = paired(d, self.level)
                    rows.append({"policy": pol, "metric": metric, "diff_mean": m,
                                 "diff_ci_low": lo, "diff_ci_high": hi, "p_value": p})
            self._cache["comparison"] = pd.DataFrame(
                rows, columns=["policy", "metric", "diff_mean", "diff_ci_low", "diff_ci_high",
                               "p_value"])
        return self._cache["comparison"]

    def table(self, metrics: Iterable[str] = HEADLINE) -> pd.DataFrame:
        """A wide table: one row per arm, the mean of each metric."""
        s = self.summary
        s = s[s.metric.isin(list(metrics))]
        wide = s.pivot(index="policy", columns="metric", values="mean")
        return wide.loc[self.policies, [m for m in metrics if m in wide.columns]]

    def difference(self, policy: str, metric: str) -> dict[str, float]:
        """Paired difference of one arm against the baseline for one metric."""
        c = self.comparison
        row = c[(c.policy == policy) & (c.metric == metric)]
        if row.empty:
            raise KeyError(f"no comparison for {policy!r} / {metric!r}")
        return row.iloc[0].drop(["policy", "metric"]).to_dict()

    # Plots live in sim.report; these delegate so notebooks can call result.plot_*().
    def plot_metric(self, metric: str = "active_customers", **kw: Any):
        """A metric over time per arm with 95 % bands (matplotlib Figure)."""
        from sim.report import plot_metric

        return plot_metric(self, metric, **kw)

    def plot_churn(self, **kw: Any):
        """Cumulative churn rate over time per arm."""
        return self.plot_metric("churn_rate", **kw)

    def plot_revenue(self, **kw: Any):
        """Revenue per period per arm."""
        return self.plot_metric("revenue", **kw)

    def plot_satisfaction(self, **kw: Any):
        """Satisfaction and loyalty over time per arm."""
        from sim.report import plot_satisfaction

        return plot_satisfaction(self, **kw)

    def plot_comparison(self, **kw: Any):
        """Paired differences against the baseline with 95 % intervals."""
        from sim.report import plot_comparison

        return plot_comparison(self, **kw)


def _iterate(scenario: Scenario, seeds: list[int], workers: int,
             backend: str, scheduler: str | None) -> Iterator[ReplicationResult]:
    tasks = [(scenario, r, s) for r, s in enumerate(seeds)]
    if backend == "dask":
        from sim.distributed import dask_map

        yield from dask_map(_task, tasks, scheduler=scheduler, workers=workers)
        return
    if workers <= 1 or len(tasks) == 1:
        for t in tasks:
            yield _task(t)
        return
    # One BLAS thread per worker process: the processes already use the cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        # Workers are spawned while `map` submits; they inherit an ignored SIGINT, so
        # Ctrl-C reaches only this process (no traceback from every worker).
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            results = pool.map(_task, tasks, chunksize=1)
        finally:
            signal.signal(signal.SIGINT, old)
        yield from results
    except BaseException:
        _stop(pool)  # Ctrl-C or an error: do not finish the replications under way
        raise
    pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def assemble(scenario: Scenario, seeds: list[int],
             results: Iterable[ReplicationResult]) -> Result:
    """Build a `Result` from replication results (in any order)."""
    results = sorted(results, key=lambda r: r.replication)
    names = list(METRICS)
    rep_rows, ts_frames, seg_frames = [], [], []
    for rr in results:
        for pol in (p.name for p in scenario.policies):
            rep_rows.append({"replication": rr.replication, "seed": rr.seed, "policy": pol,
                             **rr.summaries[pol]})
            arr = rr.timeseries[pol]
            df = pd.DataFrame(arr, columns=names)
            df.insert(0, "period", np.arange(arr.shape[0]))
            df.insert(0, "policy", pol)
            df.insert(0, "replication", rr.replication)
            ts_frames.append(df)
            seg = rr.segments[pol].reset_index()
            seg.insert(0, "policy", pol)
            seg.insert(0, "replication", rr.replication)
            seg_frames.append(seg)
    seg_all = pd.concat(seg_frames, ignore_index=True)
    seg_mean = (seg_all.drop(columns="replication")
                .groupby(["policy", "segment"], sort=False).mean().reset_index())
    return Result(
        scenario=scenario,
        seeds=seeds,
        replications=pd.DataFrame(rep_rows),
        timeseries=pd.concat(ts_frames, ignore_index=True),
        segments=seg_mean,
    )


def run(scenario: Scenario | str | Path, replications: int | None = None, workers: int = 1,
        backend: str = "local", seed: int | None = None, progress: Progress | None = None,
        scheduler: str | None = None) -> Result:
    """Run every arm of a scenario over its replications and compare them.

    Args:
        scenario: A `Scenario`, a file path or a built-in name.
        replications: Overrides the scenario's replications.
        workers: Parallel processes (local) or Dask workers of a local cluster.
        backend: "local" (processes) or "dask".
        seed: Overrides the scenario's root seed.
        progress: Called with (done, total) after each replication.
        scheduler: Address of a Dask scheduler (backend "dask"); None starts a local cluster.

    Returns:
        The comparison's `Result`.
    """
    sc = load_scenario(scenario)
    updates: dict[str, Any] = {}
    if replications is not None:
        updates["replications"] = replications
    if seed is not None:
        updates["seed"] = seed
    if updates:
        sc = sc.model_copy(update=updates)
    seeds = replication_seeds(sc.seed, sc.replications)
    done = []
    for rr in _iterate(sc, seeds, workers, backend, scheduler):
        done.append(rr)
        if progress is not None:
            progress(len(done), len(seeds))
    return assemble(sc, seeds, done)
