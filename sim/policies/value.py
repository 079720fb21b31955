"""`value`: RFM targeting — recent, frequent, big spenders first."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.crm import CRMView
from sim.policies.base import Policy, zscore
from sim.registry import POLICIES


def rfm_score(view: CRMView) -> np.ndarray:
    """Recency, frequency and monetary value, standardised and summed."""
    m = view.known
    return (zscore(-np.log1p(view.recency), m) + zscore(view.frequency, m)
            + zscore(np.log1p(view.monetary / view.money_unit()), m))


@POLICIES.register
class ValuePolicy(Policy):
    """Serve the customers with the highest RFM score."""

    kind: ClassVar[str] = "value"
    pure_score: ClassVar[bool] = True

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """RFM score."""
        return rfm_score(view)

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """Valuable customers' complaints first."""
        return np.nan_to_num(view.value, nan=0.0)
