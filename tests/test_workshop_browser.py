"""The workshop in real Chromium: a facilitator, two trainees, a server restart, the exports.

The server is the real command (`python -m sim.workshop.cli serve`) on
127.0.0.1, a free port and a temporary database. Screenshots of every page go
to `test-artifacts/` (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "workshop"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright launches Debian's chromium (never `playwright install`)."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    return {"executable_path": exe, "args": CHROMIUM_ARGS, "headless": True}


def settled_goto(page, url: str, tries: int = 3) -> None:
    """Go to `url` on a page that refreshes itself (the facilitator page, every 10 s).

    A refresh that fires as the navigation starts aborts it (net::ERR_ABORTED, seen once in a
    full run); the navigation is then made again.
    """
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(tries):
        try:
            page.goto(url)
            return
        except PlaywrightError as e:
            if "ERR_ABORTED" not in str(e) or attempt == tries - 1:
                raise


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The workshop server as a subprocess that can be killed and started again."""

    def __init__(self, db: Path, port: int, extra: tuple[str, ...] = ()) -> None:
        self.db, self.port, self.extra = db, port, extra
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.workshop.cli", "serve", "--scenario", "default",
             "--rounds", "2", "--port", str(self.port), "--host", "127.0.0.1",
             "--db", str(self.db), "--public-url", self.base, *self.extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        assert self.proc.stdout is not None
        while not any(line.startswith("Join link") for line in self.lines):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited:\n" + "".join(self.lines))
            self.lines.append(line)
        for _ in range(300):  # until it answers
            try:
                urllib.request.urlopen(self.base + "/", timeout=2)
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise RuntimeError("server did not answer")

    def link(self, label: str) -> str:
        for line in self.lines:
            if line.startswith(label):
                return re.search(r"http://\S+", line).group(0)
        raise KeyError(label)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # no clean shutdown: a crash
            self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    srv = Server(tmp_path_factory.mktemp("workshop") / "workshop.sqlite", free_port())
    srv.start()
    yield srv
    srv.kill()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def play_round(page, base: str, round_no: int, values: dict[str, str], order: str) -> None:
    page.goto(base + "/play")
    assert page.locator("#round-number").inner_text() == str(round_no)
    for field, value in values.items():
        page.fill(f"#{field}", value)
    page.check(f"#order_{order}")
    page.click("#submit")
    page.wait_for_load_state()


ADA = {"share_service": "60", "share_complaints": "20", "share_points": "0",
       "share_acquisition": "20", "list_liked": "60", "named_liked": "5", "promise": "50",
       "range_update": "100", "note": "I look after the people I know."}
BEN = {"share_service": "55", "share_complaints": "25", "share_points": "0",
       "share_acquisition": "20", "list_slowing": "50", "named_silent": "5", "promise": "50",
       "range_update": "100", "note": "Customers who stopped buying first."}


