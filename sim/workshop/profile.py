"""The bias profile: how strongly a series of decisions resembles each of the eight biases.

The profile is read from the decisions themselves, never from outcomes. Each
round, when a plan is played, `round_features` measures what the plan does
with the money on that round's CRM: the share of service money that reaches
the customers the manager likes, the loudest, the biggest accounts; how the
service is spread over segment labels; the complaint order; the budget split;
the promise; and whether the range followed the customers' changed needs.
`profile` turns the features of all rounds into one score per bias (0 = no
sign of it, 1 = as strong as a fully biased manager), with the evidence in
plain words and the remedies that work against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.policies.human import HumanPolicy, Instruction
from sim.scenario import BUILTIN_BIASES
from sim.workshop.game import top_k

if TYPE_CHECKING:
    from sim.crm import CRMView
    from sim.workshop.game import Game, Plan

#: A score at or above this means "your decisions resemble this bias".
FLAG = 0.35
#: A score at or above this means "strongly".
STRONG = 0.65
#: Needs moved this far (in fit widths) make the range decision informative.
NEEDS_MOVED = 0.3

LABELS: dict[str, str] = {
    "stereotype": "Stereotyping",
    "affinity": "Affinity (serving whom you like)",
    "stale_data": "Stale data",
    "acquisition_focus": "Acquisition focus",
    "big_account": "Big-account bias",
    "overpromise": "Over-promising",
    "points_lockin": "Points lock-in",
    "salience": "Salience (the loudest first)",
}

REMEDY_TEXT: dict[str, str] = {
    "diverse_team": "Decide with colleagues who see customers differently (diverse team): "
                    "pool your allocation with theirs before you submit.",
    "feedback_loop": "Build a feedback loop: read survey results and complaint data every "
                     "round and let them steer whom you serve and what you promise.",
    "training": "Name the bias before each decision (training): ask 'would I decide the same "
                "if I did not like / hear / know this customer?'.",
    "data_refresh": "Refresh the data (market research): retune to this quarter's purchases "
                    "and re-read the segment table instead of last year's report.",
}

ADVICE: dict[str, str] = {
    "stereotype": "Judge customers by their own data, not their segment's label: spread service "
                  "over all segments by who is actually at risk, and revisit your beliefs "
                  "about a segment every quarter.",
    "affinity": "Serve customers because the data says they are at risk or valuable, not "
                "because you enjoy them; handle complaints oldest first, whoever filed them.",
    "stale_data": "When the purchase mix moves, retune the range to what customers buy now; "
                  "steer by this quarter's figures, not last year's star segment.",
    "acquisition_focus": "Keep most of the budget on the customers you have: winning a new "
                         "customer costs far more than keeping one.",
    "big_account": "Size is not risk: big accounts are rarely the ones leaving, and small "
                   "customers with growth potential need attention to grow.",
    "overpromise": "Promise what you deliver: an honest promise (50) avoids the disappointment "
                   "that turns sign-ups into churn.",
    "points_lockin": "Points buy retention, not loyalty: put the money into service and "
                     "complaint handling, which raise satisfaction.",
    "salience": "The loudest customers are not the ones most likely to leave: look for the "
                "silent ones whose purchases slow down, and handle complaints oldest first.",
}


def service_shares(view: CRMView, inst: Instruction) -> np.ndarray:
    """Share of the service money each customer receives under an instruction."""
    policy = HumanPolicy()
    policy.instruction = inst
    w = policy.decide(view, None).service_weights.astype(np.float64)
    w = np.where(view.known, np.maximum(w, 0.0), 0.0)
    total = w.sum()
    return w / total if total > 0 else w


def _label_stats(w: np.ndarray, view: CRMView) -> tuple[float, float, np.ndarray]:
    """Neglected share of the base, share of variance explained by segment, segment split."""
    known = view.known
    n = max(int(known.sum()), 1)
    k = view.n_segments
    seg_cnt = np.bincount(view.segment[known], minlength=k).astype(float)
    seg_w = np.bincount(view.segment[known], weights=w[known], minlength=k)
    base = seg_cnt / n
    intensity = np.where(base > 0, seg_w / np.maximum(base, 1e-12), 0.0)
    neglected = float(base[(intensity < 0.25) & (base > 0)].sum())
    wk = w[known] * n
    between = float((base * (intensity - 1.0) ** 2).sum())
    total_var = float(((wk - 1.0) ** 2).mean())
    return neglected, (between / total_var if total_var > 1e-12 else 0.0), seg_w


def round_features(game: Game, view: CRMView, plan: Plan, inst: Instruction,
                   risk: np.ndarray | None = None) -> dict[str, Any]:
    """Measure one round's plan on the CRM it was decided on.

    Args:
        game: The game (for the lists, stories and last year's range).
        view: The CRM at the start of the round.
        plan: The plan.
        inst: The plan as the `human` policy's instruction.
        risk: The analysts' unbiased churn risk per customer (the yardstick).

    Returns:
        Plain numbers (JSON-ready).
    """
    known = view.known
    n = max(int(known.sum()), 1)
    w = service_shares(view, inst)
    lists = game.lists(view)
    value = np.nan_to_num(view.fill_by_segment(view.value), nan=0.0)
    avg_value = float(value[known].mean()) if known.any() else 0.0
    feats: dict[str, Any] = {
        "shares": {k: float(v) for k, v in inst.shares.items()},
        "promise": float(plan.promise),
        "range_update": float(plan.range_update),
        "complaint_order": plan.complaint_order,
        "avg_value": avg_value,
    }
    for key, m in lists.items():
        m = m & known
        feats[f"list_{key}"] = float(w[m].sum())
        feats[f"base_{key}"] = float(m.sum() / n)
        feats[f"value_{key}"] = float(value[m].mean()) if m.any() else 0.0
    # Service over segment labels, against the analysts' risk-based targeting.
    neglected, r2, seg_w = _label_stats(w, view)
    k = view.n_segments
    base = np.bincount(view.segment[known], minlength=k) / n
    seg_value = view.segment_mean(value)
    feats["segment_service"] = {view.segment_names[j]: float(seg_w[j]) for j in range(k)}
    feats["segment_base"] = {view.segment_names[j]: float(base[j]) for j in range(k)}
    feats["segment_value"] = {view.segment_names[j]: float(seg_value[j]) for j in range(k)}
    feats["neglected"], feats["label_r2"] = neglected, r2
    feats["label_tv"] = float(0.5 * np.abs(seg_w - base).sum())
    if risk is not None:
        ref = top_k(risk, known, max(1, round(0.2 * n)))
        rw = ref / max(ref.sum(), 1)
        ref_neglected, ref_r2, ref_seg = _label_stats(rw, view)
        feats["ref_neglected"], feats["ref_label_r2"] = ref_neglected, ref_r2
        feats["ref_tv"] = float(0.5 * np.abs(seg_w - ref_seg).sum())
        feats["ref_segment_service"] = {view.segment_names[j]: float(ref_seg[j])
                                        for j in range(k)}
        feats["at_risk"] = float(w[ref].sum())
        # Within each segment: does the money follow individual risk beyond the label?
        lift, weight = 0.0, 0.0
        for j in range(k):
            m = known & (view.segment == j)
            wj = float(w[m].sum())
            if wj <= 1e-9 or not m.any():
                continue
            chance = float((ref & m).sum() / m.sum())
            if chance >= 1.0:
                continue
            lift += wj * (float(w[m & ref].sum()) / wj - chance) / (1.0 - chance)
            weight += wj
        feats["at_risk_within"] = lift / weight if weight > 0 else 0.0
    else:
        feats["ref_neglected"] = feats["ref_label_r2"] = feats["ref_tv"] = 0.0
        feats["ref_segment_service"] = dict(feats["segment_service"])
        feats["at_risk"] = feats["at_risk_within"] = 0.0
    # Needs moved since last year's range?
    old = game.policy.last_year_offer
    width = game.model.scenario_spec.population.behaviour.fit_width
    now = view.segment_mean(view.needs_signal)
    feats["needs_moved"] = (float(np.max(np.abs(now - old)) / width) if old is not None else 0.0)
    feats["named"] = {key: float(plan.named.get(cid, 0.0) + w[cid] * 0)
                      for key, cid in game.setup.stories.items()}
    feats["named_service"] = {key: float(w[cid]) for key, cid in game.setup.stories.items()}
    return feats


@dataclass
class BiasScore:
    """One bias's score, with the evidence behind it.

    Attributes:
        kind: Bias kind.
        label: Its name in plain words.
        score: 0 (no sign) … 1 (as strong as a fully biased manager).
        evidence: Sentences describing what in the decisions resembles the bias.
        advice: What to do differently.
        remedies: Remedies of the model that work on it, in plain words.
    """

    kind: str
    label: str
    score: float
    evidence: list[str] = field(default_factory=list)
    advice: str = ""
    remedies: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """The decisions resemble this bias."""
        return self.score >= FLAG

    @property
    def level(self) -> str:
        """'strong', 'some' or 'none'."""
        return "strong" if self.score >= STRONG else "some" if self.score >= FLAG else "none"

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"kind": self.kind, "label": self.label, "score": self.score,
                "evidence": list(self.evidence), "advice": self.advice,
                "remedies": list(self.remedies), "level": self.level, "flagged": self.flagged}


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else 0.0


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _excess(rounds: list[dict[str, Any]], key: str) -> tuple[float, float, float]:
    """Mean share of service to a list, its share of the base, and the normalised excess."""
    got = _mean([r[f"list_{key}"] for r in rounds])
    base = _mean([r[f"base_{key}"] for r in rounds])
    ex = (got - base) / max(1.0 - base, 1e-9)
    return got, base, ex


def _order_share(rounds: list[dict[str, Any]], order: str) -> float:
    return _mean([1.0 if r["complaint_order"] == order else 0.0 for r in rounds])


def _tv(a: dict[str, float], b: dict[str, float]) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def label_evidence(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """How far service followed segment labels rather than individual risk.

    Three signs, each against the analysts' unbiased risk targeting on the same
    CRM: the label explains more of who gets service, more of the base sits in
    segments left without service, and the split over segments stays fixed
    while the customers' risk moves.
    """
    r2 = _mean([r["label_r2"] for r in rounds])
    ref_r2 = _mean([r["ref_label_r2"] for r in rounds])
    neg = _mean([r["neglected"] for r in rounds])
    ref_neg = _mean([r["ref_neglected"] for r in rounds])
    change = _mean([_tv(a["segment_service"], b["segment_service"])
                    for a, b in pairwise(rounds)])
    ref_change = _mean([_tv(a["ref_segment_service"], b["ref_segment_service"])
                        for a, b in pairwise(rounds)])
    # A split that stays put while the analysts' targeting moves: measured relative to
    # how much the analysts' split moved (it moves little in quiet markets).
    fixed = _clip((1.0 - change / ref_change - 0.4) / 0.5) if ref_change > 0.02 else 0.0
    score = (_clip((r2 - ref_r2 - 0.03) / 0.2) * 0.5 + _clip((neg - ref_neg) / 0.3) * 0.3
             + fixed * 0.4)
    return {"r2": r2, "ref_r2": ref_r2, "neglected": neg, "ref_neglected": ref_neg,
            "change": change, "ref_change": ref_change, "score": _clip(score)}


def profile(rounds: list[dict[str, Any]]) -> list[BiasScore]:
    """Score each bias kind from the features of the rounds played.

    Args:
        rounds: `round_features` of each round, in order.

    Returns:
        One `BiasScore` per kind of `BUILTIN_BIASES`, in that order.
    """
    from sim.biases import BIASES

    scores = {k: BiasScore(k, LABELS[k], 0.0) for k in BUILTIN_BIASES}
    if not rounds:
        return list(scores.values())
    R = len(rounds)

    def ordered(order: str, what: str) -> str | None:
        n = sum(r["complaint_order"] == order for r in rounds)
        if not n:
            return None
        return f"You had complaints handled '{what}' in {n} of {R} rounds."

    # --- channel shares, promise
    acq = _mean([r["shares"].get("acquisition", 0.0) for r in rounds])
    keep = _mean([sum(r["shares"].get(c, 0.0) for c in ("service", "complaints", "points"))
                  for r in rounds])
    s = scores["acquisition_focus"]
    s.score = _clip((acq - 0.25) / 0.45)
    s.evidence.append(f"On average {_pct(acq)} of the budget went to winning new customers and "
                      f"{_pct(keep)} to keeping the ones you had (a data-driven manager "
                      f"spends about 20 % on acquisition).")
    pts = _mean([r["shares"].get("points", 0.0) for r in rounds])
    svc = _mean([r["shares"].get("service", 0.0) for r in rounds])
    s = scores["points_lockin"]
    s.score = _clip((pts - 0.05) / 0.35)
    s.evidence.append(f"On average {_pct(pts)} of the budget went to loyalty points and "
                      f"contracts, against {_pct(svc)} to service.")
    prom = _mean([r["promise"] for r in rounds])
    s = scores["overpromise"]
    s.score = _clip((prom - 0.55) / 0.35)
    s.evidence.append(f"Your marketing promise averaged {100 * prom:.0f} on a scale where "
                      f"50 is what you deliver.")

    # --- whom the service money reached
    got, base, ex = _excess(rounds, "liked")
    liked_order = _order_share(rounds, "liked")
    v_l = _mean([r["value_liked"] for r in rounds])
    v_a = _mean([r["avg_value"] for r in rounds])
    s = scores["affinity"]
    s.score = _clip(max(ex / 0.35, 0.0) * 0.8 + 0.3 * liked_order)
    s.evidence.append(
        f"{_pct(got)} of service went to customers you were told you like, who are "
        f"{_pct(base)} of the base and {'no more' if v_l <= 1.25 * v_a else 'more'} valuable "
        f"(they spend {v_l:.0f} a week against {v_a:.0f} on average).")
    if (e := ordered("liked", "customers you like first")):
        s.evidence.append(e)

    got, base, ex = _excess(rounds, "loud")
    loud_order = _order_share(rounds, "loudest")
    s = scores["salience"]
    s.score = _clip(max(ex - 0.08, 0.0) / 0.25 * 0.8 + 0.3 * loud_order)
    s.evidence.append(f"{_pct(got)} of service went to the loudest customers (complainers and "
                      f"angry survey answers), who are {_pct(base)} of the base.")
    if (e := ordered("loudest", "loudest first")):
        s.evidence.append(e)

    got, base, ex = _excess(rounds, "big")
    value_order = _order_share(rounds, "value")
    v_b = _mean([r["value_big"] for r in rounds])
    s = scores["big_account"]
    s.score = _clip(max(ex, 0.0) / 0.35 * 0.8 + 0.3 * value_order)
    s.evidence.append(f"{_pct(got)} of service went to the biggest accounts, who are "
                      f"{_pct(base)} of the base (they spend {v_b:.0f} a week, the average "
                      f"customer {v_a:.0f}).")
    if (e := ordered("value", "most valuable first")):
        s.evidence.append(e)
    grower = _mean([r["named_service"].get("grower", 0.0) for r in rounds])
    big_named = _mean([r["named_service"].get("big", 0.0) for r in rounds])
    if grower > 0 or big_named > 0:
        s.evidence.append(f"Globex (the biggest account) got {_pct(big_named)} of service money, "
                          f"Sprout & Co (small, with growth potential) {_pct(grower)}.")

    # --- segment labels and last year's data
    lab = label_evidence(rounds)
    label_score = lab["score"]
    moved = [r for r in rounds if r["needs_moved"] >= NEEDS_MOVED]
    kept = _mean([1.0 - r["range_update"] for r in moved]) if moved else 0.0
    s = scores["stereotype"]
    s.score = _clip(label_score + 0.25 * kept * label_score)
    s.evidence.append(
        f"The segment label explained {_pct(lab['r2'])} of who got service; the analysts' "
        f"risk scores would have let it explain {_pct(lab['ref_r2'])}. Customers in segments "
        f"that got almost nothing were {_pct(lab['neglected'])} of the base "
        f"(by risk: {_pct(lab['ref_neglected'])}).")
    if len(rounds) > 1:
        s.evidence.append(
            f"From round to round your split over segments moved by {_pct(lab['change'])}, "
            f"while the customers' risk moved it by {_pct(lab['ref_change'])}.")
    s = scores["stale_data"]
    s.score = _clip(kept * (1.0 - label_score))
    if moved:
        s.evidence.append(
            f"In {len(moved)} round(s) customers' purchases showed their needs had moved away "
            f"from last year's range; you kept {_pct(kept)} of last year's range.")
    else:
        s.evidence.append("Customers' needs did not move noticeably while you played, so the "
                          "range decision shows nothing either way.")

    for k, sc in scores.items():
        sc.advice = ADVICE[k]
        sc.remedies = [REMEDY_TEXT[r] for r in BIASES[k].remedies if r in REMEDY_TEXT]
    return list(scores.values())


def top_bias(scores: list[BiasScore]) -> BiasScore:
    """The highest-scoring bias."""
    return max(scores, key=lambda s: s.score)
