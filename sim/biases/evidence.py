"""Reading a bias in a series of decisions: the measures the biases' detectors share.

The workshop measures each round's plan on the CRM it was decided on
(`sim.workshop.profile.round_features`: the share of service money that reaches
each customer list, how service is spread over segment labels, the complaint
order, the budget split, the promise, whether the range followed the
customers' changed needs) and stores the measures as plain numbers. `Rounds`
reads them back for a bias's `detect`, which turns them into a score (0 = no
sign of it, 1 = as strong as a fully biased manager) and evidence in plain
words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from sim.i18n import msg

#: Needs moved this far (in fit widths) make the range decision informative.
NEEDS_MOVED = 0.3


@dataclass
class Detection:
    """How strongly a series of decisions resembles one bias.

    Attributes:
        score: 0 (no sign) … 1 (as strong as a fully biased manager).
        evidence: Sentences saying what in the decisions resembles the bias.
    """

    score: float
    evidence: list[str] = field(default_factory=list)


def clip(x: float) -> float:
    """`x` limited to [0, 1]."""
    return float(min(1.0, max(0.0, x)))


def pct(x: float) -> str:
    """A share as a whole percentage ('62 %'; translatable, as each language writes it)."""
    return msg("{percent:.0f} %", percent=100 * x)


def _tv(a: dict[str, float], b: dict[str, float]) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


class Rounds:
    """The measures of the rounds a trainee played, in order.

    Args:
        rounds: One dict of measures per round (`round_features`).
    """

    def __init__(self, rounds: list[dict[str, Any]]) -> None:
        self.rounds = rounds

    def __len__(self) -> int:
        return len(self.rounds)

    def mean(self, key: str | Any) -> float:
        """Mean over the rounds of a measure (a key, or a function of a round's measures)."""
        xs = [key(r) if callable(key) else r[key] for r in self.rounds]
        return float(np.mean(xs)) if xs else 0.0

    def share(self, channel: str) -> float:
        """Mean share of the budget a channel got."""
        return self.mean(lambda r: r["shares"].get(channel, 0.0))

    def excess(self, key: str) -> tuple[float, float, float]:
        """Mean share of service to a customer list, its share of the base, and the normalised excess."""
        got = self.mean(f"list_{key}")
        base = self.mean(f"base_{key}")
        return got, base, (got - base) / max(1.0 - base, 1e-9)

    def order_share(self, order: str) -> float:
        """Share of rounds with complaints handled in `order`."""
        return self.mean(lambda r: 1.0 if r["complaint_order"] == order else 0.0)

    def ordered(self, order: str, what: str) -> str | None:
        """A sentence saying in how many rounds complaints were handled in `order` (None: never)."""
        n = sum(r["complaint_order"] == order for r in self.rounds)
        if not n:
            return None
        return msg("You had complaints handled '{what}' in {n} of {total} rounds.", what=what, n=n,
                   total=len(self.rounds))

    def measures(self, kind: str) -> list[dict[str, float]]:
        """What a bias's own `measure` recorded, round by round (rounds without a record left out)."""
        return [r["bias"][kind] for r in self.rounds if r.get("bias", {}).get(kind) is not None]

    def labels(self) -> dict[str, float]:
        """How far service followed segment labels rather than individual risk.

        Three signs, each against the analysts' unbiased risk targeting on the same
        CRM: the label explains more of who gets service, more of the base sits in
        segments left without service, and the split over segments stays fixed
        while the customers' risk moves.
        """
        rs = self.rounds
        r2, ref_r2 = self.mean("label_r2"), self.mean("ref_label_r2")
        neg, ref_neg = self.mean("neglected"), self.mean("ref_neglected")
        changes = [_tv(a["segment_service"], b["segment_service"]) for a, b in pairwise(rs)]
        ref_changes = [_tv(a["ref_segment_service"], b["ref_segment_service"]) for a, b in pairwise(rs)]
        change = float(np.mean(changes)) if changes else 0.0
        ref_change = float(np.mean(ref_changes)) if ref_changes else 0.0
        # A split that stays put while the analysts' targeting moves: measured relative to
        # how much the analysts' split moved (it moves little in quiet markets).
        fixed = clip((1.0 - change / ref_change - 0.4) / 0.5) if ref_change > 0.02 else 0.0
        score = (clip((r2 - ref_r2 - 0.03) / 0.2) * 0.5 + clip((neg - ref_neg) / 0.3) * 0.3
                 + fixed * 0.4)
        return {"r2": r2, "ref_r2": ref_r2, "neglected": neg, "ref_neglected": ref_neg,
                "change": change, "ref_change": ref_change, "score": clip(score)}

    def range_kept(self, needs_moved: float) -> tuple[float, int]:
        """Share of last year's range kept in rounds whose needs had moved, and how many such rounds."""
        moved = [r for r in self.rounds if r["needs_moved"] >= needs_moved]
        kept = float(np.mean([1.0 - r["range_update"] for r in moved])) if moved else 0.0
        return kept, len(moved)
