"""SQLite persistence of workshops: a server restart loses nothing.

Every write commits before the function returns, so a round the trainee was
told is saved is on disk. The database holds only what cannot be recomputed:
the workshops (scenario, rounds, seed), the trainees, and each submitted plan
with its results and profile features (the second game's rounds, played after
the debrief, in a table of their own); games are rebuilt by replaying the plans
on the same seed.
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
CREATE TABLE IF NOT EXISTS practice (
    trainee_id TEXT PRIMARY KEY REFERENCES trainees(id),
    plan_json TEXT NOT NULL,
    results_json TEXT NOT NULL,
    submitted TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bots (
    workshop_id TEXT NOT NULL REFERENCES workshops(id),
    version TEXT NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (workshop_id, version)
);
""" + "".join(f"""
CREATE TABLE IF NOT EXISTS {table} (
    trainee_id TEXT NOT NULL REFERENCES trainees(id),
    round INTEGER NOT NULL,
    plan_json TEXT NOT NULL,
    results_json TEXT NOT NULL,
    features_json TEXT NOT NULL,
    submitted TEXT NOT NULL,
    PRIMARY KEY (trainee_id, round)
);""" for table in ("rounds", "second_game"))  # the first game's rounds, the second game's

#: Columns added since the first release: a database of an earlier version gets them on opening.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "workshops": {
        "paced": "INTEGER NOT NULL DEFAULT 0",
        "round_seconds": "INTEGER NOT NULL DEFAULT 0",
        "open_round": "INTEGER NOT NULL DEFAULT 0",
        "status": "TEXT NOT NULL DEFAULT 'open'",
        "deadline": "REAL",
        "remaining": "REAL",
        "language": "TEXT NOT NULL DEFAULT 'en'",
        "token": "TEXT",
        "view_key": "TEXT",
        "join_code": "TEXT",
        "anonymous": "INTEGER NOT NULL DEFAULT 0",
        "second_rounds": "INTEGER NOT NULL DEFAULT 2",
    },
    "trainees": {
        "code": "TEXT",
        "removed": "INTEGER NOT NULL DEFAULT 0",
        "merged_into": "TEXT",
    },
}
#: Letters of resume codes and join codes (no 0/O, 1/I/L: read aloud and typed from a slide).
CODE_LETTERS = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: Length of a workshop's join code (typed by trainees at /join).
JOIN_CODE_LENGTH = 6


