"""`overpromise`: promising more than is delivered (seeds 001, 002)."""

from __future__ import annotations

from typing import ClassVar

from sim.allocation import Decision
from sim.biases.base import Bias
from sim.biases.evidence import Detection, Rounds, clip
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.registry import BIASES


@BIASES.register
class Overpromise(Bias):
    """Promises more than is delivered."""

    kind: ClassVar[str] = "overpromise"
    label: ClassVar[str] = N_("Over-promising")
    advice: ClassVar[str] = N_("Promise what you deliver: an honest promise (50) avoids the disappointment "
                                "that turns sign-ups into churn.")
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "training")

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """The promise rises toward the maximum."""
        decision.promise = decision.promise + s * (1.0 - decision.promise)
        return decision

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """A promise above what is delivered."""
        promise = rounds.mean("promise")
        return Detection(clip((promise - 0.55) / 0.35), [
            msg("Your marketing promise averaged {promise:.0f} on a scale where 50 is what you deliver.",
                promise=100 * promise)])
