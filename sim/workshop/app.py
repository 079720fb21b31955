"""The workshop web app: server-rendered pages, SVG charts, state in SQLite.

Routes:

- trainees: ``/join`` (type the workshop's six-character join code, or scan
  its QR code) → ``/join/{workshop}`` (display name, or the resume code of an
  earlier session; a browser that already has a session there continues it)
  → ``/play`` (dashboard and controls, one round per submit, within the
  rounds the facilitator has opened) → ``/debrief`` (``/debrief.html``: the
  same as one self-contained file to download). A new trainee lands on
  ``/briefing`` first (what the game is, the channels, how long), can play
  ``/practice`` (one quarter on another market that never counts) and read
  ``/glossary``. After the debrief, ``/second`` is the second, shorter game
  on a fresh market (self-paced; its bias profile is compared with the
  first game's). The session id lives in
  an HttpOnly cookie; ``/resume/{session}`` sets it on another device. No
  route takes another trainee's id, so a trainee can read and change only
  their own session. ``/api/session`` and ``/api/round`` are the same as JSON.
- facilitator: the master token (every workshop; ``/facilitator`` lists them
  and starts new ones) or a workshop's own token (that workshop's pages
  only), given once in ``?token=``: it is kept in an HttpOnly cookie and the
  page reloads without it, so the token never stays in the address bar.
  ``/facilitator/w/{id}`` (class control — open the next round, pause, go
  on, close — join code and QR code, live progress, class outcomes and bias
  profile; POSTs to ``/pace``), ``/facilitator/w/{id}/debrief/{ref}`` (one
  trainee's debrief; ``…/export.html`` to download), ``/facilitator/w/{id}/roster`` (resume codes; rename,
  remove, merge), ``/facilitator/w/{id}/report.html`` and ``report.csv``
  (exports). Without a token: 403.
- projector: ``/projector/{view key}`` — the class live (progress, outcomes,
  bias profile, join code), read-only, no token; names "Trainee 1, 2 …" when
  the facilitator hides them.
- everyone: ``/language/{lang}?next=/path`` switches the pages' language for this
  browser (a cookie); without it a page speaks its workshop's language.

Every text a page shows goes through the gettext catalogues of `sim.i18n`
(templates with Jinja2's i18n extension, one environment per language), and
numbers through Babel's formats for the page's language.
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sim import i18n
from sim.allocation import CHANNELS
from sim.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, localize, msg
from sim.loader import ScenarioError, builtin_names
from sim.workshop import charts
from sim.workshop.customer_lists import LISTS
from sim.workshop.engine import (
    FELL_BY,
    STUDY_REDUCTION,
    TIMED_OUT_NOTE,
    AccessError,
    NotOpen,
    RoundConflict,
    WorkshopClosed,
    WorkshopEngine,
    learning,
)
from sim.workshop.game import COMPLAINT_ORDERS, Plan, PlanError
from sim.workshop.glossary import GLOSSARY
from sim.workshop.profile import FLAG, labels
from sim.workshop.words import BIAS_SHORT, segment_words

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "rl_session"
TOKEN_COOKIE = "rl_token"
LANG_COOKIE = "rl_lang"
CHANNEL_LABELS = {"service": N_("Service to customers"), "complaints": N_("Complaint handling"),
                  "points": N_("Loyalty points & contracts"), "acquisition": N_("Winning new customers")}


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_pct(x: Any, lang: str = DEFAULT_LANGUAGE, digits: int = 0) -> str:
    """A share (0.25) as a percentage in the language's format ('–' when it is no number)."""
    v = _finite(x)
    return "–" if v is None else i18n.percent(v, lang, digits)


def fmt_num(x: Any, lang: str = DEFAULT_LANGUAGE, digits: int = 0) -> str:
    """A number in the language's format ('–' when it is no number)."""
    v = _finite(x)
    return "–" if v is None else i18n.number(v, lang, digits)


def fmt_signed(x: Any, lang: str = DEFAULT_LANGUAGE, digits: int = 2) -> str:
    """A change with its sign ('+0.12', '-0.30', '0.00'; '–' when it is no number)."""
    v = _finite(x)
    if v is None:
        return "–"
    v = round(v, digits) or 0.0  # no "-0.00"
    return ("+" if v > 0 else "") + i18n.number(v, lang, digits)


def make_env(lang: str = DEFAULT_LANGUAGE) -> Environment:
    """The Jinja2 environment of the workshop's templates, speaking `lang`."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["pct"] = lambda x, digits=0: fmt_pct(x, lang, digits)
    env.filters["num"] = lambda x, digits=0: fmt_num(x, lang, digits)
    env.filters["signed"] = lambda x, digits=2: fmt_signed(x, lang, digits)
    env.filters["tr"] = lambda text: localize(text, lang)
    env.filters["seg"] = lambda name: segment_words(name, lang)
    env.filters["when"] = lambda iso: i18n.datetime(iso, lang) if iso else ""
    env.filters["svg"] = lambda s: Markup(s)
    env.globals.update(CHANNELS=CHANNELS, CHANNEL_LABELS=CHANNEL_LABELS, LISTS=LISTS,
                       COMPLAINT_ORDERS=COMPLAINT_ORDERS, labels=labels, FLAG=FLAG,
                       TIMED_OUT_NOTE=TIMED_OUT_NOTE, STUDY_REDUCTION=STUDY_REDUCTION, FELL_BY=FELL_BY,
                       LANG=lang, LANGUAGES=LANGUAGES,
                       HTML_LANG=lang.replace("_", "-"))
    return env


def reason(exc: BaseException) -> Any:
    """An exception's message as raised (a translatable `sim.i18n.Message` where it is one)."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


# --------------------------------------------------------------------------- form → plan


