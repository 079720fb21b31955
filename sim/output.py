"""Writing a comparison's outputs to a folder (SPEC.md, "Outputs of run").

Every file is written atomically (`sim.files`): to a temporary file in the same
folder, then renamed over its final name, so an interruption never leaves a
half-written file. Floats are formatted with a fixed format, so the same
scenario and root seed give byte-identical CSV files whatever the number of
workers or the backend. `scenario.resolved.yaml` is written last; its presence means the
folder is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.files import RESOLVED, atomic_open, atomic_write, resolved_yaml
from sim.metrics import METRICS
from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.result import Result

#: How floats are written in every CSV file.
FLOAT_FORMAT = "%.10g"

SUMMARY_COLUMNS = ("policy", "metric", "mean", "ci_low", "ci_high", "n")
COMPARISON_COLUMNS = ("policy", "metric", "diff_mean", "diff_ci_low", "diff_ci_high", "p_value")
#: The return on extra spending with its interval (`sim.report.roi_frame`).
ROI_FILE = "roi.csv"
#: The files of a complete run (PNG names are in `sim.report.FIGURES`).
CSV_FILES = ("summary.csv", "comparison.csv", "timeseries.csv", "segments.csv", ROI_FILE)


def folder_name(name: str) -> str:
    """An ASCII-safe folder name for a scenario name (which may be in any script).

    Accents are dropped (`Kundenbindung-Ü` → `Kundenbindung-U`) and other
    characters become `-`; when letters with no ASCII form are lost (`顾客-测试`,
    `ретенция_2026`) a short hash of the name is added (`scenario-1a2b3c4d`,
    `2026-1a2b3c4d`), so that different names keep different folders.
    """
    if re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        return name  # already safe: the folder is named as before
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_ = decomposed.encode("ascii", "ignore").decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_).strip("-._")
    lost = any(not c.isascii() and not unicodedata.combining(c) for c in decomposed)
    if not lost and safe:
        return safe
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{safe or 'scenario'}-{digest}"


def default_out_dir(scenario: Scenario, root: Path | str = "results", suffix: str = "",
                    now: datetime | None = None) -> Path:
    """Create `results/<name><suffix>-<YYYYmmdd-HHMMSS>/` (`folder_name`), `-2`, `-3`... if taken.

    The folder is created here, and only if it did not exist: two runs started in the
    same second (even in two processes) get two folders, never one between them.

    Args:
        scenario: The scenario (its name is used).
        root: The parent folder.
        suffix: Added after the name (e.g. "-sweep").
        now: The time stamp (default: now).

    Returns:
        The new, empty folder.
    """
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{folder_name(scenario.name)}{suffix}-{stamp}"
    base.parent.mkdir(parents=True, exist_ok=True)
    path, i = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            i += 1
            path = base.with_name(f"{base.name}-{i}")


#: What a sweep writes beside its points (`sim.sweep`): `point-000/`..., `sweep.csv`, `sweep_comparison.csv`,
#: `sweep_<metric>.png`; and the temporary files of a write that was interrupted.
_SWEEP_OR_TEMPORARY = re.compile(r"point-\d{3,}|sweep(_comparison)?\.csv|sweep_[a-z_]+\.png|\..+\.tmp")


def is_result(name: str) -> bool:
    """Whether `run` or `sweep` writes an entry of this name at the top of a results folder."""
    from sim.agents_output import AGENTS_DIR
    from sim.report import FIGURES
    from sim.store import STORE_DIR

    ours = {*CSV_FILES, *FIGURES, "report.html", RESOLVED, STORE_DIR, AGENTS_DIR}
    return name in ours or _SWEEP_OR_TEMPORARY.fullmatch(name) is not None


def foreign_files(out_dir: Path | str) -> list[str]:
    """The entries of a results folder that neither `run` nor `sweep` writes, sorted."""
    return sorted(p.name for p in Path(out_dir).iterdir() if not is_result(p.name))


def clear_results(out_dir: Path | str) -> None:
    """Remove from a results folder everything `run` and `sweep` wrote (`--force`); leave the rest."""
    for entry in Path(out_dir).iterdir():
        if not is_result(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def csv_text(df: pd.DataFrame) -> str:
    """A DataFrame as CSV text: no index, `FLOAT_FORMAT`, LF line ends, NaN as empty."""
    return df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def read_resolved(text: str) -> dict[str, Any]:
    """The version and seeds recorded in the comments of a resolved scenario's text.

    Returns:
        `{"version": str | None, "root_seed": int | None, "seeds": list[int]}`.
    """
    version = re.search(r"^# retention-lab version: (\S+)$", text, re.M)
    root = re.search(r"^# root seed: (\d+)$", text, re.M)
    seeds = [int(m.group(2)) for m in re.finditer(r"^#   (\d+): (\d+)$", text, re.M)]
    return {"version": version.group(1) if version else None,
            "root_seed": int(root.group(1)) if root else None, "seeds": seeds}


def is_complete(out_dir: Path | str, resolved_text: str | None = None) -> bool:
    """Whether `out_dir` holds a complete run (of exactly `resolved_text`, when given)."""
    out = Path(out_dir)
    res = out / RESOLVED
    if not res.is_file() or not all((out / f).is_file() for f in CSV_FILES):
        return False
    return resolved_text is None or res.read_text(encoding="utf-8") == resolved_text


def run_state(scenario: Scenario, out_dir: Path | str) -> str | None:
    """What a folder holds of this very run (same resolved scenario and seeds).

    Returns:
        "complete", "interrupted" (some of its replications or files are there), or None.
    """
    from sim.loader import ScenarioError
    from sim.rng import replication_seeds
    from sim.store import ReplicationStore
    from sim.targets import solve

    seeds = replication_seeds(scenario.seed, scenario.replications)
    try:  # observed targets: the run's scenario is the solved one (an unreachable target: the run says so)
        scenario = solve(scenario)
    except ScenarioError:
        pass
    if is_complete(out_dir, resolved_yaml(scenario, seeds)):
        return "complete"
    return "interrupted" if ReplicationStore(out_dir, scenario, seeds).holds() else None


TIMESERIES_COLUMNS = ("replication", "policy", "period", *METRICS)


def frames(result: Result) -> dict[str, pd.DataFrame]:
    """The small CSV outputs of a result as DataFrames, keyed by file name.

    `timeseries.csv` is not among them: it is streamed by `write_timeseries`.
    """
    from sim.report import roi_frame

    return {
        "summary.csv": result.summary[list(SUMMARY_COLUMNS)],
        "comparison.csv": result.comparison[list(COMPARISON_COLUMNS)],
        "segments.csv": result.segments,
        ROI_FILE: roi_frame(result.replications, result.policies, result.baseline, result.level),
    }


def write_timeseries(chunks: Iterable[pd.DataFrame], path: Path | str) -> Path:
    """Write `timeseries.csv` atomically, one chunk (replication) at a time.

    The bytes are those of `csv_text` of all the chunks concatenated, without
    ever holding them all.

    Args:
        chunks: Frames with the `TIMESERIES_COLUMNS`, in replication order.
        path: The destination.

    Returns:
        The path written.
    """
    cols = list(TIMESERIES_COLUMNS)
    with atomic_open(path) as f:
        header = True
        for df in chunks:
            f.write(df[cols].to_csv(index=False, header=header, float_format=FLOAT_FORMAT,
                                    lineterminator="\n").encode("utf-8"))
            header = False
        if header:
            f.write(csv_text(pd.DataFrame(columns=cols)).encode("utf-8"))
    return Path(path)


def _clean_temporary(out: Path, names: Iterable[str]) -> None:
    """Remove temporary files a killed process left behind while writing `names`."""
    for name in names:
        for tmp in out.glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_result(result: Result, out_dir: Path | str, *, plots: bool = True, lang: str | None = None,
                 window: tuple[int, int] | None = None) -> dict[str, Path]:
    """Write every output of a run to `out_dir` (created if needed).

    Writes `summary.csv`, `comparison.csv`, `segments.csv`, `roi.csv`, `timeseries.csv`
    (streamed one replication at a time), the PNG figures, `report.html` and
    finally `scenario.resolved.yaml`.

    Args:
        result: The comparison.
        out_dir: The folder.
        plots: Also draw the figures and the HTML report (they take most of the time).
        lang: Language of the report and its plots (default: the scenario's `language`).
        window: Periods `(start, stop)` whose metrics the report compares too (`--window`),
            beside each event's own window.

    Returns:
        File name → path of every file written.
    """
    from sim import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # The resolved scenario marks a complete folder: an earlier run's must not vouch for
    # files half replaced by this one.
    (out / RESOLVED).unlink(missing_ok=True)
    from sim.report import FIGURES

    _clean_temporary(out, (*CSV_FILES, *FIGURES, "report.html", RESOLVED))
    written: dict[str, Path] = {}
    for name, df in frames(result).items():
        written[name] = atomic_write(out / name, csv_text(df))
    written["timeseries.csv"] = write_timeseries(result.iter_timeseries(), out / "timeseries.csv")
    resolved = resolved_yaml(result.scenario, result.seeds, __version__)
    if plots:
        from sim.report import write_report

        written.update(write_report(result, out, lang=lang, window=window))
    written[RESOLVED] = atomic_write(out / RESOLVED, resolved)
    return written
