"""Metrics: what each period is measured by, and how a run is summarised.

Every metric is computed for every period from the customers' columns in bulk.
`METRICS` says, for each name, what it means and how a run is summarised:
flows are summed over the horizon, stocks are taken at the last period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents.customers import ACTIVE, CustomerPopulation, PeriodOutcome
from sim.allocation import Allocation


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
    "cost_to_serve": Metric("Cost of serving active customers.", "sum", "money"),
    "promise": Metric("Marketing promise level (0.5 = honest).", "last"),
}

#: The metrics a comparison reports by default (SPEC.md's required names first).
HEADLINE = ("churn_rate", "revenue", "profit", "satisfaction", "loyalty", "nps", "complaints",
            "active_customers", "retained_not_loyal")


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
        active = pop.status == ACTIVE
        n_active = np.count_nonzero(active)
        churned = np.count_nonzero(out.churned)
        acquired = np.count_nonzero(out.acquired)
        self.ever_active += acquired
        self.lost += churned
        revenue = float(out.revenue.sum(dtype=np.float64))
        serve = float(out.serve_cost.sum(dtype=np.float64))
        spend = sum(alloc.spent.values())
        profit = self.margin * revenue - serve - spend - self.approach_cost

        sat = pop.satisfaction[active]
        loy = pop.loyalty[active]
        scores = out.recommend if out.recommend is not None else np.round(pop.recommend())
        true_scores = scores[active]
        # Answered within the last 13 periods (survey_at is -1 when never asked).
        recent = pop.survey_at > max(t - 13, -1)
        recent &= active
        recent &= pop.consent
        not_loyal = loy < b.loyal_threshold
        bought = pop.lock[active] >= b.locked_threshold
        k = len(pop.segment_names)
        seg = pop.segment
        seg_i = seg.astype(np.intp)  # what bincount takes: convert once, not three times
        self.seg_ever += np.bincount(seg[out.acquired], minlength=k)
        self.seg_churned += np.bincount(seg[out.churned], minlength=k)
        self.seg_revenue += np.bincount(seg_i, weights=out.revenue, minlength=k)
        self.seg_service += np.bincount(seg_i, weights=alloc.service, minlength=k)
        n0 = np.count_nonzero(out.active_start)
        return {
            "churn_rate": self.lost / max(self.ever_active, 1),
            "revenue": revenue,
            "profit": profit,
            "satisfaction": float(sat.mean()) if n_active else float("nan"),
            "loyalty": float(loy.mean()) if n_active else float("nan"),
            "nps": nps_of(true_scores),
            "complaints": float(np.count_nonzero(out.complaints_new)),
            "active_customers": float(n_active),
            "retained_not_loyal": float((not_loyal & bought).mean()) if n_active else 0.0,
            "churned": float(churned),
            "acquired": float(acquired),
            "referrals": float(np.count_nonzero(out.referred)),
            "hazard": churned / max(n0, 1),
            "market_share": n_active / pop.n,
            "nps_surveyed": nps_of(pop.survey_nps[recent]),
            "csat_surveyed": (float(np.mean(pop.survey_csat[recent])) if recent.any()
                              else float("nan")),
            "complaints_open": float(np.count_nonzero(pop.complaint_open)),
            "complaints_resolved": float(out.complaints_resolved),
            "grudges": float(out.complaints_abandoned),
            "spend_service": alloc.spent["service"],
            "spend_complaints": alloc.spent["complaints"],
            "spend_points": alloc.spent["points"],
            "spend_acquisition": alloc.spent["acquisition"],
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
