"""`salience`: the loudest complainers first, the silent at-risk ignored (seeds 000, 001)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.allocation import Decision
from sim.biases.base import Bias, blend, blend_priority
from sim.biases.evidence import Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.registry import BIASES

F32 = np.float32


def loudness(view: CRMView) -> np.ndarray:
    """How loud a customer is: complaints filed, open complaints, recent angry answers."""
    recent_angry = (np.nan_to_num(view.survey_nps, nan=10.0) <= 4) & (
        np.nan_to_num(view.survey_age, nan=99.0) <= 8)
    return (np.nan_to_num(view.complaints_total, nan=0.0) + 2.0 * view.complaint_open
            + recent_angry).astype(F32)


@BIASES.register
class Salience(Bias):
    """Reacts to the loudest recent complainers; silent at-risk customers are ignored."""

    kind: ClassVar[str] = "salience"
    label: ClassVar[str] = N_("Salience (the loudest first)")
    advice: ClassVar[str] = N_("The loudest customers are not the ones most likely to leave: look for the "
                                "silent ones whose purchases slow down, and handle complaints oldest first.")
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "training")

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """The loud first."""
        return blend(score, loudness(view), view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """The loudest complaints first, not the oldest."""
        decision.complaint_priority = blend_priority(decision, view, loudness(view), s)
        return decision

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """Service to the loudest customers beyond their share; the loudest complaints first."""
        got, base, ex = rounds.excess("loud")
        found = Detection(clip(max(ex - 0.08, 0.0) / 0.25 * 0.8 + 0.3 * rounds.order_share("loudest")))
        found.evidence.append(msg("{got} of service went to the loudest customers (complainers and "
                                  "angry survey answers), who are {base} of the base.",
                                  got=pct(got), base=pct(base)))
        if (e := rounds.ordered("loudest", msg("loudest first"))):
            found.evidence.append(e)
        return found
