"""Running a real class: paced rounds, countdowns, pause, closing, and the roster (engine and store)."""

from __future__ import annotations

import sqlite3

import pytest

from sim.workshop.engine import (
    TIMED_OUT_NOTE,
    AccessError,
    NotOpen,
    RoundConflict,
    WorkshopClosed,
    WorkshopEngine,
)
from sim.workshop.game import Plan, PlanError
from sim.workshop.store import ADDED_COLUMNS

GOOD = {"shares": {"service": 0.6, "complaints": 0.2, "points": 0.0, "acquisition": 0.2}}
MINE = {"shares": {"service": 0.5, "complaints": 0.3, "points": 0.0, "acquisition": 0.1},
        "lists": {"slowing": 0.4}, "complaint_order": "value", "promise": 0.6,
        "range_update": 0.5, "note": "mine"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(tmp_path, clock):
    return WorkshopEngine(tmp_path / "w.sqlite", clock=clock)


def played(engine, sid):
    return [r.round for r in engine.store.rounds(engine.trainee(sid).id)]


# --------------------------------------------------------------------------- pacing


def test_a_paced_workshop_refuses_rounds_the_facilitator_has_not_opened(engine):
    ws = engine.create_workshop("default", rounds=3, paced=True)
    assert ws.paced and ws.open_round == 0 and ws.status == "open"
    ada = engine.join(ws.id, "Ada")
    board = engine.dashboard(ada)
    assert not board["pace"]["can_play"] and "not opened the first round" in board["pace"]["message"]
    with pytest.raises(NotOpen, match="not opened the first round"):
        engine.submit(ada, 1, GOOD)

    assert engine.advance(ws.id).open_round == 1
    assert engine.dashboard(ada)["pace"]["can_play"]
    engine.submit(ada, 1, GOOD)
    with pytest.raises(NotOpen, match="Round 2 is not open yet"):
        engine.submit(ada, 2, GOOD)
    assert not engine.dashboard(ada)["pace"]["can_play"]
    assert played(engine, ada) == [1]

    engine.advance(ws.id)
    engine.submit(ada, 2, GOOD)
    # A late joiner catches up on every round opened so far, and no further.
    ben = engine.join(ws.id, "Ben")
    engine.submit(ben, 1, GOOD)
    engine.submit(ben, 2, GOOD)
    with pytest.raises(NotOpen):
        engine.submit(ben, 3, GOOD)
    engine.advance(ws.id)
    engine.submit(ben, 3, GOOD)
    with pytest.raises(ValueError, match="All 3 rounds are open"):
        engine.advance(ws.id)
    assert played(engine, ben) == [1, 2, 3]


def test_a_self_paced_workshop_opens_every_round_and_has_no_countdown(engine):
    ws = engine.create_workshop("default", rounds=2)
    assert not ws.paced
    ada = engine.join(ws.id, "Ada")
    engine.submit(ada, 1, GOOD)
    engine.submit(ada, 2, GOOD)
    with pytest.raises(ValueError, match="self-paced"):
        engine.advance(ws.id)
    with pytest.raises(ValueError, match="needs a paced workshop"):
        engine.create_workshop("default", rounds=2, round_seconds=600)
    with pytest.raises(ValueError, match="round time"):
        engine.create_workshop("default", rounds=2, paced=True, round_seconds=-5)


def test_a_closed_workshop_refuses_new_trainees_and_plays(engine):
    ws = engine.create_workshop("default", rounds=1)
    ada, ben = engine.join(ws.id, "Ada"), engine.join(ws.id, "Ben")
    engine.submit(ada, 1, GOOD)
    assert engine.close(ws.id).status == "closed"
    with pytest.raises(WorkshopClosed, match="closed"):
        engine.join(ws.id, "Cy")
    with pytest.raises(WorkshopClosed, match="closed"):
        engine.submit(ben, 1, GOOD)
    assert played(engine, ben) == []
    board = engine.dashboard(ben)
    assert not board["pace"]["can_play"] and "closed" in board["pace"]["message"]
    # What was played stays readable; a trainee's own browser still finds their session.
    assert engine.debrief(ada)["trainee"] == "Ada"
    assert engine.join(ws.id, "Ben", session_id=ben) == ben
    with pytest.raises(ValueError, match="closed"):
        engine.pause(ws.id)
    # A restart of the server starts a new workshop rather than resuming a closed one.
    assert engine.find_or_create("default", 1).id != ws.id


def test_the_countdown_submits_the_standing_plan(engine, clock):
    ws = engine.create_workshop("default", rounds=3, paced=True, round_seconds=600)
    ada, ben = engine.join(ws.id, "Ada"), engine.join(ws.id, "Ben")
    engine.advance(ws.id)
    assert engine.dashboard(ada)["pace"]["seconds_left"] == 600
    engine.submit(ada, 1, MINE)
    clock.now += 599
    assert played(engine, ben) == []
    clock.now += 2
    # Nobody needs to be on a page: the facilitator's page polling applies it.
    engine.progress(ws.id)
    assert played(engine, ben) == [1]
    ben_round = engine.store.rounds(ben)[0].plan
    assert ben_round == {**Plan().to_dict(), "note": TIMED_OUT_NOTE}
    assert engine.workshop(ws.id).time_up
    with pytest.raises(NotOpen, match="Time is up"):
        engine.submit(ada, 2, GOOD)

    engine.advance(ws.id)
    clock.now += 601
    # Ada, who does not submit round 2, keeps the plan she made for round 1.
    board = engine.dashboard(ada)
    assert board["round"] == 3 and not board["pace"]["can_play"]
    kept = engine.store.rounds(ada)[1].plan
    assert kept == {**Plan.from_dict(MINE).to_dict(), "note": TIMED_OUT_NOTE}
    # A late joiner is brought level with the class at the next time-out.
    cy = engine.join(ws.id, "Cy")
    engine.tick(ws.id)
    assert played(engine, cy) == [1, 2]


def test_a_pause_stops_play_and_the_clock(engine, clock):
    ws = engine.create_workshop("default", rounds=2, paced=True, round_seconds=600)
    ada = engine.join(ws.id, "Ada")
    engine.advance(ws.id)
    clock.now += 100
    w = engine.pause(ws.id)
    assert w.status == "paused" and w.remaining == pytest.approx(500)
    with pytest.raises(NotOpen, match="paused"):
        engine.submit(ada, 1, GOOD)
    clock.now += 10_000
    engine.tick(ws.id)
    assert played(engine, ada) == []
    w = engine.resume(ws.id)
    assert w.status == "open" and w.seconds_left(clock.now) == pytest.approx(500)
    engine.submit(ada, 1, GOOD)
    # Opening the next round also ends a pause.
    engine.pause(ws.id)
    assert engine.advance(ws.id).status == "open"


def test_pacing_is_kept_across_a_restart(tmp_path, clock):
    path = tmp_path / "w.sqlite"
    eng = WorkshopEngine(path, clock=clock)
    ws = eng.create_workshop("default", rounds=3, paced=True, round_seconds=300, seed=11)
    eng.advance(ws.id)
    eng.pause(ws.id)
    again = WorkshopEngine(path, clock=clock).workshop(ws.id)
    assert (again.paced, again.open_round, again.status, again.round_seconds, again.seed) == (
        True, 1, "paused", 300, 11)


def test_a_database_of_the_earlier_version_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE workshops (id TEXT PRIMARY KEY, title TEXT NOT NULL,
            scenario_name TEXT NOT NULL, scenario_json TEXT NOT NULL, rounds INTEGER NOT NULL,
            seed INTEGER NOT NULL, created TEXT NOT NULL);
        CREATE TABLE trainees (id TEXT PRIMARY KEY, workshop_id TEXT NOT NULL,
            name TEXT NOT NULL, joined TEXT NOT NULL);
    """)
    fresh = WorkshopEngine(tmp_path / "fresh.sqlite")
    src = fresh.create_workshop("default", rounds=1, seed=3)
    row = fresh.store.workshop(src.id)
    db.execute("INSERT INTO workshops VALUES (?,?,?,?,?,?,?)",
               (row.id, row.title, row.scenario_name, row.scenario_json, 1, 3, row.created))
    db.execute("INSERT INTO trainees VALUES ('old-session', ?, 'Ada', '2026-01-01')", (row.id,))
    db.commit()
    db.close()

    eng = WorkshopEngine(path)
    w = eng.workshop(row.id)
    assert (w.paced, w.open_round, w.status, w.seed) == (False, 0, "open", 3)
    ada = eng.trainee("old-session")
    assert ada.name == "Ada" and len(ada.code) == 7
    assert eng.rejoin(row.id, ada.code) == "old-session"
    eng.submit("old-session", 1, GOOD)
    cols = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(workshops)")}
    assert set(ADDED_COLUMNS["workshops"]) <= cols


def test_each_workshop_gets_its_own_market_unless_told(engine):
    seeds = {engine.create_workshop("default", rounds=1).seed for _ in range(4)}
    assert len(seeds) == 4
    assert engine.create_workshop("default", rounds=1, seed=42).seed == 42


# --------------------------------------------------------------------------- roster


def test_rejoining_returns_the_same_session(engine):
    ws = engine.create_workshop("default", rounds=2)
    other = engine.create_workshop("default", rounds=2)
    ada = engine.join(ws.id, "Ada")
    engine.submit(ada, 1, GOOD)
    # The same browser (its session cookie) or the resume code: the same session.
    assert engine.join(ws.id, "Ada", session_id=ada) == ada
    code = engine.trainee(ada).code
    for typed in (code, code.lower(), code.replace("-", " "), f" {code.replace('-', '')} "):
        assert engine.rejoin(ws.id, typed) == ada
    with pytest.raises(AccessError):
        engine.rejoin(other.id, code)
    with pytest.raises(AccessError):
        engine.rejoin(ws.id, "ZZZ-ZZZ")
    # Another session cookie (another workshop's) does not carry over.
    assert engine.join(other.id, "Ada", session_id=ada) != ada
    # The same name without the session is someone else, and must say who they are.
    with pytest.raises(PlanError, match="resume code"):
        engine.join(ws.id, " ada ")
    assert [p["name"] for p in engine.progress(ws.id)] == ["Ada"]
    assert engine.dashboard(ada)["code"] == code


def test_the_facilitator_renames_removes_and_merges(engine):
    ws = engine.create_workshop("default", rounds=2)
    ada, ada2, ben = (engine.join(ws.id, n) for n in ("Ada", "Ada L", "Bne"))
    engine.submit(ada, 1, GOOD)
    ref = {p["name"]: p["ref"] for p in engine.progress(ws.id)}
    assert engine.roster_entry(ws.id, ref["Bne"]).id == ben

    assert engine.rename(ben, "Ben").name == "Ben"
    with pytest.raises(PlanError, match="already called"):
        engine.rename(ben, "ADA")
    assert engine.rename(ben, "Ben").name == "Ben"  # keeping one's own name is fine

    engine.merge(ada, ada2)
    # The second browser continues in the kept session, with its rounds.
    assert engine.trainee(ada2).id == ada
    assert engine.dashboard(ada2)["round"] == 2
    engine.submit(ada2, 2, GOOD)
    assert played(engine, ada) == [1, 2]
    with pytest.raises(ValueError):
        engine.merge(ada, ada2)

    engine.remove(ben)
    with pytest.raises(AccessError):
        engine.dashboard(ben)
    with pytest.raises(AccessError):
        engine.submit(ben, 1, GOOD)
    with pytest.raises(AccessError):
        engine.roster_entry(ws.id, ref["Bne"])
    assert [p["name"] for p in engine.progress(ws.id)] == ["Ada"]
    assert [t["name"] for t in engine.class_report(ws.id, with_bots=False)["trainees"]] == ["Ada"]
    # A removed trainee's name is free again.
    engine.join(ws.id, "Ben")


def test_rounds_already_submitted_are_not_submitted_again_by_the_countdown(engine, clock):
    ws = engine.create_workshop("default", rounds=2, paced=True, round_seconds=60)
    ada = engine.join(ws.id, "Ada")
    engine.advance(ws.id)
    engine.submit(ada, 1, MINE)
    clock.now += 61
    engine.tick(ws.id)
    engine.tick(ws.id)
    assert [r.plan["note"] for r in engine.store.rounds(ada)] == ["mine"]
    with pytest.raises(RoundConflict):
        engine.submit(ada, 1, GOOD)


def test_a_restarted_server_resumes_the_workshop_it_started(engine):
    """`workshop serve` finds its workshop again; the options shape only a new one."""
    ws = engine.find_or_create("default", 2, paced=True, round_seconds=120, seed=5)
    assert (ws.paced, ws.round_seconds, ws.seed) == (True, 120, 5)
    assert engine.find_or_create("default", 2, seed=6).id == ws.id
    with pytest.raises(ValueError, match="round time"):
        engine.find_or_create("default", 3, round_seconds=60)


def test_the_serve_command_offers_the_class_options():
    from typer.testing import CliRunner

    from sim.workshop.cli import app

    out = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    for option in ("--paced", "--round-minutes", "--seed"):
        assert option in out
