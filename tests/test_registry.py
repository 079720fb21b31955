"""Registries of kinds: registering and unregistering, validation at the entry's place, schema, pickling."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pytest
from pydantic import Field

from sim.biases import Bias, blend, register_bias
from sim.loader import ScenarioError, parse_text
from sim.market import MarketModel
from sim.policies import Policy, register_policy
from sim.registry import BIASES, EVENTS, POLICIES, REMEDIES
from sim.remedies import Remedy
from sim.scenario import BiasParams, Event, PolicyOptions, RemedyParams, Scenario


class Nudge(Remedy):
    """A reminder before each decision (a remedy kind written outside the package)."""

    kind = "test_nudge"

    class Params(RemedyParams):
        """A reminder before each decision."""

        dose: float = Field(1.0, ge=0, le=5, description="How insistent the reminder is.")


class Halo(Bias):
    """Favours recent buyers (a bias kind written outside the package)."""

    kind = "test_halo"

    class Params(BiasParams):
        """Favours recent buyers."""

        horizon: int = Field(4, ge=1, description="How recent counts as recent.")

    def judge(self, score, view, s):
        return blend(score, -np.nan_to_num(view.recency, nan=99.0), view.known, s)


class Newest(Policy):
    """Serves the newest customers (a policy kind written outside the package)."""

    kind = "test_newest"

    class Options(PolicyOptions):
        """How deep to look."""

        depth: int = Field(3, ge=1)

    def score(self, view, rng):
        return -view.tenure


class FlashSale(Event):
    """A competitor's one-day sale: pull rises while it runs."""

    kind: Literal["test_flash_sale"]
    duration: int = Field(2, ge=1)
    size: float = Field(0.5, ge=0)

    def affect(self, market, t):
        market.pull += self.size
        market.promotion = True


@pytest.fixture
def registered() -> Iterator[None]:
    """The four test kinds registered in the call form, removed afterwards."""
    REMEDIES.register("test_nudge", Nudge)
    register_bias("test_halo", Halo)
    register_policy("test_newest", Newest)
    EVENTS.register(FlashSale)
    try:
        yield
    finally:
        for reg, kind in ((REMEDIES, "test_nudge"), (BIASES, "test_halo"), (POLICIES, "test_newest"),
                          (EVENTS, "test_flash_sale")):
            reg.unregister(kind)


def _scenario(**arm) -> dict:
    return {"name": "reg", "horizon": 10, "population": {"size": 300},
            "policies": [{"name": "a", "kind": "uniform", **arm}]}


