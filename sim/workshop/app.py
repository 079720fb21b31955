"""The workshop web app: server-rendered pages, SVG charts, state in SQLite.

Routes:

- trainees: ``/join/{workshop}`` (display name, or the resume code of an
  earlier session; a browser that already has a session there continues it)
  → ``/play`` (dashboard and controls, one round per submit, within the
  rounds the facilitator has opened) → ``/debrief``. The session id lives in
  an HttpOnly cookie; ``/resume/{session}`` sets it on another device. No
  route takes another trainee's id, so a trainee can read and change only
  their own session. ``/api/session`` and ``/api/round`` are the same as JSON.
- facilitator (token in ``?token=`` or the cookie it sets): ``/facilitator``
  (workshops, start a new one), ``/facilitator/w/{id}`` (class control —
  open the next round, pause, go on, close — live progress, class outcomes
  and bias profile; POSTs to ``/pace``), ``/facilitator/w/{id}/roster``
  (resume codes; rename, remove, merge), ``/facilitator/w/{id}/report.html``
  and ``report.csv`` (exports). Without the token: 403.
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sim.allocation import CHANNELS
from sim.loader import ScenarioError, builtin_names
from sim.workshop import charts
from sim.workshop.customer_lists import LISTS
from sim.workshop.engine import AccessError, NotOpen, RoundConflict, WorkshopClosed, WorkshopEngine
from sim.workshop.game import COMPLAINT_ORDERS, Plan, PlanError, plural
from sim.workshop.profile import FLAG, labels

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "rl_session"
TOKEN_COOKIE = "rl_token"
CHANNEL_LABELS = {"service": "Service to customers", "complaints": "Complaint handling",
                  "points": "Loyalty points & contracts", "acquisition": "Winning new customers"}


def _pct(x: Any, digits: int = 0) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(v) else f"{100 * v:.{digits}f} %"


def _num(x: Any, digits: int = 0) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    return f"{v:,.{digits}f}".replace(",", " ")


def make_env() -> Environment:
    """The Jinja2 environment of the workshop's templates."""
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"]))
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    env.filters["svg"] = lambda s: Markup(s)
    env.filters["plural"] = plural
    env.globals.update(CHANNELS=CHANNELS, CHANNEL_LABELS=CHANNEL_LABELS, LISTS=LISTS,
                       COMPLAINT_ORDERS=COMPLAINT_ORDERS, labels=labels, FLAG=FLAG)
    return env


# --------------------------------------------------------------------------- form → plan


def _percent(form: dict[str, str], key: str, label: str, default: float = 0.0,
             high: float = 100.0) -> float:
    raw = str(form.get(key, "")).strip().replace(",", ".").rstrip("%").strip()
    if raw == "":
        return default
    try:
        v = float(raw)
    except ValueError:
        raise PlanError(f"{label}: '{form.get(key)}' is not a number. Nothing was changed."
                        ) from None
    if not math.isfinite(v) or v < 0 or v > high:
        raise PlanError(f"{label}: {raw} is outside 0–{high:g}. Nothing was changed.")
    return v / 100.0