def test_a_class_plays_through_a_restart(server, browser):
    # The facilitator starts a workshop from the facilitator link.
    fac_ctx = browser.new_context()
    fac = fac_ctx.new_page()
    fac.goto(server.link("Facilitator link"))
    assert "token" not in fac.url  # kept in a cookie, out of the address bar
    shot(fac, "01-facilitator-workshop-from-cli")
    fac.goto(server.link("All workshops"))
    assert fac.url == server.base + "/facilitator"
    fac.select_option("#scenario", "default")
    fac.fill("#rounds", "2")
    fac.fill("#title", "Browser class")
    fac.click("#start")
    fac.wait_for_load_state()
    join_url = fac.locator("#join-url").inner_text()
    assert "/join/" in join_url
    shot(fac, "02-facilitator-new-workshop")

    # Without the token the facilitator pages are refused.
    anon = browser.new_context().new_page()
    resp = anon.goto(fac.url.split("?")[0])
    assert resp.status == 403
    shot(anon, "03-facilitator-refused-without-token")

    # Two trainees join in separate browser contexts.
    ada_ctx, ben_ctx = browser.new_context(), browser.new_context()
    ada, ben = ada_ctx.new_page(), ben_ctx.new_page()
    for page, name in ((ada, "Ada"), (ben, "Ben")):
        page.goto(join_url)
        shot(page, f"04-join-{name}")
        page.fill("#name", name)
        page.click("#join-button")
        page.wait_for_load_state()
        assert page.locator("#briefing-title").is_visible()  # a new trainee reads the briefing
        page.click("#start-game")
        page.wait_for_load_state()
        assert page.locator("#round-number").inner_text() == "1"
        assert name in page.content()
    shot(ada, "05-dashboard-round1-Ada")
    assert "Ben" not in ada.content()

    # Over budget: refused with a plain message, nothing changes.
    ada.fill("#share_service", "90")
    ada.fill("#share_complaints", "30")
    ada.click("#submit")
    ada.wait_for_load_state()
    assert "budget is exceeded" in ada.locator("#error").inner_text()
    assert ada.locator("#round-number").inner_text() == "1"
    shot(ada, "06-over-budget-refused-Ada")

    play_round(ada, server.base, 1, ADA, "liked")
    play_round(ben, server.base, 1, BEN, "oldest")
    assert ada.locator("#round-number").inner_text() == "2"
    assert ben.locator("#round-number").inner_text() == "2"

    # The server crashes between two rounds and comes back on the same database.
    # (The facilitator's page refreshes itself: while the server is down it may land
    # on the browser's error page, so its address is kept here.)
    fac_url = fac.url
    server.kill()
    server.start()
    for page, name in ((ada, "Ada"), (ben, "Ben")):
        page.goto(server.base + "/play")
        assert page.locator("#round-number").inner_text() == "2"
        assert page.locator("#history tr").count() == 2  # header + round 1
        shot(page, f"07-after-restart-round2-{name}")
    play_round(ada, server.base, 2, ADA, "liked")
    play_round(ben, server.base, 2, BEN, "oldest")

    # Both see their debriefs.
    for page, name in ((ada, "Ada"), (ben, "Ben")):
        page.goto(server.base + "/debrief")
        assert page.locator("#debrief-title").inner_text() == f"Debrief for {name}"
        assert page.locator("#outcomes tr").count() == 11  # header, you, 9 bots
        assert page.locator("#profile svg").count() == 1
        shot(page, f"08-debrief-{name}")
    assert "customers you were told you like" in ada.locator("#bias-affinity").inner_text()
    assert "resembles" in ada.locator("#bias-affinity").inner_text() or \
        "strong" in ada.locator("#bias-affinity").inner_text()

    # The facilitator sees both and exports the report.
    fac.goto(fac_url)
    progress = fac.locator("#progress").inner_text()
    assert "Ada" in progress and "Ben" in progress
    assert progress.count("finished") == 2
    assert fac.locator("#class-profile svg").count() == 1
    shot(fac, "09-facilitator-class")
    with fac.expect_download() as dl:
        fac.click("#export-html")
    report = ARTIFACTS / "report.html"
    dl.value.save_as(report)
    text = report.read_text()
    assert "Ada" in text and "Ben" in text and "<script" not in text
    with fac.expect_download() as dl:
        fac.click("#export-csv")
    table = ARTIFACTS / "report.csv"
    dl.value.save_as(table)
    assert "Ada" in table.read_text() and "Ben" in table.read_text()
    report_page = fac_ctx.new_page()
    report_page.goto(report.as_uri())
    shot(report_page, "10-exported-report")
    report_page.emulate_media(media="print")  # the class report prints as the debrief does
    printed = report_page.evaluate(PRINT_CHECK)
    assert (printed["color"], printed["background"]) == ("rgb(0, 0, 0)", "rgb(255, 255, 255)"), printed
    assert printed["breaks"][0] != "page" and set(printed["breaks"][1:]) == {"page"}, printed
    assert len(printed["breaks"]) >= 3 and set(printed["whole"]) == {"avoid"}, printed
    report_page.pdf(path=str(ARTIFACTS / "10-exported-report-printed.pdf"))
    for ctx in (fac_ctx, ada_ctx, ben_ctx):
        ctx.close()


