"""Policies: how a manager turns what they see into a decision.

`POLICIES` maps each kind to its class. Register your own kind from a notebook
with `register_policy` — no need to edit the package.
"""

from __future__ import annotations

from sim.policies.base import Policy, top_mask, top_share, zscore
from sim.policies.churn_risk import ChurnModel, ChurnRiskPolicy
from sim.policies.clv import CLVPolicy
from sim.policies.feedback import FeedbackPolicy, feedback_risk
from sim.policies.human import HumanPolicy, Instruction
from sim.policies.oracle import OraclePolicy
from sim.policies.randomised import RandomPolicy
from sim.policies.uniform import UniformPolicy
from sim.policies.value import ValuePolicy, rfm_score

POLICIES: dict[str, type[Policy]] = {
    "uniform": UniformPolicy,
    "random": RandomPolicy,
    "value": ValuePolicy,
    "churn_risk": ChurnRiskPolicy,
    "clv": CLVPolicy,
    "feedback": FeedbackPolicy,
    "oracle": OraclePolicy,
    "human": HumanPolicy,
}


def register_policy(kind: str, cls: type[Policy]) -> type[Policy]:
    """Make a policy class available under `kind` in scenario files.

    Args:
        kind: The name used in `policies[].kind`.
        cls: A subclass of `Policy`.

    Returns:
        The class, so this can be used as a decorator's body.
    """
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise TypeError("a policy must be a subclass of sim.policies.Policy")
    POLICIES[kind] = cls
    return cls


__all__ = [
    "POLICIES", "CLVPolicy", "ChurnModel", "ChurnRiskPolicy", "FeedbackPolicy", "HumanPolicy",
    "Instruction", "OraclePolicy", "Policy", "RandomPolicy", "UniformPolicy", "ValuePolicy",
    "feedback_risk", "register_policy", "rfm_score", "top_mask", "top_share", "zscore",
]
