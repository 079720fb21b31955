"""Experiments: every arm of a scenario over many replications, compared in pairs.

`run(scenario)` is a pure function: it never prints. Replication `r` uses the
seed `replication_seeds(root, R)[r]` for *every* arm, so the arms meet the same
customers, market and random numbers (common random numbers), and differences
are computed replication by replication (paired). Results do not depend on the
number of workers or the backend: replications are computed independently (in
whatever order they finish) and aggregated in replication order.

With `store=DIR`, results stream to disk: each replication is written to
`DIR/replications/rep-00007.npz` as soon as it finishes (atomically; it holds
the replication's per-arm summaries, segment tables and time series), and the
`Result` is then built by streaming over those files in replication order:
summaries and comparisons from the small per-replication summaries, the
segment means and the per-period 95 % bands from running sums. No step holds
every time series in memory; `Result.timeseries` loads them only when asked.
`DIR/replications/scenario.sha256` holds the hash of the resolved scenario and
its seeds (and each chunk file repeats it), so `resume=True` reuses exactly the
replications of the same run and refuses a folder that holds another one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.files import atomic_write, resolved_yaml
from sim.loader import load_scenario
from sim.metrics import HEADLINE, METRICS
from sim.model import RetentionModel
from sim.rng import replication_seeds
from sim.scenario import Scenario

Progress = Callable[[int, int], None]

#: Sub-folder of a store holding the replication files.
STORE_DIR = "replications"
#: File (in `STORE_DIR`) holding the hash of the resolved scenario and its seeds.
HASH_FILE = "scenario.sha256"


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
        model = RetentionModel(scenario, policy=spec.name, rng=seed, keep_last=False)
        model.run()
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


# --------------------------------------------------------------------------- the store


class StoreMismatchError(ValueError):
    """A store folder holds the replications of another run than the one asked to resume."""


def scenario_hash(scenario: Scenario, seeds: Sequence[int]) -> str:
    """SHA-256 of the resolved scenario, its seeds and the package version.

    Args:
        scenario: The scenario as run (replications and root seed filled in).
        seeds: The replication seeds.

    Returns:
        The hex digest; equal exactly when `scenario.resolved.yaml` would be.
    """
    return hashlib.sha256(resolved_yaml(scenario, list(seeds)).encode("utf-8")).hexdigest()


def _series_frame(replication: int, policies: Sequence[str], arr: np.ndarray) -> pd.DataFrame:
    """One replication's time series (arms × periods × metrics) as `timeseries.csv` rows."""
    arms, periods, _ = arr.shape
    df = pd.DataFrame(arr.reshape(arms * periods, -1), columns=list(METRICS))
    df.insert(0, "period", np.tile(np.arange(periods, dtype=np.int64), arms))
    df.insert(0, "policy", np.repeat(np.array(policies, dtype=object), periods))
    df.insert(0, "replication", np.full(arms * periods, replication, dtype=np.int64))
    return df


