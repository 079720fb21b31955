"""`feedback`: continuous improvement steered by surveys and complaints."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.crm import CRMView
from sim.policies.base import Policy, zscore

F32 = np.float32


def feedback_risk(view: CRMView) -> np.ndarray:
    """Risk as customers tell it: low recommendation scores and open complaints.

    Customers never surveyed get their segment's mean answer; answers count
    less as they age.
    """
    nps = view.fill_by_segment(view.survey_nps)
    nps = np.where(np.isfinite(nps), nps, 7.0)
    age = np.nan_to_num(view.survey_age, nan=52.0)
    weight = np.exp(-age / 26.0)
    return ((10.0 - nps) / 10.0 * (0.5 + 0.5 * weight)
            + view.complaint_open.astype(F32) + 0.3 * np.minimum(
                np.nan_to_num(view.complaints_total, nan=0.0), 3)).astype(F32)


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
