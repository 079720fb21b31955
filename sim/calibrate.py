"""Calibrating a scenario from a firm's own order log (`retention-lab calibrate`, docs/calibrate.md).

An order log (one row per purchase: customer, date, amount, optionally a
segment) goes in; a scenario of that customer base comes out, checked on a
hold-out period:

1. The log is read (CSV or Parquet) and checked; every problem is reported as
   ``file:line: column: what was expected, what was found`` (`CalibrationError`).
2. Orders on the same day by the same customer are one transaction (as in
   lifetimes). The log is split at the hold-out start into a calibration
   period and a hold-out; the calibration cohort is the customers whose first
   order falls before the hold-out.
3. Per segment (the log's own, or a split at the median first-order amount
   kept only if it improves AIC), BG/NBD (lifetimes' `BetaGeoFitter`) and
   gamma-gamma (`GammaGammaFitter`) are fitted on the calibration period, in
   weeks.
4. The model adds its own exits (switching to competitors) and its own
   purchase response to satisfaction on top of BG/NBD. Both are measured by
   running the model (baseline arm, drop-out off) on the firm's customers
   (`measure_exits`); the purchase rate is raised by the response, and the
   drop-out's beta (mean and concentration) is solved so that the model's
   expected transactions equal BG/NBD's, both for the firm's customers over
   the hold-out and for a newly won customer (`compensated_dropout`).
5. The scenario (every mechanism on, `current_practice` = `uniform` as the
   baseline arm, `data_driven` = `clv` beside it) is run under its baseline
   arm over the hold-out, starting from each customer's own state as far as
   the model holds it, and its transactions are compared with BG/NBD's
   forecast and the actual count.

`calibrate(...)` returns a `Calibration`; `Calibration.write(out)` writes
`scenario.yaml`, `calibration.json` and `calibration.html`, all three or none.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.loader import Problem, parse_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sim.model import RetentionModel
    from sim.scenario import Scenario

__all__ = ["Calibration", "CalibrationError", "Dropout", "Holdout", "SegmentFit", "calibrate"]

#: Column names guessed for each role, in order of preference (compared without case, spaces or dashes).
GUESSES: dict[str, tuple[str, ...]] = {
    "id": ("customer_id", "customerid", "customer", "client_id", "client", "user_id", "user", "cust_id",
           "cust", "id"),
    "date": ("date", "order_date", "orderdate", "purchase_date", "transaction_date", "invoice_date",
             "invoicedate", "timestamp", "datetime", "time", "created_at"),
    "amount": ("amount", "value", "revenue", "sales", "total", "order_value", "spend", "price", "dollars",
               "monetary"),
    "segment": ("segment",),
}
ROLE_WORDS = {"id": "customer ids", "date": "order dates", "amount": "order amounts", "segment": "segments"}
#: Date formats tried in turn; the first that reads every date is used.
DATE_FORMATS = ("ISO8601", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y")
#: Fewest customers a segment (and the log) must have: BG/NBD is fitted across customers.
MIN_CUSTOMERS = 10
#: Fewest customers in each half of the automatic split.
SPLIT_MIN = 200
#: Problems listed per column before the rest are counted.
MAX_PROBLEMS = 10
#: Customers the runs that measure the model's own exits simulate at least (over replications).
PROBE_CUSTOMERS = 20_000
HOLDOUT_REPLICATIONS = 3
MAX_REPLICATIONS = 8
#: Quantile nodes of the hold-out expectations (purchase rate, drop-out).
NODES = (48, 24)
#: What a customer-week of the built-in default market brings in is the unit of money of its
#: defaults; a calibrated scenario scales every money default by its own revenue per customer-week.
MONEY_PER_PERIOD = {"market": ("budget",)}
MONEY_STOCKS = {"market": ("acquisition_cost", "complaint_cost")}
FILES = ("scenario.yaml", "calibration.json", "calibration.html")


class CalibrationError(Exception):
    """An order log could not be used; `problems` lists every reason (as `sim.loader.ScenarioError`)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SegmentFit:
    """One segment's fit and what the scenario makes of it.

    Attributes:
        name: Segment name.
        customers: Customers of the calibration cohort in it.
        repeat_customers: Those with a repeat transaction in the calibration period.
        tenure_weeks: Mean weeks from a customer's first order to the end of the calibration period.
        bgnbd: BG/NBD `r`, `alpha` (weeks), `a`, `b` and the log-likelihood.
        spend: Gamma-gamma `p`, `q`, `v` and the log-likelihood (None if it could not be fitted).
        model: The scenario's segment parameters (per period).
        exits: The model's own purchase multiplier and switching hazard (per week) measured
            with drop-out off; BG/NBD's drop-out beta and the compensated one (mean,
            concentration); the ratios, model ÷ BG/NBD, of the two forecasts the
            compensation matches; the segment's share.
    """

    name: str
    customers: int
    repeat_customers: int
    tenure_weeks: float
    bgnbd: dict[str, float]
    spend: dict[str, float] | None
    model: dict[str, float] = field(default_factory=dict)
    exits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Holdout:
    """The hold-out check.

    Attributes:
        start: First day of the hold-out.
        end: Day after the last day of the data.
        weeks: Length of the hold-out in weeks.
        actual: Transactions of the calibration cohort in the hold-out.
        bgnbd: BG/NBD's expected transactions, conditional on each customer's history.
        simulated: The model's mean over replications (baseline arm, full model).
        replications: Each replication's count.
        seeds: The replications' model seeds.
        curve: Cumulative transactions per hold-out week: `week`, `actual`, `bgnbd`, `simulated`.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    weeks: float
    actual: int
    bgnbd: float
    simulated: float
    replications: list[float]
    seeds: list[int]
    curve: pd.DataFrame


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` found: the columns, the segments' fits, the scenario and the hold-out check.

    Attributes:
        source: The order log's name, size and dates.
        columns: Role (`id`, `date`, `amount`, `segment`) → column used (None: no segment column).
        guessed: Role → whether the column was guessed from its name.
        segmentation: How the segments were found, in words.
        segments: The fits, by segment name.
        scenario: The calibrated scenario.
        scenario_yaml: Its text, as `scenario.yaml` holds it.
        holdout: The hold-out check.
        period: The scenario's period (`week` or `month`).
        seed: The root seed of the runs.
        summary: The calibration cohort's per-customer summary (for the figures).
        calendar: Repeat transactions per calendar week of the cohort, from the first order.
    """

    source: dict[str, Any]
    columns: dict[str, str | None]
    guessed: dict[str, bool]
    segmentation: str
    segments: dict[str, SegmentFit]
    scenario: Scenario
    scenario_yaml: str
    holdout: Holdout
    period: str
    seed: int
    summary: pd.DataFrame = field(repr=False)
    calendar: pd.DataFrame = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The content of `calibration.json` (rates per week)."""
        h = self.holdout
        return {
            "source": self.source,
            "columns": {k: {"column": v, "guessed": self.guessed.get(k, False)}
                        for k, v in self.columns.items()},
            "segmentation": self.segmentation,
            "period": self.period,
            "seed": self.seed,
            "segments": {name: _segment_json(s) for name, s in self.segments.items()},
            "holdout": {
                "from": h.start.date().isoformat(),
                "to": (h.end - pd.Timedelta(days=1)).date().isoformat(),
                "weeks": round(h.weeks, 4),
                "transactions_actual": h.actual,
                "transactions_bgnbd": round(h.bgnbd, 3),
                "transactions_simulated": round(h.simulated, 3),
                "error_bgnbd": round(_rel(h.bgnbd, h.actual), 5),
                "error_simulated": round(_rel(h.simulated, h.actual), 5),
                "simulated_replications": [round(v, 3) for v in h.replications],
                "seeds": h.seeds,
                "forecast": "BG/NBD: expected transactions conditional on each customer's history "
                            "(lifetimes' conditional_expected_number_of_purchases_up_to_time); simulated: "
                            "the scenario's baseline arm, full model, starting from each customer's state "
                            "drawn from BG/NBD's posterior",
                "counted": "only the calibration cohort's transactions; acquisition stays on, newcomers "
                           "are not counted",
            },
            "scenario": "scenario.yaml",
        }

    def text(self) -> str:
        """What the command prints: the columns used, the segments, the fits and the hold-out line."""
        src, h = self.source, self.holdout
        roles = {"id": "customer id", "date": "date", "amount": "amount", "segment": "segment"}
        cols = ", ".join(f"{roles[k]} = {v if v is not None else '(none)'}"
                         + (" (guessed)" if self.guessed.get(k) else "") for k, v in self.columns.items())
        rows = [["segment", "customers", "r", "alpha", "a", "b", "p", "q", "v", "buying ×", "switching/week",
                 "drop-out (mean, a+b): BG/NBD → model"]]
        for name, s in self.segments.items():
            spend = [f"{s.spend[k]:.4g}" for k in ("p", "q", "v")] if s.spend else ["–"] * 3
            rows.append([name, str(s.customers), *(f"{s.bgnbd[k]:.4g}" for k in ("r", "alpha", "a", "b")),
                         *spend, f"{s.exits['purchase_multiplier']:.3f}",
                         f"{s.exits['switching_hazard_per_week']:.4f}",
                         _dropout_change(s.exits)])
        return "\n".join([
            f"{src['file']}: {src['orders']} orders, {src['customers']} customers, "
            f"{src['first_date']} to {src['last_date']}",
            f"columns: {cols}",
            f"segments: {self.segmentation}",
            f"hold-out: from {h.start.date()}, {h.weeks:.1f} weeks; calibration cohort: "
            f"{src['calibration_customers']} customers",
            "",
            "BG/NBD (weeks) and gamma-gamma per segment; the model's own purchase response (buying ×)",
            "and switching at rest, measured on these customers; the drop-out per purchase that makes room",
            "for them:",
            _table(rows),
            "",
            "hold-out transactions, simulated / BG/NBD / actual: "
            f"{h.simulated:.1f} / {h.bgnbd:.1f} / {h.actual}  "
            f"(errors {100 * _rel(h.simulated, h.actual):+.1f} % / "
            f"{100 * _rel(h.bgnbd, h.actual):+.1f} %; "
            f"{len(h.replications)} replications of {self.scenario.baseline_policy}, full model)",
        ])

    def write(self, out: Path | str) -> dict[str, Path]:
        """Write `scenario.yaml`, `calibration.json` and `calibration.html` to `out`: all three or none.

        Every file is rendered first; then, for a new folder, the three are written
        to a temporary folder beside it that is renamed to `out`; for an existing
        folder, each is written to a temporary file and the three are renamed
        over their names at the end.

        Returns:
            File name → path written.
        """
        texts = {"scenario.yaml": self.scenario_yaml,
                 "calibration.json": json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                 "calibration.html": render_html(self)}
        return _write_all(Path(out), texts)


def _segment_json(s: SegmentFit) -> dict[str, Any]:
    return {"customers": s.customers, "repeat_customers": s.repeat_customers,
            "tenure_weeks": round(s.tenure_weeks, 3),
            "bgnbd": {k: _num(v) for k, v in s.bgnbd.items()},
            "spend": None if s.spend is None else {k: _num(v) for k, v in s.spend.items()},
            "model": {k: _num(v) for k, v in s.model.items()},
            "exits": {k: _num(v) if isinstance(v, float) else v for k, v in s.exits.items()}}


def _dropout_change(exits: dict[str, Any]) -> str:
    return (f"{exits['dropout_bgnbd']:.3f}, {exits['dropout_concentration_bgnbd']:.3g} → "
            f"{exits['dropout_compensated']:.3f}, {exits['dropout_concentration_compensated']:.3g}")


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths, strict=True))).rstrip() for r in rows)


def _num(v: float) -> float:
    return float(f"{v:.6g}")


def _rel(value: float, actual: float) -> float:
    return (value - actual) / actual if actual else math.nan


# --------------------------------------------------------------------------- reading the log


@dataclass(frozen=True)
class _Log:
    """The order log as read: transactions (customer-days) and what was used."""

    file: str
    tx: pd.DataFrame  # customer, date, amount, segment, line
    orders: int
    columns: dict[str, str | None]
    guessed: dict[str, bool]


def _read_table(orders: Path | str | pd.DataFrame, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The raw table and the line (CSV) or row (Parquet, DataFrame) of each row."""
    if isinstance(orders, pd.DataFrame):
        return orders.reset_index(drop=True), np.arange(len(orders)) + 1
    path = Path(orders)
    if not path.is_file():
        raise CalibrationError([Problem(file, None, "", "no such file" if not path.exists() else
                                        "is a folder, expected an order log (CSV or Parquet)")])
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except ImportError as e:
            raise CalibrationError([Problem(file, None, "", f"reading Parquet needs pyarrow ({e})")]) from None
        except (OSError, ValueError) as e:
            raise CalibrationError([Problem(file, None, "", f"not a readable Parquet file: {e}")]) from None
        return df.reset_index(drop=True), np.arange(len(df)) + 1
    return _read_csv(path, file)


