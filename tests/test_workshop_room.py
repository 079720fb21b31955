"""The workshop in a room: per-workshop tokens kept out of the address bar, the projector view,
the join code and QR code, the facilitator's view of a debrief, the links `serve` prints."""

from __future__ import annotations

import errno
import re
import socket

import pytest
from workshop_forms import ROUND, TestClient

from sim.workshop import charts
from sim.workshop import cli as serve_cli
from sim.workshop.app import TOKEN_COOKIE, create_app, workshop_cookie
from sim.workshop.engine import AccessError
from sim.workshop.store import CODE_LETTERS, Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")



@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """A one-round workshop with two trainees, Ada (finished) and Ben (joined, not played)."""
    app = create_app(tmp_path_factory.mktemp("room") / "w.sqlite")
    eng = app.state.engine
    ws = eng.create_workshop("default", rounds=1, seed=3, title="Room")
    ada, ben = TestClient(app), TestClient(app)
    assert ada.post(f"/join/{ws.id}", data={"name": "Ada Lovelace"}).status_code == 200
    assert ben.post(f"/join/{ws.id}", data={"name": "Ben Okri"}).status_code == 200
    r = ada.post("/play", data=ROUND)
    assert r.status_code == 200 and "/debrief" in str(r.url)
    return app, eng, ws


