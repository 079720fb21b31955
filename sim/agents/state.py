"""The customers' state, declared once.

`COLUMNS` lists every per-customer column: its name, dtype, what it means and
how it is shown. From it come the column store of `CustomerPopulation` (one
array per column, each on its own cache line, `sim.memory`), the attributes of
`Customer` views, the frame of `to_frame`, and `State`, the named tuple the
compiled kernels receive, so a kernel reads `c.satisfaction[i]`, never the
15th positional argument.

`SEGMENT_TRAITS` are the constants a scenario sets per segment: stored once per
segment until a notebook makes one a per-customer column. `Params` holds the
behavioural constants (`population.behaviour` and the market's) by name, as
the rules of `sim.agents.rules` read them.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

POTENTIAL, ACTIVE, CHURNED = 0, 1, 2
F32 = np.float32
#: Survey answers (0–10 and 1–5) are whole numbers, stored as int8; this marks "never answered".
NO_ANSWER = -1
#: Marks "never" in the period columns that can be negative (joined, last purchase, last survey
#: answer): the initial customers' history, and a burn-in, reach back before period 0.
NEVER = int(np.iinfo(np.int16).min)
#: The longest history the CRM holds on an initial customer (ten years of weeks).
MAX_HISTORY = 520


@dataclass(frozen=True)
class Column:
    """One per-customer column.

    Attributes:
        name: Attribute name (`pop.<name>`, `customer.<name>`, the frame's column).
        dtype: Storage dtype.
        doc: What it holds.
        shown: How views and frames show it: "value" (as stored), "answer"
            (an int8 survey answer shown as float32, NaN for `NO_ANSWER`) or
            "trait" (a segment constant, `SEGMENT_TRAITS`).
        public: Shown by `Customer` views and `to_frame`.
        kernel: Passed to the kernels in `State`.
    """

    name: str
    dtype: type
    doc: str
    shown: str = "value"
    public: bool = True
    kernel: bool = True


def _c(name: str, dtype: type, doc: str, **kw: object) -> Column:
    return Column(name, dtype, doc, **kw)


#: Every column of a customer, in the order views and frames show them.
COLUMNS: tuple[Column, ...] = (
    _c("status", np.int8, "0 potential, 1 active, 2 churned."),
    _c("segment", np.int16, "Segment index."),
    _c("joined", np.int16, "Period the customer joined (negative: before the run; NEVER: not yet)."),
    _c("churned_at", np.int16, "Period the customer left (-1: not left)."),
    _c("spend", F32, "Spend per purchase."),
    _c("purchase_rate", F32, "Purchases per period at reference satisfaction (λ)."),
    _c("base_churn", F32, "Baseline churn probability per period (θ)."),
    _c("dropout", F32, "Probability of dropping out after a purchase (BG/NBD p)."),
    _c("growth", F32, "Spend multiplier reached so far."),
    _c("growth_max", F32, "Spend multiplier a grower can reach (1: not a grower)."),
    _c("price_sensitivity", F32, "How strongly competitor pull and recessions act.", shown="trait"),
    _c("switching", F32, "Multiplier of the chance to switch to a competitor [H1].", shown="trait"),
    _c("complaint_propensity", F32, "Relative chance to complain when disappointed.", shown="trait"),
    _c("sociability", F32, "Weight of the customer's word of mouth.", shown="trait"),
    _c("service_sensitivity", F32, "How much service lifts perceived quality.", shown="trait"),
    _c("likability", F32, "How much managers like the customer (unrelated to value)."),
    _c("advocacy", F32, "The customer's own bent to recommend, or not, whatever their satisfaction."),
    _c("cost_to_serve", F32, "Cost of serving the customer per period.", shown="trait"),
    _c("needs", F32, "Position of the customer's needs."),
    _c("expectation", F32, "Expected quality."),
    _c("satisfaction", F32, "Satisfaction, 0–1."),
    _c("loyalty", F32, "Attitudinal loyalty, 0–1."),
    _c("lock", F32, "Lock-in from points and contracts, 0–1."),
    _c("relationship", F32, "Relationship built by sustained service, 0–1."),
    _c("complaint_open", np.bool_, "An unhandled complaint is waiting."),
    _c("complaint_age", np.int16, "Periods the open complaint has waited."),
    _c("grudge", np.bool_, "A complaint was never handled."),
    _c("complaints_total", np.int16, "Complaints filed so far."),
    _c("consent", np.bool_, "The customer's data may be used."),
    _c("last_purchase", np.int16, "Period of the last purchase (negative: before the run; NEVER: none)."),
    _c("frequency", F32, "Purchases per period as the CRM smooths them."),
    _c("monetary", F32, "Spend per purchase as the CRM smooths it."),
    _c("purchases_total", np.int32, "Purchases so far."),
    _c("revenue_total", F32, "Revenue so far."),
    _c("survey_nps", np.int8, "Last likelihood-to-recommend answer, 0–10.", shown="answer"),
    _c("survey_csat", np.int8, "Last satisfaction answer, 1–5.", shown="answer"),
    _c("survey_at", np.int16, "Period of the last answer (negative: before period 0; NEVER: never)."),
    _c("needs_signal", F32, "Needs as revealed by the last purchases."),
    _c("service_total", F32, "Service money received so far."),
    _c("consent_draw", F32, "Uniform draw deciding consent under a regulation.", public=False,
       kernel=False),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
#: Columns shown by `Customer` views and `to_frame`.
PUBLIC_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.public)
#: Traits set per segment, stored per segment (`CustomerPopulation.trait`).
SEGMENT_TRAITS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.shown == "trait")
#: Survey answers, shown as floats with NaN for none.
SURVEY_ANSWERS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.shown == "answer")
#: Columns held per customer (the traits are not, until made columns).
STORED: tuple[Column, ...] = tuple(c for c in COLUMNS if c.shown != "trait")

#: What the kernels receive: every stored column by name.
State = namedtuple("State", [c.name for c in STORED if c.kernel])
#: The segment traits as the kernels receive them: each a pair (values, segments) —
#: the per-segment table and the segment of each row, or a per-customer column and None.
Traits = namedtuple("Traits", SEGMENT_TRAITS)

#: Behavioural constants the rules read, as float32 (`population.behaviour` unless noted).
PARAMS_F32 = (
    "service_effect", "fit_weight", "perception_noise", "loss_aversion",
    "expectation_weight", "satisfaction_base", "disconfirmation_weight", "satisfaction_speed",
    "complaint_threshold", "complaint_probability", "expectation_adaptation", "points_lock",
    "growth_speed", "wom_negative", "relationship_weight",
    "lockin_crowding", "loyalty_speed", "reference_satisfaction", "purchase_satisfaction",
    "purchase_delight", "churn_satisfaction", "reference_loyalty", "churn_loyalty", "churn_unresolved",
    "lock_protection",
    "survey_response", "survey_anger_bias", "recommend_shift", "detractor_threshold", "wom_unresolved",
    "complaint_wait_penalty", "switching_base", "service_personalisation", "service_shape",
)
#: Constants the rules read in float64 (the adoption hazard, complaint recovery).
PARAMS_F64 = ("referral_rate", "wom_deterrence", "complaint_recovery", "complaint_recovery_decay")
#: Constants derived from others (computed in float64, then rounded to float32) and the market's.
PARAMS_DERIVED = ("reference_quality", "crm_noise", "keep_lift", "lock_keep", "fit_den", "needs_pull",
                   "service_scale", "points_scale", "weeks", "per_week", "week_share", "relationship_speed",
                   "crm_smoothing")

Params = namedtuple("Params", [*PARAMS_F32, *PARAMS_F64, *PARAMS_DERIVED, "complaint_give_up", "grudge_end"])


def needs_keep(halflife: float | None) -> float:
    """Share of a customer's departure from the segment's needs kept from one period to the next [N1]."""
    return 1.0 if halflife is None else 2.0 ** (-1.0 / halflife)


def _per_period_share(weekly: float, weeks: float) -> float:
    """A share closed per week, per period of `weeks` weeks (exactly `weekly` for a week)."""
    return weekly if weeks == 1.0 else 1.0 - (1.0 - weekly) ** weeks


def make_params(behaviour: object, reference_quality: float, crm_noise: float, money: float = 1.0,
                weeks: float = 1.0) -> Params:
    """The constants of the customer rules, by name.

    Args:
        behaviour: The scenario's `population.behaviour`.
        reference_quality: The competitors' quality customers compare with (`market.reference_quality`).
        crm_noise: Noise of the needs the CRM records (`market.crm_noise`).
        money: The unit the money constants (`service_scale`, `points_scale`) are shares of: the
            customers' mean revenue per period (`mean_revenue`).
        weeks: Weeks per period (`Scenario.per_period`): the churn hazard compounds its weekly
            chance over them [H1].
    """
    b = behaviour
    values = {name: F32(getattr(b, name)) for name in PARAMS_F32}
    values.update({name: np.float64(getattr(b, name)) for name in PARAMS_F64})
    values.update(
        reference_quality=F32(reference_quality), crm_noise=F32(crm_noise),
        keep_lift=F32(1.0 - b.service_adaptation), lock_keep=F32(1.0 - b.lock_decay),
        fit_den=F32(2.0 * float(b.fit_width) ** 2), needs_pull=F32(1.0 - needs_keep(b.needs_halflife)),
        service_scale=F32(b.service_scale * money), points_scale=F32(b.points_scale * money),
        # A weekly model has no weeks to compound: None, so its kernels are compiled without [H1].
        weeks=None if weeks == 1.0 else F32(weeks), per_week=None if weeks == 1.0 else F32(1.0 / weeks),
        week_share=F32(1.0 / weeks),  # a week's share of the period (1 by weeks)
        # Shares closed per period of the rules' own constants, 0.1 a week [R1, D1], compounded.
        relationship_speed=F32(_per_period_share(0.1, weeks)),
        crm_smoothing=np.float64(_per_period_share(0.1, weeks)),
        complaint_give_up=np.int16(b.complaint_give_up),
        grudge_end=np.int16(min(b.complaint_give_up + b.grudge_memory, np.iinfo(np.int16).max)))
    return Params(**values)
