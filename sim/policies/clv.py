"""`clv`: expected value at stake — lifetime value times predicted risk."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim import crm_kernels, jit
from sim.crm import CRMView
from sim.policies.churn_risk import FILLED, ChurnRiskPolicy

_NO_RISK = np.zeros(0, dtype=np.float32)


def _float32_value(view: CRMView) -> bool:
    """Whether `view.value` is a float32 product, what the kernels compute."""
    return (view.frequency.dtype == np.float32 and view.monetary.dtype == np.float32
            and view._kernels_take(view.frequency, view.monetary))


class CLVPolicy(ChurnRiskPolicy):
    """Serve where the most customer lifetime value is at risk.

    CLV is the observed margin per period divided by the predicted churn
    probability plus a discount rate (`discount`, default 0.002 per period),
    capped at `horizon` periods of margin (default 104); the score is CLV × risk,
    the value a period of service can save (uplift taken proportional to risk).
    """

    kind: ClassVar[str] = "clv"
    means_used: ClassVar[tuple[str, ...]] = (*FILLED, "needs_signal", "value")
    #: Only the periods it scores in (re-targetings) use the churn model's fills and the
    #: value's mean: `score` computes them then, in one pass.
    observed_means: ClassVar[tuple[str, ...]] = ()

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Value at risk."""
        if jit.ENABLED and _float32_value(view) and view.n_segments <= crm_kernels.LANES:
            fixed = self.model.coef is None
            view.field_segment_means(*(("value",) if fixed else self.means_used))  # in one pass
            means = view.field_segment_mean("value")
            # Before the first fit the prediction is not used (every risk is 0.01).
            risk = _NO_RISK if fixed else self.model.predict(view)
            if fixed or (risk.dtype == np.float32 and risk.shape == view.known.shape):
                return crm_kernels.clv_score(risk, fixed, view.frequency, view.monetary, view.segment, means,
                                             float(self.options.get("discount", 0.002)),
                                             float(self.options.get("horizon", 104)))
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
        if (jit.ENABLED and _float32_value(view) and view._kernels_take(view.complaint_age)
                and np.result_type(np.float32, view.complaint_age.dtype) == np.float32):
            return crm_kernels.value_priority(view.frequency, view.monetary, view.complaint_age)
        return np.nan_to_num(view.value, nan=0.0) + view.complaint_age
