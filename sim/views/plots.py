"""Figures drawn from results (plotting reads results; it never runs a model)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt  # the CLI picks the Agg backend (sim/cli); a notebook its own
import numpy as np
import pandas as pd

from sim.runs.ensemble import EnsembleResult
from sim.scenario.target_kinds import KINDS
from sim.views.fonts import cjk
from sim.views.labels import (
    WAN,
    Lang,
    chart_heading,
    check_lang,
    in_lang,
    percent,
    target_phrase,
    tier_names,
    word,
)


def _panel_of(target) -> tuple[str | None, str]:
    """The (tier, run array) panel a target is drawn on (tier None: an array with no level)."""
    kind = KINDS[target.kind]
    return (target.tier if kind.per_tier else None, kind.key(target))


def _panels(result: EnsembleResult) -> list[tuple[str | None, str]]:
    """(tier, metric) per panel: every tier's holders, then one panel per other kind of target
    (new titles, cumulative titles, per tier; the cultivation pool; a counted target's own)."""
    panels: list[tuple[str | None, str]] = [(tier, "at_least") for tier in result.tiers]
    for t in sorted(result.scenario.targets, key=lambda t: (not KINDS[t.kind].per_tier, t.tier)):
        if _panel_of(t) not in panels:
            panels.append(_panel_of(t))
    return panels


def _series(runs: dict[str, np.ndarray], tiers: list[str], tier: str | None, metric: str):
    return runs[metric] if tier is None else runs[metric][:, :, tiers.index(tier) + 1]


def _is_flow(result: EnsembleResult, metric: str) -> bool:
    """Whether a panel's array is a yearly flow of a target's kind (no base-year value)."""
    return any(
        KINDS[t.kind].from_first_year and KINDS[t.kind].key(t) == metric
        for t in result.scenario.targets
    )


def _panel_title(result: EnsembleResult, tier: str | None, metric: str, names, lang: Lang) -> str:
    """A panel's title: the tier's name (with new / cumulative), the pool, or a counted
    target's quantity."""
    if tier is not None:
        title = names[tier]
        if metric in ("new", "ever"):
            short = word(metric + "_short", lang)
            title += f"（{short}）" if lang == "zh" else f" ({short})"
        return title
    if metric == "pool_size":
        return word("pool", lang)
    target = next(t for t in result.scenario.targets if _panel_of(t) == (None, metric))
    return word(KINDS[target.kind].series + "_title", lang).format(
        r=f"{100 * target.rd_intensity_min:g}"
    )


def fan_chart(result: EnsembleResult, lang: Lang = "zh", columns: int = 4) -> plt.Figure:
    """One panel per tier (firms holding at least the title) and per other kind of target
    (new or cumulative titles, the cultivation pool): median, 50 % and 90 % bands over
    replications, and every target with its probability of being reached.

    With a counterfactual, its median is drawn dashed (the same seeds with every lever off);
    a scenario without levers has none to draw (it is the forecast itself), one without targets
    no markers, and the title says so. Labels are in `lang` ("zh" or "en"), drawn in the
    shipped CJK font (`sim.views.fonts`). `columns`: panels per row at most.
    """
    check_lang(lang)
    sc = result.scenario
    names = tier_names(sc.ladder(), lang)
    prob = {r.id: r.probability for r in result.targets().itertuples()}
    panels = _panels(result)
    ncols = min(columns, len(panels))
    nrows = -(-len(panels) // ncols)
    with cjk():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.7 * ncols, 3.1 * nrows + 0.7), squeeze=False
        )
        for ax, (tier, metric) in zip(axes.flat, panels, strict=False):
            # a flow has no value in the base year
            first = 1 if metric == "new" or _is_flow(result, metric) else 0
            years = np.array(result.years[first:])
            x = _series(result.runs, result.tiers, tier, metric)[:, first:]
            q05, q25, q50, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
            ax.fill_between(
                years, q05, q95, color="tab:blue", alpha=0.18, label=word("band90", lang)
            )
            ax.fill_between(
                years, q25, q75, color="tab:blue", alpha=0.35, label=word("band50", lang)
            )
            ax.plot(years, q50, color="tab:blue", lw=2, label=word("median", lang))
            if result.counterfactual is not None and sc.has_levers:
                cf = _series(result.counterfactual, result.tiers, tier, metric)[:, first:]
                ax.plot(years, np.quantile(cf, 0.5, axis=0), color="grey", ls="--", lw=1.5,
                        label=word("levers_off", lang))  # fmt: skip
            for t in sc.targets:
                if _panel_of(t) != (tier, metric):
                    continue
                ax.plot([t.year], [t.value], marker="D", color="tab:red", ms=6, ls="none")
                if t.stretch is not None:
                    ax.vlines(t.year, t.value, t.stretch, color="tab:red", lw=2)
                ax.annotate(percent(prob[t.id]), (t.year, t.value), xytext=(5, 4),
                            textcoords="offset points", fontsize=8, color="tab:red")  # fmt: skip
            ax.set_title(_panel_title(result, tier, metric, names, lang), fontsize=10)
            ax.set_ylabel(word(metric.split(":")[0], lang), fontsize=8)
            ax.set_xticks(years)
            ax.tick_params(labelsize=8)
            ax.set_xlabel(word("year_end", lang), fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        handles, labels = axes[0][0].get_legend_handles_labels()
        handles.append(plt.Line2D([], [], marker="D", color="tab:red", ls="none"))
        labels.append(word("target", lang) + (" (达成概率)" if lang == "zh" else " (probability)"))
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
                   frameon=False)  # fmt: skip
        place = sc.place
        status = "" if sc.targets else f"（{word('no_targets', lang)}）"
        if lang == "zh":
            head = f"{place.name_zh or place.name}：{result.n_runs} 次模拟，随机种子 {result.seed}"
        else:
            head = f"{place.name}: {result.n_runs} replications, seed {result.seed}"
            status = status.replace("（", " (").replace("）", ")")
        fig.suptitle(head + status, fontsize=11)
        fig.tight_layout(rect=(0, 0.5 / (3.1 * nrows + 0.7), 1, 0.97))
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
    lang: Lang = "zh",
) -> plt.Figure:
    """Probability of reaching each target against one varied path (curve) or two (surface).

    `table` is a sweep table (`sim.runs.sweep`): one row per experiment and target. Experiments that
    share the plotted values are averaged (the mean probability over the other varied paths,
    e.g. over the futures of an uncertainty); the curve's band is +-2 Monte Carlo errors of that
    mean. Two paths on a full grid give a heatmap with each cell's probability written in it;
    sampled designs (LHS, Sobol) give a scatter coloured by probability. Labels in `lang`.
    """
    check_lang(lang)
    with cjk():
        return _sweep_chart(table, x, y, title, lang)


