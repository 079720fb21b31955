"""The page of a sweep: the README's example drawn whole, the comparison across points, languages."""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from scenario_text import two_arm_yaml
from typer.testing import CliRunner

from sim import report
from sim.cli import app
from sim.loader import load_scenario
from sim.metrics import HEADLINE
from sim.output import foreign_files
from sim.sweep import parameters_from, plot_sweep, run_sweep, set_values

ROOT = Path(__file__).resolve().parent.parent


def readme_sweep() -> list[str]:
    """The README's sweep example, as its words."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("retention-lab sweep "))
    return shlex.split(line.partition("#")[0])[1:]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory):
    """The README's sweep, on a smaller market with a currency: scenario, parameters, folder, outcome."""
    words = readme_sweep()
    assert words[:2] == ["sweep", "quickstart"]
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    sc = set_values(load_scenario(words[1]), ["population.size=400", "horizon=12",
                                              "market.currency={code: CNY, symbol: ¥}"])
    params = parameters_from(sc, sets)
    out = tmp_path_factory.mktemp("readme-sweep") / "out"
    outcome = run_sweep(sc, params, out, replications=2, workers=1)
    return sc, params, out, outcome


def _section(page: str, metric: str) -> str:
    return re.search(rf'<details( open)? data-metric="{metric}">(.*?)</details>', page, re.S).group(2)


def _rows(table: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1), re.S)


def test_the_readme_sweep_draws_every_point(swept) -> None:
    sc, params, out, _ = swept
    (path, values), = params.items()
    assert values == [0, 0.5, 1]
    frame = pd.read_csv(out / "sweep.csv")  # read back: 0 and 1 come back as 0.0 and 1.0
    arms = [p.name for p in sc.policies]
    for metric in HEADLINE:
        fig = plot_sweep(frame, params, metric, arms, sc.baseline_policy, scenario=sc)
        lines = [ln for ax in fig.axes for ln in ax.lines if not ln.get_label().startswith("_")]
        assert len(lines) == 3  # both arms' means, and the biased arm's difference
        for line in lines:
            assert list(line.get_xdata()) == [0, 0.5, 1], (metric, line.get_label())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"<code>{path}</code> = 0, 0.5, 1" in page
    for metric in HEADLINE:
        rows = _rows(_section(page, metric).split("<table", 2)[1])  # the means: a row per point
        assert [re.search(r">(point-\d{3})</a>", r).group(1) for r in rows] == [
            "point-000", "point-001", "point-002"]


def test_the_sweep_page_is_self_contained_with_its_plots(swept) -> None:
    _, _, out, outcome = swept
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "<link" not in page
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == len(HEADLINE) and all(s.startswith("data:image/png;base64,") for s in images)
    for metric in HEADLINE:  # each metric's own plot, inside its section
        assert f'alt="sweep_{metric}.png"' in _section(page, metric)
    # The point reports and the CSV files it links are there.
    for href in re.findall(r'<a href="([^"]+)"', page):
        assert (out / href).is_file(), href
    assert {f"{pt.folder}/report.html" for pt in outcome.points} <= set(re.findall(r'href="([^"]+)"', page))
    assert foreign_files(out) == []


def test_the_sweep_page_compares_across_points_paired(swept) -> None:
    sc, _, out, outcome = swept
    page = (out / "report.html").read_text(encoding="utf-8")
    pairs = pd.read_csv(out / "sweep_comparison.csv")
    frame = pd.read_csv(out / "sweep.csv")
    st = report.Style("en", sc.market.currency)
    base, arm = sc.baseline_policy, "likes_some_customers"
    profit = _section(page, "profit")
    means, vs_base, vs_first = profit.split("<table")[1:]
    # Means: each arm at each point, with its interval, in the currency.
    for pt, row in zip(outcome.points, _rows(means), strict=True):
        m = frame[(frame.point == pt.index) & (frame.policy == arm) & (frame.metric == "profit")].iloc[0]
        assert html.escape(st.value(m["mean"], "profit")) in row and "¥" in row
        assert html.escape(st.ci(m.ci_low, m.ci_high, "profit")) in row
    # Against the baseline at the same point: the paired difference, its interval, %, per year, p.
    for pt, row in zip(outcome.points, _rows(vs_base), strict=True):
        r = pairs[(pairs.point == pt.index) & (pairs.policy == arm) & (pairs.against_point == pt.index)
                  & (pairs.against_policy == base) & (pairs.metric == "profit")].iloc[0]
        assert html.escape(st.value(r.diff_mean, "profit", diff=True)) in row
        assert html.escape(st.ci(r.diff_ci_low, r.diff_ci_high, "profit", diff=True)) in row
        assert html.escape(st.ci(r.pct_ci_low, r.pct_ci_high, pct=True)) in row
        per_year = r.diff_mean / 400 / (12 / 52)
        assert html.escape(st.value(per_year, "profit", diff=True)) + " per customer per year" in row
        assert ('class="clear"' in row) == (r.diff_ci_low > 0 or r.diff_ci_high < 0)
    # Against the same arm at the first point: the later points only.
    rows = _rows(vs_first)
    assert len(rows) == 2 and "point-000" not in "".join(rows)
    r = pairs[(pairs.point == 2) & (pairs.policy == arm) & (pairs.against_point == 0)
              & (pairs.against_policy == arm) & (pairs.metric == "profit")].iloc[0]
    assert html.escape(st.value(r.diff_mean, "profit", diff=True)) in rows[1]
    # Every total with its time basis, stocks at the end.
    assert "over 12 weeks" in _section(page, "revenue")
    assert "at the end (week 12)" in _section(page, "satisfaction")
    assert "CNY (¥)" in page


def test_the_sweep_page_in_chinese(swept) -> None:
    sc, params, out, outcome = swept
    frame, pairs = pd.read_csv(out / "sweep.csv"), pd.read_csv(out / "sweep_comparison.csv")
    page = report.render_sweep_html(frame, pairs, outcome.points, sc, {}, "v", lang="zh_CN")
    assert '<html lang="zh-CN">' in page
    for words in ("参数扫描", "参数点之间的比较", "扫描的参数", "均值，95% 置信区间", "利润", "12 周内",
                  "每位客户每年", "同一参数点上各方案减去 data_driven（配对）", "data_driven（基准）"):
        assert words in page, words
    for english in ("Comparison across points", "parameters swept", "per customer per year", "Each arm"):
        assert english not in page, english


def test_sweep_writes_its_page_from_the_command_line(tmp_path: Path) -> None:
    src = tmp_path / "small.yaml"
    src.write_text(two_arm_yaml("page-small", horizon=10, replications=2, seed=3, size=300, shift_at=4),
                   encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(src), "--set", "horizon=8,10", "--out", str(out),
                                   "--workers", "1", "--lang", "zh_CN"])
    assert res.exit_code == 0, res.output
    assert f"report:    {out / 'report.html'}" in res.stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "参数扫描" in page and "Comparison across points" not in page
    # The points differ in horizon: each row says what its totals are summed over.
    revenue = _section(page, "revenue")
    assert "8 周内" in revenue and "10 周内" in revenue
    assert foreign_files(out) == []
