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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.biases import Bias, Rounds
from sim.biases.evidence import NEEDS_MOVED, clip, pct
from sim.i18n import msg
from sim.policies.human import HumanPolicy, Instruction
from sim.registry import BIASES, REMEDIES
from sim.workshop.customer_lists import top_k

if TYPE_CHECKING:
    from sim.crm import CRMView
    from sim.workshop.game import Game, Plan

#: A score at or above this means "your decisions resemble this bias".
FLAG = 0.35
#: A score at or above this means "strongly".
STRONG = 0.65


def profiled() -> list[tuple[str, type[Bias]]]:
    """The bias kinds the profile scores: every registered kind that says how to recognise it (`detect`)."""
    return [(kind, cls) for kind, cls in BIASES.items() if cls.detect.__func__ is not Bias.detect.__func__]


def labels() -> dict[str, str]:
    """Each profiled bias kind's name in plain words."""
    return {kind: cls.label or kind for kind, cls in profiled()}


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
    feats["bias"] = {kind: m for kind, cls in profiled() if (m := cls.measure(view, w)) is not None}
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


def _tilt(split: dict[str, float], base: dict[str, float]) -> float:
    """How far a split of service over segments departs from the segments' sizes (0..1)."""
    return 0.5 * sum(abs(split.get(k, 0.0) - base.get(k, 0.0)) for k in set(split) | set(base))


def _label_support(rounds: Rounds) -> tuple[float, str]:
    """How far service followed segment labels at all, against the analysts' risk targeting.

    A split over segments that stays put is a stereotype's trace only when it
    departs from the segments' sizes: service spread in proportion to the base
    (an idle trainee, one who serves a list drawn from every segment, one who
    spends nothing on service) favours no label, however steady it is. The
    stereotype's score counts as far as the trainee's split departs from the
    sizes, relative to how far the analysts' unbiased targeting departs from
    them on the same CRM.
    """
    mine = rounds.mean(lambda r: _tilt(r["segment_service"], r["segment_base"]))
    ref = rounds.mean(lambda r: _tilt(r["ref_segment_service"], r["segment_base"]))
    support = clip(mine / max(ref, MIN_TILT))
    return support, msg("Your service over segments departed from the segments' sizes by {mine} "
                        "(the analysts' risk targeting by {ref}); a split that follows the "
                        "segments' sizes favours no label, however steady it is.",
                        mine=pct(mine), ref=pct(ref))


#: Bias kinds whose detector can score a steady habit that shows no sign of the bias,
#: with how far the decisions support the bias at all (0..1) and a sentence saying so.
SUPPORT: dict[str, Callable[[Rounds], tuple[float, str]]] = {"stereotype": _label_support}
#: Smallest departure of the analysts' split from the segments' sizes used as the yardstick.
MIN_TILT = 0.05


def profile(rounds: list[dict[str, Any]]) -> list[BiasScore]:
    """Score each profiled bias kind (`profiled`) from the features of the rounds played.

    A kind with a `SUPPORT` check scores no more than its decisions support:
    a detector's score is scaled by it, and the evidence says why when it is.

    Args:
        rounds: `round_features` of each round, in order.

    Returns:
        One `BiasScore` per kind, in registration order (the built-ins first).
    """
    scores = []
    for kind, cls in profiled():
        if not rounds:
            scores.append(BiasScore(kind, cls.label or kind, 0.0))
            continue
        found = cls.detect(Rounds(rounds))
        score, evidence = found.score, list(found.evidence)
        if kind in SUPPORT:
            support, why = SUPPORT[kind](Rounds(rounds))
            if support < 1.0 and score > 0.0:
                score *= support
                evidence.append(why)
        remedies = [REMEDIES[r].advice for r in cls.remedies if r in REMEDIES and REMEDIES[r].advice]
        scores.append(BiasScore(kind, cls.label or kind, score, evidence, cls.advice, remedies))
    return scores


#: Bias kinds that only some markets give a chance to show, with the check that they did: stale
#: data shows only in rounds that begin after the customers' needs have moved (a short game on
#: another market may have none, and then scores 0 whatever the trainee would have done).
OPPORTUNITY: dict[str, Callable[[Rounds], bool]] = {
    "stale_data": lambda rounds: rounds.range_kept(NEEDS_MOVED)[1] > 0,
}


def shown(rounds: list[dict[str, Any]]) -> dict[str, bool]:
    """For each profiled bias kind, whether the rounds gave it a chance to show (`OPPORTUNITY`).

    Args:
        rounds: `round_features` of each round, in order.
    """
    return {kind: bool(rounds) and (kind not in OPPORTUNITY or OPPORTUNITY[kind](Rounds(rounds)))
            for kind, _ in profiled()}


def top_bias(scores: list[BiasScore]) -> BiasScore:
    """The highest-scoring bias."""
    return max(scores, key=lambda s: s.score)


def flagged_top(scores: list[BiasScore]) -> BiasScore | None:
    """The highest-scoring bias if the decisions resemble it (None: no bias is flagged)."""
    top = top_bias(scores) if scores else None
    return top if top is not None and top.flagged else None
