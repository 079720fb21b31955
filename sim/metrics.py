"""Metrics: what each period is measured by, and how a run is summarised.

Every metric is computed for every period from the customers' columns in one
pass (`_tally`, compiled); sums are accumulated in float64 in customer order.
`METRICS` says, for each name, what it means and how a run is summarised:
flows are summed over the horizon, stocks are taken at the last period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents.customers import CustomerPopulation, PeriodOutcome
from sim.agents.kernels import trait_at
from sim.agents.state import ACTIVE
from sim.allocation import Allocation
from sim.jit import njit

F32 = np.float32


@dataclass(frozen=True)
class Metric:
    """A metric's meaning and its summary over a run ("sum" or "last")."""

    description: str
    summary: str
    unit: str = ""


METRICS: dict[str, Metric] = {
    "churn_rate": Metric("Customers lost so far ÷ customers ever active so far.", "last", "share"),
    "revenue": Metric("Revenue from purchases.", "sum", "money"),
    "profit": Metric("Margin on revenue − cost to serve − manager's spend − approach cost.",
                     "sum", "money"),
    "satisfaction": Metric("Mean true satisfaction of active customers (0–1).", "last"),
    "loyalty": Metric("Mean true attitudinal loyalty of active customers (0–1).", "last"),
    "nps": Metric("True net promoter score of active customers (−100…100).", "last"),
    "complaints": Metric("Complaints filed.", "sum", "count"),
    "active_customers": Metric("Active customers at the end of the period.", "last", "count"),
    "retained_not_loyal": Metric(
        "Share of active customers who are not loyal and stay because lock-in removes at least "
        "half of their hazard.", "last", "share"),
    "churned": Metric("Customers lost.", "sum", "count"),
    "acquired": Metric("Customers won (paid acquisition and referrals).", "sum", "count"),
    "referrals": Metric("Customers won through referrals.", "sum", "count"),
    "hazard": Metric("Customers lost ÷ customers active at the start of the period.", "last",
                     "share"),
    "market_share": Metric("Active customers ÷ all people in the market.", "last", "share"),
    "nps_surveyed": Metric("NPS as the manager sees it: answers of the last 13 periods.", "last"),
    "csat_surveyed": Metric("Mean CSAT (1–5) of the answers of the last 13 periods.", "last"),
    "complaints_open": Metric("Complaints waiting at the end of the period.", "last", "count"),
    "complaints_resolved": Metric("Complaints handled.", "sum", "count"),
    "grudges": Metric("Complaints never handled (turned into grudges).", "sum", "count"),
    "spend_service": Metric("Money spent on service attention.", "sum", "money"),
    "spend_complaints": Metric("Money spent on complaint handling.", "sum", "money"),
    "spend_points": Metric("Money spent on points and contracts.", "sum", "money"),
    "spend_acquisition": Metric("Money spent on winning customers.", "sum", "money"),
    "spend_remedies": Metric("Money the remedies used (training, research, surveys, colleagues' time).",
                             "sum", "money"),
    "cost_to_serve": Metric("Cost of serving active customers.", "sum", "money"),
    "promise": Metric("Marketing promise level (0.5 = honest).", "last"),
}

#: The metrics a comparison reports by default (SPEC.md's required names first).
HEADLINE = ("churn_rate", "revenue", "profit", "satisfaction", "loyalty", "nps", "complaints",
            "active_customers", "retained_not_loyal")
#: The manager's spending on customers that a return on spending is reckoned on.
RETENTION_SPEND = ("spend_service", "spend_points", "spend_complaints")


def nps_of(scores: np.ndarray) -> float:
    """Net promoter score of 0–10 answers: % promoters (9–10) − % detractors (0–6)."""
    if scores.size == 0:
        return float("nan")
    return float(100.0 * ((scores >= 9).mean() - (scores <= 6).mean()))


