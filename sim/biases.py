"""Biases: named distortions of what a manager sees, believes or decides.

A bias never touches customers. It acts at one or more of three points of the
manager's decision, always scaled by its strength `s` in [0, 1] (after remedies):

- `see(view, s)`: what the manager perceives (stale data);
- `judge(score, view, s)`: whom the manager thinks deserves attention — the
  policy's standardised score is blended with the bias's own criterion,
  `(1 - s) * z(score) + s * z(criterion)`;
- `adjust(decision, view, s)`: how the budget is split, what is promised, how the
  offer is tuned and which complaints come first.

Its harm has to emerge through the customer mechanisms. Register new kinds
with `register_bias`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sim.allocation import Decision
from sim.crm import CRMView
from sim.policies.base import zscore

F32 = np.float32
#: Largest share of the retention budget a full-strength bias moves elsewhere.
MAX_SHIFT = 0.75


def blend(score: np.ndarray | None, criterion: np.ndarray, mask: np.ndarray,
          s: float) -> np.ndarray:
    """`(1 - s) * z(score) + s * z(criterion)` over the known customers."""
    return ((1.0 - s) * zscore(score, mask) + s * zscore(criterion, mask)).astype(F32)


def blend_priority(decision: Decision, view: CRMView, criterion: np.ndarray,
                   s: float) -> np.ndarray:
    """Blend the complaint queue's order with a biased criterion."""
    base = (decision.complaint_priority if decision.complaint_priority is not None
            else view.complaint_age.astype(F32))
    return blend(base, criterion, view.complaint_open, s)


class Bias:
    """Base class: a bias that does nothing at any point.

    Args:
        strength: Strength in [0, 1] before remedies.
        options: Kind-specific settings.
    """

    kind: ClassVar[str] = "none"
    #: The remedies that work on this bias (for docs and the workshop debrief).
    remedies: ClassVar[tuple[str, ...]] = ("training",)

    def __init__(self, strength: float, **options: Any) -> None:
        self.strength = float(strength)
        self.options = options

    def see(self, view: CRMView, s: float) -> CRMView:
        """Distort what the manager perceives."""
        return view

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray | None:
        """Distort whom the manager favours."""
        return score

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Distort the budget split, promise, offer or complaint order."""
        return decision

    def refresh(self, view: CRMView) -> None:
        """Renew remembered data (the `data_refresh` remedy calls this)."""


class Stereotype(Bias):
    """Judges customers by fixed beliefs about their segment, formed once, never updated.

    The beliefs are the segment averages of the policy's own criterion and of
    the revealed needs when the manager first looks; afterwards individual data
    counts only with weight 1 - s, and the offer stays tuned to the believed needs.
    """

    kind: ClassVar[str] = "stereotype"
    remedies: ClassVar[tuple[str, ...]] = ("diverse_team", "data_refresh", "training")

    def __init__(self, strength: float, **options: Any) -> None:
        super().__init__(strength, **options)
        self.belief_score: np.ndarray | None = None
        self.belief_needs: np.ndarray | None = None
        self._stale = True

    def refresh(self, view: CRMView) -> None:
        """Market research renews the beliefs at the next look."""
        self._stale = True

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray | None:
        """Segment belief instead of the customer's own data."""
        if score is None:
            return None
        z = zscore(score, view.known)
        if self._stale or self.belief_score is None:
            self.belief_score = view.segment_mean(z)
        return blend(z, self.belief_score[view.segment], view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Offer tuned to the needs the manager believes each segment has."""
        if self._stale or self.belief_needs is None:
            self.belief_needs = decision.offer.copy()
            self._stale = False
        decision.offer = ((1 - s) * decision.offer + s * self.belief_needs).astype(F32)
        return decision


class Affinity(Bias):
    """Favours customers the manager likes; likability is unrelated to value."""

    kind: ClassVar[str] = "affinity"
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "diverse_team", "training")

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """Liked customers first."""
        return blend(score, view.likability, view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Liked customers' complaints first."""
        decision.complaint_priority = blend_priority(decision, view, view.likability, s)
        return decision


class StaleData(Bias):
    """Keeps steering by an old snapshot of the CRM (taken at `snapshot_at`)."""

    kind: ClassVar[str] = "stale_data"
    remedies: ClassVar[tuple[str, ...]] = ("data_refresh", "training")

    def __init__(self, strength: float, snapshot_at: int = 0, **options: Any) -> None:
        super().__init__(strength, **options)
        self.snapshot_at = snapshot_at
        self.snapshot: dict[str, np.ndarray] | None = None

    def refresh(self, view: CRMView) -> None:
        """Fresh data replaces the snapshot."""
        self.snapshot = {f: getattr(view, f).copy() for f in CRMView.HISTORICAL}

    def see(self, view: CRMView, s: float) -> CRMView:
        """Historical fields blended toward the snapshot where it has data."""
        if self.snapshot is None:
            if view.t < self.snapshot_at:
                return view
            self.refresh(view)
        assert self.snapshot is not None
        changes = {}
        for f, old in self.snapshot.items():
            cur = getattr(view, f)
            if old.size != cur.size:
                continue
            have = np.isfinite(old) & np.isfinite(cur)
            changes[f] = np.where(have, (1 - s) * cur + s * old, cur).astype(F32)
        return view.replace(**changes)


class AcquisitionFocus(Bias):
    """Moves budget from keeping existing customers to winning new ones."""

    kind: ClassVar[str] = "acquisition_focus"

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Up to 75 % of the retention budget moves to acquisition."""
        keep = 1.0 - MAX_SHIFT * s
        sh = decision.shares
        moved = sum(sh.get(c, 0.0) for c in ("service", "complaints", "points")) * (1 - keep)
        return decision.with_shares(
            service=sh.get("service", 0.0) * keep,
            complaints=sh.get("complaints", 0.0) * keep,
            points=sh.get("points", 0.0) * keep,
            acquisition=sh.get("acquisition", 0.0) + moved,
        )


class BigAccount(Bias):
    """Serves the largest accounts and neglects small ones with growth potential."""

    kind: ClassVar[str] = "big_account"

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """Size first."""
        return blend(score, np.log1p(view.fill_by_segment(view.value)), view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Big accounts' complaints first."""
        size = np.log1p(np.nan_to_num(view.value, nan=0.0))
        decision.complaint_priority = blend_priority(decision, view, size, s)
        return decision


class Overpromise(Bias):
    """Promises more than is delivered."""

    kind: ClassVar[str] = "overpromise"
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "training")

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """The promise rises toward the maximum."""
        decision.promise = decision.promise + s * (1.0 - decision.promise)
        return decision


