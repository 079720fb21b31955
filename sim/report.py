"""Plots, the printed table and the self-contained HTML report of a comparison.

Figures are built with `matplotlib.figure.Figure` directly, never through
`pyplot`: nothing here touches the global figure registry or switches a
notebook's backend, and PNGs are rendered by the Agg canvas. The model code
never imports this module.

What a board reads first: a headline per arm (its paired profit difference
against the baseline, in % with its 95 % interval), which arm wins, then
differences in money, in % and per customer per year, the return on extra
spending, every total with its time basis and money in the scenario's currency
(`market.currency`). Level plots show each arm's mean and, below, its paired
difference from the baseline with the 95 % band of that difference (the arms'
own bands overlap where the paired difference is clear). Events are drawn as
the span they act in. Metrics over a window of periods (`--window`, and each
event's own window) are compared the same way.

Every text is marked for the gettext catalogues (`sim.i18n`), so the report,
the plots and the printed table speak English or Simplified Chinese; numbers
follow the language through Babel. Chinese glyphs in the PNGs need a CJK font
(`cjk_font`): a system one (Debian's fonts-noto-cjk) or the Noto Sans SC of the
`pylopdf-fonts-zh-cn` package.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from sim.i18n import N_, Message, localize, msg, nmsg
from sim.metrics import HEADLINE, METRICS, RETENTION_SPEND

if TYPE_CHECKING:
    from sim.result import Result, Window
    from sim.scenario import Currency, Scenario
    from sim.sweep import SweepPoint

#: File names of the figures written beside the report, in report order.
FIGURES = ("churn_curve.png", "revenue_curve.png", "satisfaction_loyalty.png", "comparison.png")

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")

#: Most arms side by side in one HTML table; more are wrapped into further tables.
ARMS_PER_TABLE = 4

#: Metrics in plain words (the code names stay in the CSV files).
METRIC_LABELS: dict[str, str] = {
    "churn_rate": N_("churn rate"), "revenue": N_("revenue"), "profit": N_("profit"),
    "satisfaction": N_("satisfaction"), "loyalty": N_("loyalty"), "nps": N_("NPS"),
    "complaints": N_("complaints"), "active_customers": N_("active customers"),
    "retained_not_loyal": N_("retained, not loyal"), "churned": N_("customers lost"),
    "acquired": N_("customers won"), "hazard": N_("share lost per period"),
    "spend_service": N_("spent on service"), "spend_complaints": N_("spent on complaints"),
    "spend_points": N_("spent on points"),
}
#: Metrics shown for a window of periods.
WINDOW_METRICS = ("churn_rate", "revenue", "profit", "satisfaction", "loyalty", "nps", "complaints")

_EVENT_WORDS: dict[str, str] = {
    "needs_shift": N_("needs shift"), "competitor_promotion": N_("competitor promotion"),
    "recession": N_("recession"), "regulation": N_("regulation"),
    "quality_change": N_("quality change"),
}
_PERIOD_WORDS: dict[str, str] = {"week": N_("week"), "month": N_("month"),
                                 "quarter": N_("quarter"), "year": N_("year")}


# --------------------------------------------------------------------------- words and numbers


def metric_label(metric: str, lang: str = "en") -> str:
    """A metric in plain words in language `lang` (its code name when it has none)."""
    text = METRIC_LABELS.get(metric)
    return localize(text, lang) if text else metric.replace("_", " ")


def event_label(kind: str, lang: str = "en") -> str:
    """An event kind in plain words."""
    text = _EVENT_WORDS.get(kind)
    return localize(text, lang) if text else kind.replace("_", " ")


def periods_text(n: int, period: str) -> Message:
    """`n` periods in words ("104 weeks")."""
    if period == "month":
        return nmsg("{n} month", "{n} months", n)
    if period == "quarter":
        return nmsg("{n} quarter", "{n} quarters", n)
    if period == "year":
        return nmsg("{n} year", "{n} years", n)
    return nmsg("{n} week", "{n} weeks", n)


def time_basis(scenario: Scenario) -> Message:
    """What a run total is summed over: "over 104 weeks"."""
    return msg("over {periods}", periods=periods_text(scenario.horizon, scenario.period))


def at_end(scenario: Scenario) -> Message:
    """When a stock is read: "at the end (week 104)"."""
    return msg("at the end ({period} {n})", period=msg(_PERIOD_WORDS[scenario.period]), n=scenario.horizon)


def _finite(x: Any) -> float | None:
    """`x` as a float if it is a finite number (not a bool), else None."""
    number = isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
    return float(x) if number and math.isfinite(x) else None


def _pattern(a: float) -> str:
    """About four significant digits, thousands grouped."""
    if a >= 1e5:
        return "#,##0"
    if a >= 100:
        return "#,##0.0"
    digits = max(0, 3 - math.floor(math.log10(a)))
    return "#,##0." + "#" * digits if digits else "#,##0"


def fmt_num(x: Any, signed: bool = False, lang: str = "en") -> str:
    """Format a number for people: thousands grouped, about four significant digits (Babel).

    Args:
        x: The number (NaN and None give "–").
        signed: Always show the sign (for differences).
        lang: The language whose conventions are followed.

    Returns:
        The text.
    """
    from babel.numbers import format_decimal

    v = _finite(x)
    if v is None:
        return "–"
    if v == 0:
        return "0"
    p = "#,##0" if v.is_integer() else _pattern(abs(v))
    # The float's exact value, not its shortest repr: 0.012345 is a hair above …45 and rounds up.
    return format_decimal(Decimal(v), format=f"+{p};-{p}" if signed else p, locale=lang)


def fmt_p(p: Any) -> str:
    """Format a p-value ("<0.001" below one in a thousand)."""
    v = _finite(p)
    if v is None:
        return "–"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


@dataclass(frozen=True)
class Style:
    """How figures are written: the language and the scenario's currency.

    Attributes:
        lang: `en` or `zh_CN`.
        currency: `market.currency` (None: money as plain numbers).
    """

    lang: str = "en"
    currency: Currency | None = None

    def t(self, text: Any) -> str:
        """Text in the style's language."""
        return str(localize(text, self.lang))

    def num(self, x: Any, signed: bool = False) -> str:
        """A number."""
        return fmt_num(x, signed, self.lang)

    def pct(self, share: Any, signed: bool = False) -> str:
        """A share as a percentage with one decimal ("+4.1%")."""
        from babel.numbers import format_percent

        v = _finite(share)
        if v is None:
            return "–"
        p = "#,##0.0%"
        return format_percent(v, format=f"+{p};-{p}" if signed else p, locale=self.lang)

    def pp(self, share: Any) -> str:
        """A difference of shares in percentage points ("+5.5 pp")."""
        v = _finite(share)
        return "–" if v is None else self.t(msg("{value} pp", value=self.num(100 * v, True)))

    def money(self, x: Any, signed: bool = False) -> str:
        """An amount in the scenario's currency ("¥1,234", "+¥12.5"); a plain number without one."""
        v = _finite(x)
        if v is None:
            return "–"
        if self.currency is None:
            return self.num(v, signed)
        body = fmt_num(abs(v), False, self.lang)
        sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
        return f"{sign}{self.unit()}{body}"

    def unit(self) -> str:
        """The money unit for labels ("¥", "CNY"; empty without a currency)."""
        if self.currency is None:
            return ""
        if self.currency.symbol is not None:
            return self.currency.symbol
        from babel.numbers import get_currency_symbol

        return get_currency_symbol(self.currency.code, locale=self.lang)

    def value(self, x: Any, metric: str, diff: bool = False) -> str:
        """A metric's value (`diff`: a difference) in its unit: money, % or pp, count."""
        unit = METRICS[metric].unit if metric in METRICS else ""
        if unit == "money":
            return self.money(x, diff)
        if unit == "share":
            return self.pp(x) if diff else self.pct(x)
        return self.num(x, diff)

    def ci(self, lo: Any, hi: Any, metric: str | None = None, diff: bool = False,
           pct: bool = False) -> str:
        """An interval "[lo, hi]" in the metric's unit (`pct`: as percentages)."""
        if _finite(lo) is None or _finite(hi) is None:
            return ""
        if pct:
            return f"[{self.pct(lo, True)}, {self.pct(hi, True)}]"
        if metric is None:
            return f"[{self.num(lo, diff)}, {self.num(hi, diff)}]"
        return f"[{self.value(lo, metric, diff)}, {self.value(hi, metric, diff)}]"


