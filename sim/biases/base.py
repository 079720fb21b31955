"""What every bias shares: strength, the three points it acts at, and what the workshop says of it.

A bias never touches customers. It acts at one or more of three points of the
manager's decision, always scaled by its strength `s` in [0, 1] (after remedies):

- `see(view, s)`: what the manager perceives (stale data);
- `judge(score, view, s)`: whom the manager thinks deserves attention — the
  policy's standardised score is blended with the bias's own criterion,
  `(1 - s) * z(score) + s * z(criterion)`;
- `adjust(decision, view, s)`: how the budget is split, what is promised, how the
  offer is tuned and which complaints come first.

Its harm has to emerge through the customer mechanisms. For the workshop a
bias carries its name in plain words (`label`), what to do instead (`advice`),
the remedies that work on it, and how to recognise it in a trainee's
decisions (`measure` per round, `detect` over the rounds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.allocation import Decision
from sim.crm import CRMView
from sim.policies.base import zscore
from sim.registry import BIASES
from sim.scenario import BiasParams

if TYPE_CHECKING:
    from sim.biases.evidence import Detection, Rounds

F32 = np.float32
#: Largest share of the retention budget a full-strength bias moves elsewhere.
MAX_SHIFT = 0.75


def blend(score: np.ndarray | None, criterion: np.ndarray, mask: np.ndarray,
          s: float) -> np.ndarray | None:
    """`(1 - s) * z(score) + s * z(criterion)` over the known customers; the score itself at strength 0.

    At strength 0 the bias is absent: the policy's score is returned as it is,
    missing values (customers it gives no score) and all.
    """
    if s <= 0:
        return score
    return ((1.0 - s) * zscore(score, mask) + s * zscore(criterion, mask)).astype(F32)


def blend_priority(decision: Decision, view: CRMView, criterion: np.ndarray,
                   s: float) -> np.ndarray | None:
    """Blend the complaint queue's order with a biased criterion (the decision's own at strength 0)."""
    if s <= 0:
        return decision.complaint_priority
    base = (decision.complaint_priority if decision.complaint_priority is not None
            else view.complaint_age.astype(F32))
    return blend(base, criterion, view.complaint_open, s)


class Bias:
    """Base class: a bias that does nothing at any point.

    Args:
        strength: Strength in [0, 1] before remedies.
        options: Kind-specific settings (the fields of `Params` beyond `strength`).
    """

    kind: ClassVar[str] = "none"
    #: Its parameters in a scenario file; a kind with settings of its own subclasses `BiasParams`.
    Params: ClassVar[type[BiasParams]] = BiasParams
    #: Its name in plain words (the workshop's debrief).
    label: ClassVar[str] = ""
    #: What to do instead, in plain words.
    advice: ClassVar[str] = ""
    #: The remedies that work on this bias (kinds of `sim.remedies`).
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

    @classmethod
    def measure(cls, view: CRMView, service: np.ndarray) -> dict[str, float] | None:
        """What a round's plan shows of this bias, beyond the workshop's own measures (JSON-ready).

        Args:
            view: The CRM the plan was decided on.
            service: Share of the service money each customer receives.
        """
        return None

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection | None:
        """How strongly a trainee's rounds resemble this bias (None: the workshop cannot tell)."""
        return None


def register_bias(kind: str | type[Bias], cls: type[Bias] | None = None) -> Any:
    """Make a bias class available under `kind` in scenario files (also a decorator).

    Args:
        kind: The name used in `biases[].kind` (or the class, whose `kind` is used).
        cls: A subclass of `Bias`.

    Returns:
        The class.
    """
    target = kind if isinstance(kind, type) else cls
    if target is not None and not (isinstance(target, type) and issubclass(target, Bias)):
        raise TypeError("a bias must be a subclass of sim.biases.Bias")
    return BIASES.register(kind, cls)


def make_bias(spec: Any) -> Bias:
    """Build a bias from its scenario entry."""
    cls = BIASES.get(spec.kind)
    if cls is None:
        raise ValueError(f"unknown bias kind {spec.kind!r}; known: {sorted(BIASES)}")
    params = spec.model_dump(exclude={"kind", "strength"})
    return cls(spec.strength, **params)
