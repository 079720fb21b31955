"""The scenario file: a frozen pydantic model of everything a run needs.

Top-level keys and `kind` names are the public contract (SPEC.md). Every field
but `name` and `policies` has a documented default. Rates are per period; the
defaults are given per week and converted when `period` is longer (see
`Scenario.per_period`).

Policies, biases, remedies and events are chosen by `kind` among the kinds
registered in `sim.registry`: each kind is one class, with its parameters as a
pydantic model (`Params`, based on `BiasParams`, `RemedyParams` or `Event`
here), registered in one line. This module reads the registries and imports
nothing above them; a kind registered from a notebook is validated and
documented like a built-in one.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sim.registry import BIASES, EVENTS, POLICIES, REMEDIES

PERIODS_PER_YEAR = {"week": 52.0, "month": 12.0, "quarter": 4.0, "year": 1.0}
#: Longest horizon (periods): customers' periods are stored as int16 (630 years of weeks).
MAX_HORIZON = 32_000
#: Longest burn-in (periods): with the CRM's history before it, the earliest period stays an int16.
MAX_BURN_IN = 10_000
#: Most arms one scenario compares (each arm is a full set of replications).
MAX_POLICIES = 64

#: How a field's default, given per week, becomes its value per period of w weeks (fields marked
#: `json_schema_extra=weekly(rule)`). Values written in a scenario are in its periods and kept.
PERIOD_RULES: dict[str, str] = {
    "chance": "1 − (1 − x)^w: a chance, or a share of a gap closed, per period (compounds); for a chance "
              "that varies across customers (Beta, the concentration named), the mean of each customer's "
              "compounded chance",
    "concentration": "moments: the Beta concentration of a chance varying across customers (the mean "
                     "named), matched to the mean and variance of each customer's compounded chance, so "
                     "that as many customers are lost in a year; converted only with its mean",
    "amount": "x · w: a count, money or a hazard rate per period (adds up)",
    "flow": "x · A / a: a flow per period into a level that relaxes by the share `a` a week and `A` a "
            "period (the field named: the weekly flows of a period, less what relaxes meanwhile)",
    "periods": "x / w: a duration, half-life, cadence or date in periods (rounded for whole periods)",
    "sd": "x / √w: the sd of what a period's w weekly draws average to",
}


def weekly(rule: str, other: str | None = None) -> dict[str, str]:
    """Mark a field whose default is given per week: `Field(..., json_schema_extra=weekly("chance"))`.

    In a scenario whose `period` is longer than a week, the field's default is
    converted by `rule` (`PERIOD_RULES`) when the scenario is read; a value written
    in the file is in the scenario's periods and kept as it is.

    Args:
        rule: One of `PERIOD_RULES`.
        other: The field of the same model the rule reads: for "flow", the share per period by
            which the level the flow feeds relaxes; for "chance", the concentration of its Beta
            across customers (if any); for "concentration", the chance it spreads.
    """
    if rule not in PERIOD_RULES or (rule in ("flow", "concentration") and other is None):
        raise ValueError(f"weekly: unknown rule {rule!r} (or without the field it reads)")
    return {"per_week": rule} if other is None else {"per_week": rule, "other": other}


def weekly_to_period(value: float, weeks: float, rule: str) -> float:
    """A weekly value per period of `weeks` weeks (`PERIOD_RULES`; "rate" and "prob" are older names).

    Args:
        value: The weekly value.
        weeks: Weeks per period.
        rule: "chance", "amount", "periods" or "sd" ("flow" needs its level's speed: `flow_to_period`;
            a Beta's mean and concentration go together: `beta_to_period`).

    Returns:
        The per-period value (not rounded).
    """
    rule = {"rate": "amount", "prob": "chance"}.get(rule, rule)
    if weeks == 1.0:
        return value
    if rule == "chance":
        return 1.0 - (1.0 - value) ** weeks
    if rule == "amount":
        return value * weeks
    if rule == "periods":
        return value / weeks
    if rule == "sd":
        return value / math.sqrt(weeks)
    raise ValueError(f"weekly_to_period: unknown rule {rule!r}")


def beta_to_period(mean: float, concentration: float | None, weeks: float) -> tuple[float, float | None]:
    """A weekly chance that varies across customers as Beta(mean, concentration), per period of `weeks` weeks.

    Each customer's chance θ compounds to 1 − (1 − θ)^w; the Beta with the same mean and
    variance as those is returned (E[(1 − θ)^k] = B(a, b + k) / B(a, b)). Converting only the
    mean would give the few customers likely to leave a longer period to do it in: 2.6 times
    as many customers lost in a year for the default segments by months.

    Returns:
        The mean and concentration per period (the concentration None if it was).
    """
    if concentration is None or weeks == 1.0 or not 0.0 < mean < 1.0:
        return weekly_to_period(mean, weeks, "chance"), concentration
    a, b = mean * concentration, (1.0 - mean) * concentration

    def kept(k: float) -> float:  # E[(1 − θ)^k]
        return math.exp(math.lgamma(b + k) + math.lgamma(a + b) - math.lgamma(b) - math.lgamma(a + b + k))

    m1 = 1.0 - kept(weeks)
    var = 1.0 - 2.0 * kept(weeks) + kept(2.0 * weeks) - m1 * m1
    return m1, (m1 * (1.0 - m1) / var - 1.0 if var > 0.0 else concentration)


def flow_to_period(value: float, weeks: float, speed: float) -> float:
    """A weekly flow into a level that relaxes by the share `speed` per period, per period of `weeks` weeks.

    The w weekly flows of a period, each kept (1 − a) a week after it came (a the
    weekly speed): x · (1 − (1 − a)^w) / a = x · speed / a. The level's steady state
    (flow ÷ speed) is then the same whatever the period.
    """
    if weeks == 1.0:
        return value
    a = 1.0 - (1.0 - speed) ** (1.0 / weeks)
    return value * weeks if a <= 0.0 else value * speed / a


@cache
def _number_kind(annotation: Any) -> str | None:
    """"an integer" or "a number" if a field takes only numbers (or null), else None."""
    union = get_origin(annotation) in (Union, types.UnionType)
    args = [a for a in (get_args(annotation) if union else (annotation,)) if a is not type(None)]
    if not args or not all(a in (int, float) for a in args):
        return None
    return "an integer" if all(a is int for a in args) else "a number"


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Spec(BaseModel):
    """Base of every scenario model: frozen, unknown keys forbidden.

    Schemas are built on first use (`defer_build`): the fields that name a
    registered kind read the registries, which load the built-in kinds then.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """A number field takes a number: `true` is not 1, nor `"20"` 20 (pydantic's lax mode would).

        Checked before pydantic's own validation, so lists still become tuples.
        """
        if isinstance(v, (bool, str)) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            what = _number_kind(field.annotation) if field is not None else None
            if what is not None:
                hint = ""
                if isinstance(v, bool):
                    hint = " (true and false are not numbers)"
                elif _is_number_text(v):
                    hint = " (write numbers without quotes)"
                raise PydanticCustomError("number_type", "expected {what}, found {found}{hint}",
                                          {"what": what, "found": repr(v), "hint": hint})
        return v


# --------------------------------------------------------------------------- population


class Observed(Spec):
    """What the firm sees of a segment's customers in a year: the model's constants are solved to match.

    Each figure is optional. Given one, its constant is solved before the run
    (`sim.targets`) so that, under the baseline arm, the segment's customers at
    period 0 realise it over the first year: `annual_churn` sets the segment's
    `churn`, purchases its `purchase_rate`, `nps` its `advocacy`; a value written
    for that constant is replaced. Figures are of the first year as the run plays
    it (after any `burn_in`, with the events that fall in it). An annual churn
    below what switching to competitors alone causes sets the segment's
    `switching` too (its chance to switch, lowered below the market's). See
    docs/model.md, "Observed targets".
    """

    annual_churn: float | None = Field(
        None, gt=0, lt=1, description="Share of the segment's customers at period 0 who leave within the first "
        "year (1 − the cohort's annual retention), e.g. 0.18.")
    purchases_per_year: float | None = Field(
        None, gt=0, description="Purchases per customer per year while a customer (first year, customers at "
        "period 0).")
    purchases_per_period: float | None = Field(
        None, gt=0, description="The same per period of the scenario (give this or `purchases_per_year`).")
    nps: float | None = Field(
        None, ge=-100, le=100, description="Net promoter score of the segment's customers (% scoring 9–10 − % "
        "scoring 0–6 of their true likelihood to recommend, the metric `nps`), averaged over the first year's "
        "periods.")
    solved: str | None = Field(
        None, pattern=r"^[0-9a-f]{16}$", description="Written by a run into `scenario.resolved.yaml`: the "
        "scenario the constants beside it were solved for. While the scenario is that one they are used as "
        "they are (the file reruns bit for bit); remove it to solve again.")

    @model_validator(mode="after")
    def _one_purchase_figure(self) -> Observed:
        if self.purchases_per_year is not None and self.purchases_per_period is not None:
            raise ValueError("expected `purchases_per_year` or `purchases_per_period`, found both; give one")
        return self


class Segment(Spec):
    """A customer segment: its share and the distribution of its customers' traits.

    Rates are per period (defaults per week). Heterogeneity inside a segment:
    purchase rates are gamma distributed (shape `purchase_shape`, the NBD's r),
    baseline churn and per-purchase drop-out are beta distributed with the given
    mean and concentration (a + b; `None` makes the segment homogeneous).
    `observed` gives what the firm sees instead (`Observed`): the constants it
    names are then solved before the run.
    """

    name: str = Field(min_length=1, description="Segment label, as the manager sees it.")
    share: float = Field(gt=0, le=1, description="Share of the population in this segment.")
    spend: float = Field(30.0, gt=0, description="Mean spend per purchase (money).")
    spend_shape: float | None = Field(
        4.0, gt=0, description="Gamma shape of spend per purchase across customers; null = same."
    )
    purchase_rate: float = Field(
        0.5, ge=0, description="Mean purchases per period at reference satisfaction.",
        json_schema_extra=weekly("amount")
    )
    purchase_shape: float | None = Field(
        2.0, gt=0, description="Gamma shape r of purchase rates (NBD); null = homogeneous."
    )
    churn: float = Field(
        0.002, ge=0, le=1,
        description="Mean exogenous churn probability per period (moves, closures: what no management "
        "changes).",
        json_schema_extra=weekly("chance", "churn_concentration"))
    churn_concentration: float | None = Field(
        2.0, gt=0, description="Beta concentration a+b of baseline churn (sBG); null = homogeneous.",
        json_schema_extra=weekly("concentration", "churn"))
    dropout_per_purchase: float = Field(
        0.0, ge=0, le=1, description="Mean probability of dropping out after a purchase (BG/NBD p)."
    )
    dropout_concentration: float | None = Field(
        None, gt=0, description="Beta concentration a+b of per-purchase drop-out; null = same."
    )
    growth_potential: float = Field(
        0.0, ge=0, le=1, description="Share of customers whose spend can grow when nurtured."
    )
    growth_max: float = Field(3.0, ge=1, description="Spend multiplier a grower can reach.")
    price_sensitivity: float = Field(
        1.0, ge=0, description="How strongly competitor pull and recessions act on them."
    )
    switching: float = Field(
        1.0, ge=0, description="Multiplier of their chance to switch to a competitor [H1]: 1 is the market's "
        "(`switching_base` and the competitors' pull), 0.5 half as likely, 0 never (exogenous churn only)."
    )
    complaint_propensity: float = Field(
        1.0, ge=0, description="Relative chance to complain when disappointed (loudness)."
    )
    sociability: float = Field(1.0, ge=0, description="Weight of their word of mouth.")
    service_sensitivity: float = Field(
        1.0, ge=0, description="How much service attention lifts their perceived quality."
    )
    likability: float = Field(
        0.0, description="Mean of the likability trait managers react to (unrelated to value)."
    )
    advocacy: float = Field(
        0.0, ge=-1, le=1, description="Mean of the customers' own bent to recommend (the advocacy trait, on "
        "the 0–1 scale of likelihood to recommend ÷ 10): moves NPS (and what surveys and referrals carry), "
        "not satisfaction, churn or purchases.")
    satisfaction: float | None = Field(
        None, ge=0, le=1, description="Initial mean satisfaction; null = steady state."
    )
    loyalty: float | None = Field(
        None, ge=0, le=1, description="Initial mean attitudinal loyalty; null = equal to satisfaction."
    )
    needs: float = Field(0.0, description="Initial mean position of needs (offer tuned to it).")
    needs_spread: float = Field(0.4, ge=0, description="Spread of needs inside the segment.")
    cost_to_serve: float = Field(0.5, ge=0, description="Cost of serving one customer per period.",
        json_schema_extra=weekly("amount"))
    observed: Observed | None = Field(
        None, description="What the firm sees of these customers (annual churn, purchases, NPS); the "
        "constants it names are solved before the run so that the baseline arm realises it in the first year.")


def _default_segments() -> tuple[Segment, ...]:
    return (
        Segment(name="regulars", share=0.35, spend=30.0, purchase_rate=0.6, churn=0.0015),
        Segment(
            name="big_accounts", share=0.05, spend=200.0, purchase_rate=0.5, churn=0.001,
            service_sensitivity=0.2, cost_to_serve=2.0, loyalty=0.7,
        ),
        Segment(
            name="small_growers", share=0.25, spend=15.0, purchase_rate=0.4, churn=0.003,
            growth_potential=0.5, growth_max=4.0, service_sensitivity=1.5,
        ),
        Segment(
            name="bargain_hunters", share=0.35, spend=20.0, purchase_rate=0.35, churn=0.003,
            price_sensitivity=1.6, complaint_propensity=2.0,
        ),
    )


class Network(Spec):
    """The customers' social network, over current and potential customers.

    `kind: edges` reads the ties from `file`, a CSV edge list (path relative to the
    scenario file): a header line `source,target`, then one tie per line, two customer
    ids. Ties are undirected and listed once: a tie given twice (in either direction)
    or from a customer to themselves is an error, as is an id that is not in the
    customer table (`population.customers`); without a table, ids are the model's
    customer numbers, 0 to size − 1 for the customers at period 0 and on for the
    prospects. A customer listed in no tie has none. `degree` and `rewire` are then unused.
    """

    kind: Literal["small_world", "none", "complete", "edges"] = Field(
        "small_world", description="Watts–Strogatz small world, no ties, fully mixed, or the ties of `file`."
    )
    degree: int = Field(8, ge=2, le=200, description="Ties per person (even) in the small world.")
    rewire: float = Field(0.1, ge=0, le=1, description="Share of ties rewired at random (weak ties).")
    file: str | None = Field(
        None, min_length=1, description="With `kind: edges`: the CSV edge list (`source,target`), relative to "
        "the scenario file.")

    @field_validator("degree")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"degree must be even, got {v}")
        return v

    @model_validator(mode="after")
    def _file_with_edges(self) -> Network:
        if (self.kind == "edges") != (self.file is not None):
            raise ValueError("expected a `file` with `kind: edges`, and a `file` only then; found kind "
                             f"{self.kind} {'with' if self.file else 'without'} a file")
        return self


