"""The briefing, the practice round that never counts, the glossary, and the exports that print
and travel as one self-contained HTML file (issue 17)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from workshop_forms import ROUND, TestClient

from sim.workshop.app import LANG_COOKIE, SESSION_COOKIE, create_app
from sim.workshop.engine import RoundConflict, WorkshopClosed, practice_seed
from sim.workshop.glossary import GLOSSARY

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PRACTICE = {**ROUND, "share_service": "10", "share_complaints": "0", "share_points": "70", "list_liked": "0",
            "complaint_order": "oldest", "promise": "90", "range_update": "0"}


@pytest.fixture(scope="module")
def paced(tmp_path_factory):
    """A paced one-round workshop (no round open yet): Ada practises, Ben does not."""
    app = create_app(tmp_path_factory.mktemp("practice") / "w.sqlite")
    eng = app.state.engine
    ws = eng.create_workshop("default", rounds=1, seed=11, title="Practice", paced=True)
    return app, eng, ws


def test_a_new_trainee_reads_the_briefing_and_practises_while_no_round_is_open(paced):
    app, eng, ws = paced
    ada = TestClient(app)
    r = ada.post(f"/join/{ws.id}", data={"name": "Ada"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/briefing"
    page = ada.get("/briefing").text
    for words in ("Before you start: the briefing", "You play 1 round; each round is one quarter",
                  "Service to customers", "Complaint handling", "Loyalty points &amp; contracts",
                  "Winning new customers", "What you will see", "How long",
                  "The facilitator opens each round"):
        assert words in page, words
    assert 'id="practice-link" href="/practice"' in page and 'href="/glossary"' in page
    assert 'id="start-game" href="/play"' in page

    page = ada.get("/practice").text
    assert 'id="practice-title"' in page and 'action="/practice"' in page
    assert "another market" in page and "Submit the practice round" in page
    assert "resume-code" not in page  # nothing of the real game on it
    r = ada.post("/practice", data=PRACTICE)
    assert r.status_code == 200 and 'id="practice-result"' in r.text
    assert "Practice quarter: revenue" in r.text
    # Once: a second practice is refused and nothing is stored twice.
    assert ada.post("/practice", data=PRACTICE).status_code == 409
    assert 'id="practice-played"' in ada.get("/briefing").text


def test_the_practice_round_is_another_market_and_never_counts(paced):
    app, eng, ws = paced
    ada = TestClient(app)
    sid = eng.join(ws.id, "Cy")
    ada.cookies.set(SESSION_COOKIE, sid)
    ben = eng.join(ws.id, "Dee")
    # Another market: another seed, other named customers' ids or figures.
    assert practice_seed(ws.seed) != ws.seed and practice_seed(ws.seed) == practice_seed(ws.seed)
    assert eng.setup(ws.id, practice=True).seed == practice_seed(ws.seed)
    assert eng.setup(ws.id, practice=True).rounds == 1
    eng.submit_practice(sid, {"shares": {"service": 0.1, "complaints": 0.0, "points": 0.9,
                                         "acquisition": 0.0}, "promise": 1.0, "range_update": 0.0})
    # Not a round: no progress, no profile, not in the class report.
    assert eng.store.rounds(sid) == []
    assert {p["name"]: p["rounds_done"] for p in eng.progress(ws.id)}["Cy"] == 0
    report = {t["name"]: t for t in eng.class_report(ws.id, with_bots=False)["trainees"]}
    assert report["Cy"]["rounds_done"] == 0 and set(report["Cy"]["profile"].values()) == {0.0}
    assert all(s.score == 0.0 for s in eng.profile(sid))
    # The game that counts is untouched: after the practice, the same plan gives what it gives
    # to a trainee who never practised, and the debrief lists the counted round only.
    eng.advance(ws.id)
    plan = {"shares": {"service": 0.6, "complaints": 0.2, "points": 0.0, "acquisition": 0.2},
            "lists": {"liked": 0.6}, "complaint_order": "liked"}
    assert eng.submit(sid, 1, plan) == eng.submit(ben, 1, plan)
    b = eng.debrief(sid)
    assert [r["round"] for r in b["rounds"]] == [1]
    assert b["profile"] == eng.debrief(ben)["profile"]
    report = {t["name"]: t for t in eng.class_report(ws.id, with_bots=False)["trainees"]}
    assert report["Cy"]["profile"] == report["Dee"]["profile"]
    # After round 1 the practice is no longer offered.
    with pytest.raises(RoundConflict):
        eng.submit_practice(ben, {})
    assert eng.practice(ben)["available"] is False
    # The engine rebuilt from the database (a restart) shows the same practice.
    eng.forget()
    assert eng.practice(sid)["played"] == eng.store.practice(sid)[1]


def test_no_practice_in_a_closed_workshop(tmp_path):
    eng = create_app(tmp_path / "w.sqlite").state.engine
    ws = eng.create_workshop("default", rounds=1, seed=5)
    sid = eng.join(ws.id, "Ada")
    eng.close(ws.id)
    with pytest.raises(WorkshopClosed):
        eng.submit_practice(sid, {})
    assert eng.practice(sid)["available"] is False and eng.store.practice(sid) is None


def test_the_glossary_in_both_languages_and_linked_from_the_pages(paced):
    app, eng, ws = paced
    c = TestClient(app)
    page = c.get("/glossary").text
    assert page.count("<dt") == len(GLOSSARY) >= 15
    for term in ("NPS (Net Promoter Score)", "CSAT", "Churn, churn rate", "CLV", "Retention",
                 "Loyalty", "Lock-in"):
        assert term in page, term
    c.cookies.set(LANG_COOKIE, "zh_CN")
    zh = c.get("/glossary").text
    for term in ("术语表", "净推荐值 (NPS)", "客户满意度 (CSAT)", "客户终身价值 (CLV)", "流失率",
                 "客户留存", "锁定"):
        assert term in zh, term
    sid = eng.join(ws.id, "Eve")
    t = TestClient(app)
    t.cookies.set(SESSION_COOKIE, sid)
    assert 'id="glossary-link" href="/glossary"' in t.get("/play").text
    t.post("/play", data=ROUND)
    assert 'id="glossary-link" href="/glossary"' in t.get("/debrief").text


class Links(HTMLParser):
    """Every src/href/action of a page and every tag, to tell whether it reaches anything."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset", "data")]


