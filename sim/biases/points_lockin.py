"""`points_lockin`: buying retention with points instead of earning loyalty (seed 001)."""

from __future__ import annotations

from typing import ClassVar

from sim.allocation import Decision
from sim.biases.base import MAX_SHIFT, Bias
from sim.biases.evidence import Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.registry import BIASES


@BIASES.register
class PointsLockin(Bias):
    """Buys retention with points and contracts instead of satisfaction."""

    kind: ClassVar[str] = "points_lockin"
    label: ClassVar[str] = N_("Points lock-in")
    advice: ClassVar[str] = N_("Points buy retention, not loyalty: put the money into service and "
                                "complaint handling, which raise satisfaction.")

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Up to 75 % of the service budget moves to points."""
        sh = decision.shares
        moved = sh.get("service", 0.0) * MAX_SHIFT * s
        return decision.with_shares(service=sh.get("service", 0.0) - moved,
                                    points=sh.get("points", 0.0) + moved)

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """The budget's share spent on points and contracts rather than service."""
        points, service = rounds.share("points"), rounds.share("service")
        return Detection(clip((points - 0.05) / 0.35), [
            msg("On average {points} of the budget went to loyalty points and "
                "contracts, against {service} to service.", points=pct(points), service=pct(service))])
