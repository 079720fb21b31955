"""The `retention-lab` command (also `python -m sim`).

Exit codes: 0 success; 2 bad input (every problem printed on stderr as
``file:line: field: message``, never a traceback); 1 failure while running;
130 interrupted (Ctrl-C), with a one-line message and no half-written file.

Ctrl-C: while the command line starts (`sim.__main__`) and reads its
arguments, and once a command has written everything, Ctrl-C ends the process
at once with exit code 130 and a line; while a command works it raises
`KeyboardInterrupt`, so that the command cleans up and says what was kept; a
`KeyboardInterrupt` no command caught means nothing was written.

Heavy modules (the model, pandas, matplotlib) are imported inside the commands,
so `list`, `show`, `schema` and `--help` answer at once.
"""

from __future__ import annotations

import _thread
import functools
import importlib
import json
import math
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

from sim.loader import ScenarioError, builtin_names, builtin_path, load_scenario

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.progress import ProgressColumn, Task, TaskID

    from sim.scenario import Scenario

DEBUG_ENV = "RETENTION_LAB_DEBUG"

app = typer.Typer(
    name="retention-lab",
    help="Retention Lab: compare customer-management policies and biases by simulation.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Backend(StrEnum):
    """Where replications run."""

    local = "local"
    dask = "dask"


# --------------------------------------------------------------------------- helpers


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _bad_input(problems: Any) -> NoReturn:
    for p in problems:
        _err(str(p))
    raise typer.Exit(2)


def _usage(message: str) -> NoReturn:
    _err(f"error: {message}")
    raise typer.Exit(2)


def _main_thread() -> bool:
    """Whether signal handlers can be set here (only the main thread may)."""
    return threading.current_thread() is threading.main_thread()


def _hold_ctrl_c() -> None:
    """Ignore a second Ctrl-C while an interrupted command cleans up and says so."""
    if _main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupted(what: str) -> NoReturn:
    _hold_ctrl_c()
    _err(f"interrupted: {what}")
    raise typer.Exit(130)


def _exit_on_ctrl_c(message: str) -> None:
    """From now on, Ctrl-C prints `interrupted: MESSAGE` and ends the process with code 130.

    For the moments when no file is being written: reading the command line,
    printing what is done, exiting.
    """
    if not _main_thread():
        return
    line = f"interrupted: {message}\n".encode()

    def stop(signum: int, frame: FrameType | None) -> None:
        _flush()
        os.write(2, line)
        os._exit(130)

    signal.signal(signal.SIGINT, stop)


def _flush() -> None:
    """Flush stdout and stderr before `os._exit`: what was printed stays printed."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()


def _ctrl_c_not_lost(unraisable: Any) -> None:
    """`sys.unraisablehook` of the command line: a Ctrl-C is never printed and lost.

    One that came where Python cannot raise it (a weakref callback, a `__del__`) is
    delivered again, to the command, a moment later (from here it would land in this
    hook, and be lost again).
    """
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        again = threading.Timer(0.01, _thread.interrupt_main)
        again.daemon = True
        again.start()
        return
    sys.__unraisablehook__(unraisable)


@contextmanager
def _ctrl_c_interrupts() -> Iterator[None]:
    """Within: Ctrl-C raises `KeyboardInterrupt`; one that no command caught wrote nothing."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler) if _main_thread() else None
    try:
        yield
    except KeyboardInterrupt:
        _interrupted("nothing was written")
    finally:
        if before is not None:  # None: a handler not set from Python; keep ours
            signal.signal(signal.SIGINT, before)


@contextmanager
def _notices_in_one_line() -> Iterator[None]:
    """Within: a notice for the user (`sim.report.FontWarning`) is one line on stderr, `warning: ...`.

    Python would print the file, line and source of the `warnings.warn` call: a
    traceback to the reader. Other warnings are shown as Python shows them.
    """
    import warnings

    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if category.__name__ == "FontWarning" and category.__module__ == "sim.report":
            _err(f"warning: {message}")
        else:
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


Command = TypeVar("Command", bound=Callable[..., Any])


def _command(name: str, **settings: Any) -> Callable[[Command], Command]:
    """`app.command(name)`, with Ctrl-C handled as `_ctrl_c_interrupts` says."""
    def register(f: Command) -> Command:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            with _ctrl_c_interrupts(), _notices_in_one_line():
                return f(*args, **kwargs)

        app.command(name, **settings)(command)
        return f

    return register


def _failed(exc: BaseException, doing: str) -> NoReturn:
    if os.environ.get(DEBUG_ENV):
        raise exc
    if isinstance(exc, ImportError) and "distributed" in str(exc):
        _err(f"error while {doing}: the dask backend needs `pip install retention-lab[dask]` "
             f"({exc})")
    else:
        _err(f"error while {doing}: {type(exc).__name__}: {exc}")
        _err(f"(set {DEBUG_ENV}=1 to see the traceback)")
    raise typer.Exit(1)


def _load(source: str) -> Scenario:
    try:
        return load_scenario(source)
    except ScenarioError as e:
        _bad_input(e.problems)


def _override(sc: Scenario, replications: int | None, seed: int | None) -> Scenario:
    from sim.scenario import Scenario

    updates = {k: v for k, v in (("replications", replications), ("seed", seed))
               if v is not None}
    if not updates:
        return sc
    return Scenario.model_validate({**sc.model_dump(), **updates})


def _check_resume(resume: bool, force: bool, out: Path | None, earlier: str) -> None:
    if resume and force:
        _usage("give --resume (continue the results in --out) or --force (replace them), not both")
    if resume and out is None:
        _usage(f"--resume needs --out DIR (the folder of the {earlier})")


def _results_folder(out: Path | None, sc: Scenario, *, resume: bool, force: bool, what: str,
                    state: Callable[[Path], str | None], suffix: str = "",
                    outputs: Any = None) -> tuple[Path, bool]:
    """The folder a run, sweep or exploration writes to, and whether this command makes it.

    A folder that is not empty is refused (exit 2, nothing written) unless resumed,
    or, with `--force`, emptied of earlier results; one holding anything else is
    never emptied.

    Args:
        out: `--out`, or None for a new `results/<name><suffix>-<timestamp>/`.
        sc: The scenario.
        resume: `--resume`.
        force: `--force`.
        what: "run" or "sweep", for the message.
        state: What the folder holds of this very run or sweep (`sim.output.run_state`).
        suffix: Added to the default folder's name.
        outputs: The module that knows the command's files (`foreign_files`, `clear_results`);
            default `sim.output` (run and sweep).
    """
    from sim import output
    from sim.output import default_out_dir

    files = outputs or output

    if out is None:
        return default_out_dir(sc, suffix=suffix), True
    if out.exists() and not out.is_dir():
        _usage(f"{out} is a file; --out needs a folder")
    if not out.exists():
        return out, True
    if resume or not any(out.iterdir()):
        return out, False
    foreign = files.foreign_files(out)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        _usage(f"{out} holds files that are not Retention Lab results ({shown}); "
               "give --out a new or empty folder")
    if force:
        files.clear_results(out)
        return out, False
    found = state(out)
    if found == "interrupted":
        hint = (f"an interrupted {what} of this scenario: continue it with --resume, "
                "or start again with --force")
    elif found == "complete":
        hint = f"this very {what}, complete: --resume shows it, --force runs it again"
    else:
        hint = "other results: replace them with --force, or choose another --out"
    _usage(f"{out} is not empty; it holds {hint}")


def _kept(out_dir: Path) -> bool:
    """Whether an interrupted run or sweep left replications in `out_dir` to resume from."""
    from sim.store import STORE_DIR

    return any(out_dir.glob(f"**/{STORE_DIR}/rep-*.npz"))


def _discard(out_dir: Path | None, made: bool) -> None:
    """Remove a folder this command made, if it holds nothing to resume from."""
    if made and out_dir is not None and not _kept(out_dir):
        shutil.rmtree(out_dir, ignore_errors=True)


def _stopped(out_dir: Path | None, made: bool, kept: str) -> NoReturn:
    """Ctrl-C during a run or sweep: say what is kept (`kept`), or that nothing was written."""
    _hold_ctrl_c()
    if out_dir is not None and _kept(out_dir):
        _interrupted(kept)
    _discard(out_dir, made)
    _interrupted("nothing was written")


def _workers(n: int) -> int:
    return n if n > 0 else max(os.cpu_count() or 1, 1)


def _time_left(task: Task) -> str:
    """A progress task's ETA, `H:MM:SS`: the pace since it started; it counts down between steps."""
    made = task.completed - task.fields["first"]
    if task.start_time is None or task.total is None or made <= 0:
        return "-:--:--"
    now = task.start_time + (task.elapsed or 0.0)
    pace = (task.fields["last"] - task.start_time) / made
    minutes, seconds = divmod(math.ceil(max(pace * task.remaining - (now - task.fields["last"]), 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _eta_column() -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Eta(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(_time_left(task), style="progress.remaining")

    return Eta()


class ProgressBar:
    """A one-line progress bar with elapsed time and ETA (rich), called as `(done, total)`.

    A new `label`, or a count going back (a sweep's next point), starts the bar and
    its clock again.

    Args:
        label: Text before the bar.
        console: Where it is drawn (default: a rich console on stderr).
        unit: What is counted.
        clock: Seconds, for the elapsed time and the ETA (default: the console's clock).
    """

    def __init__(self, label: str, console: Console | None = None, unit: str = "replications",
                 clock: Callable[[], float] | None = None) -> None:
        from rich import console as rc
        from rich import progress as rp

        self.label = label
        self.progress = rp.Progress(
            rp.TextColumn("{task.description}", markup=False), rp.BarColumn(), rp.MofNCompleteColumn(),
            rp.TextColumn(unit, markup=False), rp.TextColumn("elapsed"), rp.TimeElapsedColumn(),
            rp.TextColumn("ETA"), _eta_column(), console=console or rc.Console(file=sys.stderr),
            refresh_per_second=4, redirect_stdout=False, redirect_stderr=False, get_time=clock)
        self.task: TaskID | None = None
        self.shown = (label, 0)

    def __call__(self, done: int, total: int) -> None:
        """Show `done` of `total`."""
        now = self.progress.get_time()
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total, completed=done, first=done, last=now)
        elif self.label != self.shown[0] or done < self.shown[1]:
            self.progress.reset(self.task, total=total, completed=done, description=self.label, first=done,
                                last=now)
        else:
            self.progress.update(self.task, total=total, completed=done, last=now)
        self.shown = (self.label, done)

    def close(self) -> None:
        """Draw the bar a last time and end its line."""
        if self.task is not None:
            self.progress.stop()
            self.progress.remove_task(self.task)
            self.task = None

    def __enter__(self) -> ProgressBar:
        """The bar, closed on leaving the block (before any message about how it ended)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the bar."""
        self.close()


def _bar(label: str) -> ProgressBar | None:
    return ProgressBar(label) if sys.stderr.isatty() else None


def _columns(rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) if i < left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def comparison_text(summary: pd.DataFrame, comparison: pd.DataFrame, policies: list[str],
                    baseline: str, metrics: tuple[str, ...] | None = None, **kw: Any) -> str:
    """The comparison printed by `run` (`sim.report.comparison_text`: headline, means, differences)."""
    from sim.report import comparison_text as text

    return text(summary, comparison, policies, baseline, metrics, **kw)


def _print_table(out_dir: Path, sc: Scenario, lang: str = "en") -> None:
    import pandas as pd

    from sim.output import ROI_FILE

    summary = pd.read_csv(out_dir / "summary.csv")
    comparison = pd.read_csv(out_dir / "comparison.csv")
    roi = pd.read_csv(out_dir / ROI_FILE)
    typer.echo(comparison_text(summary, comparison, [p.name for p in sc.policies],
                               sc.baseline_policy, scenario=sc, lang=lang, roi=roi))


def _lang(value: str | None, sc: Scenario) -> str:
    """`--lang`, checked (default: the scenario's `language`)."""
    from sim.i18n import LANGUAGES

    if value is None:
        return sc.language
    code = value.replace("-", "_")
    if code not in LANGUAGES:
        _usage(f"--lang: expected one of {', '.join(LANGUAGES)}, found {value!r}")
    return code


def _window(value: str | None, sc: Scenario) -> tuple[int, int] | None:
    """`--window START:STOP`, checked against the horizon."""
    if value is None:
        return None
    start, sep, stop = value.partition(":")
    try:
        a, b = int(start), int(stop)
    except ValueError:
        a, b = -1, -1
    if not sep or not 0 <= a < b <= sc.horizon:
        _usage(f"--window: expected START:STOP, whole periods with 0 ≤ START < STOP ≤ {sc.horizon} "
               f"(the horizon; STOP is the period after the last), found {value!r}")
    return a, b


# --------------------------------------------------------------------------- commands

ScenarioArg = Annotated[str, typer.Argument(
    metavar="SCENARIO", help="A scenario file (.yaml/.yml/.toml) or a built-in name (see `list`).",
    show_default=False)]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Output folder [default: results/<name>-<timestamp>/].",
    show_default=False)]
ReplicationsOpt = Annotated[int | None, typer.Option(
    min=1, help="Replications per policy [default: the scenario's].", show_default=False)]
WorkersOpt = Annotated[int, typer.Option(
    min=0, help="Parallel workers; 0 = one per CPU core. Results do not depend on it.")]
BackendOpt = Annotated[Backend, typer.Option(help="Run replications locally or on Dask.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    help="Dask scheduler address (with --backend dask); none starts a local cluster.",
    show_default=False)]
SeedOpt = Annotated[int | None, typer.Option(
    min=0, help="Root seed [default: the scenario's].", show_default=False)]
ForceOpt = Annotated[bool, typer.Option(
    help="Replace the results already in --out (a folder holding other files is never emptied).")]
LangOpt = Annotated[str | None, typer.Option(
    "--lang", help="Language of the printed table, the report and its plots: en or zh_CN "
                   "[default: the scenario's `language`].", show_default=False)]
WindowOpt = Annotated[str | None, typer.Option(
    "--window", metavar="START:STOP", help="Also compare the metrics over periods START to STOP-1, "
    "paired (each event's own window is in the report too).", show_default=False)]


class AgentsMode(StrEnum):
    """What `--agents` writes: the customers' final state, or also every period."""

    final = "final"
    every = "every"


AgentsOpt = Annotated[AgentsMode | None, typer.Option(
    metavar="[final|every]", help="Also write every customer's data as Parquet to OUT/agents/: the final "
    "state (`--agents`), or also one row per customer per period (`--agents every`).", show_default=False)]


class _AgentsCommand(TyperCommand):
    """A command whose `--agents` may stand alone, meaning `--agents final` (click has no optional values)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """The arguments, with `final` after a bare `--agents`."""
        given: list[str] = []
        for i, arg in enumerate(args):
            given.append(arg)
            if arg == "--":
                given.extend(args[i + 1:])
                break
            if arg == "--agents" and (i + 1 == len(args) or args[i + 1] not in AgentsMode.__members__):
                given.append(AgentsMode.final.value)
        return super().parse_args(ctx, given)


def _check_backend(backend: Backend, scheduler: str | None) -> None:
    if scheduler and backend != Backend.dask:
        _usage("--scheduler needs --backend dask")


@_command("run", cls=_AgentsCommand)
def run_command(
    scenario: ScenarioArg,
    out: OutOpt = None,
    replications: ReplicationsOpt = None,
    workers: WorkersOpt = 0,
    backend: BackendOpt = Backend.local,
    scheduler: SchedulerOpt = None,
    seed: SeedOpt = None,
    resume: Annotated[bool, typer.Option(
        help="With --out: continue an interrupted run in that folder, reusing every "
             "replication it finished (a complete folder is not run again).")] = False,
    force: ForceOpt = False,
    agents: AgentsOpt = None,
    lang: LangOpt = None,
    window: WindowOpt = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="PATH=VALUE", help="Set one field of the scenario for this run (repeatable), "
        "e.g. --set market.competitor_pull=0.3; checked as the scenario file is.",
        show_default=False)] = None,
) -> None:
    """Run every policy of SCENARIO on the same customers and compare them.

    `--set PATH=VALUE` changes a field for this run, with paths as `sweep --set`
    takes them; scenario.resolved.yaml shows the values used.

    Each replication is written to OUT/replications/ as soon as it finishes;
    after an interruption, `--resume --out OUT` computes only the missing ones
    and ends with the same outputs as an uninterrupted run. A folder that is not
    empty is refused without --resume or --force.
    """
    _check_backend(backend, scheduler)
    _check_resume(resume, force, out, "earlier run")
    out_dir, made = None, False
    try:
        from sim.agents_output import AgentsOutput
        from sim.experiment import run
        from sim.output import run_state, write_result
        from sim.store import STORE_DIR, StoreMismatchError
        from sim.sweep import set_values

        sc = _override(set_values(_load(scenario), set_ or []), replications, seed)
        language, span = _lang(lang, sc), _window(window, sc)
        out_dir, made = _results_folder(out, sc, resume=resume, force=force, what="run",
                                        state=lambda d: run_state(sc, d))
        customers = AgentsOutput.of(out_dir, agents)
        if resume and run_state(sc, out_dir) == "complete" and not (
                customers and customers.missing(sc, range(sc.replications))):
            typer.echo(f"{out_dir} already holds this run; not run again.\n")
            _print_table(out_dir, sc, language)
            typer.echo(f"\nresults: {out_dir}")
            return
    except ScenarioError as e:
        _bad_input(e.problems)
    except KeyboardInterrupt:
        _stopped(out_dir, made, "nothing was written")
    bar = _bar(f"{sc.name}:")
    try:
        with bar or nullcontext():
            result = run(sc, workers=_workers(workers), backend=backend.value, progress=bar,
                         scheduler=scheduler, store=out_dir, resume=resume, agents=customers)
    except KeyboardInterrupt:
        _stopped(out_dir, made, f"the replications finished so far are kept in {out_dir / STORE_DIR}; "
                                f"continue with --resume --out {out_dir}")
    except StoreMismatchError as e:
        _usage(str(e))
    except ScenarioError as e:
        _bad_input(e.problems)
    except Exception as e:
        _failed(e, f"running {sc.name}")
    try:
        write_result(result, out_dir, lang=language, window=span)
    except KeyboardInterrupt:
        _interrupted(f"{out_dir} is incomplete (the files in it are whole; no "
                     "scenario.resolved.yaml); finish it with --resume --out "
                     f"{out_dir}")
    except Exception as e:
        _failed(e, f"writing {out_dir}")
    _exit_on_ctrl_c(f"the results are complete in {out_dir}")
    _echo_result(result, out_dir, language, span)


def _echo_result(result: Any, out_dir: Path, lang: str, span: tuple[int, int] | None) -> None:
    """Print what `run` and `report` print: the run, its comparison, where the report is."""
    from sim import report

    sc = result.scenario
    style = report.style_of(result, lang)
    windows = ([(report.window_title("window", *span, sc, style), result.window(*span))]
               if span else [])
    typer.echo(report.run_line(result, style) + "\n")
    typer.echo(comparison_text(result.summary, result.comparison, result.policies,
                               result.baseline, scenario=sc, lang=lang, result=result,
                               windows=windows))
    typer.echo(f"\nresults: {out_dir}")
    typer.echo(f"report:  {out_dir / 'report.html'}")


@_command("report")
def report_command(
    folder: Annotated[Path, typer.Argument(
        metavar="OUT", help="The folder of a complete run.", show_default=False)],
    lang: LangOpt = None,
    window: WindowOpt = None,
) -> None:
    """Write the report of a finished run again: in another language, or with a --window.

    Reads OUT's scenario.resolved.yaml and replications, and replaces OUT's
    report.html and plots (the CSV files are not touched).
    """
    from sim.files import RESOLVED
    from sim.output import is_complete, read_resolved
    from sim.report import write_report
    from sim.result import load_result

    if not is_complete(folder):
        _usage(f"OUT: {folder} holds no complete run (no {RESOLVED} or CSV files); "
               "finish it with `run --resume --out` first")
    sc = _load(str(folder / RESOLVED))
    language, span = _lang(lang, sc), _window(window, sc)
    seeds = read_resolved((folder / RESOLVED).read_text(encoding="utf-8"))["seeds"]
    try:
        result = load_result(folder, sc, seeds)
        write_report(result, folder, lang=language, window=span)
    except KeyboardInterrupt:
        _interrupted(f"the report in {folder} may be the earlier one; the run's files are untouched")
    except Exception as e:
        _failed(e, f"writing the report of {folder}")
    _exit_on_ctrl_c(f"the report is written in {folder}")
    _echo_result(result, folder, language, span)


@_command("validate")
def validate_command(
    scenarios: Annotated[list[str], typer.Argument(
        metavar="SCENARIO", help="Scenario files or built-in names.", show_default=False)],
) -> None:
    """Check scenario files without running them (exit 0 if all are good, 2 otherwise).

    A scenario whose segments give observed figures is followed by one line per such
    segment: the constants solved from them at run time (`sim.targets.notes`).
    """
    from sim.targets import notes

    bad = False
    for source in scenarios:
        try:
            sc = load_scenario(source)
        except ScenarioError as e:
            bad = True
            for p in e.problems:
                _err(str(p))
            continue
        typer.echo(f"{source}: ok ({sc.name}: {len(sc.policies)} policies, "
                   f"{sc.horizon} {sc.period}s)")
        for line in notes(sc):
            typer.echo(f"  {line}")
    if bad:
        raise typer.Exit(2)


def _one_line(description: str) -> str:
    text = " ".join(description.split())
    first, dot, _ = text.partition(". ")
    return first + "." if dot else text


@_command("list")
def list_command() -> None:
    """List the built-in scenarios, one line each."""
    names = builtin_names()
    if not names:
        _err("no built-in scenarios found")
        return
    width = max(len(n) for n in names)
    for name in names:
        try:
            desc = _one_line(load_scenario(name).description) or "(no description)"
        except ScenarioError as e:
            desc = f"(invalid: {len(e.problems)} problem(s); run `validate {name}`)"
        typer.echo(f"{name.ljust(width)}  {desc}")


@_command("show")
def show_command(
    name: Annotated[str, typer.Argument(
        metavar="NAME", help="A built-in scenario name.", show_default=False)],
) -> None:
    """Print a built-in scenario's YAML, to copy and edit."""
    if name not in builtin_names():
        _usage(f"{name}: no such built-in scenario; built-in scenarios are: "
               f"{', '.join(builtin_names())}")
    typer.echo(builtin_path(name).read_text(encoding="utf-8"), nl=False)


@_command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the scenario file."""
    from sim.scenario import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False))


@_command("sweep", cls=_AgentsCommand)
def sweep_command(
    scenario: ScenarioArg,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="PATH=V1,V2,... (repeatable); replaces the file's `sweep:` block.",
        show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder [default: results/<name>-sweep-<timestamp>/].",
        show_default=False)] = None,
    replications: ReplicationsOpt = None,
    workers: WorkersOpt = 0,
    backend: BackendOpt = Backend.local,
    scheduler: SchedulerOpt = None,
    seed: SeedOpt = None,
    resume: Annotated[bool, typer.Option(
        help="Skip the points already complete in --out (after an interruption).")] = False,
    force: ForceOpt = False,
    agents: AgentsOpt = None,
    lang: LangOpt = None,
) -> None:
    """Run the comparison over a grid of parameter values (resumable).

    Paths are dotted, over the scenario with every default filled in; list items
    by index or name: `--set market.competitor_pull=0.1,0.3` `--set
    policies.stale_manager.biases.0.strength=0.2,0.8`. A folder that is not
    empty is refused without --resume or --force.
    """
    _check_backend(backend, scheduler)
    _check_resume(resume, force, out, "interrupted sweep")
    out_dir, made = None, False
    try:
        from sim.sweep import parameters_from, run_sweep, sweep_state

        sc = _load(scenario)
        language = _lang(lang, sc)
        params = parameters_from(sc, set_ or [])
        out_dir, made = _results_folder(
            out, sc, resume=resume, force=force, what="sweep", suffix="-sweep",
            state=lambda d: sweep_state(sc, params, d, replications=replications, seed=seed))
    except ScenarioError as e:
        _bad_input(e.problems)
    except KeyboardInterrupt:
        _stopped(out_dir, made, "nothing was written")
    bar = _bar("")

    def progress(i: int, n: int, done: int, total: int) -> None:
        if bar is not None:
            bar.label = f"{sc.name} point {i + 1}/{n}:"
            bar(done, total)

    try:
        with bar or nullcontext():
            outcome = run_sweep(sc, params, out_dir, replications=replications,
                                workers=_workers(workers), backend=backend.value, seed=seed,
                                scheduler=scheduler, resume=resume, progress=progress,
                                agents=agents.value if agents else None, lang=language)
    except ScenarioError as e:
        _discard(out_dir, made)
        _bad_input(e.problems)
    except KeyboardInterrupt:
        _stopped(out_dir, made, f"points finished so far are kept in {out_dir}; "
                                f"continue with --resume --out {out_dir}")
    except Exception as e:
        _failed(e, f"sweeping {sc.name}")
    _exit_on_ctrl_c(f"the sweep is complete in {out_dir}")
    typer.echo(_sweep_text(outcome.frame, outcome, sc, language))
    typer.echo(f"\nresults:   {out_dir}")
    typer.echo(f"sweep.csv: {out_dir / 'sweep.csv'}")
    typer.echo(f"pairs:     {out_dir / 'sweep_comparison.csv'}")
    typer.echo(f"report:    {out_dir / 'report.html'}")


def _sweep_text(frame: pd.DataFrame, outcome: Any, sc: Scenario, lang: str = "en") -> str:
    from sim.sweep import sweep_text

    return sweep_text(outcome, sc, lang)


class Design(StrEnum):
    """How `explore` samples the uncertain inputs."""

    lhs = "lhs"
    sobol = "sobol"
    morris = "morris"


@_command("explore")
def explore_command(
    scenario: ScenarioArg,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", help="PATH=LOW:HIGH (repeatable): an uncertain input and its range; overrides or "
                       "extends the file's `uncertainties:` block. Integer fields are sampled as integers.",
        show_default=False)] = None,
    samples: Annotated[int, typer.Option(
        min=1, help="N: a Latin hypercube's samples (lhs, at least 8); a Sobol' design's base samples, "
                    "a power of two: N·(D+2) samples for D inputs, N·(2D+2) with --second-order; a Morris "
                    "design's trajectories: N·(D+1) samples. Each sample runs every policy "
                    "--replications times.")] = 64,
    design: Annotated[Design, typer.Option(
        help="lhs: Latin hypercube, RBD-FAST first-order indices; sobol: Saltelli design, Sobol' "
             "S1 and ST; morris: elementary effects (mu_star, sigma).")] = Design.lhs,
    second_order: Annotated[bool, typer.Option(
        "--second-order", help="Sobol' designs: also second-order indices (S2).")] = False,
    threshold: Annotated[float, typer.Option(
        help="Scenario discovery: a biased policy's sample is a case of interest when it loses more "
             "than this % of profit against its unbiased twin (or the baseline).")] = 5.0,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder [default: results/<name>-explore-<timestamp>/].",
        show_default=False)] = None,
    replications: ReplicationsOpt = None,
    workers: WorkersOpt = 0,
    backend: BackendOpt = Backend.local,
    scheduler: SchedulerOpt = None,
    seed: SeedOpt = None,
    resume: Annotated[bool, typer.Option(
        help="With --out: continue an interrupted exploration there, reusing every replication "
             "it finished.")] = False,
    force: ForceOpt = False,
) -> None:
    """Run every policy over a sampled design of uncertain inputs (resumable).

    Every policy at a sample meets the same customers and random numbers
    (common random numbers). Writes experiments.csv (one row per sample ×
    policy), sensitivity.csv (SALib indices with 95 % intervals),
    discovery.csv and discovery.md (PRIM boxes: when each bias costs more
    than --threshold % of profit) and robustness.csv (each policy's regret).
    See docs/explore.md. A folder that is not empty is refused without
    --resume or --force.
    """
    _check_backend(backend, scheduler)
    _check_resume(resume, force, out, "interrupted exploration")
    out_dir, made = None, False
    try:
        from sim import explore
        from sim.store import StoreMismatchError

        sc = _load(scenario)
        plan = explore.plan(sc, vary or [], samples=samples, design=design.value,
                            replications=replications, seed=seed, second_order=second_order,
                            threshold=threshold / 100)
        out_dir, made = _results_folder(out, sc, resume=resume, force=force, what="exploration",
                                        suffix="-explore", outputs=explore,
                                        state=lambda d: explore.explore_state(plan, d))
    except ScenarioError as e:
        _bad_input(e.problems)
    except KeyboardInterrupt:
        _stopped(out_dir, made, "nothing was written")
    bar = ProgressBar(f"{sc.name}:", unit="runs") if sys.stderr.isatty() else None
    try:
        with bar or nullcontext():
            outcome = explore.run_explore(plan, out_dir, workers=_workers(workers),
                                          backend=backend.value, scheduler=scheduler, resume=resume,
                                          progress=bar)
    except KeyboardInterrupt:
        _stopped(out_dir, made, f"the runs finished so far are kept in {out_dir}; "
                                f"continue with --resume --out {out_dir}")
    except StoreMismatchError as e:
        _usage(str(e))
    except Exception as e:
        _failed(e, f"exploring {sc.name}")
    _exit_on_ctrl_c(f"the exploration is complete in {out_dir}")
    typer.echo(explore.summary_text(outcome))
    typer.echo(f"\nresults: {out_dir}")
    typer.echo(f"page:    {out_dir / 'discovery.md'}")


@_command(
    "workshop",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                      "help_option_names": []},
    add_help_option=False,
)
def workshop_command(ctx: typer.Context) -> None:
    """The decision-training workshop (`workshop serve --scenario NAME ...`)."""
    try:
        workshop_cli = importlib.import_module("sim.workshop.cli")
    except ModuleNotFoundError as e:
        if e.name and (e.name == "sim.workshop" or e.name.startswith("sim.workshop.")):
            _err("the workshop is not available in this installation "
                 "(module sim.workshop.cli is missing)")
            raise typer.Exit(1) from None
        _err(f"the workshop cannot start: a package is missing ({e.name}); "
             "install it with `pip install retention-lab[workshop]`")
        raise typer.Exit(1) from None
    args = list(ctx.args)
    sub = getattr(workshop_cli, "app", None)
    if sub is not None:
        sub(args=args, prog_name="retention-lab workshop")
        return
    entry = getattr(workshop_cli, "main", None)
    if entry is None:
        _err("sim.workshop.cli has neither `app` nor `main`")
        raise typer.Exit(1)
    code = entry(args)
    if code:
        raise typer.Exit(int(code))


@_command("calibrate")
def calibrate_command(
    orders: Annotated[Path, typer.Argument(
        metavar="ORDERS", help="The order log: CSV or Parquet, one row per purchase (customer, date, amount, "
                               "optionally segment).", show_default=False)],
    id_: Annotated[str | None, typer.Option(
        "--id", help="Customer id column [default: guessed, e.g. customer_id].", show_default=False)] = None,
    date: Annotated[str | None, typer.Option(
        help="Order date column [default: guessed, e.g. date].", show_default=False)] = None,
    amount: Annotated[str | None, typer.Option(
        help="Order amount column [default: guessed, e.g. amount].", show_default=False)] = None,
    segment: Annotated[str | None, typer.Option(
        help="Segment column [default: `segment` if present; else segments are found from the data].",
        show_default=False)] = None,
    holdout_from: Annotated[str | None, typer.Option(
        help="First day of the hold-out (YYYY-MM-DD).", show_default=False)] = None,
    holdout_weeks: Annotated[int | None, typer.Option(
        min=1, help="Or: the hold-out is the log's last N weeks [default: the last third].",
        show_default=False)] = None,
    period: Annotated[str, typer.Option(help="The scenario's period: week or month.")] = "week",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("calibration"),
    seed: Annotated[int, typer.Option(min=0, help="Root seed of the model's runs.")] = 0,
    force: Annotated[bool, typer.Option(
        help="Write over what --out already holds (the three files are replaced, others left).")] = False,
) -> None:
    """Calibrate a scenario of your own customers from an order log, checked on a hold-out.

    Fits BG/NBD and gamma-gamma per segment, writes OUT/scenario.yaml (the
    firm's practice as the baseline arm, a data-driven arm beside it),
    OUT/calibration.json and OUT/calibration.html, and prints the hold-out's
    transactions: simulated by the model / BG/NBD's forecast / actual. An OUT
    that is a file, or a folder that is not empty, is refused (exit 2) unless
    `--force` is given for the folder.
    """
    if out.exists() and not out.is_dir():
        _usage(f"{out} is a file; --out needs a folder")
    if out.is_dir() and not force and any(out.iterdir()):
        _usage(f"{out} is not empty; write over its calibration with --force, or choose another --out")
    if holdout_from is not None and holdout_weeks is not None:
        _usage("give --holdout-from or --holdout-weeks, not both")
    if period not in ("week", "month"):
        _usage(f"--period: expected week or month, found {period!r}")
    try:
        from sim.calibrate import CalibrationError, calibrate

        cal = calibrate(orders, id=id_, date=date, amount=amount, segment=segment, holdout_from=holdout_from,
                        holdout_weeks=holdout_weeks, period=period, out=out, seed=seed)
    except CalibrationError as e:
        _bad_input(e.problems)
    except KeyboardInterrupt:
        _interrupted("nothing was written")
    except Exception as e:
        _failed(e, f"calibrating from {orders}")
    _exit_on_ctrl_c(f"the calibration is complete in {out}")
    typer.echo(cal.text())
    typer.echo(f"\nwrote {out / 'scenario.yaml'}, {out / 'calibration.json'}, {out / 'calibration.html'}")


@_command("viz")
def viz_command(
    scenario: Annotated[str, typer.Argument(
        metavar="SCENARIO", help="Scenario file or built-in name.", show_default=False)],
    policy: Annotated[str | None, typer.Option(
        help="The arm shown first [default: the scenario's first].", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the model; Reset starts it again.")] = 0,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Step the model in the browser: Mesa's SolaraViz page, with controls, curves and customers.

    Step, Play/Pause and Reset; sliders for customers, competitors' pull and
    budget, and the arm to play, which take effect at Reset. Served offline
    until Ctrl-C (docs/viz.md).
    """
    sc = _load(scenario)
    arms = [p.name for p in sc.policies]
    if policy is not None and policy not in arms:
        _usage(f"--policy: {policy!r} is not an arm of {sc.name}; its arms are: {', '.join(arms)}")
    source = str(Path(scenario).resolve()) if Path(scenario).is_file() else scenario
    try:
        from sim.viz import Settings, serve
    except ImportError as e:
        _err(f"the viz cannot start: a package is missing ({e.name}); "
             "install it with `pip install retention-lab[notebooks]` (Mesa's rec extra, solara)")
        raise typer.Exit(1) from None
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    typer.echo(f"Retention Lab viz of {sc.name} at http://{shown}:{port}/  (Ctrl-C to stop)")
    _flush()
    try:
        serve(Settings(source=source, policy=policy, seed=seed), host, port)
    except KeyboardInterrupt:
        pass
    except Exception as e:
        _failed(e, f"serving the viz of {sc.name}")
    _interrupted("the viz stopped")  # the server runs until it is stopped (Ctrl-C)


def main() -> None:
    """Run the command line (called by `sim.__main__.main`, the entry point)."""
    _exit_on_ctrl_c("nothing was written")
    sys.unraisablehook = _ctrl_c_not_lost
    try:
        app(prog_name="retention-lab")
    except SystemExit as e:
        if e.code == 130:
            # Interrupted, and said so. Exit now with that code: CPython would otherwise
            # end by killing itself with SIGINT when the KeyboardInterrupt happened inside
            # code an extension ran through the C API (status -2 instead of 130).
            _flush()
            os._exit(130)
        raise
    finally:
        _exit_on_ctrl_c("the command had finished")
