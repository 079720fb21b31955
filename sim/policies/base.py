"""What every policy shares: settings, scoring helpers and turning scores into a decision.

A policy takes what the manager sees (`CRMView`) and returns a `Decision`. Most
policies only say how much each customer deserves attention (`score`); the
base class turns scores into service for the top `target_share` of customers,
tunes the offer to the needs the CRM reveals, and keeps the budget split.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sim import crm_kernels
from sim.allocation import Decision
from sim.crm import CRMView
from sim.scenario import PolicyOptions

F32 = np.float32
#: Rows per block where a pass over every customer works block by block (its scratch memory stays small).
BLOCK = 1 << 16


def zscore(x: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """Standardise `x` over `mask` (missing values become 0, the mean).

    The kernel gathers the finite values of `x` under `mask` as float64; their
    mean and deviation are numpy's (pairwise sums).
    """
    mask = np.asarray(mask, dtype=bool)
    if x is None:
        return np.zeros(mask.shape, dtype=F32)
    x = crm_kernels.values(x)
    have = crm_kernels.finite_where(x, mask)
    if have.size == 0:
        return np.zeros(mask.shape, dtype=F32)
    s = have.std()
    return crm_kernels.standardise(x, mask, have.mean(), s if s > 0 else 1.0)


def _rank_key(score: np.ndarray) -> np.ndarray:
    """The order `top_share` ranks by: the score as float64, missing (NaN) below everything.

    NaN becomes -inf; ±inf become the largest finite values, so an infinite
    score ranks above (or below) every finite one and above a missing one.
    """
    key = score.astype(np.float64)
    return np.nan_to_num(key, copy=False, nan=-np.inf)


def top_share(score: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """Weight 1 for the top `share` of customers in `mask` by score, else 0 (float32; see `top_mask`)."""
    return top_mask(score, mask, share).astype(F32)


def top_mask(score: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """True for the top `share` of customers in `mask` by score (at least one), else False.

    Ties at the cut are broken by customer id (lower ids first), so the result
    is deterministic. The k-th best key is found by an in-place partition of
    the masked keys; the rows are then compared with it block by block, so the
    scratch memory is one float64 per masked customer.
    """
    mask = np.asarray(mask, dtype=bool)
    score = np.asarray(score)
    m = int(np.count_nonzero(mask))
    if m == 0:
        return np.zeros(mask.shape, dtype=bool)
    k = max(1, round(share * m))
    if k >= m:
        return mask.copy()
    n = mask.size
    keys = np.empty(m, dtype=np.float64)
    at = 0
    for a in range(0, n, BLOCK):
        part = _rank_key(score[a:a + BLOCK][mask[a:a + BLOCK]])
        keys[at:at + part.size] = part
        at += part.size
    keys.partition(m - k)
    cut = keys[m - k]  # the k-th best key; the k best are above or at it
    above = int(np.count_nonzero(keys[m - k + 1:] > cut))
    del keys
    ties_left = k - above  # customers at the cut chosen, lowest ids first
    w = np.zeros(n, dtype=bool)
    for a in range(0, n, BLOCK):
        key = _rank_key(score[a:a + BLOCK])
        mk = mask[a:a + BLOCK]
        np.logical_and(key > cut, mk, out=w[a:a + BLOCK])
        if ties_left:
            tie = np.flatnonzero((key == cut) & mk)[:ties_left]
            w[a + tie] = True
            ties_left -= tie.size
    return w


class Policy:
    """Base policy: serve the top `target_share` by `score`.

    Args:
        shares: Budget share per channel.
        target_share: Share of customers given service.
        promise: Marketing promise level.
        options: Kind-specific settings.
    """

    kind: ClassVar[str] = "base"
    #: The settings a scenario may give under `options` (validated when the scenario is read).
    Options: ClassVar[type[PolicyOptions]] = PolicyOptions
    #: Defaults of the kind, used when the scenario leaves them unset.
    default_shares: ClassVar[dict[str, float]] = {
        "service": 0.65, "complaints": 0.15, "points": 0.0, "acquisition": 0.2}
    default_target: ClassVar[float] = 0.3
    #: Whether the policy needs the true state (only the oracle).
    needs_truth: ClassVar[bool] = False
    #: Whether `score` only reads the view (no random draws, no state kept): then a manager
    #: without biases or remedies skips it in the periods whose decision does not use it
    #: (between re-targetings; see `uses_score`). Policies that draw from `rng` in `score`
    #: leave this False.
    pure_score: ClassVar[bool] = False

    def __init__(self, shares: dict[str, float] | None = None, target_share: float | None = None,
                 promise: float = 0.5, options: dict[str, Any] | None = None) -> None:
        self.shares = dict(shares or self.default_shares)
        self.target_share = target_share if target_share is not None else self.default_target
        self.promise = promise
        self.options = dict(options or {})
        self._targets: np.ndarray | None = None
        self._targeted_at = -(10**9)

    def observe(self, view: CRMView, rng: np.random.Generator) -> None:
        """Learn from this period's data (once per period, before scoring)."""

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray | None:
        """How much each customer deserves service (higher first); None = no preference."""
        return None

    def complaint_priority(self, view: CRMView) -> np.ndarray | None:
        """Order of the complaint queue (higher first); None = oldest first."""
        return None

    def offer(self, view: CRMView) -> np.ndarray:
        """Needs position the offer is tuned to, per segment: the needs the CRM reveals."""
        return view.field_segment_mean("needs_signal").astype(F32)

    def uses_score(self, view: CRMView) -> bool:
        """Whether this period's decision uses the score (if not, a pure score need not be computed).

        It always does, except for a `pure_score` policy whose decision reads the
        score only through the base `target`, between re-targetings. A policy
        that overrides `decide` or `target` may read the score every period, so
        it is scored every period whatever `pure_score` says (the same decision,
        as a pure score would have been the same).
        """
        cls = type(self)
        through_target = cls.decide is Policy.decide and cls.target is Policy.target
        return not (self.pure_score and through_target) or self.retargets(view)

    def retargets(self, view: CRMView) -> bool:
        """Whether `target` chooses the customers anew in this period (and so uses the score)."""
        every = int(self.options.get("retarget_every", 13))
        return (self._targets is None or self._targets.size != view.known.size
                or view.t - self._targeted_at >= every)

    def target(self, view: CRMView, score: np.ndarray | None) -> np.ndarray:
        """Service weights: the top `target_share` by score, re-chosen every `retarget_every`.

        Like a real CRM programme, customers are enrolled for a while (option
        `retarget_every`, default 13 periods) rather than reshuffled every period;
        customers who left are replaced at the next re-targeting. Between
        re-targetings the score is not used.
        """
        if self.retargets(view):
            if score is None:
                return view.known.astype(F32)
            self._targets = top_mask(score, view.known, self.target_share)  # kept as a mask (memory)
            self._targeted_at = view.t
        assert self._targets is not None
        return np.logical_and(view.known, self._targets).astype(F32)

    def decide(self, view: CRMView, score: np.ndarray | None) -> Decision:
        """Turn a (possibly biased) score into a decision."""
        weights = self.target(view, score)
        return Decision(
            shares=dict(self.shares),
            service_weights=weights,
            offer=self.offer(view),
            promise=self.promise,
            complaint_priority=self.complaint_priority(view),
        )
