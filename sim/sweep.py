"""Sweeps: the comparison run over a grid of parameter values, resumably.

A parameter is a dotted path over the scenario with every default filled in
(`Scenario.model_dump`): `market.competitor_pull`, `population.size`,
`policies.stale_manager.biases.0.strength`. List items are addressed by index,
by `name`, or by `kind` when exactly one item has it
(`policies.stale_manager.biases.stale_data.strength`). The grid is the
cartesian product of the values, the last parameter varying fastest.

Every point uses the scenario's root seed, so points share customers and random
numbers too. Point `i` is written to `point-XXX/` with the outputs of `run`,
then a `done` marker (the hash of its resolved scenario) last; `resume=True`
skips points whose marker matches. Each point's replications stream to
`point-XXX/replications/` as they finish, so a point interrupted mid-way
(Ctrl-C, a killed process) resumes at replication level: only the missing
replications are computed. `sweep.csv`, `sweep_comparison.csv` (any arm at any
point against any other, paired: the points share the root seed), the `sweep_<metric>.png`
plots and the sweep's `report.html` (`sim.report.render_sweep_html`) are built from the
points' files, so a resumed sweep gives the same `sweep.csv` as an uninterrupted one.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from pydantic import ValidationError

from sim.agents_output import AgentsOutput
from sim.files import atomic_write, resolved_yaml
from sim.loader import Problem, ScenarioError, _message, _option_message
from sim.metrics import HEADLINE, METRICS
from sim.output import COMPARISON_COLUMNS, SUMMARY_COLUMNS, csv_text, write_result
from sim.rng import replication_seeds
from sim.scenario import Scenario

#: Called with (point index, points, replications done, replications) as a sweep runs.
SweepProgress = Callable[[int, int, int, int], None]

DONE = "done"

#: `read_csv` options that read floats back exactly (pandas 3 does so by default and
#: deprecates the option).
_EXACT: dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"})


@dataclass(frozen=True)
class SweepPoint:
    """One point of the grid.

    Attributes:
        index: Its position in the grid.
        values: Parameter path → value.
        scenario: The scenario at this point (no `sweep` block).
    """

    index: int
    values: dict[str, Any]
    scenario: Scenario

    @property
    def folder(self) -> str:
        """Its sub-folder name, `point-XXX`."""
        return f"point-{self.index:03d}"

    def label(self) -> str:
        """`path=value` pairs, for people."""
        return " ".join(f"{k}={v}" for k, v in self.values.items())


def _problem(source: str, path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(source, None, path, message)])


def parse_set(option: str) -> tuple[str, list[Any]]:
    """Parse one `--set PATH=V1,V2,...` option; each value is read as a YAML scalar.

    Raises:
        ScenarioError: If there is no `=`, no path or no value.
    """
    path, sep, raw = option.partition("=")
    path = path.strip()
    if not sep or not path:
        raise _problem("--set", option, "expected PATH=V1,V2,..., found no '='")
    values: list[Any] = []
    for tok in raw.split(","):
        if not tok.strip():
            raise _problem("--set", path, f"expected comma-separated values, found {raw!r}")
        values.append(_scalar(tok))
    return path, values


def _scalar(token: str) -> Any:
    """A token read as a YAML scalar (the token itself if it is not valid YAML)."""
    token = token.strip()
    try:
        return yaml.safe_load(token)
    except yaml.YAMLError:
        return token


def parse_value(option: str) -> tuple[str, Any]:
    """Parse one `run --set PATH=VALUE` option; the value is read as YAML (`[a, b]` is a list).

    Raises:
        ScenarioError: Naming `--set`: no `=`, no path, no value, or several values
            (`PATH=V1,V2`, which is a sweep).
    """
    path, sep, raw = option.partition("=")
    path, raw = path.strip(), raw.strip()
    if not sep or not path:
        raise _problem("--set", option, "expected PATH=VALUE, found no '='")
    if not raw:
        raise _problem("--set", path, "expected a value after '=', found none")
    value = _scalar(raw)
    if isinstance(value, str) and "," in value and all(
            not isinstance(_scalar(tok), str) for tok in raw.split(",")):
        raise _problem("--set", path, f"expected one value, found {raw!r}; to compare several values "
                                      f"sweep them: `retention-lab sweep SCENARIO --set {path}={raw}`")
    return path, value


def set_values(scenario: Scenario, options: Sequence[str]) -> Scenario:
    """The scenario with `run --set PATH=VALUE` options applied, validated as a scenario file is.

    Args:
        scenario: The scenario as loaded.
        options: `PATH=VALUE` options, applied in order (each path once).

    Returns:
        The scenario with the values set (itself when there are none).

    Raises:
        ScenarioError: Naming `--set` and the field: a path that names nothing, a path given
            twice, or a value the scenario file would refuse there.
    """
    if not options:
        return scenario
    values: dict[str, Any] = {}
    for opt in options:
        path, value = parse_value(opt)
        if path in values:
            raise _problem("--set", path, "expected each path once, found it twice")
        values[path] = value
    data = scenario.model_dump(mode="json")
    for path, value in values.items():
        set_path(data, path, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_validation_problems(e, values, where="", data=data)) from None


def parameters_from(scenario: Scenario, sets: Sequence[str] = ()) -> dict[str, list[Any]]:
    """The sweep's parameters: from `--set` options, else the scenario's `sweep:` block.

    Args:
        scenario: The scenario.
        sets: `PATH=V1,V2,...` options; when given, the file's block is ignored.

    Returns:
        Path → values, in order.

    Raises:
        ScenarioError: If there is nothing to sweep or a path is repeated.
    """
    params: dict[str, list[Any]] = {}
    if sets:
        for opt in sets:
            path, values = parse_set(opt)
            if path in params:
                raise _problem("--set", path, "expected each path once, found it twice")
            params[path] = values
    elif scenario.sweep is not None:
        params = {k: list(v) for k, v in scenario.sweep.parameters.items()}
    if not params:
        raise _problem(scenario.name, "sweep", "nothing to sweep: give --set PATH=V1,V2 or a "
                                                "`sweep: {parameters: {path: [values]}}` block")
    for path, values in params.items():
        if not values:
            raise _problem("--set", path, "expected at least one value, found none")
    return params


def _item(seq: list[Any], part: str, where: str, path: str) -> int:
    if part.lstrip("-").isdigit():
        i = int(part)
        if not 0 <= i < len(seq):
            raise _problem("--set", path, f"{where} has {len(seq)} items, found index {i}")
        return i
    for key in ("name", "kind"):
        hits = [i for i, x in enumerate(seq) if isinstance(x, dict) and x.get(key) == part]
        if len(hits) == 1:
            return hits[0]
    names = [str(x.get("name") or x.get("kind")) for x in seq if isinstance(x, dict)]
    listed = ", ".join(names) if names else "none"
    raise _problem("--set", path, f"{where} has no item {part!r}; expected an index "
                                  f"(0–{len(seq) - 1}) or one of: {listed}")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted `path` of scenario data (in place).

    Args:
        data: The scenario as plain data, every default filled in.
        path: Dotted path; list items by index, `name` or unique `kind`.
        value: The new value.

    Raises:
        ScenarioError: If the path names nothing in the scenario.
    """
    parts = path.split(".")
    node: Any = data
    trail: list[str] = []
    for i, part in enumerate(parts):
        where = ".".join(trail) or "the scenario"
        last = i == len(parts) - 1
        key: Any
        if isinstance(node, dict):
            free = bool(trail) and trail[-1] in {"options", "parameters"}
            if part not in node and not (last and free):
                raise _problem("--set", path, f"{where} has no field {part!r}; fields are "
                                              f"{', '.join(map(str, node)) or 'none'}")
            key = part
        elif isinstance(node, list):
            key = _item(node, part, where, path)
        elif node is None:
            raise _problem("--set", path, f"{where} is null; give it a value in the scenario "
                                          "file before sweeping inside it")
        else:
            raise _problem("--set", path, f"{where} is a value ({node!r}), it has no {part!r}")
        if last:
            node[key] = value
            return
        node = node[key]
        trail.append(part)


