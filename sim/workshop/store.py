"""SQLite persistence of workshops: a server restart loses nothing.

Every write commits before the function returns, so a round the trainee was
told is saved is on disk. The database holds only what cannot be recomputed:
the workshops (scenario, rounds, seed), the trainees, and each submitted plan
with its results and profile features; games are rebuilt by replaying the
plans on the same seed.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workshops (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    scenario_name TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    rounds INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trainees (
    id TEXT PRIMARY KEY,
    workshop_id TEXT NOT NULL REFERENCES workshops(id),
    name TEXT NOT NULL,
    joined TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trainees_by_workshop ON trainees(workshop_id);
CREATE TABLE IF NOT EXISTS rounds (
    trainee_id TEXT NOT NULL REFERENCES trainees(id),
    round INTEGER NOT NULL,
    plan_json TEXT NOT NULL,
    results_json TEXT NOT NULL,
    features_json TEXT NOT NULL,
    submitted TEXT NOT NULL,
    PRIMARY KEY (trainee_id, round)
);
CREATE TABLE IF NOT EXISTS bots (
    workshop_id TEXT NOT NULL REFERENCES workshops(id),
    version TEXT NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (workshop_id, version)
);
"""


def now() -> str:
    """The current time, ISO format, UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class WorkshopRow:
    """A workshop as stored."""

    id: str
    title: str
    scenario_name: str
    scenario_json: str
    rounds: int
    seed: int
    created: str


@dataclass(frozen=True)
class TraineeRow:
    """A trainee as stored."""

    id: str
    workshop_id: str
    name: str
    joined: str


@dataclass(frozen=True)
class RoundRow:
    """A submitted round as stored."""

    trainee_id: str
    round: int
    plan: dict[str, Any]
    results: dict[str, float]
    features: dict[str, Any]
    submitted: str


class Store:
    """The workshop database.

    Args:
        path: The SQLite file (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process kill
        try:
            with db:  # commits on success, rolls back on error
                yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ settings

    def facilitator_token(self) -> str:
        """The facilitator's secret token, created once and kept across restarts."""
        with self._lock, self._connect() as db:
            row = db.execute("SELECT value FROM settings WHERE key='token'").fetchone()
            if row:
                return row[0]
            token = secrets.token_urlsafe(24)
            db.execute("INSERT INTO settings VALUES ('token', ?)", (token,))
            return token

    # ------------------------------------------------------------------ workshops

    def add_workshop(self, title: str, scenario_name: str, scenario_json: str, rounds: int,
                     seed: int) -> WorkshopRow:
        """Store a new workshop with an unguessable id."""
        row = WorkshopRow(secrets.token_urlsafe(9), title, scenario_name, scenario_json,
                          int(rounds), int(seed), now())
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO workshops VALUES (?,?,?,?,?,?,?)",
                       (row.id, row.title, row.scenario_name, row.scenario_json, row.rounds,
                        row.seed, row.created))
        return row

    def workshop(self, workshop_id: str) -> WorkshopRow | None:
        """A workshop by id."""
        with self._connect() as db:
            r = db.execute("SELECT * FROM workshops WHERE id=?", (workshop_id,)).fetchone()
        return WorkshopRow(*r) if r else None

    def workshops(self) -> list[WorkshopRow]:
        """All workshops, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM workshops ORDER BY created DESC, rowid DESC")
            return [WorkshopRow(*r) for r in rows.fetchall()]

    # ------------------------------------------------------------------ trainees

    def add_trainee(self, workshop_id: str, name: str) -> TraineeRow:
        """Store a new trainee with an unguessable session id."""
        row = TraineeRow(secrets.token_urlsafe(32), workshop_id, name, now())
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO trainees VALUES (?,?,?,?)",
                       (row.id, row.workshop_id, row.name, row.joined))
        return row

    def trainee(self, session_id: str) -> TraineeRow | None:
        """A trainee by session id."""
        with self._connect() as db:
            r = db.execute("SELECT * FROM trainees WHERE id=?", (session_id,)).fetchone()
        return TraineeRow(*r) if r else None

    def trainees(self, workshop_id: str) -> list[TraineeRow]:
        """A workshop's trainees in the order they joined."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM trainees WHERE workshop_id=? ORDER BY rowid",
                              (workshop_id,))
            return [TraineeRow(*r) for r in rows.fetchall()]

    # ------------------------------------------------------------------ rounds

    def add_round(self, trainee_id: str, round_no: int, plan: dict[str, Any],
                  results: dict[str, float], features: dict[str, Any]) -> None:
        """Store a submitted round (committed before returning).

        Raises:
            sqlite3.IntegrityError: If that round was already stored.
        """
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO rounds VALUES (?,?,?,?,?,?)",
                       (trainee_id, int(round_no), json.dumps(plan), json.dumps(results),
                        json.dumps(features), now()))

    def rounds(self, trainee_id: str) -> list[RoundRow]:
        """A trainee's rounds in order."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM rounds WHERE trainee_id=? ORDER BY round",
                              (trainee_id,)).fetchall()
        return [RoundRow(r[0], r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4]), r[5])
                for r in rows]

    def round_counts(self, workshop_id: str) -> dict[str, int]:
        """Rounds submitted per trainee of a workshop."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT t.id, COUNT(r.round) FROM trainees t LEFT JOIN rounds r "
                "ON r.trainee_id = t.id WHERE t.workshop_id=? GROUP BY t.id", (workshop_id,))
            return {r[0]: int(r[1]) for r in rows.fetchall()}

    # ------------------------------------------------------------------ bots

    def bot_results(self, workshop_id: str, version: str) -> dict[str, Any] | None:
        """Cached debrief bots of a workshop."""
        with self._connect() as db:
            r = db.execute("SELECT result_json FROM bots WHERE workshop_id=? AND version=?",
                           (workshop_id, version)).fetchone()
        return json.loads(r[0]) if r else None

    def save_bot_results(self, workshop_id: str, version: str, result: dict[str, Any]) -> None:
        """Cache the debrief bots of a workshop."""
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO bots VALUES (?,?,?)",
                       (workshop_id, version, json.dumps(result)))
