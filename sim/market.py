"""The market: competitors' pull, promotions, recessions, needs shifts and regulation.

The market is fixed by the scenario and does not react to the manager, so every
policy compared in a replication meets exactly the same market.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import CompetitorPromotion, NeedsShift, Recession, Regulation, Scenario


@dataclass(frozen=True)
class MarketState:
    """What the market is like in one period.

    Attributes:
        pull: Competitor pull (baseline plus running promotions).
        switching_cover: Share of lock-in bought out by competitors' promotions.
        spend_drop: Share of customers' spend lost to a recession.
        budget_factor: Multiplier of the manager's budget (recession cuts).
        consent_share: Share of customers whose data may be used (1 before regulation).
        promotion: Whether a competitor promotion is running.
        recession: Whether a recession is running.
    """

    pull: float
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
        """The market in period `t` (0-based)."""
        pull, cover, drop, budget, consent = self.base_pull, 0.0, 0.0, 1.0, 1.0
        promo = rec = False
        for ev in self.events:
            if ev.at > t:
                break
            if isinstance(ev, CompetitorPromotion) and t < ev.at + ev.duration:
                pull += ev.size
                cover = max(cover, ev.switching_cost_cover)
                promo = True
            elif isinstance(ev, Recession) and (ev.duration is None or t < ev.at + ev.duration):
                drop = 1 - (1 - drop) * (1 - ev.spend_drop)
                budget *= 1 - ev.budget_cut
                rec = True
            elif isinstance(ev, Regulation):
                consent = ev.consent_share
        return MarketState(pull, cover, drop, budget, consent, promo, rec)

    def needs_shifts(self, t: int) -> list[NeedsShift]:
        """The needs shifts that happen at the start of period `t`."""
        return [e for e in self.events if isinstance(e, NeedsShift) and e.at == t]

    def regulation_starts(self, t: int) -> Regulation | None:
        """The regulation that comes into force at period `t`, if any."""
        for e in self.events:
            if isinstance(e, Regulation) and e.at == t:
                return e
        return None