def style_of(result: Result, lang: str | None = None) -> Style:
    """The report's style: `lang` (default: the scenario's `language`) and its currency."""
    sc = result.scenario
    return Style(lang or getattr(sc, "language", "en"), sc.market.currency)


# --------------------------------------------------------------------------- fonts

#: Font families that cover Simplified Chinese, in order of preference.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Noto Sans CJK JP", "Noto Serif CJK SC")
#: What to do when no font with Chinese characters is found.
NO_CJK_FONT = ("no font with Chinese characters found: the plots are labelled in English and any "
               "Chinese in them (names of arms, scenarios, parameters) shows as boxes; install one "
               "(Debian: `apt-get install fonts-noto-cjk`) or the Python package `pylopdf-fonts-zh-cn`.")
#: Matplotlib's warning for each character its font cannot draw.
_MISSING_GLYPH = r"Glyph \d+ .* missing from font"


class FontWarning(UserWarning):
    """Chinese characters cannot be drawn in the PNGs: no font with them was found (`NO_CJK_FONT`)."""


_font_notice = {"given": False}


def _no_cjk_font() -> None:
    """Say `NO_CJK_FONT` once per process, whichever plot or character meets the gap first."""
    if not _font_notice["given"]:
        _font_notice["given"] = True
        warnings.warn(NO_CJK_FONT, FontWarning, stacklevel=3)


def _font_rank(path: str) -> tuple[bool, bool, bool, str]:
    """Regular sans-serif faces first: a bold or serif face would be used for every weight."""
    name = path.rsplit("/", 1)[-1].lower()
    return ("bold" in name or "black" in name or "light" in name or "thin" in name
            or "medium" in name, "serif" in name or "mono" in name, "regular" not in name, name)


@cache
def cjk_font() -> str | None:
    """The family name of a font with Chinese characters that matplotlib can use, or None.

    Looked for in this order: a family matplotlib's font manager already knows
    (`CJK_FAMILIES`), a font fontconfig lists for Chinese (`fc-list :lang=zh`;
    Debian's fonts-noto-cjk), and Noto Sans SC shipped by the `pylopdf-fonts-zh-cn`
    package. The font found is added to the font manager.
    """
    from matplotlib import font_manager as fm

    known = {f.name for f in fm.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    files: list[str] = []
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
            files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()},
                           key=_font_rank)
        except (OSError, subprocess.SubprocessError):
            files = []
    try:
        import pylopdf_fonts_zh_cn

        files.append(str(pylopdf_fonts_zh_cn.sans_path()))
    except ImportError:
        pass
    for path in files:
        try:
            fm.fontManager.addfont(path)
            return fm.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
    return None


def plot_language(lang: str) -> str:
    """The language the plots can be labelled in: `lang`, or English when no CJK font is found."""
    if lang == "en" or cjk_font() is not None:
        return lang
    _no_cjk_font()
    return "en"


def with_fonts(fig: Figure, lang: str) -> Figure:
    """Give every text of `fig` a family list that falls back to the CJK font (names in any script)."""
    cjk = cjk_font()
    if cjk is None:
        return fig
    families = [cjk, "DejaVu Sans"] if lang != "en" else ["DejaVu Sans", cjk]
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
    for ax in fig.axes:
        ax.tick_params(labelfontfamily=families)
    return fig


# --------------------------------------------------------------------------- plots


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


def event_spans(scenario: Scenario) -> list[tuple[Any, int, int]]:
    """Each event with the periods it acts in: `(event, first, stop)` (to the horizon when it lasts)."""
    out = []
    for ev in scenario.market.events:
        duration = getattr(ev, "duration", None)
        stop = scenario.horizon if duration is None else min(ev.at + duration, scenario.horizon)
        out.append((ev, ev.at, max(stop, ev.at + 1)))
    return out


def _mark_events(ax: Axes, result: Result, st: Style, labels: bool = True) -> None:
    for ev, first, stop in event_spans(result.scenario):
        lasting = getattr(ev, "duration", None) is not None
        ax.axvspan(first - 0.5, stop - 0.5, color="0.5", alpha=0.14 if lasting else 0.06, linewidth=0)
        ax.axvline(first - 0.5, color="0.55", linestyle=":", linewidth=0.8)
        if labels:
            ax.annotate(event_label(ev.kind, st.lang), xy=(first - 0.5, 1), xycoords=("data", "axes fraction"),
                        xytext=(3, -3), textcoords="offset points", fontsize=7, color="0.35", va="top")


def _ylabel(result: Result, metric: str, st: Style, per_period: bool = True) -> str:
    label = metric_label(metric, st.lang)
    unit = METRICS[metric].unit if metric in METRICS else ""
    if METRICS.get(metric) is not None and METRICS[metric].summary == "sum" and per_period:
        label = st.t(msg("{metric} per {period}", metric=label,
                         period=msg(_PERIOD_WORDS[result.scenario.period])))
    if unit == "money" and st.unit():
        label += f" ({st.unit()})"
    return label


def _percent_axis(ax: Axes, metric: str) -> None:
    if METRICS.get(metric) is not None and METRICS[metric].unit == "share":
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def _draw_levels(ax: Axes, result: Result, metric: str, st: Style) -> None:
    b = bands(result, metric)
    for i, pol in enumerate(result.policies):
        sub = b[b.policy == pol]
        label = st.t(msg("{arm} (baseline)", arm=pol)) if pol == result.baseline else pol
        ax.plot(sub["period"], sub["mean"], color=_colour(i), linewidth=1.6, label=label)
    _mark_events(ax, result, st)
    _percent_axis(ax, metric)
    ax.set_ylabel(_ylabel(result, metric, st))
    ax.grid(alpha=0.3)


def _draw_diffs(ax: Axes, result: Result, metric: str, st: Style) -> None:
    d = result.diff_bands(metric)
    for i, pol in enumerate(result.policies):
        if pol == result.baseline:
            continue
        sub = d[d.policy == pol]
        ax.plot(sub["period"], sub["mean"], color=_colour(i), linewidth=1.4, label=pol)
        ax.fill_between(sub["period"], sub["low"], sub["high"], color=_colour(i), alpha=0.22, linewidth=0)
    ax.axhline(0, color="0.3", linewidth=0.8)
    _mark_events(ax, result, st, labels=False)
    _percent_axis(ax, metric)
    ax.set_ylabel(st.t(msg("difference from {arm}", arm=result.baseline)), fontsize=8)
    ax.set_xlabel(st.t(_PERIOD_WORDS[result.scenario.period]))
    ax.grid(alpha=0.3)


def _metric_panels(fig: Figure, result: Result, metric: str, st: Style,
                   spec: Any = None) -> tuple[Axes, Axes | None]:
    others = [p for p in result.policies if p != result.baseline]
    if not others:
        ax = fig.add_subplot(spec) if spec is not None else fig.add_subplot()
        _draw_levels(ax, result, metric, st)
        ax.set_xlabel(st.t(_PERIOD_WORDS[result.scenario.period]))
        return ax, None
    grid = (spec.subgridspec(2, 1, height_ratios=(3, 2), hspace=0.05) if spec is not None
            else fig.add_gridspec(2, 1, height_ratios=(3, 2)))
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    _draw_levels(top, result, metric, st)
    top.tick_params(labelbottom=False)
    _draw_diffs(bottom, result, metric, st)
    return top, bottom


def plot_metric(result: Result, metric: str = "active_customers", ax: Axes | None = None,
                lang: str | None = None, **_: Any) -> Figure:
    """One metric over time per arm and, below, each arm's paired difference from the baseline.

    The lower panel's band is the 95 % t-interval of the replication-by-replication
    difference; events are shaded over the periods they act in.

    Args:
        result: The comparison.
        metric: A metric name (see `sim.METRICS`).
        ax: Draw only the levels into these axes instead of a new figure.
        lang: Language of the labels (default: the scenario's).

    Returns:
        The figure drawn on.
    """
    st = style_of(result, plot_language(lang or style_of(result).lang))
    if ax is not None:
        _draw_levels(ax, result, metric, st)
        ax.set_xlabel(st.t(_PERIOD_WORDS[result.scenario.period]))
        ax.legend(fontsize=8, loc="best")
        return with_fonts(ax.figure, st.lang)  # type: ignore[arg-type]
    fig = Figure(figsize=(8, 5.6), layout="constrained")
    top, bottom = _metric_panels(fig, result, metric, st)
    top.set_title(st.t(msg("{metric}: each arm, and its paired difference from {arm} (95 % band)",
                           metric=metric_label(metric, st.lang), arm=result.baseline))
                  if bottom is not None else metric_label(metric, st.lang), fontsize=10)
    top.legend(fontsize=8, loc="best")
    return with_fonts(fig, st.lang)


