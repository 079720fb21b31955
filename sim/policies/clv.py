"""`clv`: expected value at stake — lifetime value times predicted risk."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.crm import CRMView
from sim.policies.churn_risk import ChurnRiskPolicy


class CLVPolicy(ChurnRiskPolicy):
    """Serve where the most customer lifetime value is at risk.

    CLV is the observed margin per period divided by the predicted churn
    probability plus a discount rate (`discount`, default 0.002 per period),
    capped at `horizon` periods of margin (default 104); the score is CLV × risk,
    the value a period of service can save (uplift taken proportional to risk).
    """

    kind: ClassVar[str] = "clv"

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Value at risk."""
        risk = np.clip(self.model.predict(view), 1e-4, 1.0)
        if self.model.coef is None:
            risk = np.full(view.known.size, 0.01, dtype=np.float32)
        margin = np.nan_to_num(view.fill_by_segment(view.value), nan=0.0)
        discount = float(self.options.get("discount", 0.002))
        horizon = float(self.options.get("horizon", 104))
        clv = margin * np.minimum(1.0 / (risk + discount), horizon)
        return clv * risk

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """Complaints of the customers with most value at stake first."""
        return np.nan_to_num(view.value, nan=0.0) + view.complaint_age
