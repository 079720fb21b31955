"""Managers: `mesa.Agent`s who see the CRM, apply a policy, and carry biases and remedies."""

from __future__ import annotations

from dataclasses import replace

import mesa
import numpy as np

from sim.allocation import CHANNELS, Decision
from sim.biases import Bias, make_bias
from sim.crm import CRMView
from sim.policies import POLICIES, Policy
from sim.policies.base import top_share, zscore
from sim.remedies import DiverseTeamRemedy, Remedy, make_remedy
from sim.scenario import PolicySpec

F32 = np.float32


def make_policy(spec: PolicySpec) -> Policy:
    """Build the policy object of an arm."""
    try:
        cls = POLICIES[spec.kind]
    except KeyError:
        raise ValueError(f"unknown policy kind {spec.kind!r}; known: {sorted(POLICIES)}") from None
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
    """

    def __init__(self, model: mesa.Model, spec: PolicySpec, rng: np.random.Generator,
                 policy: Policy | None = None, biases: list[Bias] | None = None) -> None:
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.stream = rng
        self.policy = policy if policy is not None else make_policy(spec)
        self.biases: list[Bias] = biases if biases is not None else [
            make_bias(b) for b in spec.biases]
        self.remedies: list[Remedy] = [make_remedy(r) for r in spec.remedies]
        self.decisions: list[Decision] = []
        self.last_decision: Decision | None = None
        self.last_view: CRMView | None = None
        self.last_unbiased: Decision | None = None

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

    def survey_rate(self, t: int, base: float) -> float:
        """Share of customers surveyed, after remedies."""
        rate = base
        for r in self.remedies:
            rate = r.survey_rate(t, rate)
        return rate

    def _decide_with(self, view: CRMView, strengths: list[float]) -> tuple[Decision, np.ndarray | None]:
        seen = view
        for b, s in zip(self.biases, strengths, strict=True):
            seen = b.see(seen, s)
        score = self.policy.score(seen, self.stream)
        for b, s in zip(self.biases, strengths, strict=True):
            score = b.judge(score, seen, s)
        decision = self.policy.decide(seen, score)
        for b, s in zip(self.biases, strengths, strict=True):
            decision = b.adjust(decision, seen, s)
        return decision, score

    def decide(self, view: CRMView) -> Decision:
        """This period's decision."""
        t = view.t
        if any(r.refresh_due(t) for r in self.remedies):
            for b in self.biases:
                b.refresh(view)
        self.policy.observe(view, self.stream)
        strengths = self.strengths(t)
        decision, score = self._decide_with(view, strengths)
        team = [r for r in self.remedies if isinstance(r, DiverseTeamRemedy) and r.on(t)]
        if team and self.biases and score is not None:
            decision = self._pool(view, decision, score, team[0].size)
        for r in self.remedies:
            decision = r.correct(decision, view)
        self.last_view, self.last_decision = view, decision
        return decision

    def _pool(self, view: CRMView, decision: Decision, score: np.ndarray,
              size: int) -> Decision:
        """Pool with `size - 1` colleagues who use the same policy without the biases."""
        colleague, cscore = self._decide_with_unbiased(view)
        k = float(size)
        pooled = (zscore(score, view.known) + (k - 1) * zscore(cscore, view.known)) / k
        share = float((decision.service_weights > 0).sum()) / max(int(view.known.sum()), 1)
        share = min(max(share, 1e-9), 1.0)
        shares = {c: (decision.shares.get(c, 0.0) + (k - 1) * colleague.shares.get(c, 0.0)) / k
                  for c in CHANNELS}
        prio = None
        if decision.complaint_priority is not None or colleague.complaint_priority is not None:
            age = view.complaint_age.astype(F32)
            a = decision.complaint_priority if decision.complaint_priority is not None else age
            b = colleague.complaint_priority if colleague.complaint_priority is not None else age
            prio = (zscore(a, view.complaint_open) + (k - 1) * zscore(b, view.complaint_open)) / k
        return replace(
            decision,
            shares=shares,
            service_weights=top_share(pooled, view.known, share),
            offer=((decision.offer + (k - 1) * colleague.offer) / k).astype(F32),
            promise=(decision.promise + (k - 1) * colleague.promise) / k,
            complaint_priority=prio,
        )

    def _decide_with_unbiased(self, view: CRMView) -> tuple[Decision, np.ndarray]:
        score = self.policy.score(view, self.stream)
        return self.policy.decide(view, score), score
