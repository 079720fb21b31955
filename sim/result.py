"""The result of a comparison, and the statistics it is built from.

A `Result` is built one replication at a time, in replication order, from
replications held in memory (`assemble`) or by streaming over a store's files
(`load_result`): summaries and comparisons from the small per-replication
summaries, the segment means and the per-period 95 % bands from running sums.
No step holds every time series in memory; `Result.timeseries` loads them only
when asked. Comparisons are paired: differences are computed replication by
replication, as every arm of a replication met the same random numbers.

The plots are drawn by `sim.report`, imported only when a `plot_*` method is
called (`sim.report` itself imports `Result` for type checking only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.metrics import HEADLINE, METRICS
from sim.scenario import Scenario
from sim.store import ReplicationResult, ReplicationStore


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


def _series_frame(replication: int, policies: Sequence[str], arr: np.ndarray) -> pd.DataFrame:
    """One replication's time series (arms × periods × metrics) as `timeseries.csv` rows."""
    arms, periods, _ = arr.shape
    df = pd.DataFrame(arr.reshape(arms * periods, -1), columns=list(METRICS))
    df.insert(0, "period", np.tile(np.arange(periods, dtype=np.int64), arms))
    df.insert(0, "policy", np.repeat(np.array(policies, dtype=object), periods))
    df.insert(0, "replication", np.full(arms * periods, replication, dtype=np.int64))
    return df


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