class ReplicationStore:
    """The replication files of one run: `DIR/replications/rep-XXXXX.npz`.

    Args:
        root: The run's folder (`DIR`).
        scenario: The scenario as run.
        seeds: Its replication seeds.
    """

    def __init__(self, root: Path | str, scenario: Scenario, seeds: Sequence[int]) -> None:
        self.root = Path(root)
        self.dir = self.root / STORE_DIR
        self.scenario = scenario
        self.seeds = list(seeds)
        self.policies = [p.name for p in scenario.policies]
        self.hash = scenario_hash(scenario, self.seeds)

    def path(self, replication: int) -> Path:
        """The file of one replication."""
        return self.dir / f"rep-{replication:05d}.npz"

    def stored_hash(self) -> str | None:
        """The hash recorded in the folder, if any."""
        try:
            return (self.dir / HASH_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def matches(self) -> bool:
        """Whether the folder holds no store, or one of this very run."""
        found = self.stored_hash()
        return found is None or found == self.hash

    def _clean_temporary(self) -> None:
        for tmp in self.dir.glob(".*.tmp"):  # left by a killed process mid-write
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def prepare(self, resume: bool) -> list[int]:
        """Make the folder ready for this run; return the replications already finished.

        Args:
            resume: Keep the finished replications of this same run; otherwise every
                replication file in the folder is removed.

        Returns:
            Indices of the replications whose files are complete and belong to this run.

        Raises:
            StoreMismatchError: If `resume` and the folder holds another run's replications.
        """
        if resume and not self.matches():
            raise StoreMismatchError(
                f"{self.root} holds the replications of a different run (another scenario, "
                "seed, number of replications or version); cannot resume it. Use another "
                "--out folder, or run without --resume to replace them.")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clean_temporary()
        done = []
        if resume:
            done = [r for r in range(len(self.seeds)) if self.is_done(r)]
        else:
            for old in self.dir.glob("rep-*.npz"):
                old.unlink()
        atomic_write(self.dir / HASH_FILE, self.hash + "\n")
        return done

    def is_done(self, replication: int) -> bool:
        """Whether the replication's file exists, is readable and belongs to this run."""
        try:
            with np.load(self.path(replication), allow_pickle=False) as z:
                return (str(z["hash"]) == self.hash
                        and int(z["replication"]) == replication
                        and int(z["seed"]) == self.seeds[replication])
        except Exception:  # missing, truncated or damaged: computed again
            return False

    def write(self, rr: ReplicationResult) -> Path:
        """Write one replication's results atomically."""
        pols = self.policies
        seg0 = rr.segments[pols[0]]
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            hash=np.array(self.hash),
            replication=np.int64(rr.replication),
            seed=np.uint64(rr.seed),
            policies=np.array(pols),
            metrics=np.array(list(METRICS)),
            summaries=np.array([[rr.summaries[p][m] for m in METRICS] for p in pols],
                               dtype=np.float64),
            timeseries=np.stack([np.asarray(rr.timeseries[p], dtype=np.float64) for p in pols]),
            segment_names=np.array([str(x) for x in seg0.index]),
            segment_columns=np.array([str(c) for c in seg0.columns]),
            segments=np.stack([rr.segments[p].to_numpy(dtype=np.float64) for p in pols]),
        )
        return atomic_write(self.path(rr.replication), buf.getvalue())

    def _load(self, replication: int) -> dict[str, np.ndarray]:
        with np.load(self.path(replication), allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        if str(data["hash"]) != self.hash:
            raise StoreMismatchError(f"{self.path(replication)} belongs to another run")
        return data

    def read(self, replication: int) -> ReplicationResult:
        """Read one replication's results back."""
        z = self._load(replication)
        pols = [str(p) for p in z["policies"]]
        mets = [str(m) for m in z["metrics"]]
        index = pd.Index([str(x) for x in z["segment_names"]], name="segment")
        cols = [str(c) for c in z["segment_columns"]]
        return ReplicationResult(
            replication=int(z["replication"]),
            seed=int(z["seed"]),
            summaries={p: dict(zip(mets, map(float, z["summaries"][i]), strict=True))
                       for i, p in enumerate(pols)},
            timeseries={p: z["timeseries"][i] for i, p in enumerate(pols)},
            segments={p: pd.DataFrame(z["segments"][i], index=index, columns=cols)
                      for i, p in enumerate(pols)},
        )

    def series(self, replication: int) -> np.ndarray:
        """One replication's time series only (arms × periods × metrics)."""
        return self._load(replication)["timeseries"]

    def __iter__(self) -> Iterator[ReplicationResult]:
        """Every replication, in replication order, one at a time."""
        for r in range(len(self.seeds)):
            yield self.read(r)


# --------------------------------------------------------------------------- aggregation


@dataclass
class PeriodStats:
    """Running statistics per arm × period × metric over replications (Welford).

    Attributes:
        policies: Arm names (first axis).
        n: Count of non-NaN values.
        mean: Their running mean.
        m2: Their running sum of squared deviations from the mean.
    """

    policies: list[str]
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, policies: Sequence[str], shape: tuple[int, int]) -> PeriodStats:
        """Statistics of no replication, for `shape` = (periods, metrics)."""
        full = (len(policies), *shape)
        return cls(list(policies), np.zeros(full, dtype=np.int64), np.zeros(full),
                   np.zeros(full))

    def add(self, arr: np.ndarray) -> None:
        """Add one replication's series (arms × periods × metrics), skipping NaN."""
        ok = ~np.isnan(arr)
        self.n += ok
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(ok, arr - self.mean, 0.0)
            self.mean += np.where(ok, delta / np.maximum(self.n, 1), 0.0)
            self.m2 += np.where(ok, delta * (arr - self.mean), 0.0)

    def bands(self, metric: str, level: float = 0.95) -> pd.DataFrame:
        """`policy, period, mean, low, high, n` for one metric (t-intervals)."""
        j = list(METRICS).index(metric)
        n = self.n[:, :, j]
        periods = n.shape[1]
        nf = n.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, self.mean[:, :, j], np.nan)
            sd = np.sqrt(np.where(n >= 2, self.m2[:, :, j] / (nf - 1), np.nan))
            tq = np.where(n >= 2, stats.t.ppf(0.5 + level / 2, np.maximum(nf - 1, 1)), np.nan)
            half = tq * sd / np.sqrt(nf)
        return pd.DataFrame({
            "policy": np.repeat(np.array(self.policies, dtype=object), periods),
            "period": np.tile(np.arange(periods, dtype=np.int64), len(self.policies)),
            "mean": mean.ravel(),
            "low": (mean - half).ravel(),
            "high": (mean + half).ravel(),
            "n": n.ravel().astype(np.int64),
        })


