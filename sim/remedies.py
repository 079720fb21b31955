"""Remedies: interventions on the manager's information or judgement, never on outcomes.

Each kind is one class with its parameters (`Params`) and the words the
workshop's debrief uses for it (`advice`), registered in one line:

- `training`: each bias's strength decays exponentially from `start`;
- `data_refresh`: remembered snapshots and segment beliefs are renewed every
  `every` periods (data analysis and market research);
- `feedback_loop`: more customers are surveyed, and the feedback they give —
  which reveals true satisfaction — is weighed into whom to serve, which
  complaints come first and what to promise;
- `diverse_team`: decisions are pooled with colleagues who each carry a
  different bias (DOMAIN.md: "managers with different biases"), so errors
  that point different ways partly cancel.

Every remedy costs money while it acts (`cost`, a share of the period's
budget: training time, research spend, survey fees, the colleagues' time):
the share is not spent on customers and is counted in the profit.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from sim.allocation import Decision
from sim.biases import Bias, make_bias
from sim.crm import CRMView, feedback_risk
from sim.policies.base import zscore
from sim.registry import BIASES, REMEDIES
from sim.scenario import RemedyParams, weekly

F32 = np.float32


class Remedy:
    """Base remedy: active from period `start`, changing nothing.

    Args:
        spec: Its parameters from the scenario (`Params`).
    """

    kind: ClassVar[str] = "none"
    #: What a trainee is advised to do, in plain words (the workshop's debrief).
    advice: ClassVar[str] = ""
    Params: ClassVar[type[RemedyParams]] = RemedyParams
    #: Share of the period's budget the remedy uses while it acts, when the scenario leaves `cost` unset.
    default_cost: ClassVar[float] = 0.0

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.start = spec.start
        cost = getattr(spec, "cost", None)
        self.cost = float(self.default_cost if cost is None else cost)

    def on(self, t: int) -> bool:
        """Whether the remedy acts in period `t`."""
        return t >= self.start

    def cost_share(self, t: int) -> float:
        """Share of period `t`'s budget the remedy uses."""
        return self.cost if self.on(t) else 0.0

    def strength_factor(self, t: int) -> float:
        """Multiplier of every bias's strength."""
        return 1.0

    def refresh_due(self, t: int) -> bool:
        """Whether remembered data is renewed in period `t`."""
        return False

    def survey_rate(self, t: int, rate: float) -> float:
        """The share of customers surveyed."""
        return rate

    def judge(self, score: np.ndarray | None, view: CRMView) -> np.ndarray | None:
        """Correct whom the manager favours with what the remedy reveals."""
        return score

    def correct(self, decision: Decision, view: CRMView) -> Decision:
        """Correct a decision with what the remedy reveals."""
        return decision


@REMEDIES.register
class Training(Remedy):
    """Bias strength decays once training starts."""

    kind: ClassVar[str] = "training"
    advice: ClassVar[str] = ("Name the bias before each decision (training): ask 'would I decide the same "
                             "if I did not like / hear / know this customer?'.")

    class Params(RemedyParams):
        """Bias strength decays once training starts."""

        rate: float = Field(0.05, ge=0, description="Exponential decay rate of strength per period.",
            json_schema_extra=weekly("amount"))
        weeks: int = Field(13, ge=0, description="Periods the training takes (its cost runs while it lasts).",
            json_schema_extra=weekly("periods"))

    default_cost: ClassVar[float] = 0.03

    def strength_factor(self, t: int) -> float:
        """exp(-rate × periods since start)."""
        return math.exp(-self.spec.rate * max(0, t - self.start)) if self.on(t) else 1.0

    def cost_share(self, t: int) -> float:
        """The trainees' time, while the training lasts."""
        return self.cost if self.start <= t < self.start + self.spec.weeks else 0.0


