"""Measured learning (issue 17): a second, shorter game after the debrief on a fresh market, and
each trainee's and the class's bias scores before (first game) and after (second game)."""

from __future__ import annotations

import csv
import io

import pytest
from workshop_forms import ROUND, TestClient

from sim.workshop.app import SESSION_COOKIE, create_app
from sim.workshop.bots import BotSpec
from sim.workshop.engine import (
    BOT_VERSION,
    DEFAULT_TITLE,
    FELL_BY,
    NotOpen,
    RoundConflict,
    WorkshopClosed,
    WorkshopEngine,
    play_script,
    practice_seed,
    second_seed,
)
from sim.workshop.profile import FLAG, labels, profile

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GOOD = {"shares": {"service": 0.6, "complaints": 0.2, "points": 0.0, "acquisition": 0.2}}
LIKED = {**GOOD, "lists": {"liked": 0.6}, "complaint_order": "liked"}


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """A 2-round workshop with a 1-round second game: Ada plays for the people she likes, then
    not; Ben plays the same neutral plan in both games; Cy plays the first game only."""
    path = tmp_path_factory.mktemp("second") / "w.sqlite"
    eng = WorkshopEngine(path)
    ws = eng.create_workshop("default", rounds=2, seed=11, second_rounds=1)
    ada, ben, cy = (eng.join(ws.id, n) for n in ("Ada", "Ben", "Cy"))
    for r in (1, 2):
        eng.submit(ada, r, LIKED)
        eng.submit(ben, r, GOOD)
        eng.submit(cy, r, GOOD)
    with pytest.raises(RoundConflict, match="Round 2 is not being played"):
        eng.submit_second(ada, 2, GOOD)
    first = {sid: (eng.debrief(sid), eng.store.rounds(sid)) for sid in (ada, ben)}
    report = eng.class_report(ws.id, with_bots=False)
    eng.submit_second(ada, 1, GOOD)
    eng.submit_second(ben, 1, GOOD)
    return eng, path, ws, {"ada": ada, "ben": ben, "cy": cy}, first, report


def test_the_second_game_is_a_fresh_shorter_market_opened_by_the_debrief(tmp_path):
    eng = WorkshopEngine(tmp_path / "w.sqlite")
    ws = eng.create_workshop("default", rounds=1, seed=5)
    assert ws.second_rounds == 2
    assert second_seed(ws.seed) not in (ws.seed, practice_seed(ws.seed))
    assert second_seed(ws.seed) == second_seed(ws.seed)
    setup = eng.setup(ws.id, second=True)
    assert (setup.seed, setup.rounds) == (second_seed(ws.seed), 2)
    sid = eng.join(ws.id, "Ada")
    assert eng.second(sid)["available"] is False
    assert eng.second(sid)["segments"] != eng.dashboard(sid)["segments"]  # other customers
    with pytest.raises(RoundConflict, match="after your debrief"):
        eng.submit_second(sid, 1, GOOD)
    assert eng.store.rounds(sid, second=True) == []
    eng.submit(sid, 1, GOOD)
    d = eng.second(sid)
    assert d["available"] and d["round"] == 1 and d["rounds"] == 2 and not d["finished"]
    assert d["learning"]["trainees"] == 0
    for bad in ({"second_rounds": 13}, {"second_rounds": -1}):
        with pytest.raises(ValueError, match="second game"):
            eng.create_workshop("default", rounds=1, **bad)


def test_the_second_game_changes_nothing_of_the_first(played):
    eng, _, ws, who, first, report = played
    for name in ("ada", "ben"):
        sid = who[name]
        debrief, rounds = first[sid]
        assert eng.store.rounds(sid) == rounds
        after = eng.debrief(sid)
        assert after["outcomes"] == debrief["outcomes"] and after["profile"] == debrief["profile"]
        assert after["rounds"] == debrief["rounds"]
        assert [r.round for r in eng.store.rounds(sid, second=True)] == [1]
    now = {t["name"]: t for t in eng.class_report(ws.id, with_bots=False)["trainees"]}
    for t in report["trainees"]:
        assert now[t["name"]]["profile"] == t["profile"]
        assert now[t["name"]]["outcomes"] == t["outcomes"]
    assert report["class_profile"] == eng.class_report(ws.id, with_bots=False)["class_profile"]
    assert {p["name"]: (p["rounds_done"], p["second_done"]) for p in eng.progress(ws.id)} == {
        "Ada": (2, 1), "Ben": (2, 1), "Cy": (2, 0)}
    with pytest.raises(RoundConflict, match="All rounds have been played"):
        eng.submit_second(who["ada"], 2, GOOD)


