"""The CRM: everything a manager can see about customers, and nothing more.

Managers never see satisfaction, loyalty or churn hazard. They see purchase
history (recency, frequency, monetary value), complaints, survey answers,
revealed needs and segment labels — and under data-protection rules only for
customers who consented. `CRMView` is a snapshot of that for one period.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim import crm_kernels
from sim.agents.customers import CustomerPopulation
from sim.agents.state import ACTIVE, CHURNED
from sim.market import MarketState

F32 = np.float32


@dataclass(frozen=True)
class Truth:
    """What only the `oracle` is told: the customers themselves and the economics of the run.

    Attributes:
        customers: The population, true state and traits.
        market: The market this period.
        periods_left: Periods from this one to the horizon, this one included.
        margin: Gross margin on revenue.
        complaint_cost: Cost of handling one complaint.
        acquisition_cost: Cost of winning one customer.
    """

    customers: CustomerPopulation
    market: MarketState
    periods_left: int
    margin: float
    complaint_cost: float
    acquisition_cost: float


@dataclass
class CRMView:
    """What the manager sees in one period. Arrays have one entry per customer slot.

    Individual data of customers who did not consent (under regulation) is NaN.

    Attributes:
        t: The period.
        known: Active accounts (the firm knows who its customers are).
        churned: Accounts closed so far (churn is observed when it happens).
        segment: Segment index.
        segment_names: Segment labels.
        recency: Periods since the last purchase.
        frequency: Purchases per period (smoothed).
        monetary: Spend per purchase (smoothed).
        tenure: Periods since joining.
        complaint_open: An unhandled complaint is waiting.
        complaint_age: Periods the open complaint has waited.
        complaints_total: Complaints filed so far.
        survey_nps: Last likelihood-to-recommend answer (0–10), NaN if none.
        survey_csat: Last satisfaction answer (1–5), NaN if none.
        survey_age: Periods since the last answer, NaN if none.
        needs_signal: Needs revealed by the last purchases.
        purchases: Purchases recorded since the CRM started watching the customer
            (period 0 or their joining), NaN without consent; None: not kept.
        likability: How much the manager likes the customer (personal impression).
        lock: Points and contract lock-in the firm has granted.
        service_total: Service money given so far.
        consent: The customer's data may be used.
        budget: Money available this period.
        truth: The true state and the run's economics — only the `oracle` policy receives it.
    """

    t: int
    known: np.ndarray
    churned: np.ndarray
    segment: np.ndarray
    segment_names: tuple[str, ...]
    recency: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray
    tenure: np.ndarray
    complaint_open: np.ndarray
    complaint_age: np.ndarray
    complaints_total: np.ndarray
    survey_nps: np.ndarray
    survey_csat: np.ndarray
    survey_age: np.ndarray
    needs_signal: np.ndarray
    likability: np.ndarray
    lock: np.ndarray
    service_total: np.ndarray
    consent: np.ndarray
    budget: float
    purchases: np.ndarray | None = None
    truth: Truth | None = None
    _means: dict[str, np.ndarray] = field(init=False, repr=False, compare=False,
                                          default_factory=dict)

    #: Fields that carry individual data and are blanked without consent.
    PERSONAL = ("recency", "frequency", "monetary", "survey_nps", "survey_csat", "survey_age",
                "needs_signal", "complaints_total", "purchases")
    #: Fields a stale snapshot freezes.
    HISTORICAL = ("recency", "frequency", "monetary", "survey_nps", "survey_csat",
                  "needs_signal", "complaints_total", "tenure", "purchases")

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return len(self.segment_names)

    @property
    def value(self) -> np.ndarray:
        """Observed value per period: frequency × monetary (NaN when unknown)."""
        return self.frequency * self.monetary

    def segment_mean(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Mean of `values` per segment over known customers with data."""
        return crm_kernels.segment_mean(crm_kernels.values(values), self.known, self.segment, self.n_segments,
                                        float(fill))

    def field_segment_mean(self, name: str) -> np.ndarray:
        """`segment_mean` of the field `name` (or of `"value"`), computed once per view.

        Views are snapshots: their arrays are not modified once taken (biases
        that change what is seen make a new view with `replace`).
        """
        return self.field_segment_means(name)[0]

    def field_segment_means(self, *names: str) -> tuple[np.ndarray, ...]:
        """`field_segment_mean` of each of `names`, those not yet known computed in one pass.

        `"value"` (frequency × monetary value) may be among the names.
        """
        missing = [n for n in dict.fromkeys(names) if n not in self._means]
        fields = [n for n in missing if n != "value"]
        arrays = tuple(crm_kernels.values(getattr(self, n)) for n in fields)
        if len({a.dtype for a in arrays}) > 1:  # the kernel takes arrays of one dtype: one pass per field
            for n in fields:
                self.field_segment_means(n)
            fields, arrays = [], ()
        if fields or "value" in missing:
            product = "value" in missing
            f, m = crm_kernels.values(self.frequency), crm_kernels.values(self.monetary)
            means = crm_kernels.segment_means(arrays or (f,), f, m, product, self.known, self.segment,
                                              self.n_segments, 0.0)
            self._means.update(zip(fields, means, strict=False))
            if product:
                self._means["value"] = means[-1]
        return tuple(self._means[n] for n in names)

    def money_unit(self) -> float:
        """The CRM's unit of money: the mean of the segments' mean monetary values (1 when none is known).

        Features that take the logarithm of money take it of money in this unit,
        so that a policy ranks customers the same in any currency.
        """
        means = self.field_segment_mean("monetary")
        have = means[np.isfinite(means) & (means > 0)]
        return float(have.mean()) if have.size else 1.0

    def fill_by_segment(self, values: np.ndarray) -> np.ndarray:
        """Replace missing values by their segment's mean (what a CRM analyst would do)."""
        values = crm_kernels.values(values)
        return crm_kernels.fill_by_segment(values, self.segment, self.segment_mean(values))

    def replace(self, **changes: object) -> CRMView:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def build_view(pop: CustomerPopulation, t: int, budget: float, truth: Truth | None = None) -> CRMView:
    """Take the CRM snapshot of period `t`.

    Args:
        pop: The customers.
        t: The period.
        budget: Money available to the manager.
        truth: The true state, attached for the oracle only.

    Returns:
        The view.
    """
    (known, churned, recency, frequency, monetary, tenure, complaint_open, complaints_total,
     survey_nps, survey_csat, survey_age, needs_signal) = crm_kernels.view_arrays(
        t, pop.status, ACTIVE, CHURNED, pop.consent, pop.joined, pop.last_purchase, pop.survey_at,
        pop.frequency, pop.monetary, pop.complaints_total, pop.survey_nps, pop.survey_csat,
        pop.needs_signal, pop.complaint_open, slot=pop.free_slot)
    return CRMView(
        t=t, known=known, churned=churned, segment=pop.segment, segment_names=pop.segment_names,
        recency=recency, frequency=frequency, monetary=monetary, tenure=tenure,
        complaint_open=complaint_open, complaint_age=pop.complaint_age,
        complaints_total=complaints_total, survey_nps=survey_nps, survey_csat=survey_csat,
        survey_age=survey_age, needs_signal=needs_signal,
        purchases=np.where(known & pop.consent, pop.purchases_total, np.nan).astype(np.float32),
        likability=pop.likability, lock=pop.lock,
        service_total=pop.service_total, consent=pop.consent, budget=budget,
        truth=truth,
    )


def feedback_risk(view: CRMView) -> np.ndarray:
    """Risk as customers tell it: low recommendation scores and open complaints.

    Customers never surveyed get their segment's mean answer; answers count
    less as they age.
    """
    nps = view.fill_by_segment(view.survey_nps)
    nps = np.where(np.isfinite(nps), nps, 7.0)
    age = np.nan_to_num(view.survey_age, nan=52.0)
    weight = np.exp(-age / 26.0)
    return ((10.0 - nps) / 10.0 * (0.5 + 0.5 * weight)
            + view.complaint_open.astype(F32) + 0.3 * np.minimum(
                np.nan_to_num(view.complaints_total, nan=0.0), 3)).astype(F32)
