"""The scenario file of SPEC.md, written as a user would from the spec alone, validates and runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sim

SPEC_EXAMPLE = """\
name: retail-stale-data
description: Managers keep targeting last year's data after customers' needs shift.
horizon: 104            # periods
period: week            # week | month (labels and default rates)
replications: 30
seed: 20261122          # root seed; each replication's seed is derived and recorded
population:
  size: 20000
  segments:
    - {name: loyal, share: 0.4, spend: 40}
    - {name: casual, share: 0.6, spend: 20, churn: 0.008}
  network: {kind: small_world, degree: 8, rewire: 0.1}   # or none | complete
market:
  competitor_pull: 0.2
  events:
    - {at: 26, kind: needs_shift, size: 0.5}
    - {at: 60, kind: competitor_promotion, duration: 8, size: 0.3}
    - {at: 80, kind: recession, spend_drop: 0.2, budget_cut: 0.3}
    - {at: 0,  kind: regulation, consent_share: 0.6}
policies:               # the arms compared; a manager set-up each
  - {name: data_driven, kind: churn_risk}
  - name: stale_manager
    kind: churn_risk
    biases: [{kind: stale_data, strength: 0.8}]
    remedies: [{kind: training, start: 52, rate: 0.05}]
baseline: data_driven   # differences are reported against this arm
"""

SPEC_TOML = """\
name = "retail-stale-data-toml"
horizon = 30
period = "month"
replications = 2
[population]
size = 800
[[market.events]]
at = 3
kind = "needs_shift"
size = 0.5
[[policies]]
name = "data_driven"
kind = "churn_risk"
[[policies]]
name = "stale_manager"
kind = "churn_risk"
biases = [{kind = "stale_data", strength = 0.8}]
"""


def test_spec_example_validates_and_runs(tmp_path: Path):
    f = tmp_path / "retail.yaml"
    f.write_text(SPEC_EXAMPLE)
    s = sim.load_scenario(f)
    assert s.baseline_policy == "data_driven"
    assert [e.kind for e in s.market.events] == [
        "needs_shift", "competitor_promotion", "recession", "regulation"]
    small = s.model_copy(update={"replications": 2, "horizon": 90,
                                 "population": s.population.model_copy(update={"size": 800})})
    r = sim.run(small)
    assert set(r.comparison.policy) == {"stale_manager"}
    for metric in ("churn_rate", "revenue", "profit", "satisfaction", "loyalty", "nps",
                   "complaints", "active_customers", "retained_not_loyal"):
        assert metric in set(r.summary.metric)
    out = subprocess.run([sys.executable, "-m", "sim", "validate", str(f)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_spec_example_in_toml_with_monthly_periods(tmp_path: Path):
    f = tmp_path / "retail.toml"
    f.write_text(SPEC_TOML)
    s = sim.load_scenario(f)
    assert s.period == "month"
    r = sim.run(s)
    assert len(r.timeseries) == 2 * 2 * 30
    # Monthly default rates: customers buy about 52/12 times as often as weekly. The defaults are
    # converted when the file is read, so the weekly twin is the same file read with `period = "week"`.
    m = sim.RetentionModel(s, policy="data_driven", rng=1)
    f.write_text(SPEC_TOML.replace('period = "month"', 'period = "week"'))
    weekly = sim.RetentionModel(sim.load_scenario(f), policy="data_driven", rng=1)
    ratio = m.customers.purchase_rate.mean() / weekly.customers.purchase_rate.mean()
    assert abs(ratio - 52 / 12) < 0.05 * 52 / 12