def test_before_and_after_per_trainee_and_for_the_class(played):
    eng, _, ws, who, _, _ = played
    ada = eng.before_after(who["ada"])
    # Neither game's rounds began after the customers' needs moved: stale data had no chance to
    # show, so it is left out rather than read as a fall.
    expected_after = {s.kind: None if s.kind == "stale_data" else s.score for s in profile(
        [r.features for r in eng.store.rounds(who["ada"], second=True)])}
    assert ada["before"] == {s.kind: None if s.kind == "stale_data" else s.score
                             for s in eng.profile(who["ada"])}
    assert ada["after"] == expected_after
    assert ada["before"]["affinity"] >= FLAG > ada["after"]["affinity"]
    assert ada["change"]["affinity"] == pytest.approx(ada["after"]["affinity"] - ada["before"]["affinity"])
    assert ada["fell"]["affinity"] == 1.0
    assert ada["change"]["stale_data"] is None and ada["partial"]
    compared = [k for k in labels() if k != "stale_data"]
    total_before = sum(ada["before"][k] for k in compared)
    total_after = sum(ada["after"][k] for k in compared)
    assert ada["relative"] == pytest.approx((total_after - total_before) / total_before)
    assert ada["relative"] < -0.5
    cy = eng.before_after(who["cy"])
    assert cy["trainees"] == 0 and cy["after"] is None and cy["relative"] is None

    rep = eng.class_report(ws.id, with_bots=False)
    rows = {t["name"]: t for t in rep["trainees"]}
    assert rows["Cy"]["after"] is None and rows["Ada"]["after"] == expected_after
    c = rep["learning"]
    ben = eng.before_after(who["ben"])
    assert c["trainees"] == 2  # Cy has not played the second game
    assert c["before"]["stale_data"] is None and c["fell"]["stale_data"] is None
    for k in compared:
        assert c["before"][k] == pytest.approx((ada["before"][k] + ben["before"][k]) / 2)
        assert c["after"][k] == pytest.approx((ada["after"][k] + ben["after"][k]) / 2)
        assert c["change"][k] == pytest.approx(c["after"][k] - c["before"][k])
        fell = [x["after"][k] <= x["before"][k] - FELL_BY for x in (ada, ben)]
        assert c["fell"][k] == pytest.approx(sum(fell) / 2)
    assert c["fell"]["affinity"] == 0.5  # Ada's fell; Ben, neutral in both games, had none to lose
    assert c["relative"] == pytest.approx((c["total_after"] - c["total_before"]) / c["total_before"])


def test_the_second_game_survives_a_restart(played):
    eng, path, ws, who, _, _ = played
    fresh = WorkshopEngine(path)  # a new process on the same file
    for sid in who.values():
        assert fresh.before_after(sid) == eng.before_after(sid)
    assert fresh.second(who["ada"])["finished"] and not fresh.second(who["cy"])["history"]
    assert fresh.game(who["ada"], second=True).outcomes() == eng.game(who["ada"], second=True).outcomes()
    assert fresh.class_report(ws.id, with_bots=False)["learning"] == \
        eng.class_report(ws.id, with_bots=False)["learning"]
    assert fresh.workshop(ws.id).second_rounds == 1


