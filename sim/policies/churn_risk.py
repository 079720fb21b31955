"""`churn_risk`: target the customers a model learned from observed churn says will leave.

The manager's analysts keep a rolling sample of customers' CRM records and
whether each account closed in the next period, and refit a ridge-regularised
logistic regression on it every few periods (Newton's method). Until the first
fit, recency stands in for risk.
"""

from __future__ import annotations

import weakref
from typing import ClassVar

import numpy as np
from pydantic import Field

from sim import crm_kernels
from sim.crm import CRMView
from sim.policies.base import BLOCK, Policy, zscore
from sim.registry import POLICIES
from sim.scenario import PolicyOptions

F32 = np.float32
#: The fields whose missing values the churn model fills with their segment's mean.
FILLED = ("recency", "frequency", "monetary", "complaints_total")


def _filled(view: CRMView, rows: np.ndarray | slice) -> list[np.ndarray]:
    """The `FILLED` fields at `rows` (float32 copies), missing values replaced by their segment's mean.

    The means are computed only for fields with missing values at `rows` (on
    the compiled path in one pass): a sample of known customers rarely has any.
    """
    values = [np.array(getattr(view, name)[rows], dtype=F32) for name in FILLED]  # copies, also of a slice
    bad = [np.flatnonzero(~np.isfinite(v)) for v in values]
    need = [name for name, b in zip(FILLED, bad, strict=True) if b.size]
    if need:
        means = dict(zip(need, view.field_segment_means(*need), strict=True))
        segment = view.segment[rows]
        for name, v, b in zip(FILLED, values, bad, strict=True):
            if b.size:
                v[b] = means[name].astype(F32)[segment[b]]
    return values


def _columns(view: CRMView, rows: np.ndarray | slice):
    recency, frequency, monetary, complaints = _filled(view, rows)
    nps = view.survey_nps[rows]
    answered = np.isfinite(nps)
    return [
        np.log1p(recency),
        frequency,
        np.log1p(monetary),
        view.complaint_open[rows].astype(F32),
        np.minimum(complaints, 5.0),
        np.where(answered, nps, 7.0).astype(F32, copy=False) / 10.0,
        answered.astype(F32),
        np.log1p(view.tenure[rows]),
        view.lock[rows].astype(F32),
    ]


def churn_features(view: CRMView, rows: np.ndarray | None = None) -> np.ndarray:
    """The design matrix of the churn model, one row per customer slot (or per `rows`)."""
    r = slice(None) if rows is None else rows
    cols = _columns(view, r)
    m = cols[0].size
    x = np.zeros((m, 1 + len(cols) + view.n_segments - 1), dtype=F32)
    x[:, 0] = 1.0
    for j, c in enumerate(cols, start=1):
        x[:, j] = c
    seg = view.segment[r]
    for k in range(1, view.n_segments):
        x[:, len(cols) + k] = seg == k
    return x


