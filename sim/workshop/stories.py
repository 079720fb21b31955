"""The named customers' stories, told from what happened to them in this play.

The workshop introduces a few named customers (`STORY_TEXT`: the liked one,
the loud one, the silent one, the biggest account, the small grower). Their
stories respond to what the trainee does: `Watch` follows them through a game
period by period (five rows of the model's customer columns, read only) and
reads their state at the end of the warm-up quarter and of every round; the
game keeps these states in its round records. `tell` turns them into one
`Story` per named customer:

- a line per round: how much of the service money the plan gave them by name,
  what they received (against the average customer), how often they bought
  (against the quarter before), their satisfaction, their complaints filed and
  handled, and, in the round they left, that they left;
- a summary: they left (in which round, having complained or not), grew (by
  how much their spend per purchase grew), or stayed;
- what only the game's designer knew (their true value and chance of leaving
  against the other customers' when the first round began, and a grower's
  potential), stated as such;
- a lesson chosen from what happened (with or without attention, stayed or
  left, grew or not), so that every sentence is true of this play.

Every sentence is a translatable `sim.i18n.Message` (shown in the page's
language with `localize`); shares are written with `pct`, as the bias
evidence writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.biases.evidence import pct
from sim.i18n import N_, Message, msg, nmsg

if TYPE_CHECKING:
    from sim.agents.customers import CustomerPopulation
    from sim.model import RetentionModel

STORY_TEXT: dict[str, tuple[str, str, str]] = {
    # key: (name, headline, story)
    "liked": (N_("Mrs Ada Lindqvist"), N_("A delight to deal with"),
              N_("Ada always stops for a chat, remembers your children's names and brings biscuits "
                 "at Christmas. You genuinely like her. She says she would love a bit more "
                 "personal attention.")),
    "loud": (N_("Mr Tom Okafor"), N_("Complains about everything"),
             N_("Tom has filed complaint after complaint and tells everyone on the phone that he "
                "is 'this close' to leaving. The team dreads his calls.")),
    "silent": (N_("Ms Mei Chen"), N_("Never a word of complaint"),
               N_("Mei has never complained and never answered a survey. She used to buy "
                  "regularly; nobody has looked at her account in a while.")),
    "big": (N_("Globex Ltd"), N_("Your biggest account"),
            N_("Globex spends more than anyone. Their buyer asks for a dedicated account manager "
               "'as befits a customer of our size'.")),
    "grower": (N_("Sprout & Co"), N_("A small customer, for now"),
               N_("Sprout is a young firm that buys little today. Their founder says they are "
                  "growing fast and would buy much more from a supplier who looks after them.")),
}
#: Service over the rounds at least this many times the average customer's is attention.
ATTENTION = 1.5
#: A spend multiplier that rose by this factor or more is growth.
GREW = 1.1
#: A change of satisfaction smaller than this is no change.
STEADY = 0.02
#: A potential above the multiplier reached by this factor is worth telling.
POTENTIAL = 1.05


class Watch:
    """Follows the named customers through a game, period by period (a few rows: cheap).

    The model counts the complaints handled in a period, not whose; a named
    customer's complaint was handled when it was open before the period and is
    closed after it with no wait counted and no grudge [C2] (a customer who
    leaves with a complaint open keeps its wait).

    Args:
        ids: Story key → customer id.
        pop: The customers when the game starts.
    """

    def __init__(self, ids: dict[str, int], pop: CustomerPopulation) -> None:
        self.keys = list(ids)
        self.rows = np.array([ids[k] for k in self.keys], dtype=np.int64)
        self.handled = np.zeros(self.rows.size, dtype=np.int64)
        self._open = pop.complaint_open[self.rows].copy()
        self._last = self._totals(pop)

    def _totals(self, pop: CustomerPopulation) -> dict[str, np.ndarray]:
        r = self.rows
        return {"purchases": pop.purchases_total[r].astype(np.int64),
                "revenue": pop.revenue_total[r].astype(np.float64),
                "complaints": pop.complaints_total[r].astype(np.int64),
                "service": pop.service_total[r].astype(np.float64),
                "handled": self.handled.copy()}

    def step(self, pop: CustomerPopulation) -> None:
        """Count the named customers' complaints handled in the period just stepped."""
        r = self.rows
        now = pop.complaint_open[r]
        self.handled += self._open & ~now & (pop.complaint_age[r] == 0) & ~pop.grudge[r]
        self._open = now.copy()

    def state(self, model: RetentionModel, t0: int, t1: int) -> dict[str, Any]:
        """What happened to the named customers in the periods [t0, t1), and where they stand at t1.

        Returns:
            JSON-ready: ``service_spent`` (all service money of the periods),
            ``customers`` (active customers, mean over the periods), ``value_avg``
            and ``risk_median`` (the active customers' mean value per period at
            their usual rate and median chance of leaving in the next period, as
            the model's churn rule gives it at t1: the designer's yardstick) and
            ``named``: per story key their status, the period they left (-1: not
            left), satisfaction, loyalty, spend multiplier and its ceiling, value
            and chance of leaving, complaints filed ever, and of these periods
            purchases, revenue, service money received, complaints filed and handled.
        """
        pop = model.customers
        ts = model.timeseries().iloc[t0:t1]
        market = model.market.state(model.period)
        hazard = pop.hazard(market.pull, market.switching_cover)
        totals = self._totals(pop)
        delta = {k: totals[k] - self._last[k] for k in totals}
        self._last = totals
        active = np.flatnonzero(pop.status == 1)
        named = {}
        for j, (key, c) in enumerate(zip(self.keys, self.rows.tolist(), strict=True)):
            named[key] = {
                "active": bool(pop.status[c] == 1), "left_at": int(pop.churned_at[c]),
                "satisfaction": float(pop.satisfaction[c]), "loyalty": float(pop.loyalty[c]),
                "growth": float(pop.growth[c]), "growth_max": float(pop.growth_max[c]),
                "value": float(pop.spend[c] * pop.growth[c] * pop.purchase_rate[c]),
                "risk": float(hazard[c]),
                "complaints_ever": int(totals["complaints"][j]),
                **{k: (float(v[j]) if v.dtype.kind == "f" else int(v[j])) for k, v in delta.items()},
            }
        value = pop.spend[active] * pop.growth[active] * pop.purchase_rate[active]
        return {
            "service_spent": float(ts["spend_service"].sum()),
            "customers": float(ts["active_customers"].mean()) if len(ts) else 0.0,
            "value_avg": float(value.mean()) if active.size else 0.0,
            "risk_median": float(np.median(hazard[active])) if active.size else 0.0,
            "named": named,
        }


