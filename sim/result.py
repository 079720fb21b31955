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

from sim.metrics import HEADLINE, METRICS, RETENTION_SPEND
from sim.scenario import PERIODS_PER_YEAR, Scenario
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



def summarise(reps: pd.DataFrame, policies: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """`policy, metric, mean, ci_low, ci_high, n` from one row per replication × arm."""
    rows = []
    for pol in policies:
        sub = reps[reps.policy == pol]
        for metric in METRICS:
            m, lo, hi = mean_ci(sub[metric].to_numpy(dtype=float), level)
            rows.append({"policy": pol, "metric": metric, "mean": m, "ci_low": lo,
                         "ci_high": hi, "n": int(sub[metric].notna().sum())})
    return pd.DataFrame(rows, columns=["policy", "metric", "mean", "ci_low", "ci_high", "n"])


def compare_arms(reps: pd.DataFrame, policies: Sequence[str], baseline: str,
                 level: float = 0.95, metrics: Sequence[str] | None = None,
                 arms: Sequence[str] | None = None) -> pd.DataFrame:
    """Paired differences of arms against `baseline`, replication by replication.

    Args:
        reps: One row per replication × arm with every metric.
        policies: Arm names in order.
        baseline: The arm compared with (any arm).
        level: Confidence level.
        metrics: The metrics (default: all).
        arms: The arms compared (default: every arm but `baseline`).

    Returns:
        `policy, metric, diff_mean, diff_ci_low, diff_ci_high, p_value` (the
        comparison.csv columns), then `against` and the difference as a share of the
        baseline's mean: `pct_mean, pct_ci_low, pct_ci_high` (NaN when that mean is 0).
    """
    cols = ["policy", "metric", "diff_mean", "diff_ci_low", "diff_ci_high", "p_value", "against",
            "pct_mean", "pct_ci_low", "pct_ci_high"]
    base = reps[reps.policy == baseline].set_index("replication").sort_index()
    rows = []
    for pol in arms if arms is not None else [p for p in policies if p != baseline]:
        arm = reps[reps.policy == pol].set_index("replication").sort_index()
        for metric in metrics or list(METRICS):
            d = (arm[metric] - base[metric]).to_numpy(dtype=float)
            m, lo, hi, p = paired(d, level)
            ref = float(base[metric].mean()) if len(base) else math.nan
            scale = abs(ref) if math.isfinite(ref) and ref != 0 else math.nan
            rows.append({"policy": pol, "metric": metric, "diff_mean": m, "diff_ci_low": lo,
                         "diff_ci_high": hi, "p_value": p, "against": baseline,
                         "pct_mean": m / scale, "pct_ci_low": lo / scale,
                         "pct_ci_high": hi / scale})
    return pd.DataFrame(rows, columns=cols)


def window_values(frame: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """Each arm's metrics over periods `start`..`stop − 1` of one replication's time series.

    See `Result.window` for what each metric becomes over a window.
    """
    out = []
    for (rep, pol), sub in frame.groupby(["replication", "policy"], sort=False):
        s = sub.sort_values("period")
        w = s[(s.period >= start) & (s.period < stop)]
        row: dict[str, Any] = {"replication": rep, "policy": pol}
        for metric, meta in METRICS.items():
            vals = w[metric].to_numpy(dtype=float)
            finite = vals[np.isfinite(vals)]
            row[metric] = (float(vals.sum()) if meta.summary == "sum"
                           else float(finite.mean()) if finite.size else math.nan)
        first = s[s.period == start].iloc[0]
        at_start = float(first.active_customers - first.acquired + first.churned)
        row["churn_rate"] = row["churned"] / max(at_start + row["acquired"], 1.0)
        row["hazard"] = row["churned"] / max(at_start, 1.0)
        out.append(row)
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Window:
    """The metrics over a window of periods (`Result.window`).

    Attributes:
        start: First period.
        stop: The period after the last.
        replications: One row per replication × arm with every metric over the window.
        summary: Mean and interval per arm and metric (as `Result.summary`).
        comparison: Paired differences against the baseline (as `Result.comparison`).
    """

    start: int
    stop: int
    replications: pd.DataFrame
    summary: pd.DataFrame
    comparison: pd.DataFrame


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

    def __init__(self, policies: Sequence[str], baseline: str | None = None) -> None:
        self.policies = list(policies)
        self.base = self.policies.index(baseline) if baseline in self.policies else 0
        self.rows: list[tuple[int, int, np.ndarray]] = []
        self.stats: PeriodStats | None = None
        self.diff_stats: PeriodStats | None = None
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
            self.diff_stats = PeriodStats.empty(pols, arr.shape[1:])
        self.stats.add(arr)
        assert self.diff_stats is not None
        self.diff_stats.add(arr - arr[self.base])  # paired: the same replication's baseline
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
        diff_stats: The same of each arm's paired difference from the baseline (the
            difference bands).
        store: The folder whose `replications/` holds the time series (None: in memory).
    """

    scenario: Scenario
    seeds: list[int]
    replications: pd.DataFrame
    segments: pd.DataFrame
    period_stats: PeriodStats | None = None
    diff_stats: PeriodStats | None = None
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
        return self._stats(metric, paired=False).bands(metric, self.level if level is None else level)

    def diff_bands(self, metric: str, level: float | None = None) -> pd.DataFrame:
        """Per arm and period: the paired difference of `metric` from the baseline and its t-interval.

        The difference is taken replication by replication (the arms met the same
        customers and random numbers), then averaged; the band is the t-interval
        of those differences, much narrower than the arms' own bands overlapping.

        Args:
            metric: A metric name (see `sim.METRICS`).
            level: Confidence level (default: the result's).

        Returns:
            Columns `policy, period, mean, low, high, n` (the baseline's rows are 0).

        Raises:
            KeyError: If there is no such metric.
        """
        return self._stats(metric, paired=True).bands(metric, self.level if level is None else level)

    def _stats(self, metric: str, paired: bool) -> PeriodStats:
        """The level (or paired difference) statistics, gathered on first use."""
        if metric not in METRICS:
            raise KeyError(f"no metric {metric!r}; metrics are {', '.join(METRICS)}")
        if self.period_stats is None or self.diff_stats is None:
            self._gather_period_stats()
        found = self.diff_stats if paired else self.period_stats
        assert found is not None
        return found

    def _gather_period_stats(self) -> None:
        """Build the level and difference statistics from the time series (one pass)."""
        agg = _Aggregate(self.policies, self.baseline)
        base = agg.base
        for df in self.iter_timeseries():
            arr = df[list(METRICS)].to_numpy(dtype=np.float64).reshape(
                len(self.policies), -1, len(METRICS))
            if agg.stats is None:
                agg.stats = PeriodStats.empty(self.policies, arr.shape[1:])
                agg.diff_stats = PeriodStats.empty(self.policies, arr.shape[1:])
            agg.stats.add(arr)
            assert agg.diff_stats is not None
            agg.diff_stats.add(arr - arr[base])
        empty = PeriodStats.empty(self.policies, (0, len(METRICS)))
        self.period_stats = agg.stats or empty
        self.diff_stats = agg.diff_stats or empty

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
            self._cache["summary"] = summarise(self.replications, self.policies, self.level)
        return self._cache["summary"]

    @property
    def comparison(self) -> pd.DataFrame:
        """Paired differences against the baseline, replication by replication."""
        if "comparison" not in self._cache:
            self._cache["comparison"] = compare_arms(self.replications, self.policies,
                                                     self.baseline, self.level)
        return self._cache["comparison"]

    def compare(self, policy: str, against: str, metric: str) -> dict[str, float]:
        """Paired difference of any arm against any other arm for one metric.

        Args:
            policy: The arm.
            against: The arm it is compared with (not necessarily the baseline).
            metric: A metric name.

        Returns:
            `diff_mean, diff_ci_low, diff_ci_high, p_value`, and `pct_mean,
            pct_ci_low, pct_ci_high` (the difference as a share of `against`'s mean).

        Raises:
            KeyError: If an arm or the metric does not exist.
        """
        for name in (policy, against):
            if name not in self.policies:
                raise KeyError(f"no arm {name!r}; arms are {', '.join(self.policies)}")
        if metric not in METRICS:
            raise KeyError(f"no metric {metric!r}")
        frame = compare_arms(self.replications, self.policies, against, self.level, [metric],
                             arms=[policy])
        return frame.iloc[0].drop(["policy", "against", "metric"]).to_dict()

    def pairwise(self, metrics: Iterable[str] = HEADLINE) -> pd.DataFrame:
        """Every arm against every other arm (paired): `policy, against, metric, diff_...`."""
        frames = [compare_arms(self.replications, self.policies, b, self.level, list(metrics))
                  for b in self.policies]
        return pd.concat(frames, ignore_index=True)

    @property
    def years(self) -> float:
        """The horizon in years (`horizon / PERIODS_PER_YEAR[period]`): totals' time basis."""
        return self.scenario.horizon / PERIODS_PER_YEAR[self.scenario.period]

    @property
    def customers(self) -> int:
        """Customers at period 0 (`population.size`): the per-customer figures' divisor."""
        return self.scenario.population.size

    def per_customer_year(self, value: float, metric: str) -> float:
        """A run total of a money or count metric per customer (at period 0) per year; NaN for others."""
        if metric not in METRICS or METRICS[metric].summary != "sum":
            return math.nan
        return float(value) / self.customers / self.years

    def roi(self, policy: str, against: str | None = None) -> dict[str, float]:
        """Return on the extra spending of an arm: extra profit per extra unit of money spent.

        Spending is what the manager puts into customers (`RETENTION_SPEND`: service,
        points and complaint handling); both differences are paired means over the
        replications.

        Returns:
            `extra_profit`, `extra_spend` and `roi` (NaN when the spending does not
            change: less than a millionth of the baseline's).
        """
        against = against or self.baseline
        reps = self.replications
        a = reps[reps.policy == policy].set_index("replication").sort_index()
        b = reps[reps.policy == against].set_index("replication").sort_index()
        dspend = float(sum((a[c] - b[c]).mean() for c in RETENTION_SPEND))
        dprofit = float((a["profit"] - b["profit"]).mean())
        scale = float(sum(b[c].mean() for c in RETENTION_SPEND))
        roi = dprofit / dspend if abs(dspend) > 1e-6 * max(abs(scale), 1e-12) else math.nan
        return {"extra_profit": dprofit, "extra_spend": dspend, "roi": roi}

    def window(self, start: int, stop: int) -> Window:
        """The metrics over periods `start` to `stop − 1`, per replication, and their comparison.

        Flows (revenue, profit, complaints ...) are summed over the window; stocks
        (satisfaction, loyalty, NPS, active customers ...) are averaged over it;
        `churn_rate` is the customers lost in the window ÷ those active at its start
        plus those won in it, and `hazard` those lost ÷ those active at its start.

        Raises:
            ValueError: If the window is empty or outside the horizon.
        """
        horizon = self.scenario.horizon
        if not 0 <= start < stop <= horizon:
            raise ValueError(f"expected a window START:STOP with 0 ≤ START < STOP ≤ {horizon} "
                             f"(the horizon), found {start}:{stop}")
        rows = [window_values(df, start, stop) for df in self.iter_timeseries()]
        reps = (pd.concat(rows, ignore_index=True) if rows
                else pd.DataFrame(columns=["replication", "policy", *METRICS]))
        return Window(start, stop, reps, summarise(reps, self.policies, self.level),
                      compare_arms(reps, self.policies, self.baseline, self.level))

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
    agg = _Aggregate([p.name for p in scenario.policies], scenario.baseline_policy)
    series = [agg.add(rr) for rr in sorted(results, key=lambda r: r.replication)]
    return Result(scenario=scenario, seeds=seeds, replications=agg.replications(),
                  segments=agg.segments(), period_stats=agg.stats, diff_stats=agg.diff_stats,
                  _series=series)


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
    agg = _Aggregate(st.policies, scenario.baseline_policy)
    for rr in st:
        agg.add(rr)
    return Result(scenario=scenario, seeds=seeds, replications=agg.replications(),
                  segments=agg.segments(), period_stats=agg.stats, diff_stats=agg.diff_stats,
                  store=Path(store))
