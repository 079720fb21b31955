"""`feedback`: continuous improvement steered by surveys and complaints."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.crm import CRMView, feedback_risk
from sim.policies.base import Policy, zscore
from sim.registry import POLICIES

F32 = np.float32


@POLICIES.register
class FeedbackPolicy(Policy):
    """Serve whom surveys and complaints say is unhappy; handle complaints promptly.

    It spends more on complaint handling (30 % of the budget by default) and
    handles the oldest complaints first.
    """

    kind: ClassVar[str] = "feedback"
    pure_score: ClassVar[bool] = True
    default_shares: ClassVar[dict[str, float]] = {
        "service": 0.5, "complaints": 0.3, "points": 0.0, "acquisition": 0.2}

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Stated risk."""
        return zscore(feedback_risk(view), view.known)