def _read_csv(path: Path, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        with path.open(encoding="utf-8-sig") as f:
            head = f.readline()
        sep = max((",", ";", "\t", "|"), key=head.count) if head.strip() else ","
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False,
                         encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), np.zeros(0, dtype=int)
    except pd.errors.ParserError as e:
        line = _line_in(str(e))
        raise CalibrationError([Problem(file, line, "", f"not a valid CSV file: {e}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError([Problem(file, None, "", f"cannot be read: {e}")]) from None
    lines = np.arange(len(df)) + 2
    blank = (df == "").all(axis=1).to_numpy() if len(df.columns) else np.zeros(len(df), bool)
    return df[~blank].reset_index(drop=True), lines[~blank]


def _line_in(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _norm(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _columns(df: pd.DataFrame, given: dict[str, str | None], file: str,
             default_id: str) -> tuple[dict[str, str | None], dict[str, bool]]:
    """The column used for each role: the one given, or the first obvious name."""
    by_norm = {_norm(c): c for c in reversed(list(df.columns))}
    found: dict[str, str | None] = {}
    guessed: dict[str, bool] = {}
    problems = []
    for role, names in GUESSES.items():
        want = given.get(role)
        if want is not None:
            col = want if want in df.columns else by_norm.get(_norm(want))
            guessed[role] = False
        else:
            col = next((by_norm[n] for n in names if n in by_norm), None)
            guessed[role] = col is not None
        if col is None and (role != "segment" or want is not None):
            label = want or (default_id if role == "id" else names[0])
            how = (f"the column named by --{role}" if want is not None else
                   f"a column of {ROLE_WORDS[role]} (name it with --{role}; guessed names: "
                   f"{', '.join(names[:6])}, ...)")
            have = ", ".join(map(str, df.columns)) or "no columns"
            problems.append(Problem(file, 1, label, f"expected {how}, found none among: {have}"))
        found[role] = col
    if problems:
        raise CalibrationError(problems)
    return found, guessed


def _capped(problems: list[Problem], file: str, column: str) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(file, problems[MAX_PROBLEMS].line, column,
                                              f"... and {rest} more lines like these")]


def _parse_dates(values: pd.Series) -> pd.Series:
    """Dates at day resolution (NaT where unreadable), by the first format that reads them all."""
    if pd.api.types.is_datetime64_any_dtype(values):
        d = pd.to_datetime(values, utc=True).dt.tz_localize(None)
        return d.dt.normalize()
    text = values.astype(str).str.strip()
    best = None
    for fmt in DATE_FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = pd.to_datetime(text, format=fmt, errors="coerce", utc=fmt == "ISO8601")
        if fmt == "ISO8601":
            d = d.dt.tz_localize(None)
        if best is None or d.isna().sum() < best.isna().sum():
            best = d
        if not best.isna().any():
            break
    return best.dt.normalize()


def _values(df: pd.DataFrame, cols: dict[str, str | None], lines: np.ndarray,
            file: str) -> pd.DataFrame:
    """Customer, date, amount and segment of every order; every unreadable value is a problem."""
    problems: list[Problem] = []
    ids = df[cols["id"]].astype(str).str.strip()
    bad = ids.eq("") | df[cols["id"]].isna()
    problems += _capped([Problem(file, int(lines[i]), cols["id"], "expected a customer id, found nothing")
                         for i in np.flatnonzero(bad)], file, cols["id"])
    dates = _parse_dates(df[cols["date"]])
    problems += _capped([Problem(file, int(lines[i]), cols["date"],
                                 f"expected a date (e.g. 2024-03-31), found {_shown(df[cols['date']].iloc[i])}")
                         for i in np.flatnonzero(dates.isna().to_numpy())], file, cols["date"])
    raw = df[cols["amount"]]
    numeric = pd.api.types.is_numeric_dtype(raw)
    amounts = pd.to_numeric(raw if numeric else raw.astype(str).str.strip(), errors="coerce")
    amounts = amounts.where(np.isfinite(amounts.astype(float)))
    problems += _capped([Problem(file, int(lines[i]), cols["amount"],
                                 f"expected an amount (a number), found {_shown(raw.iloc[i])}")
                         for i in np.flatnonzero(amounts.isna().to_numpy())], file, cols["amount"])
    problems += _capped([Problem(file, int(lines[i]), cols["amount"],
                                 f"expected an amount of 0 or more, found {_shown(raw.iloc[i])}")
                         for i in np.flatnonzero((amounts < 0).to_numpy())], file, cols["amount"])
    seg = None
    if cols["segment"] is not None:
        seg = df[cols["segment"]].astype(str).str.strip()
        problems += _capped([Problem(file, int(lines[i]), cols["segment"],
                                     "expected a segment name, found nothing")
                             for i in np.flatnonzero(seg.eq("").to_numpy())], file, cols["segment"])
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise CalibrationError(problems)
    return pd.DataFrame({"customer": ids.to_numpy(), "date": dates.to_numpy(),
                         "amount": amounts.to_numpy(float),
                         "segment": seg.to_numpy() if seg is not None else "", "line": lines})


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return "nothing" if text in ("''", "'nan'") else (text if len(text) <= 40 else text[:37] + "...'")


def read_log(orders: Path | str | pd.DataFrame, *, id: str | None = None, date: str | None = None,
             amount: str | None = None, segment: str | None = None) -> _Log:
    """Read and check an order log; orders of a customer on one day make one transaction.

    Raises:
        CalibrationError: With every problem found, as ``file:line: column: message``.
    """
    file = "<DataFrame>" if isinstance(orders, pd.DataFrame) else str(orders)
    df, lines = _read_table(orders, file)
    default_id = id or "customer_id"
    if df.empty and not len(df.columns):
        raise CalibrationError([Problem(file, 1, default_id, "expected a header line naming the columns, "
                                                             "then one line per order; found an empty file")])
    cols, guessed = _columns(df, {"id": id, "date": date, "amount": amount, "segment": segment}, file,
                             default_id)
    if df.empty:
        raise CalibrationError([Problem(file, 2, cols["id"], "expected one line per order after the header, "
                                                             "found none")])
    orders_df = _values(df, cols, lines, file)
    tx = (orders_df.groupby(["customer", "date"], sort=True)
          .agg(amount=("amount", "sum"), segment=("segment", "first"), line=("line", "min")).reset_index())
    customers = tx["customer"].nunique()
    if customers < MIN_CUSTOMERS:
        only = f"every order is customer {tx['customer'].iloc[0]!r}" if customers == 1 else \
            f"{customers} customers"
        raise CalibrationError([Problem(file, int(orders_df["line"].min()), cols["id"],
                                        f"expected orders from at least {MIN_CUSTOMERS} customers (BG/NBD is "
                                        f"fitted across customers), found {only}")])
    return _Log(file, tx, len(orders_df), cols, guessed)


# --------------------------------------------------------------------------- calibration period and hold-out


@dataclass(frozen=True)
class _Window:
    start: pd.Timestamp  # first day of the hold-out
    end: pd.Timestamp  # day after the last order

    @property
    def weeks(self) -> float:
        return (self.end - self.start).days / 7.0


def _window(log: _Log, holdout_from: Any, holdout_weeks: int | None) -> _Window:
    tx, file, col = log.tx, log.file, log.columns["date"]
    first, last = tx["date"].min(), tx["date"].max()
    end = last + pd.Timedelta(days=1)
    first_line = int(tx.loc[tx["date"] == first, "line"].min())
    last_line = int(tx.loc[tx["date"] == last, "line"].min())
    if holdout_from is not None and holdout_weeks is not None:
        raise CalibrationError([Problem(file, None, "--holdout-from",
                                        "expected either --holdout-from or --holdout-weeks, found both")])
    if holdout_from is not None:
        try:
            start = pd.Timestamp(holdout_from).normalize()
        except (ValueError, TypeError):
            raise CalibrationError([Problem(file, None, "--holdout-from", f"expected a date like 2024-03-31, "
                                                                          f"found {holdout_from!r}")]) from None
        how = f"--holdout-from {start.date()}"
    else:
        weeks = holdout_weeks if holdout_weeks is not None else max(1, (end - first).days // 21)
        if weeks < 1:
            raise CalibrationError([Problem(file, None, "--holdout-weeks", f"expected 1 or more weeks, found "
                                                                           f"{weeks}")])
        start = end - pd.Timedelta(weeks=weeks)
        how = f"--holdout-weeks {weeks} (from {start.date()})"
    if start <= first:
        raise CalibrationError([Problem(file, first_line, col,
                                        "expected a hold-out that starts after the first order "
                                        f"({first.date()}), "
                                        f"leaving a calibration period, found {how}")])
    if start > last:
        raise CalibrationError([Problem(file, last_line, col,
                                        f"expected a hold-out that starts on or before the last order "
                                        f"({last.date()}), found {how}")])
    return _Window(start, end)


def summarise(tx: pd.DataFrame, window: _Window) -> pd.DataFrame:
    """The calibration cohort in BG/NBD's terms, one row per customer (times in weeks).

    Columns: `segment`, `first` (date), `x` (repeat transactions in the calibration
    period), `t_x` (weeks from the first transaction to the last), `T` (weeks from
    the first transaction to the last day of the calibration period), `monetary`
    (mean amount of the repeat transactions, 0 without), `mean_amount` (over all
    its transactions), `first_amount`, `holdout` (transactions in the hold-out),
    `line` (of the customer's first order).
    """
    cal = tx[tx["date"] < window.start]
    g = cal.groupby("customer", sort=True)
    first = g["date"].min()
    last_day = window.start - pd.Timedelta(days=1)
    out = pd.DataFrame({
        "segment": g["segment"].first(),
        "first": first,
        "x": g.size() - 1,
        "t_x": (g["date"].max() - first).dt.days / 7.0,
        "T": (last_day - first).dt.days / 7.0,
        "mean_amount": g["amount"].mean(),
        "first_amount": g["amount"].first(),
        "line": g["line"].min(),
    })
    repeat_sum = g["amount"].sum() - out["first_amount"]
    out["monetary"] = np.where(out["x"] > 0, repeat_sum / out["x"].clip(lower=1), 0.0)
    hold = tx[(tx["date"] >= window.start) & tx["customer"].isin(out.index)]
    out["holdout"] = hold.groupby("customer").size().reindex(out.index, fill_value=0).astype(int)
    out["segment"] = out["segment"].astype(str)
    return out


# --------------------------------------------------------------------------- fits


def _lifetimes() -> types.ModuleType:
    """lifetimes, imported without the warning its import gives under pandas 3 (an option it sets)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return lifetimes


def _bgnbd_loglik(fit: dict[str, float], c: pd.DataFrame) -> float:
    from sim.validation.bgnbd import bgnbd_loglik

    return bgnbd_loglik(fit, c["x"].to_numpy(), c["t_x"].to_numpy(), c["T"].to_numpy())


def fit_bgnbd(c: pd.DataFrame) -> dict[str, float]:
    """BG/NBD by maximum likelihood (lifetimes' `BetaGeoFitter`, no penalty), times in weeks.

    Returns:
        `r`, `alpha`, `a`, `b` and `loglik`.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = _lifetimes().BetaGeoFitter(penalizer_coef=0.0).fit(c["x"], c["t_x"], c["T"])
    fit = {k: float(f.params_[k]) for k in ("r", "alpha", "a", "b")}
    fit["loglik"] = _bgnbd_loglik(fit, c)
    return fit


def _gg_loglik(fit: dict[str, float], x: np.ndarray, z: np.ndarray) -> float:
    p, q, v = fit["p"], fit["q"], fit["v"]
    px = p * x
    return float(np.sum(special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
                        + (px - 1) * np.log(z) + px * np.log(x) - (px + q) * np.log(v + x * z)))


def fit_gamma_gamma(c: pd.DataFrame) -> dict[str, float] | None:
    """Gamma-gamma spend (lifetimes' `GammaGammaFitter`, q > 1 so the mean exists) on repeat customers.

    Returns:
        `p`, `q`, `v` and `loglik`; None when fewer than `MIN_CUSTOMERS` customers
        have a repeat transaction of positive value, or the fit fails.
    """
    rep = c[(c["x"] > 0) & (c["monetary"] > 0)]
    if len(rep) < MIN_CUSTOMERS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = _lifetimes().GammaGammaFitter(penalizer_coef=0.0).fit(rep["x"], rep["monetary"],
                                                                       q_constraint=True)
    except (ValueError, ArithmeticError):
        return None
    fit = {k: float(f.params_[k]) for k in ("p", "q", "v")}
    if not all(np.isfinite(list(fit.values()))) or fit["q"] <= 1:
        return None
    fit["loglik"] = _gg_loglik(fit, rep["x"].to_numpy(float), rep["monetary"].to_numpy(float))
    return fit


def _fit_segment(name: str, c: pd.DataFrame, file: str, column: str) -> SegmentFit:
    """Fit one segment; too few customers or no repeat purchase is a problem with the log."""
    line = int(c["line"].min())
    if len(c) < MIN_CUSTOMERS or not (c["x"] > 0).any():
        what = (f"{len(c)} customers" if len(c) < MIN_CUSTOMERS else
                "no customer with a second order in the calibration period")
        raise CalibrationError([Problem(file, line, column,
                                        f"expected at least {MIN_CUSTOMERS} customers, some with repeat orders "
                                        f"before the hold-out, in segment {name!r}; found {what}")])
    try:
        bg = fit_bgnbd(c)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
        raise CalibrationError([Problem(file, line, column, f"BG/NBD could not be fitted to segment {name!r}: "
                                                            f"{e}")]) from None
    return SegmentFit(name=name, customers=len(c), repeat_customers=int((c["x"] > 0).sum()),
                      tenure_weeks=float(c["T"].mean()), bgnbd=bg, spend=fit_gamma_gamma(c))


def _loglik(fit: SegmentFit, spend: bool) -> float:
    return fit.bgnbd["loglik"] + (fit.spend["loglik"] if spend and fit.spend else 0.0)


def find_segments(summary: pd.DataFrame, file: str,
                  column: str) -> tuple[pd.DataFrame, dict[str, SegmentFit], str]:
    """Segments when the log has none: a split at the median first-order amount, kept if AIC improves.

    The first order's amount is known when a customer is won and is not part of
    BG/NBD's repeat-purchase data, so splitting on it does not select on the
    outcome being fitted.

    Returns:
        The summary with its `segment` column set, the fits, and how, in words.
    """
    one = summary.assign(segment="customers")
    whole = _fit_segment("customers", one, file, column)
    median = float(summary["first_amount"].median())
    low = summary["first_amount"] <= median
    if min(low.sum(), (~low).sum()) < SPLIT_MIN:
        return one, {"customers": whole}, (f"no segment column; one segment: fewer than {SPLIT_MIN} customers "
                                           "on one side of the median first-order amount")
    split = summary.assign(segment=np.where(low, "low_first_order", "high_first_order"))
    try:
        fits = {n: _fit_segment(n, split[split["segment"] == n], file, column)
                for n in ("low_first_order", "high_first_order")}
    except CalibrationError:
        fits = None
    # Spend counts if every part has a gamma-gamma fit; the second segment adds 4 (+ 3) parameters.
    spend = whole.spend is not None and fits is not None and all(f.spend for f in fits.values())
    extra = 4 + (3 if spend else 0)
    gain = sum(_loglik(f, spend) for f in fits.values()) - _loglik(whole, spend) if fits else -math.inf
    if fits and gain > extra:
        return split, fits, (f"no segment column; split at the median first-order amount ({median:.2f}): "
                             f"log-likelihood +{gain:.1f} for {extra} more parameters "
                             f"(AIC −{2 * (gain - extra):.1f})")
    return one, {"customers": whole}, ("no segment column; one segment: a split at the median first-order "
                                       f"amount ({median:.2f}) did not improve AIC (log-likelihood {gain:+.1f} "
                                       f"for {extra} more parameters)")


# --------------------------------------------------------------------------- expectations over the hold-out


def probability_alive(fit: dict[str, float], c: pd.DataFrame) -> np.ndarray:
    """BG/NBD's probability that each customer is alive at the end of the calibration period."""
    r, alpha, a, b = (fit[k] for k in ("r", "alpha", "a", "b"))
    x, tx, T = (c[k].to_numpy(float) for k in ("x", "t_x", "T"))
    log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                 + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


@dataclass(frozen=True)
class Dropout:
    """A beta distribution of drop-out per purchase: its mean and concentration (a + b)."""

    mean: float
    concentration: float

    @classmethod
    def of(cls, fit: dict[str, float]) -> Dropout:
        """BG/NBD's own: mean a/(a+b), concentration a + b."""
        return cls(fit["a"] / (fit["a"] + fit["b"]), fit["a"] + fit["b"])


def expected_holdout(fit: dict[str, float], c: pd.DataFrame, tau: float, dropout: Dropout | None = None,
                     hazard: float = 0.0, nodes: tuple[int, int] = NODES) -> float:
    """Expected transactions in the next `tau` weeks, summed over customers, given their histories.

    Each customer is alive with BG/NBD's probability; if alive, their purchase
    rate is Gamma(r + x, α + T) and their drop-out per purchase Beta(c·p̄,
    c·(1 − p̄) + x) (the drop-out's beta updated by the x purchases survived).
    While alive they buy at rate λ and leave at rate λp + h (drop-out after
    purchases, plus a constant hazard h per week), so they make
    λ (1 − e^{−(λp+h)τ}) / (λp + h) purchases in expectation. With BG/NBD's own
    drop-out and h = 0 this is BG/NBD's conditional expectation; a customer
    with x = 0 and T = 0 is a newly won one.

    The expectation over λ is taken under the size-biased Gamma(r + x + 1), where
    the integrand is bounded, at equal-probability (quantile) nodes.

    Args:
        fit: BG/NBD `r`, `alpha`, `a`, `b` (weeks).
        c: The customers' `x`, `t_x`, `T`.
        tau: Weeks ahead.
        dropout: The drop-out's beta (default BG/NBD's).
        hazard: Constant hazard h per week on top of the drop-out.
        nodes: Quantile nodes for λ and p.
    """
    r, alpha = fit["r"], fit["alpha"]
    d = dropout or Dropout.of(fit)
    x, T = c["x"].to_numpy(float), c["T"].to_numpy(float)
    alive = probability_alive(fit, c)
    u_lam = (np.arange(nodes[0]) + 0.5) / nodes[0]
    u_p = (np.arange(nodes[1]) + 0.5) / nodes[1]
    total = 0.0
    for xv in np.unique(x):
        sel = np.flatnonzero(x == xv)
        z = special.gammaincinv(r + xv + 1.0, u_lam)  # unit-rate gamma quantiles
        p = special.betaincinv(d.concentration * d.mean, d.concentration * (1.0 - d.mean) + xv, u_p)
        for chunk in np.array_split(sel, max(1, sel.size // 2000)):
            rate = alpha + T[chunk]
            k = z[None, :, None] / rate[:, None, None] * p[None, None, :] + hazard
            g = np.where(k > 0, -np.expm1(-k * tau) / np.maximum(k, 1e-300), tau)
            total += float(np.sum(alive[chunk] * (r + xv) / rate * g.mean(axis=(1, 2))))
    return total


#: A customer just won: no repeat purchase yet, no time observed.
NEW_CUSTOMER = pd.DataFrame({"x": [0.0], "t_x": [0.0], "T": [0.0]})


def compensated_dropout(fit: dict[str, float], c: pd.DataFrame, tau: float,
                        hazard: float) -> tuple[Dropout, dict[str, float]]:
    """The drop-out beta that, with the model's own hazard, keeps BG/NBD's forecasts over `tau` weeks.

    Two forecasts, two unknowns (the beta's mean and concentration): the
    expected transactions of the firm's customers given their histories
    (`expected_holdout`), and those of a newly won customer (the scenario's
    customers start fresh, and prospects join so). A constant extra hazard
    takes relatively more from long-lived customers, whom BG/NBD's survivors
    are; a more dispersed drop-out gives them back the low drop-out they
    earned, while the mean keeps new customers' transactions.

    Returns:
        The drop-out and each forecast's ratio, model ÷ BG/NBD
        (`holdout_ratio`, `new_customer_ratio`; 1 = matched).
    """
    own = Dropout.of(fit)
    if hazard <= 0:
        return own, {"holdout_ratio": 1.0, "new_customer_ratio": 1.0}
    targets = (expected_holdout(fit, c, tau), expected_holdout(fit, NEW_CUSTOMER, tau))

    def unpack(v: np.ndarray) -> Dropout:
        return Dropout(float(special.expit(v[0])), float(np.exp(v[1])))

    def gaps(v: np.ndarray) -> list[float]:
        d = unpack(v)
        return [expected_holdout(fit, c, tau, d, hazard) / targets[0] - 1.0,
                expected_holdout(fit, NEW_CUSTOMER, tau, d, hazard) / targets[1] - 1.0]

    start = np.array([special.logit(own.mean), np.log(own.concentration)])
    sol = optimize.least_squares(gaps, start, bounds=([-9.0, -6.0], [9.0, 6.0]), xtol=1e-8, ftol=1e-10)
    ratios = [1.0 + g for g in gaps(sol.x)]
    return unpack(sol.x), {"holdout_ratio": ratios[0], "new_customer_ratio": ratios[1]}


def conditional_curve(fit: dict[str, float], c: pd.DataFrame, weeks: np.ndarray) -> np.ndarray:
    """BG/NBD's expected cumulative transactions at each of `weeks` after the calibration period.

    Lifetimes' `conditional_expected_number_of_purchases_up_to_time`, summed over customers.
    """
    f = _lifetimes().BetaGeoFitter()
    f.params_ = pd.Series({k: fit[k] for k in ("r", "alpha", "a", "b")})
    x, tx, T = c["x"], c["t_x"], c["T"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([float(np.nansum(f.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T)))
                         for t in weeks])


# --------------------------------------------------------------------------- the scenario


def _default_revenue_per_week() -> float:
    """Revenue per customer-week of the built-in default segments: the unit of the money defaults."""
    from sim.scenario import Population

    segs = Population().segments
    return float(sum(s.share * s.spend * s.purchase_rate for s in segs))


def _spend(fit: SegmentFit, c: pd.DataFrame) -> tuple[float, float]:
    """Mean spend per purchase and the gamma shape of customers' spend.

    Gamma-gamma: a customer's mean spend is p/ν with ν ~ Gamma(q, v), an
    inverse gamma of mean p·v/(q − 1); the gamma of shape q has the same spread
    on the log scale (variance ψ′(q)). Without a fit: the observed mean and a
    moment-matched shape.
    """
    if fit.spend is not None:
        p, q, v = fit.spend["p"], fit.spend["q"], fit.spend["v"]
        return p * v / (q - 1.0), q
    m = c["mean_amount"].to_numpy(float)
    mean = float(m.mean()) if m.mean() > 0 else 1.0
    var = float(m.var())
    return mean, (mean * mean / var if var > 0 else 4.0)


def _segment_parameters(fit: SegmentFit, c: pd.DataFrame, weeks: float, multiplier: float,
                        dropout: Dropout, cost_to_serve: float) -> dict[str, float]:
    bg = fit.bgnbd
    spend, shape = _spend(fit, c)
    return {"spend": _num(spend), "spend_shape": _num(shape),
            "purchase_rate": _num(bg["r"] / bg["alpha"] * weeks / multiplier), "purchase_shape": _num(bg["r"]),
            "churn": 0.0, "churn_concentration": None,
            "dropout_per_purchase": _num(dropout.mean), "dropout_concentration": _num(dropout.concentration),
            "cost_to_serve": _num(cost_to_serve)}


def _money(fits: dict[str, SegmentFit], cohorts: dict[str, pd.DataFrame], total: int) -> float:
    """How many times the default market's revenue per customer-week this firm's customers bring."""
    rev = sum(len(cohorts[n]) / total * _spend(f, cohorts[n])[0] * f.bgnbd["r"] / f.bgnbd["alpha"]
              for n, f in fits.items())
    return rev / _default_revenue_per_week()


def scenario_data(name: str, description: str, segments: dict[str, dict[str, float]], shares: dict[str, float],
                  size: int, period: str, horizon: int, seed: int, money: float) -> dict[str, Any]:
    """The scenario file's content: every mechanism on, `uniform` as the baseline, `clv` beside it.

    Money defaults (budget, acquisition and complaint costs, cost to serve) are
    the default market's times `money`, so the firm's economics keep the default
    market's proportions in its own money; the service and points response scales
    are shares of the customers' revenue and follow by themselves.
    """
    from sim.scenario import Market

    weeks = 52.0 / {"week": 52.0, "month": 12.0}[period]
    market = {k: _num(Market.model_fields[k].default * money * weeks) for k in MONEY_PER_PERIOD["market"]}
    market |= {k: _num(Market.model_fields[k].default * money) for k in MONEY_STOCKS["market"]}
    segs = [{"name": n, "share": shares[n], **p} for n, p in segments.items()]
    return {
        "name": name, "description": description, "horizon": horizon, "period": period, "replications": 10,
        "seed": seed,
        "population": {"size": size, "segments": segs},
        "market": market,
        "policies": [{"name": "current_practice", "kind": "uniform"}, {"name": "data_driven", "kind": "clv"}],
        "baseline": "current_practice",
    }


def scenario_text(data: dict[str, Any], source: str) -> str:
    """`scenario.yaml`: a header saying where it comes from, then the scenario."""
    import yaml

    head = [
        f"# Calibrated by `retention-lab calibrate` from {source} (docs/calibrate.md).",
        "# Segments: BG/NBD purchase rates (gamma: purchase_rate = r/alpha per period over the model's",
        "# purchase response to satisfaction, purchase_shape = r), drop-out per purchase (beta) and",
        "# gamma-gamma spend. The drop-out's beta makes room for the model's own exits (switching to",
        "# competitors), so that the baseline arm keeps BG/NBD's forecasts (see calibration.json).",
        "# Money defaults are the default market's, scaled to this firm's revenue per customer.",
        "# current_practice (uniform): the firm's practice as far as an order log tells: no targeting.",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _scenario_name(file: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(file).stem).strip("-.") or "orders"
    return f"{stem}-calibrated"


# --------------------------------------------------------------------------- the model on the firm's customers


@dataclass(frozen=True)
class _Cohort:
    """The calibration cohort as the model's runs take it, segment by segment (in the scenario's order)."""

    names: tuple[str, ...]
    parts: tuple[pd.DataFrame, ...]
    fits: tuple[SegmentFit, ...]
    weeks: float  # weeks per period

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.parts)


def _place(model: RetentionModel, cohort: _Cohort, rng: np.random.Generator, probe: bool,
           dropouts: Sequence[Dropout], multipliers: Sequence[float]) -> None:
    """Give the model's initial customers the firm's customers' state, segment by segment.

    Each customer is alive with BG/NBD's probability (or churned before the
    start); an alive one gets a purchase rate and drop-out drawn from BG/NBD's
    posterior given their history (the drop-out from the scenario's compensated
    beta), a spend from gamma-gamma's, and the CRM's record of their tenure,
    recency, frequency and spend. For the `probe` every purchase rate is one per
    period and the drop-out is off: only the model's own exits remain.
    """
    from sim.agents.state import CHURNED

    pop = model.customers
    seg = pop.segment[:pop.initial_size]
    w = cohort.weeks
    for k, (c, fit) in enumerate(zip(cohort.parts, cohort.fits, strict=True)):
        rows = np.flatnonzero(seg == k)
        if rows.size != len(c):  # pragma: no cover - the scenario's shares are the cohort's
            raise RuntimeError(f"segment {cohort.names[k]}: {rows.size} model customers for {len(c)}")
        bg = fit.bgnbd
        x, T, tx = (c[n].to_numpy(float) for n in ("x", "T", "t_x"))
        alive = rng.random(x.size) < probability_alive(bg, c)
        d = dropouts[k]
        if probe:
            lam, drop = np.ones(x.size), np.zeros(x.size)
        else:
            lam = rng.gamma(bg["r"] + x, 1.0 / (bg["alpha"] + T)) * w / multipliers[k]
            drop = rng.beta(d.concentration * d.mean, d.concentration * (1.0 - d.mean) + x)
        pop.purchase_rate[rows] = lam
        pop.dropout[rows] = drop
        pop.spend[rows] = _posterior_spend(fit, c, rng)
        pop.monetary[rows] = c["mean_amount"].to_numpy(float)
        pop.joined[rows] = -np.minimum(np.ceil(T / w), 30_000).astype(np.int16)
        pop.last_purchase[rows] = -np.minimum(np.floor((T - tx) / w), 30_000).astype(np.int16)
        pop.frequency[rows] = (x + 1.0) / np.maximum(T, 1.0) * w
        pop.status[rows[~alive]] = CHURNED


def _posterior_spend(fit: SegmentFit, c: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Each customer's spend per purchase from gamma-gamma's posterior (p/ν, ν ~ Gamma(q + p·x, v + x·z̄))."""
    if fit.spend is None:
        return np.full(len(c), max(float(c["mean_amount"].mean()), 1e-6))
    p, q, v = fit.spend["p"], fit.spend["q"], fit.spend["v"]
    x = np.where(c["monetary"] > 0, c["x"], 0).astype(float)
    nu = rng.gamma(q + p * x, 1.0 / (v + x * c["monetary"].to_numpy(float)))
    return p / nu


def _run(scenario: Scenario, cohort: _Cohort, seed: int, periods: int, probe: bool,
         dropouts: Sequence[Dropout], multipliers: Sequence[float]) -> dict[str, np.ndarray]:
    """One run of the baseline arm from the firm's customers' state, counting only them.

    Returns:
        Per period and segment: `active` (at the start), `purchases`, `churned`.
    """
    from sim.model import RetentionModel
    from sim.targets import follow

    model = RetentionModel(scenario, policy=scenario.baseline_policy, rng=seed, keep_last=False)
    draws = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    _place(model, cohort, draws, probe, dropouts, multipliers)
    out = follow(model, periods, rows=np.arange(model.customers.initial_size))
    vars(model).clear()  # break the model's reference cycles now (as sim.experiment does)
    return out


def _replications(size: int, least: int) -> int:
    return int(min(MAX_REPLICATIONS, max(least, math.ceil(PROBE_CUSTOMERS / max(size, 1)))))


def measure_exits(scenario: Scenario, cohort: _Cohort, periods: int,
                  seeds: Sequence[int]) -> list[dict[str, float]]:
    """The model's own exits and purchase response on the firm's customers, drop-out off.

    Runs the baseline arm with every purchase rate at one per period and no
    drop-out: what leaves is the model's switching to competitors (and any
    other exit it has), what is bought against one per period is its purchase
    response to satisfaction and word of mouth.

    Returns:
        Per segment: `purchase_multiplier` and `switching_hazard_per_week` (continuous).
    """
    tot = {"active": 0.0, "purchases": 0.0, "churned": 0.0}
    for s in seeds:
        run = _run(scenario, cohort, s, periods, True, [Dropout.of(f.bgnbd) for f in cohort.fits],
                   [1.0] * len(cohort.names))
        tot = {n: tot[n] + run[n].sum(axis=0) for n in tot}
    out = []
    for k in range(len(cohort.names)):
        exposure = max(float(tot["active"][k]), 1.0)
        per_period = float(tot["churned"][k]) / exposure
        out.append({"purchase_multiplier": float(tot["purchases"][k]) / exposure,
                    "switching_hazard_per_week": -math.log1p(-min(per_period, 0.999)) / cohort.weeks})
    return out


def simulate_holdout(scenario: Scenario, cohort: _Cohort, weeks: float, seeds: Sequence[int],
                     dropouts: Sequence[Dropout], multipliers: Sequence[float]) -> np.ndarray:
    """Cumulative transactions of the cohort per period of the hold-out, one row per replication."""
    periods = max(1, math.ceil(weeks / cohort.weeks - 1e-9))
    rows = []
    for s in seeds:
        run = _run(scenario, cohort, s, periods, False, dropouts, multipliers)
        rows.append(np.concatenate([[0.0], np.cumsum(run["purchases"].sum(axis=1))]))
    return np.array(rows)


# --------------------------------------------------------------------------- calibrate


def calibrate(orders: Path | str | pd.DataFrame, *, id: str | None = None, date: str | None = None,
              amount: str | None = None, segment: str | None = None, holdout_from: Any = None,
              holdout_weeks: int | None = None, period: str = "week", out: Path | str | None = None,
              seed: int = 0) -> Calibration:
    """Calibrate a scenario from an order log and check it on a hold-out period.

    Args:
        orders: A CSV or Parquet file (one row per purchase), or a DataFrame.
        id: The customer id column (default: guessed, e.g. `customer_id`).
        date: The order date column (default: guessed, e.g. `date`).
        amount: The order amount column (default: guessed, e.g. `amount`).
        segment: The segment column (default: `segment` if there is one; else
            segments are found from the data).
        holdout_from: First day of the hold-out (the data after it are kept out of the fits).
        holdout_weeks: Or: the hold-out is the log's last N weeks (default: the last
            third of the log, in whole weeks).
        period: The scenario's period, `week` or `month`.
        out: A folder to write `scenario.yaml`, `calibration.json` and
            `calibration.html` to (all three or none); None writes nothing.
        seed: Root seed of the model's runs.

    Returns:
        The `Calibration`.

    Raises:
        CalibrationError: If the log cannot be used (every problem as
            ``file:line: column: message``); nothing is written then.
    """
    if period not in ("week", "month"):
        raise CalibrationError([Problem(str(orders), None, "--period",
                                        f"expected week or month, found {period!r}")])
    log = read_log(orders, id=id, date=date, amount=amount, segment=segment)
    window = _window(log, holdout_from, holdout_weeks)
    summary = summarise(log.tx, window)
    seg_col = log.columns["segment"] or log.columns["id"]
    if log.columns["segment"] is not None:
        names = sorted(summary["segment"].unique())
        fits = {n: _fit_segment(n, summary[summary["segment"] == n], log.file, seg_col) for n in names}
        how = f"from the column {log.columns['segment']!r}: {len(names)} segment(s)"
    else:
        summary, fits, how = find_segments(summary, log.file, seg_col)
    weeks = 52.0 / {"week": 52.0, "month": 12.0}[period]
    cohort = _Cohort(tuple(fits), tuple(summary[summary["segment"] == n] for n in fits), tuple(fits.values()),
                     weeks)
    result = _calibrated(log, window, summary, cohort, how, period, seed)
    if out is not None:
        result.write(out)
    return result


def _calibrated(log: _Log, window: _Window, summary: pd.DataFrame, cohort: _Cohort, how: str, period: str,
                seed: int) -> Calibration:
    """Measure the model's own exits, build the compensated scenario, and check it on the hold-out."""
    from sim.rng import replication_seeds

    tau, size = window.weeks, cohort.size
    horizon = max(1, math.ceil(tau / cohort.weeks - 1e-9))
    money = _money(dict(zip(cohort.names, cohort.fits, strict=True)),
                   dict(zip(cohort.names, cohort.parts, strict=True)), size)
    shares = {n: len(c) / size for n, c in zip(cohort.names, cohort.parts, strict=True)}
    name, source = _scenario_name(log.file), Path(log.file).name
    n_probe, n_hold = _replications(size, 1), _replications(size, HOLDOUT_REPLICATIONS)
    seeds = replication_seeds(seed, n_probe + n_hold)
    cost = _default_cost_to_serve() * money * cohort.weeks

    def build(multipliers: Sequence[float], dropouts: Sequence[Dropout]) -> tuple[Scenario, str]:
        segs = {n: _segment_parameters(f, c, cohort.weeks, m, d, cost) for n, f, c, m, d in
                zip(cohort.names, cohort.fits, cohort.parts, multipliers, dropouts, strict=True)}
        desc = (f"The customers of {source} ({size} customers, {len(segs)} segment(s)), calibrated with BG/NBD "
                f"and gamma-gamma by `retention-lab calibrate`; checked on a {tau:.1f}-week hold-out.")
        data = scenario_data(name, desc, segs, shares, size, period, horizon, seed, money)
        text = scenario_text(data, source)
        return parse_text(text, "scenario.yaml"), text

    plain = [Dropout.of(f.bgnbd) for f in cohort.fits]
    probe_sc, _ = build([1.0] * len(plain), plain)
    exits = measure_exits(probe_sc, cohort, horizon, seeds[:n_probe])
    comp = [compensated_dropout(f.bgnbd, _sample(c), tau, e["switching_hazard_per_week"])
            for f, c, e in zip(cohort.fits, cohort.parts, exits, strict=True)]
    mult = [e["purchase_multiplier"] for e in exits]
    scenario, text = build(mult, [d for d, _ in comp])
    hold = _holdout(scenario, cohort, summary, window, seeds[n_probe:], [d for d, _ in comp], mult)
    segments = {}
    for n, f, e, (d, ratios), p in zip(cohort.names, cohort.fits, exits, comp, plain, strict=True):
        params = next(s for s in scenario.population.segments if s.name == n)
        model = {k: getattr(params, k) for k in ("purchase_rate", "purchase_shape", "dropout_per_purchase",
                                                 "dropout_concentration", "churn", "spend", "spend_shape",
                                                 "cost_to_serve")}
        model = {k: v for k, v in model.items() if v is not None}
        segments[n] = SegmentFit(n, f.customers, f.repeat_customers, f.tenure_weeks, f.bgnbd, f.spend, model,
                                 {**e, "dropout_bgnbd": p.mean, "dropout_concentration_bgnbd": p.concentration,
                                  "dropout_compensated": d.mean,
                                  "dropout_concentration_compensated": d.concentration,
                                  **ratios, "share": shares[n]})
    src = {"file": log.file, "orders": log.orders, "transactions": len(log.tx),
           "customers": int(log.tx["customer"].nunique()), "calibration_customers": size,
           "first_date": log.tx["date"].min().date().isoformat(),
           "last_date": log.tx["date"].max().date().isoformat(),
           "money_scale": _num(money)}
    return Calibration(src, log.columns, log.guessed, how, segments, scenario, text, hold, period, seed,
                       summary, _calendar(log.tx, summary, window))


def _sample(c: pd.DataFrame, most: int = 5000) -> pd.DataFrame:
    """At most `most` customers, every k-th (the compensation's equations are sums over customers)."""
    return c if len(c) <= most else c.iloc[::math.ceil(len(c) / most)]


def _default_cost_to_serve() -> float:
    from sim.scenario import Segment

    return float(Segment.model_fields["cost_to_serve"].default)


def _holdout(scenario: Scenario, cohort: _Cohort, summary: pd.DataFrame, window: _Window, seeds: Sequence[int],
             dropouts: Sequence[Dropout], multipliers: Sequence[float]) -> Holdout:
    tau = window.weeks
    sims = simulate_holdout(scenario, cohort, tau, seeds, dropouts, multipliers)
    periods = np.arange(sims.shape[1]) * cohort.weeks
    at = np.array([np.interp(tau, periods, row) for row in sims])
    grid = np.unique(np.append(np.arange(1.0, math.floor(tau) + 1), tau))
    bg = sum(conditional_curve(f.bgnbd, c, grid) for f, c in zip(cohort.fits, cohort.parts, strict=True))
    curve = pd.DataFrame({"week": grid, "bgnbd": bg,
                          "simulated": np.interp(grid, periods, sims.mean(axis=0)),
                          "simulated_low": np.interp(grid, periods, sims.min(axis=0)),
                          "simulated_high": np.interp(grid, periods, sims.max(axis=0))})
    return Holdout(window.start, window.end, tau, int(summary["holdout"].sum()), float(bg[-1]),
                   float(at.mean()), [float(v) for v in at], list(seeds), curve)


def _calendar(tx: pd.DataFrame, summary: pd.DataFrame, window: _Window) -> pd.DataFrame:
    """The cohort's repeat transactions per calendar week from its first order: `week`, `actual`.

    A customer's first transaction is the trial; every later one is a repeat.
    """
    t = tx[tx["customer"].isin(summary.index)]
    first = summary["first"].reindex(t["customer"]).to_numpy()
    repeat = t["date"].to_numpy() > first
    origin = summary["first"].min()
    weeks = math.ceil((window.end - origin).days / 7)
    idx = ((t["date"].to_numpy()[repeat] - origin.to_datetime64()) // np.timedelta64(1, "D")) // 7
    counts = np.bincount(idx.astype(int), minlength=weeks)[:weeks]
    return pd.DataFrame({"week": np.arange(1, weeks + 1), "actual": np.cumsum(counts)})


# --------------------------------------------------------------------------- figures and report


def repeat_histogram(fit: dict[str, float], c: pd.DataFrame, bins: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Customers with 0, 1, …, bins−2 and ≥ bins−1 repeat transactions: observed and BG/NBD's expectation.

    The expectation is Σ P(X(Tᵢ) = x) over customers (Fader, Hardie & Lee 2005, eq. 8).
    """
    r, alpha, a, b = (fit[k] for k in ("r", "alpha", "a", "b"))
    T = c["T"].to_numpy(float)
    lo, hi = np.log(alpha / (alpha + T)), np.log(np.maximum(T, 1e-12) / (alpha + T))
    expected = np.zeros(bins)
    partial = np.zeros_like(T)  # Σ_{j<x} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j
    for x in range(bins - 1):
        coef = special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
        first = np.exp(special.betaln(a, b + x) - special.betaln(a, b) + coef + r * lo + x * hi)
        second = 0.0
        if x > 0:
            second = (np.exp(special.betaln(a + 1, b + x - 1) - special.betaln(a, b))
                      * (1 - np.exp(r * lo) * partial))
        expected[x] = float(np.sum(first + second))
        partial = partial + np.exp(coef + x * hi)
    expected[-1] = len(T) - expected[:-1].sum()
    observed = np.bincount(np.minimum(c["x"].to_numpy(int), bins - 1), minlength=bins).astype(float)
    return observed, expected


def _unconditional(cal: Calibration, weeks: np.ndarray) -> np.ndarray:
    """BG/NBD's expected cumulative repeat transactions of the cohort by calendar week (its fit)."""
    from sim.validation.bgnbd import bgnbd_expected_purchases

    s = cal.summary
    origin = s["first"].min()
    total = np.zeros(weeks.size)
    for name, fit in cal.segments.items():
        born = ((s.loc[s["segment"] == name, "first"] - origin).dt.days / 7.0).to_numpy()
        days, counts = np.unique(born, return_counts=True)
        for d, n in zip(days, counts, strict=True):
            total += n * bgnbd_expected_purchases(weeks - d, fit.bgnbd)
    return total


def figures(cal: Calibration) -> dict[str, Figure]:
    """The report's three figures: repeat-purchase histogram, cumulative transactions, spend."""
    from matplotlib.figure import Figure

    figs = {}
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    obs, exp = np.zeros(8), np.zeros(8)
    for name, f in cal.segments.items():
        o, e = repeat_histogram(f.bgnbd, cal.summary[cal.summary["segment"] == name])
        obs, exp = obs + o, exp + e
    pos = np.arange(8)
    ax.bar(pos - 0.2, obs, 0.4, label="observed", color="#4c72b0")
    ax.bar(pos + 0.2, exp, 0.4, label="BG/NBD", color="#dd8452")
    ax.set_xticks(pos, [str(i) for i in range(7)] + ["7+"])
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel("customers")
    ax.legend()
    fig.tight_layout()
    figs["histogram"] = fig
    figs["cumulative"] = _cumulative_figure(cal)
    figs["spend"] = _spend_figure(cal)
    return figs


def _cumulative_figure(cal: Calibration) -> Figure:
    from matplotlib.figure import Figure

    h, calendar = cal.holdout, cal.calendar
    origin = cal.summary["first"].min()
    start = (h.start - origin).days / 7.0
    base = float(np.interp(start, np.append(0, calendar["week"]), np.append(0, calendar["actual"])))
    fig = Figure(figsize=(7, 3.8))
    ax = fig.subplots()
    ax.plot(calendar["week"], calendar["actual"], color="black", label="actual")
    ax.plot(calendar["week"], _unconditional(cal, calendar["week"].to_numpy(float)), color="#dd8452", ls=":",
            label="BG/NBD fit (unconditional)")
    wk = start + np.append(0, h.curve["week"])
    ax.plot(wk, base + np.append(0, h.curve["bgnbd"]), color="#dd8452", label="BG/NBD forecast (conditional)")
    ax.plot(wk, base + np.append(0, h.curve["simulated"]), color="#4c72b0", label="simulated (baseline arm)")
    ax.fill_between(wk, base + np.append(0, h.curve["simulated_low"]),
                    base + np.append(0, h.curve["simulated_high"]), color="#4c72b0", alpha=0.2, lw=0)
    ax.axvline(start, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(f"weeks since {origin.date()}")
    ax.set_ylabel("cumulative repeat transactions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _spend_figure(cal: Calibration) -> Figure:
    from matplotlib.figure import Figure

    s = cal.summary
    rep = s[(s["x"] > 0) & (s["monetary"] > 0)]
    rng = np.random.default_rng(np.random.SeedSequence([cal.seed, 17]))
    fitted = []
    for name, f in cal.segments.items():
        part = rep[rep["segment"] == name]
        if f.spend is None or part.empty:
            continue
        p, q, v = f.spend["p"], f.spend["q"], f.spend["v"]
        x = part["x"].to_numpy(float)
        nu = rng.gamma(q, 1.0 / v, size=x.size)
        fitted.append(rng.gamma(p * x, 1.0 / (nu * x)))
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    data = rep["monetary"].to_numpy(float)
    top = np.quantile(data, 0.99) if data.size else 1.0
    edges = np.linspace(0, top, 40)
    ax.hist(data, bins=edges, density=True, alpha=0.5, color="#4c72b0", label="observed")
    if fitted:
        ax.hist(np.concatenate(fitted), bins=edges, density=True, histtype="step", color="#dd8452", lw=1.5,
                label="gamma-gamma (same purchase counts)")
    grid = np.linspace(edges[1] / 4, top, 200)
    dens = sum(f.exits["share"] * _gamma_pdf(grid, f.model["spend_shape"], f.model["spend"])
               for f in cal.segments.values() if "spend_shape" in f.model)
    ax.plot(grid, dens, color="#55a868", label="scenario: spend per purchase across customers")
    ax.set_xlabel("mean spend per repeat transaction, customers with repeat transactions")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _gamma_pdf(x: np.ndarray, shape: float, mean: float) -> np.ndarray:
    scale = mean / shape
    return np.exp((shape - 1) * np.log(x / scale) - x / scale - special.gammaln(shape)) / scale


def render_html(cal: Calibration) -> str:
    """`calibration.html`: the fits, the hold-out check and the figures, self-contained (PNG as base64)."""
    import base64

    from sim.report import png_bytes

    imgs = {k: base64.b64encode(png_bytes(f)).decode("ascii") for k, f in figures(cal).items()}
    h = cal.holdout
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(n)}</td><td>{s.customers}</td>"
        + "".join(f"<td>{s.bgnbd[k]:.4g}</td>" for k in ("r", "alpha", "a", "b"))
        + "".join(f"<td>{s.spend[k]:.4g}</td>" if s.spend else "<td>–</td>" for k in ("p", "q", "v"))
        + f"<td>{s.exits['purchase_multiplier']:.3f}</td><td>{s.exits['switching_hazard_per_week']:.4f}</td>"
        f"<td>{e(_dropout_change(s.exits))}</td></tr>"
        for n, s in cal.segments.items())
    cols = ", ".join(f"{e(k)} = {e(str(v))}" + (" (guessed)" if cal.guessed.get(k) else "")
                     for k, v in cal.columns.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Calibration: {e(cal.scenario.name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}
td:first-child{{text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>Calibration of {e(cal.scenario.name)}</h1>
<p>{e(cal.source['file'])}: {cal.source['orders']} orders, {cal.source['customers']} customers,
{e(cal.source['first_date'])} to {e(cal.source['last_date'])}. Columns: {cols}.</p>
<p>Segments: {e(cal.segmentation)}.</p>
<h2>Fits (weeks)</h2>
<table><tr><th>segment</th><th>customers</th><th>r</th><th>α</th><th>a</th><th>b</th><th>p</th><th>q</th>
<th>v</th><th>purchase multiplier</th><th>switching / week</th>
<th>drop-out (mean, a+b): BG/NBD → model</th></tr>
{rows}</table>
<p>The model's own exits (switching to competitors at rest) and purchase response to satisfaction were
measured on these customers under the baseline arm with drop-out off. The purchase rate is raised by the
purchase multiplier, and the drop-out's beta (mean, concentration) is solved so that the model's expected
transactions are BG/NBD's, both for these customers over the hold-out and for a newly won customer
(docs/calibrate.md).</p>
<h2>Hold-out: {e(h.start.date().isoformat())}, {h.weeks:.1f} weeks</h2>
<p>Transactions of the calibration cohort, simulated / BG/NBD / actual:
<b>{h.simulated:.1f} / {h.bgnbd:.1f} / {h.actual}</b>
(errors {100 * _rel(h.simulated, h.actual):+.1f} % / {100 * _rel(h.bgnbd, h.actual):+.1f} %;
{len(h.replications)} replications of the baseline arm, full model).</p>
<h2>Repeat transactions per customer</h2><img alt="histogram" src="data:image/png;base64,{imgs['histogram']}">
<h2>Cumulative repeat transactions</h2><img alt="cumulative" src="data:image/png;base64,{imgs['cumulative']}">
<h2>Spend</h2><img alt="spend" src="data:image/png;base64,{imgs['spend']}">
<h2>Scenario</h2><pre>{e(cal.scenario_yaml)}</pre>
</body></html>
"""


# --------------------------------------------------------------------------- writing


def _write_all(out: Path, texts: dict[str, str]) -> dict[str, Path]:
    """Write every file of `texts` into `out`, all or none (see `Calibration.write`)."""
    from sim.files import atomic_write

    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            for name, text in texts.items():
                atomic_write(stage / name, text)
            os.chmod(stage, 0o777 & ~_umask())
            os.rename(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return {name: out / name for name in texts}
    staged: dict[str, Path] = {}
    try:
        for name, text in texts.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            staged[name] = Path(tmp)
        for name, tmp in staged.items():
            os.replace(tmp, out / name)
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    return {name: out / name for name in texts}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _CallableModule(types.ModuleType):
    """`sim.calibrate(...)` calls `calibrate` even once the module has been imported.

    Importing `sim.calibrate` binds the module to the name `calibrate` in `sim`,
    where the lazy export would otherwise have put the function.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Calibration:
        return calibrate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
