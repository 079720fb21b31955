"""The CRM: everything a manager can see about customers, and nothing more.

Managers never see satisfaction, loyalty or churn hazard. They see purchase
history (recency, frequency, monetary value), complaints, survey answers,
revealed needs and segment labels — and under data-protection rules only for
customers who consented. `CRMView` is a snapshot of that for one period.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim import crm_kernels, jit
from sim.agents.customers import ACTIVE, CHURNED, CustomerPopulation

F32 = np.float32


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
        likability: How much the manager likes the customer (personal impression).
        lock: Points and contract lock-in the firm has granted.
        service_total: Service money given so far.
        consent: The customer's data may be used.
        budget: Money available this period.
        truth: The population itself — only the `oracle` policy receives it.
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
    truth: CustomerPopulation | None = None
    _means: dict[str, np.ndarray] = field(init=False, repr=False, compare=False,
                                          default_factory=dict)

    #: Fields that carry individual data and are blanked without consent.
    PERSONAL = ("recency", "frequency", "monetary", "survey_nps", "survey_csat", "survey_age",
                "needs_signal", "complaints_total")
    #: Fields a stale snapshot freezes.
    HISTORICAL = ("recency", "frequency", "monetary", "survey_nps", "survey_csat",
                  "needs_signal", "complaints_total", "tenure")

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
        if jit.ENABLED and self._kernels_take(values):
            return crm_kernels.segment_mean(values, self.known, self.segment, self.n_segments, float(fill))
        ok = np.isfinite(values)
        ok &= self.known
        # Entries without data go to bins k..2k-1 (discarded): each kept bin sums
        # the same values in the same order as `bincount(segment[ok], values[ok])`.
        k = self.n_segments
        ids = np.multiply(~ok, k, dtype=np.intp)
        ids += self._segment_ids
        sums = np.bincount(ids, weights=values, minlength=2 * k)[:k]
        cnt = np.bincount(ids, minlength=2 * k)[:k]
        return np.where(cnt > 0, sums / np.maximum(cnt, 1), fill)

    def field_segment_mean(self, name: str) -> np.ndarray:
        """`segment_mean` of the field `name`, computed once per view.

        Views are snapshots: their arrays are not modified once taken (biases
        that change what is seen make a new view with `replace`).
        """
        if name not in self._means:
            self._means[name] = self.segment_mean(getattr(self, name))
        return self._means[name]

    def field_segment_means(self, *names: str) -> tuple[np.ndarray, ...]:
        """`field_segment_mean` of each of `names`; the kernels compute the missing ones in one pass.

        `"value"` (frequency × monetary value) may be among the names.
        """
        missing = [n for n in dict.fromkeys(names) if n not in self._means]
        if jit.ENABLED and missing:
            f, m = self.frequency, self.monetary
            product = ("value" in missing and f.dtype == np.float32 and m.dtype == np.float32
                       and self._kernels_take(f, m))
            fields = [n for n in missing if n != "value"]
            arrays = tuple(getattr(self, n) for n in fields)
            if fields and len({a.dtype for a in arrays}) == 1 and self._kernels_take(*arrays):
                pair = (f, m) if product else (arrays[0], arrays[0])
                means = crm_kernels.segment_means(arrays, *pair, product, self.known, self.segment,
                                                  self.n_segments, 0.0)
                self._means.update(zip([*fields, "value"] if product else fields, means, strict=True))
            elif product:  # frequency's mean comes with it (the same as its own)
                freq, value = crm_kernels.segment_means((f,), f, m, True, self.known, self.segment,
                                                        self.n_segments, 0.0)
                self._means.setdefault("frequency", freq)
                self._means["value"] = value
        for n in missing:
            self.field_segment_mean(n)
        return tuple(self._means[n] for n in names)

    @property
    def _segment_ids(self) -> np.ndarray:
        """Segment index as `intp` (what `np.bincount` takes), converted once per view."""
        if "_segment_ids" not in self._means:
            self._means["_segment_ids"] = self.segment.astype(np.intp)
        return self._means["_segment_ids"]

    def fill_by_segment(self, values: np.ndarray) -> np.ndarray:
        """Replace missing values by their segment's mean (what a CRM analyst would do)."""
        means = self.segment_mean(values)
        if jit.ENABLED and self._kernels_take(values):
            return crm_kernels.fill_by_segment(values, self.segment, means)
        return np.where(np.isfinite(values), values, means[self.segment]).astype(F32)

    def _kernels_take(self, *values: np.ndarray) -> bool:
        """Whether the kernels take `values` with this view's mask and segments (else numpy computes).

        `values` are arrays of one entry per customer slot with a dtype of
        `crm_kernels.KERNEL_DTYPES`; the mask must be boolean, the segments integers.
        """
        n = self.known.shape
        return (self.known.dtype == np.bool_ and isinstance(self.segment, np.ndarray)
                and self.segment.dtype.kind in "iu" and self.segment.shape == n
                and all(isinstance(v, np.ndarray) and v.dtype in crm_kernels.KERNEL_DTYPES and v.shape == n
                        for v in values))

    def replace(self, **changes: object) -> CRMView:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def build_view(pop: CustomerPopulation, t: int, budget: float,
               with_truth: bool = False) -> CRMView:
    """Take the CRM snapshot of period `t`.

    Args:
        pop: The customers.
        t: The period.
        budget: Money available to the manager.
        with_truth: Attach the true state (oracle only).

    Returns:
        The view.
    """
    if jit.ENABLED and pop.consent.dtype == np.bool_ and pop.complaint_open.dtype == np.bool_:
        # One pass per group of fields (fused; exactly the arrays below).
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
            survey_age=survey_age, needs_signal=needs_signal, likability=pop.likability, lock=pop.lock,
            service_total=pop.service_total, consent=pop.consent, budget=budget,
            truth=pop if with_truth else None,
        )
    known = pop.status == ACTIVE
    nan = np.float32(np.nan)
    ok = known & pop.consent
    not_ok = ~ok

    def since(at: np.ndarray) -> np.ndarray:
        # Periods since `at` (NaN if never or not visible); exact in float32.
        out = np.subtract(t, at, dtype=F32)
        np.copyto(out, nan, where=not_ok | (at < 0))
        return out

    def personal(a: np.ndarray) -> np.ndarray:
        return np.where(ok, a, nan).astype(F32, copy=False)

    def answers(a: np.ndarray) -> np.ndarray:  # survey answers: negative = never answered
        return np.where(ok & (a >= 0), a, nan).astype(F32, copy=False)

    tenure = np.subtract(t, pop.joined, dtype=F32)
    tenure[~known] = 0.0
    return CRMView(
        t=t,
        known=known,
        churned=pop.status == CHURNED,
        segment=pop.segment,
        segment_names=pop.segment_names,
        recency=since(pop.last_purchase),
        frequency=personal(pop.frequency),
        monetary=personal(pop.monetary),
        tenure=tenure,
        complaint_open=pop.complaint_open & known,
        complaint_age=pop.complaint_age,
        complaints_total=personal(pop.complaints_total),
        survey_nps=answers(pop.survey_nps),
        survey_csat=answers(pop.survey_csat),
        survey_age=since(pop.survey_at),
        needs_signal=personal(pop.needs_signal),
        likability=pop.likability,
        lock=pop.lock,
        service_total=pop.service_total,
        consent=pop.consent,
        budget=budget,
        truth=pop if with_truth else None,
    )