def plot_satisfaction(result: Result, lang: str | None = None, **_: Any) -> Figure:
    """Satisfaction and loyalty of active customers over time, with paired-difference bands.

    Args:
        result: The comparison.
        lang: Language of the labels (default: the scenario's).

    Returns:
        A figure with two columns (levels above, differences below).
    """
    st = style_of(result, plot_language(lang or style_of(result).lang))
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    outer = fig.add_gridspec(1, 2)
    tops = []
    for k, metric in enumerate(("satisfaction", "loyalty")):
        top, _bottom = _metric_panels(fig, result, metric, st, outer[k])
        top.set_title(metric_label(metric, st.lang), fontsize=10)
        tops.append(top)
    tops[0].legend(fontsize=8, loc="best")
    return with_fonts(fig, st.lang)


def plot_comparison(result: Result, metrics: Sequence[str] = HEADLINE, lang: str | None = None,
                    **_: Any) -> Figure:
    """Paired differences of each arm against the baseline, with 95 % intervals.

    One panel per metric (their units differ). A difference whose interval
    excludes zero is drawn in colour, one that does not in grey.

    Args:
        result: The comparison.
        metrics: The metrics shown.
        lang: Language of the labels (default: the scenario's).

    Returns:
        The figure.
    """
    st = style_of(result, plot_language(lang or style_of(result).lang))
    metrics = list(metrics)
    others = [p for p in result.policies if p != result.baseline]
    cols = min(3, max(len(metrics), 1))
    rows = max(1, math.ceil(len(metrics) / cols))
    height = 0.45 * max(len(others), 1) + 1.3
    fig = Figure(figsize=(3.8 * cols, height * rows + 0.6), layout="constrained")
    fig.suptitle(st.t(msg("Paired difference against {arm} (mean and 95 % CI), {basis}",
                          arm=result.baseline, basis=time_basis(result.scenario))), fontsize=11)
    if not others:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, st.t(N_("Only one arm: nothing to compare.")), ha="center", va="center")
        return with_fonts(fig, st.lang)
    comp = result.comparison
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        sub = comp[comp.metric == metric].set_index("policy")
        for i, pol in enumerate(others):
            if pol not in sub.index:
                continue
            m, lo, hi = (float(sub.at[pol, c]) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
            clear = math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)
            colour = _colour(result.policies.index(pol)) if clear else "0.55"
            err = ([[m - lo], [hi - m]] if math.isfinite(lo) and math.isfinite(hi) else None)
            ax.errorbar([m], [i], xerr=err, fmt="o", color=colour, capsize=3, markersize=5)
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(range(len(others)), others)
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.set_title(_ylabel(result, metric, st, per_period=False), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        _percent_x(ax, metric)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.axis("off")
    return with_fonts(fig, st.lang)


def _percent_x(ax: Axes, metric: str) -> None:
    if METRICS.get(metric) is not None and METRICS[metric].unit == "share":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def figures(result: Result, lang: str | None = None) -> dict[str, Figure]:
    """The report's figures, keyed by their file names (see `FIGURES`)."""
    lang = plot_language(lang or style_of(result).lang)
    return {
        "churn_curve.png": plot_metric(result, "churn_rate", lang=lang),
        "revenue_curve.png": plot_metric(result, "revenue", lang=lang),
        "satisfaction_loyalty.png": plot_satisfaction(result, lang=lang),
        "comparison.png": plot_comparison(result, lang=lang),
    }


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure as PNG (Agg), without a software or date stamp.

    Without a CJK font, matplotlib's warning for every Chinese character it cannot
    draw (a name in a label) gives way to one `FontWarning` that says what to install.
    """
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    no_font = cjk_font() is None
    for w in caught:
        if no_font and re.search(_MISSING_GLYPH, str(w.message)):
            _no_cjk_font()
        else:  # anything else, as it came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return buf.getvalue()


# --------------------------------------------------------------------------- the numbers a board reads


def _clear(lo: float, hi: float) -> bool:
    return math.isfinite(lo) and math.isfinite(hi) and (lo > 0 or hi < 0)


@dataclass(frozen=True)
class Headline:
    """One arm against the baseline on one money metric (paired, replication by replication).

    Attributes:
        policy: The arm.
        against: The baseline arm.
        metric: The metric (profit by default).
        diff: Mean paired difference over the run; `low`, `high` its 95 % interval.
        pct: The difference as a share of the baseline's mean; `pct_low`, `pct_high`
            its interval (NaN when the baseline's mean is 0).
        p: Two-sided p-value.
        per_customer_year: `diff` ÷ customers at period 0 ÷ years of the horizon.
        roi: Extra profit per extra unit of money spent on service, points and
            complaints (NaN when the spending does not change).
        extra_spend: The paired difference of that spending over the run.
        roi_low: Lower bound of the 95 % interval of `roi` (`roi_interval`; NaN when
            not known or unbounded); `roi_high` the upper bound.
    """

    policy: str
    against: str
    metric: str
    diff: float
    low: float
    high: float
    pct: float
    pct_low: float
    pct_high: float
    p: float
    per_customer_year: float
    roi: float
    extra_spend: float = math.nan
    roi_low: float = math.nan
    roi_high: float = math.nan

    @property
    def clear(self) -> bool:
        """Whether the 95 % interval excludes zero."""
        return _clear(self.low, self.high)


def _years(scenario: Scenario) -> float:
    from sim.scenario import PERIODS_PER_YEAR

    return scenario.horizon / PERIODS_PER_YEAR[scenario.period]


def extra_spend(comparison: pd.DataFrame, policy: str) -> float:
    """The arm's paired difference in spending on customers (`sim.metrics.RETENTION_SPEND`)."""
    c = comparison.set_index(["policy", "metric"])
    try:
        return sum(float(c.at[(policy, m), "diff_mean"]) for m in RETENTION_SPEND)
    except KeyError:
        return math.nan


def roi_of(summary: pd.DataFrame, comparison: pd.DataFrame, policy: str, baseline: str) -> float:
    """Extra profit per extra unit of spending (`sim.metrics.RETENTION_SPEND`), from the paired means."""
    c = comparison.set_index(["policy", "metric"])
    s = summary.set_index(["policy", "metric"])
    dspend = extra_spend(comparison, policy)
    try:
        dprofit = float(c.at[(policy, "profit"), "diff_mean"])
        scale = sum(float(s.at[(baseline, m), "mean"]) for m in RETENTION_SPEND)
    except KeyError:
        return math.nan
    if not math.isfinite(dspend) or abs(dspend) <= 1e-6 * max(abs(scale), 1e-12):
        return math.nan
    return dprofit / dspend


#: Columns of `roi.csv` (`roi_frame`).
ROI_COLUMNS = ("policy", "against", "extra_profit", "extra_spend", "extra_spend_ci_low",
               "extra_spend_ci_high", "roi", "roi_ci_low", "roi_ci_high")


def roi_interval(profit: np.ndarray, spend: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The paired interval of a return: mean extra `profit` ÷ mean extra `spend` (per replication).

    The % change's interval is the difference's interval divided by the baseline's
    mean; here the divisor, the extra spending, is itself a paired difference that
    may vary between replications, so the interval is Fieller's: the returns R whose
    paired differences `profit − R·spend` have a t-interval holding zero. When the
    extra spending is the same in every replication this is exactly the profit
    difference's interval divided by it, as for the %.

    Args:
        profit: Extra profit of each replication (the arm minus the other, paired).
        spend: Extra spending of each replication, in the same order.
        level: Confidence level.

    Returns:
        `(low, high)`: NaN for fewer than two replications; `(-inf, inf)` when the extra
        spending's own interval includes zero (no bounded set of returns is then
        95 % sure).
    """
    from scipy import stats

    ok = np.isfinite(profit) & np.isfinite(spend)
    dp, ds = np.asarray(profit, float)[ok], np.asarray(spend, float)[ok]
    n = dp.size
    if n < 2:
        return math.nan, math.nan
    t2 = float(stats.t.ppf(0.5 + level / 2, n - 1)) ** 2 / n
    mp, ms = dp.mean(), ds.mean()
    cov = np.cov(dp, ds, ddof=1)
    # (mp − R·ms)² ≤ t²/n · var(dp − R·ds): a quadratic a·R² + b·R + c ≤ 0.
    a = ms * ms - t2 * cov[1, 1]
    b = -2 * (mp * ms - t2 * cov[0, 1])
    c = mp * mp - t2 * cov[0, 0]
    if a <= 0:  # the spending's interval holds zero
        return -math.inf, math.inf
    half = math.sqrt(max(b * b - 4 * a * c, 0.0))
    return float((-b - half) / (2 * a)), float((-b + half) / (2 * a))


def roi_frame(replications: pd.DataFrame, policies: Sequence[str], baseline: str,
              level: float = 0.95) -> pd.DataFrame:
    """`roi.csv`: each arm's return on extra spending against the baseline, with its paired interval.

    Args:
        replications: One row per replication × arm with every metric (`Result.replications`).
        policies: Arm names in order.
        baseline: The arm compared with.
        level: Confidence level.

    Returns:
        `ROI_COLUMNS`, one row per arm but the baseline: the paired mean extra profit, the
        extra spending (`sim.metrics.RETENTION_SPEND`) with its t-interval, and the return
        with its interval (`roi_interval`); the return is NaN when the spending does not
        change (less than a millionth of the baseline's).
    """
    from scipy import stats

    base = replications[replications.policy == baseline].set_index("replication").sort_index()
    scale = sum(float(base[m].mean()) for m in RETENTION_SPEND) if len(base) else math.nan
    rows = []
    for pol in (p for p in policies if p != baseline):
        arm = replications[replications.policy == pol].set_index("replication").sort_index()
        dp = (arm["profit"] - base["profit"]).to_numpy(float)
        ds = sum(arm[m] - base[m] for m in RETENTION_SPEND).to_numpy(float)
        mp, ms = (float(np.mean(x)) if x.size else math.nan for x in (dp, ds))
        half = (float(stats.t.ppf(0.5 + level / 2, ds.size - 1) * ds.std(ddof=1) / math.sqrt(ds.size))
                if ds.size > 1 else math.nan)
        same = not math.isfinite(ms) or abs(ms) <= 1e-6 * max(abs(scale), 1e-12)
        roi, (lo, hi) = (math.nan, (math.nan, math.nan)) if same else (mp / ms, roi_interval(dp, ds, level))
        rows.append(dict(zip(ROI_COLUMNS, (pol, baseline, mp, ms, ms - half, ms + half, roi, lo, hi),
                             strict=True)))
    return pd.DataFrame(rows, columns=list(ROI_COLUMNS))


def headlines(summary: pd.DataFrame, comparison: pd.DataFrame, scenario: Scenario,
              metric: str = "profit", roi: pd.DataFrame | None = None) -> list[Headline]:
    """Each non-baseline arm's paired difference on `metric`, in money, in % and per customer per year.

    Args:
        summary: `summary.csv` as a DataFrame.
        comparison: `comparison.csv` as a DataFrame.
        scenario: The scenario run.
        metric: The metric of the headline.
        roi: `roi.csv` as a DataFrame (`roi_frame`): the return on extra spending with its
            interval; without it the return is the ratio of the paired means, with no interval.

    Returns:
        One `Headline` per arm but the baseline, in scenario order.
    """
    base = scenario.baseline_policy
    s = summary.set_index(["policy", "metric"])
    c = comparison.set_index(["policy", "metric"])
    ref = float(s.at[(base, metric), "mean"]) if (base, metric) in s.index else math.nan
    scale = abs(ref) if math.isfinite(ref) and ref != 0 else math.nan
    per = scenario.population.size * _years(scenario)
    r = roi.set_index("policy") if roi is not None and len(roi) else None
    out = []
    for pol in (p.name for p in scenario.policies):
        if pol == base or (pol, metric) not in c.index:
            continue
        d, lo, hi, pv = (float(c.at[(pol, metric), k])
                         for k in ("diff_mean", "diff_ci_low", "diff_ci_high", "p_value"))
        if r is not None and pol in r.index:
            ret = tuple(float(r.at[pol, k]) for k in ("roi", "extra_spend", "roi_ci_low", "roi_ci_high"))
        else:
            ret = (roi_of(summary, comparison, pol, base), extra_spend(comparison, pol), math.nan, math.nan)
        out.append(Headline(pol, base, metric, d, lo, hi, d / scale, lo / scale, hi / scale, pv,
                            d / per, *ret))
    return out


def result_headlines(result: Result) -> list[Headline]:
    """`headlines` of a result, the return on extra spending with its interval (`roi_frame`)."""
    return headlines(result.summary, result.comparison, result.scenario,
                     roi=roi_frame(result.replications, result.policies, result.baseline, result.level))


def headline_text(h: Headline, scenario: Scenario, st: Style) -> str:
    """A headline sentence: "`clv` earns +4.1% profit [+3.2%, +5.0%] over `uniform` ..."."""
    basis = time_basis(scenario)
    label = metric_label(h.metric, st.lang)
    if math.isfinite(h.pct):
        text = msg("{arm} earns {pct} {metric} {ci} over {base}: {diff} {basis}, {per} per customer "
                   "per year.", arm=h.policy, pct=st.pct(h.pct, True), metric=label,
                   ci=st.ci(h.pct_low, h.pct_high, pct=True), base=h.against,
                   diff=st.money(h.diff, True), basis=basis, per=st.money(h.per_customer_year, True))
    else:
        text = msg("{arm} earns {diff} {metric} {ci} over {base} {basis}, {per} per customer per year.",
                   arm=h.policy, diff=st.money(h.diff, True), metric=label,
                   ci=st.ci(h.low, h.high, h.metric, diff=True), base=h.against, basis=basis,
                   per=st.money(h.per_customer_year, True))
    sure = (N_("The 95 % interval excludes zero.") if h.clear
            else N_("Not clear: the 95 % interval includes zero."))
    space = "" if st.lang.startswith("zh") else " "
    out = f"{st.t(text)}{space}{st.t(sure)}"
    if math.isfinite(h.roi):  # the spending differs: what each unit of it returns
        out += space + st.t(msg("Return on extra spending: {roi}.", roi=roi_text(h, st)))
    return out


def roi_text(h: Headline, st: Style) -> str:
    """The return on extra spending in words, with its 95 % interval when it is known."""
    if not math.isfinite(h.roi):
        return st.t(N_("same spending on service, points and complaints: no return to reckon"))
    saved = h.extra_spend < 0
    if saved:  # per 1 saved: the return of spending less, its bounds turned round
        text = st.t(msg("spends {spend} less on service, points and complaints: {profit} profit per 1 "
                        "saved", spend=st.money(-h.extra_spend), profit=st.money(-h.roi, True)))
    else:
        text = st.t(msg("spends {spend} more on service, points and complaints: {roi} profit per 1 of "
                        "extra spending", spend=st.money(h.extra_spend), roi=st.money(h.roi, True)))
    lo, hi = (-h.roi_high, -h.roi_low) if saved else (h.roi_low, h.roi_high)
    if math.isinf(lo) or math.isinf(hi):
        return f"{text} {st.t(N_('(no 95 % interval: the change in spending is itself not clear)'))}"
    if _finite(lo) is None or _finite(hi) is None:
        return text
    return f"{text} [{st.money(lo, True)}, {st.money(hi, True)}]"


def winner_text(result: Result | None, summary: pd.DataFrame, comparison: pd.DataFrame,
                scenario: Scenario, st: Style, metric: str = "profit") -> str:
    """Which arm wins on `metric`, and whether it is clearly ahead of every other arm (paired)."""
    pols = [p.name for p in scenario.policies]
    if len(pols) < 2:
        return st.t(N_("Only one arm: nothing to compare."))
    s = summary[summary.metric == metric].set_index("policy")["mean"]
    best = max(pols, key=lambda p: float(s.get(p, -math.inf)))
    if result is not None:
        pw = result.pairwise([metric])
        pw = pw[pw.policy == best].set_index("against")
        behind = [p for p in pols if p != best and not float(pw.at[p, "diff_ci_low"]) > 0]
    else:  # only the comparisons against the baseline are known
        c = comparison[comparison.metric == metric].set_index("policy")
        base = scenario.baseline_policy

        def ahead(p: str) -> bool:
            if p == base:
                return float(c.at[best, "diff_ci_low"]) > 0
            return best == base and float(c.at[p, "diff_ci_high"]) < 0

        behind = [p for p in pols if p != best and not ahead(p)]
    label = metric_label(metric, st.lang)
    if not behind:
        return st.t(msg("{arm} earns the most {metric} {basis}, ahead of every other arm with 95 % "
                        "confidence (paired).", arm=best, metric=label, basis=time_basis(scenario)))
    return st.t(msg("{arm} earns the most {metric} {basis}, but not clearly ahead of {others} (the "
                    "95 % interval of the paired difference includes zero).", arm=best, metric=label,
                    basis=time_basis(scenario), others=", ".join(behind)))


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
        One dict per metric: `metric`, `means` (arm → (mean, low, high)),
        `diffs` (arm → (diff, low, high, p)) for every arm but the baseline, and
        `pcts` (arm → the difference and its bounds as shares of the baseline's mean).
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
        ref = means.get(baseline, (math.nan,))[0]
        scale = abs(ref) if math.isfinite(ref) and ref != 0 else math.nan
        pcts = {p: tuple(x / scale for x in d[:3]) for p, d in diffs.items()}
        rows.append({"metric": metric, "means": means, "diffs": diffs, "pcts": pcts})
    return rows


def basis_of(metric: str, scenario: Scenario) -> Message:
    """A metric's time basis: "over 104 weeks" for a total, "at the end (week 104)" for a stock."""
    sum_ = METRICS.get(metric) is not None and METRICS[metric].summary == "sum"
    return time_basis(scenario) if sum_ else at_end(scenario)


def columns_text(rows: list[list[str]], left: int = 1) -> str:
    """Rows as aligned text columns (`left` first columns to the left); wide characters count double."""
    from rich.cells import cell_len

    widths = [max(cell_len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = []
        for i, (c, w) in enumerate(zip(r, widths, strict=True)):
            pad = " " * (w - cell_len(c))
            cells.append(c + pad if i < left else pad + c)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def comparison_text(summary: pd.DataFrame, comparison: pd.DataFrame, policies: Sequence[str],
                    baseline: str, metrics: Sequence[str] | None = None, *,
                    scenario: Scenario | None = None, lang: str = "en", result: Result | None = None,
                    windows: Sequence[tuple[str, Window]] = (), roi: pd.DataFrame | None = None) -> str:
    """The comparison printed by `run`: headlines, means, paired differences, windows.

    Args:
        summary: `summary.csv` as a DataFrame.
        comparison: `comparison.csv` as a DataFrame.
        policies: Arm names in order.
        baseline: The baseline arm.
        metrics: Metrics shown (default: the headline metrics).
        scenario: The scenario (for the headline, the currency and the time basis).
        lang: Language of the text.
        result: The result (for the paired comparison of every arm with every other).
        windows: `(label, Window)` pairs shown after the run's totals.
        roi: `roi.csv` as a DataFrame (default: from `result`), for the return on extra
            spending's interval.

    Returns:
        Text: means per arm, then each arm's paired difference against the baseline
        with its 95 % interval, % change and p-value (`*` marks an interval excluding 0).
    """
    st = Style(lang, scenario.market.currency if scenario is not None else None)
    metrics = tuple(metrics or HEADLINE)
    rows = comparison_rows(summary, comparison, policies, baseline, metrics)
    parts: list[str] = []
    if roi is None and result is not None:
        roi = roi_frame(result.replications, policies, baseline, result.level)
    hls = {h.policy: h for h in headlines(summary, comparison, scenario, roi=roi)} if scenario else {}
    if scenario is not None and len(policies) > 1:
        parts.append(st.t(N_("Headline (paired differences, replication by replication):")))
        parts += ["  " + headline_text(h, scenario, st) for h in hls.values()]
        parts += ["  " + winner_text(result, summary, comparison, scenario, st), ""]

    def label(metric: str) -> str:
        return metric if st.lang == "en" else metric_label(metric, st.lang)

    def means(rows: list[dict[str, Any]]) -> str:
        """The means, at most `ARMS_PER_TABLE` arms side by side (more continue below)."""
        blocks = []
        for part in _chunks(list(policies)):
            head = [st.t(N_("metric")), *(st.t(msg("{arm} (baseline)", arm=p)) if p == baseline else p
                                          for p in part)]
            blocks.append(columns_text([head] + [
                [label(r["metric"]), *(st.value(r["means"].get(p, (math.nan,))[0], r["metric"]) for p in part)]
                for r in rows]))
        return "\n\n".join(blocks)

    parts += [st.t(N_("Mean over replications:")), means(rows)]
    if scenario is not None:
        parts.append(st.t(msg("(totals {basis}; stocks {end})", basis=time_basis(scenario),
                              end=at_end(scenario))))
    for p in policies:
        if p == baseline:
            continue
        parts += ["", st.t(msg("{arm} − {base} (paired differences, 95 % CI):", arm=p, base=baseline)),
                  _diff_columns(rows, p, st, label)]
        if p in hls:
            parts.append(st.t(N_("return on extra spending:")) + " " + roi_text(hls[p], st))
    for name, win in windows:
        wrows = comparison_rows(win.summary, win.comparison, policies, baseline, WINDOW_METRICS)
        parts += ["", name, means(wrows)]
        for p in policies:
            if p != baseline:
                parts += [st.t(msg("{arm} − {base} (paired differences, 95 % CI):", arm=p, base=baseline)),
                          _diff_columns(wrows, p, st, label)]
    return "\n".join(parts)


def _diff_columns(rows: list[dict[str, Any]], p: str, st: Style, label: Any) -> str:
    diff = [[st.t(N_("metric")), st.t(N_("difference")), st.t(N_("95 % CI")), st.t(N_("% change")),
             "p", ""]]
    for r in rows:
        d, lo, hi, pv = r["diffs"].get(p, (math.nan,) * 4)
        pct = r["pcts"].get(p, (math.nan,) * 3)[0]
        ci = st.ci(lo, hi, r["metric"], diff=True) or "–"
        diff.append([label(r["metric"]), st.value(d, r["metric"], diff=True), ci, st.pct(pct, True),
                     fmt_p(pv), "*" if _clear(lo, hi) else ""])
    return columns_text(diff)


# --------------------------------------------------------------------------- HTML


def _chunks(items: Sequence[str], size: int = ARMS_PER_TABLE) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)] or [[]]


def _metric_th(metric: str, scenario: Scenario, st: Style) -> str:
    e = html.escape
    return (f'<th class="m" data-metric="{e(metric)}" title="{e(metric)}">{e(metric_label(metric, st.lang))}'
            f"<br><small>{e(st.t(basis_of(metric, scenario)))}</small></th>")


def _tables(head: str, columns: Sequence[str], row_heads: Sequence[str],
            cell: Any, caption: str = "") -> str:
    """Tables of `row_heads` × `columns`, at most `ARMS_PER_TABLE` columns each (wrapped, never cut)."""
    out = []
    for part in _chunks(columns):
        ths = "".join(f"<th>{c}</th>" for c in part)
        body = "".join(f"<tr>{rh}{''.join(cell(i, c) for c in part)}</tr>"
                       for i, rh in enumerate(row_heads))
        cap = f"<caption>{caption}</caption>" if caption else ""
        out.append(f'<div class="wide"><table class="cmp">{cap}<thead><tr><th>{head}</th>{ths}</tr>'
                   f"</thead><tbody>{body}</tbody></table></div>")
    return "".join(out)


def _means_html(rows: list[dict[str, Any]], result: Result, st: Style, per_year: bool = True) -> str:
    e = html.escape
    pols, base = result.policies, result.baseline
    names = {p: e(st.t(msg("{arm} (baseline)", arm=p)) if p == base else p) for p in pols}

    def cell(i: int, p: str) -> str:
        r = rows[i]
        m, lo, hi = r["means"].get(p, (math.nan,) * 3)
        extra = ""
        pcy = result.per_customer_year(m, r["metric"]) if per_year else math.nan
        if math.isfinite(pcy):
            extra = "<br><small>" + e(st.t(msg("{value} per customer per year",
                                                 value=st.value(pcy, r["metric"])))) + "</small>"
        return (f"<td>{e(st.value(m, r['metric']))}<br><small>{e(st.ci(lo, hi, r['metric']))}</small>"
                f"{extra}</td>")

    heads = [_metric_th(r["metric"], result.scenario, st) for r in rows]
    col_of = {names[p]: p for p in pols}
    return _tables(e(st.t(N_("metric"))), list(col_of), heads, lambda i, n: cell(i, col_of[n]))


def _diff_cell(metric: str, diff: Sequence[float], pct: Sequence[float], st: Style,
               per_year: float = math.nan) -> str:
    """A paired difference's table cell, highlighted when its interval excludes zero.

    `diff` is (mean, low, high, p), `pct` the mean and bounds in % of the other arm's
    mean, `per_year` the mean per customer per year (NaN: not shown).
    """
    e = html.escape
    d, lo, hi, pv = diff
    pc, plo, phi = pct
    cls = ' class="clear"' if _clear(lo, hi) else ""
    lines = [f"<b>{e(st.value(d, metric, diff=True))}</b> <small>{e(st.ci(lo, hi, metric, diff=True))}</small>"]
    if math.isfinite(pc):
        lines.append(f"{e(st.pct(pc, True))} <small>{e(st.ci(plo, phi, pct=True))}</small>")
    if math.isfinite(per_year):
        lines.append("<small>" + e(st.t(msg("{value} per customer per year",
                                              value=st.value(per_year, metric, diff=True)))) + "</small>")
    lines.append(f"<small>p = {e(fmt_p(pv))}</small>")
    return f"<td{cls}>{'<br>'.join(lines)}</td>"


def _diffs_html(rows: list[dict[str, Any]], result: Result, st: Style, roi: bool = True,
                per_year: bool = True) -> str:
    e = html.escape
    base = result.baseline
    others = [p for p in result.policies if p != base]
    heads = [_metric_th(r["metric"], result.scenario, st) for r in rows]
    hl = {h.policy: h for h in result_headlines(result)} if roi else {}
    if roi:
        heads.append(f'<th class="m" data-metric="roi">{e(st.t(N_("return on extra spending")))}<br>'
                     f"<small>{e(st.t(N_('extra profit per extra 1 spent on service, points and complaints')))}"
                     "</small></th>")

    def cell(i: int, label: str) -> str:
        p = col_of[label]
        if i == len(rows):
            h = hl.get(p)
            return f"<td>{e(roi_text(h, st)) if h else '–'}</td>"
        r = rows[i]
        d = r["diffs"].get(p, (math.nan,) * 4)
        pcy = result.per_customer_year(d[0], r["metric"]) if per_year else math.nan
        return _diff_cell(r["metric"], d, r["pcts"].get(p, (math.nan,) * 3), st, pcy)

    col_of = {e(st.t(msg("{arm} − {base}", arm=p, base=base))): p for p in others}
    return _tables(e(st.t(N_("metric"))), list(col_of), heads, cell)


def _pairwise_html(result: Result, st: Style, metric: str = "profit") -> str:
    """Every arm against every other on `metric` (row minus column, paired), in % of the column arm."""
    e = html.escape
    pols = result.policies
    pw = result.pairwise([metric]).set_index(["policy", "against"])

    def cell(i: int, against: str) -> str:
        p = pols[i]
        if p == against:
            return "<td>–</td>"
        r = pw.loc[(p, against)]
        cls = ' class="clear"' if _clear(float(r.diff_ci_low), float(r.diff_ci_high)) else ""
        return (f"<td{cls}>{e(st.value(r.diff_mean, metric, diff=True))}<br>"
                f"<small>{e(st.pct(r.pct_mean, True))} {e(st.ci(r.pct_ci_low, r.pct_ci_high, pct=True))}"
                "</small></td>")

    heads = [f"<th>{e(p)}</th>" for p in pols]
    return _tables(e(st.t(msg("{metric}: row − column", metric=metric_label(metric, st.lang)))),
                   pols, heads, cell)


#: Columns of `segments.csv` in money, and in shares.
_SEGMENT_UNITS = {"revenue": "money", "service": "money", "service_per_customer": "money",
                  "churn_rate": "share"}


def _frame_html(df: pd.DataFrame, st: Style) -> str:
    """A frame as a table; money in the currency, shares in %, by column or by the row's `metric`."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    cols = list(df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        metric = rec[cols.index("metric")] if "metric" in cols else None
        cells = []
        for col, v in zip(cols, rec, strict=True):
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                unit = _SEGMENT_UNITS.get(col) if metric is None else (
                    None if col == "n" else (METRICS[metric].unit if metric in METRICS else None))
                text = (st.money(v) if unit == "money" else st.pct(v) if unit == "share"
                        else st.num(v))
                cells.append(f"<td>{html.escape(text)}</td>")
            else:
                cells.append(f"<th>{html.escape(str(v))}</th>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            "</table></div>")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Noto Sans SC","PingFang SC",
"Microsoft YaHei",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
.headline{background:#f5f9ff;border-left:4px solid #1f77b4;padding:.6em 1em;font-size:1.05em}
.headline p{margin:.3em 0}
.wide{max-width:100%;overflow-x:auto;margin:.5em 0}
table{border-collapse:collapse;font-size:.88em;margin:0}caption{text-align:left;color:#555}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right;vertical-align:top;overflow-wrap:anywhere}
thead th{background:#f3f3f3;text-align:center}th.m,tbody th{text-align:left;font-weight:normal}
td small,th small{color:#666}td.clear{background:#eef6ff}
img{max-width:100%;height:auto;display:block;margin:.8em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
"""


def window_spans(result: Result, window: tuple[int, int] | None = None) -> list[tuple[str, int, int]]:
    """The windows a report shows: `window` (`--window`), then each event's own: (kind, start, stop)."""
    out = []
    if window is not None:
        out.append(("window", *window))
    for ev, first, stop in event_spans(result.scenario):
        out.append((ev.kind, first, stop))
    return out


def window_title(kind: str, start: int, stop: int, scenario: Scenario, st: Style) -> str:
    """A window's heading: what it is and its periods."""
    what = (st.t(N_("the window asked for")) if kind == "window" else event_label(kind, st.lang))
    return st.t(msg("{what}: {period} {start} to {end} ({periods})", what=what,
                    period=msg(_PERIOD_WORDS[scenario.period]), start=start, end=stop - 1,
                    periods=periods_text(stop - start, scenario.period)))


def windows_of(result: Result, window: tuple[int, int] | None, st: Style) -> list[tuple[str, Window]]:
    """Each window of `window_spans` with its metrics (`Result.window`), titled."""
    return [(window_title(kind, a, b, result.scenario, st), result.window(a, b))
            for kind, a, b in window_spans(result, window)]


def render_html(result: Result, images: Mapping[str, bytes], version: str, *, lang: str | None = None,
                windows: Sequence[tuple[str, Window]] = (),
                scenario_file: str = "scenario.resolved.yaml") -> str:
    """The self-contained report page: headline, tables, plots, windows, segments, seeds.

    Images are embedded as base64 data URIs; the page loads nothing from outside.
    The resolved scenario is linked (the file beside the report), not printed.

    Args:
        result: The comparison.
        images: PNG bytes keyed by file name, shown in this order.
        version: The package version.
        lang: Language (default: the scenario's).
        windows: `(title, Window)` pairs (see `windows_of`).
        scenario_file: The resolved scenario's file name, linked.

    Returns:
        The HTML text.
    """
    st = style_of(result, lang)
    sc = result.scenario
    e = html.escape
    t = st.t
    seeds = "".join(f"<li>{e(t(msg('replication {n}', n=i)))}: <code>{s}</code></li>"
                    for i, s in enumerate(result.seeds))
    dl = _meta_html(result, st, version, scenario_file)
    rows = comparison_rows(result.summary, result.comparison, result.policies, result.baseline)
    headline, diffs, pairwise = _comparisons_html(result, rows, st)
    win_html = _windows_html(result, windows, st)
    link = f'<a href="{e(scenario_file)}">{e(scenario_file)}</a>'
    words = _words(result, st, version)
    return _page(t(msg("Retention Lab — {name}", name=sc.name)), st, f"""
<p>{e(sc.description.strip())}</p>
{headline}
<dl>{dl}</dl>
<h2>{words["means"]}</h2>
<p>{words["means_p"]}</p>
{_means_html(rows, result, st)}
{diffs}
{pairwise}
{win_html}
<h2>{words["plots"]}</h2>
<p>{words["plots_p"]}</p>
{_images_html(images)}
<h2>{words["segments"]}</h2>
<p>{words["segments_p"]}</p>
{_frame_html(result.segments, st)}
<details><summary>{words["every"]}</summary>{_frame_html(result.summary, st)}</details>
<h2>{words["seeds"]}</h2>
<p>{words["seeds_p"]} {link}.</p>
<details><summary>{words["seeds_n"]}</summary>
<ul>{seeds}</ul></details>
<p><small>{words["made"]}</small></p>
""")


def _page(title: str, st: Style, body: str) -> str:
    """A whole self-contained page: `title` (plain text) as its title and heading, then `body` (HTML)."""
    lang_attr = "zh-CN" if st.lang == "zh_CN" else "en"
    head = html.escape(title)
    return f"""<!DOCTYPE html>
<html lang="{lang_attr}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{head}</title><style>{_CSS}</style></head>
<body>
<h1>{head}</h1>{body}</body></html>
"""


def _images_html(images: Mapping[str, bytes]) -> str:
    """PNG images embedded as data URIs, in order."""
    return "".join(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
                   f'{base64.b64encode(data).decode("ascii")}"></figure>' for name, data in images.items())


def _dl(items: Mapping[str, str], st: Style) -> str:
    """A definition list's items: each key (marked text) translated and escaped, each value HTML."""
    return "".join(f"<dt>{html.escape(st.t(k))}</dt><dd>{v}</dd>" for k, v in items.items())


def _words(result: Result, st: Style, version: str) -> dict[str, str]:
    """The report page's headings and explanations, translated and escaped."""
    sc, e, t = result.scenario, html.escape, st.t
    words = {k: e(t(v)) for k, v in {
        "means": N_("Means over replications"),
        "means_p": N_("Mean of each arm with its 95 % interval over replications; money and counts are "
                      "totals over the horizon, also per customer (at the start) per year."),
        "plots": N_("Plots"),
        "plots_p": N_("Upper panels: each arm's mean. Lower panels: each arm's paired difference from the "
                      "baseline with its 95 % band. Shaded: the periods an event acts in."),
        "segments": N_("Segments"),
        "segments_p": msg("Per arm and segment, means over replications: customers ever active, churned, "
                          "churn rate, revenue and service received, {basis}.", basis=time_basis(sc)),
        "every": N_("Every metric"),
        "seeds": N_("Seeds"),
        "seeds_p": msg("Root seed {seed}; replication seeds from numpy.random.SeedSequence(root).spawn({n}). "
                       "The resolved scenario reproduces these numbers:", seed=sc.seed, n=len(result.seeds)),
        "seeds_n": nmsg("{n} replication seed", "{n} replication seeds", len(result.seeds)),
        "made": msg("Made by retention-lab {version}.", version=version),
    }.items()}
    return words


def _meta_html(result: Result, st: Style, version: str, scenario_file: str) -> str:
    """The run's particulars as a definition list's items."""
    sc, e = result.scenario, html.escape
    meta = {
        N_("scenario"): e(sc.name),
        N_("arms"): ", ".join(e(p) for p in result.policies),
        N_("baseline"): e(result.baseline),
        N_("replications"): str(len(result.seeds)),
        **_basis_items(sc, st),
        N_("resolved scenario"): f'<a href="{e(scenario_file)}">{e(scenario_file)}</a>',
        "retention-lab": e(version),
    }
    return _dl(meta, st)


def _basis_items(sc: Scenario, st: Style) -> dict[str, str]:
    """What the numbers are reckoned on: horizon (in years too), customers, currency, root seed."""
    e, t = html.escape, st.t
    currency = sc.market.currency
    return {
        N_("horizon"): e(t(periods_text(sc.horizon, sc.period))) + f" ({st.num(_years(sc))} "
                       + e(t(N_("years"))) + ")",
        N_("customers at the start"): st.num(sc.population.size),
        N_("currency"): e(f"{currency.code} ({st.unit()})") if currency else e(t(N_("plain numbers"))),
        N_("root seed"): f"<code>{sc.seed}</code>",
    }


def _comparisons_html(result: Result, rows: list, st: Style) -> tuple[str, str, str]:
    """The headline, the paired differences against the baseline and every pair (empty for one arm)."""
    sc, e, t = result.scenario, html.escape, st.t
    headline = ""
    diffs = ""
    pairwise = ""
    if len(result.policies) > 1:
        lines = [headline_text(h, sc, st) for h in result_headlines(result)]
        lines.append(winner_text(result, result.summary, result.comparison, sc, st))
        headline = '<div class="headline">' + "".join(f"<p>{e(x)}</p>" for x in lines) + "</div>"
        diffs = (f"<h2>{e(t(msg('Paired differences against {arm}', arm=result.baseline)))}</h2>"
                 f"<p>{e(t(N_('Each arm minus the baseline, replication by replication (same customers, '
                               'events and random numbers): the difference, its 95 % interval, the '
                               'change in % of the baseline, per customer per year, and the p-value. '
                               'Highlighted: the interval excludes zero.')))}</p>"
                 + _diffs_html(rows, result, st))
        if len(result.policies) > 2:
            pairwise = (f"<h2>{e(t(N_('Every arm against every other')))}</h2>"
                        "<p>" + e(t(msg("Paired differences of {metric} {basis}, row minus column, and "
                                        "in % of the column arm.", metric=metric_label("profit", st.lang),
                                        basis=time_basis(sc)))) + "</p>"
                        + _pairwise_html(result, st))
    return headline, diffs, pairwise


