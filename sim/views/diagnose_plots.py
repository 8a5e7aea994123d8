"""Figures of `srdi diagnose`: each target title's funnel, and P(reach) under each relaxation.

Drawn from a finished `Diagnosis` (they never run the model), in the shipped CJK font, with
words in `lang`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from sim.runs.diagnose import Diagnosis
from sim.views.fonts import cjk
from sim.views.labels import (
    Lang,
    chart_heading,
    check_lang,
    stage_word,
    target_phrase,
    tier_names,
    word,
)

BARS = ("candidates", "eligible", "applied", "titled", "lost", "closed", "brought_in")
COLOURS = {
    "candidates": "#c6dbef",
    "eligible": "#6baed6",
    "applied": "#2171b5",
    "titled": "#08306b",
    "lost": "#fd8d3c",
    "closed": "#a63603",
    "brought_in": "#74c476",
}
MARKERS = {"apply": "^", "titles": "s", "re_review": "D", "closures": "v", "budget": "P",
           "bring_in": "X"}  # fmt: skip


def funnel_chart(d: Diagnosis, lang: Lang = "zh", columns: int = 2) -> plt.Figure:
    """One panel per title a target counts: for each simulated year, grouped bars of the funnel
    (candidates, eligible, applied, titled, lost at re-review, closed, brought in; means over
    the plan's replications, log scale) and, for a rationed title, the places available as a
    black bar across the group (for a city, its province's places, shared with rivals)."""
    check_lang(lang)
    f = d.funnel()
    tiers = list(dict.fromkeys(f["tier"]))
    names = tier_names(d.scenario.ladder(), lang)
    ncols = min(columns, len(tiers))
    nrows = -(-len(tiers) // ncols)
    with cjk():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(6.2 * ncols, 3.6 * nrows + 0.8), squeeze=False
        )
        for ax, tier in zip(axes.flat, tiers, strict=False):
            rows = f[f["tier"] == tier]
            years = rows["year"].to_numpy()
            shown = [b for b in BARS if b != "brought_in" or rows[b].any()]
            width = 0.8 / len(shown)
            x = np.arange(len(years))
            for j, stage in enumerate(shown):
                ax.bar(x - 0.4 + (j + 0.5) * width, rows[stage].to_numpy(), width,
                       color=COLOURS[stage], label=stage_word(stage, lang))  # fmt: skip
            places = rows["titles_available"].to_numpy()
            if np.isfinite(places).any():
                ax.hlines(places, x - 0.45, x + 0.45, color="black", lw=2,
                          label=stage_word("titles_available", lang))  # fmt: skip
            ax.set_yscale("log")
            top = np.nanmax(
                np.concatenate([rows[list(shown)].to_numpy().ravel(), places[np.isfinite(places)]])
            )
            ax.set_ylim(0.1, max(top, 1.0) * 2.5)
            ax.set_xticks(x, [str(y) for y in years])
            ax.set_title(names[tier], fontsize=10)
            ax.set_ylabel(word("funnel", lang), fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(axis="y", alpha=0.3)
        for ax in list(axes.flat)[len(tiers) :]:
            ax.set_visible(False)
        handles, labels = {}, {}
        for ax in axes.flat[: len(tiers)]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
        labels = list(handles)
        fig.legend([handles[k] for k in labels], labels, loc="lower center", ncol=len(labels),
                   fontsize=8, frameon=False)  # fmt: skip
        runs = (f"{d.n_runs} 次模拟", f"{d.n_runs} replications")
        fig.suptitle(chart_heading(d.scenario.place, "funnel_title", runs, lang), fontsize=11)
        fig.tight_layout(rect=(0, 0.6 / (3.6 * nrows + 0.8), 1, 0.97))
    return fig


def relaxation_chart(d: Diagnosis, lang: Lang = "zh") -> plt.Figure:
    """One row per target (named in `lang`): P(reach) as planned (black dot), with each stage
    relaxed alone (a marker per stage; the binding one ringed in red) and with every stage
    relaxed (grey bar)."""
    check_lang(lang)
    targets = d.targets()
    n = max(len(targets), 1)
    with cjk():
        fig, ax = plt.subplots(figsize=(8.5, 0.45 * n + 1.8))
        for i, t in enumerate(targets):
            y = n - 1 - i
            every = t["probability_all_relaxed"]
            if every is not None:
                ax.barh(y, every, height=0.6, color="0.88", zorder=0,
                        label=stage_word("all", lang) if i == 0 else None)  # fmt: skip
            ax.plot([t["probability"]], [y], "o", color="black", ms=7, zorder=3,
                    label=stage_word("plan", lang) if i == 0 else None)  # fmt: skip
            for k, s in enumerate(t["stages"]):
                ax.plot([s["probability_if_relaxed"]], [y], MARKERS[s["stage"]], ms=6,
                        color=f"C{k}", alpha=0.85, zorder=2,
                        label=stage_word(s["stage"], lang) if i == 0 else None)  # fmt: skip
                if s["stage"] == t["binding"]:
                    first = not _has_binding(targets, i)  # the ring's legend entry, once
                    ax.plot([s["probability_if_relaxed"]], [y], "o", ms=13, mfc="none",
                            mec="tab:red", mew=1.5, zorder=4,
                            label=word("binding", lang) if first else None)  # fmt: skip
        names = tier_names(d.scenario.ladder(), lang)
        phrases = [target_phrase(t, names.get(t.tier, t.tier), lang) for t in d.scenario.targets]
        ax.set_yticks(range(n), list(reversed(phrases)) or [""], fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel(word("p_reach", lang), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        if targets:
            ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:  # nothing to relax: say so rather than draw empty axes
            ax.text(0.5, 0.5, word("no_targets", lang), ha="center", va="center", fontsize=9,
                    transform=ax.transAxes)  # fmt: skip
        seeds = ("相同随机种子", "same seeds")
        ax.set_title(chart_heading(d.scenario.place, "relax_title", seeds, lang), fontsize=10)
        fig.tight_layout()
    return fig


def _has_binding(targets: list[dict], i: int) -> bool:
    """Whether a target before row `i` already put the 'binding' ring in the legend."""
    return any(t["binding"] is not None for t in targets[:i])