@dataclass
class Story:
    """A named customer's story in this play.

    Attributes:
        key: The story (`STORY_TEXT`).
        id: The customer.
        name: Their name (translatable).
        outcome: "left", "grew" or "stayed".
        left_round: The round they left in (None: still a customer).
        attention: Service money they received in the rounds they were a customer,
            as a multiple of what the average customer received.
        planned: Per round, the share of the service money the plan gave them by name.
        received: Per round, the service money they received.
        complaints: Complaints they filed in the rounds.
        handled: Complaints of theirs handled in the rounds.
        growth: Their spend multiplier at the end against the start of round 1.
        potential: How far it could grow from the start of round 1 (None: not a grower).
        lines: One sentence per round they were a customer in.
        summary: What became of them.
        knowledge: What only the game's designer knew about them.
        lesson: What the trainee can learn from it.
    """

    key: str
    id: int
    name: str
    outcome: str
    left_round: int | None
    attention: float
    planned: list[float]
    received: list[float]
    complaints: int
    handled: int
    growth: float
    potential: float | None
    lines: list[Message] = field(default_factory=list)
    summary: Message | None = None
    knowledge: list[Message] = field(default_factory=list)
    lesson: Message | None = None

    @property
    def still_customer(self) -> bool:
        """They had not left by the end of the last round."""
        return self.left_round is None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the pages (``truth`` is the lesson)."""
        return {"key": self.key, "id": self.id, "name": self.name, "outcome": self.outcome,
                "still_customer": self.still_customer, "left_round": self.left_round,
                "attention": self.attention, "planned": list(self.planned),
                "received": list(self.received), "complaints": self.complaints,
                "handled": self.handled, "growth": self.growth, "potential": self.potential,
                "lines": list(self.lines), "summary": self.summary,
                "knowledge": list(self.knowledge), "truth": self.lesson}


# --------------------------------------------------------------------------- the words


def versus(ratio: float) -> Message:
    """Service received against the average customer's: '95 % of …' or '8.0 times …'."""
    if ratio >= 1.95:
        return msg("{times:,.1f} times what the average customer received", times=ratio)
    return msg("{share} of what the average customer received", share=pct(ratio))


def small_pct(x: float) -> Message:
    """A small share with one decimal ('0.4 %'; translatable, as `pct`)."""
    return msg("{percent:.1f} %", percent=100 * x)


