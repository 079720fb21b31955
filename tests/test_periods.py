"""Periods longer than a week, and the burn-in (issue 19).

Values written in a scenario are in its periods; defaults are given per week and
converted once, when the scenario is read (`sim.scenario.in_periods`). A monthly
scenario and its weekly twin describe the same market; `scenario.resolved.yaml`
holds the converted values and reruns the run. `burn_in` runs the market before
period 0 under the baseline arm, so that period 0 looks like any later period.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.files import resolved_yaml
from sim.loader import ScenarioError, parse_text
from sim.model import RetentionModel
from sim.rng import replication_seeds
from sim.scenario import Scenario, beta_to_period, flow_to_period, weekly_to_period

W = 52.0 / 12.0  # weeks per month


def monthly(extra: str = "") -> Scenario:
    return parse_text(f"""
name: monthly
period: month
population:
  size: 500
  behaviour: {{satisfaction_speed: 0.4}}
market:
  events: [{{at: 3, kind: competitor_promotion}}]
policies:
  - {{name: uniform, kind: uniform}}
  - {{name: risk, kind: churn_risk, remedies: [{{kind: training}}]}}
{extra}""", "monthly.yaml")


# --------------------------------------------------------------------------- conversion


def test_weekly_defaults_are_converted_by_their_rule() -> None:
    sc = monthly()
    b, m = sc.population.behaviour, sc.market
    assert sc.horizon == 24  # 104 weeks
    assert m.budget == pytest.approx(1.0 * W)
    assert m.survey_rate == pytest.approx(1 - 0.98 ** W)
    assert m.events[0].duration == 2  # 8 weeks, written `at` kept
    assert m.events[0].at == 3
    assert b.complaint_give_up == 2 and b.grudge_memory == 6
    assert b.needs_halflife == pytest.approx(12.0)
    assert b.lock_decay == pytest.approx(1 - 0.95 ** W)
    assert b.perception_noise == pytest.approx(0.05 / math.sqrt(W))
    assert b.satisfaction_speed == 0.4  # written: per month already
    # a flow into satisfaction, which relaxes by the written 0.4 a month
    assert b.wom_negative == pytest.approx(0.02 * 0.4 / (1 - 0.6 ** (1 / W)))
    assert b.complaint_recovery_decay == pytest.approx(0.35 * W)
    seg = sc.population.segments[0]  # the built-in segments are weekly defaults
    assert seg.purchase_rate == pytest.approx(0.6 * W)
    assert (seg.churn, seg.churn_concentration) == pytest.approx(beta_to_period(0.0015, 2.0, W))
    assert sc.policies[0].options == {"retarget_every": 3}
    assert sc.policies[1].options["window"] == 3 and sc.policies[1].options["memory"] == 9
    training = sc.policies[1].remedies[0]
    assert training.weeks == 3 and training.rate == pytest.approx(0.05 * W)


def test_written_values_are_per_period_and_kept() -> None:
    sc = parse_text("""
name: written
period: month
horizon: 30
population:
  segments: [{name: a, share: 1, churn: 0.01, purchase_rate: 2.0}]
  behaviour: {complaint_give_up: 5, lock_decay: 0.2}
market: {budget: 3.0}
policies: [{name: u, kind: uniform, options: {retarget_every: 4}}]
""", "written.yaml")
    seg = sc.population.segments[0]
    assert (sc.horizon, seg.churn, seg.purchase_rate, seg.churn_concentration) == (30, 0.01, 2.0, 2.0)
    b = sc.population.behaviour
    assert (b.complaint_give_up, b.lock_decay, sc.market.budget) == (5, 0.2, 3.0)
    assert sc.policies[0].options == {"retarget_every": 4}
    # a default flow, by the written decay
    assert b.points_lock == pytest.approx(min(1.0, flow_to_period(0.3, W, 0.2)))


def test_a_weekly_scenario_is_left_as_written() -> None:
    text = "name: w\npolicies: [{name: u, kind: uniform}]\n"
    sc = parse_text(text, "w.yaml")
    assert sc.policies[0].options == {} and sc.horizon == 104
    assert sc.population.segments[0].churn == 0.0015
    assert weekly_to_period(0.3, 1.0, "chance") == 0.3


def test_converting_again_changes_nothing() -> None:
    sc = monthly()
    again = Scenario.model_validate(sc.model_dump(mode="json"))
    assert again == sc
    assert Scenario.model_validate(again.model_dump()) == sc


def test_the_converted_beta_loses_as_many_customers_in_a_year() -> None:
    """Converting only the mean would lose 2.6 times as many customers a year by months."""
    rng = np.random.default_rng(1)
    theta = rng.beta(0.003, 1.997, 2_000_000)
    mean, conc = beta_to_period(0.0015, 2.0, W)
    theta_m = rng.beta(mean * conc, (1 - mean) * conc, 2_000_000)
    lost_w, lost_m = (1 - (1 - theta) ** 52).mean(), (1 - (1 - theta_m) ** 12).mean()
    assert lost_m == pytest.approx(lost_w, rel=0.05)


# --------------------------------------------------------------------------- the resolved file


def test_resolved_file_shows_converted_values_and_reruns_the_run() -> None:
    sc = monthly("horizon: 6\nreplications: 1\nseed: 5")
    text = resolved_yaml(sc, replication_seeds(sc.seed, 1), "test")
    assert "# Values are per month" in text
    assert "complaint_give_up: 2\n" in text and "retarget_every: 3\n" in text
    assert f"budget: {1.0 * W}\n" in text
    again = parse_text(text, "scenario.resolved.yaml")
    assert again == sc
    first, second = sim.run(sc), sim.run(again)
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)


# --------------------------------------------------------------------------- the weekly twin


TWIN = """
name: twin-{period}
period: {period}
horizon: {horizon}
replications: 6
seed: 11
population:
  size: 2000
