"""The customer lists a trainee can direct service money to, and who is on them.

Each list holds `LIST_SHARE` of the customers the CRM knows, chosen on what
the CRM shows (the manager's impression, complaints and surveys, spend,
recency). The game turns a plan's list shares into money for these customers;
the bias profile measures how much of the service money reached them.
"""

from __future__ import annotations

import numpy as np

from sim.biases import loudness
from sim.crm import CRMView
from sim.i18n import N_

#: Share of the base each customer list holds.
LIST_SHARE = 0.10
#: The customer lists a trainee can direct service money to.
LISTS: dict[str, tuple[str, str]] = {
    "liked": (N_("Customers you like"),
              N_("The customers you know personally and enjoy dealing with (your own impression).")),
    "loud": (N_("The loudest customers"),
             N_("Customers who complained most, have a complaint waiting, or answered a survey "
                "angrily.")),
    "big": (N_("The biggest accounts"), N_("The customers who spend the most per week.")),
    "slowing": (N_("Customers who stopped buying"),
                N_("The customers with the longest time since their last purchase.")),
}


def top_k(score: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Mask of the `k` customers in `mask` with the highest score (ties by id)."""
    out = np.zeros(mask.shape, dtype=bool)
    ids = np.flatnonzero(mask)
    if ids.size == 0 or k <= 0:
        return out
    s = np.nan_to_num(np.asarray(score, dtype=np.float64)[ids], nan=-np.inf)
    order = np.lexsort((ids, -s))
    out[ids[order[:k]]] = True
    return out


def customer_lists(view: CRMView) -> dict[str, np.ndarray]:
    """Members of each customer list (masks over customer slots)."""
    known = view.known
    k = max(1, round(LIST_SHARE * int(known.sum())))
    value = np.nan_to_num(view.fill_by_segment(view.value), nan=0.0)
    loud = loudness(view)
    recency = np.nan_to_num(view.recency, nan=0.0)
    out = {
        "liked": top_k(view.likability, known, k),
        "loud": top_k(loud, known & (loud > 0), k),
        "big": top_k(value, known, k),
        "slowing": top_k(recency, known, k),
    }
    return out
