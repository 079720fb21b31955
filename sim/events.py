"""Market events: what happens to the market, the same for every manager compared.

Each kind is one class, its own parameters (a pydantic model, `sim.scenario.Event`),
registered in one line. `affect` changes the market in each period the event
runs (`sim.market.MarketTerms`); `start` acts once on the customers, at the
start of period `at`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sim.registry import EVENTS
from sim.scenario import Event, weekly


@EVENTS.register
class NeedsShift(Event):
    """Customers' needs move at once; service tuned to old needs loses fit (seeds 001, 003)."""

    kind: Literal["needs_shift"]
    size: float = Field(0.5, description="Shift of needs (in needs units; fit width is 0.5).")
    spread: float = Field(0.1, ge=0, description="Sd of the shift across customers.")
    segments: tuple[str, ...] | None = Field(None, description="Segments affected; null = all.")

    def start(self, model: Any) -> None:
        """Move the needs of the customers of the segments concerned [N1]."""
        model.customers.shift_needs(self, model.streams["init"])


@EVENTS.register
class CompetitorPromotion(Event):
    """A competitor's promotion: pull rises, and it covers customers' switching costs (seed 003)."""

    kind: Literal["competitor_promotion"]
    duration: int = Field(8, ge=1, description="Periods it lasts.", json_schema_extra=weekly("periods"))
    size: float = Field(0.3, ge=0, description="Added competitor pull.")
    switching_cost_cover: float = Field(
        1.0, ge=0, le=1, description="Share of lock-in (points, contracts) the offer buys out."
    )

    def affect(self, market: Any, t: int) -> None:
        """Pull rises by `size`; lock-in is bought out up to `switching_cost_cover`."""
        market.pull += self.size
        market.switching_cover = max(market.switching_cover, self.switching_cost_cover)
        market.promotion = True


@EVENTS.register
class QualityChange(Event):
    """The product's quality changes: a supplier problem, a recall, a better version (seed 003)."""

    kind: Literal["quality_change"]
    size: float = Field(-0.2, description="Change of quality (the product's quality is `market.quality`).")
    duration: int | None = Field(None, ge=1, description="Periods it lasts; null = to the end.",
        json_schema_extra=weekly("periods"))

    def affect(self, market: Any, t: int) -> None:
        """Customers perceive the changed quality; expectations follow it only as they adapt."""
        market.quality_shift += self.size


@EVENTS.register
class Recession(Event):
    """Customers spend less and the firm's budget is cut (seed 003)."""

    kind: Literal["recession"]
    duration: int | None = Field(None, ge=1, description="Periods it lasts; null = to the end.",
        json_schema_extra=weekly("periods"))
    spend_drop: float = Field(0.2, ge=0, le=1, description="Share of spend lost.")
    budget_cut: float = Field(0.3, ge=0, le=1, description="Share of the manager's budget cut.")

    def affect(self, market: Any, t: int) -> None:
        """Spend drops (recessions compound) and the budget is cut."""
        market.spend_drop = 1 - (1 - market.spend_drop) * (1 - self.spend_drop)
        market.budget_factor *= 1 - self.budget_cut
        market.recession = True


@EVENTS.register
class Regulation(Event):
    """Data protection: only consenting customers' data may be used (seed 003, GDPR)."""

    kind: Literal["regulation"]
    consent_share: float = Field(0.6, ge=0, le=1, description="Share of customers who consent.")

    def affect(self, market: Any, t: int) -> None:
        """The share of customers whose data may be used."""
        market.consent_share = self.consent_share

    def start(self, model: Any) -> None:
        """Customers are asked for consent; the CRM shows the others' data no more."""
        model.customers.apply_consent(self.consent_share)