def test_a_paced_workshop_lets_the_second_game_be_played_at_the_trainees_speed(tmp_path):
    """Self-paced once the trainee has the debrief: no round to open, no countdown; a pause and
    closing stop it as they stop the first game."""
    eng = WorkshopEngine(tmp_path / "w.sqlite")
    ws = eng.create_workshop("default", rounds=1, seed=5, paced=True, second_rounds=2)
    sid = eng.join(ws.id, "Ada")
    eng.advance(ws.id)
    eng.submit(sid, 1, GOOD)
    d = eng.second(sid)
    assert d["pace"]["can_play"] and d["pace"]["seconds_left"] is None
    eng.submit_second(sid, 1, GOOD)  # no facilitator action needed
    eng.pause(ws.id)
    assert not eng.second(sid)["pace"]["can_play"]
    with pytest.raises(NotOpen, match="paused"):
        eng.submit_second(sid, 2, GOOD)
    eng.resume(ws.id)
    eng.close(ws.id)
    with pytest.raises(WorkshopClosed):
        eng.submit_second(sid, 2, GOOD)
    assert len(eng.store.rounds(sid, second=True)) == 1


def test_a_workshop_without_a_second_game(tmp_path):
    eng = WorkshopEngine(tmp_path / "w.sqlite")
    ws = eng.create_workshop("default", rounds=1, seed=5, second_rounds=0)
    sid = eng.join(ws.id, "Ada")
    eng.submit(sid, 1, GOOD)
    assert eng.second(sid)["available"] is False
    with pytest.raises(RoundConflict, match="no second game"):
        eng.submit_second(sid, 1, GOOD)
    assert eng.debrief(sid)["second"]["rounds"] == 0


def test_a_bot_that_does_not_learn_keeps_its_bias_in_the_second_game(tmp_path):
    """The before/after figure measures decisions, not the market: the same bias in both games
    (on two different markets) keeps its flag and moves little."""
    eng = WorkshopEngine(tmp_path / "w.sqlite")
    ws = eng.create_workshop("default", rounds=2, seed=20261122, second_rounds=2)
    sid = play_script(eng, ws.id, "affinity bot", BotSpec("aff", biases=(("affinity", 0.8),)),
                      second=True)
    b = eng.before_after(sid)
    assert b["before"]["affinity"] >= FLAG and b["after"]["affinity"] >= FLAG
    assert abs(b["change"]["affinity"]) < FELL_BY and b["fell"]["affinity"] == 0.0
    assert abs(b["relative"]) < 0.1


def test_the_default_title_is_plain_words_not_the_scenario_code_name(tmp_path):
    eng = WorkshopEngine(tmp_path / "w.sqlite")
    en = eng.create_workshop("retail_stale_data", rounds=1, seed=1)
    zh = eng.create_workshop("default", rounds=1, seed=1, language="zh_CN")
    assert en.title == DEFAULT_TITLE == "Customer management workshop"
    assert zh.title == "客户管理工作坊"
    assert "retail_stale_data" not in en.title and "default" not in zh.title
    assert eng.create_workshop("default", rounds=1, title="Tuesday class").title == "Tuesday class"


def test_the_practice_round_is_played_once_even_after_a_restart(tmp_path):
    path = tmp_path / "w.sqlite"
    eng = WorkshopEngine(path)
    ws = eng.create_workshop("default", rounds=1, seed=5)
    sid = eng.join(ws.id, "Ada")
    eng.submit_practice(sid, GOOD)
    with pytest.raises(RoundConflict, match="practice round already"):
        eng.submit_practice(sid, GOOD)
    with pytest.raises(RoundConflict, match="practice round already"):
        WorkshopEngine(path).submit_practice(sid, GOOD)
    assert eng.practice(sid)["available"] is False