def _percent(form: dict[str, str], key: str, label: Any, default: float = 0.0,
             high: float = 100.0) -> float:
    raw = str(form.get(key, "")).strip().replace(",", ".").rstrip("%").strip()
    if raw == "":
        return default
    try:
        v = float(raw)
    except ValueError:
        raise PlanError(msg("{label}: '{value}' is not a number. Nothing was changed.",
                            label=label, value=form.get(key))) from None
    if not math.isfinite(v) or v < 0 or v > high:
        raise PlanError(msg("{label}: {value} is outside 0–{high:g}. Nothing was changed.",
                            label=label, value=raw, high=high))
    return v / 100.0


def plan_from_form(form: dict[str, str], segment_names: list[str],
                   named_ids: list[int]) -> Plan:
    """Read the dashboard's form into a plan (percentages → shares).

    Raises:
        PlanError: A field is not a number or out of range, in plain words.
    """
    shares = {c: _percent(form, f"share_{c}", msg("{channel} (% of the budget)",
                                                  channel=msg(CHANNEL_LABELS[c])))
              for c in CHANNELS}
    seg = {s: _percent(form, f"seg_{s}", msg("Segment {segment} (% of the rest of service money)",
                                             segment=s)) for s in segment_names}
    seg = {s: v for s, v in seg.items() if v > 0}
    lists = {k: _percent(form, f"list_{k}", msg("{name} (% of service money)", name=msg(LISTS[k][0])))
             for k in LISTS}
    named = {i: _percent(form, f"named_{i}", msg("Customer {id} (% of service money)", id=i))
             for i in named_ids}
    order = form.get("complaint_order", "oldest")
    if order not in COMPLAINT_ORDERS:
        raise PlanError(msg("Complaint handling: choose one of the listed orders, got {order!r}.",
                            order=order))
    return Plan.from_dict({
        "shares": shares,
        "segment_service": seg,
        "lists": {k: v for k, v in lists.items() if v > 0},
        "named": {str(i): v for i, v in named.items() if v > 0},
        "complaint_order": order,
        "promise": _percent(form, "promise", msg("Marketing promise (0–100)"), 0.5),
        "range_update": _percent(form, "range_update", msg("Product range (0–100)"), 1.0),
        "note": str(form.get("note", ""))[:2000],
    })


def form_from_plan(plan: dict[str, Any]) -> dict[str, str]:
    """The form values that show a plan (to pre-fill the next round's controls)."""
    f: dict[str, str] = {}
    for c in CHANNELS:
        f[f"share_{c}"] = f"{100 * plan.get('shares', {}).get(c, 0.0):g}"
    for s, v in plan.get("segment_service", {}).items():
        f[f"seg_{s}"] = f"{100 * v:g}"
    for k, v in plan.get("lists", {}).items():
        f[f"list_{k}"] = f"{100 * v:g}"
    for i, v in plan.get("named", {}).items():
        f[f"named_{i}"] = f"{100 * v:g}"
    f["complaint_order"] = plan.get("complaint_order", "oldest")
    f["promise"] = f"{100 * plan.get('promise', 0.5):g}"
    f["range_update"] = f"{100 * plan.get('range_update', 1.0):g}"
    return f


# --------------------------------------------------------------------------- the app

#: How long a trainee's session cookie lasts (seconds).
SESSION_MAX_AGE = 14 * 24 * 3600
#: Why a trainee's page is refused without a session.
NO_SESSION = N_("You have no session here. Join with the link your facilitator gave you.")
#: Why a facilitator page is refused without the token.
NEED_TOKEN = N_("The facilitator pages need the facilitator link (with its token).")


@dataclass
class Site:
    """What every page shares: the engine, the templates per language, the facilitator's token, the base URL.

    The app keeps it in `app.state.site`; each route reads it from its request.

    Attributes:
        engine: The workshop engine served.
        token: The facilitator's token.
        public_url: Base URL shown in links ('' = the request's).
        envs: The Jinja2 environment of each language (`make_env`), made on first use.
    """

    engine: WorkshopEngine
    token: str
    public_url: str = ""
    envs: dict[str, Environment] = field(default_factory=dict)

    def env(self, lang: str) -> Environment:
        """The templates speaking `lang`."""
        if lang not in self.envs:
            self.envs[lang] = make_env(lang)
        return self.envs[lang]

    def lang(self, request: Request, workshop_id: str | None = None) -> str:
        """The language of a page: the browser's choice (its cookie), else the workshop's, else English."""
        chosen = request.cookies.get(LANG_COOKIE, "")
        if chosen in LANGUAGES:
            return chosen
        if workshop_id:
            try:
                return self.engine.workshop(workshop_id).language
            except AccessError:
                pass
        return DEFAULT_LANGUAGE

    def page(self, request: Request, template: str, status: int = 200, lang: str | None = None,
             **ctx: Any) -> HTMLResponse:
        """A rendered template in `lang` (default: `Site.lang` without a workshop)."""
        lang = lang or self.lang(request)
        html = self.env(lang).get_template(template).render(here=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status)

    def refuse(self, request: Request, status: int, message: Any,
               lang: str | None = None) -> HTMLResponse:
        """The error page with `message` (translated)."""
        return self.page(request, "error.html", status=status, lang=lang, message=message)

    def base(self, request: Request) -> str:
        """The base URL for links shown on a page (no trailing slash)."""
        return self.public_url.rstrip("/") or str(request.base_url).rstrip("/")

    def authorised(self, request: Request, workshop_id: str | None = None) -> bool:
        """The request carries a facilitator token for `workshop_id` (or for all).

        The master token opens every workshop; a workshop's own token opens that
        workshop's pages only. Either comes in ``?token=`` or the cookie it set.
        """
        given = [request.query_params.get("token", ""), request.cookies.get(TOKEN_COOKIE, "")]
        own = ""
        if workshop_id:
            given.append(request.cookies.get(workshop_cookie(workshop_id), ""))
            try:
                own = self.engine.keys(workshop_id)["token"]
            except AccessError:
                own = ""
        return any(g and (secrets.compare_digest(g.encode(), self.token.encode())
                          or (own and secrets.compare_digest(g.encode(), own.encode())))
                   for g in given)

    def authorised_master(self, request: Request) -> bool:
        """The request carries the master token (every workshop, and starting new ones)."""
        given = [request.query_params.get("token", ""), request.cookies.get(TOKEN_COOKIE, "")]
        return any(g and secrets.compare_digest(g.encode(), self.token.encode()) for g in given)

    def remember_token(self, request: Request, resp: Response,
                       workshop_id: str | None = None) -> Response:
        """`resp`, setting the cookie of the token that came in ``?token=`` (master or the workshop's)."""
        given = request.query_params.get("token", "")
        if not given:
            return resp
        if secrets.compare_digest(given.encode(), self.token.encode()):
            resp.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="strict")
        elif workshop_id and secrets.compare_digest(
                given.encode(), self.engine.keys(workshop_id)["token"].encode()):
            resp.set_cookie(workshop_cookie(workshop_id), given, httponly=True, samesite="strict")
        return resp

    def clean_url(self, request: Request, workshop_id: str | None = None) -> Response | None:
        """For a GET whose address holds the token: keep it in a cookie and reload the page without it.

        So the token never stays in the address bar (a projected page, a screenshot, the
        browser's history); None when there is nothing to clean.
        """
        if request.method != "GET" or "token" not in request.query_params:
            return None
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        url = request.url.path + ("?" + urlencode(rest) if rest else "")
        return self.remember_token(request, RedirectResponse(url, status_code=303), workshop_id)

    def session_of(self, request: Request) -> str | None:
        """The trainee's session id from the cookie, if it opens a session."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        try:
            self.engine.trainee(sid)
        except AccessError:
            return None
        return sid


def workshop_cookie(workshop_id: str) -> str:
    """The name of the cookie that keeps a workshop's own facilitator token."""
    return f"rl_token_{workshop_id}"