class Behaviour(Spec):
    """How customers respond: the constants of the model's equations (docs/model.md)."""

    perception_noise: float = Field(
        0.05, ge=0, description="Sd of perceived quality per period (a period's experiences averaged).",
        json_schema_extra=weekly("sd"))
    service_effect: float = Field(0.15, ge=0, description="Quality lift of full service attention (courtesy).")
    service_personalisation: float = Field(
        0.8, ge=0, le=1, description="Share of the misfit's cost full attention repairs (the offer adapted to "
        "the customer's own needs).")
    service_scale: float = Field(
        0.16, gt=0, description="Service money per period for half the full lift, as a share of the customers' "
        "mean revenue per period (so results do not depend on the unit of money).")
    service_shape: float = Field(
        2.0, ge=1, le=8, description="Shape c of the response to service money (ADBUDG): 1 = concave from "
        "the first unit, above 1 = S-shaped, a token of attention does little.")
    fit_weight: float = Field(0.6, ge=0, description="Quality lost when the offer misses needs.")
    fit_width: float = Field(0.5, gt=0, description="Needs distance at which fit falls to 61 %.")
    needs_halflife: float | None = Field(
        52.0, gt=0, description="Periods in which a customer's departure from the segment's needs halves: "
        "needs wander around the segment's with its spread, so who the offer misfits changes; null = "
        "needs stay where they are.", json_schema_extra=weekly("periods"))
    expectation_adaptation: float = Field(
        0.1, ge=0, le=1, description="Share of the gap experience−expectation closed per period.",
        json_schema_extra=weekly("chance")
    )
    service_adaptation: float = Field(
        0.3, ge=0, le=1,
        description="Share of the service lift expectations adapt to (the rest keeps delighting).",
    )
    promise_effect: float = Field(
        0.02, ge=0, description="Expectation raised per period per unit of promise above honest.",
        json_schema_extra=weekly("flow", "expectation_adaptation")
    )
    honest_promise: float = Field(0.5, ge=0, le=1, description="Promise level that matches delivery.")
    satisfaction_speed: float = Field(0.15, gt=0, le=1, description="Adjustment speed of satisfaction.",
        json_schema_extra=weekly("chance"))
    satisfaction_base: float = Field(0.5, description="Logit of steady-state satisfaction at reference.")
    expectation_weight: float = Field(3.0, ge=0, description="Assimilation: weight of expectation level.")
    disconfirmation_weight: float = Field(6.0, ge=0, description="Weight of disconfirmation.")
    loss_aversion: float = Field(2.25, ge=1, description="Losses weigh this much more than gains.")
    loyalty_speed: float = Field(0.03, gt=0, le=1, description="Adjustment speed of loyalty.",
        json_schema_extra=weekly("chance"))
    relationship_weight: float = Field(
        0.15, ge=0, description="Loyalty gained from sustained personal service."
    )
    lockin_crowding: float = Field(
        0.3, ge=0, description="Loyalty target lowered per unit of lock-in (staying for points)."
    )
    points_scale: float = Field(
        0.066, gt=0, description="Points money per period for 63 % of the largest lock-in gain, as a share of "
        "the customers' mean revenue per period.")
    points_lock: float = Field(0.3, ge=0, le=1, description="Max lock-in gained per period.",
        json_schema_extra=weekly("flow", "lock_decay"))
    lock_protection: float = Field(
        0.7, ge=0, le=1, description="Share of the hazard removed by full lock-in."
    )
    lock_decay: float = Field(0.05, ge=0, le=1, description="Lock-in lost per period.",
        json_schema_extra=weekly("chance"))
    churn_satisfaction: float = Field(5.0, ge=0, description="Switching log-ratio per unit satisfaction.")
    churn_loyalty: float = Field(3.0, ge=0, description="Switching log-ratio per unit loyalty.")
    churn_unresolved: float = Field(1.5, ge=0, description="Switching log-ratio of an unresolved complaint.")
    switching_base: float = Field(
        0.002, ge=0, le=1,
        description="Chance per period a customer at reference satisfaction and loyalty switches to a "
        "competitor, before competitors' pull.", json_schema_extra=weekly("chance"))
    competitor_churn: float = Field(
        0.01, ge=0, description="Switching chance added per unit competitor pull (times price sensitivity).",
        json_schema_extra=weekly("amount")
    )
    reference_satisfaction: float = Field(0.6, ge=0, le=1, description="Satisfaction at base hazard.")
    reference_loyalty: float = Field(0.5, ge=0, le=1, description="Loyalty at base hazard.")
    grudge_memory: int = Field(
        26, ge=1, le=10_000, description="Periods a grudge lasts after the complaint was given up on.",
        json_schema_extra=weekly("periods"))
    token_cost: float = Field(
        0.3, gt=0, le=1, description="Cost of a token reply to a complaint, as a share of sincere handling's.")
    token_recovery: float = Field(
        0.2, ge=0, le=1, description="Satisfaction a token reply recovers, as a share of sincere handling's.")
    promise_learning: float = Field(
        0.05, ge=0, le=1, description="Share per period by which prospects learn to discount the promises "
        "the firm has been breaking.", json_schema_extra=weekly("chance"))
    purchase_satisfaction: float = Field(
        3.0, ge=0, description="Purchase-rate log-ratio per unit satisfaction below reference.")
    purchase_delight: float = Field(
        0.3, ge=0, description="Purchase-rate log-ratio per unit satisfaction above reference (asymmetric).")
    growth_speed: float = Field(0.02, ge=0, le=1, description="Growth per period of a nurtured grower.",
        json_schema_extra=weekly("chance"))
    complaint_threshold: float = Field(
        0.1, ge=0, description="Disappointment (expected − perceived) that can trigger a complaint."
    )
    complaint_probability: float = Field(0.1, ge=0, le=1, description="Chance to complain then.",
        json_schema_extra=weekly("chance"))
    complaint_wait_penalty: float = Field(
        0.02, ge=0, description="Satisfaction lost per period a complaint waits.",
        json_schema_extra=weekly("flow", "satisfaction_speed")
    )
    complaint_recovery: float = Field(
        0.15, ge=0, description="Satisfaction regained by prompt handling."
    )
    complaint_recovery_decay: float = Field(
        0.35, ge=0, description="Recovery lost per period of delay (exponential rate).",
        json_schema_extra=weekly("amount")
    )
    complaint_give_up: int = Field(
        8, ge=1, description="Periods after which an unhandled complaint becomes a grudge.",
        json_schema_extra=weekly("periods")
    )
    wom_negative: float = Field(
        0.02, ge=0, description="Satisfaction lost per unit of negative word of mouth received.",
        json_schema_extra=weekly("flow", "satisfaction_speed")
    )
    wom_unresolved: float = Field(
        2.0, ge=0, description="Extra negative word of mouth from an unresolved complaint."
    )
    wom_deterrence: float = Field(
        0.0, ge=0,
        description="Adoption hazard log-ratio lost per unit of negative word of mouth a potential "
        "customer hears (brand image).",
    )
    detractor_threshold: float = Field(0.4, ge=0, le=1, description="Below it a customer talks badly.")
    referral_rate: float = Field(
        0.015, ge=0, description="Adoption hazard of a potential customer per promoter-neighbour share.",
        json_schema_extra=weekly("amount")
    )
    survey_response: float = Field(0.2, ge=0, le=1, description="Base chance a surveyed customer answers.")
    survey_anger_bias: float = Field(
        2.0, ge=0, description="Extra answer chance per unit of dissatisfaction (angry answer more)."
    )
    recommend_shift: float = Field(
        0.25, description="Likelihood to recommend = 10 × (mean of satisfaction, loyalty + shift + advocacy)."
    )
    advocacy_spread: float = Field(
        0.2, ge=0, description="Sd of customers' own bent to recommend (the advocacy trait)."
    )
    loyal_threshold: float = Field(0.4, ge=0, le=1, description="Loyalty below which a customer is not loyal.")
    locked_threshold: float = Field(0.5, ge=0, le=1, description="Lock-in at which staying is bought.")


