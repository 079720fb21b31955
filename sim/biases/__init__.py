"""Biases: named distortions of what a manager sees, believes or decides (DOMAIN.md).

Each kind is one module with one class, registered in one line
(`@BIASES.register`): what the bias does (`see`, `judge`, `adjust`), its
parameters (`Params`), and what the workshop says of it (`label`, `advice`,
`remedies`, `detect`). `register_bias` adds a kind from a notebook.
"""

from __future__ import annotations

from sim.biases.base import MAX_SHIFT, Bias, blend, blend_priority, make_bias, register_bias
from sim.biases.evidence import Detection, Rounds
from sim.registry import BIASES

# isort: off
# The built-in kinds, in the order the debrief lists them (each registers itself).
from sim.biases.stereotype import Stereotype
from sim.biases.affinity import Affinity
from sim.biases.stale_data import StaleData
from sim.biases.acquisition_focus import AcquisitionFocus
from sim.biases.big_account import BigAccount
from sim.biases.overpromise import Overpromise
from sim.biases.points_lockin import PointsLockin
from sim.biases.salience import Salience, loudness
# isort: on

__all__ = [
    "BIASES", "MAX_SHIFT", "AcquisitionFocus", "Affinity", "Bias", "BigAccount", "Detection", "Overpromise",
    "PointsLockin", "Rounds", "Salience", "StaleData", "Stereotype", "blend", "blend_priority", "loudness",
    "make_bias", "register_bias",
]
