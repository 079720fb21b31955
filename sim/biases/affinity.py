"""`affinity`: favouring the customers the manager likes (seed 000, case 2)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.allocation import Decision
from sim.biases.base import Bias, blend, blend_priority
from sim.biases.evidence import Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.registry import BIASES


@BIASES.register
class Affinity(Bias):
    """Favours customers the manager likes; likability is unrelated to value."""

    kind: ClassVar[str] = "affinity"
    label: ClassVar[str] = N_("Affinity (serving whom you like)")
    advice: ClassVar[str] = N_("Serve customers because the data says they are at risk or valuable, not "
                                "because you enjoy them; handle complaints oldest first, whoever filed them.")
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "diverse_team", "training")

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """Liked customers first."""
        return blend(score, view.likability, view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Liked customers' complaints first."""
        decision.complaint_priority = blend_priority(decision, view, view.likability, s)
        return decision

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """Service to the customers the trainee likes beyond their share; their complaints first."""
        got, base, ex = rounds.excess("liked")
        liked, average = rounds.mean("value_liked"), rounds.mean("avg_value")
        found = Detection(clip(max(ex / 0.35, 0.0) * 0.8 + 0.3 * rounds.order_share("liked")))
        values = {"got": pct(got), "base": pct(base), "liked": liked, "average": average}
        found.evidence.append(
            msg("{got} of service went to customers you were told you like, who are {base} of the base "
                "and no more valuable (they spend {liked:.0f} a week against {average:.0f} on average).",
                **values) if liked <= 1.25 * average else
            msg("{got} of service went to customers you were told you like, who are {base} of the base "
                "and more valuable (they spend {liked:.0f} a week against {average:.0f} on average).",
                **values))
        if (e := rounds.ordered("liked", msg("customers you like first"))):
            found.evidence.append(e)
        return found
