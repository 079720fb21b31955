"""`big_account`: serving the largest accounts, neglecting small ones with potential (seed 001)."""

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
class BigAccount(Bias):
    """Serves the largest accounts and neglects small ones with growth potential."""

    kind: ClassVar[str] = "big_account"
    label: ClassVar[str] = N_("Big-account bias")
    advice: ClassVar[str] = N_("Size is not risk: big accounts are rarely the ones leaving, and small "
                                "customers with growth potential need attention to grow.")

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """Size first."""
        return blend(score, np.log1p(view.fill_by_segment(view.value) / view.money_unit()), view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Big accounts' complaints first."""
        size = np.log1p(np.nan_to_num(view.value, nan=0.0) / view.money_unit())
        decision.complaint_priority = blend_priority(decision, view, size, s)
        return decision

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """Service to the biggest accounts beyond their share; their complaints first."""
        got, base, ex = rounds.excess("big")
        big, average = rounds.mean("value_big"), rounds.mean("avg_value")
        found = Detection(clip(max(ex, 0.0) / 0.35 * 0.8 + 0.3 * rounds.order_share("value")))
        found.evidence.append(msg("{got} of service went to the biggest accounts, who are "
                                  "{base} of the base (they spend {big:.0f} a week, the average "
                                  "customer {average:.0f}).",
                                  got=pct(got), base=pct(base), big=big, average=average))
        if (e := rounds.ordered("value", msg("most valuable first"))):
            found.evidence.append(e)
        grower = rounds.mean(lambda r: r["named_service"].get("grower", 0.0))
        big_named = rounds.mean(lambda r: r["named_service"].get("big", 0.0))
        if grower > 0 or big_named > 0:
            found.evidence.append(msg("Globex (the biggest account) got {big} of service money, "
                                      "Sprout & Co (small, with growth potential) {grower}.",
                                      big=pct(big_named), grower=pct(grower)))
        return found
