"""Regenerate the generated parts of docs/validation.md from `sim.validation` and `sim.calibrate`.

    .venv/bin/python docs/make_validation.py               # every section
    .venv/bin/python docs/make_validation.py calibration   # one section: figures or calibration

`figures` runs every validation with its default settings (about half a
minute), writes the table between the `<!-- figures -->` markers of
docs/validation.md, the plots to docs/img/ and docs/validation_details.md.
tests/test_validation.py checks the table is in sync. `calibration`
calibrates CDNOW's order log with `sim.calibrate` (10–30 seconds) and
writes its hold-out check between the `<!-- calibration -->` markers (the
first time, as a subsection before "What moved ...").
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from sim import validation as v

DOCS = Path(__file__).resolve().parent
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
CAL_START, CAL_END = "<!-- calibration:start -->", "<!-- calibration:end -->"
#: The calibration's subsection, put before this heading the first time it is generated.
CAL_HEADING = "### Calibrating CDNOW from its order log (`retention-lab calibrate`)"
CAL_BEFORE = "## What moved when the economics were redesigned"
#: CDNOW's calibration period and hold-out, in weeks (as tests/test_calibrate.py).
CAL_WEEKS, HOLDOUT_WEEKS = 39, 39
SECTIONS = ("figures", "calibration")


def _between(text: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{body}{end}", text)


def replace_table(text: str, table: str) -> str:
    """Put `table` between the markers of `text`."""
    return _between(text, START, END, table)


def replace_calibration(text: str, section: str) -> str:
    """Put `section` between the calibration markers of `text`; add the subsection if it has none."""
    if CAL_START in text:
        return _between(text, CAL_START, CAL_END, section)
    if CAL_BEFORE not in text:
        raise ValueError(f"docs/validation.md has neither {CAL_START} nor {CAL_BEFORE!r}")
    return text.replace(CAL_BEFORE, f"{CAL_HEADING}\n\n{CAL_START}\n{section}{CAL_END}\n\n{CAL_BEFORE}", 1)


def cdnow_orders() -> pd.DataFrame:
    """CDNOW's order log as lifetimes ships it (`CDNOW_sample.txt`): `customer_id`, `date`, `amount`."""
    with (resources.files("lifetimes") / "datasets" / "CDNOW_sample.txt").open() as f:
        raw = pd.read_csv(f, sep=r"\s+", header=None, names=["master", "customer", "date", "cds", "dollars"],
                          dtype={"date": str})
    return pd.DataFrame({"customer_id": raw["customer"],
                         "date": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
                         "amount": raw["dollars"]})


def _signed(x: float, unit: str) -> str:
    return f"{x:+.1f} {unit}".replace("-", "−")


def _wrap(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=80, break_long_words=False, break_on_hyphens=False)


