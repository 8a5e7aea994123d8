"""The calibration's figures (`srdi calibrate`): observed against simulated series, residuals,
the posterior of the parameters, re-review pass rates, the national forecast and the hold-out.

Plotting reads a fit's results (`fit.Fit`, `posterior.Prediction`); it never runs a model.
Every figure is drawn in the shipped CJK font (`sim.views.fonts`), its words in English or Chinese
(`lang`); parameter and moment ids stay as they are in calibration/config.yaml.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calibration.fit import Fit
from sim.calibration.observed import Moment
from sim.calibration.outputs import parameter_table
from sim.calibration.posterior import Prediction
from sim.calibration.simulation import METRICS

if TYPE_CHECKING:
    from sim.calibration.backtest import BacktestResult
from sim.scenario import Scenario
from sim.views.fonts import cjk
from sim.views.labels import Lang, check_lang

# The figures' words in Chinese, by their English text (templates keep their {fields}).
ZH = {
    "little giant batches": '国家级"小巨人"每批新增',
    "little giant stock": '国家级"小巨人"存量',
    "provincial SRDI stock": "省级专精特新中小企业存量",
    "single champion stock": "制造业单项冠军存量",
    "innovative SMEs, first lists": "创新型中小企业首批名单",
    "simulated": "模拟",
    "forecast": "预测",
    "{label} 90 % band": "{label} 90% 区间",
    "{label} mean": "{label}均值",
    "lower bound": "下限",
    "interval": "区间",
    "observed (fitted)": "观测值(参与拟合)",
    "observed (not fitted)": "观测值(未参与拟合)",
    "Observed and simulated national series (90 % bands)": "全国序列:观测值与模拟值(90% 区间)",
    "batch {i}\n({year})": "第{i}批\n({year})",
    "re-review pass rates (violin: simulated; dot: observed)": "复核通过率(小提琴:模拟;点:观测)",
    "share of the batch passing its first re-review": "首次复核通过的比例",
    "log(simulated / observed) / observation sd  (lower bound: only below counts)": (
        "log(模拟/观测)/观测标准差(下限:仅低于时计入)"
    ),
    "Residuals of the fit (posterior-predictive mean)": "拟合残差(后验预测均值)",
    "estimate": "估计值",
    "shipped": "发布值",
    "Posterior sample of the calibrated parameters (x axis: search bounds)": (
        "校准参数的后验样本(横轴:搜索范围)"
    ),
    "target": "目标",
    "{tier}: new titles": "{tier}:当年新增",
    "{tier}: holding at least": "{tier}:持有该称号及以上",
    "National forecast with parameter uncertainty (calibrated, 90 % bands)": (
        "含参数不确定性的全国预测(校准后,90% 区间)"
    ),
    "model fitted before {before}": "{before}年前数据拟合的模型",
    "repeat last": "重复上一值",
    "trend": "线性趋势",
    "Hold-out: little-giant batches, fitted on years before {before}": (
        '留出检验:国家级"小巨人"每批新增,仅用{before}年前数据拟合'
    ),
}


def _t(text: str, lang: Lang, **fields: Any) -> str:
    """`text` in `lang`, its fields filled in (a missing translation is a KeyError: a bug)."""
    return (ZH[text] if lang == "zh" else text).format(**fields)


# the yearly series drawn in each panel of observed_vs_simulated.png: (metric, tier)
PANELS = {
    "little giant batches": ("new", "national_little_giant"),
    "little giant stock": ("at_least", "national_little_giant"),
    "provincial SRDI stock": ("at_least", "provincial_srdi"),
    "single champion stock": ("at_least", "single_champion"),
    "innovative SMEs, first lists": ("new", "innovative_sme"),
}


def _band(ax, years, arr, color, label, lang: Lang) -> None:
    ax.fill_between(years, np.quantile(arr, 0.05, 0), np.quantile(arr, 0.95, 0), color=color,
                    alpha=0.25, lw=0, label=_t("{label} 90 % band", lang, label=label))  # fmt: skip
    ax.plot(years, arr.mean(0), color=color, lw=1.5, label=_t("{label} mean", lang, label=label))


def _observed(ax, m: Moment, lang: Lang, color="black") -> None:
    if m.form == "lower":
        ax.plot([m.year], [m.value], marker="^", ls="", color=color, ms=8,
                label=_t("lower bound", lang))  # fmt: skip
    elif m.form == "interval":
        ax.errorbar([m.year], [m.value], yerr=[[m.value - m.low], [m.high - m.value]],
                    fmt="s", color=color, capsize=4, label=_t("interval", lang))  # fmt: skip
    else:
        filled = color if m.fitted else "white"
        label = "observed (fitted)" if m.fitted else "observed (not fitted)"
        ax.plot([m.year], [m.value], marker="o", ls="", mfc=filled, mec=color, ms=7,
                label=_t(label, lang))  # fmt: skip


def _dedupe_legend(ax, **kw) -> None:
    h, lab = ax.get_legend_handles_labels()
    seen = dict(zip(lab, h, strict=True))
    ax.legend(seen.values(), seen.keys(), fontsize=7, **kw)


def plot_fit(pred: Prediction, title: str = "", lang: Lang = "en"):
    """Observed against simulated, with 90 % bands, for each series."""
    check_lang(lang)
    with cjk():
        return _plot_fit(pred, title, lang)


def _plot_fit(pred: Prediction, title: str, lang: Lang):
    import matplotlib
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    years = np.array(pred.years[1:])
    for ax, (series, (metric, tier)) in zip(axes.flat, PANELS.items(), strict=False):
        k = pred.tiers.index(tier) + 1
        arr = pred.series[:, METRICS.index(metric), 1:, k]
        _band(ax, years, arr, "tab:blue", _t("simulated", lang), lang)
        for m in pred.moments:
            if m.series == series:
                _observed(ax, m, lang)
        ax.set_title(_t(series, lang), fontsize=10)
        ax.set_xticks(years)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        _dedupe_legend(ax, loc="upper left")
    ax = axes.flat[-1]
    _plot_pass_rates(ax, pred, lang)
    fig.suptitle(
        title or _t("Observed and simulated national series (90 % bands)", lang), fontsize=11
    )
    fig.tight_layout()
    return fig


def _plot_pass_rates(ax, pred: Prediction, lang: Lang) -> None:
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
    ticks = [_t("batch {i}\n({year})", lang, i=i + 1, year=m.year) for i, m in enumerate(ms)]
    ax.set_xticks(pos, ticks, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(_t("re-review pass rates (violin: simulated; dot: observed)", lang), fontsize=9)


def plot_re_review(pred: Prediction, lang: Lang = "en"):
    """Re-review pass rates of the first national batches: simulated (violins) and observed."""
    import matplotlib.pyplot as plt

    check_lang(lang)
    with cjk():
        fig, ax = plt.subplots(figsize=(5, 4))
        _plot_pass_rates(ax, pred, lang)
        ax.set_ylabel(_t("share of the batch passing its first re-review", lang))
        fig.tight_layout()
    return fig


def plot_residuals(pred: Prediction, lang: Lang = "en"):
    """Standardised residuals of the posterior-predictive mean, per fitted moment."""
    check_lang(lang)
    with cjk():
        return _plot_residuals(pred, lang)


def _plot_residuals(pred: Prediction, lang: Lang):
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
    ax.set_xlabel(
        _t("log(simulated / observed) / observation sd  (lower bound: only below counts)", lang)
    )
    ax.set_title(_t("Residuals of the fit (posterior-predictive mean)", lang), fontsize=10)
    fig.tight_layout()
    return fig


def plot_parameters(fit_: Fit, config: dict[str, Any], lang: Lang = "en"):
    """Posterior sample of each parameter within its search bounds, estimate and shipped value."""
    check_lang(lang)
    with cjk():
        return _plot_parameters(fit_, config, lang)


def _plot_parameters(fit_: Fit, config: dict[str, Any], lang: Lang):
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
        ax.axvline(row["estimate"], color="tab:blue", lw=1.5, label=_t("estimate", lang))
        ax.axvline(row["shipped"], color="tab:orange", lw=1.2, ls="--", label=_t("shipped", lang))
        ax.set_xlim(row["bound_low"], row["bound_high"])
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if j == 0:
            ax.legend(fontsize=7)
    fig.suptitle(
        _t("Posterior sample of the calibrated parameters (x axis: search bounds)", lang),
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_forecast(pred: Prediction, scenario: Scenario, lang: Lang = "en"):
    """Per tier: new titles and stocks through the scenario's end, with 90 % bands and targets."""
    check_lang(lang)
    with cjk():
        return _plot_forecast(pred, scenario, lang)