def _windows_html(result: Result, windows: Sequence[tuple[str, Window]], st: Style) -> str:
    """The metrics over each window asked for (empty if none)."""
    e, t = html.escape, st.t
    win_html = ""
    for title, win in windows:
        wrows = comparison_rows(win.summary, win.comparison, result.policies, result.baseline,
                                WINDOW_METRICS)
        win_html += f"<h3>{e(title)}</h3>" + _means_html(wrows, result, st, per_year=False)
        if len(result.policies) > 1:
            win_html += _diffs_html(wrows, result, st, roi=False, per_year=False)
    if win_html:
        win_html = (f"<h2>{e(t(N_('Windows')))}</h2><p>{e(t(N_(
            'Metrics over a window of periods: money and counts summed over it, satisfaction, loyalty '
            'and NPS averaged over it, churn rate = customers lost in it ÷ customers active at its start '
            'plus those won in it.')))}</p>" + win_html)
    return win_html


# --------------------------------------------------------------------------- the sweep's page

#: Metrics of a sweep's page shown open; the others are folded.
SWEEP_OPEN = ("churn_rate", "revenue", "profit")


def render_sweep_html(frame: pd.DataFrame, pairs: pd.DataFrame, points: Sequence[SweepPoint],
                      scenario: Scenario, images: Mapping[str, bytes], version: str, *,
                      lang: str | None = None, metrics: Sequence[str] = HEADLINE) -> str:
    """The self-contained page of a sweep: per metric, its plot and the comparison across points.

    For each metric: its plot (`images["sweep_<metric>.png"]`), each arm's mean at each
    point; each arm minus the baseline at the same point; each arm minus the same arm at
    the first point (all paired: every point runs on the root seed). Money in the
    scenario's currency, totals with their time basis.

    Args:
        frame: `sweep.csv` as a DataFrame (`sim.sweep.sweep_frame`).
        pairs: `sweep_comparison.csv` as a DataFrame (`sim.sweep.sweep_comparison`).
        points: The grid (`sim.sweep.SweepPoint`s).
        scenario: The base scenario.
        images: The sweep's PNG bytes keyed by file name, shown in this order.
        version: The package version.
        lang: Language (default: the scenario's).
        metrics: The metrics compared.

    Returns:
        The HTML text; each point's own report and the CSV files are linked.
    """
    st = Style(lang or scenario.language, scenario.market.currency)
    e, t = html.escape, st.t
    arms = [p.name for p in scenario.policies]
    words = {k: e(t(v)) for k, v in {
        "intro": msg("Every point runs the scenario with the values shown, on the root seed {seed}: the "
                     "points meet the same customers and random numbers, so differences between points "
                     "are paired, as between arms.", seed=scenario.seed),
        "compare": N_("Comparison across points"),
        "compare_p": N_("Per metric: the plot; each arm's mean with its 95 % interval; each arm minus the "
                        "baseline at the same point; each arm minus the same arm at the first point. "
                        "Differences are paired, replication by replication, with their 95 % interval, the "
                        "change in %, per customer per year and the p-value; highlighted: the interval "
                        "excludes zero."),
        "plots": N_("Plots"), "files": N_("Files"),
        "made": msg("Made by retention-lab {version}.", version=version),
    }.items()}
    meta = {
        N_("scenario"): e(scenario.name),
        N_("parameters swept"): "<br>".join(
            f"<code>{e(path)}</code> = " + ", ".join(e(str(v)) for v in dict.fromkeys(
                pt.values[path] for pt in points)) for path in (points[0].values if points else {})),
        N_("sweep points"): str(len(points)),
        N_("arms"): ", ".join(e(a) for a in arms),
        N_("baseline"): e(scenario.baseline_policy),
        N_("replications"): str(points[0].scenario.replications if points else scenario.replications),
        **_basis_items(scenario, st),
        "retention-lab": e(version),
    }
    sections = "".join(_sweep_metric_html(frame, pairs, points, scenario, metric, st,
                                          {k: v for k, v in images.items() if k == f"sweep_{metric}.png"})
                       for metric in metrics)
    rest = {k: v for k, v in images.items() if k not in {f"sweep_{m}.png" for m in metrics}}
    plots = f"<h2>{words['plots']}</h2>{_images_html(rest)}" if rest else ""
    files = "".join(f'<li><a href="{e(f)}">{e(f)}</a></li>'
                    for f in ("sweep.csv", "sweep_comparison.csv",
                              *(f"{pt.folder}/report.html" for pt in points)))
    return _page(t(msg("Retention Lab — {name}: parameter sweep", name=scenario.name)), st, f"""
<p>{e(scenario.description.strip())}</p>
<p>{words["intro"]}</p>
<dl>{_dl(meta, st)}</dl>
<h2>{words["compare"]}</h2>
<p>{words["compare_p"]}</p>
{sections}
{plots}
<h2>{words["files"]}</h2>
<ul>{files}</ul>
<p><small>{words["made"]}</small></p>
""")


