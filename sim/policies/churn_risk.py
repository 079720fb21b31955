"""`churn_risk`: target the customers a model learned from observed churn says will leave.

The manager's analysts keep, every period, a sample of customers' CRM records
(`features`: recency, frequency, monetary value, complaints, survey answers,
tenure, lock-in, segment) and learn, once each record's outcome is known, which
of those customers closed their account within the following quarter
(`window` periods). The model is scikit-learn's L2-regularised logistic
regression on standardised features, refitted every few periods on the last
`memory` periods of labelled records; it is kept while fewer than `min_events`
closures have been seen. Until the first fit, the time since the last
purchase stands in for risk.

Being served lowers a customer's risk, and the served are those the model
called at risk: learned from everyone, the model would find risk where it has
been treated away (served ⇔ predicted risky, so the two cannot be told apart).
Each record therefore carries whether the customer was in the service
programme, and a prediction is the risk of a customer left alone. A manager
may instead keep a control group out of the programme, as retention
programmes do (`holdout`: a share of customers drawn at random as they
arrive, never targeted), and learn from its records only: their churn is what
a customer left alone runs, free of the programme's confounding, but it is
learned from fewer customers. In the default market (4,000 customers, 104
weeks, 8 paired seeds) a 10 % control group costs `clv` 37,500 of profit
[26,700, 48,300] and does not help `churn_risk` (−9,000 [−31,000, +13,000]):
the default is no control group.

A prediction is the chance to leave within the window; `period_risk` turns it
into a chance per period (what lifetime value divides by).
"""

from __future__ import annotations

import weakref
from typing import ClassVar

import numpy as np
from pydantic import Field
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sim import crm_kernels
from sim.crm import CRMView
from sim.policies.base import BLOCK, Policy, zscore
from sim.registry import POLICIES
from sim.scenario import PolicyOptions, weekly

F32 = np.float32
#: Periods of the recent frequency the long-run purchase rate is shrunk toward (`trend`).
TREND_PRIOR = 8.0
#: The fields whose missing values (no consent, no purchase yet) are filled with their segment's mean.
FILLED = ("recency", "frequency", "monetary", "complaints_total")
#: The features, in the order of the model's columns (then one column per segment but the first).
FEATURES = ("log recency", "log frequency", "purchase trend", "log monetary", "complaint open",
            "complaints (≤ 5)",
            "last NPS answer / 10", "answered a survey", "log tenure", "lock-in",
            "revealed needs' distance from the segment's", "in the service programme")


def features(view: CRMView, rows: np.ndarray | slice = slice(None),
             served: np.ndarray | None = None) -> np.ndarray:
    """The churn model's inputs for the customers `rows` (float64, one row each).

    Missing values (a customer who did not consent, who has not bought yet) are
    filled with their segment's mean, what a CRM analyst would do. `served` marks
    the customers the manager's programme is serving (by slot; None: nobody), so
    the model tells the risk a customer runs from the effect of being served.
    """
    segment = view.segment[rows]
    filled = []
    for name, means in zip(FILLED, view.field_segment_means(*FILLED), strict=True):
        v = np.asarray(getattr(view, name)[rows], dtype=np.float64)
        filled.append(np.where(np.isfinite(v), v, means[segment]))
    recency, frequency, monetary, complaints = filled
    nps = np.asarray(view.survey_nps[rows], dtype=np.float64)
    answered = np.isfinite(nps)
    cols = [np.log1p(recency), np.log1p(frequency), trend(view, rows, frequency),
            np.log1p(monetary / view.money_unit()),
            np.asarray(view.complaint_open[rows], dtype=np.float64), np.minimum(complaints, 5.0),
            np.where(answered, nps, 7.0) / 10.0, answered.astype(np.float64),
            np.log1p(np.asarray(view.tenure[rows], dtype=np.float64)),
            np.asarray(view.lock[rows], dtype=np.float64)]
    needs = np.asarray(view.needs_signal[rows], dtype=np.float64)
    centre = view.field_segment_mean("needs_signal")[segment]
    cols.append(np.abs(np.where(np.isfinite(needs), needs, centre) - centre))
    cols.append(np.zeros(len(segment)) if served is None else np.asarray(served[rows], dtype=np.float64))
    cols += [(segment == k).astype(np.float64) for k in range(1, view.n_segments)]
    return np.column_stack(cols)