def calibration_section() -> str:
    """Calibrate CDNOW (39 weeks) with `sim.calibrate` and report its 39-week hold-out, as Markdown.

    The hold-out transactions of the calibration cohort: simulated by the
    calibrated scenario's baseline arm with the full model, BG/NBD's
    conditional expectation and the actual count, each error against the
    actual count in %.
    """
    from sim.calibrate import calibrate

    cal = calibrate(cdnow_orders(), holdout_weeks=HOLDOUT_WEEKS)
    src, h = cal.source, cal.holdout
    cal_weeks = (h.start - pd.Timestamp(src["first_date"])).days / 7
    assert round(cal_weeks, 6) == CAL_WEEKS, cal_weeks
    err_sim, err_bg = 100 * (h.simulated / h.actual - 1), 100 * (h.bgnbd / h.actual - 1)
    n = len(h.replications)
    intro = _wrap(f"""
        `sim.calibrate` (what `retention-lab calibrate cdnow.csv --holdout-weeks {HOLDOUT_WEEKS}` runs;
        docs/calibrate.md) on CDNOW's order log as lifetimes ships it (`CDNOW_sample.txt`: {src['orders']:,}
        orders of {src['customers']:,} customers, {src['first_date']} to {src['last_date']}). The calibration
        period is the first {cal_weeks:.0f} weeks, to {(h.start - pd.Timedelta(days=1)).date()}; the hold-out
        is the last {h.weeks:.0f} weeks, from {h.start.date()}. Segments: {cal.segmentation}. BG/NBD and
        gamma-gamma are fitted per segment on the calibration period, the model's own exits are compensated,
        and the calibrated scenario's baseline arm (`{cal.scenario.baseline_policy}`) runs through the
        hold-out with the full model, each customer starting from their own history ({n} replications,
        seed {cal.seed}). Transactions of the {src['calibration_customers']:,} customers in the hold-out:""")
    table = "\n".join([
        "| hold-out transactions | count | error vs actual |",
        "|---|---|---|",
        f"| simulated (full model, mean of {n} replications) | {h.simulated:,.1f} | {_signed(err_sim, '%')} |",
        f"| BG/NBD (expectation given each customer's history) | {h.bgnbd:,.1f} | {_signed(err_bg, '%')} |",
        f"| actual | {h.actual:,} | |",
    ])
    meaning = _wrap(f"""
        The simulation lands {abs(100 * (h.simulated / h.bgnbd - 1)):.1f} %
        {"below" if h.simulated < h.bgnbd else "above"} BG/NBD's own forecast: calibrated on BG/NBD, the
        full model (manager, network, word of mouth, complaints, switching) reproduces BG/NBD's forecast; it
        does not improve on it. BG/NBD itself {"under" if h.bgnbd < h.actual else "over"}-forecasts CDNOW's
        second year ({_signed(err_bg, "%")} here; the published fit does the same in the BG/NBD validation
        above), and a scenario calibrated on it inherits that misfit: of the simulation's
        {_signed(err_sim, "%")}, {_signed(err_bg, "points")} are BG/NBD's and
        {_signed(err_sim - err_bg, "points")} the simulation's departure from BG/NBD.
        `tests/test_calibrate.py` runs the same calibration through the command and bounds that departure.""")
    return f"{intro}\n\n{table}\n\n{meaning}\n"


def figures() -> None:
    """Run the validations, write the table, the plots and validation_details.md."""
    bgnbd, sbg, bass, nwom, telco = v.run_all()
    page = DOCS / "validation.md"
    table = v.checks_table(v.checks(bgnbd, sbg, bass, nwom, telco))
    page.write_text(replace_table(page.read_text(), table))
    img = DOCS / "img"
    img.mkdir(exist_ok=True)
    for name, fig in (("validation_bgnbd", v.plot_bgnbd(bgnbd)),
                      ("validation_sbg", v.plot_sbg(sbg)),
                      ("validation_bass", v.plot_bass(bass)),
                      ("validation_negative_wom", v.plot_negative_wom(nwom)),
                      ("validation_telco", v.plot_telco(telco))):
        fig.savefig(img / f"{name}.png", dpi=110)
    # Detail tables quoted in the page, for the reader.
    details = {
        "bgnbd_estimates": bgnbd.estimates.describe().loc[["mean", "std", "min", "max"]].round(3),
        "bgnbd_histogram": bgnbd.histogram.round(4),
        "bgnbd_cumulative": bgnbd.cumulative.loc[[13, 26, 39, 52, 65, 78]].round(0),
        "sbg_regular": sbg["regular"].survival.round(1),
        "sbg_high_end": sbg["high_end"].survival.round(1),
        "nwom_runs": nwom.runs.round(4),
        "telco_survival": telco.survival.loc[[1, 3, 6, 12, 24, 36, 48, 60, 72]].round(3),
    }
    with open(DOCS / "validation_details.md", "w") as f:
        f.write("# Validation details (generated by docs/make_validation.py)\n\n")
        for k, df in details.items():
            f.write(f"### {k}\n\n```\n{df.to_string()}\n```\n\n")


def calibration() -> None:
    """Calibrate CDNOW and write its section of the page."""
    page = DOCS / "validation.md"
    section = calibration_section()
    page.write_text(replace_calibration(page.read_text(), section))


def main(sections: Sequence[str] = SECTIONS) -> None:
    """Regenerate `sections` of docs/validation.md (default: all)."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; expected some of {', '.join(SECTIONS)}")
    for s in SECTIONS:
        if s in sections:
            {"figures": figures, "calibration": calibration}[s]()


if __name__ == "__main__":
    main(sys.argv[1:] or SECTIONS)
