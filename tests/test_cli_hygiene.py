"""The command line around a run: the results folder it writes to, Ctrl-C at any moment, progress."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from scenario_text import two_arm_yaml
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.loader import parse_text
from sim.output import foreign_files, read_resolved

ROOT = Path(__file__).resolve().parent.parent
SMALL = two_arm_yaml("hygiene", horizon=12, replications=2, seed=7, size=600, shift_at=5)
FAST = ["--workers", "1"]

runner = CliRunner()


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m sim ARGS` in a subprocess, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def snapshot(folder: Path, pattern: str = "*") -> dict[str, tuple[int, bytes | None]]:
    """Every entry below `folder` (matching `pattern`): modification time and bytes."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob(pattern))}


def seed_of(folder: Path) -> int | None:
    return read_resolved((folder / "scenario.resolved.yaml").read_text(encoding="utf-8"))["root_seed"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hygiene") / "hygiene.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def complete(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run's folder (seed 7), written by the command; tests work on copies."""
    out = tmp_path_factory.mktemp("complete") / "run"
    proc = cli("run", str(small), "--out", str(out), *FAST)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def copy(complete: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(complete, tmp_path / "run"))


# --------------------------------------------------------------------------- the results folder


def test_run_into_other_results_is_refused_and_writes_nothing(small: Path, copy: Path) -> None:
    before = snapshot(copy)
    proc = cli("run", str(small), "--out", str(copy), "--seed", "8", *FAST)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line
    assert proc.stderr.startswith(f"error: {copy} is not empty; it holds other results")
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(copy) == before


def test_run_into_the_same_complete_run_points_to_resume(small: Path, copy: Path) -> None:
    before = snapshot(copy)
    res = runner.invoke(app, ["run", str(small), "--out", str(copy), *FAST])
    assert res.exit_code == 2
    assert res.stderr == f"error: {copy} is not empty; it holds this very run, complete: --resume shows it, " \
                         "--force runs it again\n"
    assert snapshot(copy) == before
    res = runner.invoke(app, ["run", str(small), "--out", str(copy), "--resume"])
    assert res.exit_code == 0, res.output
    assert "already holds this run" in res.stdout
    assert snapshot(copy) == before


def test_interrupted_run_is_refused_then_resumed(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    sim.run(parse_text(SMALL, "hygiene.yaml"), workers=1, store=out)  # replications, no outputs yet
    kept = snapshot(out / "replications", "rep-*.npz")
    res = runner.invoke(app, ["run", str(small), "--out", str(out), *FAST])
    assert res.exit_code == 2
    assert "an interrupted run of this scenario: continue it with --resume" in res.stderr
    assert snapshot(out / "replications", "rep-*.npz") == kept
    assert not (out / "summary.csv").exists()

    res = runner.invoke(app, ["run", str(small), "--out", str(out), "--resume", *FAST])
    assert res.exit_code == 0, res.output
    assert snapshot(out / "replications", "rep-*.npz") == kept  # reused, not computed again
    assert seed_of(out) == 7


def test_force_replaces_the_old_results_cleanly(small: Path, copy: Path) -> None:
    (copy / "point-003").mkdir()  # left by a sweep that wrote here before
    (copy / "point-003" / "summary.csv").write_text("old")
    (copy / "sweep.csv").write_text("old")
    old_hash = (copy / "replications" / "scenario.sha256").read_text()
    res = runner.invoke(app, ["run", str(small), "--out", str(copy), "--seed", "8", "--force", *FAST])
    assert res.exit_code == 0, res.output
    assert seed_of(copy) == 8
    assert not (copy / "point-003").exists() and not (copy / "sweep.csv").exists()
    assert (copy / "replications" / "scenario.sha256").read_text() != old_hash
    assert sorted(p.name for p in (copy / "replications").glob("rep-*.npz")) == ["rep-00000.npz",
                                                                                "rep-00001.npz"]


def test_a_folder_of_other_files_is_never_emptied(small: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    (mine / "summary.csv").write_text("a results name among them")
    before = snapshot(mine)
    for extra in ([], ["--force"]):
        res = runner.invoke(app, ["run", str(small), "--out", str(mine), *extra])
        assert res.exit_code == 2
        assert res.stderr == (f"error: {mine} holds files that are not Retention Lab results (notes.txt); "
                              "give --out a new or empty folder\n")
        assert snapshot(mine) == before


def test_an_empty_folder_is_used(small: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["run", str(small), "--out", str(empty), *FAST])
    assert res.exit_code == 0, res.output
    assert seed_of(empty) == 7
    assert foreign_files(empty) == []  # everything a run writes is known as a result (for --force)


@pytest.mark.parametrize("command", [["run"], ["sweep", "--set", "market.competitor_pull=0.2"]])
def test_resume_and_force_together_are_refused(small: Path, copy: Path, command: list[str]) -> None:
    before = snapshot(copy)
    res = runner.invoke(app, [command[0], str(small), *command[1:], "--out", str(copy), "--resume", "--force"])
    assert res.exit_code == 2
    assert res.stderr == ("error: give --resume (continue the results in --out) or --force (replace them), "
                          "not both\n")
    assert snapshot(copy) == before


def test_a_file_as_out_is_refused(small: Path, tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    path.write_text("x")
    res = runner.invoke(app, ["run", str(small), "--out", str(path)])
    assert res.exit_code == 2
    assert res.stderr == f"error: {path} is a file; --out needs a folder\n"


def test_sweep_refuses_resumes_and_forces(small: Path, copy: Path, tmp_path: Path) -> None:
    sweep = ["sweep", str(small), "--set", "market.competitor_pull=0.2", *FAST]
    before = snapshot(copy)
    res = runner.invoke(app, [*sweep, "--out", str(copy)])  # a run's folder
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {copy} is not empty; it holds other results")
    assert snapshot(copy) == before

    res = runner.invoke(app, [*sweep, "--out", str(copy), "--force"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in copy.iterdir() if not p.name.endswith(".png")) == [
        "point-000", "report.html", "sweep.csv", "sweep_comparison.csv"]
    assert foreign_files(copy) == []  # everything a sweep writes is known as a result (for --force)

    done = snapshot(copy)
    res = runner.invoke(app, [*sweep, "--out", str(copy)])
    assert res.exit_code == 2
    assert "this very sweep, complete: --resume shows it" in res.stderr
    (copy / "point-000" / "done").unlink()  # as if interrupted while writing the point's outputs
    (copy / "sweep.csv").unlink()
    res = runner.invoke(app, [*sweep, "--out", str(copy)])
    assert res.exit_code == 2
    assert "an interrupted sweep of this scenario: continue it with --resume" in res.stderr
    res = runner.invoke(app, [*sweep, "--out", str(copy), "--resume"])
    assert res.exit_code == 0, res.output
    assert (copy / "sweep.csv").read_bytes() == done["sweep.csv"][1]


class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None) -> datetime:
        return datetime(2026, 5, 4, 3, 2, 1)


def test_default_folders_never_collide(small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.output

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim.output, "datetime", _Frozen)  # two runs in the same second
    for _ in range(2):
        res = runner.invoke(app, ["run", str(small), *FAST, "--replications", "1"])
        assert res.exit_code == 0, res.output
    first, second = tmp_path / "results/hygiene-20260504-030201", tmp_path / "results/hygiene-20260504-030201-2"
    assert f"results: {Path('results') / second.name}\n" in res.stdout
    assert (first / "scenario.resolved.yaml").is_file() and (second / "scenario.resolved.yaml").is_file()


def test_ctrl_c_leaves_no_empty_default_folder(small: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim.experiment, "run", interrupted)
    res = runner.invoke(app, ["run", str(small)])
    assert res.exit_code == 130
    assert res.stderr == "interrupted: nothing was written\n"
    assert list((tmp_path / "results").iterdir()) == []


# --------------------------------------------------------------------------- Ctrl-C


#: Runs the command line as `retention-lab ARGS...` does, and presses Ctrl-C (SIGINT to
#: itself) the moment it first imports the module named by its first argument.
CTRL_C_AT_IMPORT = """
import importlib.abc, os, signal, sys

module = sys.argv[1]
sys.argv = ["retention-lab", *sys.argv[2:]]

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
from sim.__main__ import main
main()
"""


def _interrupted_cleanly(proc: subprocess.Popen[str], stderr: str, out: Path | None, case: object) -> None:
    assert "Traceback" not in stderr, (case, stderr)
    assert proc.returncode == 130, (case, proc.returncode, stderr)
    assert stderr == "interrupted: nothing was written\n", (case, stderr)
    assert out is None or not out.exists(), case


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_at_each_step_of_the_start(small: Path, tmp_path: Path) -> None:
    # pydantic: reading scenarios; sim.experiment, sim.sweep: the run's and the sweep's own
    # imports, inside the command.
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"}
    sweep = ["sweep", str(small), "--set", "market.competitor_pull=0.1,0.2"]
    cases = [("pydantic", ["run", str(small)]), ("sim.experiment", ["run", str(small)]), ("sim.sweep", sweep)]
    started = []
    for i, (module, args) in enumerate(cases):
        out = tmp_path / f"out-{i}"
        started.append((subprocess.Popen(
            [sys.executable, "-c", CTRL_C_AT_IMPORT, module, *args, "--out", str(out)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out, module))
    for proc, out, module in started:
        _interrupted_cleanly(proc, proc.communicate(timeout=120)[1], out, module)


def _ctrl_c_after(args: list[str], delay: float) -> tuple[subprocess.Popen[str], str]:
    """`python -m sim ARGS`, Ctrl-C `delay` s after the command line started its imports.

    The clock starts when `-X importtime` reports typer, the command line's first
    import: Python's own start-up (site and its .pth files) comes before any line
    of ours and takes from 30 ms to seconds on a busy machine.

    Returns:
        The finished process and its stderr, without the import times.
    """
    env = {k: v for k, v in os.environ.items() if k != "RETENTION_LAB_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "sim", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("import time:") and " typer" in line:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    lines += proc.stderr.readlines()
    proc.wait(timeout=120)
    return proc, "".join(line for line in lines if not line.startswith("import time:"))


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_soon_after_the_start_exits_130_without_traceback(small: Path, tmp_path: Path) -> None:
    cases = [(0.0, ["run", str(small)]), (0.3, ["run", str(small)]), (1.0, ["run", str(small)]),
             (0.3, ["list"])]
    with ThreadPoolExecutor(len(cases)) as pool:
        outs = [None if args == ["list"] else tmp_path / f"out-{i}" for i, (_, args) in enumerate(cases)]
        done = [pool.submit(_ctrl_c_after, [*args, *(["--out", str(out)] if out else [])], delay)
                for (delay, args), out in zip(cases, outs, strict=True)]
        for future, out, (delay, args) in zip(done, outs, cases, strict=True):
            _interrupted_cleanly(*future.result(), out, (delay, args[0]))


def test_a_ctrl_c_no_command_caught_wrote_nothing(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.cli, "load_scenario", interrupted)
    res = runner.invoke(app, ["validate", str(small)])
    assert res.exit_code == 130
    assert res.stderr == "interrupted: nothing was written\n"


def test_a_ctrl_c_python_would_swallow_is_delivered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.cli

    class Finalised:
        def __del__(self) -> None:  # Ctrl-C while Python runs a finaliser: printed and lost
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "unraisablehook", sim.cli._ctrl_c_not_lost)
    # Re-delivery goes through Python's SIGINT handler, as the command line installs it
    # (`_ctrl_c_interrupts`); an in-process command test run earlier in this process may have
    # left SIGINT ignored (an interrupted command holds a second Ctrl-C), so set it here.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            Finalised()
            for _ in range(1000):  # delivered 0.01 s later; up to 10 s on a loaded machine
                time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, before)


# --------------------------------------------------------------------------- progress


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drawn(steps: list[tuple[float, str, int, int]], at: float | None = None) -> str:
    """The last frame of a `ProgressBar` fed (time, label, done, total) steps, drawn `at`, as plain text."""
    from rich.console import Console

    from sim.cli import ProgressBar

    console = Console(file=io.StringIO(), force_terminal=True, width=110, record=True)
    clock = _Clock()
    bar = ProgressBar("", console=console, clock=clock)
    for now, label, done, total in steps:
        clock.now = now
        bar.label = label
        bar(done, total)
    console.export_text(clear=True)  # the frames drawn so far
    clock.now = clock.now if at is None else at
    bar.close()  # draws the last one
    return console.export_text().strip()


def test_progress_shows_elapsed_time_and_eta() -> None:
    # One replication every 10 s: after 2 of 4 at 20 s, 20 s are left.
    line = _drawn([(0, "run:", 0, 4), (10, "run:", 1, 4), (20, "run:", 2, 4)])
    assert line.startswith("run: ")
    assert line.endswith(" 2/4 replications elapsed 0:00:20 ETA 0:00:20"), line
    assert "━" in line


def test_progress_eta_counts_down_between_replications() -> None:
    line = _drawn([(0, "run:", 0, 4), (10, "run:", 1, 4)], at=16)
    assert line.endswith(" 1/4 replications elapsed 0:00:16 ETA 0:00:24"), line
    assert _drawn([(0, "run:", 0, 4)], at=16).endswith(" 0/4 replications elapsed 0:00:16 ETA -:--:--")


def test_progress_after_resume_counts_only_what_this_run_did() -> None:
    # 3 of 8 were done before: 1 replication in 10 s now, so 4 left take 40 s.
    line = _drawn([(0, "run:", 3, 8), (10, "run:", 4, 8)])
    assert line.endswith(" 4/8 replications elapsed 0:00:10 ETA 0:00:40"), line


def test_progress_starts_again_at_each_point_of_a_sweep() -> None:
    line = _drawn([(0, "point 1/2:", 0, 2), (30, "point 1/2:", 2, 2), (31, "point 2/2:", 0, 2),
                   (36, "point 2/2:", 1, 2)])
    assert line.startswith("point 2/2: ")
    assert line.endswith(" 1/2 replications elapsed 0:00:05 ETA 0:00:05"), line


def test_calibrate_refuses_to_write_over_a_folder_or_file(tmp_path: Path) -> None:
    """`calibrate --out` into a non-empty folder needs --force; a file is refused; checked before any work."""
    orders = tmp_path / "orders.csv"  # never read: --out is refused first
    full = tmp_path / "calibration"
    full.mkdir()
    (full / "scenario.yaml").write_text("mine\n")
    res = runner.invoke(app, ["calibrate", str(orders), "--out", str(full)])
    assert res.exit_code == 2
    assert res.stderr == (f"error: {full} is not empty; write over its calibration with --force, "
                          "or choose another --out\n")
    assert (full / "scenario.yaml").read_text() == "mine\n"
    res = runner.invoke(app, ["calibrate", str(orders), "--out", str(full / "scenario.yaml"), "--force"])
    assert res.exit_code == 2
    assert res.stderr == f"error: {full / 'scenario.yaml'} is a file; --out needs a folder\n"
    res = runner.invoke(app, ["calibrate", str(orders), "--out", str(full), "--force"])
    assert res.exit_code == 2 and "orders.csv" in res.stderr  # past the check: the missing log is the error
