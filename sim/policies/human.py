"""`human`: decisions come from outside — a trainee in the workshop, or a script.

Before each period, call `submit` with an `Instruction` (or a plain dict of the
same fields). Without a new instruction the last one is repeated; before the
first, the budget is spread evenly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

import numpy as np

from sim.allocation import CHANNELS, Decision
from sim.crm import CRMView
from sim.policies.base import Policy
from sim.registry import POLICIES

F32 = np.float32
ComplaintOrder = Literal["oldest", "value", "loudest", "liked"]


@dataclass
class Instruction:
    """A person's decision for a period, in the terms of the workshop's controls.

    Attributes:
        shares: Budget share per channel (service, complaints, points, acquisition).
        segment_service: Share of the service money per segment name (normalised);
            empty = spread evenly over customers.
        customers: Named customers (id → share of the service money) served on top.
        points_segments: Share of the points money per segment (empty = like service).
        complaint_order: Which complaints are handled first.
        promise: Marketing promise level in [0, 1] (0.5 is honest).
        note: The person's own words about the decision.
    """

    shares: dict[str, float] = field(default_factory=lambda: {
        "service": 0.65, "complaints": 0.15, "points": 0.0, "acquisition": 0.2})
    segment_service: dict[str, float] = field(default_factory=dict)
    customers: dict[int, float] = field(default_factory=dict)
    points_segments: dict[str, float] = field(default_factory=dict)
    complaint_order: ComplaintOrder = "oldest"
    promise: float = 0.5
    note: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instruction:
        """Build from a dict, rejecting unknown fields and bad values.

        Raises:
            ValueError: With a plain-words message naming the field.
        """
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        inst = cls(**data)
        inst.validate()
        return inst

    def validate(self, segment_names: tuple[str, ...] | None = None) -> None:
        """Check the instruction; raise ValueError in plain words if it is not valid."""
        for k, v in self.shares.items():
            if k not in CHANNELS:
                raise ValueError(f"shares: unknown channel {k!r}; channels are {', '.join(CHANNELS)}")
            if not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                raise ValueError(f"shares.{k}: must be a number ≥ 0, got {v!r}")
        total = sum(self.shares.values())
        if total > 1 + 1e-9:
            raise ValueError(
                f"the budget is exceeded: channel shares add up to {total:.0%}, at most 100 %")
        for name, part in (("segment_service", self.segment_service),
                           ("points_segments", self.points_segments),
                           ("customers", self.customers)):
            for k, v in part.items():
                if not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
                    raise ValueError(f"{name}.{k}: must be a number ≥ 0, got {v!r}")
            if segment_names is not None and name != "customers":
                bad = [k for k in part if k not in segment_names]
                if bad:
                    raise ValueError(f"{name}: unknown segment(s) {bad}; segments are "
                                     f"{list(segment_names)}")
        if sum(self.customers.values()) > 1 + 1e-9:
            raise ValueError("customers: named customers can get at most all the service money")
        if self.complaint_order not in ("oldest", "value", "loudest", "liked"):
            raise ValueError(f"complaint_order: one of oldest, value, loudest, liked; "
                             f"got {self.complaint_order!r}")
        if not isinstance(self.promise, int | float) or not 0 <= self.promise <= 1:
            raise ValueError(f"promise: a level between 0 and 1, got {self.promise!r}")


def _segment_weights(view: CRMView, split: dict[str, float]) -> np.ndarray:
    known = view.known
    if not split:
        return known.astype(F32)
    counts = np.bincount(view.segment[known], minlength=view.n_segments).astype(float)
    f = np.array([split.get(name, 0.0) for name in view.segment_names], dtype=float)
    f = f / f.sum() if f.sum() > 0 else f
    per = np.where(counts > 0, f / np.maximum(counts, 1), 0.0)
    return np.where(known, per[view.segment], 0.0).astype(F32)


@POLICIES.register
class HumanPolicy(Policy):
    """Takes its decisions from `submit` (a trainee or a script)."""

    kind: ClassVar[str] = "human"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instruction = Instruction(shares=dict(self.shares), promise=self.promise)
        self.history: list[Instruction] = []

    def submit(self, instruction: Instruction | dict[str, Any]) -> None:
        """Set the decision for the coming period(s)."""
        inst = (Instruction.from_dict(instruction) if isinstance(instruction, dict)
                else instruction)
        inst.validate()
        self.instruction = inst

    def decide(self, view: CRMView, score: np.ndarray | None) -> Decision:
        """The submitted instruction, as a decision on this period's customers."""
        inst = self.instruction
        inst.validate(view.segment_names)
        self.history.append(inst)
        total_named = sum(inst.customers.values())
        weights = _segment_weights(view, inst.segment_service)
        weights = weights / max(float(weights.sum()), 1e-12) * (1.0 - total_named)
        for cid, part in inst.customers.items():
            if 0 <= cid < weights.size and view.known[cid]:
                weights[cid] += part
        points = (_segment_weights(view, inst.points_segments) if inst.points_segments
                  else None)
        priority = {
            "oldest": None,
            "value": np.nan_to_num(view.value, nan=0.0),
            "loudest": np.nan_to_num(view.complaints_total, nan=0.0) + 0.1 * view.complaint_age,
            "liked": view.likability,
        }[inst.complaint_order]
        return Decision(
            shares={c: float(inst.shares.get(c, 0.0)) for c in CHANNELS},
            service_weights=weights.astype(F32),
            points_weights=points,
            offer=self.offer(view),
            promise=float(inst.promise),
            complaint_priority=priority,
            note=inst.note,
        )
