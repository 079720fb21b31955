"""Managers: `mesa.Agent`s who see the CRM, apply a policy, and carry biases and remedies."""

from __future__ import annotations

from dataclasses import replace

import mesa
import numpy as np

from sim.allocation import CHANNELS, Decision
from sim.biases import Bias, make_bias
from sim.crm import CRMView
from sim.policies import Policy
from sim.policies.base import zscore
from sim.registry import POLICIES
from sim.remedies import DiverseTeam, Remedy, make_remedy
from sim.scenario import PolicySpec

F32 = np.float32


def make_policy(spec: PolicySpec) -> Policy:
    """Build the policy object of an arm."""
    cls = POLICIES.get(spec.kind)
    if cls is None:
        raise ValueError(f"unknown policy kind {spec.kind!r}; known: {sorted(POLICIES)}")
    shares = spec.budget_shares.model_dump() if spec.budget_shares is not None else None
    promise = spec.promise if spec.promise is not None else 0.5
    return cls(shares=shares, target_share=spec.target_share, promise=promise,
               options=spec.options)


class Manager(mesa.Agent):
    """A manager with a budget, who sees only the CRM.

    Each period: remedies set how strong each bias still is; the manager looks
    at the CRM (through any perception biases), scores customers with the
    policy, lets judgement biases reorder them, decides the budget split and
    promise (through decision biases), and remedies correct what they reveal.

    Args:
        model: The model.
        spec: The arm's scenario spec.
        rng: The manager's own random stream (for `random` and sampling).
        policy: A policy object to use instead of building one from `spec`.
        biases: Bias objects to use instead of building them from `spec`.
        keep_last: Keep each period's view and decision (`last_view`, `last_decision`)
            for inspection until the next period starts.
    """

    def __init__(self, model: mesa.Model, spec: PolicySpec, rng: np.random.Generator,
                 policy: Policy | None = None, biases: list[Bias] | None = None,
                 keep_last: bool = True) -> None:
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.stream = rng
        self.policy = policy if policy is not None else make_policy(spec)
        self.biases: list[Bias] = biases if biases is not None else [
            make_bias(b) for b in spec.biases]
        self.remedies: list[Remedy] = [make_remedy(r) for r in spec.remedies]
        team = next((r for r in self.remedies if isinstance(r, DiverseTeam)), None)
        #: The diverse team's colleagues, each with a bias of their own (none without the remedy).
        self.colleagues: list[Bias] = team.colleagues(self.biases) if team is not None else []
        self.decisions: list[Decision] = []
        self.last_decision: Decision | None = None
        self.last_view: CRMView | None = None
        self.keep_last = keep_last

    @property
    def needs_truth(self) -> bool:
        """Whether the policy is allowed the true state (oracle)."""
        return self.policy.needs_truth

    def strengths(self, t: int) -> list[float]:
        """Effective strength of each bias in period `t`, after training."""
        factor = 1.0
        for r in self.remedies:
            factor *= r.strength_factor(t)
        return [b.strength * factor for b in self.biases]

    def remedy_cost(self, t: int) -> float:
        """Share of period `t`'s budget the remedies use (at most all of it)."""
        return min(sum(r.cost_share(t) for r in self.remedies), 1.0)

    def survey_rate(self, t: int, base: float) -> float:
        """Share of customers surveyed, after remedies."""
        rate = base
        for r in self.remedies:
            rate = r.survey_rate(t, rate)
        return rate

    def decide(self, view: CRMView) -> Decision:
        """This period's decision.

        Perception biases change the view, judgement biases the scores; a
        diverse team pools the scores (and later the budget split, promise,
        offer and complaint order) with colleagues who do not share the biases;
        remedies weigh in what they reveal; decision biases bend the split.

        Without biases or remedies, a policy whose score is pure
        (`Policy.pure_score`) and whose decision reads it only through the base
        `Policy.target` is scored only in the periods it re-targets: the
        decision is the same, as the score is not used in between
        (`Policy.uses_score`).
        """
        t = view.t
        if any(r.refresh_due(t) for r in self.remedies):
            for b in [*self.biases, *self.colleagues]:
                b.refresh(view)
        self.policy.observe(view, self.stream)
        strengths = self.strengths(t)
        seen = view
        for b, s in zip(self.biases, strengths, strict=True):
            seen = b.see(seen, s)
        # A pure score the decision will not use (between re-targetings) is not computed.
        skip = not self.biases and not self.remedies and not self.policy.uses_score(seen)
        score = None if skip else self.policy.score(seen, self.stream)
        for b, s in zip(self.biases, strengths, strict=True):
            score = b.judge(score, seen, s)
        team = next((r for r in self.remedies
                     if isinstance(r, DiverseTeam) and r.on(t)), None)
        pooled = team is not None and bool(self.biases) and bool(self.colleagues)
        # What each colleague sees, once a period for both their scores and their decision.
        theirs = [c.see(view, c.strength) for c in self.colleagues] if pooled else []
        if pooled and score is not None:
            score = self._pool_scores(view, theirs, score)
        for r in self.remedies:
            score = r.judge(score, view)
        decision = self.policy.decide(seen, score)
        for b, s in zip(self.biases, strengths, strict=True):
            decision = b.adjust(decision, seen, s)
        if pooled:
            decision = self._pool(view, theirs, decision)
        for r in self.remedies:
            decision = r.correct(decision, view)
        if decision.handling is None:
            decision.handling = self.spec.complaint_handling
        if self.keep_last:
            self.last_view, self.last_decision = view, decision
        return decision

    def _pool_scores(self, view: CRMView, views: list[CRMView], score: np.ndarray) -> np.ndarray:
        """The manager's scores averaged with each colleague's, judged through their own bias.

        `views` is what each colleague sees (their bias's view of `view`).
        """
        total = zscore(score, view.known)
        for c, seen in zip(self.colleagues, views, strict=True):
            theirs = c.judge(self.policy.score(seen, self.stream), seen, c.strength)
            total = total + (zscore(theirs, view.known) if theirs is not None else 0.0)
        return (total / (1 + len(self.colleagues))).astype(F32)

    def _pool(self, view: CRMView, views: list[CRMView], decision: Decision) -> Decision:
        """Average the budget split, promise, offer and complaint order with the colleagues'.

        Each colleague takes the policy's own split, promise, offer and complaint
        order, as their bias sees and bends them.
        """
        mine = [decision]
        for c, seen in zip(self.colleagues, views, strict=True):
            theirs = Decision(shares=dict(self.policy.shares), service_weights=decision.service_weights,
                              offer=self.policy.offer(seen), promise=self.policy.promise,
                              complaint_priority=self.policy.complaint_priority(seen))
            mine.append(c.adjust(theirs, seen, c.strength))
        k = float(len(mine))
        shares = {ch: sum(d.shares.get(ch, 0.0) for d in mine) / k for ch in CHANNELS}
        age = view.complaint_age.astype(F32)
        prio = None
        if any(d.complaint_priority is not None for d in mine):
            prio = sum(zscore(d.complaint_priority if d.complaint_priority is not None else age,
                              view.complaint_open) for d in mine) / k
        return replace(
            decision,
            shares=shares,
            offer=(sum(d.offer for d in mine) / k).astype(F32),
            promise=sum(d.promise for d in mine) / k,
            complaint_priority=prio,
        )
