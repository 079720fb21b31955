"""`clv`: expected value at stake — lifetime value times predicted risk."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from sim import crm_kernels
from sim.crm import CRMView
from sim.policies.churn_risk import FILLED, ChurnRiskPolicy
from sim.registry import POLICIES
from sim.scenario import weekly

_NO_RISK = np.zeros(0, dtype=np.float32)


@POLICIES.register
class CLVPolicy(ChurnRiskPolicy):
    """Serve where the most customer lifetime value is at risk.

    CLV is the observed margin per period divided by the predicted churn
    probability plus a discount rate (`discount`, default 0.002 per period),
    capped at `horizon` periods of margin (default 104); the score is CLV × risk,
    the value a period of service can save (uplift taken proportional to risk).
    """

    kind: ClassVar[str] = "clv"

    class Options(ChurnRiskPolicy.Options):
        """Settings of the churn model and of lifetime value."""

        discount: float = Field(0.002, ge=0, description="Discount rate per period.",
                                 json_schema_extra=weekly("amount"))
        horizon: float = Field(104, gt=0, description="Cap on lifetime value, in periods of margin.",
                                json_schema_extra=weekly("periods"))

    means_used: ClassVar[tuple[str, ...]] = (*FILLED, "needs_signal", "value")
    #: Only the periods it scores in (re-targetings) use the churn model's fills and the
    #: value's mean: `score` computes them then, in one pass.
    observed_means: ClassVar[tuple[str, ...]] = ()

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Value at risk."""
        fixed = not self.model.fitted
        view.field_segment_means(*(("value",) if fixed else self.means_used))  # in one pass
        # Before the first fit the prediction is not used (every risk is 0.01).
        risk = _NO_RISK if fixed else self.model.predict(view)
        discount, horizon = float(self.options.get("discount", 0.002)), float(self.options.get("horizon", 104))
        score = crm_kernels.clv_score(risk, fixed, np.asarray(view.frequency, dtype=np.float32),
                                      np.asarray(view.monetary, dtype=np.float32), view.segment,
                                      view.field_segment_mean("value"), discount, horizon)
        return self.leave_out_control(score)

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """Complaints of the customers with most value at stake first."""
        return crm_kernels.value_priority(np.asarray(view.frequency, dtype=np.float32),
                                          np.asarray(view.monetary, dtype=np.float32), view.complaint_age)