def test_each_workshop_has_its_own_token_and_it_leaves_the_address_bar(room):
    app, eng, ws = room
    other = eng.create_workshop("default", rounds=1, seed=4, title="Other")
    mine = eng.keys(ws.id)["token"]
    assert mine != eng.keys(other.id)["token"] and mine != app.state.token
    fac = TestClient(app)
    r = fac.get(f"/facilitator/w/{ws.id}?token={mine}", follow_redirects=False)
    # The token goes into an HttpOnly cookie and the page reloads at a clean address.
    assert r.status_code == 303 and r.headers["location"] == f"/facilitator/w/{ws.id}"
    cookie = r.headers["set-cookie"]
    assert workshop_cookie(ws.id) in cookie and "httponly" in cookie.lower()
    page = fac.get(f"/facilitator/w/{ws.id}")
    assert page.status_code == 200 and mine not in page.text
    assert fac.get(f"/facilitator/w/{ws.id}/report.csv").status_code == 200
    # A workshop's token opens that workshop only: not another, not the list of all.
    assert fac.get(f"/facilitator/w/{other.id}").status_code == 403
    assert fac.get("/facilitator").status_code == 403
    assert fac.get(f"/facilitator/w/{other.id}?token={mine}").status_code == 403
    # The master token opens every workshop, also from a clean address.
    boss = TestClient(app)
    r = boss.get(f"/facilitator?token={app.state.token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/facilitator"
    assert TOKEN_COOKIE in r.headers["set-cookie"]
    assert boss.get(f"/facilitator/w/{other.id}").status_code == 200
    # Other parameters survive the clean-up.
    r = boss.get(f"/facilitator/w/{ws.id}?x=1&token={app.state.token}", follow_redirects=False)
    assert r.headers["location"] == f"/facilitator/w/{ws.id}?x=1"


def test_the_projector_view_needs_no_token_and_shows_none(room):
    app, eng, ws = room
    keys = eng.keys(ws.id)
    fac = TestClient(app)
    page = fac.get(f"/facilitator/w/{ws.id}?token={keys['token']}").text
    link = re.search(r'id="projector" href="([^"]+)"', page).group(1)
    assert link == f"/projector/{keys['view_key']}"
    anon = TestClient(app)
    view = anon.get(link)
    assert view.status_code == 200
    text = view.text
    for secret in (keys["token"], app.state.token):
        assert secret not in text
    assert "token" not in text.lower()
    codes = [t.code for t in eng.store.trainees(ws.id)]
    assert codes and not any(c in text for c in codes)  # no resume codes
    assert "/debrief" not in text and "/facilitator" not in text
    assert 'http-equiv="refresh"' in text  # live
    assert "Ada Lovelace" in text and "Ben Okri" in text
    assert 'id="class-outcomes"' in text and 'id="class-profile"' in text
    assert ws.join_code in text and "<svg" in text
    assert anon.get("/projector/not-a-key").status_code == 404


def test_the_facilitator_hides_names_on_the_projector(room):
    app, eng, ws = room
    keys = eng.keys(ws.id)
    fac = TestClient(app)
    fac.get(f"/facilitator/w/{ws.id}?token={keys['token']}")
    assert fac.post(f"/facilitator/w/{ws.id}/pace", data={"action": "anonymous", "anonymous": "1"},
                    follow_redirects=False).status_code == 303
    assert TestClient(app).post(f"/facilitator/w/{ws.id}/pace",
                                data={"action": "anonymous"}).status_code == 403
    try:
        text = TestClient(app).get(f"/projector/{keys['view_key']}").text
        assert "Ada" not in text and "Ben" not in text
        assert "Trainee 1" in text and "Trainee 2" in text
        # The facilitator's own page still names everyone.
        assert "Ada Lovelace" in fac.get(f"/facilitator/w/{ws.id}").text
        zh = TestClient(app, cookies={"rl_lang": "zh_CN"}).get(f"/projector/{keys['view_key']}").text
        assert "学员 1" in zh and "Ada" not in zh
    finally:
        fac.post(f"/facilitator/w/{ws.id}/pace", data={"action": "anonymous"})
    assert "Ada Lovelace" in TestClient(app).get(f"/projector/{keys['view_key']}").text


def test_trainees_join_with_the_short_code(room):
    app, eng, ws = room
    code = ws.join_code
    assert len(code) == 6 and set(code) <= set(CODE_LETTERS)
    c = TestClient(app)
    assert 'id="join-code"' in c.get("/").text and 'id="join-code"' in c.get("/join").text
    for typed in (code, code.lower(), f" {code[:3]}-{code[3:]} "):
        r = c.post("/join", data={"code": typed}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/join/{ws.id}", typed
    assert c.get(f"/join?code={code}", follow_redirects=False).headers["location"] == f"/join/{ws.id}"
    r = c.post("/join", data={"code": "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"})
    assert r.status_code == 404 and "No workshop has the code" in r.text
    with pytest.raises(AccessError):
        eng.by_join_code("")
    # The facilitator page shows the code, the address to type it at and a QR code made here.
    page = TestClient(app).get(f"/facilitator/w/{ws.id}?token={eng.keys(ws.id)['token']}").text
    assert code in page and 'id="code-url"' in page
    qr = re.search(r'<div class="qr" id="qr">(<svg.*?</svg>)', page, re.S).group(1)
    assert 'class="qr"' in qr and "<path" in qr and "http" not in qr.split("<path")[1]


def test_join_codes_are_unique_and_old_databases_get_them(tmp_path):
    store = Store(tmp_path / "w.sqlite")
    codes = {store.add_workshop("t", "default", "{}", 1, 1).join_code for _ in range(40)}
    assert len(codes) == 40
    import sqlite3

    db = sqlite3.connect(tmp_path / "w.sqlite")
    db.execute("UPDATE workshops SET token=NULL, view_key=NULL, join_code=NULL")
    db.commit()
    db.close()
    again = Store(tmp_path / "w.sqlite").workshops()
    assert all(w.token and w.view_key and len(w.join_code) == 6 for w in again)
    assert len({w.join_code for w in again}) == 40


def test_the_facilitator_opens_a_trainees_debrief(room):
    app, eng, ws = room
    fac = TestClient(app)
    page = fac.get(f"/facilitator/w/{ws.id}?token={eng.keys(ws.id)['token']}").text
    ada = next(p for p in eng.progress(ws.id) if p["name"] == "Ada Lovelace")
    ben = next(p for p in eng.progress(ws.id) if p["name"] == "Ben Okri")
    link = f"/facilitator/w/{ws.id}/debrief/{ada['ref']}"
    assert f'href="{link}"' in page
    debrief = fac.get(link)
    assert debrief.status_code == 200
    assert "Debrief for Ada Lovelace" in debrief.text and 'id="facilitator-view"' in debrief.text
    assert 'id="bias-affinity"' in debrief.text
    # Not finished: refused in plain words; not on the roster: 404; no token: 403.
    r = fac.get(f"/facilitator/w/{ws.id}/debrief/{ben['ref']}")
    assert r.status_code == 409 and "after the last round" in r.text
    assert fac.get(f"/facilitator/w/{ws.id}/debrief/99999").status_code == 404
    assert TestClient(app).get(link).status_code == 403


def test_the_complaint_queue_says_when_each_complaint_was_filed(room):
    app, eng, ws = room
    sid = eng.join(ws.id, "Queue reader")
    eng.submit(sid, 1, {"shares": {"service": 0.5, "complaints": 0.0, "points": 0.0,
                                   "acquisition": 0.0}})
    # A quarter without complaint handling: complaints have waited for weeks.
    g = eng.game(sid)
    queue = g.dashboard()["queue"]
    assert queue and queue[0]["waiting"] > 1
    assert [q["waiting"] for q in queue] == sorted((q["waiting"] for q in queue), reverse=True)
    assert queue[0]["filed"] == f"{queue[0]['waiting'] + 1} weeks ago"


def test_charts_start_at_zero_unless_marked_broken():
    svg = charts.line_chart({"a": [100.0, 98.0, 99.0]}, "A dip")
    labels = re.findall(r'font-size="10" text-anchor="end">([^<]+)</text>', svg)[:3]
    assert labels[0] == "0" and float(labels[-1]) >= 100
    ys = [float(y) for y in re.search(r'points="([^"]+)"', svg).group(1).replace(",", " ").split()[1::2]]
    assert max(ys) - min(ys) < 5  # a 2 % dip is a small wiggle, not a crash
    csat = charts.line_chart({"CSAT": [3.1, 3.0]}, "CSAT", floor=1.0)
    assert re.findall(r'text-anchor="end">([^<]+)</text>', csat)[0] == "1.0"
    broken = charts.line_chart({"a": [100.0, 98.0]}, "Cut", floor=None)
    assert 'stroke="#555" stroke-width="1.5"' in broken  # the zigzag on the axis
    assert [charts.nice_ceiling(x) for x in (0.7, 2994, 3000, 41)] == [0.8, 3000, 3000, 50]


def test_serve_refuses_a_taken_port_before_printing_links(tmp_path):
    from typer.testing import CliRunner

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(serve_cli.app, ["serve", "--port", str(port), "--db",
                                                 str(tmp_path / "w.sqlite")])
    assert res.exit_code == 2
    assert f"port {port} is in use: choose another with --port" in res.output
    assert "http" not in res.output and "Errno" not in res.output and "Traceback" not in res.output
    assert not (tmp_path / "w.sqlite").exists()  # nothing was started


def test_serve_on_every_interface_prints_reachable_addresses(monkeypatch):
    assert serve_cli.reachable_addresses("127.0.0.1") == ["localhost"]
    assert serve_cli.reachable_addresses("10.1.2.3") == ["10.1.2.3"]
    found = serve_cli.reachable_addresses("0.0.0.0")
    assert found and not any(a.startswith("127.") or a in ("localhost", "0.0.0.0") for a in found)
    assert serve_cli.url_host("fe80::1") == "[fe80::1]"

    # Offline with no route and no interface address: the computer's name.
    class NoRoute(socket.socket):
        def connect(self, address):
            raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(serve_cli.socket, "socket", NoRoute)
    monkeypatch.setattr(serve_cli, "interface_addresses", lambda: ["127.0.0.1"])
    monkeypatch.setattr(serve_cli.socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.1.1", 0))])
    monkeypatch.setattr(serve_cli.socket, "gethostname", lambda: "trainer-laptop")
    assert serve_cli.reachable_addresses("0.0.0.0") == ["trainer-laptop"]
    # An interface address is found even without a route out.
    monkeypatch.setattr(serve_cli, "interface_addresses", lambda: ["127.0.0.1", "192.168.4.20"])
    assert serve_cli.reachable_addresses("0.0.0.0") == ["192.168.4.20"]