def _site(request: Request) -> Site:
    return request.app.state.site


def create_app(db: str | Path = "workshop.sqlite", engine: WorkshopEngine | None = None,
               public_url: str = "") -> Starlette:
    """Build the web app.

    Args:
        db: The SQLite file (ignored when `engine` is given).
        engine: An engine to serve (tests pass one).
        public_url: Base URL shown in links (default: the request's).

    Returns:
        The Starlette application; `app.state.engine` is the engine, `app.state.token` the
        facilitator's token and `app.state.site` what its pages share (`Site`).
    """
    eng = engine or WorkshopEngine(db)
    site = Site(eng, eng.store.facilitator_token(), public_url)
    app = Starlette(routes=ROUTES)
    app.state.site = site
    app.state.engine = eng
    app.state.token = site.token
    return app


# --------------------------------------------------------------------------- trainee pages


def _enter_session(sid: str, first: bool = False) -> Response:
    """To the dashboard (`first`: a new trainee, to the briefing), with the session's cookie set."""
    resp = RedirectResponse("/briefing" if first else "/play", status_code=303)
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", max_age=SESSION_MAX_AGE)
    return resp


def _trainee_lang(request: Request, sid: str) -> str:
    """The language of a trainee's pages: theirs if they chose one, else their workshop's."""
    site = _site(request)
    return site.lang(request, site.engine.trainee(sid).workshop_id)


def index(request: Request) -> Response:
    """The start page, or the dashboard for a trainee with a session."""
    site = _site(request)
    if site.session_of(request):
        return RedirectResponse("/play", status_code=303)
    return site.page(request, "index.html")


def switch_language(request: Request) -> Response:
    """Speak another language on this browser's pages (a cookie), back to the page it came from."""
    lang = request.path_params["lang"]
    nxt = request.query_params.get("next", "/")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    resp = RedirectResponse(nxt, status_code=303)
    if lang in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, lang, samesite="lax", max_age=SESSION_MAX_AGE)
    return resp


async def join(request: Request) -> Response:
    """Join a workshop under a display name, or rejoin with a resume code (GET shows the form).

    A browser that already has a session in this workshop is offered to continue it,
    and joining again from it returns that session rather than a second one.
    """
    site = _site(request)
    wid = request.path_params["wid"]
    lang = site.lang(request, wid)
    try:
        ws = site.engine.workshop(wid)
    except AccessError:
        return site.refuse(request, 404, msg("There is no workshop at this link. Ask your "
                                             "facilitator for the join link."), lang)
    mine = site.session_of(request)
    current = site.engine.trainee(mine) if mine else None
    if current is not None and current.workshop_id != wid:
        mine, current = None, None
    if request.method == "GET":
        if current is None and ws.status == "closed":
            return site.refuse(request, 410, msg("This workshop is closed: nobody can join it any "
                                                 "more."), lang)
        return site.page(request, "join.html", lang=lang, workshop=ws, error=None, name="",
                         current=current)
    form = await request.form()
    name, code = str(form.get("name", "")), str(form.get("code", "")).strip()
    try:
        if code:
            sid = site.engine.rejoin(wid, code)
        else:
            sid = await run_in_threadpool(site.engine.join, wid, name, mine)
            if sid != mine:  # a new trainee reads the briefing first
                return _enter_session(sid, first=True)
    except AccessError as exc:
        error = msg("{reason} Check it on the dashboard of your first device, or ask your "
                    "facilitator.", reason=reason(exc))
        return site.page(request, "join.html", status=400, lang=lang, workshop=ws, error=error,
                         name=name, current=current)
    except PlanError as exc:
        return site.page(request, "join.html", status=410 if isinstance(exc, WorkshopClosed) else 400,
                         lang=lang, workshop=ws, error=reason(exc), name=name, current=current)
    return _enter_session(sid)


async def join_by_code(request: Request) -> Response:
    """``/join``: type the workshop's short code (``?code=`` works too) → its join page."""
    site = _site(request)
    code = request.query_params.get("code", "")
    if request.method == "POST":
        code = str((await request.form()).get("code", ""))
    if not code.strip():
        return site.page(request, "join_code.html", error=None, code="")
    try:
        ws = site.engine.by_join_code(code)
    except AccessError as exc:
        return site.page(request, "join_code.html", status=404, error=reason(exc), code=code[:20])
    return RedirectResponse(f"/join/{ws.id}", status_code=303)


