"""A custom policy that declares `pure_score` and writes its own `decide` is scored every period.

A manager skips a pure score between re-targetings only when the decision
reads it through the base `Policy.target` (which ignores it then). A policy
written in a notebook that overrides `decide` (or `target`) gets its score
every period, whatever it declares, and spends its service money: before,
it got `score=None` between re-targetings and spent none, silently.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import sim
from sim.allocation import Decision
from sim.policies import Policy, register_policy
from sim.registry import POLICIES


class EveryWeek(Policy):
    """The programme's customers, served in proportion to their score each period (its own `decide`)."""

    kind = "every_week"
    pure_score = True  # the score only reads the view

    def score(self, view, rng):
        """Frequent buyers first."""
        return np.asarray(view.frequency, dtype=np.float32)

    def decide(self, view, score):
        """Enrolled by the base programme; more money to higher scores; no score, no service."""
        enrolled = self.target(view, score)  # re-chosen every `retarget_every` periods
        weights = (np.zeros_like(enrolled) if score is None
                   else enrolled * np.clip(np.nan_to_num(score), 0.0, None).astype(np.float32))
        return Decision(shares=dict(self.shares), service_weights=weights, offer=self.offer(view),
                        promise=self.promise)


class Targeted(Policy):
    """A pure score through the base `decide`: scored only when it re-targets."""

    kind = "targeted"
    pure_score = True
    calls: ClassVar[list[int]] = []

    def score(self, view, rng):
        """Frequent buyers first; counts the periods it is asked."""
        Targeted.calls.append(view.t)
        return np.asarray(view.frequency, dtype=np.float32)


@pytest.fixture
def policies():
    register_policy(EveryWeek)  # as a notebook would
    register_policy(Targeted)
    yield
    POLICIES.unregister("every_week")
    POLICIES.unregister("targeted")


def _scenario() -> sim.Scenario:
    return sim.Scenario.model_validate({
        "name": "own_decide", "horizon": 20, "population": {"size": 800},
        "policies": [{"name": "mine", "kind": "every_week"},
                     {"name": "targeted", "kind": "targeted", "options": {"retarget_every": 5}}],
    })


def test_a_pure_policy_with_its_own_decide_is_scored_and_spends_every_period(policies):
    sc = _scenario()
    model = sim.RetentionModel(sc, policy="mine", rng=3)
    model.run()
    spent = model.timeseries()["spend_service"].to_numpy()
    assert (spent > 0).all(), spent  # before the fix: 0 in every period but the first
    budget = sc.market.budget * sc.population.size * 0.65
    assert np.allclose(spent, budget, rtol=1e-5)  # all of it (float32 money per customer)

    class Impure(EveryWeek):
        pure_score = False

    same = sim.RetentionModel(sc, policy="mine", rng=3, policy_object=Impure()).run()
    assert model.timeseries().equals(same.timeseries())  # the same decisions as a policy never skipped


def test_a_pure_policy_through_the_base_target_is_scored_only_when_it_retargets(policies):
    Targeted.calls.clear()
    model = sim.RetentionModel(_scenario(), policy="targeted", rng=3).run()
    assert Targeted.calls == [0, 5, 10, 15]
    assert (model.timeseries()["spend_service"] > 0).all()


def test_overriding_target_counts_as_reading_the_score(policies):
    class OwnTarget(Targeted):
        def target(self, view, score):
            """Every known customer with a score above the median."""
            return (view.known & (score > np.median(score))).astype(np.float32)

    Targeted.calls.clear()
    sim.RetentionModel(_scenario(), policy="targeted", rng=3, policy_object=OwnTarget(
        options={"retarget_every": 5})).run(6)
    assert Targeted.calls == [0, 1, 2, 3, 4, 5]