def signed_pct(change: float) -> Message:
    """A relative change as a signed whole percentage ('+40 %', '-12 %')."""
    return msg("{percent:+.0f} %", percent=100 * change)


def _given(name: str, planned: float, received: float, ratio: float) -> Message:
    if planned > 0:
        return msg("you gave {name} {planned} of the service money by name; they received "
                   "{money:,.0f}, {versus}", name=name, planned=pct(planned), money=received,
                   versus=versus(ratio))
    return msg("you gave {name} no service money by name; they received {money:,.0f}, {versus}",
               name=name, money=received, versus=versus(ratio))


def _bought(n: int, before: int) -> Message:
    if before > 0:
        return nmsg("they bought {n} time ({change} on the quarter before)",
                    "they bought {n} times ({change} on the quarter before)", n,
                    change=signed_pct(n / before - 1))
    return nmsg("they bought {n} time", "they bought {n} times", n)


def _mood(a: float, b: float) -> Message:
    if b - a >= STEADY:
        return msg("satisfaction rose from {a:.2f} to {b:.2f}", a=a, b=b)
    if a - b >= STEADY:
        return msg("satisfaction fell from {a:.2f} to {b:.2f}", a=a, b=b)
    return msg("satisfaction held at {b:.2f}", b=b)


def _complaints(filed: int, handled: int) -> Message | str:
    if filed == 0 and handled == 0:
        return ""
    return nmsg("; {n} complaint filed, {handled} handled", "; {n} complaints filed, {handled} handled",
                filed, handled=handled)


def _complained(ever: int, filed: int, handled: int) -> Message:
    if ever == 0:
        return msg("without ever complaining")
    if filed == 0:
        return msg("without complaining during your rounds")
    return nmsg("after {n} complaint in your rounds, {handled} handled",
                "after {n} complaints in your rounds, {handled} handled", filed, handled=handled)


# --------------------------------------------------------------------------- the story


def _average(state: dict[str, Any]) -> float:
    """Service money the average customer received in a round."""
    return state["service_spent"] / max(state["customers"], 1.0)


def tell(stories: dict[str, int], start: dict[str, Any], rounds: list[tuple[dict[str, Any], dict[str, Any]]],
         per_round: int) -> list[Story]:
    """The named customers' stories from a game's records.

    Args:
        stories: Story key → customer id (`Setup.stories`).
        start: `Watch.state` at the end of the warm-up quarter (`Game.named_start`).
        rounds: Per round played, its plan (`Plan.to_dict`) and `Watch.state` at its end.
        per_round: Periods per round.

    Returns:
        One `Story` per named customer, in the order of `stories`.
    """
    return [_story(key, cid, start, rounds, per_round) for key, cid in stories.items()]


def _story(key: str, cid: int, start: dict[str, Any],
           rounds: list[tuple[dict[str, Any], dict[str, Any]]], per_round: int) -> Story:
    name = msg(STORY_TEXT[key][0])
    first = start["named"][key]
    lines, planned, received = [], [], []
    got = avg = 0.0
    filed = handled = 0
    left_round = None
    prev = first
    for i, (plan, state) in enumerate(rounds, start=1):
        now = state["named"][key]
        if not prev["active"]:
            break
        share = float(plan.get("named", {}).get(str(cid), 0.0))
        planned.append(share)
        received.append(now["service"])
        got, avg = got + now["service"], avg + _average(state)
        filed, handled = filed + now["complaints"], handled + now["handled"]
        ratio = now["service"] / max(_average(state), 1e-9)
        given = _given(name, share, now["service"], ratio)
        if not now["active"]:
            left_round = i
            lines.append(msg("Round {round}: {given}; {name} left {complained} (satisfaction "
                             "{a:.2f} when your first round began, {b:.2f} when they left).",
                             round=i, given=given, name=name, a=first["satisfaction"],
                             b=now["satisfaction"],
                             complained=_complained(now["complaints_ever"], filed, handled)))
        else:
            lines.append(msg("Round {round}: {given}; {bought}; {mood}{complaints}.", round=i,
                             given=given, bought=_bought(now["purchases"], prev["purchases"]),
                             mood=_mood(prev["satisfaction"], now["satisfaction"]),
                             complaints=_complaints(now["complaints"], now["handled"])))
        prev = now
    last = prev
    growth = last["growth"] / max(first["growth"], 1e-9)
    ceiling = first["growth_max"] / max(first["growth"], 1e-9)
    story = Story(
        key=key, id=int(cid), name=name,
        outcome="left" if left_round else "grew" if growth >= GREW else "stayed",
        left_round=left_round, attention=got / avg if avg > 0 else 0.0, planned=planned,
        received=received, complaints=filed, handled=handled, growth=growth,
        potential=ceiling if ceiling >= POTENTIAL else None, lines=lines)
    revenue = sum(s["named"][key]["revenue"] for _, s in rounds)
    story.summary = _summary(story, first, last, revenue)
    story.knowledge = _knowledge(story, first, start, per_round)
    story.lesson = LESSONS[key](story, first, start)
    return story


