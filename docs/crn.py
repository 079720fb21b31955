"""Measure how much common random numbers narrow the paired intervals.

    python docs/crn.py [SCENARIO] [--size N] [--reps R]

Each arm is run once with the replication seeds shared by all arms (common
random numbers, what `retention-lab run` does) and once with independent seeds
per arm; the script prints the width of the 95 % interval of the paired
difference against the baseline for the headline metrics, and the ratio.
"""

from __future__ import annotations

import argparse

import numpy as np

import sim
from sim.experiment import paired
from sim.model import RetentionModel
from sim.rng import replication_seeds

METRICS = ("churn_rate", "profit", "revenue", "satisfaction", "loyalty", "complaints")


def main() -> None:
    """Print CI widths with and without common random numbers."""
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", nargs="?", default="default")
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    s = sim.load_scenario(a.scenario)
    s = s.model_copy(update={"population": s.population.model_copy(update={"size": a.size})})
    base, other = s.baseline_policy, next(p.name for p in s.policies if p.name != s.baseline_policy)
    shared = replication_seeds(s.seed, a.reps)
    independent = replication_seeds(s.seed + 1, a.reps)

    def summaries(policy: str, seeds: list[int]) -> dict[str, np.ndarray]:
        rows = [RetentionModel(s, policy=policy, rng=sd).run().summary() for sd in seeds]
        return {m: np.array([r[m] for r in rows]) for m in METRICS}

    b = summaries(base, shared)
    o_crn = summaries(other, shared)
    o_ind = summaries(other, independent)
    print(f"{a.scenario}: {other} − {base}, {a.reps} replications of {a.size} customers")
    print(f"{'metric':14s} {'width CRN':>12s} {'width indep.':>13s} {'ratio':>7s}")
    for m in METRICS:
        w_crn = np.subtract(*paired(o_crn[m] - b[m])[2:0:-1])
        w_ind = np.subtract(*paired(o_ind[m] - b[m])[2:0:-1])
        print(f"{m:14s} {w_crn:12.4g} {w_ind:13.4g} {w_crn / w_ind:7.3f}")


if __name__ == "__main__":
    main()
