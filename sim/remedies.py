"""Remedies: interventions on the manager's information or judgement, never on outcomes.

- `training`: each bias's strength decays exponentially from `start`;
- `data_refresh`: remembered snapshots and segment beliefs are renewed every
  `every` periods (data analysis and market research);
- `feedback_loop`: more customers are surveyed, and the feedback they give —
  which reveals true satisfaction — is weighed into whom to serve, which
  complaints come first and what to promise;
- `diverse_team`: decisions are pooled with colleagues who do not share the
  manager's biases.
"""

from __future__ import annotations

import math

import numpy as np

from sim.allocation import Decision
from sim.crm import CRMView
from sim.policies.base import zscore
from sim.policies.feedback import feedback_risk
from sim.scenario import DataRefresh, DiverseTeam, FeedbackLoop, Training

F32 = np.float32


class Remedy:
    """Base remedy: active from period `start`."""

    kind = "none"

    def __init__(self, spec) -> None:
        self.spec = spec
        self.start = spec.start

    def on(self, t: int) -> bool:
        """Whether the remedy acts in period `t`."""
        return t >= self.start

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


class TrainingRemedy(Remedy):
    """Bias strength decays at `rate` per period once training starts."""

    kind = "training"

    def strength_factor(self, t: int) -> float:
        """exp(-rate × periods since start)."""
        return math.exp(-self.spec.rate * max(0, t - self.start)) if self.on(t) else 1.0


class DataRefreshRemedy(Remedy):
    """Snapshots and beliefs renewed every `every` periods."""

    kind = "data_refresh"

    def refresh_due(self, t: int) -> bool:
        """Every `every` periods from `start`."""
        return self.on(t) and (t - self.start) % self.spec.every == 0


class FeedbackLoopRemedy(Remedy):
    """Feedback that reveals true satisfaction steers decisions with weight `weight`."""

    kind = "feedback_loop"

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


class DiverseTeamRemedy(Remedy):
    """A team of `size` managers; the others do not share this manager's biases."""

    kind = "diverse_team"

    @property
    def size(self) -> int:
        """Managers in the team."""
        return self.spec.size


REMEDIES: dict[type, type[Remedy]] = {
    Training: TrainingRemedy,
    DataRefresh: DataRefreshRemedy,
    FeedbackLoop: FeedbackLoopRemedy,
    DiverseTeam: DiverseTeamRemedy,
}


def make_remedy(spec) -> Remedy:
    """Build a remedy from its scenario spec."""
    return REMEDIES[type(spec)](spec)