class Population(Spec):
    """Who the customers are, how they are tied, and how they behave.

    `customers` names a CSV customer table (path relative to the scenario file), one
    customer per line under a header naming the columns: `id` and `segment` (a segment's
    name) are required; optional columns set that customer's initial state or trait,
    an empty cell leaving it as drawn from the segment: `status` (`active`, the default,
    or `potential`: a prospect the firm may still win), `satisfaction`, `loyalty`, `lock`,
    `relationship` (0–1), `expectation`, `needs`, `spend` (per purchase, > 0),
    `purchase_rate` (≥ 0), `base_churn` and `dropout` (0–1), `growth_max` (≥ 1),
    `likability`, `advocacy`, the segment traits `price_sensitivity`,
    `complaint_propensity`, `sociability`, `service_sensitivity`, `cost_to_serve` (≥ 0),
    and `tenure` (whole periods as a customer before period 0). Loyalty follows a given
    satisfaction unless given too. The table's active customers are the customers at
    period 0 (`size` is their number; leave it unset), and its prospects, if it lists
    any, are all the prospects (`potential` follows); otherwise prospects are drawn as
    usual. An unknown column, a value that is not a number or is out of its range, an
    unknown segment or an id given twice is an error naming the file, line and column.
    """

    size: int = Field(20000, ge=10, le=20_000_000, description="Customers at period 0.")
    potential: float = Field(
        0.5, ge=0, le=10, description="Potential customers not yet won, as a share of size."
    )
    segments: tuple[Segment, ...] = Field(
        default_factory=_default_segments, min_length=1, description="Customer segments."
    )
    network: Network = Field(default_factory=Network, description="Social network.")
    behaviour: Behaviour = Field(default_factory=Behaviour, description="Response constants.")
    customers: str | None = Field(
        None, min_length=1, description="A CSV customer table (`id`, `segment`, optional states and traits per "
        "customer), relative to the scenario file; it sets `size`. Null: customers are drawn from the "
        "segments.")

    @model_validator(mode="after")
    def _shares(self) -> Population:
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must add up to 1, they add up to {total:g}")
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        return self


