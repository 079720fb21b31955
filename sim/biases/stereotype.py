"""`stereotype`: judging customers by fixed beliefs about their segment (seeds 000, 001)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.allocation import Decision
from sim.biases.base import Bias, blend
from sim.biases.evidence import NEEDS_MOVED, Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg
from sim.policies.base import zscore
from sim.registry import BIASES

F32 = np.float32


@BIASES.register
class Stereotype(Bias):
    """Judges customers by fixed beliefs about their segment, formed once, never updated.

    The beliefs are the segment averages of the policy's own criterion and of
    the revealed needs when the manager first looks; afterwards individual data
    counts only with weight 1 - s, and the offer stays tuned to the believed needs.
    """

    kind: ClassVar[str] = "stereotype"
    label: ClassVar[str] = N_("Stereotyping")
    advice: ClassVar[str] = N_("Judge customers by their own data, not their segment's label: spread service "
                                "over all segments by who is actually at risk, and revisit your beliefs "
                                "about a segment every quarter.")
    remedies: ClassVar[tuple[str, ...]] = ("diverse_team", "data_refresh", "training")

    def __init__(self, strength: float, **options: object) -> None:
        super().__init__(strength, **options)
        self.belief_score: np.ndarray | None = None
        self.belief_needs: np.ndarray | None = None
        self._stale = True

    def refresh(self, view: CRMView) -> None:
        """Market research renews the beliefs at the next look."""
        self._stale = True

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray | None:
        """Segment belief instead of the customer's own data."""
        if score is None:
            return None
        z = zscore(score, view.known)
        if self._stale or self.belief_score is None:
            self.belief_score = view.segment_mean(z)
        return blend(z, self.belief_score[view.segment], view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Offer tuned to the needs the manager believes each segment has."""
        if self._stale or self.belief_needs is None:
            self.belief_needs = decision.offer.copy()
            self._stale = False
        decision.offer = ((1 - s) * decision.offer + s * self.belief_needs).astype(F32)
        return decision

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """Service that follows segment labels, not individual risk; a range kept while needs moved."""
        lab = rounds.labels()
        kept, _ = rounds.range_kept(NEEDS_MOVED)
        found = Detection(clip(lab["score"] + 0.25 * kept * lab["score"]))
        found.evidence.append(msg(
            "The segment label explained {r2} of who got service; the analysts' "
            "risk scores would have let it explain {ref_r2}. Customers in segments "
            "that got almost nothing were {neglected} of the base (by risk: {ref_neglected}).",
            r2=pct(lab["r2"]), ref_r2=pct(lab["ref_r2"]), neglected=pct(lab["neglected"]),
            ref_neglected=pct(lab["ref_neglected"])))
        if len(rounds) > 1:
            found.evidence.append(msg(
                "From round to round your split over segments moved by {change}, "
                "while the customers' risk moved it by {ref_change}.",
                change=pct(lab["change"]), ref_change=pct(lab["ref_change"])))
        return found