# --------------------------------------------------------------------------- the pages


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_second_game_through_the_pages(tmp_path, lang):
    app = create_app(tmp_path / "w.sqlite")
    eng = app.state.engine
    fac = TestClient(app)
    fac.get(f"/facilitator?token={app.state.token}")  # keeps the token in a cookie
    r = fac.post("/facilitator", data={
        "scenario": "default", "rounds": "1", "second_rounds": "1", "language": lang},
        follow_redirects=False)
    assert r.status_code == 303
    ws = eng.workshops()[0]
    assert ws.second_rounds == 1 and ws.language == lang

    ada = TestClient(app)
    ada.post(f"/join/{ws.id}", data={"name": "Ada"})
    assert ada.get("/second", follow_redirects=False).headers["location"] == "/debrief"
    ada.post("/play", data=ROUND)  # all service to the customers she likes
    debrief = ada.get("/debrief").text
    assert 'id="second-link" href="/second"' in debrief
    page = ada.get("/second").text
    assert 'id="second-title"' in page and 'action="/second"' in page
    assert 'id="second-round-number">1<' in page
    neutral = {**ROUND, "list_liked": "0", "complaint_order": "oldest"}
    r = ada.post("/second", data=neutral, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/second"
    assert ada.post("/second", data=neutral).status_code == 409  # played: refused, nothing changes
    done = ada.get("/second").text
    assert 'id="before-after"' in done and "23.57%" in done and 'id="own-figure"' in done
    assert 'id="section-second"' in ada.get("/debrief").text and 'id="before-after"' in ada.get("/debrief").text
    assert len(eng.store.rounds(ada.cookies[SESSION_COOKIE])) == 1

    figure = f"{100 * eng.class_report(ws.id, with_bots=False)['learning']['relative']:.1f}%"
    page = fac.get(f"/facilitator/w/{ws.id}").text
    csv_text = fac.get(f"/facilitator/w/{ws.id}/report.csv").text
    report = fac.get(f"/facilitator/w/{ws.id}/report.html").text
    projector = TestClient(app).get(f"/projector/{eng.keys(ws.id)['view_key']}").text
    for html in (page, report, projector):
        assert 'id="class-learning"' in html and 'id="trainee-learning"' in html
        assert figure in html and "23.57%" in html and "Morewedge" in html
        assert 'id="market-control"' in html  # the bots' change between the same two markets
    words = {"en": ("Before and after the debrief", "This class's figure", "not two months later"),
             "zh_CN": ("复盘前后", "本班的数字", "而非两个月后")}[lang]
    for w in words:
        assert w in page, w
    rows = list(csv.reader(io.StringIO(csv_text)))
    head = rows[0]
    col = {"en": "after_bias_affinity", "zh_CN": "偏差得分：亲和偏差（第二局）"}[lang]
    assert col in head
    ada_row = next(row for row in rows if row[0] == "Ada")
    class_row = rows[-1]
    assert ada_row[head.index(col)] == class_row[head.index(col)]
    change = head.index({"en": "change_bias_affinity", "zh_CN": "偏差得分：亲和偏差（变化）"}[lang])
    assert float(ada_row[change]) < 0 and not ada_row[change].startswith("'")


def test_the_facilitator_may_start_a_workshop_without_a_second_game(tmp_path):
    app = create_app(tmp_path / "w.sqlite")
    fac = TestClient(app)
    fac.get(f"/facilitator?token={app.state.token}")
    fac.post("/facilitator", data={"scenario": "default", "rounds": "1", "second_rounds": "0"})
    eng = app.state.engine
    ws = eng.workshops()[0]
    assert ws.second_rounds == 0
    ada = TestClient(app)
    ada.post(f"/join/{ws.id}", data={"name": "Ada"})
    ada.post("/play", data=ROUND)
    assert 'id="section-second"' not in ada.get("/debrief").text
    assert 'id="section-learning"' not in fac.get(f"/facilitator/w/{ws.id}").text


def test_the_class_figure_stands_beside_bots_that_never_learn(played):
    """The debrief's bots play the second game's market too: their change is what the new market
    alone does to the scores, shown beside the class's figure."""
    eng, _, ws, _, _, _ = played
    control = eng.class_report(ws.id)["control"]
    first, second = eng.bots(ws.id), eng.bots(ws.id, second=True)
    assert control["trainees"] == len(first) == len(second) == 9
    assert eng.store.bot_results(ws.id, f"{BOT_VERSION}-second") is not None
    own = {name: (next(p["score"] for p in first[name]["profile"] if p["kind"] == name),
                  next(p["score"] for p in second[name]["profile"] if p["kind"] == name))
           for name in first if name in labels()}
    assert all(after >= FLAG for name, (_, after) in own.items() if name != "stale_data"), own
    assert control["after"]["stale_data"] is None  # neither market's short game can show it
    assert abs(control["relative"]) < 0.3