# --------------------------------------------------------------------------- market


class Event(Spec):
    """An event in the market at period `at`; the kinds are in `sim.events` (`EVENTS`).

    An event is its own parameters: a kind subclasses this model, declares
    `kind: Literal["..."]` and its fields, and says what it does to the market
    each period it runs (`affect`) and, once, to the customers when it starts
    (`start`).
    """

    at: int = Field(ge=0, description="Period at which it starts.")
    kind: str = Field(description="The event kind.")

    def running(self, t: int) -> bool:
        """Whether the event acts in period `t` (from `at` on; kinds with a duration end)."""
        duration = getattr(self, "duration", None)
        return self.at <= t and (duration is None or t < self.at + duration)

    def affect(self, market: Any, t: int) -> None:
        """Change the market of a period it runs in (`sim.market.MarketTerms`)."""

    def start(self, model: Any) -> None:
        """What happens once, at the start of period `at` (to the model's customers)."""


class Currency(Spec):
    """The unit of money of a scenario: how the report writes money figures (it changes no number)."""

    code: str = Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$",
                      description="ISO 4217 code, e.g. CNY, EUR, USD.")
    symbol: str | None = Field(None, min_length=1, max_length=5,
                               description="Symbol written before amounts (e.g. ¥); null = the code.")


class Market(Spec):
    """The firm's economics, its competitors and the events of the run."""

    quality: float = Field(0.6, description="Base quality of the product, before service and fit.")
    reference_quality: float = Field(
        0.6, description="Quality of the competitors' offer, which customers compare the firm's with.")
    margin: float = Field(0.5, ge=0, le=1, description="Gross margin on revenue.")
    budget: float = Field(
        1.0, ge=0, description="Manager's budget per period per customer at period 0 (money).",
        json_schema_extra=weekly("amount")
    )
    acquisition_cost: float = Field(400.0, gt=0, description="Cost of winning one customer.")
    complaint_cost: float = Field(5.0, gt=0, description="Cost of handling one complaint.")
    competitor_pull: float = Field(0.2, ge=0, description="Baseline pull of competitors.")
    survey_rate: float = Field(0.02, ge=0, le=1, description="Share of customers surveyed per period.",
        json_schema_extra=weekly("chance"))
    crm_noise: float = Field(0.1, ge=0, description="Noise of needs revealed through purchases.")
    events: tuple[Annotated[Any, EVENTS.field()], ...] = Field(
        (), description="Market events, in any order (kinds: `sim.events`).")
    currency: Currency | None = Field(
        None, description="Unit of every money figure in the report, e.g. {code: CNY, symbol: ¥}; "
        "null = plain numbers.")