def _sweep_metric_html(frame: pd.DataFrame, pairs: pd.DataFrame, points: Sequence[SweepPoint],
                       scenario: Scenario, metric: str, st: Style, images: Mapping[str, bytes]) -> str:
    """One metric of a sweep's page: its plot, means, against the baseline, against the first point."""
    e, t = html.escape, st.t
    arms = [p.name for p in scenario.policies]
    base = scenario.baseline_policy
    means = frame[frame.metric == metric].set_index(["point", "policy"])
    pair = pairs[pairs.metric == metric].set_index(["point", "policy", "against_point", "against_policy"])
    bases = {pt.index: t(basis_of(metric, pt.scenario)) for pt in points}
    one_basis = len(set(bases.values())) <= 1

    def head(pt: SweepPoint) -> str:
        label = " ".join(f"{k}={v}" for k, v in pt.values.items())
        basis = "" if one_basis else f"<br><small>{e(bases[pt.index])}</small>"
        return (f'<th class="m"><a href="{e(pt.folder)}/report.html">{e(pt.folder)}</a><br>'
                f"<small>{e(label)}</small>{basis}</th>")

    def mean_cell(i: int, arm: str) -> str:
        key = (points[i].index, arm)
        if key not in means.index:
            return "<td>–</td>"
        m, lo, hi = (float(means.at[key, c]) for c in ("mean", "ci_low", "ci_high"))
        return f"<td>{e(st.value(m, metric))}<br><small>{e(st.ci(lo, hi, metric))}</small></td>"

    def diff_cell(pt: SweepPoint, arm: str, against: tuple[int, str]) -> str:
        key = (pt.index, arm, *against)
        if key not in pair.index:
            return "<td>–</td>"
        r = pair.loc[key]
        d = tuple(float(r[c]) for c in ("diff_mean", "diff_ci_low", "diff_ci_high", "p_value"))
        pct = tuple(float(r[c]) for c in ("pct_mean", "pct_ci_low", "pct_ci_high"))
        per_year = (d[0] / pt.scenario.population.size / _years(pt.scenario)
                    if METRICS.get(metric) is not None and METRICS[metric].summary == "sum" else math.nan)
        return _diff_cell(metric, d, pct, st, per_year)

    what = e(t(N_("point")))
    names = [e(t(msg("{arm} (baseline)", arm=a)) if a == base else a) for a in arms]
    arm_of = dict(zip(names, arms, strict=True))
    others = [a for a in arms if a != base]
    vs_base = {e(t(msg("{arm} − {base}", arm=a, base=base))): a for a in others}
    later = points[1:]
    first = points[0] if points else None
    body = (_images_html(images) + f"<p>{e(t(N_('mean, 95 % CI')))}</p>"
            + _tables(what, names, [head(pt) for pt in points], lambda i, n: mean_cell(i, arm_of[n])))
    if others:
        body += (f"<p>{e(t(msg('Each arm minus {arm} at the same point (paired)', arm=base)))}</p>"
                 + _tables(what, list(vs_base), [head(pt) for pt in points],
                           lambda i, n: diff_cell(points[i], vs_base[n], (points[i].index, base))))
    if first is not None and later:
        at = " ".join(f"{k}={v}" for k, v in first.values.items())
        body += (f"<p>{e(t(msg('Each arm minus the same arm at {point} ({values}), paired across points',
                                   point=first.folder, values=at)))}</p>"
                 + _tables(what, names, [head(pt) for pt in later],
                           lambda i, n: diff_cell(later[i], arm_of[n], (first.index, arm_of[n]))))
    title = e(metric_label(metric, st.lang)) + (f" <small>{e(next(iter(bases.values())))}</small>"
                                                if one_basis and bases else "")
    opened = " open" if metric in SWEEP_OPEN else ""
    return (f'<details{opened} data-metric="{e(metric)}"><summary><h3 style="display:inline">{title}</h3>'
            f"</summary>{body}</details>")


