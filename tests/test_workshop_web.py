"""The workshop web app over HTTP: access rules, validation, persistence, exports."""

from __future__ import annotations

import csv
import io
import re
import warnings
from html import escape

import pytest

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the extras install
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sim.workshop.app import SESSION_COOKIE, create_app
from sim.workshop.engine import WorkshopEngine

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROUND = {"share_service": "60", "share_complaints": "20", "share_points": "0",
         "share_acquisition": "20", "complaint_order": "oldest", "promise": "50",
         "range_update": "100"}


def error_text(html: str) -> str:
    m = re.search(r'id="error"[^>]*>(.*?)</', html, re.S)
    return m.group(1).strip() if m else ""


@pytest.fixture
def db(tmp_path):
    return tmp_path / "workshop.sqlite"


@pytest.fixture
def app(db):
    return create_app(db)


@pytest.fixture
def workshop_id(app):
    fac = TestClient(app)
    r = fac.post(f"/facilitator?token={app.state.token}",
                 data={"scenario": "default", "rounds": "2", "title": "Test class"},
                 follow_redirects=False)
    assert r.status_code == 303
    return r.headers["location"].rsplit("/", 1)[-1]


def join(app, workshop_id, name):
    c = TestClient(app)
    r = c.post(f"/join/{workshop_id}", data={"name": name}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/briefing"  # a new trainee
    return c


def rounds_in_db(app, client):
    return [r.round for r in app.state.engine.store.rounds(client.cookies[SESSION_COOKIE])]


def test_facilitator_pages_need_the_token(app, workshop_id):
    anon = TestClient(app)
    w = f"/facilitator/w/{workshop_id}"
    paths = ["/facilitator", w, f"{w}/report.html", f"{w}/report.csv"]
    for path in paths:
        assert anon.get(path).status_code == 403, path
        assert anon.get(path + "?token=wrong").status_code == 403, path
    r = anon.post("/facilitator", data={"scenario": "default", "rounds": "2"})
    assert r.status_code == 403
    assert len(app.state.engine.workshops()) == 1
    # A trainee's session cookie is no facilitator token.
    trainee = join(app, workshop_id, "Ada")
    assert trainee.get(f"/facilitator/w/{workshop_id}").status_code == 403
    ok = TestClient(app)
    assert ok.get(f"/facilitator?token={app.state.token}").status_code == 200
    # The token is remembered in a cookie for the next pages.
    assert ok.get(f"/facilitator/w/{workshop_id}").status_code == 200


def test_trainees_see_and_change_only_their_own_session(app, workshop_id):
    ada, ben = join(app, workshop_id, "Ada"), join(app, workshop_id, "Ben")
    assert ada.cookies[SESSION_COOKIE] != ben.cookies[SESSION_COOKIE]
    assert len(ada.cookies[SESSION_COOKIE]) >= 40  # unguessable
    page = ada.get("/play")
    assert page.status_code == 200 and "Ada" in page.text and "Ben" not in page.text
    assert ada.get("/api/session").json()["trainee"] == "Ada"
    assert ben.get("/api/session").json()["trainee"] == "Ben"

    r = ada.post("/play", data={"round": "1", **ROUND}, follow_redirects=False)
    assert r.status_code == 303
    assert rounds_in_db(app, ada) == [1] and rounds_in_db(app, ben) == []
    # Nothing in a request can point at another session: form fields are ignored,
    # and a forged or stale cookie is refused.
    r = ada.post("/play", data={"round": "2", "session": ben.cookies[SESSION_COOKIE], **ROUND},
                 follow_redirects=False)
    assert r.status_code == 303
    assert rounds_in_db(app, ben) == []
    forged = TestClient(app, cookies={SESSION_COOKIE: "guess" * 9})
    assert forged.get("/play").status_code == 403
    assert forged.post("/play", data={"round": "1", **ROUND}).status_code == 403
    assert forged.get("/debrief").status_code == 403
    assert forged.get("/api/session").status_code == 403
    assert forged.post("/api/round", json={"round": 1, "plan": {}}).status_code == 403
    assert TestClient(app).get("/resume/not-a-session").status_code == 403


def test_over_budget_and_malformed_submissions_are_refused_and_change_nothing(app, workshop_id):
    ada = join(app, workshop_id, "Ada")
    before = ada.get("/api/session").json()
    cases = [
        ({**ROUND, "share_service": "90", "share_complaints": "20"}, "budget is exceeded"),
        ({**ROUND, "share_service": "lots"}, "is not a number"),
        ({**ROUND, "share_points": "-5"}, "outside 0"),
        ({**ROUND, "promise": "150"}, "outside 0"),
        ({**ROUND, "list_liked": "80", "list_big": "40"}, "over-committed"),
        ({**ROUND, "complaint_order": "whoever"}, "Complaint handling"),
    ]
    for data, words in cases:
        r = ada.post("/play", data={"round": "1", **data})
        assert r.status_code == 400, data
        assert words in error_text(r.text), (words, error_text(r.text))
        assert "Nothing was changed" in error_text(r.text) or words == "Complaint handling"
    # The refused values are shown back, so the trainee can correct them.
    r = ada.post("/play", data={"round": "1", **ROUND, "share_service": "90",
                                "share_complaints": "20"})
    assert 'value="90"' in r.text
    # A wrong or missing round number is a conflict, not a new round.
    assert ada.post("/play", data={"round": "2", **ROUND}).status_code == 409
    assert ada.post("/play", data={**ROUND}).status_code == 409
    # The JSON interface refuses the same way.
    assert ada.post("/api/round", content=b"{not json",
                    headers={"content-type": "application/json"}).status_code == 400
    assert ada.post("/api/round", json={"plan": {}}).status_code == 400
    r = ada.post("/api/round", json={"round": 1, "plan": {"shares": {"service": 2}}})
    assert r.status_code == 400 and "service share" in r.json()["error"]
    r = ada.post("/api/round", json={"round": 1, "plan": {"shares": {
        "service": 0.7, "complaints": 0.2, "points": 0.2, "acquisition": 0}}})
    assert r.status_code == 400 and "budget is exceeded" in r.json()["error"]
    assert rounds_in_db(app, ada) == []
    assert ada.get("/api/session").json() == before


def test_join_needs_a_name_and_a_real_workshop(app, workshop_id):
    c = TestClient(app)
    r = c.post(f"/join/{workshop_id}", data={"name": "   "})
    assert r.status_code == 400 and "display name" in error_text(r.text)
    assert c.get("/join/nope").status_code == 404
    assert c.get("/play").status_code == 403


def test_a_whole_game_then_debrief_and_facilitator_exports(app, workshop_id):
    ada, ben = join(app, workshop_id, "Ada"), join(app, workshop_id, "Ben")
    board = ada.get("/play").text
    for section in ("segments", "last-year", "trends", "complaints", "surveys", "stories",
                    "story-liked", "story-loud", "story-big", "story-grower", "story-points"):
        assert f'id="{section}"' in board, section
    assert "<svg" in board and "<script" not in board
    assert ada.get("/debrief", follow_redirects=False).status_code == 303  # not yet

    liked = {**ROUND, "list_liked": "60", "complaint_order": "liked"}
    for rnd in (1, 2):
        assert ada.post("/play", data={"round": str(rnd), **liked},
                        follow_redirects=False).status_code == 303
        assert ben.post("/play", data={"round": str(rnd), **ROUND, "share_points": "20",
                                       "share_service": "40"},
                        follow_redirects=False).status_code == 303
    r = ada.get("/play", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/debrief"
    deb = ada.get("/debrief").text
    assert "Data-driven bot" in deb and "Bot with salience" in deb
    assert 'id="bias-affinity"' in deb
    assert "of service went to customers you were told you like" in deb
    assert "Remedies that work" in deb
    # The customers' stories are those of this play, round by round (sim.workshop.stories).
    game = app.state.engine.game(ada.cookies[SESSION_COOKIE])
    for story in game.stories():
        assert f'id="truth-{story.key}"' in deb
        for line in story.lines:
            assert escape(line, quote=False) in deb, line

    fac = TestClient(app)
    page = fac.get(f"/facilitator/w/{workshop_id}?token={app.state.token}").text
    assert "Ada" in page and "Ben" in page and "finished" in page
    assert 'id="class-profile"' in page

    html = fac.get(f"/facilitator/w/{workshop_id}/report.html")
    assert html.status_code == 200 and "attachment" in html.headers["content-disposition"]
    text = html.text
    assert "Ada" in text and "Ben" in text and "<svg" in text
    assert not re.search(r"<(script|link|img)\b", text)  # self-contained
    rows = list(csv.DictReader(io.StringIO(
        fac.get(f"/facilitator/w/{workshop_id}/report.csv").text)))
    trainees = {r["who"]: r for r in rows if r["kind"] == "trainee"}
    assert set(trainees) == {"Ada", "Ben"}
    assert trainees["Ada"]["top_bias"] == "affinity"
    assert trainees["Ben"]["top_bias"] == "points_lockin"
    assert sum(r["kind"] == "bot" for r in rows) == 9


def test_a_restarted_server_loses_nothing(db, app, workshop_id):
    ada = join(app, workshop_id, "Ada")
    ada.post("/play", data={"round": "1", **ROUND, "note": "first"})
    cookie = ada.cookies[SESSION_COOKIE]
    token = app.state.token

    again = create_app(db)  # a new process on the same database
    assert again.state.token == token
    c = TestClient(again, cookies={SESSION_COOKIE: cookie})
    state = c.get("/api/session").json()
    assert state["round"] == 2 and [h["round"] for h in state["history"]] == [1]
    assert state["history"][0]["plan"]["note"] == "first"
    assert c.post("/play", data={"round": "2", **ROUND}, follow_redirects=False).status_code == 303
    assert c.get("/debrief").status_code == 200


def test_resume_link_opens_the_same_session_elsewhere(app, workshop_id):
    ada = join(app, workshop_id, "Ada")
    other = TestClient(app)
    r = other.get(f"/resume/{ada.cookies[SESSION_COOKIE]}", follow_redirects=False)
    assert r.status_code == 303
    assert other.get("/api/session").json()["trainee"] == "Ada"


def test_engine_and_app_share_one_database(tmp_path):
    eng = WorkshopEngine(tmp_path / "x.sqlite")
    ws = eng.create_workshop("default", rounds=1)
    app = create_app(engine=eng)
    page = TestClient(app).get(f"/facilitator?token={app.state.token}").text
    assert ws.id in page


def test_a_class_of_thirty_plays_on_one_server(app, workshop_id):
    """Thirty trainees join, play every round and reach their debrief; nothing is mixed up."""
    clients = [join(app, workshop_id, f"Trainee {i:02d}") for i in range(30)]
    for rnd in (1, 2):
        for i, c in enumerate(clients):
            plan = {**ROUND, "share_points": str(i % 3 * 10), "share_service": str(60 - i % 3 * 10)}
            assert c.post("/play", data={"round": str(rnd), **plan},
                          follow_redirects=False).status_code == 303
    for c in clients:
        assert rounds_in_db(app, c) == [1, 2]
        assert c.get("/debrief").status_code == 200
    fac = TestClient(app)
    page = fac.get(f"/facilitator/w/{workshop_id}?token={app.state.token}").text
    assert all(f"Trainee {i:02d}" in page for i in range(30))
    rows = list(csv.DictReader(io.StringIO(
        fac.get(f"/facilitator/w/{workshop_id}/report.csv?token={app.state.token}").text)))
    assert sum(r["kind"] == "trainee" for r in rows) == 30


def test_the_csv_export_is_formula_safe(app, workshop_id):
    names = ['=HYPERLINK("http://evil.example","click")', "+1 555 0100", "-2+3", "@SUM(A1:A9)",
             "Ada"]
    for name in names:
        join(app, workshop_id, name)
    fac = TestClient(app)
    text = fac.get(f"/facilitator/w/{workshop_id}/report.csv?token={app.state.token}").text
    rows = list(csv.reader(io.StringIO(text)))
    who = [r[0] for r in rows[1:] if r[1] == "trainee"]
    assert who == ["'" + n for n in names[:4]] + ["Ada"]
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "@", "-"):
                float(cell)  # only numbers (a negative profit) may start so


def trainees_of(app, workshop_id):
    return [t.name for t in app.state.engine.store.trainees(workshop_id)]


def test_rejoining_from_the_same_browser_or_with_the_code_keeps_the_session(app, workshop_id):
    ada = join(app, workshop_id, "Ada")
    sid = ada.cookies[SESSION_COOKIE]
    ada.post("/play", data={"round": "1", **ROUND})
    page = ada.get(f"/join/{workshop_id}").text
    assert 'id="continue"' in page and "already in this workshop as <strong>Ada" in page
    r = ada.post(f"/join/{workshop_id}", data={"name": "Ada"}, follow_redirects=False)
    assert r.status_code == 303 and ada.cookies[SESSION_COOKIE] == sid
    assert trainees_of(app, workshop_id) == ["Ada"]

    code = app.state.engine.trainee(sid).code
    assert code in ada.get("/play").text
    phone = TestClient(app)
    r = phone.post(f"/join/{workshop_id}", data={"code": code.lower()}, follow_redirects=False)
    assert r.status_code == 303 and phone.cookies[SESSION_COOKIE] == sid
    assert phone.get("/api/session").json()["round"] == 2
    stranger = TestClient(app)
    r = stranger.post(f"/join/{workshop_id}", data={"code": "ZZZ-ZZZ"})
    assert r.status_code == 400 and "resume code" in error_text(r.text)
    r = stranger.post(f"/join/{workshop_id}", data={"name": "ada"})
    assert r.status_code == 400 and "resume code" in error_text(r.text)
    assert trainees_of(app, workshop_id) == ["Ada"]


def test_a_paced_class_through_the_facilitator_controls(app):
    fac = TestClient(app)
    fac.get(f"/facilitator?token={app.state.token}")  # the token is kept in a cookie
    r = fac.post(f"/facilitator?token={app.state.token}", follow_redirects=False,
                 data={"scenario": "default", "rounds": "2", "title": "Paced", "paced": "1",
                       "minutes": "10", "seed": "7"})
    assert r.status_code == 303
    wid = r.headers["location"].rsplit("/", 1)[-1]
    ws = app.state.engine.workshop(wid)
    assert (ws.paced, ws.round_seconds, ws.seed) == (True, 600, 7)
    pace = f"/facilitator/w/{wid}/pace"
    assert TestClient(app).post(pace, data={"action": "advance"}).status_code == 403

    ada = join(app, wid, "Ada")
    assert "not opened the first round" in ada.get("/play").text
    r = ada.post("/play", data={"round": "1", **ROUND, "share_service": "55"})
    assert r.status_code == 409 and "not opened the first round" in error_text(r.text)
    assert 'value="55"' in r.text  # what the trainee typed is kept
    page = fac.get(f"/facilitator/w/{wid}").text
    assert 'id="advance"' in page and "no round is open yet" in page

    assert fac.post(pace, data={"action": "advance"}, follow_redirects=False).status_code == 303
    board = ada.get("/play").text
    assert 'id="time-left"' in board and "10 min 00 s" in board
    assert ada.post("/play", data={"round": "1", **ROUND},
                    follow_redirects=False).status_code == 303
    r = ada.post("/play", data={"round": "2", **ROUND})
    assert r.status_code == 409 and "Round 2 is not open yet" in error_text(r.text)

    fac.post(pace, data={"action": "advance"})
    fac.post(pace, data={"action": "pause"})
    assert "Paused" in fac.get(f"/facilitator/w/{wid}").text
    r = ada.post("/play", data={"round": "2", **ROUND})
    assert r.status_code == 409 and "paused" in error_text(r.text)
    fac.post(pace, data={"action": "resume"})

    r = fac.post(pace, data={"action": "close"})
    assert r.status_code == 400 and "yes, close it" in error_text(r.text)
    fac.post(pace, data={"action": "close", "confirm": "1"})
    assert "Closed" in fac.get(f"/facilitator/w/{wid}").text
    r = ada.post("/play", data={"round": "2", **ROUND})
    assert r.status_code == 409 and "closed" in error_text(r.text)
    late = TestClient(app)
    assert late.get(f"/join/{wid}").status_code == 410
    assert late.post(f"/join/{wid}", data={"name": "Ben"}).status_code == 410
    assert trainees_of(app, wid) == ["Ada"]


def test_the_facilitator_renames_and_removes_on_the_roster_page(app, workshop_id):
    ada, dup = join(app, workshop_id, "Ada"), join(app, workshop_id, "Ada 2")
    ben = join(app, workshop_id, "Bne")
    fac = TestClient(app)
    roster = f"/facilitator/w/{workshop_id}/roster"
    assert fac.get(roster).status_code == 403
    page = fac.get(f"{roster}?token={app.state.token}").text
    eng = app.state.engine
    refs = {t.name: t.ref for t in eng.store.trainees(workshop_id)}
    assert eng.trainee(ada.cookies[SESSION_COOKIE]).code in page
    assert fac.post(roster, data={"action": "rename", "ref": refs["Bne"], "name": "Ben"},
                    follow_redirects=False).status_code == 303
    r = fac.post(roster, data={"action": "rename", "ref": refs["Bne"], "name": "Ada"})
    assert r.status_code == 400 and "already called" in error_text(r.text)
    fac.post(roster, data={"action": "merge", "ref": refs["Ada 2"], "into": refs["Ada"]})
    assert dup.get("/api/session").json()["trainee"] == "Ada"
    fac.post(roster, data={"action": "remove", "ref": refs["Bne"]})
    assert ben.get("/play").status_code == 403
    assert trainees_of(app, workshop_id) == ["Ada"]


# --------------------------------------------------------------------------- languages

#: English a Chinese page must not show (sentences, headings, code names, plurals).
ENGLISH = ("Your decision for this quarter", "Customers you hear about", "Split the budget",
           "Last year's report", "Complaint queue", "Latest survey answers", "Submit round",
           "Spends", "Last purchase", "weeks ago", "week ago", "of the base", "Service to customers",
           "Oldest first", "You are Ada", "big_accounts", "small_growers", "bargain_hunters",
           "common random numbers", "Segment", "Revenue", "Churn", "no data yet")
#: English a Chinese debrief must not show.
ENGLISH_DEBRIEF = ("Outcomes side by side", "Your bias profile", "Bot with", "Data-driven bot",
                   "of service went to", "What to do differently", "Remedies that work",
                   "the truth", "value at risk", "clv", "common random numbers")


def visible_text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def chinese(text: str) -> int:
    return len(re.findall(r"[\u4e00-\u9fff]", text))


def test_a_chinese_workshop_speaks_chinese_and_each_trainee_can_switch(app):
    ws = app.state.engine.create_workshop("default", rounds=1, seed=5, title="销售经理班",
                                          language="zh_CN")
    ada, ben = join(app, ws.id, "Ada"), join(app, ws.id, "Ben")
    page = ada.get("/play").text
    assert '<html lang="zh-CN">' in page and chinese(visible_text(page)) > 500
    assert "你本季度的决策" in page and "大客户" in page and "客户流失" not in ENGLISH
    shown = visible_text(page)
    assert not [s for s in ENGLISH if s in shown], [s for s in ENGLISH if s in shown]

    # Ada switches to English: the link brings her back to her page, and it is remembered.
    r = ada.get("/language/en?next=/play")
    assert r.status_code == 200 and "Your decision for this quarter" in r.text
    assert "Your decision for this quarter" in ada.get("/play").text
    assert 'lang="en"' in ada.get("/play").text
    # Ben, who did not switch, still reads Chinese, refusals included.
    assert "你本季度的决策" in ben.get("/play").text
    r = ben.post("/play", data={**ROUND, "round": "1", "share_acquisition": "50"})
    assert r.status_code == 400 and error_text(r.text).startswith("超出预算")
    r = ben.post("/play", data={**ROUND, "round": "1", "promise": "x"})
    assert r.status_code == 400 and "不是数字" in error_text(r.text) and "营销承诺" in error_text(r.text)
    # A link elsewhere than this site is not followed; an unknown language changes nothing.
    assert "你本季度的决策" in ben.get("/language/fr?next=/play").text
    r = TestClient(app).get("/language/en?next=//evil.example", follow_redirects=False)
    assert r.headers["location"] == "/"

    # Ben's debrief is Chinese through and through (bots, evidence, advice, the truth).
    ben.post("/play", data={**ROUND, "round": "1", "list_liked": "80", "complaint_order": "liked"})
    deb = ben.get("/debrief").text
    shown = visible_text(deb)
    assert "你的偏差画像" in deb and "数据驱动机器人" in deb and "的服务给了你喜欢的客户" in deb
    assert "应当如何改进" in deb and "有效的纠偏方法" in deb
    assert not [s for s in ENGLISH_DEBRIEF if s in shown], [s for s in ENGLISH_DEBRIEF if s in shown]

    # The facilitator's pages and exports follow the workshop's language.
    fac = TestClient(app)
    page = fac.get(f"/facilitator/w/{ws.id}?token={app.state.token}").text
    assert "课堂控制" in page and "全班偏差画像" in page
    report = fac.get(f"/facilitator/w/{ws.id}/report.html").text
    assert "工作坊报告" in report and '<html lang="zh-CN">' in report
    rows = list(csv.reader(io.StringIO(fac.get(f"/facilitator/w/{ws.id}/report.csv").text)))
    assert rows[0][:2] == ["名称", "类型"] and {r[1] for r in rows[1:]} == {"学员", "机器人"}


def test_the_facilitator_chooses_the_language_of_a_new_workshop(app):
    fac = TestClient(app)
    form = fac.get(f"/facilitator?token={app.state.token}").text
    assert 'name="language"' in form and "简体中文" in form
    r = fac.post("/facilitator", data={"scenario": "default", "rounds": "2", "title": "班",
                                       "language": "zh_CN"}, follow_redirects=False)
    wid = r.headers["location"].rsplit("/", 1)[-1]
    assert app.state.engine.workshop(wid).language == "zh_CN"
    assert "课堂控制" in fac.get(f"/facilitator/w/{wid}").text
    join_page = TestClient(app).get(f"/join/{wid}").text
    assert "你的显示名称" in join_page and "加入" in join_page
    r = fac.post(f"/facilitator/w/{wid}/pace", data={"action": "language", "language": "en"})
    assert r.status_code == 200 and "Class control" in r.text
    assert app.state.engine.workshop(wid).language == "en"
    r = fac.post("/facilitator", data={"scenario": "default", "rounds": "2", "language": "fr"})
    assert r.status_code == 400 and "language" in error_text(r.text)