def trend(view: CRMView, rows: np.ndarray | slice, frequency: np.ndarray) -> np.ndarray:
    """How the recent purchase frequency compares with the customer's own long-run rate (log ratio).

    The long-run rate is the purchases recorded over the periods the CRM has
    watched the customer, shrunk toward the recent frequency by `TREND_PRIOR`
    periods of it (so a short record shows no trend). A customer buying less
    than they used to is the first sign a CRM sees of one who is unhappy.
    """
    if view.purchases is None:
        return np.zeros_like(frequency)
    watched = np.minimum(np.asarray(view.tenure[rows], dtype=np.float64), float(view.t))
    recorded = np.asarray(view.purchases[rows], dtype=np.float64)
    bought = np.nan_to_num(recorded, nan=0.0)
    prior = np.where(np.isfinite(recorded), TREND_PRIOR, 1e9)
    long_run = (bought + prior * frequency) / (watched + prior)
    return np.log1p(frequency) - np.log1p(long_run)


def period_risk(window_risk: np.ndarray, window: int) -> np.ndarray:
    """A chance to leave within `window` periods as a constant chance per period."""
    return (1.0 - np.power(1.0 - np.clip(window_risk, 0.0, 1.0 - 1e-9), 1.0 / window)).astype(F32)


class ChurnModel:
    """A churn model the manager learns from the churn it observes.

    Args:
        sample: Customers recorded per period.
        window: Periods after a record within which a closed account counts as churn.
        memory: Periods of labelled records kept for fitting.
        min_events: Closures needed before the first fit.
    """

    def __init__(self, sample: int = 1000, window: int = 13, memory: int = 39, min_events: int = 30) -> None:
        self.sample, self.window, self.memory, self.min_events = sample, window, memory, min_events
        self.pending: list[tuple[int, np.ndarray, np.ndarray]] = []  # (period, ids, features) awaiting outcome
        self.records: list[tuple[np.ndarray, np.ndarray]] = []  # (features, churned within the window)
        self.pipeline = None

    @property
    def fitted(self) -> bool:
        """Whether the model has been fitted."""
        return self.pipeline is not None

    def record(self, view: CRMView, rng: np.random.Generator, served: np.ndarray | None = None,
               among: np.ndarray | None = None) -> None:
        """Label the records whose window has passed with who left, and sample this period's customers.

        `served` marks the customers the programme serves now (by slot), a feature of their records;
        `among` (by slot) limits the sample to those customers (a control group).
        """
        while self.pending and self.pending[0][0] <= view.t - self.window:
            _, ids, x = self.pending.pop(0)
            if x.shape[0] and ids.max() < view.churned.size:
                self.records.append((x, view.churned[ids].astype(np.float64)))
        self.records = self.records[-self.memory:]
        known = np.flatnonzero(view.known if among is None else view.known & among[:view.known.size])
        if known.size:
            ids = np.sort(rng.choice(known, size=min(self.sample, known.size), replace=False))
            self.pending.append((view.t, ids, features(view, ids, served)))

    def fit(self) -> bool:
        """Refit on the labelled records; False while there are too few closures to learn from."""
        if not self.records:
            return False
        y = np.concatenate([r[1] for r in self.records])
        if y.sum() < self.min_events or y.sum() == y.size:
            return False
        x = np.concatenate([r[0] for r in self.records])
        self.pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)).fit(x, y)
        return True

    def predict_window(self, view: CRMView) -> np.ndarray:
        """Chance to leave within the window if not served, per customer slot (float64; 0 if not known)."""
        n = view.known.size
        risk = np.zeros(n)
        known = np.flatnonzero(view.known)
        for a in range(0, known.size, BLOCK):  # block by block: the features are a block's, not a column's
            rows = known[a:a + BLOCK]
            risk[rows] = self.pipeline.predict_proba(features(view, rows))[:, 1]
        return risk

    def predict(self, view: CRMView) -> np.ndarray:
        """Predicted churn chance per period per customer slot (float32).

        Before the first fit: the time since the last purchase, a proxy that ranks
        customers (its scale is not a probability).
        """
        if not self.fitted:
            return crm_kernels.recency_risk(crm_kernels.values(view.recency), view.known)
        return period_risk(self.predict_window(view), self.window)


