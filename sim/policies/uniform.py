"""`uniform`: every known customer gets the same service (a baseline)."""

from __future__ import annotations

from typing import ClassVar

from sim.policies.base import Policy
from sim.registry import POLICIES


@POLICIES.register
class UniformPolicy(Policy):
    """Serve everyone alike; no targeting."""

    kind: ClassVar[str] = "uniform"
    default_target: ClassVar[float] = 1.0
