"""The named customers' stories: every sentence is true of what happened to them in the play."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sim.i18n import localize
from sim.workshop.engine import WorkshopEngine
from sim.workshop.game import Game, Plan
from sim.workshop.stories import ATTENTION, GREW, POTENTIAL, RISK_LESSONS, STORY_TEXT

ROUNDS = 3
SHARES = {"service": 0.6, "complaints": 0.2, "points": 0.0, "acquisition": 0.2}
NEGLECT = {"service": 0.0, "complaints": 0.0, "points": 0.0, "acquisition": 1.0}
#: Columns read straight from the model at each round's end, to check the stories against.
COLUMNS = ("status", "churned_at", "satisfaction", "purchases_total", "service_total", "growth",
           "growth_max", "complaints_total")


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """One small workshop; trainees who give Sprout all service money, none by name, no service at all."""
    engine = WorkshopEngine(tmp_path_factory.mktemp("stories") / "w.sqlite", population_cap=1000)
    ws = engine.create_workshop("default", rounds=ROUNDS, seed=20261122)
    grower = engine.setup(ws.id).stories["grower"]
    plans = {"all": {"shares": SHARES, "named": {str(grower): 1.0}},
             "none": {"shares": SHARES},
             "neglect": {"shares": NEGLECT}}
    sessions = {}
    for who, plan in plans.items():
        sid = sessions[who] = engine.join(ws.id, who)
        for r in range(1, ROUNDS + 1):
            engine.submit(sid, r, plan)
    return engine, ws, sessions


def columns(game: Game) -> dict[str, np.ndarray]:
    pop = game.model.customers
    ids = list(game.setup.stories.values())
    return {c: getattr(pop, c)[ids].astype(np.float64) for c in COLUMNS}


def replay(engine: WorkshopEngine, sid: str) -> tuple[list[dict[str, np.ndarray]], list[dict], Game]:
    """The named customers' columns at the end of the warm-up and of each round, on a fresh game.

    The first state also holds their chance of leaving in the next period (`hazard`) and the
    median active customer's (`median`), from the model's churn rule.
    """
    t = engine.trainee(sid)
    plans = [r.plan for r in engine.store.rounds(sid)]
    g = Game(engine.setup(t.workshop_id))
    states = [columns(g)]
    pop, market = g.model.customers, g.model.market.state(g.model.period)
    hazard = pop.hazard(market.pull, market.switching_cover).astype(np.float64)
    states[0]["hazard"] = hazard[list(g.setup.stories.values())]
    states[0]["median"] = np.median(hazard[pop.status == 1])
    for p in plans:
        g.play(Plan.from_dict(p))
        states.append(columns(g))
    return states, plans, g


def floats(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d\d\b", text)]


def check_story(s, j: int, states: list[dict[str, np.ndarray]], plans: list[dict], per: int) -> None:
    """Every sentence of story `s` (the `j`-th named customer) against the model's columns."""
    name = STORY_TEXT[s.key][0]
    col = {k: [st[k][j] for st in states] for k in COLUMNS}
    left = (int(col["churned_at"][-1]) // per) if col["status"][-1] == 2 else None
    assert s.left_round == left and s.still_customer == (left is None)
    assert len(s.lines) == (left or ROUNDS)
    for r, line in enumerate(s.lines, start=1):
        assert line.startswith(f"Round {r}: ")
        share = float(plans[r - 1].get("named", {}).get(str(s.id), 0.0))
        assert s.planned[r - 1] == share
        given = (f"you gave {name} {100 * share:.0f} % of the service money by name" if share
                 else f"you gave {name} no service money by name")
        assert given in line
        got = col["service_total"][r] - col["service_total"][r - 1]
        assert s.received[r - 1] == pytest.approx(got, rel=1e-5, abs=1e-3)
        assert f"they received {got:,.0f}, " in line
        if r == left:
            assert f"{name} left " in line
            a, b = floats(line.split("(satisfaction")[1])
            assert (a, b) == (round(col["satisfaction"][0], 2), round(col["satisfaction"][r], 2))
            continue
        assert f"{name} left" not in line
        bought = int(re.search(r"they bought (\d+) times?", line).group(1))
        assert bought == col["purchases_total"][r] - col["purchases_total"][r - 1]
        mood = re.search(r"satisfaction (rose from|fell from|held at) (\d\.\d\d(?: to \d\.\d\d)?)", line)
        now = round(col["satisfaction"][r], 2)
        assert floats(mood.group(2))[-1] == now
        if mood.group(1) != "held at":
            assert floats(mood.group(2))[0] == round(col["satisfaction"][r - 1], 2)
            assert (mood.group(1) == "rose from") == (col["satisfaction"][r] > col["satisfaction"][r - 1])
    end = left if left is not None else ROUNDS
    filed = col["complaints_total"][end] - col["complaints_total"][0]
    assert s.complaints == filed and 0 <= s.handled
    growth = col["growth"][end] / col["growth"][0]
    assert s.growth == pytest.approx(growth, rel=1e-5)
    if left is not None:
        assert s.outcome == "left" and s.summary.startswith(f"{name} left in round {left} ")
        assert ("without ever complaining" in s.summary) == (col["complaints_total"][end] == 0)
    elif growth >= GREW:
        assert s.outcome == "grew" and f"grew {growth:.1f}-fold" in s.summary
    else:
        assert s.outcome == "stayed" and s.summary.startswith(f"{name} stayed, ")
    def quarter(h: float) -> str:
        return f"{100 * (1 - (1 - h) ** per):.1f} %"

    assert (f"their chance of leaving ran at {quarter(states[0]['hazard'][j])} a quarter (the median "
            f"customer's at {quarter(states[0]['median'])})") in s.knowledge[0]
    if s.key in RISK_LESSONS:
        riskier = states[0]["hazard"][j] > states[0]["median"]
        assert ("were more likely to leave than the median customer" in s.lesson) == riskier
        assert ("no more likely to leave than the median customer" in s.lesson) == (
            not riskier and s.attention >= ATTENTION)
    ceiling = col["growth_max"][0] / col["growth"][0]
    told = [k for k in s.knowledge if "potential" in k]
    assert bool(told) == (ceiling >= POTENTIAL)
    if told:
        assert f"could grow {ceiling:.1f}-fold" in told[0]


@pytest.mark.parametrize("who", ["all", "none", "neglect"])
def test_every_sentence_is_true_of_the_play(played, who):
    engine, _, sessions = played
    states, plans, fresh = replay(engine, sessions[who])
    game = engine.game(sessions[who])
    stories = game.stories()
    assert [s.key for s in stories] == list(game.setup.stories)
    for j, s in enumerate(stories):
        check_story(s, j, states, plans, game.per_round)
    assert [s.to_dict() for s in fresh.stories()] == [s.to_dict() for s in stories]


def test_all_service_money_or_none_tell_different_true_stories(played):
    engine, _, sessions = played
    told = {}
    for who in ("all", "none"):
        g = engine.game(sessions[who])
        told[who] = {s.key: s for s in g.stories()}
        sprout = told[who]["grower"]
        if who == "all":
            assert sprout.planned == [1.0] * ROUNDS and sprout.attention >= ATTENTION
            ts = g.model.timeseries()
            per = g.per_round
            spent = [float(ts["spend_service"].iloc[r * per:(r + 1) * per].sum())
                     for r in range(1, len(sprout.received) + 1)]
            # While Sprout is a customer, all the service money reaches them.
            assert sprout.received == pytest.approx(spent, rel=1e-3)
        else:
            assert sprout.planned == [0.0] * ROUNDS and sprout.attention < ATTENTION
    all_, none = told["all"]["grower"], told["none"]["grower"]
    assert all_.lesson != none.lesson and all_.lines != none.lines and all_.summary != none.summary
    assert ("The attention you gave" in all_.lesson) == (all_.outcome == "grew")
    assert "The attention you gave" not in none.lesson
    if all_.still_customer and none.still_customer:
        assert all_.growth > none.growth  # attention makes a grower grow
    # The others got less of the service money in the first game than in the second.
    for key in ("liked", "loud", "big"):
        assert told["all"][key].attention < told["none"][key].attention


def test_a_departed_customer_is_told_as_left_never_as_a_recent_purchase(played):
    engine, _, sessions = played
    board = engine.dashboard(sessions["neglect"])
    gone = [c for c in board["stories"] if not c["active"]]
    assert gone, "with no service at all some named customer leaves"
    stories = {s.key: s for s in engine.game(sessions["neglect"]).stories()}
    for card in board["stories"]:
        text = " ".join([card["last_purchase"], card["left"], *card["lines"]])
        assert not re.search(r"\b0 weeks ago|\b1 weeks", text), text
        assert card["lines"] == stories[card["key"]].lines
        assert card["left_round"] == stories[card["key"]].left_round
    for card in gone:
        assert card["last_purchase"] == "" and card["left_round"] is not None
        assert f"{STORY_TEXT[card['key']][0]} left " in card["lines"][-1]


def test_the_stories_speak_chinese(played):
    engine, _, sessions = played
    for s in engine.game(sessions["neglect"]).stories():
        for text in (*s.lines, s.summary, *s.knowledge, s.lesson):
            zh = localize(text, "zh_CN")
            assert re.search(r"[\u4e00-\u9fff]", zh) and not re.search(r"\b(the|they|and)\b", zh), zh
        assert localize(s.lines[0], "zh_CN").count("1") >= 1  # the round's number is kept


def test_the_debrief_tells_the_stories(played):
    engine, _, sessions = played
    for sid in sessions.values():
        told = [s.to_dict() for s in engine.game(sid).stories()]
        assert engine.debrief(sid)["stories"] == told
        assert not any("several-fold" in s["truth"] for s in told)  # no fixed claim survives