def _sweep_chart(table: pd.DataFrame, x: str, y: str | None, title: str, lang: Lang) -> plt.Figure:
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
            ax.plot(xs, p, marker="o", ms=3, lw=1.8, label=word("with_levers", lang))
            ax.plot(xs, d["without"], ls="--", color="grey", lw=1.2, label=word("levers_off", lang))
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
        axes[0][0].set_ylabel(word("p_reach", lang))
        axes[0][0].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.92 if image is not None else 1, 0.95))
    if image is not None:
        cax = fig.add_axes((0.935, 0.15, 0.015, 0.7))
        fig.colorbar(image, cax=cax, label=word("p_reach", lang))
    return fig


def compare_chart(comparison, lang: Lang = "zh") -> plt.Figure:
    """Plan A and plan B side by side (`sim.runs.compare.Comparison`): each target's probability
    under both, and the difference B - A with its 95 % interval (1.96 paired standard
    errors); the expected costs and their difference in the title, in 万元. Drawn in the
    shipped CJK font, labels in `lang`."""
    from sim.views.labels import target_phrase, wan

    check_lang(lang)
    table = comparison.targets()
    sa, sb = comparison.a.scenario, comparison.b.scenario
    targets = {t.id: t for t in sb.targets} | {t.id: t for t in sa.targets}
    names = tier_names(sb.ladder(), lang) | tier_names(sa.ladder(), lang)
    labels = [target_phrase(targets[tid], names[targets[tid].tier], lang) for tid in table.target]
    for k, r in enumerate(table.itertuples()):  # one id, two goals: say B's beside A's
        if r.value_a == r.value_a and r.value_b == r.value_b and r.value_a != r.value_b:
            labels[k] += f" (B: {r.value_b:g})"
    n = max(len(labels), 1)
    cost = comparison.cost()
    with cjk():
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(11, 1.2 + 0.42 * n), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
        )
        y = np.arange(len(labels))
        pa = table.probability_a.astype(float).to_numpy()
        pb = table.probability_b.astype(float).to_numpy()
        name_a, name_b = Path(comparison.label_a).name, Path(comparison.shown_b).name
        left.barh(y - 0.2, pa, height=0.4, color="tab:grey", label=f"A: {name_a}")
        left.barh(y + 0.2, pb, height=0.4, color="tab:blue", label=f"B: {name_b}")
        left.set_yticks(y, labels, fontsize=8)
        left.invert_yaxis()
        left.set_xlim(0, 1)
        left.set_xlabel(word("p_reach", lang), fontsize=9)
        left.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False)
        left.grid(axis="x", alpha=0.3)
        d = table.difference.astype(float).to_numpy()
        se = table.difference_se.astype(float).fillna(0.0).to_numpy()
        colours = ["tab:green" if v > 0 else "tab:red" if v < 0 else "grey" for v in d]
        right.barh(y, d, height=0.5, color=colours, xerr=1.96 * se, capsize=3)
        right.axvline(0, color="black", lw=0.8)
        right.set_xlabel(word("difference_b_a", lang), fontsize=9)
        right.grid(axis="x", alpha=0.3)
        reach = np.abs(d) + 1.96 * se
        reach = reach[np.isfinite(reach)]
        lim = min(1.05, max(0.05, 1.15 * float(reach.max()))) if reach.size else 0.05
        right.set_xlim(-lim, lim)
        diff = cost["difference"]
        err = cost["difference_se"] or 0.0
        money = (
            f"{word('cost_wan', lang)}: A {wan(cost['a']):,.1f}, B {wan(cost['b']):,.1f}, "
            f"B - A {wan(diff):+,.1f} (95%: ±{wan(1.96 * err):,.1f})"
        )
        runs = f"{comparison.n_runs} {word('replications', lang)}, {word('seed', lang)} "
        fig.suptitle(f"{runs}{comparison.a.seed}\n{money}", fontsize=10)
        fig.tight_layout()
    return fig


