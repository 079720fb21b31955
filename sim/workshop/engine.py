"""The exercise, scriptable from Python: workshops, trainees, rounds, debriefs, profiles.

The web app is a thin layer over `WorkshopEngine`; a researcher or a test can
play the same exercise without it::

    from sim.workshop.engine import WorkshopEngine
    eng = WorkshopEngine("workshop.sqlite")
    ws = eng.create_workshop("default", rounds=4)
    me = eng.join(ws.id, "Ada")
    board = eng.dashboard(me)                 # what the CRM shows
    eng.submit(me, 1, {"shares": {"service": 0.7, "complaints": 0.2,
                                  "points": 0.0, "acquisition": 0.1}})
    ...
    eng.debrief(me)                           # outcomes beside the bots, bias profile

Games live in memory and are rebuilt from the stored plans on the same seed
when the server restarts (or when a game was evicted from the cache).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.loader import load_scenario
from sim.scenario import Scenario
from sim.workshop.bots import BotSpec, debrief_bots, play_bot
from sim.workshop.game import STORY_TEXT, STORY_TRUTH, Game, Plan, PlanError, Setup
from sim.workshop.profile import FLAG, BiasScore, flagged_top, labels, profile, top_bias
from sim.workshop.store import Store, TraineeRow, WorkshopRow

#: Bump when bots or the profile change, so cached bot results are recomputed.
BOT_VERSION = "1"
OUTCOME_LABELS = {
    "churn_rate": "Churn", "revenue": "Revenue", "profit": "Profit",
    "satisfaction": "Satisfaction", "loyalty": "Loyalty", "nps": "NPS",
    "complaints": "Complaints", "retained_not_loyal": "Retained, not loyal",
}


class AccessError(LookupError):
    """No such session or workshop (or not yours)."""


class RoundConflict(PlanError):
    """The round submitted is not the one being played (already played, or ahead)."""


@dataclass(frozen=True)
class Workshop:
    """A workshop's public facts.

    Attributes:
        id: Its id (in the join link).
        title: Its title.
        scenario_name: The scenario played.
        rounds: Rounds per trainee.
        seed: The market realisation everyone plays.
    """

    id: str
    title: str
    scenario_name: str
    rounds: int
    seed: int


class WorkshopEngine:
    """Workshops, trainees and their games, backed by a `Store`.

    Args:
        store: A `Store` or the path of its SQLite file.
        population_cap: Largest population a workshop plays (small for a laptop).
        cache_size: Games kept in memory.
    """

    def __init__(self, store: Store | str | Path, population_cap: int = 3000,
                 cache_size: int = 64) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.cap = population_cap
        self.cache_size = cache_size
        self._games: OrderedDict[str, Game] = OrderedDict()
        self._setups: dict[str, Setup] = {}
        self._bots: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._session_locks: dict[str, threading.Lock] = {}
        self._bot_locks: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------------ workshops

    def create_workshop(self, scenario: str | Path | Scenario, rounds: int = 4,
                        seed: int | None = None, title: str = "") -> Workshop:
        """Start a workshop.

        Args:
            scenario: A built-in name, a scenario file, or a `Scenario`.
            rounds: Rounds (quarters) each trainee plays.
            seed: The market realisation; default the scenario's root seed.
            title: Shown to trainees.

        Returns:
            The workshop.

        Raises:
            ValueError: If `rounds` is out of 1..12.
        """
        if not 1 <= int(rounds) <= 12:
            raise ValueError(f"rounds: between 1 and 12, got {rounds}")
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        seed = int(sc.seed if seed is None else seed)
        row = self.store.add_workshop(title or f"{sc.name} workshop", sc.name,
                                      json.dumps(sc.model_dump(mode="json")), int(rounds), seed)
        return self._public(row)

    def workshop(self, workshop_id: str) -> Workshop:
        """A workshop by id.

        Raises:
            AccessError: If there is none.
        """
        row = self.store.workshop(workshop_id)
        if row is None:
            raise AccessError("no such workshop")
        return self._public(row)

    def workshops(self) -> list[Workshop]:
        """All workshops, newest first."""
        return [self._public(r) for r in self.store.workshops()]

    def find_or_create(self, scenario: str | Path, rounds: int) -> Workshop:
        """The newest workshop of this scenario and rounds, or a new one (for restarts)."""
        sc = load_scenario(scenario)
        for w in self.workshops():
            if w.scenario_name == sc.name and w.rounds == rounds:
                return w
        return self.create_workshop(sc, rounds)

    @staticmethod
    def _public(row: WorkshopRow) -> Workshop:
        return Workshop(row.id, row.title, row.scenario_name, row.rounds, row.seed)

    def setup(self, workshop_id: str) -> Setup:
        """The workshop's shared set-up (built once, cached)."""
        with self._lock:
            if workshop_id not in self._setups:
                row = self.store.workshop(workshop_id)
                if row is None:
                    raise AccessError("no such workshop")
                sc = Scenario.model_validate(json.loads(row.scenario_json))
                self._setups[workshop_id] = Setup.build(sc, row.rounds, row.seed, self.cap)
            return self._setups[workshop_id]

    # ------------------------------------------------------------------ trainees

    def join(self, workshop_id: str, name: str) -> str:
        """A trainee joins; returns their secret session id.

        Raises:
            AccessError: If the workshop does not exist.
            PlanError: If the name is empty or too long.
        """
        self.workshop(workshop_id)
        name = " ".join(str(name).split())
        if not name:
            raise PlanError("Please type a display name.")
        if len(name) > 60:
            raise PlanError("A display name can have at most 60 characters.")
        return self.store.add_trainee(workshop_id, name).id

    def trainee(self, session_id: str) -> TraineeRow:
        """The trainee of a session.

        Raises:
            AccessError: If the session id is unknown.
        """
        row = self.store.trainee(session_id) if session_id else None
        if row is None:
            raise AccessError("unknown session")
        return row

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            return self._session_locks.setdefault(session_id, threading.Lock())

    def game(self, session_id: str) -> Game:
        """The trainee's game, rebuilt from the stored rounds if it is not in memory."""
        t = self.trainee(session_id)
        with self._lock:
            g = self._games.get(session_id)
            if g is not None:
                self._games.move_to_end(session_id)
                return g
        g = Game(self.setup(t.workshop_id))
        for r in self.store.rounds(session_id):
            g.play(Plan.from_dict(r.plan))
        with self._lock:
            self._games[session_id] = g
            while len(self._games) > self.cache_size:
                self._games.popitem(last=False)
        return g

    def forget(self) -> None:
        """Drop every game from memory (they are rebuilt from the database on demand)."""
        with self._lock:
            self._games.clear()

    # ------------------------------------------------------------------ playing

    def dashboard(self, session_id: str) -> dict[str, Any]:
        """What the trainee's CRM shows now, with the workshop and progress."""
        t = self.trainee(session_id)
        with self._session_lock(session_id):
            g = self.game(session_id)
            d = g.dashboard()
        w = self.workshop(t.workshop_id)
        d["trainee"] = t.name
        d["workshop"] = {"id": w.id, "title": w.title, "scenario": w.scenario_name}
        d["history"] = [{"round": r.round, "plan": r.plan, "results": r.results}
                        for r in self.store.rounds(session_id)]
        return d

    def submit(self, session_id: str, round_no: int, plan: Plan | dict[str, Any]
               ) -> dict[str, Any]:
        """Play one round with a plan; stored before this returns.

        Args:
            session_id: The trainee's session.
            round_no: The round being decided (1-based); guards against double submits.
            plan: A `Plan` or its plain data.

        Returns:
            The round's results (what the CRM shows about the quarter).

        Raises:
            AccessError: Unknown session.
            PlanError: Invalid plan (in plain words); nothing is changed.
            RoundConflict: The round is not the one being played.
        """
        self.trainee(session_id)
        p = plan if isinstance(plan, Plan) else Plan.from_dict(plan)
        with self._session_lock(session_id):
            g = self.game(session_id)
            expected = g.rounds_done + 1
            if g.finished:
                raise RoundConflict("All rounds have been played; see your debrief.")
            if int(round_no) != expected:
                raise RoundConflict(f"Round {round_no} is not being played; this is round "
                                    f"{expected}. Nothing was changed.")
            g.check(p)
            try:
                rec = g.play(p)
            except Exception:
                self._drop(session_id)
                raise
            try:
                self.store.add_round(session_id, rec.round, rec.plan, rec.results, rec.features)
            except sqlite3.IntegrityError:
                self._drop(session_id)
                raise RoundConflict("That round was already submitted. Nothing was changed."
                                    ) from None
            except Exception:
                self._drop(session_id)
                raise
        return rec.results

    def _drop(self, session_id: str) -> None:
        with self._lock:
            self._games.pop(session_id, None)

    # ------------------------------------------------------------------ debrief

    def bots(self, workshop_id: str) -> dict[str, Any]:
        """The debrief bots' outcomes, series and profiles on the workshop's market (cached)."""
        with self._lock:
            if workshop_id in self._bots:
                return self._bots[workshop_id]
            lock = self._bot_locks.setdefault(workshop_id, threading.Lock())
        with lock:
            if workshop_id in self._bots:
                return self._bots[workshop_id]
            cached = self.store.bot_results(workshop_id, BOT_VERSION)
            if cached is None:
                setup = self.setup(workshop_id)
                cached = {}
                for spec in debrief_bots():
                    g = play_bot(setup, spec, setup.seed)
                    prof = profile([r.features for r in g.records])
                    cached[spec.name] = {
                        "label": bot_label(spec),
                        "outcomes": g.outcomes(),
                        "series": g.series(),
                        "profile": [s.to_dict() for s in prof],
                    }
                self.store.save_bot_results(workshop_id, BOT_VERSION, cached)
            with self._lock:
                self._bots[workshop_id] = cached
            return cached

    def profile(self, session_id: str) -> list[BiasScore]:
        """The trainee's bias profile from the rounds played so far."""
        self.trainee(session_id)
        return profile([r.features for r in self.store.rounds(session_id)])

    def debrief(self, session_id: str) -> dict[str, Any]:
        """The debrief: the trainee's outcomes beside the bots', the bias profile, the truth.

        Raises:
            PlanError: If the trainee has not played every round yet.
        """
        t = self.trainee(session_id)
        with self._session_lock(session_id):
            g = self.game(session_id)
            if not g.finished:
                raise PlanError(f"The debrief opens after the last round; "
                                f"{g.setup.rounds - g.rounds_done} round(s) to go.")
            mine = g.outcomes()
            series = g.series()
            warm = g.per_round
            stories = []
            pop = g.model.customers
            for key, cid in g.setup.stories.items():
                stories.append({"key": key, "name": STORY_TEXT[key][0],
                                "truth": STORY_TRUTH[key],
                                "still_customer": bool(pop.status[cid] == 1)})
        bots = self.bots(t.workshop_id)
        prof = self.profile(session_id)
        rows = [{"who": "You", "key": "you", **mine}]
        for name, b in bots.items():
            rows.append({"who": b["label"], "key": name, **b["outcomes"]})
        return {
            "trainee": t.name,
            "workshop": self.workshop(t.workshop_id).__dict__,
            "outcomes": rows,
            "labels": OUTCOME_LABELS,
            "profile": [s.to_dict() for s in prof],
            "top": top_bias(prof).to_dict(),
            "series": {"you": series, "data_driven": bots["data_driven"]["series"]},
            "warmup": warm,
            "stories": stories,
            "rounds": [{"round": r.round, "plan": r.plan, "results": r.results}
                       for r in self.store.rounds(session_id)],
        }

    # ------------------------------------------------------------------ facilitator

    def progress(self, workshop_id: str) -> list[dict[str, Any]]:
        """Every trainee's progress (from the database; cheap enough to poll)."""
        w = self.workshop(workshop_id)
        counts = self.store.round_counts(workshop_id)
        out = []
        for t in self.store.trainees(workshop_id):
            rounds = self.store.rounds(t.id)
            last = rounds[-1].results if rounds else {}
            out.append({
                "name": t.name, "joined": t.joined, "rounds_done": counts.get(t.id, 0),
                "rounds": w.rounds, "finished": counts.get(t.id, 0) >= w.rounds,
                "last_profit": last.get("profit"), "last_churned": last.get("churned"),
                "last_submitted": rounds[-1].submitted if rounds else None,
            })
        return out

    def class_report(self, workshop_id: str, with_bots: bool = True) -> dict[str, Any]:
        """The class's outcomes side by side and its bias profile.

        Trainees who finished are compared on the full outcomes; bots are
        included when `with_bots` (computed once per workshop).
        """
        w = self.workshop(workshop_id)
        trainees = []
        for t in self.store.trainees(workshop_id):
            rounds = self.store.rounds(t.id)
            prof = profile([r.features for r in rounds])
            top = flagged_top(prof)
            row: dict[str, Any] = {"name": t.name, "rounds_done": len(rounds),
                                   "finished": len(rounds) >= w.rounds,
                                   "profile": {s.kind: s.score for s in prof},
                                   "top": top.kind if top else None}
            if row["finished"]:
                with self._session_lock(t.id):
                    row["outcomes"] = self.game(t.id).outcomes()
            trainees.append(row)
        finished = [r for r in trainees if r["finished"]]
        class_profile = {k: float(np.mean([r["profile"][k] for r in finished])) if finished
                         else 0.0 for k in labels()}
        flagged = {k: sum(1 for r in finished if r["profile"][k] >= FLAG) for k in labels()}
        bots = self.bots(workshop_id) if with_bots else {}
        return {
            "workshop": w.__dict__,
            "trainees": trainees,
            "class_profile": class_profile,
            "flagged": flagged,
            "labels": labels(),
            "outcome_labels": OUTCOME_LABELS,
            "bots": {k: {"label": b["label"], "outcomes": b["outcomes"]} for k, b in bots.items()},
        }


def bot_label(spec: BotSpec) -> str:
    """A bot's name in the debrief."""
    if not spec.biases:
        return f"Data-driven bot ({spec.policy.replace('_', ' ')}, no bias)"
    kind, s = spec.biases[0]
    return f"Bot with {labels()[kind].split(' (')[0].lower()} ({s:.1f})"


def play_script(engine: WorkshopEngine, workshop_id: str, name: str, spec: BotSpec
                ) -> str:
    """Let a bot play a whole workshop as a trainee, through the engine; returns its session.

    This is what the accuracy test does: the bot sees each round's CRM and
    submits a plan exactly as a trainee would.
    """
    from sim.workshop.bots import Bot, decision_to_plan

    sid = engine.join(workshop_id, name)
    bot = Bot(spec, engine.workshop(workshop_id).seed)
    g = engine.game(sid)
    bot.read_report(g.view0)
    while not g.finished:
        view = g.view()
        plan = decision_to_plan(bot.decide(view), view, g)
        engine.submit(sid, g.rounds_done + 1, plan)
        g = engine.game(sid)
    return sid