def _summary(s: Story, first: dict[str, Any], last: dict[str, Any], revenue: float) -> Message:
    if s.left_round is not None:
        return msg("{name} left in round {round} {complained}, having received {versus} in your rounds.",
                   name=s.name, round=s.left_round, versus=versus(s.attention),
                   complained=_complained(last["complaints_ever"], s.complaints, s.handled))
    if s.outcome == "grew":
        return msg("{name} stayed and their spend per purchase grew {fold:.1f}-fold, with {versus}; "
                   "they spent {revenue:,.0f} in your rounds.", name=s.name, fold=s.growth,
                   versus=versus(s.attention), revenue=revenue)
    return msg("{name} stayed, with {versus}; satisfaction went from {a:.2f} to {b:.2f}, and they "
               "spent {revenue:,.0f} in your rounds.", name=s.name, versus=versus(s.attention),
               a=first["satisfaction"], b=last["satisfaction"], revenue=revenue)


def _knowledge(s: Story, first: dict[str, Any], start: dict[str, Any], per_round: int) -> list[Message]:
    """What the game's designer knew: true value and risk of leaving per quarter, and a grower's potential."""
    def quarter(risk: float) -> float:
        return 1.0 - (1.0 - risk) ** per_round

    out = [msg("Known only to the game's designer: at their usual rate {name} bought for {value:,.0f} "
               "a quarter (the average customer {avg:,.0f}), and when your first round began their "
               "chance of leaving ran at {risk} a quarter (the median customer's at {median}).", name=s.name,
               value=first["value"] * per_round, avg=start["value_avg"] * per_round,
               risk=small_pct(quarter(first["risk"])), median=small_pct(quarter(start["risk_median"])))]
    if s.potential is not None:
        out.append(msg("{name}'s potential: their spend per purchase could grow {fold:.1f}-fold with "
                       "sustained attention.", name=s.name, fold=s.potential))
    return out


# --------------------------------------------------------------------------- the lessons


def _riskier(first: dict[str, Any], start: dict[str, Any]) -> bool:
    """Their chance of leaving was above the median customer's."""
    return first["risk"] > start["risk_median"]


#: The lessons that turn on attention and risk, per story: with attention to a customer no more
#: likely to leave than the median one, with attention to one more likely to leave, and the same
#: two without attention.
RISK_LESSONS: dict[str, tuple[str, str, str, str]] = {
    "liked": (N_("{name}, whom you like, received {versus}, though when your first round began they "
                 "were no more likely to leave than the median customer: money spent on sympathy "
                 "buys goodwill you already have (affinity bias)."),
              N_("{name}, whom you like, received {versus}; when your first round began they were "
                 "more likely to leave than the median customer, so the risk justified it, not the "
                 "sympathy (affinity bias)."),
              N_("Liking {name} did not steer your money: they received {versus}. Service follows "
                 "value and risk, not sympathy (affinity bias)."),
              N_("Liking {name} did not steer your money: they received {versus}; when your first "
                 "round began they were more likely to leave than the median customer, and it is "
                 "that risk, not sympathy, that earns service (affinity bias).")),
    "loud": (N_("{name}, the loudest, received {versus}, though when your first round began they were "
                "no more likely to leave than the median customer: loud is not the same as at risk, "
                "and serving the loudest first leaves quieter customers waiting (salience bias)."),
             N_("{name}, the loudest, received {versus}; when your first round began they were more "
                "likely to leave than the median customer, so the risk justified it, not the noise "
                "(salience bias)."),
             N_("{name}'s noise did not steer your money: they received {versus}. Loud is not the "
                "same as at risk (salience bias)."),
             N_("{name}'s noise did not steer your money: they received {versus}; when your first "
                "round began they were more likely to leave than the median customer, and it is "
                "that risk, not the noise, that earns service (salience bias).")),
    "big": (N_("{name}, your biggest account, received {versus}, though when your first round "
               "began they were no more likely to leave than the median customer: size makes a "
               "customer look important, not vulnerable (big-account bias)."),
            N_("{name}, your biggest account, received {versus}; when your first round began they "
               "were more likely to leave than the median customer, so the risk justified it, not "
               "the size (big-account bias)."),
            N_("{name}'s size did not steer your money: they received {versus}. Size makes a customer "
               "look important, not vulnerable (big-account bias)."),
            N_("{name}'s size did not steer your money: they received {versus}; when your first "
               "round began they were more likely to leave than the median customer, and it is "
               "that risk, not the size, that earns service (big-account bias).")),
}


