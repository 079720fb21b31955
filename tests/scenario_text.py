"""Small two-arm scenario files shared by the interface tests."""

from __future__ import annotations


def two_arm_yaml(name: str, *, horizon: int, replications: int, seed: int, size: int,
                 shift_at: int, description: str = "", baseline: bool = False) -> str:
    """A data-driven manager against a stale-data one through a needs shift, as YAML text."""
    text = f"""\
name: {name}
{f"description: {description}" + chr(10) if description else ""}horizon: {horizon}
replications: {replications}
seed: {seed}
population: {{size: {size}}}
market:
  events:
    - {{at: {shift_at}, kind: needs_shift, size: 0.5}}
policies:
  - {{name: data_driven, kind: churn_risk}}
  - name: stale_manager
    kind: churn_risk
    biases: [{{kind: stale_data, strength: 0.8}}]
"""
    return text + ("baseline: data_driven\n" if baseline else "")
