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
    eng.submit_second(me, 1, {...})           # the second, shorter game on a fresh market
    eng.before_after(me)                      # bias scores before and after the debrief

Games live in memory and are rebuilt from the stored plans on the same seed
when the server restarts (or when a game was evicted from the cache).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.i18n import LANGUAGES, N_, localize, msg, nmsg
from sim.loader import load_scenario
from sim.scenario import Scenario
from sim.workshop.bots import BotSpec, debrief_bots, play_bot
from sim.workshop.game import Game, Plan, PlanError, Setup
from sim.workshop.profile import FLAG, BiasScore, flagged_top, labels, profile, shown, top_bias
from sim.workshop.store import Store, TraineeRow, WorkshopRow
from sim.workshop.words import BIAS_SHORT, POLICY_WORDS

#: Bump when bots or the profile change, so cached bot results are recomputed.
BOT_VERSION = "3"
OUTCOME_LABELS = {
    "churn_rate": N_("Churn"), "revenue": N_("Revenue"), "profit": N_("Profit"),
    "satisfaction": N_("Satisfaction"), "loyalty": N_("Loyalty"), "nps": N_("NPS"),
    "complaints": N_("Complaints"), "retained_not_loyal": N_("Retained, not loyal"),
}


class AccessError(LookupError):
    """No such session or workshop (or not yours)."""


class RoundConflict(PlanError):
    """The round submitted is not the one being played (already played, or ahead)."""


class NotOpen(RoundConflict):
    """The facilitator has not opened this round yet, has paused the class, or time is up."""


class WorkshopClosed(NotOpen):
    """The facilitator has closed the workshop: nobody joins or plays any more."""


#: The note of a plan submitted for a trainee when the round's time ran out.
TIMED_OUT_NOTE = N_("(time ran out: the standing plan was submitted)")
#: Longest countdown of a round (seconds).
MAX_ROUND_SECONDS = 3 * 3600
#: The title of a workshop started without one (the scenario's name is a code name).
DEFAULT_TITLE = N_("Customer management workshop")
#: Morewedge et al. (2015): at least this much less bias two months after one serious game
#: with personal feedback (their smallest effect at two months, as a share of the bias before).
STUDY_REDUCTION = 0.2357
#: A bias score counts as fallen in the second game when it is this much lower: smaller moves are
#: the noise of another market (bots that never learn, 63 games: 90 % of their scores moved by
#: less than 0.1 between the games; docs/workshop.md, "The second game").
FELL_BY = 0.1


def _derived_seed(seed: int, salt: int, taken: set[int]) -> int:
    """A seed derived from `seed` and `salt` (the same on every restart), none of `taken`."""
    out = int(np.random.SeedSequence([int(seed), salt]).generate_state(1)[0]) % 2**31
    while out in taken:
        out = (out + 1) % 2**31
    return out


def practice_seed(seed: int) -> int:
    """The market of a workshop's practice round: another realisation than the game's (`seed`).

    Derived from the workshop's seed (so a restart rebuilds the same practice market) and
    never equal to it, so the practice shows nothing of the market that counts.
    """
    return _derived_seed(seed, 0x9A7C, {int(seed)})


def second_seed(seed: int) -> int:
    """The market of a workshop's second game: neither the first game's (`seed`) nor the practice's.

    A fresh market, so the second game measures habits rather than a memory of the first
    game's customers; derived from the workshop's seed, so a restart rebuilds it.
    """
    return _derived_seed(seed, 0x5EC2, {int(seed), practice_seed(seed)})


@dataclass(frozen=True)
class Workshop:
    """A workshop's public facts.

    Attributes:
        id: Its id (in the join link).
        title: Its title.
        scenario_name: The scenario played.
        rounds: Rounds per trainee.
        seed: The market realisation everyone plays.
        paced: Trainees play only the rounds the facilitator has opened.
        round_seconds: Countdown of each opened round (0 = none).
        open_round: The last round the facilitator opened (paced; 0 = none yet).
        status: 'open', 'paused' or 'closed'.
        deadline: When the open round's countdown ends (seconds since the epoch), if it runs.
        remaining: Seconds left on the countdown while paused (0 once time is up).
        language: The language its pages speak unless a trainee picks another (`sim.i18n`).
        join_code: The short code trainees can type at /join instead of opening the join link.
            (Its facilitator token and projector key are not here: `WorkshopEngine.keys`.)
        anonymous: Its projector view names trainees "Trainee 1, 2 …" (`set_anonymous`).
        second_rounds: Rounds of the second, shorter game each trainee plays after their
            debrief, on a fresh market (`second_seed`; 0 = no second game).
    """

    id: str
    title: str
    scenario_name: str
    rounds: int
    seed: int
    paced: bool = False
    round_seconds: int = 0
    open_round: int = 0
    status: str = "open"
    deadline: float | None = None
    remaining: float | None = None
    language: str = "en"
    join_code: str = ""
    anonymous: bool = False
    second_rounds: int = 2

    @property
    def time_up(self) -> bool:
        """The open round's countdown has run out (until the facilitator opens the next)."""
        return bool(self.round_seconds and self.open_round and self.deadline is None
                    and self.remaining == 0)

    def seconds_left(self, now: float) -> float | None:
        """Seconds left on the open round's countdown (None: no countdown runs)."""
        if self.deadline is not None:
            return max(0.0, self.deadline - now)
        return self.remaining