def plan_from_form(form: dict[str, str], segment_names: list[str],
                   named_ids: list[int]) -> Plan:
    """Read the dashboard's form into a plan (percentages → shares).

    Raises:
        PlanError: A field is not a number or out of range, in plain words.
    """
    shares = {c: _percent(form, f"share_{c}", f"{CHANNEL_LABELS[c]} (% of the budget)")
              for c in CHANNELS}
    seg = {s: _percent(form, f"seg_{s}", f"Segment {s} (% of the rest of service money)")
           for s in segment_names}
    seg = {s: v for s, v in seg.items() if v > 0}
    lists = {k: _percent(form, f"list_{k}", f"{LISTS[k][0]} (% of service money)")
             for k in LISTS}
    named = {i: _percent(form, f"named_{i}", f"Customer {i} (% of service money)")
             for i in named_ids}
    order = form.get("complaint_order", "oldest")
    if order not in COMPLAINT_ORDERS:
        raise PlanError(f"Complaint handling: choose one of the listed orders, got {order!r}.")
    return Plan.from_dict({
        "shares": shares,
        "segment_service": seg,
        "lists": {k: v for k, v in lists.items() if v > 0},
        "named": {str(i): v for i, v in named.items() if v > 0},
        "complaint_order": order,
        "promise": _percent(form, "promise", "Marketing promise (0–100)", 0.5),
        "range_update": _percent(form, "range_update", "Product range (0–100)", 1.0),
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
#: Why a facilitator page is refused without the token.
NEED_TOKEN = "The facilitator pages need the facilitator link (with its token)."


@dataclass
class Site:
    """What every page shares: the engine, the templates, the facilitator's token, the base URL.

    The app keeps it in `app.state.site`; each route reads it from its request.

    Attributes:
        engine: The workshop engine served.
        env: The Jinja2 environment (`make_env`).
        token: The facilitator's token.
        public_url: Base URL shown in links ('' = the request's).
    """

    engine: WorkshopEngine
    env: Environment
    token: str
    public_url: str = ""

    def page(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        """A rendered template."""
        return HTMLResponse(self.env.get_template(template).render(**ctx), status_code=status)

    def refuse(self, status: int, message: str) -> HTMLResponse:
        """The error page with `message`."""
        return self.page("error.html", status=status, message=message)

    def base(self, request: Request) -> str:
        """The base URL for links shown on a page (no trailing slash)."""
        return self.public_url.rstrip("/") or str(request.base_url).rstrip("/")

    def authorised(self, request: Request) -> bool:
        """The request carries the facilitator's token (in ``?token=`` or its cookie)."""
        given = request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
        return secrets.compare_digest(given.encode(), self.token.encode())

    def with_token_cookie(self, request: Request, resp: Response) -> Response:
        """`resp`, setting the token cookie when the token came in the query."""
        if request.query_params.get("token"):
            resp.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return resp

    def session_of(self, request: Request) -> str | None:
        """The trainee's session id from the cookie, if it opens a session."""
        sid = request.cookies.get(SESSION_COOKIE, "")
        try:
            self.engine.trainee(sid)
        except AccessError:
            return None
        return sid


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
    site = Site(eng, make_env(), eng.store.facilitator_token(), public_url)
    app = Starlette(routes=ROUTES)
    app.state.site = site
    app.state.engine = eng
    app.state.token = site.token
    return app


# --------------------------------------------------------------------------- trainee pages


def _enter_session(sid: str) -> Response:
    """To the dashboard, with the session's cookie set."""
    resp = RedirectResponse("/play", status_code=303)
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", max_age=SESSION_MAX_AGE)
    return resp


def index(request: Request) -> Response:
    """The start page, or the dashboard for a trainee with a session."""
    site = _site(request)
    if site.session_of(request):
        return RedirectResponse("/play", status_code=303)
    return site.page("index.html")


async def join(request: Request) -> Response:
    """Join a workshop under a display name, or rejoin with a resume code (GET shows the form).

    A browser that already has a session in this workshop is offered to continue it,
    and joining again from it returns that session rather than a second one.
    """
    site = _site(request)
    wid = request.path_params["wid"]
    try:
        ws = site.engine.workshop(wid)
    except AccessError:
        return site.refuse(404, "There is no workshop at this link. Ask your facilitator "
                                "for the join link.")
    mine = site.session_of(request)
    current = site.engine.trainee(mine) if mine else None
    if current is not None and current.workshop_id != wid:
        mine, current = None, None
    if request.method == "GET":
        if current is None and ws.status == "closed":
            return site.refuse(410, "This workshop is closed: nobody can join it any more.")
        return site.page("join.html", workshop=ws, error=None, name="", current=current)
    form = await request.form()
    name, code = str(form.get("name", "")), str(form.get("code", "")).strip()
    try:
        if code:
            sid = site.engine.rejoin(wid, code)
        else:
            sid = await run_in_threadpool(site.engine.join, wid, name, mine)
    except AccessError as exc:
        return site.page("join.html", status=400, workshop=ws, error=f"{exc} Check it on the "
                         "dashboard of your first device, or ask your facilitator.", name=name,
                         current=current)
    except PlanError as exc:
        return site.page("join.html", status=410 if isinstance(exc, WorkshopClosed) else 400,
                         workshop=ws, error=str(exc), name=name, current=current)
    return _enter_session(sid)


def resume(request: Request) -> Response:
    """Continue a session on another device (the link sets the session cookie)."""
    site = _site(request)
    sid = request.path_params["sid"]
    try:
        site.engine.trainee(sid)
    except AccessError:
        return site.refuse(403, "This link does not open any session.")
    return _enter_session(sid)


def dashboard_page(request: Request, sid: str, status: int = 200, error: str | None = None,
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
    return site.page("dashboard.html", status=status, d=d, error=error, v=values,
                     trend_charts=trend_charts(d),
                     time_left=None if left is None else duration(left),
                     resume_url=f"{site.base(request)}/resume/{sid}")


async def play(request: Request) -> Response:
    """GET: the dashboard; POST: play the round the form describes."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(403, "You have no session here. Join with the link your facilitator "
                                "gave you.")
    if request.method == "GET":
        return dashboard_page(request, sid)
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(submit_form, request, sid, form)


def submit_form(request: Request, sid: str, form: dict[str, str]) -> Response:
    """Play the round of the dashboard's form; on refusal, the dashboard with the reason."""
    eng = _site(request).engine
    setup = eng.setup(eng.trainee(sid).workshop_id)
    try:
        round_no = int(form.get("round", "0"))
    except ValueError:
        round_no = -1
    try:
        plan = plan_from_form(form, list(setup.segment_names), list(setup.named_ids))
        eng.submit(sid, round_no, plan)
    except NotOpen as exc:  # the class's pacing: keep what the trainee typed
        return dashboard_page(request, sid, status=409, error=str(exc), values=form)
    except RoundConflict as exc:
        return dashboard_page(request, sid, status=409, error=str(exc))
    except PlanError as exc:
        return dashboard_page(request, sid, status=400, error=str(exc), values=form)
    return RedirectResponse("/play", status_code=303)


def debrief(request: Request) -> Response:
    """The debrief of a finished game (the dashboard until then)."""
    site = _site(request)
    sid = site.session_of(request)
    if sid is None:
        return site.refuse(403, "You have no session here.")
    try:
        b = site.engine.debrief(sid)
    except PlanError:
        return RedirectResponse("/play", status_code=303)
    return site.page("debrief.html", b=b, **debrief_charts(b))


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
    if not site.authorised(request):
        return site.refuse(403, NEED_TOKEN)
    error = None
    if request.method == "POST":
        form = await request.form()
        try:
            rounds = int(str(form.get("rounds", "4")))
            seed_text = str(form.get("seed", "")).strip()
            seed = int(seed_text) if seed_text else None
            minutes = float(str(form.get("minutes", "") or 0).strip() or 0)
            if not math.isfinite(minutes):
                raise ValueError(f"round time: a number of minutes, got {minutes}")
            ws = await run_in_threadpool(
                site.engine.create_workshop, str(form.get("scenario", "default")), rounds,
                seed, str(form.get("title", "")).strip()[:80], bool(form.get("paced")),
                round(60 * minutes))
        except (ValueError, ScenarioError) as exc:
            error = f"Could not start the workshop: {exc}"
        else:
            return RedirectResponse(f"/facilitator/w/{ws.id}", status_code=303)
    resp = site.page("facilitator.html", status=400 if error else 200, error=error,
                     workshops=site.engine.workshops(), scenarios=builtin_names(),
                     base=site.base(request))
    return site.with_token_cookie(request, resp)


def _fac_workshop_id(request: Request) -> tuple[Site, str, Response | None]:
    """The site, the workshop id, and the refusal if the token is missing or there is no such workshop."""
    site = _site(request)
    wid = request.path_params["wid"]
    if not site.authorised(request):
        return site, wid, site.refuse(403, NEED_TOKEN)
    try:
        site.engine.workshop(wid)
    except AccessError:
        return site, wid, site.refuse(404, "No such workshop.")
    return site, wid, None


def fac_workshop(request: Request, error: str | None = None) -> Response:
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
    resp = site.page("workshop.html", status=400 if error else 200, r=rep, progress=progress,
                     w=w, pace=pace_text(w, eng.clock()), error=error,
                     join_url=f"{site.base(request)}/join/{wid}", **class_charts(rep))
    return site.with_token_cookie(request, resp)


#: The facilitator's pacing buttons and the engine's method each calls.
PACE_ACTIONS = {"advance": "advance", "pause": "pause", "resume": "resume", "close": "close"}


async def fac_pace(request: Request) -> Response:
    """The facilitator's pacing controls: open the next round, pause, go on, close."""
    site, wid, refused = _fac_workshop_id(request)
    if refused:
        return refused
    form = await request.form()
    action = str(form.get("action", ""))
    if action not in PACE_ACTIONS:
        return fac_workshop(request, error=f"Unknown control {action!r}.")
    if action == "close" and not form.get("confirm"):
        return fac_workshop(request, error="To close the workshop, tick 'yes, close it' first.")
    try:
        await run_in_threadpool(getattr(site.engine, PACE_ACTIONS[action]), wid)
    except ValueError as exc:
        return fac_workshop(request, error=str(exc))
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
                raise ValueError(f"Unknown roster action {action!r}.")
        except (AccessError, ValueError) as exc:  # PlanError is a ValueError
            error = str(exc)
        else:
            return RedirectResponse(f"/facilitator/w/{wid}/roster", status_code=303)
    resp = site.page("roster.html", status=400 if error else 200, w=eng.workshop(wid),
                     progress=eng.progress(wid), error=error)
    return site.with_token_cookie(request, resp)


def pace_text(w: Any, now: float) -> str:
    """The workshop's pacing in plain words, for the facilitator."""
    if w.status == "closed":
        return "Closed: nobody joins or plays any more; debriefs and reports stay open."
    if not w.paced:
        state = "Self-paced: every trainee plays every round at their own speed."
    elif w.open_round == 0:
        state = "Paced: no round is open yet; trainees read their dashboard."
    elif w.time_up:
        state = (f"Paced: time is up for round {w.open_round} of {w.rounds}; the standing plan "
                 f"was submitted for whoever had not.")
    else:
        state = f"Paced: round {w.open_round} of {w.rounds} is open."
        left = w.seconds_left(now)
        if left is not None:
            state += f" {duration(left)} left."
    return state + (" Paused: nobody can submit." if w.status == "paused" else "")


def duration(seconds: float) -> str:
    """A countdown in plain words: '9 min 40 s', '45 s'."""
    s = max(0, math.ceil(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def fac_report(request: Request) -> Response:
    """The class report as an HTML file to download."""
    site = _site(request)
    if not site.authorised(request):
        return site.refuse(403, "The report needs the facilitator's token.")
    wid = request.path_params["wid"]
    try:
        rep = site.engine.class_report(wid)
    except AccessError:
        return site.refuse(404, "No such workshop.")
    html = site.env.get_template("report.html").render(r=rep, **class_charts(rep))
    return HTMLResponse(html, headers={
        "Content-Disposition": f'attachment; filename="workshop-{wid}-report.html"'})


def fac_csv(request: Request) -> Response:
    """The class report as CSV to download."""
    site = _site(request)
    if not site.authorised(request):
        return Response("forbidden: the facilitator token is needed\n", status_code=403,
                        media_type="text/plain")
    wid = request.path_params["wid"]
    try:
        rep = site.engine.class_report(wid)
    except AccessError:
        return Response("no such workshop\n", status_code=404, media_type="text/plain")
    return Response(class_csv(rep), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="workshop-{wid}.csv"'})


ROUTES = [
    Route("/", index),
    Route("/join/{wid}", join, methods=["GET", "POST"]),
    Route("/resume/{sid}", resume),
    Route("/play", play, methods=["GET", "POST"]),
    Route("/debrief", debrief),
    Route("/api/session", api_session),
    Route("/api/round", api_round, methods=["POST"]),
    Route("/facilitator", facilitator, methods=["GET", "POST"]),
    Route("/facilitator/w/{wid}", fac_workshop),
    Route("/facilitator/w/{wid}/pace", fac_pace, methods=["POST"]),
    Route("/facilitator/w/{wid}/roster", fac_roster, methods=["GET", "POST"]),
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


def trend_charts(d: dict[str, Any]) -> list[str]:
    """SVG trend charts of a dashboard, marked at the end of each quarter so far."""
    tr = d["trends"]
    rounds_at = [d["per_round"] * (k + 1) for k in range(d["round"])]
    return [
        charts.line_chart({"active customers": tr["active_customers"]}, "Active customers",
                          marks=rounds_at),
        charts.line_chart({"revenue": tr["revenue"]}, "Revenue per week", marks=rounds_at),
        charts.line_chart({"churned": tr["churned"], "complaints": tr["complaints"]},
                          "Customers lost and complaints per week", marks=rounds_at),
        charts.line_chart({"CSAT": tr["csat_surveyed"]}, "Survey CSAT (1–5), last 13 weeks",
                          marks=rounds_at),
    ]


def debrief_charts(b: dict[str, Any]) -> dict[str, str]:
    """SVG charts of a debrief."""
    rows = b["outcomes"]

    def short(r: dict[str, Any]) -> str:
        return "You" if r["key"] == "you" else (
            "data-driven" if r["key"] == "data_driven" else labels()[r["key"]].split(" (")[0])

    profit = charts.bar_chart([(short(r), r["profit"]) for r in rows], "Profit over your rounds",
                              fmt="{:,.0f}", highlight="You")
    churn = charts.bar_chart([(short(r), 100 * r["churn_rate"]) for r in rows],
                             "Churn over your rounds (%)", fmt="{:.1f} %", highlight="You")
    prof = charts.bar_chart([(p["kind"].replace("_", " "), p["score"]) for p in b["profile"]],
                            "Your bias profile (0 = no sign, 1 = fully biased)", limit=1.0,
                            line=FLAG, line_label="resembles")
    s = b["series"]
    active = charts.line_chart({"you": s["you"]["active_customers"],
                                "data-driven bot": s["data_driven"]["active_customers"]},
                               "Active customers, you vs the data-driven bot",
                               width=560, marks=[b["warmup"]])
    sat = charts.line_chart({"you": s["you"]["satisfaction"],
                             "data-driven bot": s["data_driven"]["satisfaction"]},
                            "True satisfaction (hidden while you played)", width=560,
                            marks=[b["warmup"]])
    return {"chart_profit": profit, "chart_churn": churn, "chart_profile": prof,
            "chart_active": active, "chart_sat": sat}


def class_charts(r: dict[str, Any]) -> dict[str, str]:
    """SVG charts of the class report."""
    prof = charts.bar_chart([(k.replace("_", " "), v) for k, v in r["class_profile"].items()],
                            "Class bias profile (mean score of finished trainees)", limit=1.0,
                            line=FLAG, line_label="resembles")
    fin = [t for t in r["trainees"] if t.get("outcomes")]
    items = [(t["name"], t["outcomes"]["profit"]) for t in fin]
    if "data_driven" in r["bots"]:
        items.append(("data-driven bot", r["bots"]["data_driven"]["outcomes"]["profit"]))
    profit = charts.bar_chart(items, "Profit: each trainee and the data-driven bot",
                              fmt="{:,.0f}", highlight="data-driven bot")
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


def class_csv(r: dict[str, Any]) -> str:
    """The class report as CSV: one row per trainee and per bot (formula-safe, `inert`)."""
    metrics = list(r["outcome_labels"])
    kinds = list(r["labels"])
    rows: list[list[Any]] = [["who", "kind", "rounds_done", "finished", *metrics,
                              *[f"bias_{k}" for k in kinds], "top_bias"]]
    for t in r["trainees"]:
        o = t.get("outcomes") or {}
        rows.append([t["name"], "trainee", t["rounds_done"], t["finished"],
                     *[o.get(m, "") for m in metrics],
                     *[f"{t['profile'][k]:.3f}" for k in kinds], t["top"] or ""])
    for key, b in r["bots"].items():
        rows.append([b["label"], "bot", r["workshop"]["rounds"], True,
                     *[b["outcomes"].get(m, "") for m in metrics], *["" for _ in kinds],
                     key if key != "data_driven" else ""])
    out = io.StringIO()
    csv.writer(out).writerows([[inert(c) for c in row] for row in rows])
    return out.getvalue()


def dumps(x: Any) -> str:
    """JSON for embedding (NaN → null)."""
    return json.dumps(_jsonable(x))