def _validation_problems(exc: ValidationError, values: Mapping[str, Any],
                         where: str = "sweep point", data: Any = None) -> list[Problem]:
    """Problems of `--set` values, each ending "(at `where` path=value, ...)" unless `where` is empty.

    With the scenario `data` validated, an unknown policy option lists the kind's options.
    """
    label = ", ".join(f"{k}={v!r}" for k, v in values.items())
    at = f" (at {where} {label})" if where else ""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        text = (_option_message(err, tuple(err["loc"]), data) if data is not None else None) or _message(err)
        problem = Problem("--set", None, field, f"{text}{at}")
        if problem not in out:
            out.append(problem)
    return out


def grid(scenario: Scenario, parameters: Mapping[str, Sequence[Any]],
         overrides: Mapping[str, Any] | None = None) -> list[SweepPoint]:
    """Every point of the grid, each validated.

    Args:
        scenario: The base scenario.
        parameters: Path → values.
        overrides: Top-level fields set at every point (e.g. `replications`, `seed`).

    Returns:
        The points, the last parameter varying fastest.

    Raises:
        ScenarioError: Naming the path, for a path that names nothing or a value
            that makes an invalid scenario (every problem of every point).
    """
    base = scenario.model_dump(mode="json")
    base["sweep"] = None
    base.update(overrides or {})
    paths = list(parameters)
    points, problems = [], []
    for index, combo in enumerate(itertools.product(*(parameters[p] for p in paths))):
        data = copy.deepcopy(base)
        values = dict(zip(paths, combo, strict=True))
        for path, value in values.items():
            set_path(data, path, value)
        try:
            points.append(SweepPoint(index, values, Scenario.model_validate(data)))
        except ValidationError as e:
            problems.extend(p for p in _validation_problems(e, values, data=data) if p not in problems)
    if problems:
        raise ScenarioError(problems)
    return points


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_done(folder: Path, scenario: Scenario) -> bool:
    """Whether `folder` holds the complete outputs of `scenario` (its `done` marker matches)."""
    marker = folder / DONE
    expected = _digest(resolved_yaml(scenario, replication_seeds(scenario.seed,
                                                                 scenario.replications)))
    try:
        return marker.read_text(encoding="utf-8").strip() == expected
    except OSError:
        return False