def resume(request: Request) -> Response:
    """Continue a session on another device (the link sets the session cookie)."""
    site = _site(request)
    sid = request.path_params["sid"]
    try:
        site.engine.trainee(sid)
    except AccessError:
        return site.refuse(request, 403, msg("This link does not open any session."))
    return _enter_session(sid)


def dashboard_page(request: Request, sid: str, status: int = 200, error: Any = None,
                   values: dict[str, str] | None = None) -> Response:
    """The dashboard and controls of the coming round (the debrief once all are played).

    Args:
        request: The request.
        sid: The trainee's session.
        status: HTTP status of the page.
        error: Why the last submission was refused, if it was.
        values: The form's values (default: the last round's plan).

    Returns:
        The page, or a redirect to the debrief.
    """
    site = _site(request)
    d = site.engine.dashboard(sid)
    if d["finished"]:
        return RedirectResponse("/debrief", status_code=303)
    if values is None:
        values = form_from_plan(d["history"][-1]["plan"]) if d["history"] else \
            form_from_plan(Plan().to_dict())
    left = d["pace"]["seconds_left"]
    lang = _trainee_lang(request, sid)
    return site.page(request, "dashboard.html", status=status, lang=lang, d=d, error=error,
                     v=values, trend_charts=trend_charts(d, lang),
                     time_left=None if left is None else localize(duration(left), lang),
                     resume_url=f"{site.base(request)}/resume/{sid}")


