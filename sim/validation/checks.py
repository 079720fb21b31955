"""Every validation's figures with their tolerances, and the table of docs/validation.md."""

from __future__ import annotations

from dataclasses import dataclass

from sim.validation.bass import BassValidation, bass_diffusion
from sim.validation.bgnbd import CDNOW_LOGLIK, CDNOW_PARAMS, BGNBDValidation, bgnbd_cdnow
from sim.validation.negative_wom import NegativeWOMValidation, negative_wom
from sim.validation.sbg import SBG_PUBLISHED, SBGValidation, sbg_retention
from sim.validation.telco import TelcoCalibration, telco_calibration


@dataclass(frozen=True)
class Check:
    """One validation figure and the bound it must meet.

    Attributes:
        validation: Which validation.
        figure: What is measured.
        measured: The measured value.
        bound: The tolerance.
        kind: "max" (measured ≤ bound) or "min" (measured ≥ bound).
        unit: "%" (shown × 100), "pp" (percentage points, shown × 100) or "".
        asserted: False for a figure reported but not held to its bound: one whose bound
            had been set from an artefact of the model and that the literature does not fix
            (docs/validation.md says which and why).
    """

    validation: str
    figure: str
    measured: float
    bound: float
    kind: str = "max"
    unit: str = ""
    asserted: bool = True

    @property
    def ok(self) -> bool:
        """Whether the figure meets its tolerance."""
        if self.kind == "max":
            return bool(self.measured <= self.bound)
        return bool(self.measured >= self.bound)


#: Tolerances of every validation (relative errors unless named otherwise).
TOLERANCES: dict[str, float] = {
    "bgnbd_r": 0.05, "bgnbd_alpha": 0.08, "bgnbd_a": 0.20, "bgnbd_b": 0.25,
    "bgnbd_real_fit": 0.005, "bgnbd_real_loglik": 0.5,
    "bgnbd_histogram": 0.02, "bgnbd_cumulative_model": 0.03,
    "bgnbd_calibration": 0.05, "bgnbd_total": 0.05, "bgnbd_holdout": 0.15,
    "sbg_regular_published": 0.010, "sbg_high_end_published": 0.025, "sbg_closed_form": 0.010,
    "bass_recursion": 0.015, "bass_closed_form": 0.03, "bass_q": 0.05, "bass_p": 0.25,
    "bass_rmse": 0.005, "bass_small_world_slowdown": 1.0,
    "nwom_multiplier": 1.5,
    "telco_rmse": 0.025, "telco_max_5y": 0.05, "telco_max": 0.07, "telco_closed_form": 0.01,
}


def checks(bgnbd: BGNBDValidation, sbg: dict[str, SBGValidation], bass: BassValidation,
           nwom: NegativeWOMValidation, telco: TelcoCalibration) -> list[Check]:
    """Every validation figure with its tolerance (what the tests assert).

    Args:
        bgnbd: Result of `bgnbd_cdnow()`.
        sbg: Results of `sbg_retention(kind)` by kind ("regular", "high_end").
        bass: Result of `bass_diffusion()`.
        nwom: Result of `negative_wom()`.
        telco: Result of `telco_calibration()`.

    Returns:
        The checks, in the order of docs/validation.md.
    """
    return [*_bgnbd_checks(bgnbd), *_sbg_checks(sbg), *_bass_checks(bass),
            *_negative_wom_checks(nwom), *_telco_checks(telco)]


def _bgnbd_checks(bgnbd: BGNBDValidation) -> list[Check]:
    """The BG/NBD figures: parameter recovery, the real fit, histogram and cumulative purchases."""
    tol = TOLERANCES
    out = [Check("BG/NBD", f"recovered {k} (mean of {bgnbd.cohorts} cohorts: "
                           f"{bgnbd.recovered[k]:.3f} vs {v})",
                 bgnbd.relative_error[k], tol[f"bgnbd_{k}"], unit="%")
           for k, v in CDNOW_PARAMS.items()]
    out += [
        Check("BG/NBD", "lifetimes' fit of the real CDNOW summary vs published (worst parameter)",
              max(abs(bgnbd.real_fit[k] - v) / v for k, v in CDNOW_PARAMS.items()),
              tol["bgnbd_real_fit"], unit="%"),
        Check("BG/NBD", "log-likelihood of the published fit on the real data vs −9582.4",
              abs(bgnbd.real_fit["loglik"] - CDNOW_LOGLIK), tol["bgnbd_real_loglik"]),
        Check("BG/NBD", "repeat-purchase histogram 0..7+: largest |simulated − real| share",
              bgnbd.histogram_max_error, tol["bgnbd_histogram"], unit="pp"),
        Check("BG/NBD", "cumulative repeat purchases vs BG/NBD expectation, weeks 13–78 (largest)",
              bgnbd.cumulative_model_error, tol["bgnbd_cumulative_model"], unit="%"),
        Check("BG/NBD", "cumulative repeat purchases vs real, end of calibration (week 39)",
              bgnbd.calibration_error, tol["bgnbd_calibration"], unit="%"),
        Check("BG/NBD", "cumulative repeat purchases vs real, week 78",
              bgnbd.total_error, tol["bgnbd_total"], unit="%"),
        Check("BG/NBD", "hold-out repeat purchases (weeks 40–78) vs real "
                        f"(BG/NBD's own error: {bgnbd.holdout_model_error:.1%})",
              bgnbd.holdout_error, tol["bgnbd_holdout"], unit="%"),
    ]
    return out