def run_line(result: Result, st: Style) -> str:
    """What was run: "default: 2 policies × 10 replications, 104 weeks"."""
    sc = result.scenario
    return st.t(msg("{name}: {arms} policies × {reps} replications, {periods}", name=sc.name,
                    arms=len(sc.policies), reps=len(result.seeds),
                    periods=periods_text(sc.horizon, sc.period)))


def write_report(result: Result, out_dir: Any, *, lang: str | None = None,
                 window: tuple[int, int] | None = None) -> dict[str, Any]:
    """Draw the figures and write them and `report.html` into `out_dir` (each file atomically).

    Args:
        result: The comparison.
        out_dir: The run's folder (the resolved scenario beside it is linked).
        lang: Language (default: the scenario's `language`).
        window: Periods `(start, stop)` compared too, beside each event's own window.

    Returns:
        File name → path of every file written.
    """
    from pathlib import Path

    from sim import __version__
    from sim.files import atomic_write

    out = Path(out_dir)
    style = style_of(result, lang)
    written: dict[str, Any] = {}
    images = {}
    for name, fig in figures(result, style.lang).items():
        images[name] = png_bytes(fig)
        written[name] = atomic_write(out / name, images[name])
    page = render_html(result, images, __version__, lang=style.lang,
                       windows=windows_of(result, window, style))
    written["report.html"] = atomic_write(out / "report.html", page)
    return written