def test_a_chinese_workshop_in_chromium(browser, tmp_path):
    """A workshop served with --language zh_CN: the dashboard shows Chinese; a trainee can switch."""
    srv = Server(tmp_path / "zh.sqlite", free_port(), extra=("--language", "zh_CN"))
    srv.start()
    try:
        ctx = browser.new_context(locale="zh-CN")
        page = ctx.new_page()
        page.goto(srv.link("Join link"))
        assert page.get_by_text("你的显示名称").is_visible()
        page.fill("#name", "李雷")
        page.click("#join-button")
        page.wait_for_load_state()
        assert page.locator("#briefing-title").inner_text() == "开始之前：游戏简介"
        page.click("#start-game")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        title = page.locator("#round-title")
        assert title.is_visible() and title.inner_text().startswith("第 1 轮")
        for words in ("你本季度的决策", "你听说过的客户", "投诉队列"):
            assert page.get_by_text(words).first.is_visible(), words
        assert page.locator("#segments").get_by_text("大客户", exact=True).is_visible()
        shot_path = tmp_path / "dashboard-zh_CN.png"
        page.screenshot(path=str(shot_path), full_page=True)
        assert shot_path.stat().st_size > 20_000
        page.click("#lang-en")
        page.wait_for_load_state()
        assert page.get_by_text("Your decision for this quarter").is_visible()
        page.goto(srv.base + "/play")  # remembered for this trainee
        assert page.locator("#round-title").inner_text().startswith("Round 1")
        ctx.close()
    finally:
        srv.kill()


#: The page no wider than the viewport; every th/td of the complaint queue (on the dashboard)
#: on screen with a width, inside its scroll container (which is inside the viewport and its
#: card); at 1280 px and wider, visible without scrolling. Every number cell on one line.
#: Returns the problems found.
LAYOUT_CHECK = """(wide) => {
  const problems = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push('page ' + document.documentElement.scrollWidth + ' px wide in ' + vw);
  const cells = document.querySelectorAll('#complaints th, #complaints td');
  if (document.querySelector('#complaints') && cells.length < 10)
    problems.push('only ' + cells.length + ' queue cells');
  for (const c of cells) {
    const r = c.getBoundingClientRect();
    const box = c.closest('.scroll');
    const b = box.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) problems.push('hidden: ' + c.innerText);
    if (b.left < -1 || b.right > vw + 1) problems.push('scroll box off screen');
    const card = c.closest('.card').getBoundingClientRect();
    if (b.left < card.left - 1 || b.right > card.right + 1) problems.push('scroll box outside its card');
    const right = r.right - b.left + box.scrollLeft;
    if (right > box.scrollWidth + 1) problems.push('cut off: ' + c.innerText);
    if (wide && r.right > b.right + 1) problems.push('needs scrolling at ' + vw + ': ' + c.innerText);
  }
  for (const c of document.querySelectorAll('td')) {
    const text = c.innerText.trim();
    if (!/\\d/.test(text) || c.classList.contains('text')) continue;
    const range = document.createRange();
    range.selectNodeContents(c);
    const tops = new Set([...range.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
    if (tops.size > 1) problems.push('wrapped: ' + text);
  }
  return problems;
}"""


#: What print media does to a debrief: the display of its navigation and buttons, the body's
#: colours, each section's break before it, and whether tables and charts may be split.
PRINT_CHECK = """() => {
  const style = (e) => getComputedStyle(e);
  const hidden = ['header', '#debrief-tools', '#print', '#download'].map(
    s => document.querySelector(s) ? style(document.querySelector(s)).display : 'missing');
  const body = style(document.body);
  const breaks = [...document.querySelectorAll('section.print-section')].map(s => style(s).breakBefore);
  const whole = [...document.querySelectorAll('table, svg.chart, .card')].map(e => style(e).breakInside);
  return {hidden, color: body.color, background: body.backgroundColor, breaks, whole: [...new Set(whole)]};
}"""


