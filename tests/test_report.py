"""Plots, the self-contained report and the written outputs."""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scenario_text import two_arm_yaml

import sim
from sim import output, report
from sim.loader import load_scenario, parse_text
from sim.metrics import HEADLINE
from sim.scenario import Currency

SMALL = two_arm_yaml("report-small", horizon=16, replications=3, seed=5, size=800, shift_at=6,
                     description='Report test <with> "characters" & an ampersand.')


@pytest.fixture(scope="module")
def result():
    return sim.run(parse_text(SMALL, "report-small.yaml"), workers=1)


@pytest.fixture(scope="module")
def written(result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    output.write_result(result, out)
    return out


def test_report_is_self_contained(written: Path, result) -> None:
    page = (written / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == len(report.FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in images)


def test_report_contains_table_seeds_version_and_links_the_scenario(written: Path, result) -> None:
    page = (written / "report.html").read_text(encoding="utf-8")
    assert '<table class="cmp">' in page
    for metric in HEADLINE:
        assert f'data-metric="{metric}"' in page
    assert "stale_manager − data_driven" in page
    assert "data_driven (baseline)" in page
    # The description, escaped; the scenario linked, not printed.
    assert "Report test &lt;with&gt; &quot;characters&quot; &amp; an ampersand." in page
    assert '<a href="scenario.resolved.yaml">' in page
    assert "competitor_pull:" not in page and "loss_aversion" not in page
    for seed in result.seeds:
        assert str(seed) in page
    assert f"retention-lab {sim.__version__}" in page
    # Every total says what it is summed over.
    assert "over 16 weeks" in page and "at the end (week 16)" in page


def test_pngs_written(written: Path) -> None:
    for name in report.FIGURES:
        data = (written / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_functions_return_figures(result) -> None:
    assert isinstance(result.plot_churn(), Figure)
    assert isinstance(result.plot_revenue(), Figure)
    assert isinstance(result.plot_satisfaction(), Figure)
    fig = result.plot_comparison()
    assert isinstance(fig, Figure)
    assert len([ax for ax in fig.axes if ax.axison]) == len(HEADLINE)
    host = Figure()
    ax = host.add_subplot()
    assert report.plot_metric(result, "profit", ax=ax) is host
    assert len(ax.lines) >= 2  # one line per arm
    with pytest.raises(KeyError):
        report.bands(result, "no_such_metric")


def test_bands_are_t_intervals_over_replications(result) -> None:
    b = report.bands(result, "satisfaction")
    assert len(b) == 2 * 16
    assert (b["n"] == 3).all()
    assert (b["low"] <= b["mean"]).all() and (b["mean"] <= b["high"]).all()
    ts = result.timeseries
    vals = ts[(ts.policy == "data_driven") & (ts.period == 10)]["satisfaction"].to_numpy()
    row = b[(b.policy == "data_driven") & (b.period == 10)].iloc[0]
    half = 4.302652729911275 * vals.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert row["mean"] == pytest.approx(vals.mean())
    assert row["high"] - row["mean"] == pytest.approx(half)


def test_resolved_yaml_round_trips(written: Path, result) -> None:
    text = (written / "scenario.resolved.yaml").read_text(encoding="utf-8")
    assert load_scenario(written / "scenario.resolved.yaml") == result.scenario
    meta = output.read_resolved(text)
    assert meta["seeds"] == result.seeds
    assert meta["root_seed"] == result.scenario.seed == 5
    assert meta["version"] == sim.__version__
    # Every default is written out.
    assert "behaviour:" in text and "loss_aversion:" in text


def test_csv_floats_are_formatted_deterministically() -> None:
    df = pd.DataFrame({"a": [1 / 3, np.nan, 1e-12, 123456789.123456], "b": ["x", "y", "z", "w"]})
    assert output.csv_text(df) == "a,b\n0.3333333333,x\n,y\n1e-12,z\n123456789.1,w\n"


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    output.atomic_write(target, "first")
    assert target.read_text() == "first"

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.atomic_write(target, "second")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_default_out_dir_is_unique(tmp_path: Path, result) -> None:
    from datetime import datetime

    now = datetime(2026, 11, 23, 10, 30, 5)
    first = output.default_out_dir(result.scenario, tmp_path, now=now)
    assert first == tmp_path / "report-small-20261123-103005"
    assert first.is_dir() and not any(first.iterdir())  # made here: a second run cannot take it too
    assert output.default_out_dir(result.scenario, tmp_path, now=now).name.endswith("-2")
    assert output.default_out_dir(result.scenario, tmp_path, now=now).name.endswith("-3")


def test_number_formatting() -> None:
    assert report.fmt_num(float("nan")) == "–"
    assert report.fmt_num(1234567.8) == "1,234,568"
    assert report.fmt_num(0.012345, signed=True) == "+0.01235"
    assert report.fmt_num(-2500.55, lang="zh_CN") == "-2,500.6"
    assert report.fmt_p(0.0001) == "<0.001"
    st = report.Style("en", Currency(code="CNY", symbol="¥"))
    assert st.money(-1234.5, True) == "-¥1,234.5" and st.money(12, True) == "+¥12"
    assert st.pct(0.0412, True) == "+4.1%" and st.pp(0.055) == "+5.5 pp"
    assert report.Style("en", Currency(code="EUR")).money(1e6) == "€1,000,000"
    assert report.Style("zh_CN").pp(-0.01) == "-1 个百分点"


# --------------------------------------------------------------------------- the numbers a board reads


def _paired(result, arm: str, base: str, metric: str, reps=None) -> tuple[float, float, float, float]:
    """Mean paired difference, its 95 % t interval and the baseline's mean, computed here."""
    from scipy import stats

    reps = result.replications if reps is None else reps
    a = reps[reps.policy == arm].sort_values("replication")[metric].to_numpy()
    b = reps[reps.policy == base].sort_values("replication")[metric].to_numpy()
    d = a - b
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half, b.mean()


def test_headline_is_the_paired_difference_in_percent_and_per_customer_year(result) -> None:
    (h,) = report.headlines(result.summary, result.comparison, result.scenario)
    d, lo, hi, base = _paired(result, "stale_manager", "data_driven", "profit")
    assert (h.policy, h.against, h.metric) == ("stale_manager", "data_driven", "profit")
    assert h.diff == pytest.approx(d) and h.low == pytest.approx(lo) and h.high == pytest.approx(hi)
    assert h.pct == pytest.approx(d / abs(base))
    assert (h.pct_low, h.pct_high) == (pytest.approx(lo / abs(base)), pytest.approx(hi / abs(base)))
    years = 16 / 52  # horizon 16 weeks
    assert h.per_customer_year == pytest.approx(d / 800 / years)
    assert result.years == pytest.approx(years) and result.customers == 800
    st = report.Style()
    text = report.headline_text(h, result.scenario, st)
    assert text.startswith(f"stale_manager earns {st.pct(d / abs(base), True)} profit "
                           f"[{st.pct(lo / abs(base), True)}, {st.pct(hi / abs(base), True)}] "
                           "over data_driven")
    assert "over 16 weeks" in text and st.num(d / 800 / years, True) in text
    page = (result and report.render_html(result, {}, "v"))
    assert f"<p>{text}</p>" in page
    # The same paired numbers through the general comparison of any arm with any other.
    back = result.compare("data_driven", "stale_manager", "profit")
    assert back["diff_mean"] == pytest.approx(-d)


def test_per_customer_year_of_the_means(result) -> None:
    rev = result.summary.set_index(["policy", "metric"]).at[("data_driven", "revenue"), "mean"]
    assert result.per_customer_year(rev, "revenue") == pytest.approx(rev / 800 / (16 / 52))
    assert math.isnan(result.per_customer_year(0.5, "satisfaction"))  # a stock has no rate


def test_window_metrics_match_the_time_series(result) -> None:
    win = result.window(8, 12)
    ts = result.timeseries
    rows = []
    for (rep, pol), sub in ts.groupby(["replication", "policy"]):
        sub = sub.set_index("period")
        w = sub.loc[8:11]
        start = sub.at[7, "active_customers"]  # active at the start of period 8
        rows.append({"replication": rep, "policy": pol, "revenue": w.revenue.sum(),
                     "profit": w.profit.sum(), "satisfaction": w.satisfaction.mean(),
                     "complaints": w.complaints.sum(),
                     "churn_rate": w.churned.sum() / (start + w.acquired.sum())})
    mine = pd.DataFrame(rows)
    got = win.replications.set_index(["replication", "policy"]).sort_index()
    want = mine.set_index(["replication", "policy"]).sort_index()
    for metric in ("revenue", "profit", "satisfaction", "complaints", "churn_rate"):
        np.testing.assert_allclose(got[metric], want[metric], rtol=1e-9, err_msg=metric)
        d, lo, hi, _ = _paired(result, "stale_manager", "data_driven", metric, mine)
        row = win.comparison.set_index("metric").loc[metric]
        assert (row.diff_mean, row.diff_ci_low, row.diff_ci_high) == (
            pytest.approx(d), pytest.approx(lo), pytest.approx(hi))
    with pytest.raises(ValueError, match="0 ≤ START < STOP ≤ 16"):
        result.window(12, 12)


def test_difference_bands_are_paired(result) -> None:
    from scipy import stats

    b = result.diff_bands("satisfaction")
    ts = result.timeseries
    at10 = ts[ts.period == 10].set_index(["policy", "replication"])["satisfaction"]
    d = (at10["stale_manager"] - at10["data_driven"]).to_numpy()
    row = b[(b.policy == "stale_manager") & (b.period == 10)].iloc[0]
    assert row["mean"] == pytest.approx(d.mean())
    assert row["high"] - row["mean"] == pytest.approx(stats.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3))
    assert (b[b.policy == "data_driven"]["mean"] == 0).all()


def test_level_plots_show_paired_bands_and_events_as_spans(result) -> None:
    from matplotlib.patches import Polygon, Rectangle

    fig = report.plot_metric(result, "churn_rate")
    top, bottom = fig.axes[:2]
    # Levels without the arms' own (overlapping) bands; the difference with its band.
    assert not [c for c in top.collections if c.get_label() and not c.get_label().startswith("_")]
    assert len(bottom.collections) == 1 and len(bottom.lines) >= 1
    # The needs shift at period 6 acts to the end: a span from 5.5 to 15.5, not a line.
    spans = [p for p in top.patches if isinstance(p, (Rectangle, Polygon))]
    extents = {tuple(np.round(p.get_path().get_extents().intervalx if isinstance(p, Polygon)
                              else (p.get_x(), p.get_x() + p.get_width()), 6)) for p in spans}
    assert (5.5, 15.5) in extents


SIX = """\
name: six-arms
horizon: 12
replications: 3
seed: 11
population: {size: 400}
market:
  currency: {code: CNY, symbol: ¥}
  events:
    - {at: 4, kind: competitor_promotion, duration: 3, size: 0.3}
policies:
  - {name: uniform_everyone, kind: uniform}
  - {name: value_led_with_a_long_name, kind: value}
  - {name: churn_risk_targeting, kind: churn_risk}
  - {name: lifetime_value_manager, kind: clv}
  - name: thin_service
    kind: uniform
    budget_shares: {service: 0.2, complaints: 0.15, points: 0, acquisition: 0.2}
  - {name: random_pick, kind: random}
baseline: uniform_everyone
"""


@pytest.fixture(scope="module")
def six_run(tmp_path_factory: pytest.TempPathFactory):
    res = sim.run(parse_text(SIX, "six.yaml"), workers=1)
    out = tmp_path_factory.mktemp("six") / "out"
    output.write_result(res, out, window=(2, 6))
    return res, out


@pytest.fixture(scope="module")
def six(six_run):
    res, out = six_run
    return res, (out / "report.html").read_text(encoding="utf-8")


def _fieller_by_search(dp: np.ndarray, ds: np.ndarray, r: float) -> float:
    """The t statistic's margin at return `r`: ≤ 0 where the paired t-interval of dp − r·ds holds 0."""
    from scipy import stats

    z = dp - r * ds
    return abs(z.mean()) - stats.t.ppf(0.975, len(z) - 1) * z.std(ddof=1) / math.sqrt(len(z))


def test_roi_interval_is_the_profit_interval_divided_like_the_percent() -> None:
    rng = np.random.default_rng(3)
    dp = rng.normal(50, 20, 12)
    # The same extra spending in every replication: the profit difference's interval ÷ it,
    # exactly as the % change's interval is the difference's ÷ the baseline's mean.
    from scipy import stats

    half = stats.t.ppf(0.975, 11) * dp.std(ddof=1) / math.sqrt(12)
    lo, hi = report.roi_interval(dp, np.full(12, 200.0))
    assert (lo, hi) == (pytest.approx((dp.mean() - half) / 200), pytest.approx((dp.mean() + half) / 200))
    lo, hi = report.roi_interval(dp, np.full(12, -200.0))  # less spent: the bounds turn round
    assert (lo, hi) == (pytest.approx(-(dp.mean() + half) / 200), pytest.approx(-(dp.mean() - half) / 200))
    # Spending that varies: the returns whose paired difference dp − R·ds is not clearly 0.
    ds = rng.normal(200, 30, 12)
    lo, hi = report.roi_interval(dp, ds)
    assert lo < dp.mean() / ds.mean() < hi
    assert _fieller_by_search(dp, ds, lo) == pytest.approx(0, abs=1e-9)
    assert _fieller_by_search(dp, ds, hi) == pytest.approx(0, abs=1e-9)
    assert _fieller_by_search(dp, ds, (lo + hi) / 2) < 0 < _fieller_by_search(dp, ds, hi + 0.01)
    # Spending not clearly different from zero: no bounded interval; one replication: none at all.
    assert report.roi_interval(dp, rng.normal(0, 30, 12)) == (-math.inf, math.inf)
    assert all(math.isnan(x) for x in report.roi_interval(dp[:1], ds[:1]))


def test_roi_with_its_interval_in_the_csv_the_table_and_the_headline(six_run) -> None:
    res, out = six_run
    roi = pd.read_csv(out / "roi.csv")
    assert tuple(roi.columns) == report.ROI_COLUMNS
    assert list(roi.policy) == [p for p in res.policies if p != res.baseline]
    assert output.is_result("roi.csv")
    reps = res.replications.set_index(["policy", "replication"]).sort_index()
    spend = sum(reps.loc["thin_service"][m] - reps.loc["uniform_everyone"][m]
                for m in ("spend_service", "spend_points", "spend_complaints")).to_numpy()
    profit = (reps.loc["thin_service"].profit - reps.loc["uniform_everyone"].profit).to_numpy()
    thin = roi.set_index("policy").loc["thin_service"]
    assert thin.roi == pytest.approx(res.roi("thin_service")["roi"])
    lo, hi = report.roi_interval(profit, spend)
    assert (thin.roi_ci_low, thin.roi_ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert thin.roi_ci_low < thin.roi < thin.roi_ci_high
    assert thin.extra_spend_ci_high < 0  # clearly less spent: a bounded interval
    # Arms spending the same budget have no return to reckon, and no interval.
    same = roi[roi.policy != "thin_service"]
    assert same.roi.isna().all() and same.roi_ci_low.isna().all()
    # Printed, on the page and in the headline: per 1 saved, its bounds turned round.
    st = report.Style("en", res.scenario.market.currency)
    (h,) = [h for h in report.result_headlines(res) if h.policy == "thin_service"]
    ci = f"[{st.money(-thin.roi_ci_high, True)}, {st.money(-thin.roi_ci_low, True)}]"
    assert report.roi_text(h, st).endswith(f"profit per 1 saved {ci}")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert html.escape(report.roi_text(h, st)) in page
    head = re.search(r'<div class="headline">(.*?)</div>', page, re.S).group(1)
    thin_line = next(p for p in head.split("</p>") if "thin_service earns" in p)
    assert f"Return on extra spending: {html.escape(report.roi_text(h, st))}." in thin_line
    assert "Return on extra spending" not in head.replace(thin_line, "")  # only where spending differs
    text = report.comparison_text(res.summary, res.comparison, res.policies, res.baseline,
                                  scenario=res.scenario, result=res)
    assert f"return on extra spending: {report.roi_text(h, st)}" in text
    # Read back from the files (a finished run printed again): the same interval.
    again = report.comparison_text(pd.read_csv(out / "summary.csv"), pd.read_csv(out / "comparison.csv"),
                                   res.policies, res.baseline, scenario=res.scenario, roi=roi)
    assert ci in again and again.count("Return on extra spending") == 1
    zh = report.Style("zh_CN", res.scenario.market.currency)
    assert "额外支出回报" in report.headline_text(h, res.scenario, zh)


def test_six_arms_fit_tables_wrapped_never_cut(six) -> None:
    res, page = six
    tables = re.findall(r'<div class="wide"><table class="cmp">.*?</table></div>', page, re.S)
    assert tables and page.count('<table class="cmp">') == len(tables)  # every table in a scroller
    assert ".wide{max-width:100%;overflow-x:auto" in page
    for t in tables:
        head = re.search(r"<thead><tr>(.*?)</tr></thead>", t, re.S).group(1)
        assert head.count("<th") <= report.ARMS_PER_TABLE + 1
        for row in re.findall(r"<tbody>(.*?)</tbody>", t, re.S)[0].split("</tr>")[:-1]:
            assert row.count("<td") == head.count("<th") - 1  # no row longer than its head
    for arm in res.policies:
        assert f"<th>{arm}" in page or f"<th>{arm} (baseline)" in page
        if arm != res.baseline:
            assert f"{arm} − uniform_everyone</th>" in page


def test_currency_roi_winner_and_every_pair(six) -> None:
    res, page = six
    assert "CNY (¥)" in page and page.count("¥") > 50
    thin = res.roi("thin_service")
    d_profit = _paired(res, "thin_service", "uniform_everyone", "profit")[0]
    d_spend = sum(_paired(res, "thin_service", "uniform_everyone", m)[0]
                  for m in ("spend_service", "spend_points", "spend_complaints"))
    assert d_spend < 0  # a fifth of the budget to service instead of 65 %
    assert thin["roi"] == pytest.approx(d_profit / d_spend)
    (h,) = [h for h in report.headlines(res.summary, res.comparison, res.scenario)
            if h.policy == "thin_service"]
    assert h.roi == pytest.approx(thin["roi"])
    st = report.Style("en", res.scenario.market.currency)
    assert h.extra_spend == pytest.approx(d_spend)
    assert report.roi_text(h, st) == (f"spends {st.money(-d_spend)} less on service, points and complaints: "
                                      f"{st.money(-d_profit / d_spend, True)} profit per 1 saved")
    assert report.roi_text(h, st) in page
    # The winner: the highest mean profit, ahead of the others by paired intervals.
    means = res.summary[res.summary.metric == "profit"].set_index("policy")["mean"]
    best = means.idxmax()
    assert report.winner_text(res, res.summary, res.comparison, res.scenario, st).startswith(
        f"{best} earns the most profit over 12 weeks")
    pw = res.pairwise(["profit"])
    assert len(pw) == 6 * 5
    row = pw[(pw.policy == "random_pick") & (pw.against == "churn_risk_targeting")].iloc[0]
    assert row.diff_mean == pytest.approx(_paired(res, "random_pick", "churn_risk_targeting", "profit")[0])
    assert "Every arm against every other" in page


def test_windows_asked_for_and_per_event(six) -> None:
    res, page = six
    assert "the window asked for: week 2 to 5 (4 weeks)" in page
    assert "competitor promotion: week 4 to 6 (3 weeks)" in page


# --------------------------------------------------------------------------- languages


@pytest.fixture(scope="module")
def chinese(result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zh") / "out"
    output.write_result(result, out, lang="zh_CN", window=(8, 12))
    return out


def test_a_chinese_report(chinese: Path, result) -> None:
    page = (chinese / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    for heading in ("多次重复的均值", "相对 data_driven 的配对差值", "时间窗口", "图表", "客群", "随机种子"):
        assert f">{heading}</h2>" in page, heading
    for word in ("流失率", "利润", "满意度", "16 周内", "每位客户每年", "指定的时间窗口：第 8–11 周（4 周）"):
        assert word in page, word
    for english in ("Means over replications", "Paired differences against", "per customer per year",
                    "Plots</h2>", "earns"):
        assert english not in page, english
    text = report.comparison_text(result.summary, result.comparison, result.policies, result.baseline,
                                  scenario=result.scenario, lang="zh_CN", result=result)
    assert "多次重复的均值：" in text and "流失率" in text and "配对差值" in text
    assert "Mean over replications" not in text


def test_chinese_plots_render_with_a_cjk_font(result) -> None:
    assert report.cjk_font() is not None, report.NO_CJK_FONT
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = report.figures(result, "zh_CN")
        pngs = [report.png_bytes(f) for f in figs.values()]
    assert not [w for w in caught if "missing from font" in str(w.message)], [str(w.message) for w in caught]
    assert all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    fig = figs["churn_curve.png"]
    labels = [ax.get_xlabel() for ax in fig.axes] + [t.get_text() for t in fig.axes[0].texts]
    assert "周" in labels and "需求转变" in labels
    assert fig.axes[0].get_ylabel() == "流失率"
    assert report.cjk_font() in fig.axes[0].yaxis.label.get_fontfamily()


def test_language_and_window_on_the_command_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "small.yaml"
    src.write_text(SMALL.replace("replications: 3", "replications: 2").replace("size: 800", "size: 300"),
                   encoding="utf-8")
    out = tmp_path / "zh"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})

    proc = cli("run", str(src), "--out", str(out), "--workers", "1", "--lang", "zh_CN", "--window", "8:12")
    assert proc.returncode == 0, proc.stderr
    assert "多次重复的均值：" in proc.stdout and "指定的时间窗口：第 8–11 周（4 周）" in proc.stdout
    assert "流失率" in (out / "report.html").read_text(encoding="utf-8")
    again = cli("report", str(out), "--lang", "en")
    assert again.returncode == 0, again.stderr
    assert "Means over replications" in (out / "report.html").read_text(encoding="utf-8")
    for args, name in ((("--lang", "fr"), "--lang"), (("--window", "12:8"), "--window"),
                       (("--window", "x"), "--window"), (("--window", "0:17"), "--window")):
        bad = cli("run", str(src), "--out", str(tmp_path / "never"), *args)
        assert bad.returncode == 2 and name in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
        assert not (tmp_path / "never").exists()
    missing = cli("report", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "OUT" in missing.stderr


# --------------------------------------------------------------------------- sweeps


def test_sweep_compares_any_arm_at_any_point(tmp_path: Path) -> None:
    from sim.sweep import compare_points, point_replications, run_sweep, sweep_text

    base = parse_text(SMALL.replace("size: 800", "size: 300").replace("replications: 3", "replications: 2")
                      .replace("horizon: 16", "horizon: 10"), "s.yaml")
    params = {"policies.stale_manager.biases.0.strength": [0, 1]}
    outcome = run_sweep(base, params, tmp_path, plots=False)
    pairs = pd.read_csv(tmp_path / "sweep_comparison.csv")
    assert output.is_result("sweep_comparison.csv")
    # Within each point every arm against every other, and each arm against itself at point 0.
    assert set(zip(pairs.point, pairs.policy, pairs.against_point, pairs.against_policy, strict=True)) == {
        (0, "data_driven", 0, "stale_manager"), (0, "stale_manager", 0, "data_driven"),
        (1, "data_driven", 1, "stale_manager"), (1, "stale_manager", 1, "data_driven"),
        (1, "data_driven", 0, "data_driven"), (1, "stale_manager", 0, "stale_manager")}
    # Across points, paired replication by replication (the points share the root seed).
    reps = {pt.index: point_replications(tmp_path, pt) for pt in outcome.points}
    a = reps[1][reps[1].policy == "stale_manager"].sort_values("replication").profit.to_numpy()
    b = reps[0][reps[0].policy == "data_driven"].sort_values("replication").profit.to_numpy()
    got = compare_points(reps, (1, "stale_manager"), (0, "data_driven"), ["profit"]).iloc[0]
    assert got.diff_mean == pytest.approx((a - b).mean())
    assert got.pct_mean == pytest.approx((a - b).mean() / b.mean())
    row = pairs[(pairs.point == 1) & (pairs.policy == "stale_manager") & (pairs.against_point == 0)
                & (pairs.metric == "profit")].iloc[0]
    mine = reps[1][reps[1].policy == "stale_manager"].sort_values("replication").profit.to_numpy()
    theirs = reps[0][reps[0].policy == "stale_manager"].sort_values("replication").profit.to_numpy()
    assert row.diff_mean == pytest.approx((mine - theirs).mean())
    text = sweep_text(outcome, base, "zh_CN")
    assert "相对 data_driven 的配对差值" in text and "point-001" in text


def test_the_scenario_chooses_the_language_and_lang_overrides_it(result) -> None:
    import dataclasses

    chinese = dataclasses.replace(result, scenario=result.scenario.model_copy(update={"language": "zh_CN"}))
    assert report.style_of(chinese).lang == "zh_CN"
    assert '<html lang="zh-CN">' in report.render_html(chinese, {}, "v")
    assert '<html lang="en">' in report.render_html(chinese, {}, "v", lang="en")
    from sim.loader import ScenarioError

    with pytest.raises(ScenarioError, match=r"fr.yaml:\d+: language: expected 'en' or 'zh_CN', found 'fr'"):
        parse_text(SMALL + "language: fr\n", "fr.yaml")


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without a font with Chinese characters: the lookup finds none."""
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    monkeypatch.setitem(report._font_notice, "given", False)  # a fresh process: not yet said


def test_without_a_cjk_font_the_plots_say_so_and_stay_in_english(result, no_cjk_font) -> None:
    with pytest.warns(report.FontWarning, match="no font with Chinese characters found.*fonts-noto-cjk"):
        fig = report.plot_metric(result, "profit", lang="zh_CN")
    assert fig.axes[0].get_ylabel() == "profit per week"


def test_without_a_cjk_font_one_notice_replaces_the_missing_glyph_warnings(result, no_cjk_font) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = report.figures(result, "zh_CN")
        for fig in figs.values():
            fig.suptitle("陈旧经理的利润")  # a name in Chinese: boxes without the font
            assert report.png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "missing from font" in m], said
    assert len(said) == 1 and caught[0].category is report.FontWarning, said
    assert "fonts-noto-cjk" in said[0] and "boxes" in said[0]
    # Any other warning of the drawing comes through as it was.
    fig = Figure()
    draw = fig.savefig

    def savefig(*args, **kwargs):
        warnings.warn("something else", RuntimeWarning, stacklevel=1)
        return draw(*args, **kwargs)

    fig.savefig = savefig
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report.png_bytes(fig)
    assert [(w.category, str(w.message)) for w in caught] == [(RuntimeWarning, "something else")]


def test_without_a_cjk_font_the_command_says_it_in_one_line(tmp_path: Path, no_cjk_font) -> None:
    from typer.testing import CliRunner

    from sim.cli import app

    src = tmp_path / "zh.yaml"
    src.write_text(SMALL.replace("stale_manager", "陈旧经理").replace("replications: 3", "replications: 2")
                   .replace("size: 800", "size: 300"), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(src), "--out", str(tmp_path / "out"), "--workers", "1",
                                   "--lang", "zh_CN"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [f"warning: {report.NO_CJK_FONT}"]
    assert "apt-get install fonts-noto-cjk" in res.stderr and "boxes" in res.stderr
    assert (tmp_path / "out" / "churn_curve.png").is_file()