class _Aggregate:
    """Everything a `Result` needs, accumulated one replication at a time (in order)."""

    def __init__(self, policies: Sequence[str]) -> None:
        self.policies = list(policies)
        self.rows: list[tuple[int, int, np.ndarray]] = []
        self.stats: PeriodStats | None = None
        self.seg_sum: np.ndarray | None = None
        self.seg_n: np.ndarray | None = None
        self.seg_index: list[str] = []
        self.seg_columns: list[str] = []

    def add(self, rr: ReplicationResult) -> np.ndarray:
        pols = self.policies
        summ = np.array([[rr.summaries[p][m] for m in METRICS] for p in pols], dtype=np.float64)
        self.rows.append((rr.replication, rr.seed, summ))
        arr = np.stack([np.asarray(rr.timeseries[p], dtype=np.float64) for p in pols])
        if self.stats is None:
            self.stats = PeriodStats.empty(pols, arr.shape[1:])
        self.stats.add(arr)
        seg = np.stack([rr.segments[p].to_numpy(dtype=np.float64) for p in pols])
        if self.seg_sum is None:
            first = rr.segments[pols[0]]
            self.seg_index = [str(x) for x in first.index]
            self.seg_columns = [str(c) for c in first.columns]
            self.seg_sum = np.zeros(seg.shape)
            self.seg_n = np.zeros(seg.shape, dtype=np.int64)
        ok = ~np.isnan(seg)
        self.seg_sum += np.where(ok, seg, 0.0)
        self.seg_n += ok
        return arr

    def replications(self) -> pd.DataFrame:
        arms = len(self.policies)
        summ = (np.concatenate([x for _, _, x in self.rows]) if self.rows
                else np.zeros((0, len(METRICS))))
        data: dict[str, Any] = {
            "replication": np.repeat(np.array([r for r, _, _ in self.rows], dtype=np.int64),
                                     arms),
            "seed": [seed for _, seed, _ in self.rows for _ in range(arms)],
            "policy": np.tile(np.array(self.policies, dtype=object), len(self.rows)),
        }
        data.update({m: summ[:, j] for j, m in enumerate(METRICS)})
        return pd.DataFrame(data)

    def segments(self) -> pd.DataFrame:
        if self.seg_sum is None or self.seg_n is None:
            return pd.DataFrame(columns=["policy", "segment"])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.seg_n > 0, self.seg_sum / np.maximum(self.seg_n, 1), np.nan)
        arms, segs, _ = mean.shape
        df = pd.DataFrame(mean.reshape(arms * segs, -1), columns=self.seg_columns)
        df.insert(0, "segment", np.tile(np.array(self.seg_index, dtype=object), arms))
        df.insert(0, "policy", np.repeat(np.array(self.policies, dtype=object), segs))
        return df


# --------------------------------------------------------------------------- the result


@dataclass
class Result:
    """The outcome of a comparison.

    `summary`, `comparison`, `segments` and the plots' bands are small and always
    in memory. The time series are either in memory (a run without a store) or
    in the store's replication files, read one replication at a time by
    `iter_timeseries` and all at once only when `timeseries` is asked for.

    Attributes:
        scenario: The scenario as run (replications and seed filled in).
        seeds: The replication seeds.
        replications: One row per replication × arm with every summary metric.
        segments: Per arm and segment: customers, churn, revenue, service (means).
        period_stats: Per arm × period × metric running statistics (for the bands).
        store: The folder whose `replications/` holds the time series (None: in memory).
    """

    scenario: Scenario
    seeds: list[int]
    replications: pd.DataFrame
    segments: pd.DataFrame
    period_stats: PeriodStats | None = None
    store: Path | None = None
    level: float = 0.95
    _series: list[np.ndarray] | None = field(default=None, repr=False)
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def iter_timeseries(self) -> Iterator[pd.DataFrame]:
        """The time series one replication at a time, in replication order.

        Yields:
            Frames of `replication, policy, period` and every metric per period.
        """
        pols = self.policies
        if self._series is not None:
            for r, arr in enumerate(self._series):
                yield _series_frame(r, pols, arr)
            return
        if self.store is None:
            return
        st = ReplicationStore(self.store, self.scenario, self.seeds)
        for r in range(len(self.seeds)):
            yield _series_frame(r, pols, st.series(r))

    @property
    def timeseries(self) -> pd.DataFrame:
        """`replication, policy, period` and every metric per period (loaded on first use)."""
        if "timeseries" not in self._cache:
            frames = list(self.iter_timeseries())
            self._cache["timeseries"] = (
                pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=["replication", "policy", "period", *METRICS]))
        return self._cache["timeseries"]

    def bands(self, metric: str, level: float | None = None) -> pd.DataFrame:
        """Per arm and period: the mean of `metric` over replications and its t-interval.

        Args:
            metric: A metric name (see `sim.METRICS`).
            level: Confidence level (default: the result's).

        Returns:
            Columns `policy, period, mean, low, high, n` (bounds NaN with fewer
            than two replications).

        Raises:
            KeyError: If there is no such metric.
        """
        if metric not in METRICS:
            raise KeyError(f"no metric {metric!r}; metrics are {', '.join(METRICS)}")
        stats_ = self.period_stats
        if stats_ is None:
            stats_ = PeriodStats.empty(self.policies, (0, len(METRICS)))
            for df in self.iter_timeseries():
                arr = df[list(METRICS)].to_numpy(dtype=np.float64).reshape(
                    len(self.policies), -1, len(METRICS))
                if stats_.n.shape[1] == 0:
                    stats_ = PeriodStats.empty(self.policies, arr.shape[1:])
                stats_.add(arr)
            self.period_stats = stats_
        return stats_.bands(metric, self.level if level is None else level)

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


