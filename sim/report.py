"""Plots and the self-contained HTML report of a comparison.

Figures are built with `matplotlib.figure.Figure` directly, never through
`pyplot`: nothing here touches the global figure registry or switches a
notebook's backend, and PNGs are rendered by the Agg canvas. The model code
never imports this module.

The bands drawn around each arm's mean are 95 % t-intervals over replications,
period by period.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.metrics import HEADLINE, METRICS

if TYPE_CHECKING:
    from sim.result import Result

#: File names of the figures written beside the report, in report order.
FIGURES = ("churn_curve.png", "revenue_curve.png", "satisfaction_loyalty.png", "comparison.png")

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


# --------------------------------------------------------------------------- numbers


def fmt_num(x: Any, signed: bool = False) -> str:
    """Format a number for people: thousands separated, about four significant digits.

    Args:
        x: The number (NaN and None give "–").
        signed: Always show the sign (for differences).

    Returns:
        The text.
    """
    if x is None:
        return "–"
    v = float(x)
    if not math.isfinite(v):
        return "–"
    sign = "+" if signed else ""
    a = abs(v)
    if a >= 1e5:
        return f"{v:{sign},.0f}"
    if a >= 100:
        return f"{v:{sign},.1f}"
    if a == 0:
        return "0"
    return f"{v:{sign}.4g}"


def fmt_p(p: Any) -> str:
    """Format a p-value ("<0.001" below one in a thousand)."""
    if p is None or not math.isfinite(float(p)):
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


# --------------------------------------------------------------------------- bands


def bands(result: Result, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Per arm and period: mean of `metric` over replications and its t-interval.

    Computed from running statistics gathered as the replications were read
    (`Result.bands`), not from the full time series.

    Args:
        result: The comparison.
        metric: A metric name (see `sim.METRICS`).
        level: Confidence level of the band.

    Returns:
        Columns `policy, period, mean, low, high, n` (bounds NaN with fewer than
        two replications).
    """
    return result.bands(metric, level)


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def _period_label(result: Result) -> str:
    return f"period ({result.scenario.period}s)"


def _mark_events(ax: Axes, result: Result) -> None:
    for ev in result.scenario.market.events:
        ax.axvline(ev.at, color="0.55", linestyle=":", linewidth=1)
        ax.annotate(ev.kind.replace("_", " "), xy=(ev.at, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -3), textcoords="offset points", fontsize=7, color="0.4",
                    va="top", rotation=90)


def _draw_metric(ax: Axes, result: Result, metric: str) -> None:
    b = bands(result, metric)
    for i, pol in enumerate(result.policies):
        sub = b[b.policy == pol]
        label = f"{pol} (baseline)" if pol == result.baseline else pol
        ax.plot(sub["period"], sub["mean"], color=_colour(i), linewidth=1.6, label=label)
        ax.fill_between(sub["period"], sub["low"], sub["high"], color=_colour(i), alpha=0.2,
                        linewidth=0)
    _mark_events(ax, result)
    unit = METRICS[metric].unit if metric in METRICS else ""
    ax.set_ylabel(metric.replace("_", " ") + (f" ({unit})" if unit else ""))
    ax.set_xlabel(_period_label(result))
    ax.grid(alpha=0.3)