def now() -> str:
    """The current time, ISO format, UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class WorkshopRow:
    """A workshop as stored.

    Attributes:
        paced: Trainees play only the rounds the facilitator has opened.
        round_seconds: Countdown of an opened round (0 = none).
        open_round: The last round opened (paced workshops; 0 = none yet).
        status: 'open', 'paused' or 'closed'.
        deadline: When the open round's countdown ends (seconds since the epoch), if one runs.
        remaining: Seconds left on the countdown when it was paused.
        language: The workshop's language (`sim.i18n.LANGUAGES`).
        token: The workshop's own facilitator token (opens this workshop's facilitator pages only).
        view_key: The key of its read-only projector view (no facilitator controls, no codes).
        join_code: The short code trainees type at /join (`JOIN_CODE_LENGTH` letters and digits).
        anonymous: The projector view shows "Trainee 1, 2 …" instead of the display names.
        second_rounds: Rounds of the second, shorter game played after the debrief (0 = none).
    """

    id: str
    title: str
    scenario_name: str
    scenario_json: str
    rounds: int
    seed: int
    created: str
    paced: bool = False
    round_seconds: int = 0
    open_round: int = 0
    status: str = "open"
    deadline: float | None = None
    remaining: float | None = None
    language: str = "en"
    token: str = ""
    view_key: str = ""
    join_code: str = ""
    anonymous: bool = False
    second_rounds: int = 2


@dataclass(frozen=True)
class TraineeRow:
    """A trainee as stored.

    Attributes:
        ref: Their number in the workshop's roster (not secret, unlike `id`).
        code: Their resume code (opens the session from the join page).
        removed: The facilitator removed them.
        merged_into: The session this one was merged into, if it was.
    """

    id: str
    workshop_id: str
    name: str
    joined: str
    ref: int = 0
    code: str = ""
    removed: bool = False
    merged_into: str | None = None


WORKSHOP_SELECT = ("SELECT id, title, scenario_name, scenario_json, rounds, seed, created, paced, "
                   "round_seconds, open_round, status, deadline, remaining, language, token, view_key, "
                   "join_code, anonymous, second_rounds FROM workshops")
TRAINEE_SELECT = ("SELECT id, workshop_id, name, joined, rowid, code, removed, merged_into "
                  "FROM trainees")


def _workshop(r: tuple) -> WorkshopRow:
    return WorkshopRow(*r[:7], bool(r[7]), int(r[8]), int(r[9]), *r[10:14],
                       *(x or "" for x in r[14:17]), bool(r[17]), int(r[18]))


def _trainee(r: tuple) -> TraineeRow:
    return TraineeRow(*r[:5], r[5] or "", bool(r[6]), r[7])


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
            for table, columns in ADDED_COLUMNS.items():
                have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                for name, decl in columns.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
            for (sid,) in db.execute("SELECT id FROM trainees WHERE code IS NULL").fetchall():
                db.execute("UPDATE trainees SET code=? WHERE id=?", (_code(), sid))
            for (wid,) in db.execute("SELECT id FROM workshops WHERE token IS NULL OR view_key IS "
                                     "NULL OR join_code IS NULL").fetchall():
                db.execute("UPDATE workshops SET token=COALESCE(token, ?), view_key=COALESCE("
                           "view_key, ?), join_code=COALESCE(join_code, ?) WHERE id=?",
                           (secrets.token_urlsafe(24), secrets.token_urlsafe(12),
                            _free_join_code(db), wid))

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
                     seed: int, paced: bool = False, round_seconds: int = 0,
                     language: str = "en", second_rounds: int = 2) -> WorkshopRow:
        """Store a new workshop with an unguessable id, its own token and view key, and a free join code."""
        with self._lock, self._connect() as db:
            row = WorkshopRow(secrets.token_urlsafe(9), title, scenario_name, scenario_json,
                              int(rounds), int(seed), now(), bool(paced), int(round_seconds),
                              language=language, token=secrets.token_urlsafe(24),
                              view_key=secrets.token_urlsafe(12), join_code=_free_join_code(db),
                              second_rounds=int(second_rounds))
            db.execute("INSERT INTO workshops (id, title, scenario_name, scenario_json, rounds, "
                       "seed, created, paced, round_seconds, language, token, view_key, join_code, "
                       "second_rounds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (row.id, row.title, row.scenario_name, row.scenario_json, row.rounds,
                        row.seed, row.created, int(row.paced), row.round_seconds, row.language,
                        row.token, row.view_key, row.join_code, row.second_rounds))
        return row

    def workshop(self, workshop_id: str) -> WorkshopRow | None:
        """A workshop by id."""
        with self._connect() as db:
            r = db.execute(f"{WORKSHOP_SELECT} WHERE id=?", (workshop_id,)).fetchone()
        return _workshop(r) if r else None

    def workshop_by(self, *, join_code: str | None = None,
                    view_key: str | None = None) -> WorkshopRow | None:
        """A workshop by its join code or its projector view's key."""
        key, value = ("join_code", join_code) if join_code is not None else ("view_key", view_key)
        if not value:
            return None
        with self._connect() as db:
            r = db.execute(f"{WORKSHOP_SELECT} WHERE {key}=?", (value,)).fetchone()
        return _workshop(r) if r else None

    def workshops(self) -> list[WorkshopRow]:
        """All workshops, newest first."""
        with self._connect() as db:
            rows = db.execute(f"{WORKSHOP_SELECT} ORDER BY created DESC, rowid DESC")
            return [_workshop(r) for r in rows.fetchall()]

    def set_language(self, workshop_id: str, language: str) -> None:
        """Change a workshop's language."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE workshops SET language=? WHERE id=?", (language, workshop_id))

    def set_anonymous(self, workshop_id: str, anonymous: bool) -> None:
        """Show or hide the trainees' names on the workshop's projector view."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE workshops SET anonymous=? WHERE id=?", (int(anonymous), workshop_id))

    def set_pace(self, workshop_id: str, **fields: Any) -> None:
        """Change a workshop's pacing (`open_round`, `status`, `deadline`, `remaining`)."""
        allowed = {"open_round", "status", "deadline", "remaining"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"pacing fields are {', '.join(sorted(allowed))}")
        cols = ", ".join(f"{k}=?" for k in fields)
        with self._lock, self._connect() as db:
            db.execute(f"UPDATE workshops SET {cols} WHERE id=?", (*fields.values(), workshop_id))

    # ------------------------------------------------------------------ trainees

    def add_trainee(self, workshop_id: str, name: str) -> TraineeRow:
        """Store a new trainee with an unguessable session id and a short resume code."""
        with self._lock, self._connect() as db:
            taken = {r[0] for r in db.execute("SELECT code FROM trainees WHERE workshop_id=?",
                                              (workshop_id,))}
            code = _code()
            while code in taken:
                code = _code()
            sid, joined = secrets.token_urlsafe(32), now()
            cur = db.execute("INSERT INTO trainees (id, workshop_id, name, joined, code) "
                             "VALUES (?,?,?,?,?)", (sid, workshop_id, name, joined, code))
            return TraineeRow(sid, workshop_id, name, joined, int(cur.lastrowid or 0), code)

    def trainee(self, session_id: str) -> TraineeRow | None:
        """A trainee by session id (removed and merged ones too)."""
        with self._connect() as db:
            r = db.execute(f"{TRAINEE_SELECT} WHERE id=?", (session_id,)).fetchone()
        return _trainee(r) if r else None

    def trainee_by(self, workshop_id: str, *, ref: int | None = None,
                   code: str | None = None) -> TraineeRow | None:
        """A workshop's trainee by roster number or resume code (removed and merged ones too)."""
        key, value = ("rowid", ref) if ref is not None else ("code", code)
        with self._connect() as db:
            r = db.execute(f"{TRAINEE_SELECT} WHERE workshop_id=? AND {key}=?",
                           (workshop_id, value)).fetchone()
        return _trainee(r) if r else None

    def trainees(self, workshop_id: str) -> list[TraineeRow]:
        """A workshop's trainees in the order they joined (not the removed or merged ones)."""
        with self._connect() as db:
            rows = db.execute(f"{TRAINEE_SELECT} WHERE workshop_id=? AND removed=0 AND "
                              "merged_into IS NULL ORDER BY rowid", (workshop_id,))
            return [_trainee(r) for r in rows.fetchall()]

    def rename_trainee(self, session_id: str, name: str) -> None:
        """Change a trainee's display name."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE trainees SET name=? WHERE id=?", (name, session_id))

    def remove_trainee(self, session_id: str, merged_into: str | None = None) -> None:
        """Take a trainee off the roster (into another session when merged); their rounds stay stored."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE trainees SET removed=1, merged_into=? WHERE id=?",
                       (merged_into, session_id))

    # ------------------------------------------------------------------ rounds

    def add_round(self, trainee_id: str, round_no: int, plan: dict[str, Any],
                  results: dict[str, float], features: dict[str, Any], second: bool = False) -> None:
        """Store a submitted round (committed before returning).

        Args:
            trainee_id: The trainee.
            round_no: The round (1-based).
            plan: The plan played.
            results: The quarter's results.
            features: The plan's profile features.
            second: A round of the second game (stored apart: it never changes the first's).

        Raises:
            sqlite3.IntegrityError: If that round was already stored.
        """
        with self._lock, self._connect() as db:
            db.execute(f"INSERT INTO {_rounds_table(second)} VALUES (?,?,?,?,?,?)",
                       (trainee_id, int(round_no), json.dumps(plan), json.dumps(results),
                        json.dumps(features), now()))

    def rounds(self, trainee_id: str, second: bool = False) -> list[RoundRow]:
        """A trainee's rounds in order (`second`: of the second game)."""
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM {_rounds_table(second)} WHERE trainee_id=? ORDER BY round",
                              (trainee_id,)).fetchall()
        return [RoundRow(r[0], r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4]), r[5])
                for r in rows]

    def round_counts(self, workshop_id: str, second: bool = False) -> dict[str, int]:
        """Rounds submitted per trainee of a workshop (`second`: of the second game)."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT t.id, COUNT(r.round) FROM trainees t LEFT JOIN {_rounds_table(second)} r "
                "ON r.trainee_id = t.id WHERE t.workshop_id=? GROUP BY t.id", (workshop_id,))
            return {r[0]: int(r[1]) for r in rows.fetchall()}

    # ------------------------------------------------------------------ the practice round

    def add_practice(self, trainee_id: str, plan: dict[str, Any], results: dict[str, float]) -> None:
        """Store a trainee's practice round (apart from the rounds: it never counts).

        Raises:
            sqlite3.IntegrityError: If the trainee has played it already.
        """
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO practice VALUES (?,?,?,?)",
                       (trainee_id, json.dumps(plan), json.dumps(results), now()))

    def practice(self, trainee_id: str) -> tuple[dict[str, Any], dict[str, float]] | None:
        """A trainee's practice round (plan, results), if they played it."""
        with self._connect() as db:
            r = db.execute("SELECT plan_json, results_json FROM practice WHERE trainee_id=?",
                           (trainee_id,)).fetchone()
        return (json.loads(r[0]), json.loads(r[1])) if r else None

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


def _rounds_table(second: bool) -> str:
    """The table of a game's rounds: the first game's, or the second game's."""
    return "second_game" if second else "rounds"


def _free_join_code(db: sqlite3.Connection) -> str:
    """A join code no workshop of the database has."""
    taken = {r[0] for r in db.execute("SELECT join_code FROM workshops WHERE join_code IS NOT NULL")}
    while True:
        code = "".join(secrets.choice(CODE_LETTERS) for _ in range(JOIN_CODE_LENGTH))
        if code not in taken:
            return code


def _code() -> str:
    """A short resume code, e.g. 'K7P-2QX'."""
    letters = "".join(secrets.choice(CODE_LETTERS) for _ in range(6))
    return f"{letters[:3]}-{letters[3:]}"