# --------------------------------------------------------------------------- managers


class BiasParams(Spec):
    """A bias: a distortion of what the manager sees, believes or decides (kinds: `sim.biases`)."""

    kind: str = Field(description="The bias kind.")
    strength: float = Field(0.8, ge=0, le=1, description="0 = none, 1 = full.")


class RemedyParams(Spec):
    """A remedy: changes the manager's information or judgement from period `start` (kinds: `sim.remedies`)."""

    kind: str = Field(description="The remedy kind.")
    start: int = Field(0, ge=0, description="Period from which it acts.", json_schema_extra=weekly("periods"))
    cost: float | None = Field(
        None, ge=0, le=1, description="Share of the period's budget it uses while it acts (time, research, "
        "surveys); null = the kind's default.")


class PolicyOptions(Spec):
    """Kind-specific settings of a policy (`policies[].options`); each kind adds its own."""

    retarget_every: int = Field(13, ge=1, description="Periods a targeted customer stays enrolled.",
        json_schema_extra=weekly("periods"))


class BudgetShares(Spec):
    """How a period's budget is split across channels (the rest is not spent)."""

    service: float = Field(0.65, ge=0, le=1, description="Service attention to customers.")
    complaints: float = Field(0.15, ge=0, le=1, description="Complaint handling capacity.")
    points: float = Field(0.0, ge=0, le=1, description="Loyalty points and contracts.")
    acquisition: float = Field(0.2, ge=0, le=1, description="Winning new customers.")

    @model_validator(mode="after")
    def _total(self) -> BudgetShares:
        total = self.service + self.complaints + self.points + self.acquisition
        if total > 1 + 1e-9:
            raise ValueError(f"budget shares add up to {total:g}, at most 1 is allowed")
        return self