@REMEDIES.register
class DataRefresh(Remedy):
    """Fresh data and market research: snapshots and segment beliefs are renewed."""

    kind: ClassVar[str] = "data_refresh"
    advice: ClassVar[str] = ("Refresh the data (market research): retune to this quarter's purchases "
                             "and re-read the segment table instead of last year's report.")

    class Params(RemedyParams):
        """Fresh data and market research: snapshots and segment beliefs are renewed."""

        every: int = Field(4, ge=1, description="Periods between refreshes.",
            json_schema_extra=weekly("periods"))

    default_cost: ClassVar[float] = 0.02

    def refresh_due(self, t: int) -> bool:
        """Every `every` periods from `start`."""
        return self.on(t) and (t - self.start) % self.spec.every == 0


@REMEDIES.register
class FeedbackLoop(Remedy):
    """Surveys and complaint channels reveal true satisfaction and steer decisions."""

    kind: ClassVar[str] = "feedback_loop"
    advice: ClassVar[str] = ("Build a feedback loop: read survey results and complaint data every "
                             "round and let them steer whom you serve and what you promise.")

    class Params(RemedyParams):
        """Surveys and complaint channels reveal true satisfaction and steer decisions."""

        weight: float = Field(0.5, ge=0, le=1, description="Weight of the feedback signal in decisions.")
        survey_rate: float = Field(0.1, ge=0, le=1, description="Share surveyed per period while on.",
            json_schema_extra=weekly("chance"))

    default_cost: ClassVar[float] = 0.02

    def survey_rate(self, t: int, rate: float) -> float:
        """More customers are asked."""
        return max(rate, self.spec.survey_rate) if self.on(t) else rate

    def judge(self, score: np.ndarray | None, view: CRMView) -> np.ndarray | None:
        """Blend the scores with the risk customers report."""
        if score is None or not self.on(view.t):
            return score
        w = self.spec.weight
        # What customers have told the firm over time (answers and complaints filed),
        # not this week's open tickets: a steady signal, so targeting does not churn.
        heard = feedback_risk(view) - view.complaint_open.astype(F32)
        return ((1 - w) * zscore(score, view.known) + w * zscore(heard, view.known)).astype(F32)

    def correct(self, decision: Decision, view: CRMView) -> Decision:
        """Complaints handled in order of waiting; the promise pulled toward the honest level."""
        if not self.on(view.t):
            return decision
        w = self.spec.weight
        age = view.complaint_age.astype(F32)
        if decision.complaint_priority is not None:
            decision.complaint_priority = ((1 - w) * zscore(decision.complaint_priority,
                                                            view.complaint_open)
                                           + w * zscore(age, view.complaint_open))
        decision.promise = decision.promise - w * (decision.promise - 0.5)
        return decision


@REMEDIES.register
class DiverseTeam(Remedy):
    """Decisions pooled with colleagues who each carry a different bias."""

    kind: ClassVar[str] = "diverse_team"
    advice: ClassVar[str] = ("Decide with colleagues who see customers differently (diverse team): "
                             "pool your allocation with theirs before you submit.")

    class Params(RemedyParams):
        """Decisions pooled with colleagues who each carry a different bias."""

        size: int = Field(3, ge=2, le=20, description="Managers in the team, the biased one included.")
        colleagues: tuple[str, ...] = Field(
            (), description="The colleagues' bias kinds, one each; empty = the built-in kinds the manager "
            "does not have, in the registry's order.")
        strength: float | None = Field(
            None, ge=0, le=1, description="Strength of the colleagues' biases; null = the manager's mean.")

    default_cost: ClassVar[float] = 0.03

    @property
    def size(self) -> int:
        """Managers in the team."""
        return self.spec.size

    def colleagues(self, own: list[Bias]) -> list[Bias]:
        """The `size - 1` colleagues' biases: kinds other than the manager's, as strong as theirs."""
        mine = {b.kind for b in own}
        kinds = list(self.spec.colleagues) or [k for k in BIASES if k not in mine]
        strength = self.spec.strength
        if strength is None:
            strength = float(np.mean([b.strength for b in own])) if own else 0.8
        picked = [kinds[i % len(kinds)] for i in range(self.size - 1)] if kinds else []
        return [make_bias(BIASES.validate({"kind": k, "strength": strength})) for k in picked]


def make_remedy(spec: Any) -> Remedy:
    """Build a remedy from its scenario entry."""
    return REMEDIES[spec.kind](spec)
