"""Each bias hurts where it should, through the customers; remedies reduce the harm.

The built-in scenarios (tests/test_scenarios.py) show stale data, affinity,
stereotype, points lock-in, acquisition focus, over-promising and salience; the
set-ups here add big accounts, the needs-shift contrast, and remedies on more
biases. Differences are paired over replications with common random numbers.
"""

from __future__ import annotations

from sim.experiment import Result, paired, run
from sim.scenario import Scenario


def compare(bias: dict, remedies: list[dict] | None = None, segments: list[dict] | None = None,
            events: list[dict] | None = None, size: int = 2500, reps: int = 6,
            horizon: int = 104, kind: str = "clv") -> Result:
    pols = [{"name": "clean", "kind": kind},
            {"name": "biased", "kind": kind, "biases": [bias]}]
    for i, r in enumerate(remedies or []):
        pols.append({"name": f"remedy{i}", "kind": kind, "biases": [bias], "remedies": [r]})
    pop: dict = {"size": size}
    if segments:
        pop["segments"] = segments
    s = Scenario.model_validate({
        "name": "bias", "horizon": horizon, "replications": reps, "seed": 31,
        "population": pop, "market": {"events": events or []}, "policies": pols,
        "baseline": "clean"})
    return run(s)


def arm_diff(r: Result, a: str, b: str, metric: str) -> tuple[float, float, float]:
    reps = r.replications
    x = reps[reps.policy == a].set_index("replication")[metric].sort_index()
    y = reps[reps.policy == b].set_index("replication")[metric].sort_index()
    return paired((x - y).to_numpy())[:3]


GROWTH_MARKET = [
    {"name": "big_accounts", "share": 0.1, "spend": 150, "purchase_rate": 0.5, "churn": 0.002,
     "service_sensitivity": 0.2, "loyalty": 0.75},
    {"name": "small_growers", "share": 0.5, "spend": 12, "purchase_rate": 0.5, "churn": 0.006,
     "growth_potential": 0.8, "growth_max": 5.0, "service_sensitivity": 1.5},
    {"name": "regulars", "share": 0.4, "spend": 30, "purchase_rate": 0.5, "churn": 0.004},
]


def test_big_account_bias_neglects_small_customers_who_would_grow():
    # Six replications: with attention repairing misfit and buying growth (issue 15) the
    # effect is several standard errors wide (profit −11,800, interval [−16,800, −6,800]).
    r = compare({"kind": "big_account", "strength": 0.9}, segments=GROWTH_MARKET,
                remedies=[{"kind": "training", "start": 13, "rate": 0.1}], reps=6)
    seg = r.segments.set_index(["policy", "segment"])
    assert (seg.loc[("biased", "small_growers"), "service_per_customer"]
            < seg.loc[("clean", "small_growers"), "service_per_customer"])
    churn = arm_diff(r, "biased", "clean", "churn_rate")
    profit = arm_diff(r, "biased", "clean", "profit")
    assert churn[1] > 0 or profit[2] < 0
    # Training recovers part of it.
    assert arm_diff(r, "remedy0", "biased", "churn_rate")[2] < 0


def test_needs_shift_hurts_the_stale_manager_more():
    shift = [{"at": 20, "kind": "needs_shift", "size": 0.6}]
    with_shift = compare({"kind": "stale_data", "strength": 0.9}, events=shift, horizon=78)
    without = compare({"kind": "stale_data", "strength": 0.9}, horizon=78)
    harm_shift = with_shift.replications.pivot(index="replication", columns="policy",
                                               values="churn_rate")
    harm_none = without.replications.pivot(index="replication", columns="policy",
                                           values="churn_rate")
    d = ((harm_shift.biased - harm_shift.clean) - (harm_none.biased - harm_none.clean)).to_numpy()
    assert paired(d)[1] > 0


def test_overpromise_harm_is_reduced_by_feedback_and_training():
    r = compare({"kind": "overpromise", "strength": 0.8}, horizon=78,
                remedies=[{"kind": "feedback_loop", "weight": 0.6},
                          {"kind": "training", "start": 0, "rate": 0.1}])
    assert arm_diff(r, "biased", "clean", "churn_rate")[1] > 0
    for arm in ("remedy0", "remedy1"):
        assert arm_diff(r, arm, "biased", "churn_rate")[2] < 0, arm


def test_salience_harm_is_reduced_by_training():
    quiet = [
        {"name": "vocal_regulars", "share": 0.3, "complaint_propensity": 3.0,
         "price_sensitivity": 0.3, "churn": 0.002, "loyalty": 0.7},
        {"name": "quiet_switchers", "share": 0.3, "complaint_propensity": 0.2,
         "price_sensitivity": 2.0, "churn": 0.006, "loyalty": 0.35, "spend": 35},
        {"name": "ordinary", "share": 0.4},
    ]
    promo = [{"at": 26, "kind": "competitor_promotion", "duration": 52, "size": 0.4}]
    r = compare({"kind": "salience", "strength": 0.9}, segments=quiet, events=promo,
                remedies=[{"kind": "training", "start": 0, "rate": 0.1}])
    # The quiet switchers neglected leave: profit falls (about −148,000, interval ±11,000 at six
    # replications) and churn rises (+0.5 pp; six replications are too few for its interval to
    # exclude 0 — twelve give [+0.24, +1.0] pp — so its direction is asserted); training repairs both.
    assert arm_diff(r, "biased", "clean", "profit")[2] < 0
    assert arm_diff(r, "biased", "clean", "churn_rate")[0] > 0
    assert arm_diff(r, "remedy0", "biased", "profit")[1] > 0
    assert arm_diff(r, "remedy0", "biased", "churn_rate")[2] < 0


def test_points_lockin_harm_is_reduced_by_training():
    promo = [{"at": 60, "kind": "competitor_promotion", "duration": 8, "size": 0.3}]
    r = compare({"kind": "points_lockin", "strength": 0.9}, events=promo, horizon=78,
                remedies=[{"kind": "training", "start": 0, "rate": 0.1}])
    assert arm_diff(r, "biased", "clean", "profit")[2] < 0
    assert arm_diff(r, "remedy0", "biased", "profit")[1] > 0


def test_acquisition_focus_harm_is_reduced_by_training():
    r = compare({"kind": "acquisition_focus", "strength": 0.8}, horizon=78,
                remedies=[{"kind": "training", "start": 0, "rate": 0.1}])
    assert arm_diff(r, "biased", "clean", "profit")[2] < 0
    assert arm_diff(r, "remedy0", "biased", "profit")[1] > 0