def external(html: str) -> list[str]:
    """What a page would fetch or open: links to http(s) or the server, CSS url()s and imports."""
    p = Links()
    p.feed(html)
    out = [r for r in p.refs if not r.startswith("#")]
    out += re.findall(r"url\(|@import", html)
    if "script" in p.tags or "link" in p.tags or "iframe" in p.tags:
        out.append("<script>/<link>/<iframe>")
    return out


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_debrief_and_class_report_export_as_one_self_contained_file(tmp_path, lang):
    app = create_app(tmp_path / "w.sqlite")
    eng = app.state.engine
    ws = eng.create_workshop("default", rounds=1, seed=3, title="Export", language=lang)
    ada = TestClient(app)
    ada.post(f"/join/{ws.id}", data={"name": "Ada"})
    ada.post("/play", data=ROUND)
    page = ada.get("/debrief").text
    assert 'id="print"' in page and 'id="download" href="/debrief.html"' in page
    r = ada.get("/debrief.html")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    fac = TestClient(app)
    token = eng.keys(ws.id)["token"]
    assert fac.get(f"/facilitator/w/{ws.id}?token={token}").status_code == 200  # keeps it
    rep = fac.get(f"/facilitator/w/{ws.id}/report.html")
    one = fac.get(f"/facilitator/w/{ws.id}/debrief/1/export.html")
    assert rep.status_code == 200 and one.status_code == 200
    assert one.headers["content-disposition"].startswith("attachment")
    for html in (r.text, rep.text, one.text):
        assert external(html) == []
        assert "@media print" in html and "<svg" in html
        assert 'id="glossary"' in html  # the glossary travels with it (no link to it)
        assert 'id="languages"' not in html and 'id="print"' not in html
        assert html.count('<section class="print-section"') >= 3  # a printed page each
    assert "Ada" in r.text and "Ada" in rep.text
    assert one.text == r.text  # the facilitator downloads what the trainee downloads
    words = {"en": ("Debrief for Ada", "Glossary"), "zh_CN": ("Ada 的复盘", "术语表")}[lang]
    for w in words:
        assert w in r.text, w
    # The pages themselves reach only the server (the exports reach nothing).
    assert all(not x.startswith("http") for x in external(page))