def _problems(text: str) -> dict[str, tuple[int | None, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_text(text, "reg.yaml")
    return {p.field: (p.line, p.message) for p in info.value.problems}


# --------------------------------------------------------------------------- registering


def test_call_form_registers_every_family(registered):
    assert REMEDIES["test_nudge"] is Nudge and "test_nudge" in REMEDIES
    assert BIASES["test_halo"] is Halo
    assert POLICIES["test_newest"] is Newest
    assert EVENTS["test_flash_sale"] is FlashSale
    sc = Scenario.model_validate({
        **_scenario(kind="test_newest", options={"depth": 2},
                    biases=[{"kind": "test_halo", "horizon": 2}],
                    remedies=[{"kind": "test_nudge", "dose": 3}]),
        "market": {"events": [{"at": 1, "kind": "test_flash_sale"}]}})
    arm = sc.policies[0]
    assert isinstance(arm.biases[0], BIASES.spec("test_halo")) and arm.biases[0].horizon == 2
    assert arm.biases[0].strength == 0.8  # the family's defaults come with it
    assert isinstance(arm.remedies[0], REMEDIES.spec("test_nudge")) and arm.remedies[0].dose == 3
    assert arm.remedies[0].start == 0
    assert arm.settings().depth == 2
    assert isinstance(sc.market.events[0], FlashSale)
    # Registered kinds come after the built-ins, which stay first and in their order.
    assert REMEDIES.builtin() == ("training", "data_refresh", "feedback_loop", "diverse_team")
    assert [k for k, _ in REMEDIES.items()][-1] == "test_nudge"
    assert "test_nudge" not in REMEDIES.builtin()


def test_a_registered_event_changes_the_market_while_it_runs(registered):
    sc = Scenario.model_validate({**_scenario(), "market": {
        "competitor_pull": 0.2, "events": [{"at": 3, "kind": "test_flash_sale", "size": 0.4}]}})
    market = MarketModel(sc)
    pulls = [market.state(t).pull for t in range(7)]
    assert pulls == pytest.approx([0.2, 0.2, 0.2, 0.6, 0.6, 0.2, 0.2])
    assert [market.state(t).promotion for t in (2, 3, 4, 5)] == [False, True, True, False]


def test_decorator_form_registers_under_the_class_kind_or_the_name_given():
    @BIASES.register
    class Echo(Bias):
        """Repeats the last impression."""

        kind = "test_echo"

    @BIASES.register("test_named")
    class Other(Bias):
        """Registered under a name its class does not carry."""

        kind = "test_other"

    try:
        assert BIASES["test_echo"] is Echo and BIASES["test_named"] is Other
        assert "test_other" not in BIASES
        assert Other.kind == "test_named"  # the name wins, so objects report what the scenario says
        sc = Scenario.model_validate(_scenario(biases=[{"kind": "test_echo", "strength": 0.3},
                                                       {"kind": "test_named"}]))
        assert [b.kind for b in sc.policies[0].biases] == ["test_echo", "test_named"]
    finally:
        BIASES.unregister("test_echo")
        BIASES.unregister("test_named")


def test_a_class_without_a_kind_cannot_be_registered():
    class Nameless(Bias):
        """No kind of its own."""

        kind = ""

    with pytest.raises(TypeError, match="kind"):
        BIASES.register(Nameless)
    assert "" not in BIASES


def test_only_policies_and_biases_of_the_right_base_class_are_registered():
    with pytest.raises(TypeError, match=r"subclass of sim\.biases\.Bias"):
        register_bias("test_wrong", Newest)
    with pytest.raises(TypeError, match=r"subclass of sim\.policies\.Policy"):
        register_policy("test_wrong", Halo)
    assert "test_wrong" not in BIASES and "test_wrong" not in POLICIES


# --------------------------------------------------------------------------- unregistering


def test_unregister_removes_a_kind_from_scenarios_and_schema():
    REMEDIES.register(Nudge)
    assert "NudgeRemedy" in Scenario.model_json_schema()["$defs"]
    REMEDIES.unregister("test_nudge")
    assert "test_nudge" not in REMEDIES and REMEDIES.get("test_nudge") is None
    assert "NudgeRemedy" not in Scenario.model_json_schema()["$defs"]
    with pytest.raises(ValueError, match="test_nudge"):
        Scenario.model_validate(_scenario(remedies=[{"kind": "test_nudge"}]))
    REMEDIES.unregister("test_nudge")  # unregistering twice is harmless


@pytest.mark.parametrize(("registry", "kind"), [
    (POLICIES, "uniform"), (POLICIES, "churn_risk"), (BIASES, "affinity"), (BIASES, "salience"),
    (REMEDIES, "training"), (REMEDIES, "diverse_team"), (EVENTS, "recession"), (EVENTS, "regulation")])
def test_built_in_kinds_cannot_be_unregistered(registry, kind):
    cls = registry[kind]
    with pytest.raises(ValueError, match="built-in"):
        registry.unregister(kind)
    assert registry[kind] is cls and kind in registry.builtin()


# --------------------------------------------------------------------------- validation at the entry


# The first arm is valid so that only the entry under test has problems.
ARMS = """\
name: reg
horizon: 10
market:
  events:
    - {{at: 2, kind: recession}}
    - {event}
policies:
  - {{name: fine, kind: uniform}}
  - name: tested
    kind: {policy}
    biases:
      - {{kind: affinity}}
      - {bias}
    remedies:
      - {remedy}
"""
GOOD = {"event": "{at: 3, kind: regulation}", "policy": "value", "bias": "{kind: salience}",
        "remedy": "{kind: training}"}


def _arms(**bad: str) -> str:
    return ARMS.format(**{**GOOD, **bad})


def test_the_template_is_valid():
    sc = parse_text(_arms(), "reg.yaml")
    assert [b.kind for b in sc.policies[1].biases] == ["affinity", "salience"]


@pytest.mark.parametrize(("bad", "field", "line", "words"), [
    ({"bias": "{kind: hindsight}"}, "policies[1].biases[1].kind", 13, "found 'hindsight'"),
    ({"remedy": "{kind: yoga}"}, "policies[1].remedies[0].kind", 15, "found 'yoga'"),
    ({"event": "{at: 3, kind: earthquake}"}, "market.events[1].kind", 6, "found 'earthquake'"),
    ({"policy": "gut_feeling"}, "policies[1].kind", 10, "found 'gut_feeling'"),
])
def test_an_unknown_kind_is_reported_at_its_entry_with_the_known_kinds(bad, field, line, words):
    problems = _problems(_arms(**bad))
    assert field in problems, problems
    at, message = problems[field]
    assert at == line
    assert words in message and "expected one of" in message
    family = {"biases": BIASES, "remedies": REMEDIES, "events": EVENTS}.get(
        next((f for f in ("biases", "remedies", "events") if f in field), ""), POLICIES)
    assert all(k in message for k in family.builtin())


@pytest.mark.parametrize(("bad", "field", "words"), [
    ({"bias": "{kind: salience, strength: 2}"}, "policies[1].biases[1].strength", "less than or equal to 1"),
    ({"bias": "{kind: stale_data, snapshot_at: -1}"}, "policies[1].biases[1].snapshot_at",
     "greater than or equal to 0"),
    ({"bias": "{kind: salience, colour: red}"}, "policies[1].biases[1].colour", "no such key"),
    ({"remedy": "{kind: training, rate: -1}"}, "policies[1].remedies[0].rate", "greater than or equal to 0"),
    ({"remedy": "{kind: training, every: 4}"}, "policies[1].remedies[0].every", "no such key"),
    ({"remedy": "{kind: diverse_team, size: 1}"}, "policies[1].remedies[0].size",
     "greater than or equal to 2"),
    ({"event": "{at: 3, kind: recession, spend_drop: 1.5}"}, "market.events[1].spend_drop",
     "less than or equal to 1"),
    ({"event": "{at: 3, kind: regulation, size: 0.5}"}, "market.events[1].size", "no such key"),
])
def test_a_bad_parameter_is_reported_at_its_entry(bad, field, words):
    problems = _problems(_arms(**bad))
    assert field in problems, problems
    assert words in problems[field][1]


def test_an_entry_that_is_not_a_mapping_is_reported_at_its_place():
    problems = _problems(_arms(bias="affinity"))
    assert "policies[1].biases[1]" in problems
    assert problems["policies[1].biases[1]"][0] == 13
    assert "mapping with a `kind`" in problems["policies[1].biases[1]"][1]


def test_a_registered_kind_is_validated_by_its_own_parameters(registered):
    problems = _problems(_arms(bias="{kind: test_halo, horizon: soon}", remedy="{kind: test_nudge, dose: 9}",
                               policy="test_newest\n    options: {depth: 0}"))
    assert "expected an integer" in problems["policies[1].biases[1].horizon"][1]
    assert "less than or equal to 5" in problems["policies[1].remedies[0].dose"][1]
    assert "greater than or equal to 1" in problems["policies[1].options.depth"][1]
    # And it is listed among the known kinds when another is misspelled.
    message = _problems(_arms(bias="{kind: halo}"))["policies[1].biases[1].kind"][1]
    assert "test_halo" in message


# --------------------------------------------------------------------------- schema and pickling


def test_the_json_schema_lists_a_newly_registered_kind(registered):
    schema = Scenario.model_json_schema()
    defs = schema["$defs"]
    assert "HaloBias" in defs and "NudgeRemedy" in defs and "FlashSale" in defs
    assert defs["HaloBias"]["properties"]["kind"]["const"] == "test_halo"
    assert "horizon" in defs["HaloBias"]["properties"]
    assert defs["NudgeRemedy"]["properties"]["dose"]["maximum"] == 5
    with pytest.raises(KeyError, match="no parameters"):
        POLICIES.spec("test_newest")


def test_a_registered_kinds_spec_survives_pickling(registered):
    sc = Scenario.model_validate({
        **_scenario(kind="test_newest", biases=[{"kind": "test_halo", "horizon": 6, "strength": 0.4}],
                    remedies=[{"kind": "test_nudge", "dose": 2.5, "start": 3}]),
        "market": {"events": [{"at": 1, "kind": "test_flash_sale", "size": 0.1}]}})
    bias, remedy = sc.policies[0].biases[0], sc.policies[0].remedies[0]
    for entry in (bias, remedy, sc.market.events[0]):
        back = pickle.loads(pickle.dumps(entry))
        assert back == entry and type(back) is type(entry)
    back = pickle.loads(pickle.dumps(sc))  # what a worker process receives
    assert back == sc
    assert back.policies[0].biases[0].horizon == 6 and back.policies[0].remedies[0].dose == 2.5


def test_a_built_in_kinds_spec_survives_pickling():
    sc = Scenario.model_validate(_scenario(biases=[{"kind": "stale_data", "snapshot_at": 4}],
                                           remedies=[{"kind": "feedback_loop", "weight": 0.2}]))
    assert pickle.loads(pickle.dumps(sc)) == sc
