"""A bias written in a notebook: one class, one registry line, and it runs everywhere a built-in one does.

In a scenario (validated, documented in the schema, run), in a sweep over its
strength, and in the workshop's debrief (a bot that has it, and a score in the
trainee's profile read by its own detector).
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.biases import Bias, Detection, blend, register_bias
from sim.registry import BIASES
from sim.scenario import BiasParams
from sim.sweep import run_sweep


class RecencyHalo(Bias):
    """Favours the customers who bought most recently (a halo of the last impression)."""

    kind = "recency_halo"
    label = "Recency halo"
    advice = "Recent buyers are not the ones at risk: look at who has stopped buying."

    class Params(BiasParams):
        """A halo around recent buyers."""

        horizon: int = 4  # how recent counts as recent, in periods

    def judge(self, score, view, s):
        """Recent buyers first."""
        return blend(score, -np.nan_to_num(view.recency, nan=99.0), view.known, s)

    @classmethod
    def measure(cls, view, service):
        """Share of service money to customers who bought in the last 4 periods, and their share of the base."""
        recent = view.known & (np.nan_to_num(view.recency, nan=99.0) <= 4)
        return {"got": float(service[recent].sum()), "base": float(recent.sum() / max(view.known.sum(), 1))}

    @classmethod
    def detect(cls, rounds):
        """Service to recent buyers beyond their share of the base."""
        m = rounds.measures(cls.kind)
        got = float(np.mean([r["got"] for r in m])) if m else 0.0
        base = float(np.mean([r["base"] for r in m])) if m else 0.0
        excess = (got - base) / max(1.0 - base, 1e-9)
        words = f"{100 * got:.0f} % of service went to recent buyers ({100 * base:.0f} % of the base)."
        return Detection(float(np.clip(excess / 0.3, 0.0, 1.0)), [words])


@pytest.fixture
def halo():
    register_bias(RecencyHalo)  # the one registry line
    yield RecencyHalo
    BIASES.unregister("recency_halo")


def _scenario():
    return sim.Scenario.model_validate({
        "name": "halo", "horizon": 26, "seed": 3, "replications": 2,
        "population": {"size": 1500},
        "policies": [
            {"name": "data_driven", "kind": "churn_risk"},
            {"name": "halo", "kind": "churn_risk", "biases": [{"kind": "recency_halo", "strength": 0.9}]},
        ],
    })


def test_a_registered_bias_is_validated_documented_and_run(halo):
    sc = _scenario()
    assert isinstance(sc.policies[1].biases[0], BIASES.spec("recency_halo"))
    assert sc.policies[1].biases[0].horizon == 4
    assert "RecencyHaloBias" in sim.Scenario.model_json_schema()["$defs"]
    with pytest.raises(ValueError, match="horizon"):
        sim.Scenario.model_validate({**sc.model_dump(), "policies": [
            {"name": "x", "kind": "uniform", "biases": [{"kind": "recency_halo", "horizon": "soon"}]}]})
    result = sim.run(sc)
    diff = result.difference("halo", "profit")
    assert np.isfinite(diff["diff_mean"]) and diff["diff_mean"] != 0
    model = sim.RetentionModel(sc, policy="halo", rng=1)
    model.step()
    assert isinstance(model.manager.biases[0], RecencyHalo)


def test_a_registered_bias_is_swept(halo, tmp_path):
    outcome = run_sweep(_scenario(), {"policies.halo.biases.0.strength": [0.0, 1.0]}, tmp_path,
                        replications=2, plots=False)
    frame = outcome.frame
    halo_rows = frame[(frame.policy == "halo") & (frame.metric == "profit")]
    assert len(halo_rows) == 2
    zero = halo_rows[halo_rows["policies.halo.biases.0.strength"] == 0.0]
    assert (zero.diff_mean == 0).all()  # strength 0: exactly the data-driven arm


def test_a_registered_bias_is_in_the_workshop_debrief(halo, tmp_path):
    from sim.workshop.engine import WorkshopEngine

    engine = WorkshopEngine(tmp_path / "w.sqlite")
    workshop = engine.create_workshop("default", rounds=2)
    sid = engine.join(workshop.id, "Ada")
    plan = {"shares": {"service": 0.6, "complaints": 0.2, "points": 0.0, "acquisition": 0.2}}
    engine.submit(sid, 1, plan)
    engine.submit(sid, 2, plan)
    debrief = engine.debrief(sid)
    assert "recency_halo" in [r["key"] for r in debrief["outcomes"]]  # a bot with the bias played
    scores = {s.kind: s for s in engine.profile(sid)}
    assert scores["recency_halo"].label == "Recency halo"
    assert scores["recency_halo"].evidence and scores["recency_halo"].advice
    assert 0.0 <= scores["recency_halo"].score <= 1.0
