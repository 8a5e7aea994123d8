"""Figures drawn from results (plotting reads results; it never runs a model)."""

from __future__ import annotations

import matplotlib.pyplot as plt  # the CLI picks the Agg backend (sim/cli.py); a notebook its own
import numpy as np
import pandas as pd

from .ensemble import EnsembleResult


def fan_chart(result: EnsembleResult, metric: str = "at_least") -> plt.Figure:
    """One panel per tier: median, 50 % and 90 % bands over replications, and the targets.

    With a counterfactual, its median is drawn dashed (the same seeds with every lever off);
    a scenario without levers has none to draw (it is the forecast itself), one without targets
    no markers, and the title says so.
    """
    tiers = result.tiers
    years = np.array(result.years)
    fig, axes = plt.subplots(1, len(tiers), figsize=(3.6 * len(tiers), 3.4), squeeze=False)
    for k, (ax, tier) in enumerate(zip(axes[0], tiers, strict=True), start=1):
        x = result.runs[metric][:, :, k]
        q05, q25, q50, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(years, q05, q95, color="tab:blue", alpha=0.18, label="90 % band")
        ax.fill_between(years, q25, q75, color="tab:blue", alpha=0.35, label="50 % band")
        ax.plot(years, q50, color="tab:blue", lw=2, label="median")
        if result.counterfactual is not None and result.scenario.has_levers:
            cf = np.quantile(result.counterfactual[metric][:, :, k], 0.5, axis=0)
            ax.plot(years, cf, color="grey", ls="--", lw=1.5, label="levers off (median)")
        for t in result.scenario.targets:
            if t.tier == tier and t.kind in ("stock", "cumulative") and metric == "at_least":
                ax.plot([t.year], [t.value], marker="D", color="tab:red", ms=7, ls="none")
                if t.stretch is not None:
                    ax.vlines(t.year, t.value, t.stretch, color="tab:red", lw=2)
        ax.set_title(tier.replace("_", " "), fontsize=10)
        ax.set_xticks(years)
        ax.set_xlabel("year end")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("firms holding at least the title" if metric == "at_least" else metric)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], marker="D", color="tab:red", ls="none"))
    labels.append("target")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    place = result.scenario.place
    status = "" if result.scenario.targets else " (no targets: status quo)"
    fig.suptitle(
        # Latin name only: the default fonts have no CJK glyphs
        f"{place.name}: {result.n_runs} replications, seed {result.seed}{status}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig


def _short(v: float) -> str:
    """A tick label: 1000000 -> 1M, 333333.3 -> 333k, 0.25 -> 0.25."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def _label(path: str) -> str:
    return path.removeprefix("levers.").replace("by_tier.", "")


def sweep_chart(
    table: pd.DataFrame,
    x: str,
    y: str | None = None,
    title: str = "",
) -> plt.Figure:
    """Probability of reaching each target against one varied path (curve) or two (surface).

    `table` is a sweep table (`sim.sweep`): one row per experiment and target. Experiments that
    share the plotted values are averaged (the mean probability over the other varied paths,
    e.g. over the futures of an uncertainty); the curve's band is +-2 Monte Carlo errors of that
    mean. Two paths on a full grid give a heatmap with each cell's probability written in it;
    sampled designs (LHS, Sobol) give a scatter coloured by probability.
    """
    targets = list(dict.fromkeys(table["target"]))
    keys = [x] if y is None else [x, y]
    g = (
        table.assign(_var=table["mc_se"] ** 2)
        .groupby(["target", *keys], sort=True)
        .agg(
            probability=("probability", "mean"),
            without=("probability_without_levers", "mean"),
            var=("_var", "sum"),
            k=("_var", "size"),
        )
        .reset_index()
    )
    g["se"] = np.sqrt(g["var"]) / g["k"]
    ncols = min(4, len(targets))
    nrows = -(-len(targets) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.7 * ncols, 3.3 * nrows), squeeze=False, sharey=y is None
    )
    image = None
    for ax, target in zip(axes.flat, targets, strict=False):
        d = g[g["target"] == target]
        if y is None:
            xs = d[x].to_numpy()
            p, se = d["probability"].to_numpy(), d["se"].to_numpy()
            ax.fill_between(xs, np.clip(p - 2 * se, 0, 1), np.clip(p + 2 * se, 0, 1), alpha=0.2)
            ax.plot(xs, p, marker="o", ms=3, lw=1.8, label="with levers")
            ax.plot(xs, d["without"], ls="--", color="grey", lw=1.2, label="levers off")
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel(_label(x), fontsize=8)
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: _short(v)))
        else:
            xv, yv = np.unique(d[x]), np.unique(d[y])
            if len(d) == len(xv) * len(yv) and len(xv) * len(yv) <= 400:
                grid = d.pivot(index=y, columns=x, values="probability").to_numpy()
                image = ax.imshow(
                    grid, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1
                )
                ax.set_xticks(range(len(xv)), [_short(v) for v in xv], fontsize=7)
                ax.set_yticks(range(len(yv)), [_short(v) for v in yv], fontsize=7)
                if grid.size <= 64:
                    for (i, j), v in np.ndenumerate(grid):
                        ax.text(
                            j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 else "black",
                        )  # fmt: skip
            else:
                image = ax.scatter(
                    d[x], d[y], c=d["probability"], cmap="viridis", vmin=0, vmax=1, s=18
                )
                ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: _short(v)))
                ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: _short(v)))
            ax.set_xlabel(_label(x), fontsize=8)
            ax.set_ylabel(_label(y), fontsize=8)
        ax.set_title(target.replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3 if y is None else 0)
    for ax in list(axes.flat)[len(targets) :]:
        ax.set_visible(False)
    if y is None:
        axes[0][0].set_ylabel("P(reach target)")
        axes[0][0].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92 if image is not None else 1, 0.95))
    if image is not None:
        cax = fig.add_axes((0.935, 0.15, 0.015, 0.7))
        fig.colorbar(image, cax=cax, label="P(reach target)")
    return fig