def plot_metric(result: Result, metric: str = "active_customers", ax: Axes | None = None,
                **_: Any) -> Figure:
    """One metric over time per arm, with 95 % bands over replications.

    Args:
        result: The comparison.
        metric: A metric name (see `sim.METRICS`).
        ax: Draw into these axes instead of a new figure.

    Returns:
        The figure drawn on.
    """
    if ax is None:
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    _draw_metric(ax, result, metric)
    desc = METRICS[metric].description if metric in METRICS else metric
    ax.set_title(f"{metric.replace('_', ' ')}: {desc}", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig  # type: ignore[return-value]


def plot_satisfaction(result: Result, **_: Any) -> Figure:
    """Satisfaction and loyalty of active customers over time, with 95 % bands.

    Args:
        result: The comparison.

    Returns:
        A figure with two panels.
    """
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for ax, metric in zip(axes, ("satisfaction", "loyalty"), strict=True):
        _draw_metric(ax, result, metric)
        ax.set_title(metric, fontsize=10)
    axes[0].legend(fontsize=8, loc="best")
    return fig


def plot_comparison(result: Result, metrics: Sequence[str] = HEADLINE, **_: Any) -> Figure:
    """Paired differences of each arm against the baseline, with 95 % intervals.

    One panel per metric (their units differ). A difference whose interval
    excludes zero is drawn in colour, one that does not in grey.

    Args:
        result: The comparison.
        metrics: The metrics shown.

    Returns:
        The figure.
    """
    metrics = list(metrics)
    others = [p for p in result.policies if p != result.baseline]
    cols = min(3, max(len(metrics), 1))
    rows = max(1, math.ceil(len(metrics) / cols))
    height = 0.45 * max(len(others), 1) + 1.3
    fig = Figure(figsize=(3.6 * cols, height * rows + 0.6), layout="constrained")
    fig.suptitle(f"Paired difference against {result.baseline} (mean and 95 % CI)", fontsize=11)
    if not others:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "only one arm: nothing to compare", ha="center", va="center")
        return fig
    comp = result.comparison
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        sub = comp[comp.metric == metric].set_index("policy")
        for i, pol in enumerate(others):
            if pol not in sub.index:
                continue
            m, lo, hi = (float(sub.at[pol, c]) for c in ("diff_mean", "diff_ci_low",
                                                          "diff_ci_high"))
            clear = math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)
            colour = _colour(result.policies.index(pol)) if clear else "0.55"
            err = ([[m - lo], [hi - m]] if math.isfinite(lo) and math.isfinite(hi) else None)
            ax.errorbar([m], [i], xerr=err, fmt="o", color=colour, capsize=3, markersize=5)
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(range(len(others)), others)
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.set_title(metric.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.axis("off")
    return fig


def figures(result: Result) -> dict[str, Figure]:
    """The report's figures, keyed by their file names (see `FIGURES`)."""
    return {
        "churn_curve.png": plot_metric(result, "churn_rate"),
        "revenue_curve.png": plot_metric(result, "revenue"),
        "satisfaction_loyalty.png": plot_satisfaction(result),
        "comparison.png": plot_comparison(result),
    }


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure as PNG (Agg), without a software or date stamp."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML


def comparison_rows(summary: pd.DataFrame, comparison: pd.DataFrame, policies: Sequence[str],
                    baseline: str, metrics: Iterable[str] = HEADLINE) -> list[dict[str, Any]]:
    """The comparison table as rows: per metric, each arm's mean and each difference.

    Args:
        summary: `policy, metric, mean, ci_low, ci_high, n`.
        comparison: `policy, metric, diff_mean, diff_ci_low, diff_ci_high, p_value`.
        policies: Arm names in order.
        baseline: The baseline arm.
        metrics: The metrics (rows).

    Returns:
        One dict per metric: `metric`, `means` (arm → (mean, low, high)) and
        `diffs` (arm → (diff, low, high, p)) for every arm but the baseline.
    """
    s = summary.set_index(["policy", "metric"])
    c = comparison.set_index(["policy", "metric"])
    rows = []
    for metric in metrics:
        means = {p: tuple(float(s.at[(p, metric), k]) for k in ("mean", "ci_low", "ci_high"))
                 for p in policies if (p, metric) in s.index}
        diffs = {p: tuple(float(c.at[(p, metric), k])
                          for k in ("diff_mean", "diff_ci_low", "diff_ci_high", "p_value"))
                 for p in policies if p != baseline and (p, metric) in c.index}
        rows.append({"metric": metric, "means": means, "diffs": diffs})
    return rows


def _ci(lo: float, hi: float, signed: bool = False) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{fmt_num(lo, signed)}, {fmt_num(hi, signed)}]"


