"""Retention Lab: agent-based simulation and decision training for customer management.

The public API is imported lazily, so `import sim` does no work:

- `load_scenario(path_or_name)` — a validated `Scenario`;
- `run(scenario, replications=..., workers=...)` — a `Result` of the comparison;
- `RetentionModel(scenario, policy=name, rng=seed)` — the Mesa model itself;
- `register_policy`, `register_bias` — extend the model from a notebook;
- `calibrate(orders, ...)` — a scenario of a firm's own customers from its order log.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_scenario": "sim.loader",
    "ScenarioError": "sim.loader",
    "Scenario": "sim.scenario",
    "RetentionModel": "sim.model",
    "run": "sim.experiment",
    "Result": "sim.result",
    "register_policy": "sim.policies",
    "register_bias": "sim.biases",
    "Policy": "sim.policies",
    "Bias": "sim.biases",
    "Instruction": "sim.policies",
    "METRICS": "sim.metrics",
    "calibrate": "sim.calibrate",
    "Calibration": "sim.calibrate",
    "CalibrationError": "sim.calibrate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