# --- scenario discovery (srdi discover) ---------------------------------------------------------

_DISCOVER_WORDS: dict[str, tuple[str, str]] = {
    "coverage": ("覆盖率(框内未达成 / 全部未达成)", "coverage (misses in the box / all misses)"),
    "density": ("密度(框内未达成的比例)", "density (share of the box's cases that miss)"),
    "trajectory": ("剥离轨迹", "peeling trajectory"),
    "limits": ("选定框的各输入范围", "the chosen boxes' limits per input"),
    "box": ("框", "box"),
    "chosen": ("选定", "chosen"),
    "position": ("在该输入的取值范围中的位置", "position in the input's range"),
    "missed": ("未达成", "missed"),
    "replication": ("次模拟", "replications"),
    "experiment": ("个试验", "experiments"),
    "no_box": ("没有找到未达成集中的区域", "no region where misses concentrate"),
}


def _dw(key: str, lang: Lang) -> str:
    return in_lang(_DISCOVER_WORDS[key], lang)


def _limit(v: float) -> str:
    """A limit as people read it: 6324.35 -> 6324, 19500 -> 19.5k, 0.1240 -> 0.124."""
    return _short(v) if abs(v) >= 1e4 else f"{v:.4g}" if abs(v) >= 1 else f"{v:.3g}"


def discover_chart(result, lang: Lang = "zh") -> plt.Figure:
    """Where a target is missed (`sim.runs.discover.Discovery`): left, each box's peeling trajectory
    (coverage against density, the chosen step ringed); right, each chosen box's limits per
    restricted input, as a bar over the input's range (0 = its lowest value over the cases,
    1 = its highest) with the limits written beside it. Labels in `lang`."""
    check_lang(lang)
    with cjk():
        return _discover_chart(result, lang)