policies: [{{name: uniform, kind: uniform}}]
"""


@pytest.fixture(scope="module")
def twins() -> dict[str, pd.DataFrame]:
    out = {}
    for period, horizon in (("week", 104), ("month", 24)):  # 24 months = 104 weeks
        res = sim.run(parse_text(TWIN.format(period=period, horizon=horizon), f"{period}.yaml"))
        out[period] = res.replications
    return out


@pytest.mark.parametrize("metric", ["churn_rate", "revenue", "satisfaction", "nps"])
def test_monthly_twin_matches_the_weekly_market(twins: dict[str, pd.DataFrame], metric: str) -> None:
    """Two years of the same market by weeks and by months: churn over the two years, revenue a year.

    Tolerance, stated before the first run: the two means differ by less than 3 standard
    errors of their difference (replication sd, 6 independent replications each; the
    twins share no random numbers). Complaints are on: by months the desk answers a
    complaint within the period it is filed in, if it has the capacity, and the complaint
    weighs on churn and word of mouth for its first week, as by weeks [C2, H1, W1].
    Before that rule, a complaint waited a whole month and churn by months was 8 % higher
    (0.532 against 0.492, 14 standard errors). Complaints filed are not compared: by
    months a customer files at most one a period (about 11 % fewer; docs/model.md).
    """
    w, m = twins["week"][metric].to_numpy(), twins["month"][metric].to_numpy()
    se = math.sqrt(w.var(ddof=1) / w.size + m.var(ddof=1) / m.size)
    assert abs(m.mean() - w.mean()) < 3 * se, (w.mean(), m.mean(), se)


# --------------------------------------------------------------------------- burn-in


BURN = """
name: burn
horizon: {horizon}
burn_in: {burn_in}
seed: 3
population: {{size: 1500}}
market:
  events: [{{at: 2, kind: competitor_promotion, duration: 2, size: 0.5}}]
policies:
  - {{name: uniform, kind: uniform}}
  - {{name: risk, kind: churn_risk}}
"""


def test_every_arm_starts_period_0_from_the_same_state() -> None:
    sc = parse_text(BURN.format(horizon=4, burn_in=8), "burn.yaml")
    a, b = (RetentionModel(sc, policy=p, rng=42) for p in ("uniform", "risk"))
    fa, fb = a.customers.to_frame(active_only=False), b.customers.to_frame(active_only=False)
    pd.testing.assert_frame_equal(fa, fb)
    assert (fa.status == 2).any()  # customers left during the burn-in
    assert a.period == 0 and len(a.agents) == 1  # the burn-in's manager is gone
    pulls = []
    for _ in range(4):
        a.step()
        pulls.append(a.last_market.pull)
    assert pulls == [0.2, 0.2, 0.7, 0.7]  # the event's `at` counts from period 0
    assert list(a.timeseries().index) == [0, 1, 2, 3]


def test_run_reports_the_horizon_only() -> None:
    res = sim.run(parse_text(BURN.format(horizon=3, burn_in=5), "burn.yaml"), replications=1)
    assert sorted(res.timeseries.period.unique()) == [0, 1, 2]


STEADY = """
name: steady
horizon: 31
burn_in: {burn_in}
replications: 8
seed: 3
population:
  size: 1500
  potential: 6
  segments: [{{name: all, share: 1, spend_shape: null, purchase_shape: null, churn_concentration: null,
               needs_spread: 0.2}}]
