"""`acquisition_focus`: new customers over existing ones (seed 001)."""

from __future__ import annotations

from typing import ClassVar

from sim.allocation import Decision
from sim.biases.base import MAX_SHIFT, Bias
from sim.biases.evidence import Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.registry import BIASES


@BIASES.register
class AcquisitionFocus(Bias):
    """Moves budget from keeping existing customers to winning new ones."""

    kind: ClassVar[str] = "acquisition_focus"
    label: ClassVar[str] = N_("Acquisition focus")
    advice: ClassVar[str] = N_("Keep most of the budget on the customers you have: winning a new "
                                "customer costs far more than keeping one.")

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Up to 75 % of the retention budget moves to acquisition."""
        keep = 1.0 - MAX_SHIFT * s
        sh = decision.shares
        moved = sum(sh.get(c, 0.0) for c in ("service", "complaints", "points")) * (1 - keep)
        return decision.with_shares(
            service=sh.get("service", 0.0) * keep,
            complaints=sh.get("complaints", 0.0) * keep,
            points=sh.get("points", 0.0) * keep,
            acquisition=sh.get("acquisition", 0.0) + moved,
        )

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """The budget's share spent on winning customers rather than keeping them."""
        acq = rounds.share("acquisition")
        keep = rounds.mean(lambda r: sum(r["shares"].get(c, 0.0) for c in ("service", "complaints", "points")))
        return Detection(clip((acq - 0.25) / 0.45), [
            msg("On average {acq} of the budget went to winning new customers and "
                "{keep} to keeping the ones you had (a data-driven manager "
                "spends about 20 % on acquisition).", acq=pct(acq), keep=pct(keep))])