async def play(request: Request) -> Response:
    """GET: the dashboard; POST: play the round the form describes."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(request, 403, NO_SESSION)
    if request.method == "GET":
        return dashboard_page(request, sid)
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(submit_form, request, sid, form)


def form_plan(eng: WorkshopEngine, sid: str, form: dict[str, str], practice: bool = False,
              second: bool = False) -> Plan:
    """The plan of a dashboard's form, for the trainee's game (`practice`, `second`: that game's)."""
    setup = eng.setup(eng.trainee(sid).workshop_id, practice=practice, second=second)
    return plan_from_form(form, list(setup.segment_names), list(setup.named_ids))


def submit_form(request: Request, sid: str, form: dict[str, str], second: bool = False) -> Response:
    """Play the round of the dashboard's form (`second`: the second game's); if refused, the page says why."""
    eng = _site(request).engine
    page, submit = (second_page, eng.submit_second) if second else (dashboard_page, eng.submit)
    try:
        round_no = int(form.get("round", "0"))
    except ValueError:
        round_no = -1
    try:
        submit(sid, round_no, form_plan(eng, sid, form, second=second))
    except NotOpen as exc:  # the class's pacing: keep what the trainee typed
        return page(request, sid, status=409, error=reason(exc), values=form)
    except RoundConflict as exc:
        return page(request, sid, status=409, error=reason(exc))
    except PlanError as exc:
        return page(request, sid, status=400, error=reason(exc), values=form)
    return RedirectResponse("/second" if second else "/play", status_code=303)


def debrief(request: Request) -> Response:
    """The debrief of a finished game (the dashboard until then)."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(request, 403, msg("You have no session here."))
    try:
        b = site.engine.debrief(sid)
    except PlanError:
        return RedirectResponse("/play", status_code=303)
    lang = _trainee_lang(request, sid)
    if request.url.path == "/debrief.html":  # the same as one file to download
        return export_debrief(site, b, lang)
    return site.page(request, "debrief.html", lang=lang, b=b, export_url="/debrief.html",
                     **debrief_charts(b, lang))


def export_debrief(site: Site, b: dict[str, Any], lang: str) -> Response:
    """A debrief rendered for download: no navigation, no links, the glossary at its end."""
    html = site.env(lang).get_template("debrief.html").render(
        here="/debrief", b=b, export=True, glossary=GLOSSARY, **debrief_charts(b, lang))
    name = "".join(c for c in b["trainee"] if c.isascii() and c.isalnum())[:30] or "trainee"
    return HTMLResponse(html, headers={
        "Content-Disposition": f'attachment; filename="debrief-{name}.html"'})


# --------------------------------------------------------------------------- briefing, practice, glossary


def briefing(request: Request) -> Response:
    """What the game is, the budget channels, what trainees will see, how long: read before round 1."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(request, 403, NO_SESSION)
    eng = site.engine
    t = eng.trainee(sid)
    w = eng.tick(t.workshop_id)
    setup = eng.setup(w.id)
    return site.page(request, "briefing.html", lang=_trainee_lang(request, sid), w=w, trainee=t,
                     per_round=setup.per_round, practice=eng.practice(sid),
                     started=bool(eng.store.rounds(t.id)))


async def game_route(request: Request, page: Callable[..., Response],
                     submit: Callable[..., Response]) -> Response:
    """A trainee's game other than the first: GET its `page`, POST play its form with `submit`."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(request, 403, NO_SESSION)
    if request.method == "GET":
        return await run_in_threadpool(page, request, sid)
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(submit, request, sid, form)


async def practice(request: Request) -> Response:
    """The practice round: GET its dashboard (or its results once played), POST play it."""
    return await game_route(request, practice_page, submit_practice_form)


def practice_page(request: Request, sid: str, status: int = 200, error: Any = None,
                  values: dict[str, str] | None = None) -> Response:
    """The practice round's dashboard and controls, or what it did once played."""
    site = _site(request)
    d = site.engine.practice(sid)
    lang = _trainee_lang(request, sid)
    if d["played"] is not None or not d["available"]:
        return site.page(request, "practice_done.html", status=status, lang=lang, d=d, error=error,
                         trend_charts=trend_charts(d, lang))
    return site.page(request, "dashboard.html", status=status, lang=lang, d=d, error=error,
                     v=values or form_from_plan(Plan().to_dict()), practice=True,
                     trend_charts=trend_charts(d, lang), time_left=None, resume_url="")


def submit_practice_form(request: Request, sid: str, form: dict[str, str]) -> Response:
    """Play the practice round from the dashboard's form; on refusal, the page with the reason."""
    eng = _site(request).engine
    try:
        eng.submit_practice(sid, form_plan(eng, sid, form, practice=True))
    except RoundConflict as exc:
        return practice_page(request, sid, status=409, error=reason(exc))
    except PlanError as exc:
        return practice_page(request, sid, status=400, error=reason(exc), values=form)
    return RedirectResponse("/practice", status_code=303)


# --------------------------------------------------------------------------- the second game


async def second(request: Request) -> Response:
    """The second game, after the debrief: GET its dashboard (what changed, once played), POST a round."""
    return await game_route(request, second_page, partial(submit_form, second=True))


def second_page(request: Request, sid: str, status: int = 200, error: Any = None,
                values: dict[str, str] | None = None) -> Response:
    """The second game's dashboard and controls; the change between the games once it is played."""
    site = _site(request)
    d = site.engine.second(sid)
    lang = _trainee_lang(request, sid)
    if d["finished"] or (not d["available"] and not d["history"]):
        if not d["finished"]:  # not open to this trainee (yet): their debrief says why
            return RedirectResponse("/debrief", status_code=303)
        return site.page(request, "second_done.html", status=status, lang=lang, d=d,
                         learning=d["learning"], error=error)
    if values is None:
        values = form_from_plan(d["history"][-1]["plan"] if d["history"] else Plan().to_dict())
    return site.page(request, "dashboard.html", status=status, lang=lang, d=d, error=error,
                     v=values, second=True, trend_charts=trend_charts(d, lang), time_left=None,
                     resume_url=f"{site.base(request)}/resume/{sid}")


def glossary(request: Request) -> Response:
    """The terms the pages use, in plain words (no session needed)."""
    site = _site(request)
    sid = site.session_of(request)
    lang = _trainee_lang(request, sid) if sid else site.lang(request)
    return site.page(request, "glossary.html", lang=lang, glossary=GLOSSARY, back=sid is not None)


# --------------------------------------------------------------------------- JSON API (own session)


def api_session(request: Request) -> Response:
    """The trainee's own session as JSON."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return JSONResponse({"error": "no session"}, status_code=403)
    d = site.engine.dashboard(sid)
    return JSONResponse(_jsonable({k: d[k] for k in (
        "trainee", "round", "rounds", "finished", "period", "history", "segments")}))


async def api_round(request: Request) -> Response:
    """Play a round from JSON: ``{"round": N, "plan": {...}}``."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return JSONResponse({"error": "no session"}, status_code=403)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "the body must be JSON"}, status_code=400)
    if not isinstance(body, dict) or "round" not in body or "plan" not in body:
        return JSONResponse({"error": "send {\"round\": N, \"plan\": {...}}"},
                            status_code=400)
    try:
        results = await run_in_threadpool(site.engine.submit, sid, body["round"], body["plan"])
    except RoundConflict as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except (PlanError, TypeError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(_jsonable({"results": results}))


# --------------------------------------------------------------------------- facilitator


async def facilitator(request: Request) -> Response:
    """The workshops; POST starts a new one."""
    site = _site(request)
    if not site.authorised_master(request):
        return site.refuse(request, 403, NEED_TOKEN)
    if cleaned := site.clean_url(request):
        return cleaned
    error = None
    if request.method == "POST":
        form = await request.form()
        try:
            rounds = int(str(form.get("rounds", "4")))
            seed_text = str(form.get("seed", "")).strip()
            seed = int(seed_text) if seed_text else None
            minutes = float(str(form.get("minutes", "") or 0).strip() or 0)
            second_rounds = int(str(form.get("second_rounds", "2")).strip() or 2)
            if not math.isfinite(minutes):
                raise ValueError(msg("round time: a number of minutes, got {minutes}", minutes=minutes))
            ws = await run_in_threadpool(
                site.engine.create_workshop, str(form.get("scenario", "default")), rounds,
                seed, str(form.get("title", "")).strip()[:80], bool(form.get("paced")),
                round(60 * minutes), str(form.get("language", DEFAULT_LANGUAGE)), second_rounds)
        except (ValueError, ScenarioError) as exc:
            error = msg("Could not start the workshop: {reason}", reason=reason(exc))
        else:
            return RedirectResponse(f"/facilitator/w/{ws.id}", status_code=303)
    resp = site.page(request, "facilitator.html", status=400 if error else 200, error=error,
                     workshops=site.engine.workshops(), scenarios=builtin_names(),
                     base=site.base(request))
    return site.remember_token(request, resp)


def _fac_workshop_id(request: Request) -> tuple[Site, str, Response | None]:
    """The site, the workshop id, and the refusal if the token is missing or there is no such workshop."""
    site = _site(request)
    wid = request.path_params["wid"]
    if not site.authorised(request, wid):
        return site, wid, site.refuse(request, 403, NEED_TOKEN)
    try:
        site.engine.workshop(wid)
    except AccessError:
        return site, wid, site.refuse(request, 404, msg("No such workshop."))
    return site, wid, site.clean_url(request, wid)


def fac_workshop(request: Request, error: Any = None) -> Response:
    """One workshop live: pacing controls, progress, class outcomes and bias profile."""
    site, wid, refused = _fac_workshop_id(request)
    if refused:
        return refused
    eng = site.engine
    progress = eng.progress(wid)  # applies the countdown first
    rep = eng.class_report(wid, with_bots=False)
    any_done = any(t["finished"] for t in rep["trainees"])
    if any_done:
        rep = eng.class_report(wid, with_bots=True)
    w = eng.workshop(wid)
    lang = site.lang(request, wid)
    base = site.base(request)
    keys = eng.keys(wid)
    resp = site.page(request, "workshop.html", status=400 if error else 200, lang=lang, r=rep,
                     progress=progress, w=w, pace=pace_text(w, eng.clock()), error=error,
                     join_url=f"{base}/join/{wid}", code_url=f"{base}/join",
                     qr=qr_svg(f"{base}/join/{wid}"), projector_url=f"/projector/{keys['view_key']}",
                     master=site.authorised_master(request), **class_charts(rep, lang))
    return site.remember_token(request, resp, wid)


def fac_debrief(request: Request) -> Response:
    """One trainee's debrief, as they see it, opened by the facilitator (by roster number)."""
    site, wid, refused = _fac_workshop_id(request)
    if refused:
        return refused
    lang = site.lang(request, wid)
    try:
        t = site.engine.roster_entry(wid, int(request.path_params["ref"]))
        b = site.engine.debrief(t.id)
    except AccessError:
        return site.refuse(request, 404, msg("No such trainee in this workshop."), lang)
    except PlanError as exc:
        return site.refuse(request, 409, reason(exc), lang)
    if request.url.path.endswith("/export.html"):
        return export_debrief(site, b, lang)
    return site.page(request, "debrief.html", lang=lang, b=b, facilitator_view=True,
                     export_url=f"{request.url.path}/export.html",
                     back=f"/facilitator/w/{wid}", **debrief_charts(b, lang))


def anonymised(rep: dict[str, Any], progress: list[dict[str, Any]], lang: str
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The class report and progress with every trainee named "Trainee 1, 2 …" (in the order they joined)."""
    number = {p["ref"]: i + 1 for i, p in enumerate(sorted(progress, key=lambda p: p["ref"]))}

    def alias(ref: int) -> str:
        return localize(msg("Trainee {n}", n=number.get(ref, 0)), lang)

    rep = {**rep, "trainees": [{**t, "name": alias(t["ref"])} for t in rep["trainees"]]}
    return rep, [{**p, "name": alias(p["ref"])} for p in progress]


def projector(request: Request) -> Response:
    """The class on a projector: join code and QR, progress, outcomes and bias profile, refreshed live.

    Opened by the workshop's view key (read-only): no token, no controls, no
    resume codes, no links into trainees' games; names hidden when the
    facilitator chose so (`WorkshopEngine.set_anonymous`).
    """
    site = _site(request)
    try:
        w = site.engine.by_view_key(request.path_params["key"])
    except AccessError:
        return site.refuse(request, 404, msg("There is no projector view at this link."))
    eng = site.engine
    progress = eng.progress(w.id)
    rep = eng.class_report(w.id, with_bots=False)
    if any(t["finished"] for t in rep["trainees"]):
        rep = eng.class_report(w.id, with_bots=True)
    w = eng.workshop(w.id)
    lang = site.lang(request, w.id)
    if w.anonymous:
        rep, progress = anonymised(rep, progress, lang)
    base = site.base(request)
    return site.page(request, "projector.html", lang=lang, r=rep, w=w, progress=progress,
                     pace=pace_text(w, eng.clock()), join_url=f"{base}/join/{w.id}",
                     code_url=f"{base}/join", qr=qr_svg(f"{base}/join/{w.id}"),
                     **class_charts(rep, lang))


def qr_svg(text: str) -> str:
    """A QR code of `text` as inline SVG (made here, with `segno`; '' when it is not installed)."""
    try:
        import segno
    except ImportError:  # pragma: no cover - segno is a dependency of the workshop
        return ""
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=5, border=2, xmldecl=False,
                                     svgns=True, nl=False, svgclass="qr", title=text)
    return buf.getvalue().decode()


#: The facilitator's pacing buttons and the engine's method each calls.
PACE_ACTIONS = {"advance": "advance", "pause": "pause", "resume": "resume", "close": "close"}


async def fac_pace(request: Request) -> Response:
    """The facilitator's pacing controls: open the next round, pause, go on, close; the language."""
    site, wid, refused = _fac_workshop_id(request)
    if refused:
        return refused
    form = await request.form()
    action = str(form.get("action", ""))
    if action == "language":
        try:
            site.engine.set_language(wid, str(form.get("language", "")))
        except ValueError as exc:
            return fac_workshop(request, error=reason(exc))
        resp = RedirectResponse(f"/facilitator/w/{wid}", status_code=303)
        resp.delete_cookie(LANG_COOKIE)  # the facilitator sees the workshop's new language
        return resp
    if action == "anonymous":
        site.engine.set_anonymous(wid, bool(form.get("anonymous")))
        return RedirectResponse(f"/facilitator/w/{wid}", status_code=303)
    if action not in PACE_ACTIONS:
        return fac_workshop(request, error=msg("Unknown control {action!r}.", action=action))
    if action == "close" and not form.get("confirm"):
        return fac_workshop(request, error=msg("To close the workshop, tick 'yes, close it' first."))
    try:
        await run_in_threadpool(getattr(site.engine, PACE_ACTIONS[action]), wid)
    except ValueError as exc:
        return fac_workshop(request, error=reason(exc))
    return RedirectResponse(f"/facilitator/w/{wid}", status_code=303)


async def fac_roster(request: Request) -> Response:
    """The roster: resume codes; rename, remove or merge trainees (POST does one of these)."""
    site, wid, refused = _fac_workshop_id(request)
    if refused:
        return refused
    eng = site.engine
    error = None
    if request.method == "POST":
        form = await request.form()
        action = str(form.get("action", ""))
        try:
            t = eng.roster_entry(wid, int(str(form.get("ref", "0"))))
            if action == "rename":
                eng.rename(t.id, str(form.get("name", "")))
            elif action == "remove":
                eng.remove(t.id)
            elif action == "merge":
                eng.merge(eng.roster_entry(wid, int(str(form.get("into", "0")))).id, t.id)
            else:
                raise ValueError(msg("Unknown roster action {action!r}.", action=action))
        except (AccessError, ValueError) as exc:  # PlanError is a ValueError
            error = reason(exc)
        else:
            return RedirectResponse(f"/facilitator/w/{wid}/roster", status_code=303)
    resp = site.page(request, "roster.html", status=400 if error else 200, lang=site.lang(request, wid),
                     w=eng.workshop(wid), progress=eng.progress(wid), error=error)
    return site.remember_token(request, resp, wid)


def pace_text(w: Any, now: float) -> Any:
    """The workshop's pacing in plain words, for the facilitator (translatable)."""
    if w.status == "closed":
        return msg("Closed: nobody joins or plays any more; debriefs and reports stay open.")
    if not w.paced:
        state = msg("Self-paced: every trainee plays every round at their own speed.")
    elif w.open_round == 0:
        state = msg("Paced: no round is open yet; trainees read their dashboard.")
    elif w.time_up:
        state = msg("Paced: time is up for round {n} of {rounds}; the standing plan was submitted "
                    "for whoever had not.", n=w.open_round, rounds=w.rounds)
    else:
        left = w.seconds_left(now)
        state = (msg("Paced: round {n} of {rounds} is open.", n=w.open_round, rounds=w.rounds)
                 if left is None else
                 msg("Paced: round {n} of {rounds} is open. {left} left.", n=w.open_round,
                     rounds=w.rounds, left=duration(left)))
    if w.status == "paused":
        return msg("{state} Paused: nobody can submit.", state=state)
    return state


def duration(seconds: float) -> Any:
    """A countdown in plain words: '9 min 40 s', '45 s' (translatable)."""
    s = max(0, math.ceil(seconds))
    return msg("{m} min {s:02d} s", m=s // 60, s=s % 60) if s >= 60 else msg("{s} s", s=s)


def fac_report(request: Request) -> Response:
    """The class report as an HTML file to download."""
    site = _site(request)
    wid = request.path_params["wid"]
    if not site.authorised(request, wid):
        return site.refuse(request, 403, msg("The report needs the facilitator's token."))
    lang = site.lang(request, wid)
    try:
        rep = site.engine.class_report(wid)
    except AccessError:
        return site.refuse(request, 404, msg("No such workshop."), lang)
    html = site.env(lang).get_template("report.html").render(r=rep, glossary=GLOSSARY,
                                                                   **class_charts(rep, lang))
    return HTMLResponse(html, headers={
        "Content-Disposition": f'attachment; filename="workshop-{wid}-report.html"'})


def fac_csv(request: Request) -> Response:
    """The class report as CSV to download (headers in the page's language)."""
    site = _site(request)
    wid = request.path_params["wid"]
    if not site.authorised(request, wid):
        return Response("forbidden: the facilitator token is needed\n", status_code=403,
                        media_type="text/plain")
    try:
        rep = site.engine.class_report(wid)
    except AccessError:
        return Response("no such workshop\n", status_code=404, media_type="text/plain")
    return Response(class_csv(rep, site.lang(request, wid)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="workshop-{wid}.csv"'})


ROUTES = [
    Route("/", index),
    Route("/language/{lang}", switch_language),
    Route("/join", join_by_code, methods=["GET", "POST"]),
    Route("/join/{wid}", join, methods=["GET", "POST"]),
    Route("/projector/{key}", projector),
    Route("/resume/{sid}", resume),
    Route("/play", play, methods=["GET", "POST"]),
    Route("/debrief", debrief),
    Route("/debrief.html", debrief),
    Route("/briefing", briefing),
    Route("/practice", practice, methods=["GET", "POST"]),
    Route("/second", second, methods=["GET", "POST"]),
    Route("/glossary", glossary),
    Route("/api/session", api_session),
    Route("/api/round", api_round, methods=["POST"]),
    Route("/facilitator", facilitator, methods=["GET", "POST"]),
    Route("/facilitator/w/{wid}", fac_workshop),
    Route("/facilitator/w/{wid}/pace", fac_pace, methods=["POST"]),
    Route("/facilitator/w/{wid}/roster", fac_roster, methods=["GET", "POST"]),
    Route("/facilitator/w/{wid}/debrief/{ref:int}", fac_debrief),
    Route("/facilitator/w/{wid}/debrief/{ref:int}/export.html", fac_debrief),
    Route("/facilitator/w/{wid}/report.html", fac_report),
    Route("/facilitator/w/{wid}/report.csv", fac_csv),
]


def _jsonable(x: Any) -> Any:
    """Replace NaN by None so the answer is valid JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


# --------------------------------------------------------------------------- charts


def trend_charts(d: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """SVG trend charts of a dashboard, marked at the end of each quarter so far."""
    tr = d["trends"]
    rounds_at = [d["per_round"] * (k + 1) for k in range(d["round"])]

    def t(text: str) -> str:
        return localize(text, lang)

    return [
        charts.line_chart({t(N_("active customers")): tr["active_customers"]}, t(N_("Active customers")),
                          marks=rounds_at, lang=lang),
        charts.line_chart({t(N_("revenue")): tr["revenue"]}, t(N_("Revenue per week")), marks=rounds_at,
                          lang=lang),
        charts.line_chart({t(N_("customers lost")): tr["churned"], t(N_("complaints")): tr["complaints"]},
                          t(N_("Customers lost and complaints per week")), marks=rounds_at, lang=lang),
        charts.line_chart({"CSAT": tr["csat_surveyed"]}, t(N_("Survey CSAT (1–5) per week")),
                          marks=rounds_at, lang=lang, floor=1.0),
    ]


def _bias_words(kind: str, lang: str) -> str:
    """A bias's name in a chart: its label up to the parenthesis, in `lang`."""
    return localize(labels().get(kind, kind), lang).split(" (")[0].split("（")[0]


def debrief_charts(b: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """SVG charts of a debrief."""
    rows = b["outcomes"]

    def t(text: str) -> str:
        return localize(text, lang)

    you, bot = t(N_("You")), t(N_("data-driven bot"))

    def short(r: dict[str, Any]) -> str:
        return you if r["key"] == "you" else (
            t(N_("data-driven")) if r["key"] == "data_driven" else _bias_words(r["key"], lang))

    money = (lambda v: fmt_num(v, lang))  # noqa: E731
    profit = charts.bar_chart([(short(r), r["profit"]) for r in rows], t(N_("Profit over your rounds")),
                              fmt=money, highlight=you)
    churn = charts.bar_chart([(short(r), r["churn_rate"]) for r in rows],
                             t(N_("Churn over your rounds (%)")), fmt=lambda v: fmt_pct(v, lang, 1),
                             highlight=you)
    prof = charts.bar_chart([(_bias_words(p["kind"], lang), p["score"]) for p in b["profile"]],
                            t(N_("Your bias profile (0 = no sign, 1 = fully biased)")), limit=1.0,
                            line=FLAG, line_label=t(N_("resembles")),
                            fmt=lambda v: fmt_num(v, lang, 2))
    s = b["series"]
    active = charts.line_chart({you: s["you"]["active_customers"],
                                bot: s["data_driven"]["active_customers"]},
                               t(N_("Active customers, you vs the data-driven bot")),
                               width=560, marks=[b["warmup"]], lang=lang)
    sat = charts.line_chart({you: s["you"]["satisfaction"], bot: s["data_driven"]["satisfaction"]},
                            t(N_("True satisfaction (hidden while you played)")), width=560,
                            marks=[b["warmup"]], lang=lang)
    return {"chart_profit": profit, "chart_churn": churn, "chart_profile": prof,
            "chart_active": active, "chart_sat": sat}


def class_charts(r: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """SVG charts of the class report."""
    def t(text: str) -> str:
        return localize(text, lang)

    prof = charts.bar_chart([(_bias_words(k, lang), v) for k, v in r["class_profile"].items()],
                            t(N_("Class bias profile (mean score of finished trainees)")), limit=1.0,
                            line=FLAG, line_label=t(N_("resembles")),
                            fmt=lambda v: fmt_num(v, lang, 2))
    items = [(row["name"], row["outcomes"]["profit"]) for row in r["trainees"] if row.get("outcomes")]
    bot = t(N_("data-driven bot"))
    if "data_driven" in r["bots"]:
        items.append((bot, r["bots"]["data_driven"]["outcomes"]["profit"]))
    profit = charts.bar_chart(items, t(N_("Profit: each trainee and the data-driven bot")),
                              fmt=lambda v: fmt_num(v, lang), highlight=bot)
    return {"chart_class_profile": prof, "chart_class_profit": profit}


#: A text cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def inert(cell: Any) -> Any:
    """A CSV cell a spreadsheet shows as it is: text that would start a formula gets a leading `'`.

    Numbers stay numbers (a negative profit is no formula); only text is changed.
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


#: The CSV's column names and kinds of row (in English the names a script reads; translated elsewhere).
CSV_WORDS = {
    "who": N_("who"), "kind": N_("kind"), "rounds_done": N_("rounds_done"), "finished": N_("finished"),
    "top_bias": N_("top_bias"), "trainee": N_("trainee"), "bot": N_("bot"),
    "second_rounds_done": N_("second_rounds_done"), "class": N_("class"),
    "churn_rate": N_("churn_rate"), "revenue": N_("revenue"), "profit": N_("profit"),
    "satisfaction": N_("satisfaction"), "loyalty": N_("loyalty"), "nps": N_("nps"),
    "complaints": N_("complaints"), "retained_not_loyal": N_("retained_not_loyal"),
}


def class_csv(r: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """The class report as CSV: one row per trainee and per bot (formula-safe, `inert`).

    Column names and the kind of row are in `lang`; in English they are the
    names scripts read (``who``, ``kind``, ``churn_rate``, ``bias_affinity``,
    ``top_bias`` …). `top_bias` holds the bias kind, as in scenario files.
    Before it come the second game's columns: ``second_rounds_done``, then per
    bias ``after_bias_<kind>`` (its score in the second game), ``change_bias_<kind>``
    (after − before) and ``fell_bias_<kind>`` (1 if it fell by `FELL_BY` or more);
    a last row of kind ``class`` holds the class's means over the trainees who
    finished both games (in ``fell_bias_<kind>`` the share whose score fell).
    """
    def word(key: str) -> str:
        return localize(CSV_WORDS.get(key, key), lang)

    def cols(column: str | None = None) -> list[str]:
        names = [msg("bias_{kind}", kind=k, name=msg(BIAS_SHORT.get(k, k))) for k in kinds]
        return [localize(msg(column, column=n) if column else n, lang) for n in names]

    def fixed(values: dict[str, float | None]) -> list[str]:
        return [f"{values[k]:.3f}" if values[k] is not None else "" for k in kinds]

    def scores(values: dict[str, float] | None) -> list[Any]:
        # A change can be negative: a number (not text, which `inert` would quote).
        return [round(values[k], 3) if values and values[k] is not None else "" for k in kinds]

    metrics = list(r["outcome_labels"])
    kinds = list(r["labels"])
    rows: list[list[Any]] = [[word("who"), word("kind"), word("rounds_done"), word("finished"),
                              *[word(m) for m in metrics], *cols(), word("second_rounds_done"),
                              *cols(N_("after_{column}")), *cols(N_("change_{column}")),
                              *cols(N_("fell_{column}")), word("top_bias")]]
    blank = ["" for _ in kinds]
    for t in r["trainees"]:
        o = t.get("outcomes") or {}
        one = learning([t])
        rows.append([t["name"], word("trainee"), t["rounds_done"], t["finished"],
                     *[o.get(m, "") for m in metrics], *fixed(t["profile"]), t.get("second_done", 0),
                     *scores(t.get("after")), *scores(one["change"]),
                     *scores(one["fell"]), t["top"] or ""])
    for key, b in r["bots"].items():
        rows.append([localize(b["label"], lang), word("bot"), r["workshop"]["rounds"], True,
                     *[b["outcomes"].get(m, "") for m in metrics], *blank, "", *blank, *blank, *blank,
                     key if key != "data_driven" else ""])
    c = r.get("learning") or {}
    if c.get("trainees"):
        rows.append([word("class"), word("class"), "", "", *["" for _ in metrics], *fixed(c["before"]), "",
                     *scores(c["after"]), *scores(c["change"]), *scores(c["fell"]), ""])
    out = io.StringIO()
    csv.writer(out).writerows([[inert(c) for c in row] for row in rows])
    return out.getvalue()


def dumps(x: Any) -> str:
    """JSON for embedding (NaN → null)."""
    return json.dumps(_jsonable(x))