class MetricsRecorder:
    """Turns each period's outcome into metric values, keeping running totals.

    Args:
        pop: The customers.
        margin: Gross margin on revenue.
        approach_cost: Running cost per period of the manager's approach.
    """

    def __init__(self, pop: CustomerPopulation, margin: float, approach_cost: float) -> None:
        self.pop = pop
        self.margin = margin
        self.approach_cost = approach_cost
        self.ever_active = int((pop.status == ACTIVE).sum())
        self.lost = 0
        k = len(pop.segment_names)
        self.seg_ever = np.bincount(pop.segment[pop.status == ACTIVE], minlength=k).astype(float)
        self.seg_churned = np.zeros(k)
        self.seg_revenue = np.zeros(k)
        self.seg_service = np.zeros(k)

    def record(self, t: int, out: PeriodOutcome, alloc: Allocation) -> dict[str, float]:
        """Metrics of period `t`."""
        pop = self.pop
        b = pop.behaviour
        k = len(pop.segment_names)
        scores = out.recommend if out.recommend is not None else np.round(pop.recommend())
        tot, seg = _tally(t, pop.state(), scores, out.churned, out.acquired, out.referred, out.complaints_new,
                          out.active_start, out.revenue, alloc.service, pop.trait_args("cost_to_serve"),
                          F32(b.loyal_threshold), F32(b.locked_threshold), k)
        (n_active, sat_sum, loy_sum, promoters, detractors, recent, recent_prom, recent_det,
         csat_sum, bought_not_loyal, churned, acquired, referred, complaints, n0, complaints_open,
         serve) = tot.tolist()
        self.ever_active += int(acquired)
        self.lost += int(churned)
        self.seg_ever += seg[0]
        self.seg_churned += seg[1]
        self.seg_revenue += seg[2]
        self.seg_service += seg[3]
        revenue = float(seg[2].sum())
        spend = sum(alloc.spent.values())
        profit = self.margin * revenue - serve - spend - self.approach_cost
        nan = float("nan")
        return {
            "churn_rate": self.lost / max(self.ever_active, 1),
            "revenue": revenue,
            "profit": profit,
            "satisfaction": sat_sum / n_active if n_active else nan,
            "loyalty": loy_sum / n_active if n_active else nan,
            "nps": 100.0 * (promoters - detractors) / n_active if n_active else nan,
            "complaints": complaints,
            "active_customers": n_active,
            "retained_not_loyal": bought_not_loyal / n_active if n_active else 0.0,
            "churned": churned,
            "acquired": acquired,
            "referrals": referred,
            "hazard": churned / max(n0, 1),
            "market_share": n_active / pop.n,
            "nps_surveyed": 100.0 * (recent_prom - recent_det) / recent if recent else nan,
            "csat_surveyed": csat_sum / recent if recent else nan,
            "complaints_open": complaints_open,
            "complaints_resolved": float(out.complaints_resolved),
            "grudges": float(out.complaints_abandoned),
            "spend_service": alloc.spent["service"],
            "spend_complaints": alloc.spent["complaints"],
            "spend_points": alloc.spent["points"],
            "spend_acquisition": alloc.spent["acquisition"],
            "spend_remedies": alloc.spent.get("remedies", 0.0),
            "cost_to_serve": serve,
            "promise": alloc.promise,
        }

    def segments(self) -> dict[str, np.ndarray]:
        """Per-segment totals so far: ever active, churned, churn rate, revenue, service."""
        return {
            "customers": self.seg_ever.copy(),
            "churned": self.seg_churned.copy(),
            "churn_rate": self.seg_churned / np.maximum(self.seg_ever, 1),
            "revenue": self.seg_revenue.copy(),
            "service": self.seg_service.copy(),
            "service_per_customer": self.seg_service / np.maximum(self.seg_ever, 1),
        }


#: What `_tally` counts and sums, in order.
TALLY = ("active", "satisfaction", "loyalty", "promoters", "detractors", "recent", "recent_promoters",
         "recent_detractors", "recent_csat", "bought_not_loyal", "churned", "acquired", "referred",
         "complaints", "active_start", "complaints_open", "serve_cost")


@njit
def _tally(t, c, scores, churned, acquired, referred, complaints_new, active_start, revenue, service, cost,
           loyal_thr, locked_thr, k):  # pragma: no cover - compiled
    """The sums and counts of `TALLY`, and per segment, in two passes.

    The per-segment array has four rows: customers won, lost, revenue and service.
    Counts are taken as integers in a vectorised pass; sums are added in float64 in
    customer order.
    """
    tot = np.zeros(17)
    (tot[0], tot[3], tot[4], tot[5], tot[6], tot[7], tot[9], tot[10], tot[11], tot[12], tot[13],
     tot[14], tot[15]) = _tally_counts(t, c, scores, churned, acquired, referred, complaints_new, active_start,
                                       loyal_thr, locked_thr)
    seg = np.zeros((4, k))
    since = t - 13  # answers of the last 13 periods (never answered: NEVER, below any)
    sat_sum, loy_sum, csat_sum, serve = 0.0, 0.0, 0.0, 0.0
    cost_values, cost_at = cost
    for i in range(c.status.size):
        s = c.segment[i]
        if c.status[i] == ACTIVE:
            sat_sum += np.float64(c.satisfaction[i])
            loy_sum += np.float64(c.loyalty[i])
            if c.survey_at[i] > since and c.consent[i]:
                csat_sum += np.float64(c.survey_csat[i])
        if churned[i]:
            seg[1, s] += 1.0
        if acquired[i]:
            seg[0, s] += 1.0
        seg[2, s] += np.float64(revenue[i])
        seg[3, s] += np.float64(service[i])
        if active_start[i]:  # served this period: the customers active at its start
            serve += np.float64(trait_at(cost_values, cost_at, i))
    tot[1], tot[2], tot[8], tot[16] = sat_sum, loy_sum, csat_sum, serve
    return tot, seg


@njit(simd=True)
def _tally_counts(t, c, scores, churned, acquired, referred, complaints_new, active_start, loyal_thr, locked_thr
                  ):  # pragma: no cover - compiled
    """The counts of `TALLY` (integers, one vectorised pass), in the order `_tally` stores them."""
    since = t - 13  # answers of the last 13 periods (never answered: NEVER, below any)
    n_act = n_prom = n_det = n_rec = n_rprom = n_rdet = n_bnl = 0
    n_churn = n_acq = n_ref = n_comp = n_start = n_open = 0
    for i in range(c.status.size):
        act = c.status[i] == ACTIVE
        sc = scores[i]
        rec = act & (c.survey_at[i] > since) & c.consent[i]
        a = c.survey_nps[i]
        n_act += np.int64(act)
        n_prom += np.int64(act & (sc >= 9.0))
        n_det += np.int64(act & (sc <= 6.0))
        n_rec += np.int64(rec)
        n_rprom += np.int64(rec & (a >= 9.0))
        n_rdet += np.int64(rec & (a <= 6.0))
        n_bnl += np.int64(act & (c.loyalty[i] < loyal_thr) & (c.lock[i] >= locked_thr))
        n_open += np.int64(act & c.complaint_open[i])
        n_churn += np.int64(churned[i])
        n_acq += np.int64(acquired[i])
        n_ref += np.int64(referred[i])
        n_comp += np.int64(complaints_new[i])
        n_start += np.int64(active_start[i])
    return (n_act, n_prom, n_det, n_rec, n_rprom, n_rdet, n_bnl, n_churn, n_acq, n_ref, n_comp,
            n_start, n_open)
