"""The chart of `srdi sensitivity`: per target, its inputs ranked by influence.

Sobol: horizontal bars of the total index ST with the first-order index S1 beside it, each
with its 95 % bootstrap interval. Morris: bars of mu_star with its interval, sigma beside it.
Drawn in the shipped CJK font with labels in Chinese or English; plotting reads results only.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from sim.runs.sensitivity import SensitivityResult
from sim.views.fonts import cjk
from sim.views.labels import Lang, check_lang, in_lang, target_phrase, tier_names

TOP = 12  # inputs shown per chart: the most influential

WORDS: dict[str, tuple[str, str]] = {
    "ST": ("总效应指数 ST", "total-order index ST"),
    "S1": ("一阶指数 S1", "first-order index S1"),
    "mu_star": ("μ*（平均绝对基本效应）", "μ* (mean absolute elementary effect)"),
    "sigma": ("σ（交互或非线性）", "σ (interactions or non-linearity)"),
    "sobol_axis": ("方差份额", "share of the outcome's variance"),
    "morris_axis": ("对目标年数量的效应(家)", "effect on the count at the target year (firms)"),
    "title": ("影响最大的不确定输入", "what matters most"),
    "converged": ("已收敛", "converged"),
    "not_converged": ("未收敛", "not converged"),
    "no_variation": ("该目标的结果在设计中无变化", "the outcome does not vary over the design"),
}
KIND_WORDS: dict[str, tuple[str, str]] = {
    "range": ("区间", "range"),
    "calibrated": ("校准", "calibrated"),
    "batch": ("批次", "batch"),
}


def _w(key: str, lang: Lang) -> str:
    return in_lang(WORDS[key], lang)


def chart(result: SensitivityResult, target_id: str, lang: Lang = "zh", top: int = TOP):
    """One target's inputs, most influential at the top (at most `top` of them), drawn in the
    shipped CJK font."""
    lang = check_lang(lang)
    with cjk():
        return _chart(result, target_id, lang, top)


def _chart(result: SensitivityResult, target_id: str, lang: Lang, top: int):
    target = next(t for t in result.scenario.targets if t.id == target_id)
    names = tier_names(result.scenario.ladder(), lang)
    rows = result.ranking(target_id).head(top)
    sobol = result.method == "sobol"
    first, second = ("ST", "S1") if sobol else ("mu_star", "sigma")
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * max(len(rows), 3) + 1.6))
    y = np.arange(len(rows))[::-1]
    h = 0.38
    a = rows[first].to_numpy(dtype=float)
    b = rows[second].to_numpy(dtype=float)
    a_err = rows[f"{first}_conf"].to_numpy(dtype=float)
    b_err = rows["S1_conf"].to_numpy(dtype=float) if sobol else None
    if np.all(np.isnan(a)):
        ax.text(0.5, 0.5, _w("no_variation", lang), ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    else:
        ax.barh(y + h / 2, np.nan_to_num(a), h, xerr=np.nan_to_num(a_err), color="#1f5fa8",
                capsize=2, label=_w(first, lang))  # fmt: skip
        ax.barh(y - h / 2, np.nan_to_num(b), h,
                xerr=None if b_err is None else np.nan_to_num(b_err),
                color="#9ecae1", capsize=2, label=_w(second, lang))  # fmt: skip
        ax.legend(loc="lower right", fontsize=8)
    kinds = {k: in_lang(pair, lang) for k, pair in KIND_WORDS.items()}
    labels = [f"{n} [{kinds[k]}]" for n, k in zip(rows["input"], rows["kind"], strict=True)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(_w("sobol_axis" if sobol else "morris_axis", lang))
    if sobol:
        ax.set_xlim(left=min(0.0, float(np.nanmin(np.r_[a - a_err, b - b_err, 0.0]))))
    ax.axvline(0, color="0.3", lw=0.6)
    conv = result.convergence
    change = conv["by_target"].get(target_id)  # this target's own check
    ok = change is not None and change <= conv["threshold"]
    status = _w("converged" if ok else "not_converged", lang)
    sub = (
        f"{result.method}, N={result.samples}, "
        + (
            f"每点 {result.runs} 次模拟"
            if lang == "zh"
            else f"{result.runs} run{'s' if result.runs != 1 else ''} per point"
        )
        + (f"; N/2→N: {change:.3f} ({status})" if change is not None else "")
    )
    place = result.scenario.place
    where = place.name_zh if lang == "zh" and place.name_zh else place.name
    ax.set_title(
        f"{where}: {target_phrase(target, names.get(target.tier, target.tier), lang)}\n"
        f"{_w('title', lang)} ({sub})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
