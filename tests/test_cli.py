"""The `retention-lab` command: outputs, exit codes, reproducibility, progress, Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from scenario_text import two_arm_yaml
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.loader import builtin_names, load_scenario
from sim.metrics import METRICS
from sim.output import read_resolved
from sim.rng import replication_seeds

ROOT = Path(__file__).resolve().parent.parent
MALFORMED = Path(__file__).resolve().parent / "malformed"

SMALL = two_arm_yaml("cli-small", horizon=20, replications=3, seed=7, size=1000, shift_at=8,
                     description="A small comparison for the command-line tests. Two arms, a needs shift.",
                     baseline=True)

CSVS = ("summary.csv", "comparison.csv", "timeseries.csv", "segments.csv")
PNGS = ("churn_curve.png", "revenue_curve.png", "satisfaction_loyalty.png", "comparison.png")

runner = CliRunner()


def cli(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess[str]:
    """Run `python -m sim ARGS` in a subprocess (stdout/stderr captured: not a TTY)."""
    env = kw.pop("env", None) or {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RETENTION_LAB_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300, **kw)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "cli-small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run1(small: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run") / "w1"
    proc = cli("run", str(small), "--out", str(out), "--workers", "1")
    return proc, out


# --------------------------------------------------------------------------- run


def test_run_writes_every_output(run1) -> None:
    proc, out = run1
    assert proc.returncode == 0, proc.stderr
    for name in (*CSVS, "roi.csv", *PNGS, "report.html", "scenario.resolved.yaml"):
        assert (out / name).is_file(), name
    for name in PNGS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["policy", "metric", "mean", "ci_low", "ci_high", "n"]
    assert len(summary) == 2 * len(METRICS)
    assert set(summary.policy) == {"data_driven", "stale_manager"}
    assert (summary.n == 3).all()
    assert (summary.ci_low <= summary["mean"] + 1e-12).all()
    assert (summary["mean"] <= summary.ci_high + 1e-12).all()

    comparison = pd.read_csv(out / "comparison.csv")
    assert list(comparison.columns) == ["policy", "metric", "diff_mean", "diff_ci_low",
                                        "diff_ci_high", "p_value"]
    assert set(comparison.policy) == {"stale_manager"}
    assert list(comparison.metric) == list(METRICS)

    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == ["replication", "policy", "period", *METRICS]
    assert len(ts) == 3 * 2 * 20
    assert sorted(ts.period.unique()) == list(range(20))

    seg = pd.read_csv(out / "segments.csv")
    assert {"policy", "segment", "churn_rate", "revenue", "service"} <= set(seg.columns)
    assert len(seg) == 2 * 4  # two arms × the four default segments


def test_run_set_changes_fields_for_this_run_and_the_resolved_scenario_shows_them(
        run1, small: Path, tmp_path: Path) -> None:
    _, plain = run1
    out = tmp_path / "set"
    res = runner.invoke(app, ["run", str(small), "--out", str(out), "--workers", "1",
                              "--set", "market.competitor_pull=0.35",
                              "--set", "policies.stale_manager.biases.stale_data.strength=0.5",
                              "--set", "population.size=900"])
    assert res.exit_code == 0, res.output
    resolved = load_scenario(out / "scenario.resolved.yaml")
    assert resolved.market.competitor_pull == 0.35
    assert resolved.policies[1].biases[0].strength == 0.5
    assert resolved.population.size == 900
    # Nothing else changed: the file itself with those values, and so other results.
    before = load_scenario(small)
    assert resolved.model_dump(exclude={"market", "policies", "population"}) == before.model_dump(
        exclude={"market", "policies", "population"})
    assert resolved.market.model_dump(exclude={"competitor_pull"}) == before.market.model_dump(
        exclude={"competitor_pull"})
    assert (out / "summary.csv").read_bytes() != (plain / "summary.csv").read_bytes()
    # The resolved file reproduces the run without --set.
    again = tmp_path / "again"
    res = runner.invoke(app, ["run", str(out / "scenario.resolved.yaml"), "--out", str(again),
                              "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert (again / "summary.csv").read_bytes() == (out / "summary.csv").read_bytes()


@pytest.mark.parametrize(("option", "field", "says"), [
    ("market.competitor_pul=0.3", "market.competitor_pul", "market has no field 'competitor_pul'; fields are"),
    ("market.competitor_pull=lots", "market.competitor_pull", "expected a number, found 'lots'"),
    ("market.competitor_pull=-1", "market.competitor_pull", "expected greater than or equal to 0"),
    ("horizon=true", "horizon", "expected an integer, found True"),
    ("policies.nobody.kind=clv", "policies.nobody.kind", "policies has no item 'nobody'"),
    ("policies.stale_manager.kind=psychic", "policies.1.kind", "expected one of uniform, random"),
    ("policies.0.options.retarget_evry=3", "policies.0.options.retarget_evry",
     "unknown option for policy kind churn_risk; its options are: "),
    ("market.competitor_pull=0.1,0.3", "market.competitor_pull",
     "expected one value, found '0.1,0.3'; to compare several values sweep them"),
    ("market.competitor_pull=", "market.competitor_pull", "expected a value after '='"),
    ("competitor_pull", "competitor_pull", "expected PATH=VALUE, found no '='"),
])
def test_run_set_refuses_a_bad_field_or_value(small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             option: str, field: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)  # the default results/ folder would be made here
    out = tmp_path / "never"
    for args in (["--out", str(out)], []):
        res = runner.invoke(app, ["run", str(small), "--set", option, *args])
        assert res.exit_code == 2, res.output
        assert res.stderr.startswith(f"--set: {field}"), res.stderr
        assert says in res.stderr and "Traceback" not in res.stderr
        assert res.stdout == ""
    assert not out.exists() and not (tmp_path / "results").exists()


def test_run_set_takes_each_path_once(small: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(small), "--out", str(tmp_path / "never"),
                              "--set", "horizon=10", "--set", "horizon=12"])
    assert res.exit_code == 2
    assert res.stderr == "--set: horizon: expected each path once, found it twice\n"
    assert not (tmp_path / "never").exists()


def test_run_prints_table_and_folder_without_progress_bar(run1) -> None:
    proc, out = run1
    # Not a TTY: no progress bar, nothing at all on stderr.
    assert proc.stderr == ""
    assert "stale_manager − data_driven" in proc.stdout
    assert "95 % CI" in proc.stdout
    for metric in ("churn_rate", "revenue", "profit", "satisfaction", "loyalty"):
        assert metric in proc.stdout
    assert f"results: {out}" in proc.stdout
    assert str(out / "report.html") in proc.stdout


def test_workers_do_not_change_outputs(run1, small: Path, tmp_path: Path) -> None:
    _, out1 = run1
    out2 = tmp_path / "w2"
    proc = cli("run", str(small), "--out", str(out2), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    for name in (*CSVS, "scenario.resolved.yaml"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_resolved_scenario_reproduces_the_run(run1, small: Path, tmp_path: Path) -> None:
    _, out1 = run1
    resolved = out1 / "scenario.resolved.yaml"
    text = resolved.read_text(encoding="utf-8")
    meta = read_resolved(text)
    assert meta["version"] == sim.__version__
    assert meta["root_seed"] == 7
    assert meta["seeds"] == replication_seeds(7, 3)
    assert load_scenario(resolved) == load_scenario(small)

    out3 = tmp_path / "again"
    proc = cli("run", str(resolved), "--out", str(out3), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    for name in ("summary.csv", "comparison.csv", "scenario.resolved.yaml"):
        assert (out1 / name).read_bytes() == (out3 / name).read_bytes(), name


def test_resume_does_not_rerun_a_complete_folder(run1, small: Path) -> None:
    _, out = run1
    before = (out / "summary.csv").stat().st_mtime_ns
    res = runner.invoke(app, ["run", str(small), "--out", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert "already holds this run" in res.stdout
    assert (out / "summary.csv").stat().st_mtime_ns == before
    assert "stale_manager − data_driven" in res.stdout


def _kill_after(args: list[str], chunks: Path, count: int) -> int:
    """Start `python -m sim ARGS`; SIGKILL it once `count` replication files are in `chunks`."""
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(chunks.glob("rep-*.npz"))) >= count:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")
def test_killed_run_resumes_to_identical_outputs(small: Path, tmp_path: Path) -> None:
    args = ["--workers", "1", "--replications", "10"]
    straight = tmp_path / "straight"
    res = runner.invoke(app, ["run", str(small), "--out", str(straight), *args])
    assert res.exit_code == 0, res.output

    out = tmp_path / "killed"
    code = _kill_after(["run", str(small), "--out", str(out), *args], out / "replications", 3)
    assert code == -signal.SIGKILL
    assert not (out / "scenario.resolved.yaml").exists()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "replications").glob("rep-*.npz")}
    assert 3 <= len(kept) < 10

    res = runner.invoke(app, ["run", str(small), "--out", str(out), *args, "--resume"])
    assert res.exit_code == 0, res.output
    for name, mtime in kept.items():  # finished replications were not computed again
        assert (out / "replications" / name).stat().st_mtime_ns == mtime, name
    assert len(list((out / "replications").glob("rep-*.npz"))) == 10
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for name in (*CSVS, "scenario.resolved.yaml"):
        assert (out / name).read_bytes() == (straight / name).read_bytes(), name

    # Resuming that folder with another seed is refused, and nothing is touched.
    before = (out / "summary.csv").stat().st_mtime_ns
    res = runner.invoke(app, ["run", str(small), "--out", str(out), *args, "--seed", "8",
                              "--resume"])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ")
    assert "different run" in res.stderr and "cannot resume" in res.stderr
    assert "Traceback" not in res.output
    assert (out / "summary.csv").stat().st_mtime_ns == before


def test_resume_needs_out(small: Path) -> None:
    res = runner.invoke(app, ["run", str(small), "--resume"])
    assert res.exit_code == 2
    assert "--resume needs --out" in res.stderr


def test_progress_bar_on_a_terminal(small: Path, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "run", str(small), "--out", str(tmp_path / "tty"),
             "--workers", "1", "--replications", "2"],
            stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        stdout, _ = proc.communicate(timeout=300)
    finally:
        os.close(master)
    err = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace"))  # colours
    assert proc.returncode == 0
    assert "2/2 replications elapsed 0:00:" in err
    assert "ETA 0:00:00" in err and "━" in err
    assert b"results:" in stdout  # the table and folder go to stdout, not the terminal bar


# --------------------------------------------------------------------------- exit codes


def test_ctrl_c_exits_130_and_writes_nothing(small: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.experiment, "run", interrupted)
    out = tmp_path / "never"
    res = runner.invoke(app, ["run", str(small), "--out", str(out)])
    assert res.exit_code == 130
    assert res.stderr.strip().count("\n") == 0
    assert res.stderr.startswith("interrupted:")
    assert not out.exists()


def test_ctrl_c_while_writing_leaves_only_whole_files(small: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.report, "render_html", interrupted)
    out = tmp_path / "half"
    res = runner.invoke(app, ["run", str(small), "--out", str(out), "--workers", "1",
                              "--replications", "2"])
    assert res.exit_code == 130
    assert "interrupted" in res.stderr
    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert "report.html" not in names and "scenario.resolved.yaml" not in names
    assert pd.read_csv(out / "summary.csv").shape == (2 * len(METRICS), 6)


def test_failure_while_running_exits_1_without_traceback(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiment

    def broken(*args, **kwargs):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(sim.experiment, "run", broken)
    res = runner.invoke(app, ["run", str(small), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1
    assert "the model fell over" in res.stderr
    assert "Traceback" not in res.output


@pytest.mark.parametrize("args", [
    ["run"],
    ["run", "default", "--workers", "-1"],
    ["run", "default", "--backend", "cloud"],
    ["run", "default", "--bogus"],
    ["nonsense-command"],
    ["show"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = cli(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "Error" in proc.stderr or "error" in proc.stderr


def test_scheduler_needs_dask_backend() -> None:
    res = runner.invoke(app, ["run", "default", "--scheduler", "tcp://127.0.0.1:8786"])
    assert res.exit_code == 2
    assert "--backend dask" in res.stderr


def test_run_of_a_bad_file_exits_2() -> None:
    bad = MALFORMED / "wrong_type.yaml"
    proc = cli("run", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}:2: horizon: ")
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- other commands


def test_list_one_line_per_builtin() -> None:
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    assert len(lines) == len(builtin_names())
    assert any(line.startswith("default ") for line in lines)
    desc = load_scenario("default").description.split(".")[0]
    assert desc in res.stdout


def test_show_prints_the_builtin_yaml() -> None:
    res = runner.invoke(app, ["show", "default"])
    assert res.exit_code == 0
    assert res.stdout == (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")


def test_show_unknown_name_exits_2() -> None:
    res = runner.invoke(app, ["show", "no-such-scenario"])
    assert res.exit_code == 2
    assert "default" in res.stderr


def test_schema_is_the_scenario_json_schema() -> None:
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert schema == json.loads(json.dumps(sim.Scenario.model_json_schema()))
    assert {"name", "policies", "population", "market"} <= set(schema["properties"])


def test_validate_good_and_bad(small: Path) -> None:
    res = runner.invoke(app, ["validate", str(small), "default"])
    assert res.exit_code == 0
    assert res.stdout.count(": ok") == 2
    bad = MALFORMED / "unknown_key.yaml"
    res = runner.invoke(app, ["validate", str(small), str(bad)])
    assert res.exit_code == 2
    assert res.stderr.startswith(f"{bad}:3: populaton: ")


def test_validate_says_what_observed_targets_solve_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "observed.yaml"
    path.write_text("""name: observed
policies: [{name: a, kind: uniform}]
population:
  segments:
    - {name: regulars, share: 0.6, observed: {annual_churn: 0.18, nps: 20}}
    - {name: others, share: 0.4}
""", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0
    ok, note, *rest = res.stdout.splitlines()
    assert ok.startswith(f"{path}: ok (observed: 1 policies") and not rest
    assert note == ("  segment regulars: `churn`, `switching`, `advocacy` solved at run time from observed "
                    "annual_churn 0.18, nps 20 (shown in scenario.resolved.yaml)")


def test_workshop_missing_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sim.workshop.cli", None)
    res = runner.invoke(app, ["workshop", "serve", "--scenario", "default"])
    assert res.exit_code == 1
    assert "workshop" in res.stderr
    assert "Traceback" not in res.output


def test_help_lists_every_command() -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    for command in ("run", "validate", "list", "show", "schema", "sweep", "workshop"):
        assert command in proc.stdout
