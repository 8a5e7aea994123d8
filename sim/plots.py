"""Figures drawn from results (plotting reads results; it never runs a model)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files, not windows: the CLI and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .ensemble import EnsembleResult  # noqa: E402


def fan_chart(result: EnsembleResult, metric: str = "at_least") -> plt.Figure:
    """One panel per tier: median, 50 % and 90 % bands over replications, and the targets.

    With a counterfactual, its median is drawn dashed (the same seeds with every lever off).
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
        if result.counterfactual is not None:
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
    fig.suptitle(
        # Latin name only: the default fonts have no CJK glyphs
        f"{place.name}: {result.n_runs} replications, seed {result.seed}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig
