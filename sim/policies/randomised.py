"""`random`: service for a random share of customers each period (a baseline)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.crm import CRMView
from sim.policies.base import Policy
from sim.registry import POLICIES


@POLICIES.register
class RandomPolicy(Policy):
    """Serve a random `target_share` of known customers, drawn anew each period."""

    kind: ClassVar[str] = "random"

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Random scores from the manager's own stream."""
        return rng.random(view.known.size)