class PolicySpec(Spec):
    """One arm of the comparison: a manager with a policy, biases and remedies."""

    name: str = Field(min_length=1, description="Arm name used in outputs.")
    kind: str = Field(description="Policy kind: one of uniform, random, value, churn_risk, clv, feedback, "
                                  "oracle, human, or a kind registered with `sim.register_policy`.")
    budget_shares: BudgetShares | None = Field(
        None, description="Budget split; null = the policy kind's default."
    )
    target_share: float | None = Field(
        None, gt=0, le=1, description="Share of customers given service; null = kind default."
    )
    promise: float | None = Field(
        None, ge=0, le=1, description="Marketing promise level; null = honest."
    )
    cost: float = Field(
        0.0, ge=0, description="Running cost of the approach per period (e.g. CRM system).",
        json_schema_extra=weekly("amount")
    )
    complaint_handling: Literal["sincere", "token"] = Field(
        "sincere", description="How complaints are answered: sincerely (full cost, full recovery) or with a "
        "token reply (cheaper, recovers little; seed 004).")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific settings "
                                    "(`PolicyOptions` and the kind's own; see docs/policies-and-biases.md).")
    biases: tuple[Annotated[Any, BIASES.field()], ...] = Field((), description="Biases laid over the policy.")
    remedies: tuple[Annotated[Any, REMEDIES.field()], ...] = Field(
        (), description="Remedies against the biases.")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in POLICIES:
            raise POLICIES.unknown(v)
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, Any], info: Any) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind in POLICIES:
            getattr(POLICIES[kind], "Options", PolicyOptions).model_validate(v)
        return v

    def settings(self) -> BaseModel:
        """The options with every default filled in (the kind's `Options` model)."""
        return getattr(POLICIES[self.kind], "Options", PolicyOptions).model_validate(self.options)


# --------------------------------------------------------------------------- scenario


