"""The calibration's figures (`srdi calibrate`): observed against simulated series, residuals,
the posterior of the parameters, re-review pass rates, the national forecast and the hold-out.

Plotting reads a fit's results (`sim.calibrate.Fit`, `Prediction`); it never runs a model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .calibrate import METRICS, Fit, Moment, Prediction, parameter_table
from .scenario import Scenario

# the yearly series drawn in each panel of observed_vs_simulated.png: (metric, tier)
PANELS = {
    "little giant batches": ("new", "national_little_giant"),
    "little giant stock": ("at_least", "national_little_giant"),
    "provincial SRDI stock": ("at_least", "provincial_srdi"),
    "single champion stock": ("at_least", "single_champion"),
    "innovative SMEs, first lists": ("new", "innovative_sme"),
}


def _band(ax, years, arr, color, label) -> None:
    ax.fill_between(years, np.quantile(arr, 0.05, 0), np.quantile(arr, 0.95, 0), color=color,
                    alpha=0.25, lw=0, label=f"{label} 90 % band")  # fmt: skip
    ax.plot(years, arr.mean(0), color=color, lw=1.5, label=f"{label} mean")


def _observed(ax, m: Moment, color="black") -> None:
    if m.form == "lower":
        ax.plot([m.year], [m.value], marker="^", ls="", color=color, ms=8, label="lower bound")
    elif m.form == "interval":
        ax.errorbar([m.year], [m.value], yerr=[[m.value - m.low], [m.high - m.value]],
                    fmt="s", color=color, capsize=4, label="interval")  # fmt: skip
    else:
        filled = color if m.fitted else "white"
        ax.plot([m.year], [m.value], marker="o", ls="", mfc=filled, mec=color, ms=7,
                label="observed (fitted)" if m.fitted else "observed (not fitted)")  # fmt: skip


def _dedupe_legend(ax, **kw) -> None:
    h, lab = ax.get_legend_handles_labels()
    seen = dict(zip(lab, h, strict=True))
    ax.legend(seen.values(), seen.keys(), fontsize=7, **kw)


def plot_fit(pred: Prediction, title: str = ""):
    """Observed against simulated, with 90 % bands, for each series."""
    import matplotlib
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    years = np.array(pred.years[1:])
    for ax, (series, (metric, tier)) in zip(axes.flat, PANELS.items(), strict=False):
        k = pred.tiers.index(tier) + 1
        arr = pred.series[:, METRICS.index(metric), 1:, k]
        _band(ax, years, arr, "tab:blue", "simulated")
        for m in pred.moments:
            if m.series == series:
                _observed(ax, m)
        ax.set_title(series, fontsize=10)
        ax.set_xticks(years)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        _dedupe_legend(ax, loc="upper left")
    ax = axes.flat[-1]
    _plot_pass_rates(ax, pred)
    fig.suptitle(title or "Observed and simulated national series (90 % bands)", fontsize=11)
    fig.tight_layout()
    return fig


def _plot_pass_rates(ax, pred: Prediction) -> None:
    ms = [m for m in pred.moments if m.metric == "pass_rate"]
    data = []
    for m in ms:
        x = pred.values[:, pred.moments.index(m)]
        data.append(x[~np.isnan(x)])
    pos = np.arange(len(ms))
    ax.violinplot(data, positions=pos, showextrema=False)
    for i, (m, x) in enumerate(zip(ms, data, strict=True)):
        ax.plot([i - 0.2, i + 0.2], [np.quantile(x, 0.05)] * 2, color="tab:blue", lw=1)
        ax.plot([i - 0.2, i + 0.2], [np.quantile(x, 0.95)] * 2, color="tab:blue", lw=1)
        ax.plot([i], [x.mean()], marker="_", ms=14, color="tab:blue")
        ax.plot([i], [m.value], marker="o", color="black", ls="")
    ax.set_xticks(pos, [f"batch {i + 1}\n({m.year})" for i, m in enumerate(ms)], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("re-review pass rates (violin: simulated; dot: observed)", fontsize=9)


def plot_re_review(pred: Prediction):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    _plot_pass_rates(ax, pred)
    ax.set_ylabel("share of the batch passing its first re-review")
    fig.tight_layout()
    return fig


def plot_residuals(pred: Prediction):
    """Standardised residuals of the posterior-predictive mean, per fitted moment."""
    import matplotlib.pyplot as plt

    ms = [m for m in pred.moments if m.fitted]
    r = [m.residual(pred.band(m)[0]) for m in ms]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(ms) + 1.2))
    y = np.arange(len(ms))[::-1]
    ax.barh(y, r, color=["tab:red" if abs(v) > 2 else "tab:blue" for v in r])
    for v in (-2, -1, 1, 2):
        ax.axvline(v, color="grey", lw=0.6, ls="--" if abs(v) == 2 else ":")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [m.id for m in ms], fontsize=8)
    ax.set_xlabel("log(simulated / observed) / observation sd  (lower bound: only below counts)")
    ax.set_title("Residuals of the fit (posterior-predictive mean)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_parameters(fit_: Fit, config: dict[str, Any]):
    """Posterior sample of each parameter within its search bounds, estimate and shipped value."""
    import matplotlib.pyplot as plt

    table = parameter_table(fit_, config)
    n = len(fit_.names)
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.4 * rows))
    for j, ax in enumerate(axes.flat):
        if j >= n:
            ax.axis("off")
            continue
        name = fit_.names[j]
        row = table.iloc[j]
        ax.hist(fit_.sample[:, j], bins=25, color="tab:blue", alpha=0.6)
        ax.axvline(row["estimate"], color="tab:blue", lw=1.5, label="estimate")
        ax.axvline(row["shipped"], color="tab:orange", lw=1.2, ls="--", label="shipped")
        ax.set_xlim(row["bound_low"], row["bound_high"])
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7)
    fig.suptitle(
        "Posterior sample of the calibrated parameters (x axis: search bounds)", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot_forecast(pred: Prediction, scenario: Scenario):
    """Per tier: new titles and stocks through the scenario's end, with 90 % bands and targets."""
    import matplotlib
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(pred.tiers), figsize=(14, 6.5))
    years = np.array(pred.years)
    for k, tier in enumerate(pred.tiers, start=1):
        for row, metric in enumerate(("new", "at_least")):
            ax = axes[row, k - 1]
            arr = pred.series[:, METRICS.index(metric), :, k]
            sl = slice(1, None) if metric == "new" else slice(None)
            _band(ax, years[sl], arr[:, sl], "tab:green", "forecast")
            for m in pred.moments:
                if m.tier == tier and m.metric == metric:
                    _observed(ax, m)
            if metric == "at_least":
                for t in scenario.targets:
                    if t.tier == tier and t.kind == "stock":
                        ax.plot([t.year], [t.value], marker="*", ms=12, color="tab:red",
                                ls="", label="target")  # fmt: skip
            ax.set_title(f"{tier}: {'new titles' if metric == 'new' else 'holding at least'}",
                         fontsize=8)  # fmt: skip
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            _dedupe_legend(ax, loc="upper left")
    fig.suptitle(
        "National forecast with parameter uncertainty (calibrated, 90 % bands)", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot_holdout(table: pd.DataFrame, pred: Prediction, before: int):
    """Little-giant batches: the hold-out forecast against the observed and the baselines."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    years = np.array(pred.years[1:])
    k = pred.tiers.index("national_little_giant") + 1
    _band(ax, years, pred.series[:, 0, 1:, k], "tab:green", f"model fitted before {before}")
    for m in pred.moments:
        if m.series == "little giant batches":
            _observed(ax, m)
    lg = table[table.moment.str.startswith("little_giant_batch")]
    for _, r in lg.iterrows():
        for name, marker in (("repeat_last", "x"), ("trend", "+")):
            if r.get(name) is not None and r[name] == r[name]:
                ax.plot([r["year"]], [r[name]], marker=marker, ms=10, ls="", color="tab:red",
                        label=name.replace("_", " "))  # fmt: skip
    ax.axvline(before - 0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(years)
    ax.set_title(f"Hold-out: little-giant batches, fitted on years before {before}", fontsize=10)
    _dedupe_legend(ax, loc="upper left")
    fig.tight_layout()
    return fig