def _sbg_checks(sbg: dict[str, SBGValidation]) -> list[Check]:
    """The sBG figures of each cohort kind: survival against published and closed form, rising retention."""
    tol = TOLERANCES
    out: list[Check] = []
    for kind, res in sbg.items():
        out += [
            Check("sBG", f"{kind}: survival years 1–7, largest |simulated − published|",
                  res.max_error_published / 100, tol[f"sbg_{kind}_published"], unit="pp"),
            Check("sBG", f"{kind}: survival years 1–7, largest |simulated − sBG closed form|",
                  res.max_error_sbg / 100, tol["sbg_closed_form"], unit="pp"),
            Check("sBG", f"{kind}: retention rate rises every year (1 = yes)",
                  float(res.retention_rising), 1.0, kind="min"),
        ]
    return out


def _bass_checks(bass: BassValidation) -> list[Check]:
    """The Bass figures: mean field, closed form, fitted p and q, and the small world's slowdown."""
    tol = TOLERANCES
    sw = bass.half_time["small_world"] / bass.half_time["complete"]
    return [
        Check("Bass", "complete network vs the model's mean-field recursion (largest gap)",
              bass.max_error_recursion, tol["bass_recursion"], unit="pp"),
        Check("Bass", "complete network vs Bass closed form with the model's p, q (largest gap)",
              bass.max_error_bass, tol["bass_closed_form"], unit="pp"),
        Check("Bass", f"fitted q = {bass.fitted_q:.4f} vs q = {bass.q}",
              abs(bass.fitted_q - bass.q) / bass.q, tol["bass_q"], unit="%"),
        Check("Bass", f"fitted p = {bass.fitted_p:.5f} vs the mean field's {bass.mean_field_p:.5f}",
              abs(bass.fitted_p - bass.mean_field_p) / bass.mean_field_p, tol["bass_p"], unit="%"),
        Check("Bass", "RMSE of the fitted Bass curve", bass.fit_rmse, tol["bass_rmse"],
              unit="pp"),
        Check("Bass", "small world: time to 50 % adoption ÷ complete network's",
              sw, tol["bass_small_world_slowdown"], kind="min"),
    ]


def _negative_wom_checks(nwom: NegativeWOMValidation) -> list[Check]:
    """The negative word-of-mouth figures: the cost multiplier per rewiring and the faster spread."""
    tol = TOLERANCES
    out: list[Check] = []
    for rw, row in nwom.runs.iterrows():
        out.append(Check("Negative WOM", f"rewire {rw:g}: revenue lost ÷ the dissatisfied's own "
                                          f"revenue share ({row['loss_share']:.1%} vs "
                                          f"{row['own_share']:.1%})",
                         float(row["multiplier"]), tol["nwom_multiplier"], kind="min"))
        out.append(Check("Negative WOM", f"rewire {rw:g}: others' revenue lost ÷ the "
                                          "dissatisfied's own share",
                         float(row["others_loss_share"] / row["own_share"]), 1.0, kind="min", asserted=False))
    out.append(Check("Negative WOM", "other customers lost by week "
                                     f"{nwom.early_period} rise with rewiring "
                                     f"({', '.join(f'{x:.1%}' for x in nwom.runs['early_spread'])};"
                                     " 1 = yes)",
                     float(nwom.faster_with_rewiring), 1.0, kind="min", asserted=False))
    return out


def _telco_checks(telco: TelcoCalibration) -> list[Check]:
    """The telco figures: the calibrated survival against Kaplan–Meier and the sBG closed form."""
    tol = TOLERANCES
    return [
        Check("Telco", f"calibrated sBG α = {telco.alpha:.3f}, β = {telco.beta:.2f}: RMSE of "
                       "survival, months 0–72", telco.rmse, tol["telco_rmse"], unit="pp"),
        Check("Telco", "largest |simulated − Kaplan–Meier|, months 0–60", telco.max_error_5y,
              tol["telco_max_5y"], unit="pp"),
        Check("Telco", "largest |simulated − Kaplan–Meier|, months 0–72", telco.max_error,
              tol["telco_max"], unit="pp"),
        Check("Telco", "largest |simulated − sBG closed form|",
              float((telco.survival["simulated"] - telco.survival["sbg"]).abs().max()),
              tol["telco_closed_form"], unit="pp"),
    ]


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1%}"
    if unit == "pp":
        return f"{value * 100:.2f} pp"
    return f"{value:.3g}"


def _verdict(c: Check) -> str:
    """Yes / NO, or what a reported figure does against the bound it once had."""
    if c.asserted:
        return "yes" if c.ok else "NO"
    return f"reported ({'meets' if c.ok else 'below'} the former bound)"


def checks_table(items: list[Check]) -> str:
    """The checks as a Markdown table (the one in docs/validation.md)."""
    lines = ["| validation | figure | measured | tolerance | ok |", "|---|---|---|---|---|"]
    for c in items:
        sign = "≤" if c.kind == "max" else "≥"
        figure = c.figure.replace("|", "\\|")
        lines.append(f"| {c.validation} | {figure} | {_fmt(c.measured, c.unit)} | "
                     f"{sign} {_fmt(c.bound, c.unit)} | {_verdict(c)} |")
    return "\n".join(lines) + "\n"


def run_all() -> tuple[BGNBDValidation, dict[str, SBGValidation], BassValidation,
                       NegativeWOMValidation, TelcoCalibration]:
    """Every validation with its default settings (the ones docs/validation.md reports)."""
    return (bgnbd_cdnow(), {k: sbg_retention(k) for k in SBG_PUBLISHED}, bass_diffusion(),
            negative_wom(), telco_calibration())