def linear_predictor(view: CRMView, coef: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """`churn_features(view) @ coef` without building the matrix (float64), of all rows or a block of rows."""
    return _compiled_eta(view, coef, negate_clipped=False, rows=rows)


def _compiled_eta(view: CRMView, coef: np.ndarray, negate_clipped: bool,
                  rows: slice = slice(None)) -> np.ndarray:
    """`linear_predictor` by the kernel (or `-clip(eta, -30, 30)` with `negate_clipped`), of a block of rows.

    The logarithms stay numpy's (they may differ from numba's in the last bit):
    the kernel fills recency and monetary value into a buffer, numpy takes the
    `log1p` in place, the kernel sums the terms in one pass.
    """
    seg = view.segment[rows]
    recency, frequency, monetary, complaints = (m.astype(F32) for m in view.field_segment_means(*FILLED))
    buf = np.empty((3, seg.size), dtype=F32)
    crm_kernels.fill2_f32(view.recency[rows], view.monetary[rows], seg, recency, monetary, buf)
    np.log1p(buf[:2], out=buf[:2])
    tenure = view.tenure[rows]
    log_tenure = np.log1p(tenure, out=buf[2]) if tenure.dtype == F32 else np.log1p(tenure)
    return crm_kernels.churn_eta(buf[0], crm_kernels.values(view.frequency[rows]), frequency, buf[1],
                                 np.asarray(view.complaint_open[rows], dtype=bool),
                                 crm_kernels.values(view.complaints_total[rows]), complaints,
                                 crm_kernels.values(view.survey_nps[rows]), log_tenure,
                                 crm_kernels.values(view.lock[rows]), seg, np.asarray(coef, dtype=np.float64),
                                 negate_clipped)


class ChurnModel:
    """A logistic churn model the manager learns from the churn it observes.

    Args:
        sample: Customers recorded per period.
        memory: Periods of records kept.
        ridge: L2 penalty.
    """

    def __init__(self, sample: int = 1000, memory: int = 26, ridge: float = 1.0) -> None:
        self.sample, self.memory, self.ridge = sample, memory, ridge
        self.pending: tuple[np.ndarray, np.ndarray] | None = None
        self.records: list[tuple[np.ndarray, np.ndarray]] = []
        self.coef: np.ndarray | None = None

    def record(self, view: CRMView, rng: np.random.Generator) -> None:
        """Label last period's sample with who left, and sample this period."""
        if self.pending is not None:
            ids, x = self.pending
            self.records.append((x, view.churned[ids].astype(F32)))
            self.records = self.records[-self.memory:]
        known = np.flatnonzero(view.known)
        if known.size == 0:
            self.pending = None
            return
        ids = rng.choice(known, size=min(self.sample, known.size), replace=False)
        self.pending = (ids, churn_features(view, ids))

    def fit(self, iterations: int = 5) -> bool:
        """Refit on the records; returns False when there is not yet enough churn."""
        if not self.records:
            return False
        x = np.concatenate([r[0] for r in self.records]).astype(np.float64)
        y = np.concatenate([r[1] for r in self.records]).astype(np.float64)
        if y.sum() < 5:
            return False
        beta = np.zeros(x.shape[1]) if self.coef is None else self.coef.copy()
        beta[0] = np.log(y.mean() / (1 - y.mean())) if self.coef is None else beta[0]
        pen = np.full(x.shape[1], self.ridge)
        pen[0] = 0.0
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
            grad = x.T @ (y - p) - pen * beta
            hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen) + 1e-9 * np.eye(x.shape[1])
            beta += np.linalg.solve(hess, grad)
        self.coef = beta
        return True

    def predict(self, view: CRMView) -> np.ndarray:
        """Predicted churn probability next period per customer slot."""
        if self.coef is None:
            return crm_kernels.recency_risk(crm_kernels.values(view.recency), view.known)
        # Block by block (every step is per row): the float64 scratch is a block's, not a column's.
        n = view.known.size
        risk = np.empty(n, dtype=F32)
        for a in range(0, n, BLOCK):
            rows = slice(a, min(a + BLOCK, n))
            # The exponential stays numpy's, computed in place on -clip(eta, -30, 30).
            x = _compiled_eta(view, self.coef, negate_clipped=True, rows=rows)
            crm_kernels.logistic32(np.exp(x, out=x), out=risk[rows])
        return risk


@POLICIES.register
class ChurnRiskPolicy(Policy):
    """Serve the customers most likely to leave, by a model learned from observed churn.

    Options:
        refit_every: Periods between refits (default 4).
        sample: Customers recorded per period (default 1000).
    """

    kind: ClassVar[str] = "churn_risk"
    pure_score: ClassVar[bool] = True

    class Options(PolicyOptions):
        """Settings of the learned churn model."""

        refit_every: int = Field(4, ge=1, description="Periods between refits of the churn model.")
        sample: int = Field(1000, ge=10, description="Customers recorded per period for the churn model.")

    #: Fields whose per-segment means the policy uses in a period: the churn model's fills
    #: (for the prediction every customer's complaint is ranked by) and the offer.
    means_used: ClassVar[tuple[str, ...]] = (*FILLED, "needs_signal")
    #: The means `observe` has `CRMView.field_segment_means` compute in one pass on the
    #: compiled path: those every period's decision uses.
    observed_means: ClassVar[tuple[str, ...]] = means_used

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refit_every = int(self.options.get("refit_every", 4))
        self.model = ChurnModel(sample=int(self.options.get("sample", 1000)))

    def observe(self, view: CRMView, rng: np.random.Generator) -> None:
        """Record data; refit on schedule."""
        if self.observed_means:
            view.field_segment_means(*self.observed_means)  # in one pass
        self.model.record(view, rng)
        if view.t > 0 and view.t % self.refit_every == 0:
            self.model.fit()

    def _risk(self, view: CRMView) -> np.ndarray:
        # score() and complaint_priority() see the same view in a period: predict once.
        # The view is held weakly: the cache must not keep last period's view alive.
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0]() is not view or cached[1] is not self.model.coef:
            self._cache = (weakref.ref(view), self.model.coef, self.model.predict(view))
        return self._cache[2]

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Predicted churn risk."""
        return self._risk(view)

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """At-risk customers' complaints first, then the oldest."""
        return zscore(self._risk(view), view.known) + 0.5 * view.complaint_age