def sweep_frame(out_dir: Path | str, points: Sequence[SweepPoint]) -> pd.DataFrame:
    """`sweep.csv` as a DataFrame, read from the points' written files.

    One row per point × policy × metric: `point`, one column per parameter,
    then the summary columns and the paired difference against the baseline
    (empty for the baseline itself).
    """
    out = Path(out_dir)
    frames = []
    for pt in points:
        summ = pd.read_csv(out / pt.folder / "summary.csv", **_EXACT)
        comp = pd.read_csv(out / pt.folder / "comparison.csv", **_EXACT)
        df = summ.merge(comp, on=["policy", "metric"], how="left")
        for j, (path, value) in enumerate(pt.values.items()):
            df.insert(j, path, [value] * len(df))
        df.insert(0, "point", pt.index)
        frames.append(df)
    cols = ["point", *(points[0].values if points else []), *SUMMARY_COLUMNS,
            *COMPARISON_COLUMNS[2:]]
    return pd.concat(frames, ignore_index=True)[cols]


#: Columns of `sweep_comparison.csv`.
PAIR_COLUMNS = ("point", "policy", "against_point", "against_policy", "metric", "diff_mean",
                "diff_ci_low", "diff_ci_high", "p_value", "pct_mean", "pct_ci_low", "pct_ci_high")


def point_replications(out_dir: Path | str, point: SweepPoint) -> pd.DataFrame:
    """One row per replication × arm with every summary metric, read from a point's store."""
    from sim.experiment import resolve
    from sim.result import load_result

    scenario, seeds = resolve(point.scenario)
    return load_result(Path(out_dir) / point.folder, scenario, seeds).replications


def compare_points(reps: Mapping[int, pd.DataFrame], a: tuple[int, str], b: tuple[int, str],
                   metrics: Sequence[str] = HEADLINE, level: float = 0.95) -> pd.DataFrame:
    """Paired differences of arm `a` = (point, policy) against arm `b`, replication by replication.

    Every point of a sweep runs with the same root seed, so replication r of
    every arm at every point met the same customers and random numbers: the
    difference is paired across points as it is across arms.

    Args:
        reps: Point index → its replications (`point_replications`).
        a: The (point, policy) compared.
        b: The (point, policy) it is compared with.
        metrics: The metrics.
        level: Confidence level.

    Returns:
        `PAIR_COLUMNS` rows, one per metric.
    """
    from sim.result import compare_arms

    left = reps[a[0]][reps[a[0]].policy == a[1]].assign(policy="a")
    right = reps[b[0]][reps[b[0]].policy == b[1]].assign(policy="b")
    frame = compare_arms(pd.concat([left, right]), ["a", "b"], "b", level, list(metrics), arms=["a"])
    frame = frame.drop(columns=["against"]).assign(point=a[0], policy=a[1], against_point=b[0],
                                                   against_policy=b[1])
    return frame[list(PAIR_COLUMNS)]