@POLICIES.register
class ChurnRiskPolicy(Policy):
    """Serve the customers most likely to leave, by a model learned from observed churn."""

    kind: ClassVar[str] = "churn_risk"
    pure_score: ClassVar[bool] = True

    class Options(PolicyOptions):
        """Settings of the learned churn model."""

        refit_every: int = Field(4, ge=1, description="Periods between refits of the churn model.",
                                 json_schema_extra=weekly("periods"))
        sample: int = Field(1000, ge=10, description="Customers recorded per period for the churn model.")
        window: int = Field(13, ge=1, description="Periods after a record in which leaving counts as churn.",
                            json_schema_extra=weekly("periods"))
        memory: int = Field(39, ge=1, description="Periods of labelled records the model is fitted on.",
                            json_schema_extra=weekly("periods"))
        holdout: float = Field(
            0.0, ge=0, lt=1, description="Share of customers kept out of the programme at random, the control "
            "group whose churn the model learns from (0: learn from everyone, being served a feature).")

    #: Fields whose per-segment means the policy uses in a period (the features' fills, the offer).
    means_used: ClassVar[tuple[str, ...]] = (*FILLED, "needs_signal")
    #: The means `observe` computes in one pass: those every period's decision uses.
    observed_means: ClassVar[tuple[str, ...]] = means_used

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        settings = self.Options.model_validate(self.options)
        self.refit_every = settings.refit_every
        self.holdout = settings.holdout
        self.model = ChurnModel(sample=settings.sample, window=settings.window, memory=settings.memory)
        self._control = np.zeros(0, dtype=bool)  # by slot: in the control group

    def control_group(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Who is in the control group, by slot: each slot drawn once, when it is first seen."""
        n = view.known.size
        if self._control.size < n:
            new = rng.random(n - self._control.size) < self.holdout
            self._control = np.concatenate([self._control, new])
        return self._control[:n]

    def leave_out_control(self, score: np.ndarray) -> np.ndarray:
        """`score` with the control group below everyone (it is never targeted)."""
        if not self.holdout:
            return score
        out = np.array(score, dtype=F32)
        out[self._control[:out.size]] = -np.inf
        return out

    def observe(self, view: CRMView, rng: np.random.Generator) -> None:
        """Record data; refit on schedule."""
        if self.observed_means:
            view.field_segment_means(*self.observed_means)  # in one pass
        if self.holdout:
            self.model.record(view, rng, among=self.control_group(view, rng))
        else:
            targets = self._targets
            served = targets if targets is not None and targets.size == view.known.size else None
            self.model.record(view, rng, served)
        if view.t > 0 and view.t % self.refit_every == 0:
            self.model.fit()

    def _risk(self, view: CRMView) -> np.ndarray:
        # score() and complaint_priority() see the same view in a period: predict once.
        # The view is held weakly: the cache must not keep last period's view alive.
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0]() is not view or cached[1] is not self.model.pipeline:
            self._cache = (weakref.ref(view), self.model.pipeline, self.model.predict(view))
        return self._cache[2]

    def score(self, view: CRMView, rng: np.random.Generator) -> np.ndarray:
        """Predicted churn risk (the control group below everyone)."""
        return self.leave_out_control(self._risk(view))

    def complaint_priority(self, view: CRMView) -> np.ndarray:
        """At-risk customers' complaints first, then the oldest."""
        return zscore(self._risk(view), view.known) + 0.5 * view.complaint_age
