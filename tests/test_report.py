"""Plots, the self-contained report and the written outputs."""

from __future__ import annotations

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


def test_report_contains_table_scenario_seeds_and_version(written: Path, result) -> None:
    page = (written / "report.html").read_text(encoding="utf-8")
    assert '<table class="cmp">' in page
    for metric in HEADLINE:
        assert f">{metric}</th>" in page
    assert "stale_manager − data_driven" in page
    assert "data_driven (baseline)" in page
    # The scenario, escaped, with its seeds and the version.
    assert "Report test &lt;with&gt; &quot;characters&quot; &amp; an ampersand." in page
    assert "competitor_pull:" in page
    for seed in result.seeds:
        assert str(seed) in page
    assert f"retention-lab {sim.__version__}" in page


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
    assert report.fmt_p(0.0001) == "<0.001"
