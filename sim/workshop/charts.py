"""Small server-rendered SVG charts (no JavaScript, no CDN): lines and bars.

Each function returns an SVG string ready to inline in a page or a
self-contained report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from sim.i18n import DEFAULT_LANGUAGE, localize, msg

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def _fmt(x: float) -> str:
    a = abs(x)
    if a < 1e-12:
        return "0"
    if a >= 1e6:
        return f"{x / 1e6:.1f}M"
    if a >= 1e4:
        return f"{x / 1e3:.0f}k"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.1f}"
    return f"{x:.2f}"


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 × a power of ten that is ≥ `x` (x > 0)."""
    if x <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(x))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= x * (1 - 1e-9):
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def line_chart(series: dict[str, Sequence[float]], title: str, width: int = 420,
               height: int = 180, x0: int = 0, marks: Sequence[int] = (),
               lang: str = DEFAULT_LANGUAGE, floor: float | None = 0.0) -> str:
    """A line chart of one or more series over periods.

    The y-axis starts at `floor` (zero by default; the bottom of a rating scale,
    e.g. 1 for CSAT 1–5), so that a 2 % dip looks like one, not like a crash. With
    `floor` None the axis is cut to the data and marked as broken (a zigzag on
    the axis) so the cut shows.

    Args:
        series: Label → values per period (NaN gaps are skipped).
        title: Shown above the chart.
        width: Pixels.
        height: Pixels.
        x0: Period of the first value.
        marks: Periods to mark with a dashed vertical line (round starts).
        lang: The language of the chart's own words (the axis, "no data yet").
        floor: Where the y-axis starts (None: cut to the data, marked as broken).
    """
    pad_l, pad_r, pad_t, pad_b = 48, 10, 24, 22
    vals = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    n = max((len(s) for s in series.values()), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{pad_l}" y="15" font-size="12" font-weight="bold">{escape(title)}</text>']
    if not vals or n < 2:
        parts.append(f'<text x="{pad_l}" y="{height // 2}" font-size="11">'
                     f'{escape(localize(msg("no data yet"), lang))}</text></svg>')
        return "".join(parts)
    lo, hi = _y_range(vals, floor)
    broken = floor is None
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b

    def px(i: int) -> float:
        return pad_l + pw * i / max(n - 1, 1)

    def py(v: float) -> float:
        return pad_t + ph * (1 - (v - lo) / (hi - lo))

    for frac in (0.0, 0.5, 1.0):
        v = lo + frac * (hi - lo)
        y = py(v)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{_fmt(v)}</text>')
    if broken:  # a zigzag on the axis: it does not start at zero
        yb = pad_t + ph
        parts.append(f'<polyline fill="none" stroke="#555" stroke-width="1.5" points="'
                     f'{pad_l - 5},{yb - 2} {pad_l + 5},{yb - 6} {pad_l - 5},{yb - 10} '
                     f'{pad_l + 5},{yb - 14}"/>')
    for m in marks:
        i = m - x0
        if 0 <= i < n:
            parts.append(f'<line x1="{px(i):.1f}" x2="{px(i):.1f}" y1="{pad_t}" '
                         f'y2="{pad_t + ph}" stroke="#999" stroke-dasharray="3,3"/>')
    first, last = (escape(localize(msg("week {n}", n=k), lang)) for k in (x0, x0 + n - 1))
    parts.append(f'<text x="{pad_l}" y="{height - 5}" font-size="10">{first}</text>'
                 f'<text x="{width - pad_r}" y="{height - 5}" font-size="10" '
                 f'text-anchor="end">{last}</text>')
    parts += _lines(series, px, py, pad_l, pad_t)
    parts.append("</svg>")
    return "".join(parts)


def _y_range(vals: Sequence[float], floor: float | None) -> tuple[float, float]:
    """The y-axis's bottom and top: from `floor` to a round ceiling, or (None) cut to the data with a margin."""
    lo, hi = min(vals), max(vals)
    if floor is not None:
        lo, hi = min(lo, floor), max(hi, floor)
        top = nice_ceiling(hi - lo) if hi - lo > 1e-12 else 1.0
        hi = lo + top
        if hi < max(vals) * (1 + 1e-9):  # pragma: no cover - the ceiling is at least the span
            hi = max(vals)
        return lo, hi
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    span = hi - lo
    return lo - 0.05 * span, hi + 0.05 * span


def _lines(series: dict[str, Sequence[float]], px: Callable[[int], float], py: Callable[[float], float],
           pad_l: int, pad_t: int) -> list[str]:
    """Each series as polylines (broken at its gaps) and, for more than one, a legend."""
    parts = []
    for k, (label, s) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        pts, path = [], []
        for i, v in enumerate(s):
            if v is None or not math.isfinite(v):
                if pts:
                    path.append(pts)
                pts = []
                continue
            pts.append(f"{px(i):.1f},{py(v):.1f}")
        if pts:
            path.append(pts)
        for seg in path:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                         f'points="{" ".join(seg)}"/>')
        if len(series) > 1:
            lx = pad_l + 8 + 120 * k
            parts.append(f'<rect x="{lx}" y="{pad_t - 2}" width="10" height="3" fill="{color}"/>'
                         f'<text x="{lx + 14}" y="{pad_t + 2}" font-size="10">'
                         f'{escape(label)}</text>')
    return parts


def bar_chart(items: Sequence[tuple[str, float]], title: str, width: int = 460,
              fmt: str | Callable[[float], str] = "{:.2f}", highlight: str | None = None,
              limit: float | None = None, line: float | None = None, line_label: str = "") -> str:
    """A horizontal bar chart.

    Args:
        items: (label, value) pairs, drawn top to bottom.
        title: Shown above the chart.
        width: Pixels.
        fmt: Format of the value labels (a format string, or a function of the value).
        highlight: Label drawn in a second colour (e.g. "You").
        limit: Axis maximum (default the largest absolute value).
        line: Draw a dashed reference line at this value (e.g. the flag threshold).
        line_label: Text beside the reference line.
    """
    bar_h, gap, label_w, pad_t = 16, 6, 190, 24
    height = pad_t + len(items) * (bar_h + gap) + 8
    vals = [v for _, v in items if math.isfinite(v)]
    top = limit if limit is not None else max([abs(v) for v in vals] + [1e-9])
    neg = any(v < 0 for v in vals)
    plot_w = width - label_w - 60
    zero = label_w + (plot_w / 2 if neg else 0)
    scale = (plot_w / 2 if neg else plot_w) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="4" y="15" font-size="12" font-weight="bold">{escape(title)}</text>']
    for i, (label, v) in enumerate(items):
        y = pad_t + i * (bar_h + gap)
        color = PALETTE[1] if label == highlight else PALETTE[0]
        v2 = v if math.isfinite(v) else 0.0
        w = abs(v2) * scale
        x = zero if v2 >= 0 else zero - w
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
                     f'{escape(label)}</text><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                     f'height="{bar_h}" fill="{color}"/>'
                     f'<text x="{x + w + 4 if v2 >= 0 else x - 4:.1f}" '
                     f'y="{y + 12}" font-size="10" text-anchor="{"start" if v2 >= 0 else "end"}">'
                     f'{escape(fmt(v) if callable(fmt) else fmt.format(v))}</text>')
    if line is not None:
        lx = zero + line * scale
        parts.append(f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="{pad_t - 4}" y2="{height - 6}" '
                     f'stroke="#555" stroke-dasharray="4,3"/><text x="{lx + 3:.1f}" '
                     f'y="{pad_t - 6}" font-size="9">{escape(line_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
