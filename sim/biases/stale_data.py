"""`stale_data`: steering by an old snapshot of the data (seed 000, case 1)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from sim.biases.base import Bias
from sim.biases.evidence import NEEDS_MOVED, Detection, Rounds, clip, pct
from sim.crm import CRMView
from sim.i18n import N_, msg, nmsg
from sim.registry import BIASES
from sim.scenario import BiasParams, weekly

F32 = np.float32


@BIASES.register
class StaleData(Bias):
    """Keeps steering by an old snapshot of the CRM (taken at `snapshot_at`)."""

    kind: ClassVar[str] = "stale_data"
    label: ClassVar[str] = N_("Stale data")
    advice: ClassVar[str] = N_("When the purchase mix moves, retune the range to what customers buy now; "
                                "steer by this quarter's figures, not last year's star segment.")
    remedies: ClassVar[tuple[str, ...]] = ("data_refresh", "training")

    class Params(BiasParams):
        """Keeps steering by an old snapshot of the data."""

        snapshot_at: int = Field(0, ge=0, description="Period the snapshot is taken.",
            json_schema_extra=weekly("periods"))

    def __init__(self, strength: float, snapshot_at: int = 0, **options: Any) -> None:
        super().__init__(strength, **options)
        self.snapshot_at = snapshot_at
        self.snapshot: dict[str, np.ndarray] | None = None

    def refresh(self, view: CRMView) -> None:
        """Fresh data replaces the snapshot."""
        self.snapshot = {f: getattr(view, f).copy() for f in CRMView.HISTORICAL}

    def see(self, view: CRMView, s: float) -> CRMView:
        """Historical fields blended toward the snapshot where it has data."""
        if self.snapshot is None:
            if view.t < self.snapshot_at:
                return view
            self.refresh(view)
        assert self.snapshot is not None
        changes = {}
        for f, old in self.snapshot.items():
            cur = getattr(view, f)
            if old.size != cur.size:
                continue
            have = np.isfinite(old) & np.isfinite(cur)
            changes[f] = np.where(have, (1 - s) * cur + s * old, cur).astype(F32)
        return view.replace(**changes)

    @classmethod
    def detect(cls, rounds: Rounds) -> Detection:
        """Last year's range kept while the customers' purchases showed their needs had moved."""
        kept, moved = rounds.range_kept(NEEDS_MOVED)
        found = Detection(clip(kept * (1.0 - rounds.labels()["score"])))
        if moved:
            found.evidence.append(nmsg(
                "In {n} round customers' purchases showed their needs had moved away "
                "from last year's range; you kept {kept} of last year's range.",
                "In {n} rounds customers' purchases showed their needs had moved away "
                "from last year's range; you kept {kept} of last year's range.",
                moved, kept=pct(kept)))
        else:
            found.evidence.append(msg("Customers' needs did not move noticeably while you played, so the "
                                      "range decision shows nothing either way."))
        return found