class Sweep(Spec):
    """A grid of parameter values to run the comparison over."""

    parameters: dict[str, tuple[Any, ...]] = Field(
        description="Dotted path (e.g. policies.stale_manager.biases.0.strength) to values."
    )


class Range(Spec):
    """An uncertain input of `explore`: sampled between `low` and `high` (integers for integer fields)."""

    low: float = Field(description="Lowest value.")
    high: float = Field(description="Highest value; above `low`.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"expected low < high, found low={self.low:g}, high={self.high:g}")
        return self


class Scenario(Spec):
    """A scenario: the customers, the market, and the managers compared."""

    name: str = Field(min_length=1, description="Scenario name: printable characters in any script, no "
                      "spaces (`顾客-测试`, `Kundenbindung-Ü`); the results folder gets an ASCII-safe "
                      "version of it.")
    description: str = Field("", description="What the scenario teaches.")
    horizon: int = Field(104, ge=1, le=MAX_HORIZON, description="Periods simulated and reported.",
                         json_schema_extra=weekly("periods"))
    burn_in: int = Field(
        0, ge=0, le=MAX_BURN_IN, description="Periods run before period 0 and not reported, so that the run "
        "starts from the market as the baseline arm keeps it rather than from the initial state: customers, "
        "CRM records and the baseline arm's manager run; every arm then starts from that same state.",
        json_schema_extra=weekly("periods"))
    period: Literal["week", "month", "quarter", "year"] = Field(
        "week", description="Length of a period. Values written in the file are per period of this length; "
        "defaults are given per week and converted when the file is read (each field's rule in "
        "docs/scenario-reference.md).")
    replications: int = Field(30, ge=1, le=100_000, description="Replications per policy.")
    seed: int = Field(20261122, ge=0, description="Root seed; replication seeds derive from it.")
    population: Population = Field(default_factory=Population, description="The customers.")
    market: Market = Field(default_factory=Market, description="The market and the firm.")
    policies: tuple[PolicySpec, ...] = Field(min_length=1, max_length=MAX_POLICIES,
                                             description="The arms compared.")
    baseline: str | None = Field(
        None, description="Arm differences are reported against; null = the first."
    )
    sweep: Sweep | None = Field(None, description="Optional parameter grid for `sweep`.")
    uncertainties: dict[str, Range] | None = Field(
        None, description="Optional uncertain inputs for `explore`: dotted path (as for `sweep`) → "
        "{low, high}; `--vary PATH=LOW:HIGH` overrides or extends them.")
    language: Literal["en", "zh_CN"] = Field(
        "en", description="Language of the printed table, the report and its plots (en or zh_CN); "
        "`--lang` overrides it.")

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        bad = [c for c in v if not c.isprintable() or c.isspace()]
        if bad:
            raise PydanticCustomError(
                "scenario_name", "expected a name of printable characters without spaces, found {found}",
                {"found": repr(v)})
        return v

    @model_validator(mode="before")
    @classmethod
    def _weekly_defaults(cls, data: Any) -> Any:
        """A longer period: every default given per week is converted, once (`in_periods`)."""
        if not isinstance(data, Mapping):
            return data
        period = data.get("period", "week")
        if not isinstance(period, str) or period == "week" or period not in PERIODS_PER_YEAR:
            return data
        return in_periods(cls, data, 52.0 / PERIODS_PER_YEAR[period])

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [p.name for p in self.policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must be unique, got {names}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} names no policy; policies are {names}")
        for ev in self.market.events:
            if ev.at >= self.horizon:
                raise ValueError(
                    f"event {ev.kind} at period {ev.at} is past the horizon ({self.horizon} periods)"
                )
        return self

    @property
    def baseline_policy(self) -> str:
        """The name of the baseline arm."""
        return self.baseline or self.policies[0].name

    def policy(self, name: str) -> PolicySpec:
        """Return the arm called `name`.

        Raises:
            KeyError: If no arm has that name.
        """
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(f"no policy {name!r} in scenario {self.name!r}")

    @property
    def per_period(self) -> float:
        """How many weeks one period lasts (1 for weeks)."""
        return 52.0 / PERIODS_PER_YEAR[self.period]


# --------------------------------------------------------------------------- periods


def _bounded(info: Any, value: float) -> float | int:
    """A converted value within its field's bounds; rounded if the field takes whole numbers."""
    whole = _number_kind(info.annotation) == "an integer"
    out: float | int = round(value) if whole else value
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            out = max(out, m.ge)
        if getattr(m, "gt", None) is not None and whole:
            out = max(out, m.gt + 1)
        if getattr(m, "le", None) is not None:
            out = min(out, m.le)
    return out


def _rule(info: Any) -> tuple[str | None, str | None]:
    """A field's period rule and the field it reads (`weekly`)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return extra.get("per_week"), extra.get("other")


def _number(v: Any) -> float | None:
    """`v` as a float if it is a number (not a boolean), else None: left for validation to refuse."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _nested(model: type[BaseModel], name: str, item: Any) -> type[BaseModel] | None:
    """The scenario model of `item`, the value (or a list item) of field `name` of `model`; None: not one."""
    if isinstance(item, BaseModel):
        return type(item)
    if not isinstance(item, Mapping):
        return None
    registry = {(Market, "events"): EVENTS, (PolicySpec, "biases"): BIASES,
                (PolicySpec, "remedies"): REMEDIES}.get((model, name))
    if registry is not None:
        kind = item.get("kind")
        return registry.spec(kind) if isinstance(kind, str) and kind in registry else None
    return {(Scenario, "population"): Population, (Scenario, "market"): Market,
            (Scenario, "policies"): PolicySpec, (Population, "segments"): Segment,
            (Population, "behaviour"): Behaviour}.get((model, name))


_NESTED = {Scenario: ("population", "market", "policies"), Population: ("segments", "behaviour"),
           Market: ("events",), PolicySpec: ("biases", "remedies")}


def in_periods(model: type[BaseModel], data: Any, weeks: float, defaults: bool = False) -> Any:
    """`data` with every default given per week converted to periods of `weeks` weeks.

    A field marked `weekly(rule)` that `data` does not set gets its default
    converted by the rule (`PERIOD_RULES`), within the field's bounds, and set; a
    field `data` sets is in periods already and kept. The models below (segments,
    behaviour, events, policies with their options, biases and remedies) are
    converted likewise. Everything converted is then set, so converting again
    (a resolved scenario read back, a sweep's copy) changes nothing.

    Args:
        model: The scenario model of `data`.
        data: A mapping as read from a file, or a model instance (its set fields are the written ones).
        weeks: Weeks per period.
        defaults: Every value of `data` is a default (a default list's items: the built-in segments).

    Returns:
        `data` itself if nothing changed, else a new mapping or a copy of the instance.
    """
    if isinstance(data, BaseModel):
        model, written = type(data), set() if defaults else set(data.model_fields_set)
    elif isinstance(data, Mapping):
        written = set(data)
    else:
        return data

    def value(name: str) -> Any:
        if isinstance(data, BaseModel):
            return getattr(data, name)
        if name in data:
            return data[name]
        return model.model_fields[name].get_default(call_default_factory=True)

    updates: dict[str, Any] = {}
    flows = []
    for name, info in model.model_fields.items():
        rule, other = _rule(info)
        if rule is not None and name not in written:
            x = _number(value(name))
            if x is None:  # null (nothing to convert)
                continue
            if rule == "flow":
                flows.append((name, info, other))
            elif rule == "chance" and other is not None:  # the mean of a Beta across customers
                spread = value(other)
                if spread is None or _number(spread) is not None:
                    updates[name] = _bounded(info, beta_to_period(x, _number(spread), weeks)[0])
            elif rule == "concentration":  # converted with its mean, from the weekly pair
                if other not in written and _number(value(other)) is not None:
                    updates[name] = _bounded(info, beta_to_period(_number(value(other)), x, weeks)[1])
            else:
                updates[name] = _bounded(info, weekly_to_period(x, weeks, rule))
        elif rule is None and name in _NESTED.get(model, ()):
            _nested_update(model, name, value(name), weeks, defaults or name not in written, updates)
        elif rule is None and model is PolicySpec and name == "options":
            kind = value("kind")
            if isinstance(kind, str) and kind in POLICIES and isinstance(value(name), Mapping):
                opts = getattr(POLICIES[kind], "Options", PolicyOptions)
                new = in_periods(opts, value(name), weeks)
                if new is not value(name):
                    updates[name] = dict(new)
    for name, info, relaxes in flows:  # after the speeds they relax by, converted or written
        speed = _number(updates.get(relaxes, value(relaxes)))
        if speed is not None and 0.0 <= speed <= 1.0:
            updates[name] = _bounded(info, flow_to_period(_number(value(name)), weeks, speed))
    if not updates:
        return data
    if isinstance(data, BaseModel):
        return data.model_copy(update=updates)
    return {**data, **updates}


def default_in(period: Any, model: type[BaseModel], name: str) -> Any:
    """The default of field `name` of `model` in a scenario of this `period` (converted if it is weekly).

    For checks on a file's raw data (`sim.loader`): an unknown period gives the weekly default.
    """
    info = model.model_fields[name]
    value = info.get_default(call_default_factory=True)
    rule, _ = _rule(info)
    simple = rule in ("amount", "periods", "chance", "sd")
    if not simple or not isinstance(period, str) or period not in PERIODS_PER_YEAR:
        return value
    weeks = 52.0 / PERIODS_PER_YEAR[period]
    return value if _number(value) is None else _bounded(info, weekly_to_period(float(value), weeks, rule))


def _nested_update(model: type[BaseModel], name: str, current: Any, weeks: float, defaults: bool,
                   updates: dict[str, Any]) -> None:
    """Convert the model (or list of models) of field `name` into `updates` if anything changed."""
    if isinstance(current, (list, tuple)):
        items = [in_periods(sub, item, weeks, defaults) if (sub := _nested(model, name, item)) else item
                 for item in current]
        if any(new is not old for new, old in zip(items, current, strict=True)):
            updates[name] = tuple(items)
        return
    sub = _nested(model, name, current)
    if sub is not None:
        new = in_periods(sub, current, weeks, defaults)
        if new is not current:
            updates[name] = new


def _rebuild() -> None:
    """A kind registered after the built-ins: rebuild the schemas that list the kinds."""
    for model in (PolicySpec, Market, Scenario):
        model.model_rebuild(force=True)


for _registry in (POLICIES, BIASES, REMEDIES, EVENTS):
    _registry.on_register(_rebuild)
