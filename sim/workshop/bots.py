"""Bots that play the workshop through the trainee's own controls.

A bot is a manager of Retention Lab's core — a policy (by default the
data-driven `churn_risk`) with biases laid over it — that looks at the same
dashboard moment a trainee does (the CRM at the start of each round) and
writes its decision down as a `Plan`, exactly what a trainee could submit:
channel shares, the customers it serves, the complaint order, the promise and
how far the range follows current needs. The debrief plays them on the
trainee's market realisation; the bias-profile test checks that a bot with one
injected bias is recognised as that bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

from sim.agents.managers import Manager
from sim.allocation import Decision
from sim.biases import Bias
from sim.crm import CRMView
from sim.policies import Policy
from sim.registry import BIASES, POLICIES
from sim.scenario import PolicySpec
from sim.workshop.game import Game, Plan, Setup

F32 = np.float32


@dataclass(frozen=True)
class BotSpec:
    """A bot: a policy kind and the biases laid over it.

    Attributes:
        name: Label in the debrief.
        policy: Policy kind (`sim.policies.POLICIES`).
        biases: (bias kind, strength) pairs.
    """

    name: str
    policy: str = "churn_risk"
    biases: tuple[tuple[str, float], ...] = field(default_factory=tuple)


class Bot:
    """A bot player.

    Args:
        spec: What the bot is.
        seed: Seed of the bot's own random stream (its analysts' samples).
    """

    def __init__(self, spec: BotSpec, seed: int = 0) -> None:
        self.spec = spec
        cls = POLICIES[spec.policy]
        # The bot looks once a quarter; it refits its churn model at every look.
        policy: Policy = cls(options={"refit_every": 1, "sample": 1500})
        biases: list[Bias] = [BIASES[k](s) for k, s in spec.biases]
        # The core's manager decides for the bot, exactly as it decides in a run (its own little model:
        # a Mesa agent belongs to one).
        self.manager = Manager(mesa.Model(), PolicySpec(name=spec.name, kind=spec.policy),
                               np.random.default_rng(seed), policy=policy, biases=biases, keep_last=False)

    @property
    def policy(self) -> Policy:
        """The bot's policy."""
        return self.manager.policy

    @property
    def biases(self) -> list[Bias]:
        """The biases laid over it."""
        return self.manager.biases

    def read_report(self, view: CRMView) -> None:
        """First look at the CRM (last year's report): memories of it are formed here."""
        self.policy.observe(view, self.manager.stream)
        for b in self.biases:
            b.see(view, b.strength)

    def decide(self, view: CRMView) -> Decision:
        """The bot's decision on this view, through its biases (`Manager.decide`)."""
        return self.manager.decide(view)

    def plan(self, game: Game, view: CRMView) -> Plan:
        """Write this round's decision down as a trainee's plan."""
        return decision_to_plan(self.decide(view), view, game)


def complaint_order_of(priority: np.ndarray | None, view: CRMView) -> str:
    """The complaint order (of the workshop's four) closest to a priority key.

    Each order is keyed as the `human` policy keys it; the closest is the one whose
    ranking of the open complaints correlates best (Spearman) with `priority`.
    """
    from scipy.stats import spearmanr

    open_ids = np.flatnonzero(view.complaint_open & view.known)
    if priority is None or open_ids.size < 3:
        return "oldest"
    keys = {
        "oldest": view.complaint_age.astype(float),
        "value": np.nan_to_num(view.value, nan=0.0).astype(float),
        "loudest": (np.nan_to_num(view.complaints_total, nan=0.0)
                    + 0.1 * view.complaint_age).astype(float),
        "liked": view.likability.astype(float),
    }
    target = np.nan_to_num(np.asarray(priority, dtype=float)[open_ids], nan=-1e9)
    if np.ptp(target) == 0:
        return "oldest"
    best, best_c = "oldest", -np.inf
    for name, key in keys.items():
        k = key[open_ids]
        if np.ptp(k) == 0:
            continue
        c = float(spearmanr(k, target).statistic)
        if np.isfinite(c) and c > best_c + 1e-9:
            best, best_c = name, c
    return best


def range_update_of(offer: np.ndarray, view: CRMView, game: Game) -> float:
    """How far an offer sits from last year's range toward the needs revealed now (0..1)."""
    old = game.policy.last_year_offer
    now = view.segment_mean(view.needs_signal)
    if old is None:
        return 1.0
    d = now - old
    dd = float(d @ d)
    if dd < 1e-6:
        return 1.0
    return float(np.clip((np.asarray(offer, dtype=float) - old) @ d / dd, 0.0, 1.0))


def decision_to_plan(decision: Decision, view: CRMView, game: Game) -> Plan:
    """Write a core `Decision` as a workshop `Plan` (what a trainee could submit)."""
    w = np.where(view.known, np.maximum(np.nan_to_num(decision.service_weights, nan=0.0), 0), 0)
    total = float(w.sum())
    customers = ({int(i): float(w[i] / total) for i in np.flatnonzero(w > 0)}
                 if total > 0 else {})
    shares = {c: float(max(0.0, v)) for c, v in decision.shares.items()}
    s = sum(shares.values())
    if s > 1:
        shares = {c: v / s for c, v in shares.items()}
    return Plan(
        shares=shares,
        customers=customers,
        complaint_order=complaint_order_of(decision.complaint_priority, view),
        promise=float(np.clip(decision.promise, 0.0, 1.0)),
        range_update=range_update_of(decision.offer, view, game),
        note=f"bot {decision.note}".strip(),
    )


def play_bot(setup: Setup, spec: BotSpec, seed: int = 0) -> Game:
    """Play every round of a workshop with a bot; returns the finished game."""
    game = Game(setup)
    bot = Bot(spec, seed)
    bot.read_report(game.view0)
    while not game.finished:
        view = game.view()
        game.play(bot.plan(game, view))
    return game


#: The bots of the debrief: the data-driven manager and one biased manager per bias kind.
DEBRIEF_STRENGTH = 0.8
#: Their policy: value at risk (CLV × churn risk), the best-earning data-driven policy.
DEBRIEF_POLICY = "clv"


def debrief_bots() -> list[BotSpec]:
    """The data-driven bot and one bot per bias kind (strength 0.8), all on `DEBRIEF_POLICY`.

    The bias-profile bots (and its accuracy test) stay on `churn_risk`, the
    yardstick the profile is calibrated on; the debrief's bots use the policy
    that earns most, so that every biased bot is compared with the best
    data-driven practice.
    """
    from sim.workshop.profile import profiled

    return [BotSpec("data_driven", policy=DEBRIEF_POLICY)] + [
        BotSpec(kind, policy=DEBRIEF_POLICY, biases=((kind, DEBRIEF_STRENGTH),))
        for kind, _ in profiled()]
