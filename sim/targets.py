"""Observed targets: a segment given by what the firm sees, its constants solved before the run.

A segment may say what the firm observes of its customers in a year
(`observed:`, `sim.scenario.Observed`): their annual churn, their purchases and
their NPS. Those are not the model's constants: a segment's `churn` is the
exogenous part of the hazard [H1], which dissatisfaction, loyalty and
competitors then add to; `purchase_rate` is the rate at reference satisfaction
[P1], which dissatisfaction lowers; NPS follows satisfaction and loyalty [V1].
`solve` finds the segment's `churn` (and, if need be, its `switching`),
`purchase_rate` and `advocacy` with which the baseline arm realises the
observed figures over the first year, by a few short runs of the model itself
(docs/model.md, "Observed targets"):

- Each round runs the baseline arm for a year on the scenario's market (at
  most `PILOT_SIZE` customers, its own seed) and follows the customers active
  at period 0 (`follow`): who leaves, what they buy, how likely they are to
  recommend. There are as many rounds as `PILOT_BUDGET` customer-periods
  allow (4 to 16): a smaller or monthly scenario gets more, and its solution
  is as precise.
- Annual survival is taken as the exogenous part times the rest:
  S = E[(1 − θ)^P] · exp(−g · a), with P the periods of a year and
  a = ξ · (b + c · pull · price sensitivity) the competitors' attraction [H1],
  ξ the segment's `switching`. A round measures g on its customers at the
  start as they are (after a burn-in the frail are gone: E[(1 − θ)^P] over
  them, not over the segment's Beta). The next `churn` makes them keep
  log E[(1 − θ)^P] = log S* + g · a, related to the Beta's mean by the latest
  round, with ξ as written. The exogenous churn comes first: the written
  switching is kept as long as a θ ≥ 0 reaches the target. If even θ = 0 loses
  more, θ is 0 and ξ is lowered until exp(−g · a) = S*.
- Purchases are proportional to the rate: a round measures purchases per unit
  of `purchase_rate`. Advocacy only shifts the likelihood to recommend: a round
  finds the shift that gives the target NPS on its own customers' satisfaction
  and loyalty.
- The first round starts from the targets alone; every later round starts
  from the average of the measurements of the rounds before it (the first one
  left out once there are others, at most the latest `AVERAGED`), and the
  constants returned are those of the last average. The rounds' seeds derive
  from the scenario's root seed, so the solution is a function of the scenario
  and its seed.
- The solved scenario's `observed` blocks carry `solved`, a digest of the
  scenario without the constants solved: `scenario.resolved.yaml` read back is
  that same scenario and is run as it is, bit for bit, without solving again;
  any other change to the file (or removing `solved`) solves again.

A target the model cannot reach (an annual churn below what the segment loses
with no exogenous churn and switching to competitors lowered as far as it
takes: drop-out after purchases [P3], which neither lever moves) is a
`ScenarioError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.loader import Problem, ScenarioError
from sim.scenario import PERIODS_PER_YEAR, Scenario, Segment

if TYPE_CHECKING:
    from sim.model import RetentionModel

__all__ = ["PILOT_BUDGET", "PILOT_SIZE", "ROUNDS", "Realised", "constants", "follow", "notes", "realised",
           "solve", "targeted"]

#: Most customers a round runs (a larger scenario is solved on this many; the model is scale-free).
PILOT_SIZE = 10_000
#: Customer-periods the solver's rounds run in all: four years of `PILOT_SIZE` customers by weeks.
PILOT_BUDGET = 4 * PILOT_SIZE * 52
#: Fewest and most rounds (short runs of the baseline arm, each a year).
ROUNDS = (4, 16)
#: The constants each figure sets.
LEVERS = {"annual_churn": ("churn", "switching"), "purchases": ("purchase_rate",), "nps": ("advocacy",)}
#: Promoters' and detractors' likelihood to recommend ÷ 10: a rounded score of 9 or more, of 6 or less.
PROMOTER, DETRACTOR = 0.85, 0.65
#: Solved scenarios of this process, by the scenario they were solved from (`_key(..., written=True)`).
_SOLVED: dict[str, Scenario] = {}
#: Most solutions kept in `_SOLVED`.
KEPT = 64


def targeted(scenario: Scenario) -> bool:
    """Whether any segment of `scenario` gives observed figures."""
    return any(s.observed is not None and _figures(s, 1) for s in scenario.population.segments)


def _figures(seg: Segment, year: float) -> dict[str, float]:
    """A segment's observed figures, purchases per year: {figure: target}."""
    o = seg.observed
    if o is None:
        return {}
    buys = o.purchases_per_year if o.purchases_per_period is None else o.purchases_per_period * year
    found = {"annual_churn": o.annual_churn, "purchases": buys, "nps": o.nps}
    return {k: v for k, v in found.items() if v is not None}