class PointsLockin(Bias):
    """Buys retention with points and contracts instead of satisfaction."""

    kind: ClassVar[str] = "points_lockin"

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """Up to 75 % of the service budget moves to points."""
        sh = decision.shares
        moved = sh.get("service", 0.0) * MAX_SHIFT * s
        return decision.with_shares(service=sh.get("service", 0.0) - moved,
                                    points=sh.get("points", 0.0) + moved)


def loudness(view: CRMView) -> np.ndarray:
    """How loud a customer is: complaints filed, open complaints, recent angry answers."""
    recent_angry = (np.nan_to_num(view.survey_nps, nan=10.0) <= 4) & (
        np.nan_to_num(view.survey_age, nan=99.0) <= 8)
    return (np.nan_to_num(view.complaints_total, nan=0.0) + 2.0 * view.complaint_open
            + recent_angry).astype(F32)


class Salience(Bias):
    """Reacts to the loudest recent complainers; silent at-risk customers are ignored."""

    kind: ClassVar[str] = "salience"
    remedies: ClassVar[tuple[str, ...]] = ("feedback_loop", "training")

    def judge(self, score: np.ndarray | None, view: CRMView, s: float) -> np.ndarray:
        """The loud first."""
        return blend(score, loudness(view), view.known, s)

    def adjust(self, decision: Decision, view: CRMView, s: float) -> Decision:
        """The loudest complaints first, not the oldest."""
        decision.complaint_priority = blend_priority(decision, view, loudness(view), s)
        return decision


BIASES: dict[str, type[Bias]] = {
    cls.kind: cls
    for cls in (Stereotype, Affinity, StaleData, AcquisitionFocus, BigAccount, Overpromise,
                PointsLockin, Salience)
}


def register_bias(kind: str, cls: type[Bias]) -> type[Bias]:
    """Make a bias class available under `kind` in scenario files.

    Args:
        kind: The name used in `biases[].kind`.
        cls: A subclass of `Bias`.

    Returns:
        The class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Bias)):
        raise TypeError("a bias must be a subclass of sim.biases.Bias")
    BIASES[kind] = cls
    return cls


def make_bias(spec: Any) -> Bias:
    """Build a bias from its scenario spec."""
    params = spec.model_dump(exclude={"kind", "strength", "options"})
    params.update(getattr(spec, "options", {}) or {})
    try:
        cls = BIASES[spec.kind]
    except KeyError:
        raise ValueError(f"unknown bias kind {spec.kind!r}; known: {sorted(BIASES)}") from None
    return cls(spec.strength, **params)