def _plot_forecast(pred: Prediction, scenario: Scenario, lang: Lang):
    import matplotlib
    import matplotlib.pyplot as plt

    from sim.views.labels import tier_names

    names = tier_names(scenario.ladder(), "zh") if lang == "zh" else None

    fig, axes = plt.subplots(2, len(pred.tiers), figsize=(14, 6.5))
    years = np.array(pred.years)
    for k, tier in enumerate(pred.tiers, start=1):
        for row, metric in enumerate(("new", "at_least")):
            ax = axes[row, k - 1]
            arr = pred.series[:, METRICS.index(metric), :, k]
            sl = slice(1, None) if metric == "new" else slice(None)
            _band(ax, years[sl], arr[:, sl], "tab:green", _t("forecast", lang), lang)
            for m in pred.moments:
                if m.tier == tier and m.metric == metric:
                    _observed(ax, m, lang)
            if metric == "at_least":
                for t in scenario.targets:
                    if t.tier == tier and t.kind == "stock":
                        ax.plot([t.year], [t.value], marker="*", ms=12, color="tab:red",
                                ls="", label=_t("target", lang))  # fmt: skip
            what = "{tier}: new titles" if metric == "new" else "{tier}: holding at least"
            ax.set_title(_t(what, lang, tier=names[tier] if names else tier), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            _dedupe_legend(ax, loc="upper left")
    fig.suptitle(
        _t("National forecast with parameter uncertainty (calibrated, 90 % bands)", lang),
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_holdout(table: pd.DataFrame, pred: Prediction, before: int, lang: Lang = "en"):
    """Little-giant batches: the hold-out forecast against the observed and the baselines."""
    check_lang(lang)
    with cjk():
        return _plot_holdout(table, pred, before, lang)


def _plot_holdout(table: pd.DataFrame, pred: Prediction, before: int, lang: Lang):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    years = np.array(pred.years[1:])
    k = pred.tiers.index("national_little_giant") + 1
    label = _t("model fitted before {before}", lang, before=before)
    _band(ax, years, pred.series[:, 0, 1:, k], "tab:green", label, lang)
    for m in pred.moments:
        if m.series == "little giant batches":
            _observed(ax, m, lang)
    lg = table[table.moment.str.startswith("little_giant_batch")]
    for _, r in lg.iterrows():
        for name, marker in (("repeat_last", "x"), ("trend", "+")):
            if r.get(name) is not None and r[name] == r[name]:
                ax.plot([r["year"]], [r[name]], marker=marker, ms=10, ls="", color="tab:red",
                        label=_t(name.replace("_", " "), lang))  # fmt: skip
    ax.axvline(before - 0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(years)
    title = _t(
        "Hold-out: little-giant batches, fitted on years before {before}", lang, before=before
    )
    ax.set_title(title, fontsize=10)
    _dedupe_legend(ax, loc="upper left")
    fig.tight_layout()
    return fig


def plot_backtest(result: BacktestResult, lang: str = "en"):
    """One panel per series group: observed values (triangles: lower bounds), and per origin
    the model's median with its 90 % band and the group's best naive forecast (dashed).

    Labels in `lang` ("zh" or "en"), in the shipped CJK font (`sim.views.fonts`). Returns a
    matplotlib Figure (not registered with pyplot: nothing to close).
    """
    from sim.views.fonts import cjk
    from sim.views.labels import check_lang

    check_lang(lang)
    with cjk():
        return _plot_backtest(result, lang)


def _plot_backtest(result: BacktestResult, lang: str):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from sim.calibration.backtest import GROUP_TITLES, MODEL, _group_members

    label_col = "label_zh" if lang == "zh" else "label"
    obs = result.observed
    region_of = dict(zip(obs["series"], obs["region"], strict=False))
    groups = _group_members(obs["series"].unique(), region_of)
    fig = Figure(figsize=(5.2 * len(groups), 4.6))
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    summ = result.summary
    palette = [f"C{i}" for i in range(10)]
    for ax, (g, ids) in zip(axes, groups.items(), strict=True):
        gs = summ[(summ["level"] == "group") & (summ["group"] == g)]
        naive_best = gs.dropna(subset=["best_naive"])
        best = (naive_best.groupby("best_naive")["n"].sum().idxmax() if len(naive_best)
                else None)  # fmt: skip
        for k, sid in enumerate(ids):
            color = palette[k % len(palette)]
            d = obs[obs["series"] == sid]
            label = d[label_col].iloc[0]
            pt, lw = d[d["form"] == "point"], d[d["form"] == "lower"]
            ax.plot(pt["year"], pt["value"], "o", color=color, ms=5, label=label)
            ax.plot(lw["year"], lw["value"], "^", color=color, ms=6,
                    label=label if pt.empty else None)  # fmt: skip
            f = result.forecasts[result.forecasts["series"] == sid]
            for origin in result.origins:
                m = f[(f["method"] == MODEL) & (f["origin"] == origin)].sort_values("year")
                if len(m):
                    ax.plot(m["year"], m["p50"], "-", color=color, lw=1.2)
                    ax.fill_between(m["year"], m["p05"], m["p95"], color=color, alpha=0.15, lw=0)
                if best is not None:
                    b = f[(f["method"] == best) & (f["origin"] == origin)].sort_values("year")
                    ax.plot(b["year"], b["p50"], "--", color=color, lw=0.9)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        title = GROUP_TITLES[lang][g] + (f" ({best} dashed)" if best else "")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
        if ids:
            ax.legend(fontsize=6, frameon=False, loc="upper left")
    fig.suptitle(
        "Backtest: model median and 90 % band per origin (solid), best naive (dashed)"
        if lang == "en" else "回测:各起点的模型中位数与90%区间(实线),最佳朴素预测(虚线)",
        fontsize=10,
    )  # fmt: skip
    fig.tight_layout()
    return fig