market: {{acquisition_cost: 60}}
policies: [{{name: uniform, kind: uniform}}]
"""


def test_with_burn_in_period_0_looks_like_period_30() -> None:
    """NPS and the period's churn (hazard) in period 0 against period 30, paired by replication.

    A market that can keep its size (prospects enough, acquisition cheap): started at
    rest, complaints, grudges and the spread of satisfaction build up over the first
    weeks and NPS falls by some 9 points; after 104 weeks of burn-in the paired
    difference is within 3 standard errors of zero (tolerance stated before the first
    run), while without it the swing is well beyond.
    """
    def ends(burn_in: int) -> pd.DataFrame:
        ts = sim.run(parse_text(STEADY.format(burn_in=burn_in), "steady.yaml")).timeseries
        return ts[ts.period.isin([0, 30])].pivot(index="replication", columns="period")

    def z(frame: pd.DataFrame, metric: str) -> float:
        d = frame[metric][0] - frame[metric][30]
        return float(d.mean() / (d.std(ddof=1) / math.sqrt(d.size)))

    burnt, cold = ends(104), ends(0)
    assert abs(z(burnt, "nps")) < 3 and abs(z(burnt, "hazard")) < 3, (z(burnt, "nps"), z(burnt, "hazard"))
    assert z(cold, "nps") > 3  # the warm-up swing the burn-in removes


def test_an_event_past_the_converted_default_horizon_names_its_line() -> None:
    text = "name: late\nperiod: month\nmarket: {events: [{at: 30, kind: competitor_promotion}]}\n" \
           "policies: [{name: u, kind: uniform}]\n"
    with pytest.raises(ScenarioError) as err:
        parse_text(text, "late.yaml")
    assert str(err.value) == ("late.yaml:3: market.events[0].at: expected a period before the horizon (24), "
                              "found 30")


@pytest.mark.parametrize("weeks", [1.0, 4.345])
def test_the_switching_rule_is_the_same_compiled_and_in_python(weeks: float) -> None:
    """[H1] compiled for the period's type of `weeks` equals the rule run as Python, and a weekly
    period is the weekly chance itself (no compounding)."""
    from sim.agents import rules
    from sim.agents.state import make_params

    sc = sim.load_scenario("default")
    p = make_params(sc.population.behaviour, 0.7, 0.1, weeks=weeks)
    assert (p.weeks is None) == (weeks == 1.0)
    f = np.float32
    args = [(f(0.6), f(0.3), False, False, f(0.002), f(0.5), f(1.0), f(0.2), f(0.01), f(1.0), p),
            (f(0.2), f(0.1), True, False, f(0.0), f(0.9), f(0.4), f(0.0), f(0.05), f(0.5), p),
            (f(0.5), f(0.4), False, True, f(0.0), f(0.7), f(1.0), f(0.1), f(0.02), f(1.0), p)]
    for a in args:
        compiled, python = rules.churn_hazard(*a), rules.churn_hazard.py_func(*a)
        assert compiled == pytest.approx(python, rel=1e-5)  # Python promotes some steps to float64
    x, upset = np.float32(0.4), np.float32(0.4) + p.churn_unresolved
    weekly = rules.period_switching(np.float32(0.01), x, upset, False, False, None, None)
    assert weekly == pytest.approx(0.01 * math.exp(0.4), rel=1e-6)
    waiting = rules.period_switching(np.float32(0.01), x, upset, True, False, None, None)
    assert waiting == pytest.approx(0.01 * math.exp(upset), rel=1e-6)
    # By weeks a complaint is answered the week after: `answered` never arises and changes nothing.
    assert rules.period_switching(np.float32(0.01), x, upset, False, True, None, None) == weekly
    if weeks != 1.0:  # the period's attraction taken back to a week, the week's chance compounded
        week = 1 - (1 - 0.01) ** (1 / weeks)

        def chance(weeks_waiting: float) -> float:
            return 1 - ((1 - week * math.exp(x)) ** (weeks - weeks_waiting)
                        * (1 - week * math.exp(upset)) ** weeks_waiting)

        monthly = rules.period_switching(np.float32(0.01), x, upset, False, False, p.weeks, p.per_week)
        assert monthly == pytest.approx(chance(0), rel=1e-5)
        assert monthly < weekly  # never more than the attraction scaled as in one step
        # Waiting all period, or only the week a complaint filed and answered within it takes.
        assert rules.period_switching(np.float32(0.01), x, upset, True, False, p.weeks, p.per_week) == \
            pytest.approx(chance(weeks), rel=1e-5)
        answered = rules.period_switching(np.float32(0.01), x, upset, False, True, p.weeks, p.per_week)
        assert answered == pytest.approx(chance(1), rel=1e-5) and monthly < answered