def test_layout_projector_and_a_debrief_for_the_facilitator(browser, tmp_path):
    """390, 1280 and 1920 px in English and Chinese; the projector shows no token; the
    facilitator opens a trainee's debrief."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    srv = Server(tmp_path / "room.sqlite", free_port(), extra=("--rounds", "1"))
    srv.start()
    try:
        fac_link, master = srv.link("Facilitator link"), srv.link("All workshops")
        secrets_ = {fac_link.split("token=")[1], master.split("token=")[1]}
        fac_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        fac = fac_ctx.new_page()
        fac.goto(fac_link)
        assert "token" not in fac.url
        code = fac.locator("#join-code-value").inner_text().strip()
        assert len(code) == 6 and fac.locator("#qr svg").count() == 1

        # A trainee types the code at /join, then joins.
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(srv.base + "/join")
        page.fill("#code", code.lower())
        page.click("#code-button")
        page.wait_for_load_state()
        page.fill("#name", "Ada")
        page.click("#join-button")
        page.wait_for_load_state()
        assert page.url.endswith("/briefing")
        for lang in ("en", "zh_CN"):  # the briefing, the practice round and the glossary fit too
            page.goto(f"{srv.base}/language/{lang}?next=/briefing")
            for path in ("/briefing", "/practice", "/glossary"):
                page.goto(srv.base + path)
                for width in (390, 1920):
                    page.set_viewport_size({"width": width, "height": 900})
                    problems = page.evaluate(LAYOUT_CHECK, width >= 1280)
                    page.screenshot(path=str(ARTIFACTS / f"25{path.replace('/', '-')}-{lang}-{width}.png"),
                                    full_page=True)
                    assert problems == [], (path, lang, width, problems)
        for lang in ("en", "zh_CN"):
            page.goto(f"{srv.base}/language/{lang}?next=/play")
            for width in (390, 1280, 1920):
                page.set_viewport_size({"width": width, "height": 900})
                problems = page.evaluate(LAYOUT_CHECK, width >= 1280)
                page.screenshot(path=str(ARTIFACTS / f"20-dashboard-{lang}-{width}.png"), full_page=True)
                assert problems == [], (lang, width, problems)
        page.goto(f"{srv.base}/language/en?next=/play")
        page.click("#submit")
        page.wait_for_load_state()
        assert page.locator("#debrief-title").inner_text() == "Debrief for Ada"

        for width in (390, 1920):  # the debrief fits too
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate(LAYOUT_CHECK, width >= 1280) == [], width

        # Printed: no navigation or buttons, black on white, a page per section, charts and
        # tables whole.
        page.emulate_media(media="print")
        printed = page.evaluate(PRINT_CHECK)
        assert printed["hidden"] == ["none"] * 4, printed
        assert (printed["color"], printed["background"]) == ("rgb(0, 0, 0)", "rgb(255, 255, 255)")
        assert printed["breaks"][0] != "page" and set(printed["breaks"][1:]) == {"page"}, printed
        assert len(printed["breaks"]) >= 3 and set(printed["whole"]) == {"avoid"}, printed
        page.pdf(path=str(ARTIFACTS / "26-debrief-printed.pdf"))
        page.emulate_media(media="screen")

        # Downloaded: one file that opens with no request but itself.
        with page.expect_download() as dl:
            page.click("#download")
        saved = ARTIFACTS / "26-debrief-download.html"
        dl.value.save_as(saved)
        offline = browser.new_context()
        requests: list[str] = []
        offline.on("request", lambda r: requests.append(r.url))
        copy = offline.new_page()
        copy.goto(saved.as_uri())
        assert copy.locator("#debrief-title").inner_text() == "Debrief for Ada"
        assert copy.locator("svg").count() >= 5 and copy.locator("#glossary dt").count() >= 15
        assert requests == [saved.as_uri()]
        offline.close()

        # The second game (2 rounds) fits too, while played and once played.
        page.goto(srv.base + "/second")
        for width in (390, 1920):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate(LAYOUT_CHECK, width >= 1280) == [], width
        for _ in range(2):
            page.click("#submit")
            page.wait_for_load_state()
        assert page.locator("#before-after").is_visible()
        for width in (390, 1920):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate(LAYOUT_CHECK, width >= 1280) == [], width
        shot(page, "27-second-game-done-1920")

        # The facilitator opens Ada's debrief from the facilitator page.
        settled_goto(fac, fac.url)
        settled_goto(fac, srv.base + fac.locator("#progress a[id^=debrief-]").first.get_attribute("href"))
        assert fac.locator("#debrief-title").inner_text() == "Debrief for Ada"
        assert fac.locator("#facilitator-view").is_visible()
        shot(fac, "21-facilitator-reads-a-debrief")

        # The projector view, in a browser with no cookie: no token anywhere.
        fac.go_back()
        href = fac.locator("#projector").get_attribute("href")
        proj = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        proj.goto(srv.base + href)
        html = proj.content()
        assert not any(t in html or t in proj.url for t in secrets_)
        assert "Ada" in proj.locator("#class-outcomes").inner_text()
        assert "Ada" in proj.locator("#trainee-learning").inner_text()
        assert proj.locator("#join-code-value").inner_text().strip() == code
        shot(proj, "22-projector-1920")
        assert proj.evaluate(LAYOUT_CHECK, True) == []
        proj.set_viewport_size({"width": 390, "height": 800})
        assert proj.evaluate(LAYOUT_CHECK, False) == []
        shot(proj, "23-projector-390")
        fac.set_viewport_size({"width": 390, "height": 800})
        assert fac.evaluate(LAYOUT_CHECK, False) == []
        shot(fac, "24-facilitator-390")
        for c in (fac_ctx, ctx, proj.context):
            c.close()
    finally:
        srv.kill()


#: Seconds of each round's countdown in the paced class (typed as minutes on the facilitator page).
ROUND_SECONDS = 6


def test_a_paced_class_with_a_countdown(browser, tmp_path):
    """The facilitator starts a paced workshop with a round timer; three trainees join, one
    rejoins from the same browser and keeps their session; the facilitator opens the rounds;
    the countdown submits the standing plan of whoever has not submitted; two trainees play the
    second game and the facilitator sees before and after, in English and Chinese; the
    projector view shows no token."""
    started = time.monotonic()
    srv = Server(tmp_path / "paced.sqlite", free_port(), extra=("--rounds", "1"))
    srv.start()
    contexts = []

    def context(**kw):
        contexts.append(browser.new_context(**kw))
        return contexts[-1]

    try:
        master = srv.link("All workshops")
        fac = context(viewport={"width": 1280, "height": 900}).new_page()
        fac.goto(master)
        fac.fill("#rounds", "2")
        fac.fill("#second_rounds", "1")
        fac.fill("#title", "Paced class")
        fac.check("#paced")
        fac.fill("#minutes", f"{ROUND_SECONDS / 60:.4f}")
        fac.click("#start")
        fac.wait_for_load_state()
        fac_url = fac.url
        assert "token" not in fac_url and "/facilitator/w/" in fac_url
        assert "no round is open yet" in fac.locator("#pace").inner_text()
        join_url = fac.locator("#join-url").inner_text().strip()

        # Three trainees join; each reads the briefing, then waits for round 1.
        pages = {}
        for name in ("Ada", "Ben", "Cy"):
            page = context().new_page()
            page.goto(join_url)
            page.fill("#name", name)
            page.click("#join-button")
            page.wait_for_load_state()
            assert "The facilitator opens each round" in page.locator("#briefing-time").inner_text()
            page.click("#start-game")
            page.wait_for_load_state()
            assert "not opened the first round" in page.locator("#pace").inner_text()
            pages[name] = page
        cy = pages["Cy"]
        code = cy.locator("#resume-code").inner_text()
        # Cy opens the join link again in the same browser: the same session, no second Cy.
        cy.goto(join_url)
        assert "already in this workshop as Cy" in cy.locator("#already").inner_text()
        assert cy.locator("#join").count() == 0
        cy.click("#continue")
        cy.wait_for_load_state()
        assert cy.locator("#resume-code").inner_text() == code
        fac.goto(fac_url)
        names = [fac.locator("#progress tr").nth(i).locator("td").first.inner_text()
                 for i in range(1, fac.locator("#progress tr").count())]
        assert names == ["Ada", "Ben", "Cy"]

        # Round 1 with its countdown: Ada and Ben submit, Cy does not.
        fac.click("#advance")
        fac.wait_for_load_state()
        opened = time.monotonic()
        assert "round 1 of 2 is open" in fac.locator("#pace").inner_text()
        for name in ("Ada", "Ben"):
            page = pages[name]
            page.goto(srv.base + "/play")
            assert page.locator("#time-left").is_visible()
            page.fill("#note", f"{name} decides round 1")
            page.click("#submit")
            page.wait_for_load_state()
            assert page.locator("#round-number").inner_text() == "2"
        assert time.monotonic() - opened < ROUND_SECONDS, "submits too slow for the countdown"
        cy.goto(srv.base + "/play")
        assert cy.locator("#round-number").inner_text() == "1"
        time.sleep(max(0.0, opened + ROUND_SECONDS + 0.5 - time.monotonic()))
        # Time is up: the next page anyone loads submits Cy's standing plan.
        fac.goto(fac_url)
        assert "time is up for round 1" in fac.locator("#pace").inner_text()
        assert [fac.locator("#progress tr").nth(i).locator("td").nth(1).inner_text()
                for i in (1, 2, 3)] == ["1 / 2"] * 3
        cy.goto(srv.base + "/play")
        assert cy.locator("#round-number").inner_text() == "2"
        assert "Time is up for round 1" in cy.locator("#pace").inner_text()
        cy.click("#submit")  # refused until the next round is open; nothing changes
        cy.wait_for_load_state()
        assert "Time is up" in cy.locator("#error").inner_text()
        shot(cy, "30-paced-time-up-Cy")
        cy.click("#lang-zh_CN")
        cy.wait_for_load_state()
        assert "第 1 轮时间已到" in cy.locator("#pace").inner_text()
        cy.click("#lang-en")
        cy.wait_for_load_state()

        # Round 2: Ada submits; Ben and Cy run out of time.
        fac.click("#advance")
        fac.wait_for_load_state()
        opened = time.monotonic()
        assert "round 2 of 2 is open" in fac.locator("#pace").inner_text()
        pages["Ada"].goto(srv.base + "/play")
        pages["Ada"].click("#submit")
        pages["Ada"].wait_for_load_state()
        assert pages["Ada"].locator("#debrief-title").is_visible()
        time.sleep(max(0.0, opened + ROUND_SECONDS + 0.5 - time.monotonic()))
        fac.goto(fac_url)
        assert fac.locator("#progress").inner_text().count("finished") == 3
        shot(fac, "31-paced-facilitator-all-finished")
        cy.goto(srv.base + "/debrief")
        rounds = cy.locator("#rounds").inner_text()
        assert rounds.count("time ran out: the standing plan was submitted") == 2
        cy.click("#lang-zh_CN")  # the same in Chinese
        cy.wait_for_load_state()
        assert cy.locator("#rounds").inner_text().count("（时间到：已代为提交沿用的方案）") == 2
        shot(cy, "31-paced-debrief-Cy-zh_CN")
        ben = pages["Ben"]
        ben.goto(srv.base + "/debrief")
        assert "Ben decides round 1" in ben.locator("#rounds").inner_text()
        assert ben.locator("#rounds").inner_text().count("time ran out") == 1

        # After the debrief Ada and Ben play the second game (one round, at their own speed:
        # nothing for the facilitator to open); Cy does not.
        for name, liked in (("Ada", "0"), ("Ben", "40")):
            page = pages[name]
            page.goto(srv.base + "/debrief")
            page.click("#second-link")
            page.wait_for_load_state()
            assert page.locator("#second-round-number").inner_text() == "1"
            assert page.locator("#second-banner").is_visible()
            page.fill("#list_liked", liked)
            page.click("#submit")
            page.wait_for_load_state()
            assert page.locator("#before-after").is_visible()
            assert "23.57%" in page.locator("#study-you").inner_text()
            assert "not two months later" in page.locator("#study-you").inner_text()
        shot(pages["Ben"], "33-second-game-Ben")
        fac.goto(fac_url)
        assert [fac.locator("#progress tr").nth(i).locator("td").nth(7).inner_text()
                for i in (1, 2, 3)] == ["1 / 1", "1 / 1", "0 / 1"]
        assert "Over 2 trainees" in fac.locator("#section-learning").inner_text()
        assert "This class's figure" in fac.locator("#class-figure").inner_text()
        assert "Affinity" in fac.locator("#class-learning").inner_text()
        before_after = fac.locator("#trainee-learning").inner_text()
        assert before_after.count("→") == 2 * 9 and "Cy" in before_after
        shot(fac, "34-facilitator-before-after")
        fac.click("#lang-zh_CN")  # the same in Chinese
        fac.wait_for_load_state()
        assert "复盘前后" in fac.locator("#section-learning").inner_text()
        assert "本班的数字" in fac.locator("#class-figure").inner_text()
        assert "而非两个月后" in fac.locator("#study-class").inner_text()
        shot(fac, "34-facilitator-before-after-zh_CN")
        fac.click("#lang-en")
        fac.wait_for_load_state()

        # The projector view, opened in a browser without the token: no token anywhere.
        href = fac.locator("#projector").get_attribute("href")
        proj = context(viewport={"width": 1920, "height": 1080}).new_page()
        proj.goto(srv.base + href)
        html = proj.content()
        tokens = {srv.link("Facilitator link").split("token=")[1], master.split("token=")[1]}
        assert not any(t in html or t in proj.url for t in tokens)
        assert proj.locator("#projector-progress").inner_text().count("finished") == 3
        assert not proj.locator("#controls").count() and "resume" not in html.lower()
        assert proj.locator("#class-learning").is_visible()
        shot(proj, "32-paced-projector")
    finally:
        for c in contexts:
            c.close()
        srv.kill()
    assert time.monotonic() - started < 55