class WorkshopEngine:
    """Workshops, trainees and their games, backed by a `Store`.

    Args:
        store: A `Store` or the path of its SQLite file.
        population_cap: Largest population a workshop plays (small for a laptop).
        cache_size: Games kept in memory.
        clock: Seconds since the epoch (the countdowns' clock; tests pass their own).
    """

    def __init__(self, store: Store | str | Path, population_cap: int = 3000,
                 cache_size: int = 64, clock: Callable[[], float] = time.time) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.clock = clock
        self.cap = population_cap
        self.cache_size = cache_size
        self._games: OrderedDict[str, Game] = OrderedDict()
        self._setups: dict[str, Setup] = {}
        self._bots: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._session_locks: dict[str, threading.Lock] = {}
        self._bot_locks: dict[str, threading.Lock] = {}
        self._pace_locks: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------------ workshops

    def create_workshop(self, scenario: str | Path | Scenario, rounds: int = 4,
                        seed: int | None = None, title: str = "", paced: bool = False,
                        round_seconds: int = 0, language: str = "en",
                        second_rounds: int = 2) -> Workshop:
        """Start a workshop.

        Args:
            scenario: A built-in name, a scenario file, or a `Scenario`.
            rounds: Rounds (quarters) each trainee plays.
            seed: The market realisation; default a new one for every workshop, so that
                classes do not meet the same customers and stories.
            title: Shown to trainees; default `DEFAULT_TITLE` in the workshop's language (the
                scenario's name is a code name, and its description gives the lesson away).
            paced: Trainees play only the rounds the facilitator opens (`advance`);
                default self-paced (every round open).
            round_seconds: Countdown of each round the facilitator opens (paced only;
                0 = none); when it runs out the standing plan is submitted for whoever
                has not submitted.
            language: The language of its pages (`sim.i18n.LANGUAGES`, e.g. "zh_CN");
                each trainee can switch to another on their pages.
            second_rounds: Rounds of the second game played after the debrief, on a fresh
                market (`second_seed`); shorter than the first; 0 = none.

        Returns:
            The workshop.

        Raises:
            ValueError: If `rounds` is out of 1..12, `second_rounds` out of 0..12, the countdown
                is out of range or asked of a self-paced workshop, or the language is not one
                the workshop speaks.
        """
        if language not in LANGUAGES:
            raise ValueError(f"language: one of {', '.join(LANGUAGES)}, got {language!r}")
        if not 1 <= int(rounds) <= 12:
            raise ValueError(msg("rounds: between 1 and 12, got {rounds}", rounds=rounds))
        if not 0 <= int(second_rounds) <= 12:
            raise ValueError(msg("second game: between 0 and 12 rounds, got {rounds}",
                                 rounds=second_rounds))
        if not 0 <= int(round_seconds) <= MAX_ROUND_SECONDS:
            raise ValueError(msg("round time: between 0 and {most} minutes, got {got:g}",
                                 most=MAX_ROUND_SECONDS // 60, got=int(round_seconds) / 60))
        if round_seconds and not paced:
            raise ValueError(msg("round time: a countdown needs a paced workshop (the facilitator "
                                 "opens each round)"))
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        title = title or localize(DEFAULT_TITLE, language)
        row = self.store.add_workshop(title, sc.name,
                                      json.dumps(sc.model_dump(mode="json")), int(rounds), seed,
                                      paced, int(round_seconds), language, int(second_rounds))
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

    def by_join_code(self, code: str) -> Workshop:
        """The workshop a join code opens (typed as it comes: case, spaces and dashes do not matter).

        Raises:
            AccessError: If no workshop has that code.
        """
        clean = "".join(ch for ch in str(code).upper() if ch.isalnum())
        row = self.store.workshop_by(join_code=clean) if clean else None
        if row is None:
            raise AccessError(msg("No workshop has the code {code}.", code=str(code).strip()[:20]))
        return self._public(row)

    def by_view_key(self, key: str) -> Workshop:
        """The workshop whose projector view `key` opens.

        Raises:
            AccessError: If no workshop has that key.
        """
        row = self.store.workshop_by(view_key=str(key))
        if row is None:
            raise AccessError("no such projector view")
        return self._public(row)

    def keys(self, workshop_id: str) -> dict[str, str]:
        """The workshop's secrets: its facilitator `token` and its projector view's `view_key`.

        Raises:
            AccessError: If there is no such workshop.
        """
        row = self.store.workshop(workshop_id)
        if row is None:
            raise AccessError("no such workshop")
        return {"token": row.token, "view_key": row.view_key}

    def workshops(self) -> list[Workshop]:
        """All workshops, newest first."""
        return [self._public(r) for r in self.store.workshops()]

    def find_or_create(self, scenario: str | Path, rounds: int, **options: Any) -> Workshop:
        """The newest workshop of this scenario and rounds not closed, or a new one (for restarts).

        Args:
            scenario: A built-in name or a scenario file.
            rounds: Rounds per trainee.
            **options: `create_workshop`'s further arguments, for a new one.
        """
        sc = load_scenario(scenario)
        for w in self.workshops():
            if w.scenario_name == sc.name and w.rounds == rounds and w.status != "closed":
                return w
        return self.create_workshop(sc, rounds, **options)

    def set_language(self, workshop_id: str, language: str) -> Workshop:
        """Change the language of a workshop's pages (each trainee can still pick another).

        Raises:
            AccessError: If there is no such workshop.
            ValueError: If the workshop does not speak `language` (`sim.i18n.LANGUAGES`).
        """
        self.workshop(workshop_id)
        if language not in LANGUAGES:
            raise ValueError(f"language: one of {', '.join(LANGUAGES)}, got {language!r}")
        self.store.set_language(workshop_id, language)
        return self.workshop(workshop_id)

    def set_anonymous(self, workshop_id: str, anonymous: bool = True) -> Workshop:
        """Hide (or show again) the trainees' names on the projector view.

        Raises:
            AccessError: If there is no such workshop.
        """
        self.workshop(workshop_id)
        self.store.set_anonymous(workshop_id, anonymous)
        return self.workshop(workshop_id)

    @staticmethod
    def _public(row: WorkshopRow) -> Workshop:
        return Workshop(row.id, row.title, row.scenario_name, row.rounds, row.seed, row.paced,
                        row.round_seconds, row.open_round, row.status, row.deadline,
                        row.remaining, row.language, row.join_code, row.anonymous,
                        row.second_rounds)

    # ------------------------------------------------------------------ pacing

    def advance(self, workshop_id: str) -> Workshop:
        """Open the next round of a paced workshop (and start its countdown, if it has one).

        Opening a round also ends a pause. Trainees who are behind may play every
        round opened so far.

        Raises:
            AccessError: No such workshop.
            ValueError: The workshop is self-paced, closed, or every round is open.
        """
        w = self._controllable(workshop_id)
        if not w.paced:
            raise ValueError(msg("This workshop is self-paced: every round is open already."))
        if w.open_round >= w.rounds:
            raise ValueError(msg("All {n} rounds are open already.", n=w.rounds))
        timed = bool(w.round_seconds)
        self.store.set_pace(workshop_id, open_round=w.open_round + 1, status="open",
                            deadline=self.clock() + w.round_seconds if timed else None,
                            remaining=None)
        return self.workshop(workshop_id)

    def pause(self, workshop_id: str) -> Workshop:
        """Pause the class: nobody submits and the countdown stops until `resume`.

        Raises:
            AccessError: No such workshop.
            ValueError: The workshop is closed.
        """
        w = self._controllable(workshop_id)
        if w.status == "open":
            left = w.seconds_left(self.clock())
            self.store.set_pace(workshop_id, status="paused", deadline=None, remaining=left)
        return self.workshop(workshop_id)

    def resume(self, workshop_id: str) -> Workshop:
        """End a pause; the countdown goes on with the time it had left.

        Raises:
            AccessError: No such workshop.
            ValueError: The workshop is closed.
        """
        w = self._controllable(workshop_id)
        if w.status == "paused":
            running = w.remaining is not None and w.remaining > 0
            self.store.set_pace(workshop_id, status="open",
                                deadline=self.clock() + w.remaining if running else None,
                                remaining=None if running else w.remaining)
        return self.tick(workshop_id)

    def _controllable(self, workshop_id: str) -> Workshop:
        """The workshop now (`tick`), if it is not closed (else `ValueError`)."""
        w = self.tick(workshop_id)
        if w.status == "closed":
            raise ValueError(msg("This workshop is closed."))
        return w

    def close(self, workshop_id: str) -> Workshop:
        """Close the workshop: nobody joins or plays any more; debriefs and reports stay open.

        Raises:
            AccessError: No such workshop.
        """
        self.workshop(workshop_id)
        self.store.set_pace(workshop_id, status="closed", deadline=None)
        return self.workshop(workshop_id)

    def tick(self, workshop_id: str) -> Workshop:
        """Apply the countdown: once it has run out, submit the standing plan for whoever is behind.

        Called whenever anyone touches the workshop (a page, a submit, the facilitator's
        page refreshing), so no timer thread is needed. A trainee's standing plan is
        the plan of their last round (the previous manager's for round 1), which is
        what their form shows.

        Returns:
            The workshop as it is now.
        """
        w = self.workshop(workshop_id)
        if w.status != "open" or not w.paced or not w.round_seconds:
            return w
        with self._lock:
            lock = self._pace_locks.setdefault(workshop_id, threading.Lock())
        with lock:
            w = self.workshop(workshop_id)
            if w.deadline is not None and self.clock() >= w.deadline:
                self.store.set_pace(workshop_id, deadline=None, remaining=0.0)
                w = self.workshop(workshop_id)
            if w.time_up and w.status == "open":
                counts = self.store.round_counts(workshop_id)
                for t in self.store.trainees(workshop_id):
                    for r in range(counts.get(t.id, 0) + 1, min(w.open_round, w.rounds) + 1):
                        self._submit_standing(t.id, r)
        return w

    def _submit_standing(self, session_id: str, round_no: int) -> None:
        done = self.store.rounds(session_id)
        plan = Plan.from_dict(done[-1].plan) if done else Plan()
        plan.note = TIMED_OUT_NOTE
        try:
            self._play(session_id, round_no, plan)
        except RoundConflict:
            pass  # the trainee's own plan came in first


    def setup(self, workshop_id: str, practice: bool = False, second: bool = False) -> Setup:
        """The workshop's shared set-up (built once, cached); `practice`/`second`: its practice's/second game's.

        The practice round is one quarter on another market (`practice_seed`), the second
        game `Workshop.second_rounds` quarters on a third (`second_seed`).
        """
        key = f"{workshop_id}#practice" if practice else f"{workshop_id}#second" if second else workshop_id
        with self._lock:
            if key not in self._setups:
                row = self.store.workshop(workshop_id)
                if row is None:
                    raise AccessError("no such workshop")
                sc = Scenario.model_validate(json.loads(row.scenario_json))
                rounds, seed = ((1, practice_seed(row.seed)) if practice else
                                (max(row.second_rounds, 1), second_seed(row.seed)) if second else
                                (row.rounds, row.seed))
                self._setups[key] = Setup.build(sc, rounds, seed, self.cap)
            return self._setups[key]

    # ------------------------------------------------------------------ trainees

    def join(self, workshop_id: str, name: str, session_id: str | None = None) -> str:
        """A trainee joins; returns their secret session id.

        Args:
            workshop_id: The workshop.
            name: Their display name (unique in the workshop).
            session_id: The session this browser already has, if any: when it is one of
                this workshop's, the trainee rejoins it instead of starting another.

        Raises:
            AccessError: If the workshop does not exist.
            WorkshopClosed: If the facilitator has closed it.
            PlanError: If the name is empty, too long or taken.
        """
        w = self.workshop(workshop_id)
        if session_id:
            try:
                t = self.trainee(session_id)
            except AccessError:
                pass
            else:
                if t.workshop_id == workshop_id:
                    return t.id
        if w.status == "closed":
            raise WorkshopClosed(msg("This workshop is closed: nobody can join it any more."))
        return self.store.add_trainee(workshop_id, self._free_name(workshop_id, name)).id

    def _free_name(self, workshop_id: str, name: str, keep: str | None = None) -> str:
        """A valid display name not taken by another trainee of the workshop (`keep` may have it)."""
        name = " ".join(str(name).split())
        if not name:
            raise PlanError(msg("Please type a display name."))
        if len(name) > 60:
            raise PlanError(msg("A display name can have at most 60 characters."))
        if any(t.name.casefold() == name.casefold() and t.id != keep
               for t in self.store.trainees(workshop_id)):
            raise PlanError(msg("Someone in this workshop is already called '{name}'. If that is "
                                "you, type your resume code (it is on your dashboard); otherwise "
                                "add an initial to your name.", name=name))
        return name

    def rejoin(self, workshop_id: str, code: str) -> str:
        """The session of a resume code (shown on the trainee's dashboard); returns its id.

        Raises:
            AccessError: If no trainee of this workshop has that code.
        """
        letters = "".join(c for c in str(code).upper() if c.isalnum())
        t = self.store.trainee_by(workshop_id, code=f"{letters[:3]}-{letters[3:]}")
        if t is None or len(letters) != 6:
            raise AccessError(msg("No one in this workshop has that resume code."))
        return self.trainee(t.id).id

    def trainee(self, session_id: str) -> TraineeRow:
        """The trainee of a session (the session it was merged into, if it was).

        Raises:
            AccessError: If the session id is unknown or the facilitator removed it.
        """
        row = self.store.trainee(session_id) if session_id else None
        for _ in range(8):  # merges form a chain; never a loop, but stay bounded
            if row is None or row.merged_into is None:
                break
            row = self.store.trainee(row.merged_into)
        if row is None or row.removed:
            raise AccessError("unknown session")
        return row

    # ------------------------------------------------------------------ roster

    def roster_entry(self, workshop_id: str, ref: int) -> TraineeRow:
        """A trainee of the workshop by roster number (`TraineeRow.ref`).

        Raises:
            AccessError: If there is none on the roster.
        """
        t = self.store.trainee_by(workshop_id, ref=int(ref))
        if t is None or t.removed:
            raise AccessError(msg("no such trainee in this workshop"))
        return t

    def rename(self, session_id: str, name: str) -> TraineeRow:
        """Change a trainee's display name (the facilitator's correction).

        Raises:
            AccessError: Unknown session.
            PlanError: If the name is empty, too long or taken.
        """
        t = self.trainee(session_id)
        self.store.rename_trainee(t.id, self._free_name(t.workshop_id, name, keep=t.id))
        return self.trainee(t.id)

    def remove(self, session_id: str) -> None:
        """Take a trainee off the roster: their session stops working and leaves the reports.

        Raises:
            AccessError: Unknown session.
        """
        t = self.trainee(session_id)
        self.store.remove_trainee(t.id)
        self._drop(t.id)

    def merge(self, keep_id: str, drop_id: str) -> TraineeRow:
        """Make two sessions of one person one: `keep_id`'s rounds stay, `drop_id` leaves the roster.

        The browser of the dropped session continues in the kept one.

        Raises:
            AccessError: Unknown session.
            ValueError: The two are the same, or in different workshops.
        """
        keep, drop = self.trainee(keep_id), self.trainee(drop_id)
        if keep.id == drop.id:
            raise ValueError(msg("A trainee cannot be merged with themselves."))
        if keep.workshop_id != drop.workshop_id:
            raise ValueError(msg("Only trainees of the same workshop can be merged."))
        self.store.remove_trainee(drop.id, merged_into=keep.id)
        self._drop(drop.id)
        return keep

    def _session_lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            return self._session_locks.setdefault(session_id, threading.Lock())

    def game(self, session_id: str, second: bool = False) -> Game:
        """The trainee's game (`second`: their second game), rebuilt from the stored rounds if not in memory."""
        t = self.trainee(session_id)
        return self._cached(f"second:{t.id}" if second else t.id,
                            lambda: Game(self.setup(t.workshop_id, second=second)),
                            [r.plan for r in self.store.rounds(t.id, second=second)])

    def _cached(self, key: str, new: Callable[[], Game], plans: list[dict[str, Any]]) -> Game:
        """The game cached under `key`, or a `new` one with `plans` replayed (then cached)."""
        with self._lock:
            g = self._games.get(key)
            if g is not None:
                self._games.move_to_end(key)
                return g
        g = new()
        for plan in plans:
            g.play(Plan.from_dict(plan))
        with self._lock:
            self._games[key] = g
            while len(self._games) > self.cache_size:
                self._games.popitem(last=False)
        return g

    def forget(self) -> None:
        """Drop every game from memory (they are rebuilt from the database on demand)."""
        with self._lock:
            self._games.clear()

    # ------------------------------------------------------------------ playing

    def dashboard(self, session_id: str) -> dict[str, Any]:
        """What the trainee's CRM shows now, with the workshop, progress and pacing (`pace`)."""
        t = self.trainee(session_id)
        w = self.tick(t.workshop_id)
        d = self._board(t, w, self.game, self.store.rounds(t.id))
        d["pace"] = self.pace(w, d["round"])
        return d

    def _board(self, t: TraineeRow, w: Workshop, game: Callable[[str], Game],
               history: list[Any]) -> dict[str, Any]:
        """The dashboard of a trainee's `game` (a getter by session), with who, where and `history`."""
        with self._session_lock(t.id):
            d = game(t.id).dashboard()
        d["trainee"], d["code"] = t.name, t.code
        d["workshop"] = {"id": w.id, "title": w.title, "scenario": w.scenario_name}
        d["history"] = [{"round": r.round, "plan": r.plan, "results": r.results} for r in history]
        return d

    def pace(self, w: Workshop, round_no: int, second: bool = False) -> dict[str, Any]:
        """Whether a trainee may play `round_no` now, why not in plain words, and the countdown.

        Args:
            w: The workshop now.
            round_no: The round to play.
            second: Of the second game, which only a pause or closing stops (never the rounds
                the facilitator opens or the countdown).

        Returns:
            ``can_play``, ``message`` (why not; '' when they can), ``paced``,
            ``open_round``, ``status`` and ``seconds_left`` (None: no countdown).
        """
        try:
            if second:
                self._check_status(w)
            else:
                self._check_open(w, round_no)
        except NotOpen as exc:
            can, message = False, exc.args[0]
        else:
            can, message = True, ""
        timed = w.paced and not second
        return {"can_play": can, "message": message, "paced": timed,
                "open_round": w.open_round, "status": w.status,
                "seconds_left": w.seconds_left(self.clock()) if timed else None}

    @staticmethod
    def _check_status(w: Workshop) -> None:
        """Raise `WorkshopClosed` if the workshop is closed, `NotOpen` if it is paused."""
        if w.status == "closed":
            raise WorkshopClosed(msg("The facilitator has closed this workshop: no more rounds can "
                                     "be played. Nothing was changed."))
        if w.status == "paused":
            raise NotOpen(msg("The facilitator has paused the workshop; you can submit again when it "
                              "goes on. Nothing was changed."))

    @classmethod
    def _check_open(cls, w: Workshop, round_no: int) -> None:
        """Raise `NotOpen` (`WorkshopClosed`) unless the class's pacing lets round `round_no` be played."""
        cls._check_status(w)
        if not w.paced or int(round_no) > w.rounds:
            return
        if w.time_up:
            raise NotOpen(msg("Time is up for round {n}: the standing plan was submitted "
                              "for whoever had not submitted. Wait for the facilitator to open the "
                              "next round.", n=w.open_round))
        if w.open_round == 0:
            raise NotOpen(msg("The facilitator has not opened the first round yet: read the "
                              "dashboard and wait. Nothing was changed."))
        if int(round_no) > w.open_round:
            raise NotOpen(msg("Round {n} is not open yet: the facilitator opens it. "
                              "Nothing was changed.", n=round_no))

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
            NotOpen: The facilitator has not opened it, has paused the class, or time is up.
            WorkshopClosed: The facilitator has closed the workshop.
        """
        t = self.trainee(session_id)
        p = plan if isinstance(plan, Plan) else Plan.from_dict(plan)
        self._check_open(self.tick(t.workshop_id), int(round_no))
        return self._play(t.id, round_no, p)

    def _play(self, sid: str, round_no: int, p: Plan, second: bool = False) -> dict[str, Any]:
        """Play and store round `round_no` of a trainee's game (`second`: second game; no pacing checks)."""
        key = f"second:{sid}" if second else sid
        with self._session_lock(sid):
            g = self.game(sid, second=second)
            expected = g.rounds_done + 1
            if g.finished:
                raise RoundConflict(msg("All rounds have been played; see your debrief."))
            if int(round_no) != expected:
                raise RoundConflict(msg("Round {n} is not being played; this is round "
                                        "{expected}. Nothing was changed.", n=round_no,
                                        expected=expected))
            g.check(p)
            try:
                rec = g.play(p)
            except Exception:
                self._drop(key)
                raise
            try:
                self.store.add_round(sid, rec.round, rec.plan, rec.results, rec.features, second)
            except sqlite3.IntegrityError:
                self._drop(key)
                raise RoundConflict(msg("That round was already submitted. Nothing was changed.")
                                    ) from None
            except Exception:
                self._drop(key)
                raise
        return rec.results

    def _drop(self, session_id: str) -> None:
        with self._lock:
            self._games.pop(session_id, None)

    # ------------------------------------------------------------------ the practice round

    def practice_game(self, session_id: str) -> Game:
        """The trainee's practice game: one quarter on the practice market (`practice_seed`).

        It is stored apart from the rounds (`Store.add_practice`), so it never reaches
        the profile, the debrief, the progress or the class report.
        """
        t = self.trainee(session_id)
        done = self.store.practice(t.id)
        return self._cached(f"practice:{t.id}", lambda: Game(self.setup(t.workshop_id, practice=True)),
                            [done[0]] if done is not None else [])

    def practice(self, session_id: str) -> dict[str, Any]:
        """What the practice round shows: its dashboard, or its results once played.

        Returns:
            The practice game's dashboard (`Game.dashboard`) with ``trainee``,
            ``workshop``, ``played`` (the quarter's results, or None) and ``plan``
            (the plan played, or None); ``available`` is False once the trainee's
            game has started (the practice comes before round 1).
        """
        t = self.trainee(session_id)
        w = self.tick(t.workshop_id)
        d = self._board(t, w, self.practice_game, [])
        done = self.store.practice(t.id)
        d["plan"], d["played"] = done if done else (None, None)
        d["available"] = (done is None and w.status != "closed"
                          and not self.store.round_counts(w.id).get(t.id, 0))
        return d

    def submit_practice(self, session_id: str, plan: Plan | dict[str, Any]) -> dict[str, Any]:
        """Play the practice round (once, before round 1); it does not count.

        Returns:
            The practice quarter's results.

        Raises:
            AccessError: Unknown session.
            PlanError: Invalid plan (in plain words); nothing is changed.
            RoundConflict: Played already, or the trainee's game has started.
            WorkshopClosed: The facilitator has closed the workshop.
        """
        t = self.trainee(session_id)
        p = plan if isinstance(plan, Plan) else Plan.from_dict(plan)
        if self.tick(t.workshop_id).status == "closed":
            raise WorkshopClosed(msg("The facilitator has closed this workshop: no more rounds can "
                                     "be played. Nothing was changed."))
        if self.store.rounds(t.id):
            raise RoundConflict(msg("The practice round comes before round 1; your game has "
                                    "started. Nothing was changed."))
        with self._session_lock(t.id):
            if self.store.practice(t.id) is not None:
                raise RoundConflict(msg("You have played the practice round already. "
                                        "Nothing was changed."))
            g = self.practice_game(t.id)
            g.check(p)
            try:
                rec = g.play(p)
                self.store.add_practice(t.id, rec.plan, rec.results)
            except sqlite3.IntegrityError:
                self._drop(f"practice:{t.id}")
                raise RoundConflict(msg("You have played the practice round already. "
                                        "Nothing was changed.")) from None
            except Exception:
                self._drop(f"practice:{t.id}")
                raise
        return rec.results

    # ------------------------------------------------------------------ the second game

    def second(self, session_id: str) -> dict[str, Any]:
        """What the second game shows: its dashboard, whether it is open, and once played the change.

        The second game is `Workshop.second_rounds` quarters on a fresh market
        (`second_seed`), played after the debrief. It is self-paced even in a paced
        workshop (only a pause or closing stops it) and stored apart from the first
        game, whose results and profile it never changes.

        Returns:
            The second game's dashboard (`Game.dashboard`) with ``trainee``, ``code``,
            ``workshop``, ``history`` (its rounds so far), ``available`` (open to this
            trainee: the workshop has a second game and their first game is finished),
            ``pace`` (`pace` of the second game) and ``learning`` (`before_after`).
        """
        t = self.trainee(session_id)
        w = self.tick(t.workshop_id)
        d = self._board(t, w, lambda sid: self.game(sid, second=True),
                        self.store.rounds(t.id, second=True))
        d["available"] = bool(w.second_rounds) and len(self.store.rounds(t.id)) >= w.rounds
        d["pace"] = self.pace(w, d["round"], second=True)
        d["learning"] = self.before_after(t.id)
        return d

    def submit_second(self, session_id: str, round_no: int, plan: Plan | dict[str, Any]
                      ) -> dict[str, Any]:
        """Play one round of the second game (after the debrief; stored before this returns).

        Returns:
            The round's results.

        Raises:
            AccessError: Unknown session.
            PlanError: Invalid plan (in plain words); nothing is changed.
            RoundConflict: No second game, the first game is not finished, or the round is
                not the one being played.
            NotOpen: The facilitator has paused the class.
            WorkshopClosed: The facilitator has closed the workshop.
        """
        t = self.trainee(session_id)
        p = plan if isinstance(plan, Plan) else Plan.from_dict(plan)
        w = self.tick(t.workshop_id)
        self._check_status(w)
        if not w.second_rounds:
            raise RoundConflict(msg("This workshop has no second game. Nothing was changed."))
        if len(self.store.rounds(t.id)) < w.rounds:
            raise RoundConflict(msg("The second game opens after your debrief: finish your game "
                                    "first. Nothing was changed."))
        return self._play(t.id, round_no, p, second=True)

    def before_after(self, session_id: str) -> dict[str, Any]:
        """A trainee's bias scores in the first game (before the debrief) and the second (after).

        Returns:
            `learning` of this one trainee: ``before`` their first game's scores and, once
            the second game is finished, ``after``, ``change``, ``fell`` (1 where the score
            fell), the totals and the relative change of the total.
        """
        t = self.trainee(session_id)
        return learning([self._scores(t, self.workshop(t.workshop_id))])

    def _scores(self, t: TraineeRow, w: Workshop) -> dict[str, Any]:
        """A trainee's bias scores: ``profile`` (first game) and ``after`` (second game).

        ``after`` is None until the second game is finished, and None for a bias either
        game gave no chance to show (`shown`: stale data needs the customers' needs to
        move while the trainee plays), so that no change is read into it.
        """
        first = [r.features for r in self.store.rounds(t.id)]
        second = [r.features for r in self.store.rounds(t.id, second=True)]
        before = {s.kind: s.score for s in profile(first)}
        row = {"profile": before, "after": None, "second_done": len(second)}
        if w.second_rounds and len(second) >= w.second_rounds:
            row.update(paired(before, {s.kind: s.score for s in profile(second)}, shown(first),
                              shown(second)))
        return row

    # ------------------------------------------------------------------ debrief

    def bots(self, workshop_id: str, second: bool = False) -> dict[str, Any]:
        """The debrief bots' outcomes, series, profiles and `shown` on the workshop's market, cached.

        `second`: on the second game's market (its bots give `control`).
        """
        key, version = (f"{workshop_id}#second", f"{BOT_VERSION}-second") if second else (
            workshop_id, BOT_VERSION)
        with self._lock:
            if key in self._bots:
                return self._bots[key]
            lock = self._bot_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._bots:
                return self._bots[key]
            cached = self.store.bot_results(workshop_id, version)
            if cached is None:
                setup = self.setup(workshop_id, second=second)
                cached = {}
                for spec in debrief_bots():
                    g = play_bot(setup, spec, setup.seed)
                    features = [r.features for r in g.records]
                    cached[spec.name] = {
                        "label": bot_label(spec),
                        "outcomes": g.outcomes(),
                        "series": g.series(),
                        "profile": [s.to_dict() for s in profile(features)],
                        "shown": shown(features),
                    }
                self.store.save_bot_results(workshop_id, version, cached)
            with self._lock:
                self._bots[key] = cached
            return cached

    def control(self, workshop_id: str) -> dict[str, Any]:
        """The debrief bots' change between the two games' markets (`learning` over the bots).

        The bots never learn, so their change is what the second market alone does to
        the scores: the yardstick beside the class's figure.
        """
        first, second = self.bots(workshop_id), self.bots(workshop_id, second=True)
        return learning([paired({p["kind"]: p["score"] for p in b["profile"]},
                                {p["kind"]: p["score"] for p in second[name]["profile"]},
                                b["shown"], second[name]["shown"]) for name, b in first.items()])

    def profile(self, session_id: str) -> list[BiasScore]:
        """The trainee's bias profile from the rounds played so far."""
        t = self.trainee(session_id)
        return profile([r.features for r in self.store.rounds(t.id)])

    def debrief(self, session_id: str) -> dict[str, Any]:
        """The debrief: the trainee's outcomes beside the bots', the bias profile, the truth.

        Raises:
            PlanError: If the trainee has not played every round yet.
        """
        t = self.trainee(session_id)
        sid = t.id
        with self._session_lock(sid):
            g = self.game(sid)
            if not g.finished:
                raise PlanError(nmsg("The debrief opens after the last round; {n} round to go.",
                                     "The debrief opens after the last round; {n} rounds to go.",
                                     g.setup.rounds - g.rounds_done))
            mine = g.outcomes()
            series = g.series()
            warm = g.per_round
            stories = [s.to_dict() for s in g.stories()]
        bots = self.bots(t.workshop_id)
        prof = self.profile(sid)
        rows = [{"who": N_("You"), "key": "you", **mine}]
        names = bot_names()
        for name, b in bots.items():
            rows.append({"who": names.get(name, b["label"]), "key": name, **b["outcomes"]})
        w = self.workshop(t.workshop_id)
        return {
            "trainee": t.name,
            "workshop": w.__dict__,
            "second": {"rounds": w.second_rounds, "learning": self.before_after(sid),
                       "open": w.second_rounds > 0 and w.status != "closed"},
            "outcomes": rows,
            "labels": OUTCOME_LABELS,
            "profile": [s.to_dict() for s in prof],
            "top": top_bias(prof).to_dict(),
            "series": {"you": series, "data_driven": bots["data_driven"]["series"]},
            "warmup": warm,
            "stories": stories,
            "rounds": [{"round": r.round, "plan": r.plan, "results": r.results}
                       for r in self.store.rounds(sid)],
        }

    # ------------------------------------------------------------------ facilitator

    def progress(self, workshop_id: str) -> list[dict[str, Any]]:
        """Every trainee's progress (from the database; cheap enough to poll).

        Polling it also applies the countdown (`tick`). Each row has the trainee's
        roster number (`ref`, for the facilitator's controls) and resume code.
        """
        w = self.tick(workshop_id)
        counts = self.store.round_counts(workshop_id)
        seconds = self.store.round_counts(workshop_id, second=True)
        out = []
        for t in self.store.trainees(workshop_id):
            rounds = self.store.rounds(t.id)
            last = rounds[-1].results if rounds else {}
            out.append({
                "ref": t.ref, "code": t.code,
                "name": t.name, "joined": t.joined, "rounds_done": counts.get(t.id, 0),
                "rounds": w.rounds, "finished": counts.get(t.id, 0) >= w.rounds,
                "last_profit": last.get("profit"), "last_churned": last.get("churned"),
                "last_submitted": rounds[-1].submitted if rounds else None,
                "second_done": seconds.get(t.id, 0), "second_rounds": w.second_rounds,
            })
        return out

    def class_report(self, workshop_id: str, with_bots: bool = True) -> dict[str, Any]:
        """The class's outcomes side by side, its bias profile, and its change between the games.

        Trainees who finished are compared on the full outcomes; bots are
        included when `with_bots` (computed once per workshop). Each trainee's row
        holds their first game's scores (``profile``) and, once their second game is
        finished, its scores (``after``); ``learning`` is the class's change over the
        trainees who finished both (`learning`).
        """
        w = self.tick(workshop_id)
        trainees = []
        for t in self.store.trainees(workshop_id):
            rounds = self.store.rounds(t.id)
            prof = profile([r.features for r in rounds])
            top = flagged_top(prof)
            row: dict[str, Any] = {"name": t.name, "ref": t.ref, "rounds_done": len(rounds),
                                   "finished": len(rounds) >= w.rounds,
                                   **self._scores(t, w),
                                   "top": top.kind if top else None}
            row["compared"] = learning([row])
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
            "learning": learning(trainees),
            "control": self.control(workshop_id) if with_bots and w.second_rounds and any(
                r["after"] is not None for r in trainees) else None,
            "labels": labels(),
            "outcome_labels": OUTCOME_LABELS,
            "bots": {k: {"label": bot_names().get(k, b["label"]), "outcomes": b["outcomes"]}
                     for k, b in bots.items()},
        }


def paired(before: dict[str, float], after: dict[str, float], shown_before: dict[str, bool],
           shown_after: dict[str, bool]) -> dict[str, Any]:
    """A row of `learning`: the scores of both games, None after for a bias either game could not show."""
    return {"profile": before,
            "after": {k: v if shown_before[k] and shown_after[k] else None for k, v in after.items()}}


def learning(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bias scores before the debrief (first game) and after it (second game), over those who played both.

    Args:
        rows: Per trainee, ``profile`` (bias kind → score in the first game) and ``after``
            (the same in the second game; None until it is finished; None for a bias the
            games gave no chance to show, which then counts neither before nor after).

    Returns:
        ``trainees`` (how many played both), and over them: ``before`` and ``after`` (mean
        score per bias), ``change`` (mean of after − before), ``fell`` (share of them whose
        score fell by `FELL_BY` or more) — each None for a bias nobody could show —,
        ``total_before`` and ``total_after`` (mean over them of the sum of their scores
        over the biases they could show in both games) and ``relative`` (relative change
        of the mean total: −0.25 is 25 % less bias; None when the total before is under
        `FELL_BY`, the noise of a score: no bias to reduce) and
        ``partial`` (some bias was left out for someone); everything but ``trainees`` and
        ``partial`` is None when nobody has played both. Unlike
        `STUDY_REDUCTION` it is measured right after the debrief, not two months later.
    """
    both = [r for r in rows if r.get("after") is not None]
    kinds = list(labels())
    if not both:
        return {"trainees": 0, "before": None, "after": None, "change": None, "fell": None,
                "total_before": None, "total_after": None, "relative": None, "partial": False}
    shown_in_both = np.array([[r["after"][k] is not None for k in kinds] for r in both])
    before = np.where(shown_in_both, [[r["profile"][k] for k in kinds] for r in both], 0.0)
    after = np.where(shown_in_both, [[r["after"][k] or 0.0 for k in kinds] for r in both], 0.0)
    n = shown_in_both.sum(axis=0)

    def per_bias(values: np.ndarray) -> dict[str, float | None]:
        return {k: float(v.sum() / c) if c else None for k, v, c in zip(kinds, values.T, n, strict=True)}

    total_before, total_after = float(before.sum(axis=1).mean()), float(after.sum(axis=1).mean())
    return {
        "trainees": len(both),
        "before": per_bias(before), "after": per_bias(after), "change": per_bias(after - before),
        "fell": per_bias((after <= before - FELL_BY) & shown_in_both),
        "total_before": total_before, "total_after": total_after,
        "relative": (total_after - total_before) / total_before if total_before >= FELL_BY else None,
        "partial": bool((~shown_in_both).any()),
    }


def bot_label(spec: BotSpec) -> str:
    """A bot's name in the debrief."""
    if not spec.biases:
        return msg("Data-driven bot ({policy}, no bias)",
                   policy=msg(POLICY_WORDS.get(spec.policy, spec.policy.replace("_", " "))))
    kind, s = spec.biases[0]
    return msg("Bot with {bias} ({strength:.1f})", bias=msg(BIAS_SHORT.get(kind, kind)), strength=s)


def bot_names() -> dict[str, str]:
    """The debrief bots' names in the debrief, by bot (translatable: the cache keeps English)."""
    return {spec.name: bot_label(spec) for spec in debrief_bots()}


def play_script(engine: WorkshopEngine, workshop_id: str, name: str, spec: BotSpec,
                second: bool = False) -> str:
    """Let a bot play a whole workshop as a trainee, through the engine; returns its session.

    This is what the accuracy test does: the bot sees each round's CRM and
    submits a plan exactly as a trainee would. With `second`, it then plays the
    second game too, with the same bias (a bot does not learn from its debrief).
    """
    from sim.workshop.bots import Bot, decision_to_plan

    sid = engine.join(workshop_id, name)
    for game, submit in ((False, engine.submit), (True, engine.submit_second))[:1 + second]:
        bot = Bot(spec, engine.workshop(workshop_id).seed)
        g = engine.game(sid, second=game)
        bot.read_report(g.view0)
        while not g.finished:
            view = g.view()
            plan = decision_to_plan(bot.decide(view), view, g)
            submit(sid, g.rounds_done + 1, plan)
            g = engine.game(sid, second=game)
    return sid