def _discover_chart(result, lang: Lang) -> plt.Figure:
    from sim.engine.ladder import Ladder

    rows = [(k, name) for k, b in enumerate(result.boxes, start=1) for name in b.limits]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, max(4.0, 1.0 + 0.42 * len(rows))),
        gridspec_kw={"width_ratios": [1, 1.35]},
    )  # fmt: skip
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, b in enumerate(result.boxes, start=1):
        t, c = b.trajectory, colors[(k - 1) % len(colors)]
        left.plot(t["coverage"], t["density"], marker="o", ms=3, lw=1.2, color=c,
                  label=f"{_dw('box', lang)} {k}")  # fmt: skip
        left.plot([b.coverage], [b.density], marker="o", ms=11, mfc="none", mec=c, mew=2)
        right_half = b.coverage > 0.5  # the words on the side with room
        left.annotate(f"{_dw('chosen', lang)} ({b.coverage:.2f}, {b.density:.2f})",
                      (b.coverage, b.density), xytext=(-10 if right_half else 10, -14),
                      textcoords="offset points", ha="right" if right_half else "left",
                      fontsize=8, color=c)  # fmt: skip
    left.set_xlim(-0.02, 1.02)
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel(_dw("coverage", lang), fontsize=9)
    left.set_ylabel(_dw("density", lang), fontsize=9)
    left.set_title(_dw("trajectory", lang), fontsize=10)
    left.grid(alpha=0.3)
    if result.boxes:
        left.legend(fontsize=8, frameon=False, loc="lower left")
    for i, (k, name) in enumerate(rows):
        lo, hi = result.boxes[k - 1].limits[name]
        vmin, vmax = result.ranges[name]
        span = (vmax - vmin) or 1.0
        a, z = (lo - vmin) / span, (hi - vmin) / span
        c = colors[(k - 1) % len(colors)]
        right.barh(i, 1.0, left=0.0, color="0.9", height=0.6)
        right.barh(i, z - a, left=a, color=c, height=0.6, alpha=0.8)
        right.text(1.02, i, f"[{_limit(lo)}, {_limit(hi)}]  ({_limit(vmin)}–{_limit(vmax)})",
                   va="center", fontsize=8)  # fmt: skip
    right.set_yticks(range(len(rows)), [f"{_dw('box', lang)} {k}: {_label(n)}" for k, n in rows],
                     fontsize=8)  # fmt: skip
    right.set_ylim(len(rows) - 0.5, -0.5) if rows else right.set_yticks([])
    right.set_xlim(0, 1.75)
    right.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
    right.set_xlabel(_dw("position", lang), fontsize=9)
    right.set_title(_dw("limits", lang), fontsize=10)
    for side in ("top", "right"):
        right.spines[side].set_visible(False)
    if not rows:
        right.text(0.5, 0.5, _dw("no_box", lang), ha="center", va="center", fontsize=10,
                   transform=right.transAxes)  # fmt: skip
    g = result.goal
    names = tier_names(Ladder.standard(), lang)
    tier = names.get(g["tier"], g["tier"])
    phrase = target_phrase(SimpleNamespace(**g), tier, lang)
    unit = _dw(result.unit, lang)
    if lang == "zh":
        head = (f"{result.target}（{phrase}）：未达成 {result.missed} / {result.cases} "
                f"{unit}")  # fmt: skip
    else:
        head = f"{result.target} ({phrase}): missed in {result.missed} of {result.cases} {unit}"
    fig.suptitle(head, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def plan_chart(result, lang: Lang = "zh", columns: int = 4) -> plt.Figure:
    """One panel per target of a `sim.runs.plan.PlanResult`: every mix evaluated (cost in 万元,
    probability on the search seeds), the cost-probability frontier as a step line, the
    probability goal, the budget, and the answer with its probability on fresh seeds (±2
    Monte Carlo errors). Labels in `lang`, drawn in the shipped CJK font."""
    check_lang(lang)
    sc = result.scenario
    names = tier_names(sc.ladder(), lang)
    targets = {t.id: t for t in sc.targets}
    n = len(result.plans)
    ncols = min(columns, n)
    nrows = -(-n // ncols)
    with cjk():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.9 * ncols, 3.3 * nrows + 0.8), squeeze=False
        )
        for ax, plan in zip(axes.flat, result.plans, strict=False):
            t = targets[plan.target]
            cost = np.array([p.cost_yuan for p in result.points]) / WAN
            prob = np.array([p.probability[plan.target] for p in result.points])
            ax.scatter(cost, prob, s=10, color="grey", alpha=0.5, label=word("mixes", lang))
            fx = [p.cost_yuan / WAN for p in plan.frontier]
            fy = [p.probability[plan.target] for p in plan.frontier]
            ax.step(fx, fy, where="post", color="tab:blue", lw=1.5, label=word("frontier", lang))
            ax.axhline(plan.probability_goal, color="tab:red", ls=":", lw=1,
                       label=word("goal", lang))  # fmt: skip
            if result.budget_yuan is not None:
                ax.axvline(result.budget_yuan / WAN, color="black", ls="--", lw=1,
                           label=word("budget", lang))  # fmt: skip
            ax.errorbar([plan.cost_yuan / WAN], [plan.probability], yerr=[2 * plan.mc_se],
                        marker="*", ms=11, color="tab:red", capsize=3, ls="none",
                        label=word("chosen", lang))  # fmt: skip
            title = target_phrase(t, names.get(t.tier, t.tier), lang)
            if not plan.reachable:
                title += (
                    f"（{word('out_of_reach', lang)}）"
                    if lang == "zh"
                    else (f" ({word('out_of_reach', lang)})")
                )
            ax.set_title(title, fontsize=9)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel(word("cost_wan", lang), fontsize=8)
            ax.set_ylabel(word("p_reach", lang), fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
                   frameon=False)  # fmt: skip
        goal = percent(result.probability_goal)
        head = chart_heading(sc.place, "plan_title", (f"达成概率 ≥ {goal}", f"P >= {goal}"), lang)
        fig.suptitle(head, fontsize=11)
        fig.tight_layout(rect=(0, 0.4 / (3.3 * nrows + 0.8), 1, 0.96))
    return fig
