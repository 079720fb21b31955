"""`oracle`: sees the true state of every customer — an upper bound, not a real option."""

from __future__ import annotations

import weakref
from typing import ClassVar

import numpy as np

from sim.crm import CRMView
from sim.policies.base import Policy
from sim.registry import POLICIES

F32 = np.float32


@POLICIES.register
class OraclePolicy(Policy):
    """Serve where service saves the most value, knowing true hazards and needs."""

    kind: ClassVar[str] = "oracle"
    pure_score: ClassVar[bool] = True
    needs_truth: ClassVar[bool] = True

    def _value_at_risk(self, view: CRMView) -> np.ndarray:
        # score() and complaint_priority() see the same view in a period: compute once.
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0]() is not view:  # weakly: last period's view may go
            self._cache = (weakref.ref(view), self._compute_value_at_risk(view))
        return self._cache[1]

    def _compute_value_at_risk(self, view: CRMView) -> np.ndarray:
        pop = view.truth
        assert pop is not None, "the oracle needs the true state"
        h = pop.hazard()
        value = pop.purchase_rate * pop.spend * pop.growth
        return (h * value * np.minimum(1.0 / (h + 0.002), 104.0) * pop.trait("service_sensitivity")
                + value * (pop.growth_max - pop.growth) * 0.05).astype(F32)

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """True value at risk times responsiveness."""
        return self._value_at_risk(view)

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """Complaints where most value is at stake first."""
        return self._value_at_risk(view)

    def offer(self, view: CRMView) -> np.ndarray:
        """The true mean needs of each segment's active customers."""
        pop = view.truth
        assert pop is not None
        return view.segment_mean(pop.needs.astype(F32)).astype(F32)
