"""The market of each period under every event kind, and what an event's start does to the customers."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.state import CHURNED
from sim.crm import CRMView, build_view
from sim.events import CompetitorPromotion, NeedsShift, Recession, Regulation
from sim.market import MarketModel
from sim.model import RetentionModel
from sim.scenario import Scenario

PULL = 0.2


def scenario(*events, horizon: int = 30, size: int = 600, **over) -> Scenario:
    return Scenario.model_validate({
        "name": "market", "horizon": horizon, "population": {"size": size},
        "market": {"competitor_pull": PULL, "events": list(events), **over.pop("market", {})},
        "policies": [{"name": "u", "kind": "uniform"}], **over})


def states(*events, horizon: int = 30):
    market = MarketModel(scenario(*events, horizon=horizon))
    return [market.state(t) for t in range(horizon)]


def test_without_events_the_market_is_the_baseline_every_period():
    for s in states():
        assert (s.pull, s.switching_cover, s.spend_drop, s.budget_factor, s.consent_share) == (PULL, 0, 0, 1, 1)
        assert not s.promotion and not s.recession


# --------------------------------------------------------------------------- each kind


def test_a_promotion_adds_pull_and_covers_switching_costs_only_while_it_runs():
    ss = states({"at": 5, "kind": "competitor_promotion", "duration": 3, "size": 0.3,
                 "switching_cost_cover": 0.6})
    for t, s in enumerate(ss):
        running = 5 <= t < 8
        assert s.promotion == running, t
        assert s.pull == pytest.approx(PULL + 0.3 if running else PULL), t
        assert s.switching_cover == (0.6 if running else 0.0), t
        assert (s.spend_drop, s.budget_factor, s.consent_share) == (0, 1, 1)


def test_overlapping_promotions_add_their_pull_and_the_largest_cover_counts():
    promo = {"kind": "competitor_promotion", "duration": 6}
    ss = states({**promo, "at": 2, "size": 0.1, "switching_cost_cover": 0.9},
                {**promo, "at": 4, "size": 0.25, "switching_cost_cover": 0.3})
    assert ss[3].pull == pytest.approx(PULL + 0.1) and ss[3].switching_cover == 0.9
    assert ss[5].pull == pytest.approx(PULL + 0.35) and ss[5].switching_cover == 0.9
    assert ss[8].pull == pytest.approx(PULL + 0.25) and ss[8].switching_cover == 0.3  # the first has ended
    assert ss[10].pull == pytest.approx(PULL) and not ss[10].promotion


def test_a_recession_drops_spend_and_cuts_the_budget_to_the_end_unless_it_has_a_duration():
    ss = states({"at": 10, "kind": "recession", "spend_drop": 0.2, "budget_cut": 0.3})
    assert not ss[9].recession and ss[9].budget_factor == 1.0
    for s in ss[10:]:
        assert s.recession and s.spend_drop == pytest.approx(0.2) and s.budget_factor == pytest.approx(0.7)
        assert s.pull == PULL
    short = states({"at": 10, "kind": "recession", "duration": 4})
    assert [s.recession for s in short[9:16]] == [False, True, True, True, True, False, False]
    assert short[14].spend_drop == 0.0 and short[14].budget_factor == 1.0


def test_recessions_compound():
    ss = states({"at": 3, "kind": "recession", "duration": 10, "spend_drop": 0.2, "budget_cut": 0.3},
                {"at": 6, "kind": "recession", "spend_drop": 0.5, "budget_cut": 0.5})
    assert ss[4].spend_drop == pytest.approx(0.2)
    # Two drops of 20 % and 50 % leave 0.8 × 0.5 of spend; two cuts leave 0.7 × 0.5 of the budget.
    assert ss[7].spend_drop == pytest.approx(1 - 0.8 * 0.5)
    assert ss[7].budget_factor == pytest.approx(0.7 * 0.5)
    assert ss[13].spend_drop == pytest.approx(0.5) and ss[13].budget_factor == pytest.approx(0.5)


def test_regulation_sets_the_consent_share_from_its_period_on():
    ss = states({"at": 8, "kind": "regulation", "consent_share": 0.35})
    assert [s.consent_share for s in ss[:8]] == [1.0] * 8
    assert [s.consent_share for s in ss[8:]] == [0.35] * 22
    # A later rule replaces an earlier one, whatever order the file lists them in.
    later = states({"at": 12, "kind": "regulation", "consent_share": 0.2},
                   {"at": 4, "kind": "regulation", "consent_share": 0.7})
    assert later[3].consent_share == 1.0 and later[6].consent_share == 0.7 and later[20].consent_share == 0.2


def test_several_events_at_once_each_act_on_their_own_terms():
    events = [{"at": 5, "kind": "competitor_promotion", "duration": 4, "size": 0.2,
               "switching_cost_cover": 1.0},
              {"at": 6, "kind": "recession", "duration": 5, "spend_drop": 0.1, "budget_cut": 0.4},
              {"at": 7, "kind": "regulation", "consent_share": 0.5},
              {"at": 7, "kind": "needs_shift", "size": 0.3}]
    s = states(*events)[7]
    assert s.promotion and s.recession
    assert s.pull == pytest.approx(PULL + 0.2) and s.switching_cover == 1.0
    assert s.spend_drop == pytest.approx(0.1) and s.budget_factor == pytest.approx(0.6)
    assert s.consent_share == 0.5
    # The market does not depend on the order the events are listed in.
    assert states(*reversed(events)) == states(*events)
    after = states(*events)[12]
    assert (after.pull, after.switching_cover, after.spend_drop, after.budget_factor) == (PULL, 0, 0, 1)
    assert after.consent_share == 0.5  # regulation has no end


def test_events_run_from_their_period_for_their_duration():
    promo = CompetitorPromotion(at=4, kind="competitor_promotion", duration=2)
    assert [promo.running(t) for t in range(3, 8)] == [False, True, True, False, False]
    endless = Recession(at=4, kind="recession")
    assert not endless.running(3) and all(endless.running(t) for t in range(4, 200))
    assert NeedsShift(at=2, kind="needs_shift").running(50)
    assert Regulation(at=2, kind="regulation").running(2)


def test_starting_lists_the_events_that_start_in_a_period():
    market = MarketModel(scenario({"at": 3, "kind": "recession"}, {"at": 1, "kind": "needs_shift"},
                                  {"at": 3, "kind": "regulation"}))
    assert [e.kind for e in market.starting(3)] == ["recession", "regulation"]
    assert [e.kind for e in market.starting(1)] == ["needs_shift"]
    assert market.starting(0) == [] and market.starting(2) == []


def test_the_model_budget_follows_the_recession_cut():
    sc = scenario({"at": 4, "kind": "recession", "budget_cut": 0.5, "duration": 3}, horizon=10,
                  market={"budget": 2.0})
    model = RetentionModel(sc, rng=1).run()
    ts = model.timeseries()
    spend = ts[["spend_service", "spend_complaints", "spend_points", "spend_acquisition",
                "spend_remedies"]].sum(axis=1)
    full = 2.0 * 600
    assert (spend[4:7] <= 0.5 * full + 1e-9).all()
    assert (spend[[0, 1, 2, 3, 7, 8, 9]] > 0.5 * full).all()  # uniform spends (almost) all it has
    assert (spend <= full).all()


# --------------------------------------------------------------------------- an event's start


def test_a_needs_shift_moves_the_needs_of_the_named_segments_only():
    model = RetentionModel(scenario(size=1500), rng=4)
    pop = model.customers
    before = pop.needs.copy()
    ev = NeedsShift(at=0, kind="needs_shift", size=0.5, spread=0.0, segments=("regulars", "nobody"))
    ev.start(model)
    moved = pop.segment == pop.segment_names.index("regulars")
    np.testing.assert_allclose(pop.needs[moved] - before[moved], 0.5, atol=1e-6)
    np.testing.assert_array_equal(pop.needs[~moved], before[~moved])


def test_a_needs_shift_without_segments_moves_everyone_with_its_spread():
    model = RetentionModel(scenario(size=3000), rng=5)
    pop = model.customers
    before = pop.needs.copy()
    NeedsShift(at=0, kind="needs_shift", size=-0.4, spread=0.1).start(model)
    d = (pop.needs - before).astype(float)
    sd_mean = 0.1 / np.sqrt(d.size)
    assert abs(d.mean() + 0.4) < 4 * sd_mean
    assert abs(d.std() - 0.1) < 0.01


def test_a_needs_shift_acts_once_in_a_run():
    shift = {"at": 4, "kind": "needs_shift", "size": 0.5, "spread": 0.0, "segments": ["small_growers"]}
    with_shift = RetentionModel(scenario(shift, horizon=15), rng=6).run()
    without = RetentionModel(scenario(horizon=15), rng=6).run()
    a, b = with_shift.customers, without.customers
    # Needs drift with the same random numbers in both runs; the churned stop drifting when they leave.
    same = (a.status == b.status) & (a.status != CHURNED) & (b.status != CHURNED)
    growers = a.segment == a.segment_names.index("small_growers")
    d = a.needs - b.needs
    np.testing.assert_allclose(d[same & growers], 0.5, atol=1e-5)  # once, not once per period
    np.testing.assert_array_equal(d[same & ~growers], 0.0)


def test_regulation_blanks_the_personal_data_of_customers_who_do_not_consent():
    sc = scenario({"at": 3, "kind": "regulation", "consent_share": 0.4}, size=2000)
    model = RetentionModel(sc, rng=7).run(3)
    pop = model.customers
    assert pop.consent.all()  # before its period, all data may be used
    view = build_view(pop, model.period, 100.0)
    assert np.isfinite(view.frequency[view.known]).all()
    for ev in model.market.starting(3):
        ev.start(model)
    share = pop.consent.mean()
    assert abs(share - 0.4) < 4 * np.sqrt(0.24 / pop.n)
    after = build_view(pop, model.period, 100.0)
    dark = after.known & ~after.consent
    assert dark.sum() > 0.5 * after.known.sum()
    for name in CRMView.PERSONAL:
        assert np.isnan(getattr(after, name)[dark]).all(), name
    light = after.known & after.consent
    assert np.isfinite(after.monetary[light]).all()
    # The view taken before keeps what it saw (views are snapshots).
    assert np.isfinite(view.frequency[view.known]).all()


def test_regulation_in_a_run_blanks_the_view_from_its_period():
    sc = scenario({"at": 5, "kind": "regulation", "consent_share": 0.5}, horizon=8, size=800)
    model = RetentionModel(sc, rng=8)
    seen = []
    for _ in range(8):
        model.step()
        v = model.manager.last_view
        seen.append(float(np.isnan(v.frequency[v.known]).mean()))
    assert seen[:5] == [0.0] * 5
    assert all(0.35 < s < 0.65 for s in seen[5:])


def test_regulation_needs_the_scenario_to_announce_it():
    model = RetentionModel(scenario(), rng=9)
    with pytest.raises(RuntimeError, match="no regulation event"):
        Regulation(at=0, kind="regulation").start(model)