def _table_html(result: Result) -> str:
    pols, base = result.policies, result.baseline
    others = [p for p in pols if p != base]
    head = "".join(f"<th>{html.escape(p)}{' (baseline)' if p == base else ''}</th>" for p in pols)
    head += "".join(f"<th>{html.escape(p)} − {html.escape(base)}</th><th>p</th>" for p in others)
    body = []
    for row in comparison_rows(result.summary, result.comparison, pols, base):
        cells = [f'<th class="m" title="{html.escape(METRICS[row["metric"]].description)}">'
                 f'{html.escape(row["metric"])}</th>']
        for p in pols:
            m, lo, hi = row["means"].get(p, (math.nan,) * 3)
            cells.append(f"<td>{fmt_num(m)}<br><small>{_ci(lo, hi)}</small></td>")
        for p in others:
            d, lo, hi, pv = row["diffs"].get(p, (math.nan,) * 4)
            clear = math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)
            cls = ' class="clear"' if clear else ""
            cells.append(f"<td{cls}>{fmt_num(d, True)}<br><small>{_ci(lo, hi, True)}</small></td>"
                         f"<td>{fmt_p(pv)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="cmp"><thead><tr><th>metric</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _frame_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for v in rec:
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                cells.append(f"<td>{fmt_num(v)}</td>")
            else:
                cells.append(f"<th>{html.escape(str(v))}</th>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right;vertical-align:top}
thead th{background:#f3f3f3;text-align:center}th.m,tbody th{text-align:left;font-weight:normal}
td small{color:#666}td.clear{background:#eef6ff;font-weight:600}
img{max-width:100%;height:auto;display:block;margin:.8em 0}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:.85em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
"""


def render_html(result: Result, images: Mapping[str, bytes], scenario_yaml: str,
                version: str) -> str:
    """The self-contained report page: table, plots, segments, scenario, seeds, version.

    Images are embedded as base64 data URIs; the page loads nothing from outside.

    Args:
        result: The comparison.
        images: PNG bytes keyed by file name, shown in this order.
        scenario_yaml: The resolved scenario file's text.
        version: The package version.

    Returns:
        The HTML text.
    """
    sc = result.scenario
    e = html.escape
    imgs = "".join(
        f'<figure><img alt="{e(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode("ascii")}"></figure>'
        for name, data in images.items())
    seeds = "".join(f"<li>replication {i}: <code>{s}</code></li>"
                    for i, s in enumerate(result.seeds))
    meta = {
        "scenario": e(sc.name),
        "arms": ", ".join(e(p) for p in result.policies),
        "baseline": e(result.baseline),
        "replications": str(len(result.seeds)),
        "horizon": f"{sc.horizon} {e(sc.period)}s",
        "customers": f"{sc.population.size:,}",
        "root seed": f"<code>{sc.seed}</code>",
        "retention-lab": e(version),
    }
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta.items())
    summary = result.summary.copy()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retention Lab — {e(sc.name)}</title><style>{_CSS}</style></head>
<body>
<h1>Retention Lab — {e(sc.name)}</h1>
<p>{e(sc.description.strip())}</p>
<dl>{dl}</dl>
<h2>Comparison</h2>
<p>Mean over replications with its 95 % interval; differences are paired against
<b>{e(result.baseline)}</b> replication by replication (same customers, events and random
numbers). Highlighted differences have an interval that excludes zero.</p>
{_table_html(result)}
<h2>Plots</h2>
{imgs}
<h2>Segments</h2>
<p>Per arm and segment, means over replications: customers ever active, churned, churn rate,
revenue and service received.</p>
{_frame_html(result.segments)}
<details><summary>Every metric</summary>{_frame_html(summary)}</details>
<h2>Scenario</h2>
<p>The scenario with every default filled in (<code>scenario.resolved.yaml</code>); running it
again reproduces these numbers.</p>
<pre>{e(scenario_yaml)}</pre>
<h2>Seeds</h2>
<p>Root seed <code>{sc.seed}</code>; replication seeds from
<code>numpy.random.SeedSequence(root).spawn({len(result.seeds)})</code>:</p>
<details><summary>{len(result.seeds)} replication seeds</summary><ul>{seeds}</ul></details>
<p><small>Made by retention-lab {e(version)}.</small></p>
</body></html>
"""