def sweep_comparison(out_dir: Path | str, points: Sequence[SweepPoint],
                     metrics: Sequence[str] = HEADLINE) -> pd.DataFrame:
    """`sweep_comparison.csv`: comparisons across the grid, all paired.

    Every arm against every other arm at each point, and each arm at each point
    against the same arm at the first point.
    """
    reps = {pt.index: point_replications(out_dir, pt) for pt in points}
    frames = []
    for pt in points:
        pols = list(dict.fromkeys(reps[pt.index].policy))
        for pol in pols:
            for other in pols:
                if other != pol:
                    frames.append(compare_points(reps, (pt.index, pol), (pt.index, other), metrics))
            if pt.index != points[0].index:
                frames.append(compare_points(reps, (pt.index, pol), (points[0].index, pol), metrics))
    if not frames:
        return pd.DataFrame(columns=list(PAIR_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _numeric(values: Iterable[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def grid_positions(points: Iterable[int], parameters: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """Where each point of the grid stands in each parameter's list of values.

    Worked out from the point indices (the grid is the cartesian product, the
    last parameter varying fastest), never by comparing values: a value read back
    from `sweep.csv` may differ in type from the one swept (`0` is read as `0.0`).

    Args:
        points: Point indices (e.g. the `point` column of the sweep frame).
        parameters: Path → values, as swept.

    Returns:
        Path → the index into that parameter's values, one per point.
    """
    index = np.asarray(list(points), dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    stride = 1
    for path in reversed(list(parameters)):
        n = len(parameters[path])
        out[path] = (index // stride) % n
        stride *= n
    return out


def plot_sweep(frame: pd.DataFrame, parameters: Mapping[str, Sequence[Any]],
               metric: str, policies: Sequence[str] | None = None,
               baseline: str | None = None, lang: str = "en",
               scenario: Scenario | None = None) -> Figure:
    """A metric against the first swept parameter, per policy, with 95 % intervals.

    Left: each policy's mean. Right (when there is a baseline and another arm):
    the paired difference of each other arm against the baseline. Other swept
    parameters, if any, give one line per combination of their values.

    Args:
        frame: The sweep frame (`sweep_frame`); its `point` column places each row on the grid.
        parameters: Path → values, as swept.
        metric: The metric plotted.
        policies: Policy order (default: as in the frame).
        baseline: The baseline arm (no difference panel when None).
        lang: Language of the labels (`sim.report`; English when no CJK font is found).
        scenario: The base scenario (money in its currency, totals with their time basis).

    Returns:
        The figure.
    """
    paths = list(parameters)
    xpath, rest = paths[0], paths[1:]
    xs = list(parameters[xpath])
    numeric = _numeric(xs)
    positions = np.array([float(v) for v in xs] if numeric else range(len(xs)), dtype=float)
    sub = frame[frame.metric == metric]
    at = grid_positions(sub.point, parameters)
    policies = list(policies or dict.fromkeys(sub.policy))
    others = [p for p in policies if p != baseline] if baseline else []
    fig = Figure(figsize=(12 if others else 8, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if others else 1, squeeze=False).ravel()
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
    styles = ("-", "--", ":", "-.")
    combos = list(itertools.product(*(range(len(parameters[p])) for p in rest)))
    from sim import report
    from sim.i18n import N_, msg

    lang = report.plot_language(lang)
    st = report.Style(lang, scenario.market.currency if scenario is not None else None)
    panels = [(axes[0], policies, ("mean", "ci_low", "ci_high"), st.t(N_("mean, 95 % CI")))]
    if others:
        panels.append((axes[1], others, ("diff_mean", "diff_ci_low", "diff_ci_high"),
                       st.t(msg("paired difference against {arm}, 95 % CI", arm=baseline))))
    for ax, arms, (m_col, lo_col, hi_col), what in panels:
        for pol in arms:
            colour = colours[policies.index(pol) % len(colours)]
            for k, combo in enumerate(combos):
                keep = (sub.policy == pol).to_numpy(copy=True)
                for path, j in zip(rest, combo, strict=True):
                    keep &= at[path] == j
                rows = sub[keep]
                x = positions[at[xpath][keep]]
                order = np.argsort(x)
                label = pol + "".join(f", {p}={parameters[p][j]}" for p, j in zip(rest, combo, strict=True))
                ax.plot(x[order], rows[m_col].to_numpy(float)[order], marker="o", color=colour,
                        linestyle=styles[k % len(styles)], label=label)
                ax.fill_between(x[order], rows[lo_col].to_numpy(float)[order],
                                rows[hi_col].to_numpy(float)[order], color=colour, alpha=0.15,
                                linewidth=0)
        if not numeric:
            ax.set_xticks(positions, [str(v) for v in xs])
        ax.set_xlabel(xpath)
        ax.set_title(what, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if others:
        axes[1].axhline(0, color="0.3", linewidth=0.8)
    label = report.metric_label(metric, lang)
    if st.unit() and metric in METRICS and METRICS[metric].unit == "money":
        label += f" ({st.unit()})"
    axes[0].set_ylabel(label)
    basis = (f", {st.t(report.basis_of(metric, scenario))}" if scenario is not None else "")
    fig.suptitle(st.t(msg("{metric} against {parameter}", metric=report.metric_label(metric, lang),
                          parameter=xpath)) + basis, fontsize=11)
    return report.with_fonts(fig, lang)


@dataclass
class SweepOutcome:
    """What a sweep did.

    Attributes:
        out_dir: Its folder.
        points: The grid.
        skipped: Indices of points found complete and not run again.
        frame: The content of `sweep.csv`.
    """

    out_dir: Path
    points: list[SweepPoint]
    skipped: list[int]
    frame: pd.DataFrame


def _overrides(replications: int | None, seed: int | None) -> dict[str, Any]:
    return {k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None}


def sweep_state(scenario: Scenario, parameters: Mapping[str, Sequence[Any]], out_dir: Path | str, *,
                replications: int | None = None, seed: int | None = None) -> str | None:
    """What a folder holds of this very sweep (same grid, replications and seed).

    Args:
        scenario: The base scenario.
        parameters: Path → values.
        out_dir: The folder.
        replications: As given to `run_sweep`.
        seed: As given to `run_sweep`.

    Returns:
        "complete" (every point done and `sweep.csv` written), "interrupted" (some of
        its points or replications are there), or None (nothing of it).
    """
    from sim.experiment import resolve
    from sim.store import ReplicationStore

    out = Path(out_dir)
    points = grid(scenario, parameters, _overrides(replications, seed))
    done = [point_done(out / pt.folder, pt.scenario) for pt in points]
    if all(done) and (out / "sweep.csv").is_file():
        return "complete"
    for pt, finished in zip(points, done, strict=True):
        store = ReplicationStore(out / pt.folder, *resolve(pt.scenario))
        if finished or store.holds():
            return "interrupted"
    return None


def run_sweep(scenario: Scenario, parameters: Mapping[str, Sequence[Any]],
              out_dir: Path | str, *, replications: int | None = None, workers: int = 1,
              backend: str = "local", seed: int | None = None, scheduler: str | None = None,
              resume: bool = False, plots: bool = True,
              progress: SweepProgress | None = None, agents: str | None = None,
              lang: str | None = None) -> SweepOutcome:
    """Run the comparison at every point of a grid and write the sweep's outputs.

    Args:
        scenario: The base scenario.
        parameters: Path → values.
        out_dir: The sweep's folder.
        replications: Overrides the scenario's replications at every point.
        workers: Parallel workers for each point's replications.
        backend: "local" or "dask".
        seed: Overrides the root seed.
        scheduler: Dask scheduler address.
        resume: Skip points whose outputs are complete, and reuse the replications
            finished in a point that was interrupted mid-way.
        plots: Draw figures and reports (points and sweep plots).
        progress: Called as replications finish.
        agents: "final" or "every": also write each point's customers to `point-XXX/agents/`
            (`sim.agents_output`); None collects nothing.
        lang: Language of the reports and plots (default: the scenario's `language`).

    Returns:
        The outcome; `sweep_comparison.csv`, `sweep_<metric>.png`, the sweep's `report.html`
        and `sweep.csv` are written last.

    Raises:
        ScenarioError: If a path or value is bad (before anything runs).
    """
    from sim.experiment import resolve, run
    from sim.store import ReplicationStore

    points = grid(scenario, parameters, _overrides(replications, seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    skipped = []
    for pt in points:
        folder = out / pt.folder
        customers = AgentsOutput.of(folder, agents)
        if resume and point_done(folder, pt.scenario) and not (
                customers and customers.missing(pt.scenario, range(pt.scenario.replications))):
            skipped.append(pt.index)
            continue
        (folder / DONE).unlink(missing_ok=True)

        def tick(done: int, total: int, _i: int = pt.index) -> None:
            if progress is not None:
                progress(_i, len(points), done, total)

        tick(0, pt.scenario.replications)
        # A point interrupted mid-way resumes at replication level from its store; a
        # store left by another grid at this index is replaced.
        again = resume and ReplicationStore(folder, *resolve(pt.scenario)).matches()
        result = run(pt.scenario, workers=workers, backend=backend, progress=tick,
                     scheduler=scheduler, store=folder, resume=again, agents=customers)
        write_result(result, folder, plots=plots, lang=lang)
        atomic_write(folder / DONE, _digest(resolved_yaml(result.scenario, result.seeds)) + "\n")
    frame = sweep_frame(out, points)
    pairs = sweep_comparison(out, points)
    atomic_write(out / "sweep_comparison.csv", csv_text(pairs))
    if plots:
        from sim import __version__
        from sim.report import png_bytes, render_sweep_html

        policies = [p.name for p in scenario.policies]
        images = {}
        for metric in HEADLINE:
            fig = plot_sweep(frame, parameters, metric, policies, scenario.baseline_policy,
                             lang=lang or scenario.language, scenario=scenario)
            images[f"sweep_{metric}.png"] = png_bytes(fig)
            atomic_write(out / f"sweep_{metric}.png", images[f"sweep_{metric}.png"])
        atomic_write(out / "report.html", render_sweep_html(frame, pairs, points, scenario, images, __version__,
                                                             lang=lang))
    atomic_write(out / "sweep.csv", csv_text(frame))
    return SweepOutcome(out, points, skipped, frame)


def sweep_text(outcome: SweepOutcome, scenario: Scenario, lang: str = "en") -> str:
    """What `sweep` prints: per point and arm, the paired differences against the baseline.

    Churn in percentage points, revenue and profit in the scenario's currency over
    the horizon, and profit in % of the baseline's with its 95 % interval.
    """
    from sim import report
    from sim.i18n import N_, msg

    st = report.Style(lang, scenario.market.currency)
    frame = outcome.frame
    base = scenario.baseline_policy
    metrics = ("churn_rate", "revenue", "profit")
    rows = [[st.t(N_("point")), *outcome.points[0].values, st.t(N_("arm")),
             *(st.t(msg("{metric} − {arm}", metric=report.metric_label(m, lang), arm=base)) for m in metrics),
             st.t(msg("profit − {arm} in %", arm=base)), ""]]
    for pt in outcome.points:
        sub = frame[frame.point == pt.index]
        for pol in (p.name for p in scenario.policies if p.name != base):
            cells = []
            for m in metrics:
                r = sub[(sub.policy == pol) & (sub.metric == m)]
                cells.append(st.value(r.diff_mean.iloc[0], m, diff=True) if len(r) else "–")
            r = sub[(sub.policy == pol) & (sub.metric == "profit")]
            b = sub[(sub.policy == base) & (sub.metric == "profit")]
            ref = abs(float(b["mean"].iloc[0])) if len(b) and float(b["mean"].iloc[0]) != 0 else float("nan")
            pct = (f"{st.pct(r.diff_mean.iloc[0] / ref, True)} "
                   f"{st.ci(r.diff_ci_low.iloc[0] / ref, r.diff_ci_high.iloc[0] / ref, pct=True)}"
                   if len(r) else "–")
            note = st.t(N_("(resumed)")) if pt.index in outcome.skipped else ""
            rows.append([pt.folder, *(str(v) for v in pt.values.values()), pol, *cells, pct, note])
    head = st.t(msg("{name}: {n} points; paired differences against {arm}, {basis}:", name=scenario.name,
                    n=len(outcome.points), arm=base, basis=report.time_basis(scenario)))
    return head + "\n" + report.columns_text(rows, left=2 + len(outcome.points[0].values))