def _lesson_by_risk(s: Story, first: dict[str, Any], start: dict[str, Any]) -> Message:
    calm, risky, calm_plain, risky_plain = RISK_LESSONS[s.key]
    if s.attention >= ATTENTION:
        text = risky if _riskier(first, start) else calm
    else:
        text = risky_plain if _riskier(first, start) else calm_plain
    return msg(text, name=s.name, versus=versus(s.attention))


def _lesson_silent(s: Story, first: dict[str, Any], start: dict[str, Any]) -> Message:
    if s.left_round is not None and s.complaints == 0:
        return msg("{name} gave no warning: not one complaint in your rounds before leaving. Silent "
                   "customers drift away; only the data on purchases shows it.", name=s.name)
    if s.left_round is not None:
        return msg("{name} left in round {round}: a customer who says little leaves with little "
                   "warning; watch the data on purchases, not only complaints.",
                   name=s.name, round=s.left_round)
    if s.attention >= ATTENTION:
        return msg("You served {name} ({versus}) though they asked for nothing, and they stayed: "
                   "the data on purchases, not complaints, shows who drifts away.",
                   name=s.name, versus=versus(s.attention))
    return msg("{name} stayed this time, with {versus}; a customer who does not complain gives no "
               "warning before leaving, so only the data on purchases shows the drift.",
               name=s.name, versus=versus(s.attention))


def _lesson_big(s: Story, first: dict[str, Any], start: dict[str, Any]) -> Message:
    if s.attention >= ATTENTION and not _riskier(first, start):
        return msg("{name}, your biggest account, received {versus}, though when your first round "
                   "began they were no more likely to leave than the median customer: size makes a "
                   "customer look important, not vulnerable (big-account bias).", name=s.name,
                   versus=versus(s.attention))
    if s.attention >= ATTENTION:
        return msg("{name}, your biggest account, received {versus}; when your first round began they "
                   "were more likely to leave than the median customer, so the risk justified it, not "
                   "the size (big-account bias).", name=s.name, versus=versus(s.attention))
    return msg("{name}'s size did not steer your money: they received {versus}. Size makes a customer "
               "look important, not vulnerable (big-account bias).", name=s.name, versus=versus(s.attention))


def _lesson_grower(s: Story, first: dict[str, Any], start: dict[str, Any]) -> Message:
    if s.left_round is not None:
        return msg("{name} left in round {round}, and whatever they might have grown into went with "
                   "them: small customers are easy to overlook (big-account bias).",
                   name=s.name, round=s.left_round)
    if s.outcome == "grew" and s.attention >= ATTENTION:
        return msg("The attention you gave {name} ({versus}) paid: their spend per purchase grew "
                   "{fold:.1f}-fold. Small customers with potential grow when looked after.",
                   name=s.name, versus=versus(s.attention), fold=s.growth)
    if s.potential is None or s.growth >= s.potential / POTENTIAL:
        return msg("{name} received {versus} and their spend per purchase changed {fold:.1f}-fold; "
                   "they had little room left to grow.",
                   name=s.name, versus=versus(s.attention), fold=s.growth)
    if s.attention >= ATTENTION:
        return msg("{name} received {versus}, yet their spend per purchase changed only {fold:.1f}-fold "
                   "of a possible {potential:.1f}-fold: growth takes sustained attention.",
                   name=s.name, versus=versus(s.attention), fold=s.growth, potential=s.potential)
    return msg("{name} received {versus} and their spend per purchase changed {fold:.1f}-fold of a "
               "possible {potential:.1f}-fold: without attention, small customers with potential "
               "grow slowly or not at all (big-account bias).", name=s.name, versus=versus(s.attention),
               fold=s.growth, potential=s.potential)


#: The lesson of each story, chosen from what happened.
LESSONS = {"liked": _lesson_by_risk, "loud": _lesson_by_risk, "silent": _lesson_silent,
           "big": _lesson_by_risk, "grower": _lesson_grower}
