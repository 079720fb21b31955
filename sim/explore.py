"""Exploration: every policy over a sampled design of uncertain inputs, resumably.

The uncertain inputs are dotted paths over the scenario, as for `sweep`
(`market.competitor_pull`, `population.size`,
`policies.likes_some_customers.biases.0.strength`), each with a range: from the
scenario's `uncertainties:` block, overridden or extended by
`--vary PATH=LOW:HIGH`. A field that holds an integer (`population.size`) is
sampled as an integer: its range is widened by half a unit on each side and
each sampled value rounded, so every integer in the range is equally likely.

Designs (SALib), with N given by `--samples`:

- `lhs`: a Latin hypercube of N samples; first-order indices by RBD-FAST
  (Tarantola et al. 2006, bias-corrected by Tissot & Prieur 2012), which takes
  any sample, with bootstrap 95 % intervals.
- `sobol`: Saltelli's extension of a scrambled Sobol' sequence, N a power of
  two: N·(D+2) samples for first-order and total indices (S1, ST), N·(2D+2)
  with second-order ones (S2); Sobol' analysis with bootstrap intervals.
- `morris`: N trajectories of D+1 points on a 4-level grid, N·(D+1) samples;
  Morris elementary effects (mu_star with its bootstrap interval, mu, sigma).

Common random numbers: every sample runs the scenario's replication seeds
(`replication_seeds(seed, R)`), the same for every policy and every sample, so
policies at a sample differ only by the policy, and samples only by the
inputs. Sample `i` keeps its replications in a replication store
(`sample-XXXXX/replications/rep-XXXXX.npz`, `sim.store`) as they finish, on
the local process pool or on Dask, in any order; every output is computed from
those files in sample and replication order, so an interrupted exploration
resumed with `resume=True` (only the missing replications are computed), and
one run on Dask, give byte-identical outputs.

Outputs: `experiments.csv` (one row per sample × policy: the inputs, then every
metric's mean over the replications), `sensitivity.csv`, `discovery.csv` and
`discovery.md` (PRIM boxes, with EMA Workbench's PRIM: where each biased
policy loses more than a threshold share of profit against its unbiased twin
or the baseline), `robustness.csv` (each policy's regret), then
`explore.resolved.yaml` last: the scenario with the uncertainties as run and the
design as comments; its presence means the folder is complete.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sim.files import atomic_write, resolved_yaml
from sim.loader import Problem, ScenarioError
from sim.metrics import HEADLINE, METRICS
from sim.output import csv_text
from sim.rng import make_rng, replication_seeds
from sim.scenario import Scenario
from sim.store import ReplicationResult, ReplicationStore
from sim.sweep import _validation_problems, set_path

DESIGNS = ("lhs", "sobol", "morris")
#: Grid levels of a Morris design.
MORRIS_LEVELS = 4
#: Relative profit loss above which a biased policy's sample is a case of interest.
DEFAULT_THRESHOLD = 0.05
#: A PRIM box is chosen on the peeling trajectory as the one of highest coverage with at
#: least this density; further boxes are reported only if they reach it.
TARGET_DENSITY = 0.8
#: At most this many PRIM boxes per biased policy.
MAX_BOXES = 3
#: Outcomes whose sensitivity indices are computed.
OUTCOMES = HEADLINE
OUTPUTS = ("experiments.csv", "sensitivity.csv", "discovery.csv", "discovery.md", "robustness.csv")
RESOLVED = "explore.resolved.yaml"
SENSITIVITY_COLUMNS = ("policy", "outcome", "input", "method", "index", "value", "conf",
                       "ci_low", "ci_high")
DISCOVERY_COLUMNS = ("policy", "compared_with", "threshold", "samples", "cases", "box", "coverage",
                     "density", "mass", "input", "low", "high")
ROBUSTNESS_COLUMNS = ("policy", "mean_regret", "p90_regret", "max_regret", "best_share",
                      "minimax_regret")
_ENTRY = re.compile(r"sample-\d{5,}|\..+\.tmp")

#: Called with (runs done, runs) as an exploration runs (a run: one sample's replication).
ExploreProgress = Callable[[int, int], None]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Uncertainty:
    """One uncertain input.

    Attributes:
        path: Dotted path over the scenario.
        low: Lowest value.
        high: Highest value.
        integer: Whether the field holds an integer (sampled values are rounded).
    """

    path: str
    low: float
    high: float
    integer: bool = False

    @property
    def bounds(self) -> list[float]:
        """The range given to SALib (widened by half a unit for integers)."""
        if self.integer:
            return [self.low - 0.5, self.high + 0.5]
        return [self.low, self.high]

    def value(self, x: float) -> int | float:
        """The value run for a design's value `x`."""
        if self.integer:
            return int(min(max(math.floor(x + 0.5), self.low), self.high))
        return float(x)


