"""Regenerate docs/economics.md: does good management beat naive management, and does each bias cost money?

Runs, with the public API only, every built-in policy and each built-in bias at
strength 0.8 over `clv` on the default market, on `service_affinity` and on
markets not used to set the model's constants (written from
docs/scenario-reference.md), with paired seeds (common random numbers), and
checks the orderings issue 15 names. The thresholds are stated here, before
any result: a comparison passes when the paired 95 % interval of the profit
difference excludes 0 in the stated direction.

    python docs/make_economics.py [--size 4000] [--reps 8] [--workers 2] [--markets default,...]

Takes about five minutes per market on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from sim import experiment
from sim.loader import load_scenario
from sim.registry import BIASES
from sim.result import paired
from sim.scenario import Scenario

OUT = Path(__file__).resolve().parent / "economics.md"
POLICIES = ("oracle", "uniform", "random", "value", "churn_risk", "clv")
STRENGTH = 0.8
#: (better, worse): the first must earn more profit than the second (paired 95 % interval above 0).
ORDER = (("oracle", "uniform"), ("oracle", "random"), ("oracle", "value"), ("oracle", "churn_risk"),
         ("oracle", "clv"), ("clv", "uniform"), ("clv", "random"), ("value", "random"),
         ("churn_risk", "random"), ("churn_risk", "uniform"))

#: Markets written from the scenario reference, not used to choose the model's constants.
UNSEEN: dict[str, dict] = {
    "b2b_services": {
        "description": "A business-services firm: few large clients, high margin, strong competitors.",
        "population": {"segments": [
            {"name": "enterprise", "share": 0.15, "spend": 400, "purchase_rate": 0.3, "churn": 0.001,
             "service_sensitivity": 0.6, "cost_to_serve": 4.0},
            {"name": "mid_market", "share": 0.45, "spend": 80, "purchase_rate": 0.4, "churn": 0.002,
             "needs": 0.3},
            {"name": "small_business", "share": 0.4, "spend": 25, "purchase_rate": 0.5, "churn": 0.004,
             "growth_potential": 0.3, "growth_max": 3.0, "service_sensitivity": 1.3,
             "price_sensitivity": 1.4}]},
        "market": {"margin": 0.6, "competitor_pull": 0.35, "budget": 2.0, "complaint_cost": 12.0,
                   "events": [{"at": 40, "kind": "competitor_promotion", "duration": 12, "size": 0.3}]},
    },
    "subscription_retail": {
        "description": "A subscription box: many small, price-sensitive customers and a recession.",
        "population": {"segments": [
            {"name": "loyalists", "share": 0.3, "spend": 20, "purchase_rate": 0.9, "churn": 0.001},
            {"name": "deal_seekers", "share": 0.5, "spend": 15, "purchase_rate": 0.7, "churn": 0.004,
             "price_sensitivity": 2.0, "complaint_propensity": 1.5},
            {"name": "gifters", "share": 0.2, "spend": 30, "purchase_rate": 0.3, "churn": 0.003,
             "needs": -0.4, "sociability": 1.5}]},
        "market": {"margin": 0.4, "quality": 0.55,
                   "events": [{"at": 30, "kind": "recession", "duration": 40, "spend_drop": 0.15,
                               "budget_cut": 0.2}]},
    },
}


def arms() -> list[dict]:
    """Every policy, and each bias at STRENGTH over `clv`."""
    out = [{"name": k, "kind": k} for k in POLICIES]
    out += [{"name": f"clv+{b}", "kind": "clv", "biases": [{"kind": b, "strength": STRENGTH}]}
            for b in BIASES]
    return out


def market(name: str, size: int) -> Scenario:
    """The market `name` with every arm, `size` customers, 104 weeks."""
    if name in UNSEEN:
        data = {"name": name, **UNSEEN[name]}
    else:
        data = load_scenario(name).model_dump(mode="json")
        data.pop("sweep", None)
    data.update(horizon=104, policies=arms(), baseline="clv")
    data.setdefault("population", {})["size"] = size
    return Scenario.model_validate(data)


def difference(profit: dict[str, np.ndarray], a: str, b: str) -> tuple[float, float, float]:
    """Mean paired difference a − b and its 95 % interval."""
    mean, low, high, _ = paired(profit[a] - profit[b])
    return mean, low, high


def report(name: str, sc: Scenario, profit: dict[str, np.ndarray], seconds: float) -> tuple[list[str], int]:
    """The markdown section of one market, and how many checks failed."""
    lines = [f"## {name}", "", sc.description.strip().replace("\n", " ") or "(the default market)", "",
             f"{len(next(iter(profit.values())))} paired seeds, {sc.population.size:,} customers, "
             f"{sc.horizon} weeks; {seconds:.0f} s.", "",
             "| arm | profit (mean) |", "|---|---:|"]
    lines += [f"| {arm} | {profit[arm].mean():,.0f} |" for arm in profit]
    lines += ["", "| check | difference | 95 % interval | holds |", "|---|---:|---|---|"]
    failed = 0
    checks = [(a, b) for a, b in ORDER] + [("clv", f"clv+{k}") for k in BIASES]
    for a, b in checks:
        m, lo, hi = difference(profit, a, b)
        ok = lo > 0
        failed += not ok
        label = f"{b} costs profit against clv" if b.startswith("clv+") else f"{a} beats {b}"
        lines.append(f"| {label} | {m:+,.0f} | [{lo:+,.0f}, {hi:+,.0f}] | {'yes' if ok else '**no**'} |")
        if not ok:
            print(f"  {name}: {label} does not hold: {m:+,.0f} [{lo:+,.0f}, {hi:+,.0f}]", flush=True)
    best = max((p for p in profit if p != "oracle"), key=lambda p: profit[p].mean())
    m, lo, hi = difference(profit, best, "oracle")
    beaten = lo > 0
    failed += beaten
    lines.append(f"| no arm beats the oracle (best: {best}) | {m:+,.0f} | [{lo:+,.0f}, {hi:+,.0f}] | "
                 f"{'**no**' if beaten else 'yes'} |")
    return [*lines, ""], failed


def main(argv: list[str]) -> int:
    """Run the markets, write docs/economics.md; exit 1 if a check fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--markets", default="default,service_affinity," + ",".join(UNSEEN))
    args = parser.parse_args(argv)
    doc = ["# Decision economics: does good management pay?", "",
           "Generated by `python docs/make_economics.py` (do not edit by hand). Each market is run with every",
           "built-in policy and with each built-in bias at strength 0.8 laid over `clv`, on the same",
           "paired seeds; a check holds when the paired 95 % interval of the profit difference lies",
           "entirely on the stated side of 0. See docs/model.md, \"Decision economics\", for why.", ""]
    total = 0
    for name in args.markets.split(","):
        sc = market(name, args.size)
        start = time.time()
        result = experiment.run(sc, replications=args.reps, workers=args.workers)
        table = result.replications.pivot(index="replication", columns="policy", values="profit")
        profit = {arm: table[arm].to_numpy() for arm in result.policies}
        lines, failed = report(name, sc, profit, time.time() - start)
        total += failed
        doc += lines
        print(f"{name}: {failed} check(s) failed", flush=True)
    OUT.write_text("\n".join(doc), encoding="utf-8")
    print(f"wrote {OUT}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