def _year(scenario: Scenario) -> int:
    """Periods in the first year (whole periods)."""
    return max(1, round(PERIODS_PER_YEAR[scenario.period]))


def _key(scenario: Scenario, written: bool = False) -> str:
    """What a solution is for: the scenario but its replications and the constants solved (16 hex digits).

    With `written`, the constants solved are kept: the scenario exactly as given.
    """
    data = scenario.model_dump(mode="json", exclude={"replications", "sweep", "uncertainties", "language",
                                                     "description"})
    year = _year(scenario)
    for seg, raw in zip(scenario.population.segments, data["population"]["segments"], strict=True):
        if raw.get("observed"):
            raw["observed"].pop("solved", None)
        for figure in _figures(seg, year) if not written else ():
            for name in LEVERS[figure]:
                raw.pop(name)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- following a cohort


def follow(model: RetentionModel, periods: int, rows: np.ndarray | None = None,
           watch: Callable[[np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """Step `model` `periods` periods, counting per segment what the customers `rows` do.

    Args:
        model: The model, at the first period to follow.
        periods: Periods to step.
        rows: The customers followed; default those active now (the cohort at this period).
        watch: Called after each period with the followed customers still active.

    Returns:
        Per period and segment: `active` (at the period's start), `purchases`, `churned`.
    """
    from sim.agents.state import ACTIVE

    pop = model.customers
    rows = np.flatnonzero(pop.status == ACTIVE) if rows is None else rows
    k = len(pop.segment_names)
    seg = pop.segment[rows].astype(np.intp)
    out = {name: np.zeros((periods, k)) for name in ("active", "purchases", "churned")}
    for t in range(periods):
        active = pop.status[rows] == ACTIVE
        before = pop.purchases_total[rows].copy()
        model.step()
        bought = (pop.purchases_total[rows] - before).astype(float)
        gone = active & (pop.status[rows] != ACTIVE)
        out["active"][t] = np.bincount(seg, weights=active, minlength=k)
        out["purchases"][t] = np.bincount(seg, weights=bought, minlength=k)
        out["churned"][t] = np.bincount(seg, weights=gone, minlength=k)
        if watch is not None:
            watch(rows[active & ~gone])
    return out


class Realised:
    """A year of the baseline arm as `follow` counts it, with each period's likelihood to recommend.

    Args:
        model: The model at period 0 (or the first period to follow).
        periods: Periods in a year.
    """

    def __init__(self, model: RetentionModel, periods: int) -> None:
        from sim.agents.state import ACTIVE

        pop = model.customers
        self.periods = periods
        self.k = len(pop.segment_names)
        self._pop = pop
        self._shift = float(pop.behaviour.recommend_shift)
        self._seen: list[tuple[np.ndarray, np.ndarray]] = []
        start = pop.status == ACTIVE
        stay = (1.0 - pop.base_churn[start].astype(np.float64)) ** periods
        seg = pop.segment[start].astype(np.intp)
        #: Per segment: E[(1 − θ)^P] over the customers at the start, as they are (after any burn-in).
        self.kept = np.bincount(seg, weights=stay, minlength=self.k) / np.maximum(
            np.bincount(seg, minlength=self.k), 1)
        self.counts = follow(model, periods, watch=self._watch)

    def _watch(self, rows: np.ndarray) -> None:
        """Likelihood to recommend ÷ 10 before clipping, (S + L)/2 + shift + advocacy [V1], by segment."""
        pop = self._pop
        x = (0.5 * pop.satisfaction[rows].astype(np.float64) + 0.5 * pop.loyalty[rows].astype(np.float64)
             + self._shift + pop.advocacy[rows].astype(np.float64))
        self._seen.append((pop.segment[rows].astype(np.intp), x))

    def annual_churn(self) -> np.ndarray:
        """Per segment: the share of its customers at the start who left within the year."""
        c = self.counts
        return c["churned"].sum(axis=0) / np.maximum(c["active"][0], 1.0)

    def purchases_per_year(self) -> np.ndarray:
        """Per segment: purchases per customer-year while a customer."""
        c = self.counts
        return c["purchases"].sum(axis=0) / np.maximum(c["active"].sum(axis=0), 1.0) * self.periods

    def nps(self, shift: np.ndarray | None = None) -> np.ndarray:
        """Per segment: the mean over the periods of the true NPS, with advocacy raised by `shift`."""
        shift = np.zeros(self.k) if shift is None else shift
        total = np.zeros(self.k)
        for seg, x in self._seen:
            v = x + shift[seg]
            n = np.maximum(np.bincount(seg, minlength=self.k), 1)
            total += 100.0 * (np.bincount(seg, weights=v > PROMOTER, minlength=self.k)
                              - np.bincount(seg, weights=v <= DETRACTOR, minlength=self.k)) / n
        return total / max(len(self._seen), 1)

    def advocacy_for(self, target: float, k: int) -> float:
        """The shift of segment `k`'s advocacy that gives it NPS `target` on this year's customers."""
        pairs = [x[seg == k] for seg, x in self._seen]
        lo, hi = -2.0, 2.0
        for _ in range(50):  # NPS rises with the shift: bisection
            mid = 0.5 * (lo + hi)
            got = np.mean([100.0 * (np.mean(x + mid > PROMOTER) - np.mean(x + mid <= DETRACTOR))
                           for x in pairs if x.size])
            lo, hi = (mid, hi) if got < target else (lo, mid)
        return 0.5 * (lo + hi)


def realised(scenario: Scenario, seed: int | np.random.SeedSequence, size: int | None = None) -> Realised:
    """The first year of `scenario`'s baseline arm with one seed (at most `size` customers)."""
    from sim.model import RetentionModel

    sc = _pilot(scenario, {}, size or scenario.population.size)
    model = RetentionModel(sc, policy=sc.baseline_policy, rng=seed, keep_last=False)
    out = Realised(model, _year(scenario))
    vars(model).clear()  # break the model's reference cycles now (as sim.experiment does)
    return out


# --------------------------------------------------------------------------- the solver


def _kept(mean: float, concentration: float | None, periods: int) -> float:
    """E[(1 − θ)^P] for θ ~ Beta(mean, concentration) (a point mass without a concentration)."""
    if mean <= 0.0:
        return 1.0
    if mean >= 1.0:
        return 0.0
    if concentration is None:
        return (1.0 - mean) ** periods
    a, b = mean * concentration, (1.0 - mean) * concentration
    n = periods
    return math.exp(math.lgamma(b + n) + math.lgamma(a + b) - math.lgamma(b) - math.lgamma(a + b + n))


def _churn_for(kept: float, concentration: float | None, periods: int) -> float:
    """The mean θ at which E[(1 − θ)^P] = `kept` (0 if even θ = 0 keeps fewer)."""
    if kept >= 1.0:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(80):  # E[(1 − θ)^P] falls as the mean rises
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _kept(mid, concentration, periods) > kept else (lo, mid)
    return 0.5 * (lo + hi)


def _pilot(scenario: Scenario, constants: dict[int, dict[str, float]], size: int) -> Scenario:
    """The scenario a round runs: its constants set, no targets, a year at least, at most `size` customers."""
    pop = scenario.population
    segs = tuple(s.model_copy(update={**constants.get(k, {}), "observed": None})
                 for k, s in enumerate(pop.segments))
    files = pop.customers is not None or pop.network.kind == "edges"  # the files fix the customers' number
    pop = pop.model_copy(update={"segments": segs, "size": pop.size if files else min(pop.size, size)})
    return scenario.model_copy(update={"population": pop, "horizon": max(scenario.horizon, _year(scenario))})


def _attraction(scenario: Scenario, seg: Segment, switching: float) -> float:
    """Competitors' attraction per period at reference satisfaction [H1]: ξ · (b + c · pull · price).

    `switching` is ξ, the segment's multiplier of it.
    """
    b = scenario.population.behaviour
    pull = b.competitor_churn * scenario.market.competitor_pull
    return (b.switching_base + pull * seg.price_sensitivity) * switching


def _start(scenario: Scenario, targets: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    """First guesses, from the targets: churn beyond competitors' attraction exogenous, rate = purchases."""
    year = _year(scenario)
    out: dict[int, dict[str, float]] = {}
    for k, t in targets.items():
        seg = scenario.population.segments[k]
        c: dict[str, float] = {}
        if "annual_churn" in t:
            rest = (1.0 - min(_attraction(scenario, seg, seg.switching), 1.0)) ** year
            kept = min((1.0 - t["annual_churn"]) / rest, 1.0)
            c.update(churn=_churn_for(kept, seg.churn_concentration, year), switching=seg.switching)
        if "purchases" in t:
            c["purchase_rate"] = t["purchases"] / year
        if "nps" in t:
            c["advocacy"] = 0.0
        out[k] = c
    return out


def _measure(year: Realised, constants: dict[int, dict[str, float]], targets: dict[int, dict[str, float]],
             scenario: Scenario) -> dict[int, dict[str, float]]:
    """What a round tells of each targeted segment.

    `beta` and `cohort`: log E[(1 − θ)^P] of the segment's Beta and of its customers at the
    start (after any burn-in, the frail gone); `per_attraction`: −log of the year's survival
    beyond the exogenous churn, per unit of competitors' attraction (g); `churn`: the
    annual churn realised, and `n` the customers it is of; `per_rate`: purchases
    a year per unit of purchase rate; `advocacy`: the advocacy that gives the target NPS on
    this round's customers.
    """
    churn, buys = year.annual_churn(), year.purchases_per_year()
    out: dict[int, dict[str, float]] = {}
    for k, t in targets.items():
        seg, c, m = scenario.population.segments[k], constants[k], {}
        if "annual_churn" in t:
            cohort = math.log(max(year.kept[k], 1e-12))
            attraction = max(_attraction(scenario, seg, c["switching"]), 1e-12)
            survival = math.log(max(1.0 - churn[k], 1e-12))
            m.update(beta=math.log(max(_kept(c["churn"], seg.churn_concentration, _year(scenario)), 1e-12)),
                     cohort=cohort, churn=float(churn[k]), n=float(year.counts["active"][0, k]),
                     per_attraction=(cohort - survival) / attraction)
        if "purchases" in t:
            m["per_rate"] = buys[k] / max(c["purchase_rate"], 1e-12)
        if "nps" in t:
            m["advocacy"] = c["advocacy"] + year.advocacy_for(t["nps"], k)
        out[k] = m
    return out


def _churn_levers(scenario: Scenario, seg: Segment, target: float, per_attraction: float,
                  last: dict[str, float]) -> dict[str, float]:
    """`churn` and `switching` that lose `target` a year, competitors taking g per unit of attraction.

    The exogenous churn first, with the segment's switching as written: the customers at
    the start must keep log E[(1 − θ)^P] = log(1 − target) + g · a, which the latest round
    (`last`) relates to the segment's Beta (a line through 0: the burn-in's frail are gone
    the more, the higher θ). Below what competitors alone take at that switching, θ = 0
    and the switching is lowered until exp(−g · a) = 1 − target.
    """
    survival = math.log(1.0 - target)
    taken = per_attraction * _attraction(scenario, seg, seg.switching)
    cohort = survival + taken
    if cohort <= 0.0:
        ratio = last["beta"] / last["cohort"] if last["cohort"] < -1e-9 else 1.0
        kept = math.exp(cohort * ratio)
        return {"churn": _churn_for(kept, seg.churn_concentration, _year(scenario)), "switching": seg.switching}
    return {"churn": 0.0, "switching": seg.switching * -survival / taken}


#: Rounds whose measurements are averaged (the latest; the first round is left out once there are others).
AVERAGED = 12


def _next(measured: list[dict[int, dict[str, float]]], targets: dict[int, dict[str, float]],
          scenario: Scenario) -> dict[int, dict[str, float]]:
    """The constants from the rounds' average measurement (the first left out once there are others)."""
    rounds = measured[1:][-AVERAGED:] if len(measured) > 1 else measured
    out: dict[int, dict[str, float]] = {}
    for k, t in targets.items():
        seg = scenario.population.segments[k]
        mean = {name: float(np.mean([r[k][name] for r in rounds])) for name in rounds[0][k]}
        c: dict[str, float] = {}
        if "annual_churn" in t:
            c.update(_churn_levers(scenario, seg, t["annual_churn"], mean["per_attraction"], measured[-1][k]))
        if "purchases" in t:
            c["purchase_rate"] = t["purchases"] / max(mean["per_rate"], 1e-12)
        if "nps" in t:
            c["advocacy"] = min(max(mean["advocacy"], -1.0), 1.0)
        out[k] = c
    return out


#: An annual churn the last round missed by more than this (plus 4 binomial standard errors), with no
#: exogenous churn left to lower, is out of reach.
MISSED = 0.01


def _short(last: dict[int, dict[str, float]], constants: dict[int, dict[str, float]],
           targets: dict[int, dict[str, float]]) -> list[int]:
    """The segments whose churn target the last round missed with no exogenous churn left to lower.

    Lowering `switching` lowers the competitors' share alone: what drop-out after
    purchases [P3] takes stays, and a round whose constants were solved for the
    target still loses more than it.
    """
    out = []
    for k, t in targets.items():
        if "annual_churn" in t and constants[k]["churn"] == 0.0:
            p, m = t["annual_churn"], last[k]
            if m["churn"] - p > MISSED + 4.0 * math.sqrt(p * (1.0 - p) / max(m["n"], 1.0)):
                out.append(k)
    return out


def solve(scenario: Scenario) -> Scenario:
    """`scenario` with the constants its segments' observed figures name solved (itself if none do).

    Deterministic for a scenario and its root seed. A scenario whose targets carry
    the mark of this very scenario (`observed.solved`, written by an earlier solve)
    is returned as it is.

    Raises:
        ScenarioError: If a target cannot be reached in this market.
    """
    if not targeted(scenario):
        return scenario
    key = _key(scenario)
    segments = scenario.population.segments
    if all(s.observed.solved == key for s in segments if s.observed is not None):
        return scenario
    given = _key(scenario, written=True)
    if given not in _SOLVED:
        if len(_SOLVED) >= KEPT:  # a long sweep: the oldest solution goes
            del _SOLVED[next(iter(_SOLVED))]
        _SOLVED[given] = _solved(scenario, key)
    return _SOLVED[given]


def _solved(scenario: Scenario, key: str) -> Scenario:
    """The rounds of `solve`."""
    from sim.model import RetentionModel

    year = _year(scenario)
    segments = scenario.population.segments
    targets = {k: f for k, s in enumerate(segments) if (f := _figures(s, year))}
    constants = _start(scenario, targets)
    measured: list[dict[int, dict[str, float]]] = []
    sc = _pilot(scenario, constants, PILOT_SIZE)
    rounds = min(max(PILOT_BUDGET // (sc.population.size * year), ROUNDS[0]), ROUNDS[1])
    for seed in np.random.SeedSequence([scenario.seed, 19]).spawn(rounds):
        sc = _pilot(scenario, constants, PILOT_SIZE)
        model = RetentionModel(sc, policy=sc.baseline_policy, rng=seed, keep_last=False)
        measured.append(_measure(Realised(model, year), constants, targets, scenario))
        vars(model).clear()
        previous, constants = constants, _next(measured, targets, scenario)
    if short := _short(measured[-1], previous, targets):
        raise ScenarioError([_unreachable(scenario, k, previous[k], measured[-1][k]) for k in short])
    segs = tuple(s.model_copy(update={**constants[k], "observed": _marked(s, key)})
                 if k in constants and s.observed is not None else s for k, s in enumerate(segments))
    return scenario.model_copy(update={"population": scenario.population.model_copy(update={"segments": segs})})


def _marked(seg: Segment, key: str) -> Any:
    """The segment's observed figures marked as solved for the scenario of `key`."""
    return seg.observed.model_copy(update={"solved": key}) if seg.observed is not None else None


def _unreachable(scenario: Scenario, k: int, constants: dict[str, float], last: dict[str, float]) -> Problem:
    seg = scenario.population.segments[k]
    found = seg.observed.annual_churn if seg.observed is not None else float("nan")
    return Problem(scenario.name, None, f"population.segments[{k}].observed.annual_churn",
                   f"expected an annual churn the segment can reach, found {found:g}: with no exogenous churn "
                   f"and its switching to competitors lowered to {constants['switching']:.2g} of the market's, "
                   f"segment {seg.name} still lost {last['churn']:.1%} of its customers in a year under the "
                   "baseline arm (neither lever lowers drop-out after purchases: raise the target, or lower "
                   "`dropout_per_purchase`)")


def notes(scenario: Scenario) -> list[str]:
    """One line per targeted segment, for `validate`: what is solved, from what, and when."""
    lines = []
    year = _year(scenario)
    for s in scenario.population.segments:
        figures = _figures(s, year)
        if figures:
            given = ", ".join(f"{f} {v:g}" for f, v in figures.items())
            solved = ", ".join(f"`{n}`" for f in figures for n in LEVERS[f])
            lines.append(f"segment {s.name}: {solved} solved at run time from observed {given} "
                         f"(shown in scenario.resolved.yaml)")
    return lines


def constants(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The constants a scenario's targets set (solved, once `solve` has run), by segment name."""
    year = _year(scenario)
    return {s.name: {n: getattr(s, n) for f in _figures(s, year) for n in LEVERS[f]}
            for s in scenario.population.segments if _figures(s, year)}
