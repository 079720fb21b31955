"""Plots of the validations (matplotlib, imported lazily by each function)."""

from __future__ import annotations

import numpy as np

from sim.validation.bass import BassValidation
from sim.validation.bgnbd import CALIBRATION_WEEKS, BGNBDValidation
from sim.validation.negative_wom import NegativeWOMValidation
from sim.validation.sbg import SBGValidation
from sim.validation.telco import TelcoCalibration


def plot_bgnbd(res: BGNBDValidation):
    """Histogram and cumulative repeat purchases, simulated vs real CDNOW (a Figure)."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    h = res.histogram
    x = np.arange(len(h))
    ax1.bar(x - 0.2, h["real"], 0.4, label="CDNOW")
    ax1.bar(x + 0.2, h["simulated"], 0.4, label="simulated")
    ax1.set_xticks(x, h.index)
    ax1.set_xlabel("repeat purchases, weeks 1–39")
    ax1.set_ylabel("share of customers")
    ax1.legend()
    c = res.cumulative
    ax2.plot(c.index, c["real"], label="CDNOW", color="black")
    ax2.plot(c.index, c["simulated"], label="simulated", ls="--")
    ax2.plot(c.index, c["bgnbd"], label="BG/NBD expectation", ls=":")
    ax2.axvline(CALIBRATION_WEEKS, color="grey", lw=0.8)
    ax2.set_xlabel("week")
    ax2.set_ylabel("cumulative repeat purchases")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_sbg(results: dict[str, SBGValidation]):
    """Survival and retention by year for each sBG cohort (a Figure)."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, res in results.items():
        s = res.survival
        line, = ax1.plot(s.index, s["simulated"], marker="o", label=f"{kind} simulated")
        ax1.plot(s.index, s["published"], ls="none", marker="x", color=line.get_color(),
                 label=f"{kind} published")
        ax2.plot(s.index[1:], s["retention"].iloc[1:], marker="o", label=kind)
    ax1.set_xlabel("year")
    ax1.set_ylabel("% surviving")
    ax1.legend()
    ax2.set_xlabel("year")
    ax2.set_ylabel("retention rate, %")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_bass(res: BassValidation):
    """Adoption per network against the Bass curve (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    a = res.adoption
    for col, style in (("complete", "-"), ("small_world", "-"), ("none", "-")):
        ax.plot(a.index, a[col], ls=style, label=f"simulated, {col}")
    ax.plot(a.index, a["bass"], ls="--", color="black", label="Bass closed form (model p, q)")
    ax.plot(a.index, a["recursion"], ls=":", color="grey", label="mean-field recursion")
    ax.set_xlabel("week")
    ax.set_ylabel("share of the market adopted")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_negative_wom(res: NegativeWOMValidation):
    """Other customers lost to negative word of mouth, per rewiring (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for rw in res.spread.columns:
        ax.plot(res.spread.index, res.spread[rw] * 100, label=f"rewire {rw:g}")
    ax.axvline(res.early_period, color="grey", lw=0.8)
    ax.set_xlabel("week")
    ax.set_ylabel("other customers lost, % of control")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_telco(res: TelcoCalibration):
    """Telco survival: Kaplan–Meier of the data vs the calibrated simulation (a Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    s = res.survival
    ax.plot(s.index, s["data"], color="black", label="IBM telco (Kaplan–Meier)")
    ax.plot(s.index, s["simulated"], ls="--", label="simulated, calibrated sBG")
    ax.plot(s.index, s["sbg_ml"], ls=":", label="sBG, maximum likelihood")
    ax.set_xlabel("tenure, months")
    ax.set_ylabel("share still a customer")
    ax.legend()
    fig.tight_layout()
    return fig
