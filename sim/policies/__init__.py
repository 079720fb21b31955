"""Policies: how a manager turns what they see into a decision.

Each kind is one class in its own module, registered in one line
(`@POLICIES.register`). Register your own kind from a notebook with
`register_policy` — no need to edit the package.
"""

from __future__ import annotations

from typing import Any

from sim.crm import feedback_risk
from sim.policies.base import Policy, top_mask, top_share, zscore
from sim.registry import POLICIES

# isort: off
# The built-in kinds (each registers itself).
from sim.policies.uniform import UniformPolicy
from sim.policies.randomised import RandomPolicy
from sim.policies.value import ValuePolicy, rfm_score
from sim.policies.churn_risk import ChurnModel, ChurnRiskPolicy
from sim.policies.clv import CLVPolicy
from sim.policies.feedback import FeedbackPolicy
from sim.policies.oracle import OraclePolicy
from sim.policies.human import HumanPolicy, Instruction
# isort: on


def register_policy(kind: str | type[Policy], cls: type[Policy] | None = None) -> Any:
    """Make a policy class available under `kind` in scenario files (also a decorator).

    Args:
        kind: The name used in `policies[].kind` (or the class, whose `kind` is used).
        cls: A subclass of `Policy`.

    Returns:
        The class.
    """
    target = kind if isinstance(kind, type) else cls
    if target is not None and not (isinstance(target, type) and issubclass(target, Policy)):
        raise TypeError("a policy must be a subclass of sim.policies.Policy")
    return POLICIES.register(kind, cls)


__all__ = [
    "POLICIES", "CLVPolicy", "ChurnModel", "ChurnRiskPolicy", "FeedbackPolicy", "HumanPolicy",
    "Instruction", "OraclePolicy", "Policy", "RandomPolicy", "UniformPolicy", "ValuePolicy",
    "feedback_risk", "register_policy", "rfm_score", "top_mask", "top_share", "zscore",
]