def _pool_results(tasks: list[tuple[Scenario, int, int]],
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
             indices: Iterable[int] | None = None) -> Iterator[ReplicationResult]:
    """Compute the given replications (default: all), yielding them as they finish.

    The order is the order of completion; callers that need replication order sort.
    """
    which = range(len(seeds)) if indices is None else indices
    tasks = [(scenario, r, seeds[r]) for r in which]
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


def assemble(scenario: Scenario, seeds: list[int],
             results: Iterable[ReplicationResult]) -> Result:
    """Build an in-memory `Result` from replication results (in any order)."""
    agg = _Aggregate([p.name for p in scenario.policies])
    series = [agg.add(rr) for rr in sorted(results, key=lambda r: r.replication)]
    return Result(scenario=scenario, seeds=seeds, replications=agg.replications(),
                  segments=agg.segments(), period_stats=agg.stats, _series=series)


def load_result(store: Path | str, scenario: Scenario, seeds: list[int]) -> Result:
    """Build a `Result` by streaming over a complete store (one replication in memory at a time).

    Args:
        store: The run's folder (holding `replications/`).
        scenario: The scenario as run.
        seeds: Its replication seeds.

    Returns:
        The result; its `timeseries` is read from the store when asked for.
    """
    st = ReplicationStore(store, scenario, seeds)
    agg = _Aggregate(st.policies)
    for rr in st:
        agg.add(rr)
    return Result(scenario=scenario, seeds=seeds, replications=agg.replications(),
                  segments=agg.segments(), period_stats=agg.stats, store=Path(store))


def resolve(scenario: Scenario | str | Path, replications: int | None = None,
            seed: int | None = None) -> tuple[Scenario, list[int]]:
    """The scenario as it will run (overrides applied) and its replication seeds."""
    sc = load_scenario(scenario)
    updates: dict[str, Any] = {}
    if replications is not None:
        updates["replications"] = replications
    if seed is not None:
        updates["seed"] = seed
    if updates:
        sc = sc.model_copy(update=updates)
    return sc, replication_seeds(sc.seed, sc.replications)


def run(scenario: Scenario | str | Path, replications: int | None = None, workers: int = 1,
        backend: str = "local", seed: int | None = None, progress: Progress | None = None,
        scheduler: str | None = None, store: Path | str | None = None,
        resume: bool = False) -> Result:
    """Run every arm of a scenario over its replications and compare them.

    Args:
        scenario: A `Scenario`, a file path or a built-in name.
        replications: Overrides the scenario's replications.
        workers: Parallel processes (local) or Dask workers of a local cluster.
        backend: "local" (processes) or "dask".
        seed: Overrides the scenario's root seed.
        progress: Called with (done, total) after each replication (and once at the
            start when a resumed run already has some).
        scheduler: Address of a Dask scheduler (backend "dask"); None starts a local cluster.
        store: A folder: each replication is written to `store/replications/` as it
            finishes and the result is built by streaming over those files, so memory
            does not grow with the replications. None keeps everything in memory.
        resume: With `store`: reuse the replications already finished there by this same
            run (same resolved scenario and seeds) and compute only the others.

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
    if store is None:
        done: list[ReplicationResult] = []
        it = _iterate(sc, seeds, workers, backend, scheduler)
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
    count = len(finished)
    if count and progress is not None:
        progress(count, total)
    todo = sorted(set(range(total)) - set(finished))
    it = _iterate(sc, seeds, workers, backend, scheduler, todo)
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
