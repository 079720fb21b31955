"""Sweeps: paths, the grid, outputs, and resuming after an interruption."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from scenario_text import two_arm_yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.loader import ScenarioError, parse_text
from sim.metrics import HEADLINE, METRICS
from sim.sweep import (
    grid,
    grid_positions,
    parameters_from,
    parse_set,
    plot_sweep,
    point_done,
    run_sweep,
    set_path,
    sweep_frame,
)

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

SMALL = two_arm_yaml("sweep-small", horizon=16, replications=2, seed=11, size=800, shift_at=6)
SETS = ["--set", "market.competitor_pull=0.1,0.4",
        "--set", "policies.stale_manager.biases.stale_data.strength=0.8"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "sweep-small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(small: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sweep-full") / "full"
    proc = cli("sweep", str(small), *SETS, "--out", str(out), "--workers", "1")
    return proc, out


# --------------------------------------------------------------------------- parameters


def test_parse_set_reads_yaml_scalars() -> None:
    assert parse_set("a.b=0.1,2,abc,true,null") == ("a.b", [0.1, 2, "abc", True, None])
    with pytest.raises(ScenarioError):
        parse_set("no-equals-sign")
    with pytest.raises(ScenarioError):
        parse_set("a.b=1,,2")


def test_set_path_by_index_name_and_kind(small: Path) -> None:
    sc = parse_text(small.read_text(), str(small))
    data = sc.model_dump(mode="json")
    set_path(data, "policies.stale_manager.biases.0.strength", 0.1)
    set_path(data, "policies.1.biases.stale_data.snapshot_at", 3)
    set_path(data, "population.segments.regulars.churn", 0.01)
    set_path(data, "market.competitor_pull", 0.5)
    bias = data["policies"][1]["biases"][0]
    assert (bias["strength"], bias["snapshot_at"]) == (0.1, 3)
    assert data["population"]["segments"][0]["churn"] == 0.01
    assert data["market"]["competitor_pull"] == 0.5


@pytest.mark.parametrize("path, words", [
    ("market.competitor_pul", "no field 'competitor_pul'"),
    ("policies.ghost.kind", "no item 'ghost'"),
    ("policies.7.kind", "found index 7"),
    ("horizon.deeper", "is a value"),
])
def test_bad_path_names_it(small: Path, path: str, words: str) -> None:
    sc = parse_text(small.read_text(), str(small))
    with pytest.raises(ScenarioError) as info:
        grid(sc, {path: [1]})
    (problem,) = info.value.problems
    assert problem.field == path
    assert words in problem.message


def test_grid_is_the_cartesian_product(small: Path) -> None:
    sc = parse_text(small.read_text(), str(small))
    points = grid(sc, {"market.competitor_pull": [0.1, 0.2, 0.3], "population.size": [500, 900]},
                  {"replications": 4})
    assert len(points) == 6
    assert [p.values for p in points[:2]] == [
        {"market.competitor_pull": 0.1, "population.size": 500},
        {"market.competitor_pull": 0.1, "population.size": 900}]
    assert [p.folder for p in points] == [f"point-{i:03d}" for i in range(6)]
    last = points[-1].scenario
    assert (last.market.competitor_pull, last.population.size) == (0.3, 900)
    assert all(p.scenario.replications == 4 and p.scenario.sweep is None for p in points)


def test_grid_positions_follow_the_grid(small: Path) -> None:
    sc = parse_text(small.read_text(), str(small))
    params = {"market.competitor_pull": [0, 0.5, 1], "population.size": [500, 900]}
    points = grid(sc, params)
    at = grid_positions([p.index for p in points], params)
    for p in points:
        for path, values in params.items():
            assert values[at[path][p.index]] == p.values[path]


def test_sweep_block_in_the_file(small: Path) -> None:
    text = small.read_text() + "sweep:\n  parameters:\n    market.competitor_pull: [0.1, 0.3]\n"
    sc = parse_text(text, "with-sweep.yaml")
    assert parameters_from(sc) == {"market.competitor_pull": [0.1, 0.3]}
    assert parameters_from(sc, ["population.size=100"]) == {"population.size": [100]}
    with pytest.raises(ScenarioError):
        parameters_from(parse_text(small.read_text(), "plain.yaml"))


# --------------------------------------------------------------------------- CLI


def test_sweep_outputs(uninterrupted) -> None:
    proc, out = uninterrupted
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for i in range(2):
        folder = out / f"point-{i:03d}"
        for name in ("summary.csv", "comparison.csv", "timeseries.csv", "segments.csv",
                     "report.html", "scenario.resolved.yaml", "done"):
            assert (folder / name).is_file(), (folder, name)
    for metric in HEADLINE:
        assert (out / f"sweep_{metric}.png").read_bytes()[:4] == b"\x89PNG"
    frame = pd.read_csv(out / "sweep.csv")
    assert list(frame.columns[:5]) == ["point", "market.competitor_pull",
                                       "policies.stale_manager.biases.stale_data.strength",
                                       "policy", "metric"]
    assert len(frame) == 2 * 2 * len(METRICS)
    assert sorted(frame["market.competitor_pull"].unique()) == [0.1, 0.4]
    stale = frame[frame.policy == "stale_manager"]
    assert stale.diff_mean.notna().all()
    assert frame[frame.policy == "data_driven"].diff_mean.isna().all()
    assert "point-001" in proc.stdout


def _plotted(fig) -> list[tuple[str, list[float], list[float]]]:
    """Every data line of a figure: label, x and y (the zero line is left out)."""
    return [(line.get_label(), list(line.get_xdata()), list(line.get_ydata()))
            for ax in fig.axes for line in ax.lines if not line.get_label().startswith("_")]


def test_readme_sweep_example_draws_every_point(small: Path, tmp_path: Path) -> None:
    # The README's `--set ...strength=0,0.5,1`: YAML reads 0 and 1 as integers, sweep.csv
    # gives them back as 0.0 and 1.0; each line must still have its three points.
    option = "policies.stale_manager.biases.0.strength=0,0.5,1"
    path = option.partition("=")[0]
    out = tmp_path / "strength"
    proc = cli("sweep", str(small), "--set", option, "--out", str(out), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(out / "sweep.csv")
    assert sorted(frame[path].unique()) == [0, 0.5, 1]
    for metric in HEADLINE:
        assert (out / f"sweep_{metric}.png").is_file()

    sc = parse_text(small.read_text(), str(small))
    params = parameters_from(sc, [option])
    assert params == {path: [0, 0.5, 1]}
    for source in (frame, sweep_frame(out, grid(sc, params))):  # as re-read, and as plotted by the run
        lines = _plotted(plot_sweep(source, params, "churn_rate", ["data_driven", "stale_manager"],
                                    "data_driven"))
        assert [label for label, _, _ in lines] == ["data_driven", "stale_manager", "stale_manager"]
        for label, x, y in lines:
            assert x == [0, 0.5, 1], label
            assert all(map(math.isfinite, y)), label


def test_sweep_plot_of_two_parameters_draws_every_combination(small: Path, tmp_path: Path) -> None:
    sc = parse_text(small.read_text(), str(small))
    params = {"market.competitor_pull": [0.1, 0.3], "policies.stale_manager.biases.0.strength": [0, 1]}
    run_sweep(sc, params, tmp_path, replications=2, plots=False)
    frame = pd.read_csv(tmp_path / "sweep.csv")
    lines = _plotted(plot_sweep(frame, params, "profit", ["data_driven", "stale_manager"]))
    assert len(lines) == 4  # two arms × two strengths, no difference panel without a baseline
    for label, x, y in lines:
        assert x == [0.1, 0.3], label
        assert all(map(math.isfinite, y)), label
    assert "stale_manager, policies.stale_manager.biases.0.strength=0" in [lb for lb, _, _ in lines]


def _interrupt_in_the_second_point(small: Path, out: Path, **kwargs):
    """Run the sweep into `out` and press Ctrl-C half-way through its second point.

    Returns the scenario and the sweep's parameters.
    """
    sc = parse_text(small.read_text(), str(small))
    params = parameters_from(sc, SETS[1::2])

    def ctrl_c(point: int, points: int, done: int, total: int) -> None:
        if point == 1 and done == 1:  # half-way through the second point
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sc, params, out, workers=1, progress=ctrl_c, **kwargs)
    return sc, params


def test_resume_after_interruption_gives_the_same_sweep_csv(uninterrupted, small: Path,
                                                             tmp_path: Path) -> None:
    _, full = uninterrupted
    out = tmp_path / "interrupted"
    _interrupt_in_the_second_point(small, out)
    assert (out / "point-000" / "done").is_file()
    assert not (out / "point-001" / "done").exists()
    assert not (out / "sweep.csv").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    kept = (out / "point-000" / "summary.csv").stat().st_mtime_ns

    proc = cli("sweep", str(small), *SETS, "--out", str(out), "--workers", "1", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "(resumed)" in proc.stdout
    assert (out / "point-000" / "summary.csv").stat().st_mtime_ns == kept
    assert (out / "sweep.csv").read_bytes() == (full / "sweep.csv").read_bytes()
    for name in ("summary.csv", "comparison.csv"):
        assert ((out / "point-001" / name).read_bytes()
                == (full / "point-001" / name).read_bytes())


def test_resume_reuses_the_replications_of_an_interrupted_point(uninterrupted, small: Path,
                                                                tmp_path: Path) -> None:
    _, full = uninterrupted
    out = tmp_path / "mid-point"
    sc, params = _interrupt_in_the_second_point(small, out, plots=False)
    chunk = out / "point-001" / "replications" / "rep-00000.npz"
    kept = chunk.stat().st_mtime_ns
    seen: list[tuple[int, int, int]] = []
    run_sweep(sc, params, out, workers=1, plots=False, resume=True,
              progress=lambda i, n, d, t: seen.append((i, d, t)))
    assert seen == [(1, 0, 2), (1, 1, 2), (1, 2, 2)]  # only replication 1 of point 1 ran
    assert chunk.stat().st_mtime_ns == kept
    assert (out / "sweep.csv").read_bytes() == (full / "sweep.csv").read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")
def test_killed_sweep_resumes_to_identical_outputs(small: Path, tmp_path: Path) -> None:
    args = [*SETS, "--workers", "1", "--replications", "6"]
    full = tmp_path / "full"  # straight through (no plots: they do not change the CSVs)
    sc = parse_text(small.read_text(), str(small))
    run_sweep(sc, parameters_from(sc, SETS[1::2]), full, replications=6, plots=False)

    out = tmp_path / "killed"
    chunks = out / "point-001" / "replications"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(small), *args,
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(chunks.glob("rep-*.npz"))) >= 2:
                proc.send_signal(signal.SIGKILL)  # mid-way through the second point
                break
            time.sleep(0.01)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (out / "point-000" / "done").is_file()
    assert not (out / "point-001" / "done").exists()
    first = (out / "point-000" / "summary.csv").stat().st_mtime_ns
    kept = {p.name: p.stat().st_mtime_ns for p in chunks.glob("rep-*.npz")}
    assert 2 <= len(kept) < 6

    res = runner.invoke(app, ["sweep", str(small), *args, "--out", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert (out / "point-000" / "summary.csv").stat().st_mtime_ns == first
    for name, mtime in kept.items():
        assert (chunks / name).stat().st_mtime_ns == mtime, name
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert (out / "sweep.csv").read_bytes() == (full / "sweep.csv").read_bytes()
    for point in ("point-000", "point-001"):
        for name in ("summary.csv", "comparison.csv", "timeseries.csv", "segments.csv"):
            assert (out / point / name).read_bytes() == (full / point / name).read_bytes()


def test_done_marker_belongs_to_its_point(uninterrupted, small: Path) -> None:
    _, full = uninterrupted
    sc = parse_text(small.read_text(), str(small))
    same = grid(sc, parameters_from(sc, SETS[1::2]))
    other = grid(sc, {"market.competitor_pull": [0.2]})
    assert point_done(full / "point-000", same[0].scenario)
    assert not point_done(full / "point-000", other[0].scenario)


def test_bad_path_exits_2(small: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["sweep", str(small), "--set", "market.nope=1,2",
                              "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert res.stderr.startswith("--set: market.nope: ")
    assert not (tmp_path / "x").exists()


def test_bad_value_exits_2(small: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["sweep", str(small), "--set", "market.margin=0.3,1.5",
                              "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "market.margin" in res.stderr and "1.5" in res.stderr
    assert not (tmp_path / "x").exists()


def test_nothing_to_sweep_exits_2(small: Path) -> None:
    res = runner.invoke(app, ["sweep", str(small)])
    assert res.exit_code == 2
    assert "nothing to sweep" in res.stderr