def _problem(source: str, field: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(source, None, field, message)])


def _number(text: str, option: str, which: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _problem("--vary", option, f"expected {which} to be a number, found {text!r}") from None
    if not math.isfinite(value):
        raise _problem("--vary", option, f"expected {which} to be a finite number, found {text!r}")
    return value


def parse_vary(option: str) -> tuple[str, float, float]:
    """Parse one `--vary PATH=LOW:HIGH` option.

    Raises:
        ScenarioError: Naming the option, if it is not `PATH=LOW:HIGH` with numbers, LOW < HIGH.
    """
    path, sep, raw = option.partition("=")
    path = path.strip()
    if not sep or not path:
        raise _problem("--vary", option, "expected PATH=LOW:HIGH, found no '='")
    low_text, colon, high_text = raw.partition(":")
    if not colon:
        raise _problem("--vary", option, f"expected LOW:HIGH after '=', found {raw!r}")
    low = _number(low_text.strip(), option, "LOW")
    high = _number(high_text.strip(), option, "HIGH")
    if not low < high:
        raise _problem("--vary", option, f"expected LOW < HIGH, found LOW={low:g}, HIGH={high:g}")
    return path, low, high


_MARK = object()


def _replaced(before: Any, after: Any) -> Any:
    """The value in `before` where `after` holds `_MARK` (the two differ at one place only)."""
    if after is _MARK:
        return before
    if isinstance(after, dict):
        for key, value in after.items():
            if value is not before.get(key):
                found = _replaced(before.get(key), value)
                if found is not _MARK:
                    return found
    elif isinstance(after, list):
        for old, new in zip(before, after, strict=True):
            found = _replaced(old, new)
            if found is not _MARK:
                return found
    return _MARK


def _current(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of scenario data (ScenarioError naming the path if none)."""
    probe = copy.deepcopy(data)
    set_path(probe, path, _MARK)
    found = _replaced(data, probe)
    return None if found is _MARK else found


def uncertainties_from(scenario: Scenario, varies: Sequence[str] = ()) -> list[Uncertainty]:
    """The uncertain inputs: the scenario's `uncertainties:` block, then `--vary` options.

    A `--vary` option replaces the block's range of the same path and adds the others.

    Raises:
        ScenarioError: Naming the option or the block's entry, for a path that names
            nothing or no number, a path given twice, or no input at all.
    """
    ranges: dict[str, tuple[float, float, str, str]] = {}
    for path, rng in (scenario.uncertainties or {}).items():
        ranges[path] = (rng.low, rng.high, scenario.name, f"uncertainties.{path}")
    seen: set[str] = set()
    for option in varies:
        path, low, high = parse_vary(option)
        if path in seen:
            raise _problem("--vary", option, f"expected each path once, found {path} twice")
        seen.add(path)
        ranges[path] = (low, high, "--vary", option)
    if not ranges:
        raise _problem(scenario.name, "uncertainties", "nothing to explore: give --vary PATH=LOW:HIGH "
                                                       "or an `uncertainties: {path: {low, high}}` block")
    data = scenario.model_dump(mode="json")
    out = []
    for path, (low, high, source, field) in ranges.items():
        try:
            value = _current(data, path)
        except ScenarioError as e:
            raise ScenarioError([Problem(source, None, field, p.message) for p in e.problems]) from None
        if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
            raise _problem(source, field, f"{path} is not a number (it holds {value!r}); "
                                          "only numeric fields can be explored")
        integer = isinstance(value, int)
        if integer and (low != math.floor(low) or high != math.floor(high)):
            raise _problem(source, field, f"{path} holds an integer; expected integer LOW and HIGH, "
                                          f"found {low:g}:{high:g}")
        out.append(Uncertainty(path, low, high, integer))
    return out


# --------------------------------------------------------------------------- the design


@dataclass(frozen=True)
class Design:
    """A sampled design of the uncertain inputs.

    Attributes:
        kind: "lhs", "sobol" or "morris".
        samples: N as given (`--samples`).
        uncertainties: The inputs, in column order.
        x: The design's values (samples × inputs), as SALib drew them.
        second_order: Sobol' designs: whether second-order indices are computed.
    """

    kind: str
    samples: int
    uncertainties: tuple[Uncertainty, ...]
    x: np.ndarray
    second_order: bool = False

    @property
    def problem(self) -> dict[str, Any]:
        """The SALib problem."""
        return {"num_vars": len(self.uncertainties), "names": [u.path for u in self.uncertainties],
                "bounds": [u.bounds for u in self.uncertainties]}

    def values(self) -> pd.DataFrame:
        """The inputs as run, one row per sample (integer fields as integers)."""
        cols = {}
        for j, u in enumerate(self.uncertainties):
            vals = [u.value(x) for x in self.x[:, j]]
            cols[u.path] = np.array(vals, dtype=np.int64 if u.integer else np.float64)
        return pd.DataFrame(cols)


def sample_count(kind: str, samples: int, inputs: int, second_order: bool = False) -> int:
    """How many samples a design of `samples` (N) over `inputs` (D) runs."""
    if kind == "sobol":
        return samples * (2 * inputs + 2 if second_order else inputs + 2)
    if kind == "morris":
        return samples * (inputs + 1)
    return samples


def make_design(uncertainties: Sequence[Uncertainty], kind: str, samples: int, seed: int,
                second_order: bool = False) -> Design:
    """Draw a design with SALib.

    Args:
        uncertainties: The inputs.
        kind: "lhs", "sobol" or "morris".
        samples: N: samples (lhs), base samples, a power of two (sobol), or trajectories (morris).
        seed: Seed of the design's generator.
        second_order: Sobol' designs: also second-order indices.

    Raises:
        ScenarioError: Naming `--samples` or `--design`, if they do not fit the design.
    """
    from SALib.sample import latin, morris, sobol

    if kind not in DESIGNS:
        raise _problem("--design", kind, f"expected one of {', '.join(DESIGNS)}, found {kind!r}")
    least = {"lhs": 8, "sobol": 2, "morris": 2}[kind]
    if samples < least:
        raise _problem("--samples", str(samples), f"a {kind} design needs at least {least} samples")
    if kind == "sobol" and samples & (samples - 1):
        raise _problem("--samples", str(samples), "a Sobol' design needs a power of two "
                                                  f"(e.g. {1 << samples.bit_length()})")
    design = Design(kind, samples, tuple(uncertainties), np.zeros((0, len(uncertainties))), second_order)
    rng = make_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "lhs":
            x = latin.sample(design.problem, samples, seed=rng)
        elif kind == "sobol":
            x = sobol.sample(design.problem, samples, calc_second_order=second_order, seed=rng)
        else:
            x = morris.sample(design.problem, samples, num_levels=MORRIS_LEVELS, seed=rng)
    return replace(design, x=np.asarray(x, dtype=np.float64))


@dataclass(frozen=True)
class Sample:
    """One sample of the design.

    Attributes:
        index: Its row in the design.
        values: Path → value run.
        scenario: The scenario at this sample (no `sweep` or `uncertainties` block).
    """

    index: int
    values: dict[str, int | float]
    scenario: Scenario

    @property
    def folder(self) -> str:
        """Its sub-folder, `sample-XXXXX`."""
        return f"sample-{self.index:05d}"


def base_scenario(scenario: Scenario, uncertainties: Sequence[Uncertainty],
                  replications: int | None = None, seed: int | None = None) -> Scenario:
    """The scenario as explored: overrides applied, the uncertainties as they are run."""
    data = scenario.model_dump(mode="json")
    data.update({k: v for k, v in (("replications", replications), ("seed", seed)) if v is not None})
    data["uncertainties"] = {u.path: {"low": u.low, "high": u.high} for u in uncertainties}
    return Scenario.model_validate(data)


def samples_of(base: Scenario, design: Design) -> list[Sample]:
    """Every sample's scenario, each validated.

    Raises:
        ScenarioError: Naming `--vary`, for values that make an invalid scenario.
    """
    data = base.model_dump(mode="json")
    data["sweep"] = None
    data["uncertainties"] = None
    out, problems = [], []
    for i, row in enumerate(design.values().itertuples(index=False)):
        values = {u.path: (int(v) if u.integer else float(v))
                  for u, v in zip(design.uncertainties, row, strict=True)}
        point = copy.deepcopy(data)
        for path, value in values.items():
            set_path(point, path, value)
        try:
            out.append(Sample(i, values, Scenario.model_validate(point)))
        except ValidationError as e:
            found = [replace(p, file="--vary", message=p.message.replace("sweep point", "sample"))
                     for p in _validation_problems(e, values)]
            problems.extend(p for p in found if p not in problems)
    if problems:
        raise ScenarioError(problems[:10])
    return out


# --------------------------------------------------------------------------- folder


def is_result(name: str) -> bool:
    """Whether `explore` writes an entry of this name at the top of its folder."""
    return name in (*OUTPUTS, RESOLVED) or _ENTRY.fullmatch(name) is not None


def foreign_files(out_dir: Path | str) -> list[str]:
    """The entries of a folder that `explore` does not write, sorted."""
    return sorted(p.name for p in Path(out_dir).iterdir() if not is_result(p.name))


def clear_results(out_dir: Path | str) -> None:
    """Remove what `explore` wrote in a folder (`--force`); leave the rest."""
    import shutil

    for entry in Path(out_dir).iterdir():
        if is_result(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@dataclass(frozen=True)
class Plan:
    """Everything an exploration runs, fixed before it starts.

    Attributes:
        base: The scenario as explored (overrides, uncertainties as run).
        design: The design.
        samples: Every sample's scenario.
        threshold: Relative profit loss marking a case of interest for discovery.
    """

    base: Scenario
    design: Design
    samples: list[Sample]
    threshold: float = DEFAULT_THRESHOLD

    @property
    def seeds(self) -> list[int]:
        """The replication seeds, the same at every sample."""
        return replication_seeds(self.base.seed, self.base.replications)

    def stores(self, out: Path) -> list[ReplicationStore]:
        """Every sample's replication store in `out`."""
        return [ReplicationStore(out / s.folder, s.scenario, self.seeds) for s in self.samples]

    def resolved(self) -> str:
        """The text of `explore.resolved.yaml`."""
        d = self.design
        head = [
            "# Retention Lab exploration, resolved: the scenario with its uncertainties as run.",
            f"# design: {d.kind}; samples (N): {d.samples}; runs: {len(self.samples)} samples x "
            f"{self.base.replications} replications"
            + (f"; second order: {d.second_order}" if d.kind == "sobol" else "")
            + (f"; levels: {MORRIS_LEVELS}" if d.kind == "morris" else ""),
            f"# discovery threshold: {self.threshold:.10g}",
            f"# Rerun: retention-lab explore {RESOLVED} --design {d.kind} --samples {d.samples}"
            + (" --second-order" if d.second_order else "")
            + f" --threshold {self.threshold * 100:.10g}",
        ]
        return "\n".join(head) + "\n" + resolved_yaml(self.base, self.seeds)


def plan(scenario: Scenario, varies: Sequence[str] = (), *, samples: int, design: str = "lhs",
         replications: int | None = None, seed: int | None = None, second_order: bool = False,
         threshold: float = DEFAULT_THRESHOLD) -> Plan:
    """Fix an exploration: its inputs, design and samples, every one validated.

    Raises:
        ScenarioError: Naming the option at fault (before anything runs).
    """
    if not 0 < threshold < 1:
        raise _problem("--threshold", f"{threshold * 100:g}",
                       "expected a share of profit between 0 and 100 %")
    uncertainties = uncertainties_from(scenario, varies)
    base = base_scenario(scenario, uncertainties, replications, seed)
    des = make_design(uncertainties, design, samples, base.seed, second_order)
    return Plan(base, des, samples_of(base, des), threshold)


def explore_state(p: Plan, out_dir: Path | str) -> str | None:
    """What a folder holds of this very exploration: "complete", "interrupted" or None."""
    out = Path(out_dir)
    try:
        complete = (out / RESOLVED).read_text(encoding="utf-8") == p.resolved()
    except OSError:
        complete = False
    if complete and all((out / f).is_file() for f in OUTPUTS):
        return "complete"
    return "interrupted" if any(st.holds() for st in p.stores(out)) else None


# --------------------------------------------------------------------------- running


def _results(tasks: list[tuple[Scenario, int, int]], workers: int, backend: str,
             scheduler: str | None) -> Iterator[ReplicationResult]:
    from sim.experiment import _pool_results, _task

    if backend == "dask":
        from sim.distributed import dask_map

        yield from dask_map(_task, tasks, scheduler=scheduler, workers=workers, ordered=False)
    elif workers <= 1 or len(tasks) <= 1:
        yield from map(_task, tasks)
    else:
        yield from _pool_results(tasks, workers)


def run_samples(p: Plan, out_dir: Path | str, *, workers: int = 1, backend: str = "local",
                scheduler: str | None = None, resume: bool = False,
                progress: ExploreProgress | None = None) -> int:
    """Run every sample's replications not yet in `out_dir`, writing each as it finishes.

    Returns:
        How many runs (sample replications) were found done and reused.

    Raises:
        StoreMismatchError: If `resume` and a sample's folder holds another run.
    """
    out = Path(out_dir)
    seeds = p.seeds
    reps = len(seeds)
    stores = p.stores(out)
    tasks = []
    for sample, store in zip(p.samples, stores, strict=True):
        done = set(store.prepare(resume))
        tasks += [(sample.scenario, sample.index * reps + r, seeds[r]) for r in range(reps) if r not in done]
    total = len(p.samples) * reps
    count = total - len(tasks)
    if progress is not None:
        progress(count, total)
    it = _results(tasks, workers, backend, scheduler)
    try:
        for rr in it:
            i, r = divmod(rr.replication, reps)
            stores[i].write(replace(rr, replication=r))
            count += 1
            if progress is not None:
                progress(count, total)
    finally:
        it.close()
    return total - len(tasks)


# --------------------------------------------------------------------------- analyses


def experiments_frame(p: Plan, out_dir: Path | str) -> pd.DataFrame:
    """`experiments.csv`: one row per sample × policy, the inputs then every metric's mean."""
    policies = [s.name for s in p.base.policies]
    metrics = list(METRICS)
    inputs = p.design.values()
    rows = []
    for sample, store in zip(p.samples, p.stores(Path(out_dir)), strict=True):
        runs = [store.read(r).summaries for r in range(len(store.seeds))]
        for pol in policies:
            arr = np.array([[run[pol][m] for m in metrics] for run in runs], dtype=np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a metric NaN in every replication
                rows.append((sample.index, pol, *np.nanmean(arr, axis=0)))
    df = pd.DataFrame(rows, columns=["sample", "policy", *metrics])
    df = df.merge(inputs.assign(sample=np.arange(len(inputs))), on="sample", how="left")
    return df[["sample", *inputs.columns, "policy", *metrics]]


def _outcome(experiments: pd.DataFrame, policy: str, metric: str) -> np.ndarray:
    rows = experiments[experiments.policy == policy].sort_values("sample")
    return rows[metric].to_numpy(dtype=np.float64)


_Row = tuple[str, str, str, float, float]


def _indices(design: Design, y: np.ndarray, rng: np.random.Generator) -> list[_Row]:
    """(input, method, index, value, half-width) rows of one outcome's analysis."""
    from SALib.analyze import morris, rbd_fast, sobol

    names = [u.path for u in design.uncertainties]
    problem = design.problem
    rows: list[_Row] = []
    if not np.isfinite(y).all() or np.ptp(y) == 0:
        return rows  # no variance to apportion
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if design.kind == "sobol":
            si = sobol.analyze(problem, y, calc_second_order=design.second_order, seed=rng)
            for key in ("S1", "ST"):
                rows += [(n, "sobol", key, si[key][j], si[f"{key}_conf"][j]) for j, n in enumerate(names)]
            if design.second_order:
                for a in range(len(names)):
                    for b in range(a + 1, len(names)):
                        rows.append((f"{names[a]} × {names[b]}", "sobol", "S2", si["S2"][a, b],
                                     si["S2_conf"][a, b]))
        elif design.kind == "morris":
            si = morris.analyze(problem, design.x, y, num_levels=MORRIS_LEVELS, seed=rng)
            for j, n in enumerate(names):
                rows += [(n, "morris", "mu_star", si["mu_star"][j], si["mu_star_conf"][j]),
                         (n, "morris", "mu", si["mu"][j], math.nan),
                         (n, "morris", "sigma", si["sigma"][j], math.nan)]
        else:
            # M harmonics must stay below a quarter of the bootstrap's half samples.
            m = max(1, min(10, design.samples // 16))
            si = rbd_fast.analyze(problem, design.x, y, M=m, seed=rng)
            rows += [(n, "rbd_fast", "S1", si["S1"][j], si["S1_conf"][j]) for j, n in enumerate(names)]
    return [(n, meth, k, float(v), float(c)) for n, meth, k, v, c in rows]


def sensitivity_frame(p: Plan, experiments: pd.DataFrame) -> pd.DataFrame:
    """`sensitivity.csv`: indices per policy × outcome × input, with 95 % intervals.

    An outcome that does not vary over the samples has no rows.
    """
    rng = make_rng(p.base.seed)
    rows = []
    for pol in (s.name for s in p.base.policies):
        for metric in OUTCOMES:
            for inp, method, index, value, conf in _indices(p.design, _outcome(experiments, pol, metric), rng):
                rows.append((pol, metric, inp, method, index, value, conf, value - conf, value + conf))
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))


def comparator(scenario: Scenario, policy: str) -> str:
    """A biased policy's unbiased twin (same kind, no bias), else the baseline."""
    spec = scenario.policy(policy)
    for other in scenario.policies:
        if other.name != policy and other.kind == spec.kind and not other.biases:
            return other.name
    return scenario.baseline_policy


def profit_loss(experiments: pd.DataFrame, policy: str, against: str) -> np.ndarray:
    """Relative profit loss of `policy` against `against`, per sample (NaN where its profit is 0)."""
    mine = _outcome(experiments, policy, "profit")
    ref = _outcome(experiments, against, "profit")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref != 0, (ref - mine) / np.abs(ref), np.nan)


@dataclass(frozen=True)
class Box:
    """A PRIM box: where cases of interest concentrate.

    Attributes:
        limits: Input → (low, high), the restricted inputs only.
        coverage: Share of all cases of interest inside the box.
        density: Share of the box's samples that are cases of interest.
        mass: Share of all samples inside the box.
    """

    limits: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float


def prim_boxes(x: pd.DataFrame, y: np.ndarray, *, density: float = TARGET_DENSITY,
               max_boxes: int = MAX_BOXES) -> list[Box]:
    """PRIM boxes (EMA Workbench's `Prim`, peeling and pasting at alpha 0.05) of cases `y` in `x`.

    On each box's peeling trajectory the box of highest coverage with at least
    `density` is chosen (the densest one if none reaches it). The first box is
    always returned; further ones (found in the samples outside earlier boxes)
    only while they reach `density`.

    Args:
        x: The inputs, one column each (integer columns are peeled as integers).
        y: Whether each sample is a case of interest.
        density: The density sought.
        max_boxes: At most this many boxes.

    Returns:
        The boxes; none if there is no case of interest.
    """
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return []
    if y.all():
        return [Box({}, 1.0, 1.0, 1.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        finder = prim.Prim(x.reset_index(drop=True), y, peel_alpha=0.05, paste_alpha=0.05,
                           mass_min=0.05)
        boxes: list[Box] = []
        while len(boxes) < max_boxes:
            found = finder.find_box()
            if found is None:
                break
            traj = found.peeling_trajectory
            good = traj[traj.density >= density]
            pick = int(good.coverage.idxmax() if len(good) else traj.density.idxmax())
            found.select(pick)
            lim = found.box_lim
            init = finder.box_init
            limits = {c: (float(lim[c].iloc[0]), float(lim[c].iloc[1])) for c in x.columns
                      if (lim[c].iloc[0], lim[c].iloc[1]) != (init[c].iloc[0], init[c].iloc[1])}
            box = Box(limits, float(traj.coverage[pick]), float(traj.density[pick]),
                      float(traj.mass[pick]))
            if boxes and box.density < density:
                break
            boxes.append(box)
    return boxes


def discovery(p: Plan, experiments: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """`discovery.csv` and `discovery.md`: when each biased policy costs more than the threshold."""
    x = p.design.values()
    rows, text = [], [f"# Scenario discovery: {p.base.name}", "",
                      f"When does a bias cost more than {p.threshold:.0%} of profit? For each biased "
                      "policy, a sample is a case of interest when its profit falls short of its "
                      f"unbiased twin's (or the baseline's) at the same sample by more than "
                      f"{p.threshold:.0%}. PRIM boxes (EMA Workbench) describe where those cases "
                      "concentrate: *coverage* is the share of all cases inside the box, *density* "
                      "the share of the box's samples that are cases.", ""]
    n = len(x)
    for spec in p.base.policies:
        if not spec.biases:
            continue
        ref = comparator(p.base, spec.name)
        loss = profit_loss(experiments, spec.name, ref)
        cases = np.nan_to_num(loss, nan=-np.inf) > p.threshold
        boxes = prim_boxes(x, cases)
        head = (spec.name, ref, p.threshold, n, int(cases.sum()))
        text += [f"## {spec.name} (against {ref})", "",
                 f"Loses more than {p.threshold:.0%} of profit in {int(cases.sum())} of {n} samples "
                 f"(median loss {np.nanmedian(loss):.1%}).", ""]
        if not boxes:
            rows.append((*head, math.nan, math.nan, math.nan, math.nan, "", math.nan, math.nan))
            text += ["No box: the bias never costs that much over the ranges explored.", ""]
        for b, box in enumerate(boxes, start=1):
            stats = (b, box.coverage, box.density, box.mass)
            if not box.limits:
                rows.append((*head, *stats, "", math.nan, math.nan))
            rows += [(*head, *stats, inp, lo, hi) for inp, (lo, hi) in box.limits.items()]
            where = " and ".join(f"{lo:.4g} ≤ {inp} ≤ {hi:.4g}" for inp, (lo, hi) in box.limits.items())
            text += [f"- Box {b}: " + (f"when {where}" if where else "everywhere in the ranges explored")
                     + f" — coverage {box.coverage:.0%}, density {box.density:.0%}, "
                       f"{box.mass:.0%} of the samples."]
        text.append("")
    if len(text) == 6:
        text += ["No policy of this scenario has a bias.", ""]
    return pd.DataFrame(rows, columns=list(DISCOVERY_COLUMNS)), "\n".join(text)


def robustness_frame(scenario: Scenario, experiments: pd.DataFrame) -> pd.DataFrame:
    """`robustness.csv`: each policy's regret over the samples, and the minimax-regret policy.

    Regret at a sample is the best policy's profit there minus this policy's.
    """
    policies = [s.name for s in scenario.policies]
    profit = np.column_stack([_outcome(experiments, pol, "profit") for pol in policies])
    regret = np.nanmax(profit, axis=1, keepdims=True) - profit
    worst = regret.max(axis=0)
    best = int(np.argmin(worst))
    return pd.DataFrame({
        "policy": policies,
        "mean_regret": regret.mean(axis=0),
        "p90_regret": np.percentile(regret, 90, axis=0),
        "max_regret": worst,
        "best_share": (regret == 0).mean(axis=0),
        "minimax_regret": [i == best for i in range(len(policies))],
    })


@dataclass
class ExploreOutcome:
    """What an exploration did and found.

    Attributes:
        out_dir: Its folder.
        plan: The plan run.
        reused: Runs found done and not run again.
        experiments: `experiments.csv`.
        sensitivity: `sensitivity.csv`.
        discovery: `discovery.csv`.
        robustness: `robustness.csv`.
        page: `discovery.md`.
    """

    out_dir: Path
    plan: Plan
    reused: int
    experiments: pd.DataFrame
    sensitivity: pd.DataFrame
    discovery: pd.DataFrame
    robustness: pd.DataFrame
    page: str


def analyse(p: Plan, out_dir: Path | str, reused: int = 0) -> ExploreOutcome:
    """Build and write every output from the samples' stores; `explore.resolved.yaml` last."""
    out = Path(out_dir)
    (out / RESOLVED).unlink(missing_ok=True)
    exp = experiments_frame(p, out)
    sens = sensitivity_frame(p, exp)
    disc, page = discovery(p, exp)
    rob = robustness_frame(p.base, exp)
    for name, df in (("experiments.csv", exp), ("sensitivity.csv", sens), ("discovery.csv", disc),
                     ("robustness.csv", rob)):
        atomic_write(out / name, csv_text(df))
    atomic_write(out / "discovery.md", page)
    atomic_write(out / RESOLVED, p.resolved())
    return ExploreOutcome(out, p, reused, exp, sens, disc, rob, page)


def run_explore(p: Plan, out_dir: Path | str, *, workers: int = 1, backend: str = "local",
                scheduler: str | None = None, resume: bool = False,
                progress: ExploreProgress | None = None) -> ExploreOutcome:
    """Run an exploration and write its outputs.

    Args:
        p: The plan (`plan`).
        out_dir: The folder.
        workers: Parallel processes (local) or workers of a local Dask cluster.
        backend: "local" or "dask".
        scheduler: Dask scheduler address.
        resume: Reuse the replications already finished in `out_dir` by this same exploration.
        progress: Called with (runs done, runs).

    Returns:
        The outcome; the outputs are written last, `explore.resolved.yaml` after them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reused = run_samples(p, out, workers=workers, backend=backend, scheduler=scheduler, resume=resume,
                         progress=progress)
    return analyse(p, out, reused)


def summary_text(outcome: ExploreOutcome) -> str:
    """What `explore` prints: the design, each policy's regret, and the discovery page's findings."""
    p = outcome.plan
    rob = outcome.robustness
    lines = [f"{p.base.name}: {len(p.samples)} samples ({p.design.kind}, N={p.design.samples}) × "
             f"{len(p.base.policies)} policies × {p.base.replications} replications"
             + (f"; {outcome.reused} runs reused" if outcome.reused else ""), "",
             "Regret in profit across the samples (best policy's profit minus this one's):"]
    width = max(len(str(x)) for x in rob.policy)
    lines.append(f"{'policy'.ljust(width)}  {'mean':>12}  {'p90':>12}  {'max':>12}  best in")
    for r in rob.itertuples(index=False):
        mark = "  ← minimax regret" if r.minimax_regret else ""
        lines.append(f"{str(r.policy).ljust(width)}  {r.mean_regret:12.6g}  {r.p90_regret:12.6g}  "
                     f"{r.max_regret:12.6g}  {r.best_share:6.0%}{mark}")
    found = [ln for ln in outcome.page.splitlines() if ln.startswith(("## ", "Loses", "- Box", "No box"))]
    if found:
        lines += ["", *found]
    return "\n".join(lines)
