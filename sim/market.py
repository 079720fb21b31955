"""The market: competitors' pull, promotions, recessions, needs shifts and regulation.

The market is fixed by the scenario and does not react to the manager, so every
policy compared in a replication meets exactly the same market. What each
event does is its own (`sim.events`); this module adds them up per period.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sim.scenario import Scenario


@dataclass
class MarketTerms:
    """The market of one period, while the running events change it (`Event.affect`)."""

    pull: float
    quality_shift: float = 0.0
    switching_cover: float = 0.0
    spend_drop: float = 0.0
    budget_factor: float = 1.0
    consent_share: float = 1.0
    promotion: bool = False
    recession: bool = False


@dataclass(frozen=True)
class MarketState:
    """What the market is like in one period.

    Attributes:
        pull: Competitor pull (baseline plus running promotions).
        quality_shift: Change of the product's quality (quality events).
        switching_cover: Share of lock-in bought out by competitors' promotions.
        spend_drop: Share of customers' spend lost to a recession.
        budget_factor: Multiplier of the manager's budget (recession cuts).
        consent_share: Share of customers whose data may be used (1 before regulation).
        promotion: Whether a competitor promotion is running.
        recession: Whether a recession is running.
    """

    pull: float
    quality_shift: float
    switching_cover: float
    spend_drop: float
    budget_factor: float
    consent_share: float
    promotion: bool
    recession: bool


class MarketModel:
    """Turns the scenario's events into a per-period `MarketState`.

    Args:
        scenario: The scenario.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.base_pull = scenario.market.competitor_pull
        self.events = tuple(sorted(scenario.market.events, key=lambda e: e.at))
        self.horizon = scenario.horizon

    def state(self, t: int) -> MarketState:
        """The market in period `t` (0-based): every running event applied, in order of start."""
        terms = MarketTerms(pull=self.base_pull)
        for ev in self.events:
            if ev.running(t):
                ev.affect(terms, t)
        return MarketState(**asdict(terms))

    def starting(self, t: int) -> list[Any]:
        """The events that start at period `t`, in scenario order."""
        return [e for e in self.events if e.at == t]
