"""A forecast as one self-contained HTML page a planner reads, prints on A4 and forwards.

The page (`srdi report`) carries, for one scenario's forecast:

* a verdict per target in plain words, in the chosen language first and the other beside it
  (`sim.views.labels.verdict`: probability, Monte Carlo error, IPCC likelihood word), and the
  probability of the stretch value where the plan states one;
* the fan chart of every target kind with the targets marked (`sim.views.plots.fan_chart`), embedded
  as a PNG data URI: the file references nothing outside itself and opens offline;
* money per lever and year in 万元, and the firms attributable to the levers with the whole
  programme's cost per extra firm; with `by_lever`, each lever's own cost per extra firm (each
  lever switched off alone, same seeds);
* the quantities fixed by `--set`, if any, under the title;
* what the model leaves out (the scenario's `not_modelled`) and the forecast's notes;
* provenance: the scenario file's SHA-256, seed, replications, package version and the
  calibration the parameters come from.

The page's text is set in the figures' font (Noto Sans CJK SC, `sim.views.fonts`), embedded as a
subset of the characters the page uses (about 100 KB): a machine with no Chinese font shows it
the same, and nothing is fetched.

Nothing in the page depends on the clock or the machine: the same scenario, seed and runs give
the same bytes (elapsed time and dates are left out on purpose).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from sim.runs.ensemble import EnsembleResult
from sim.views.fonts import font_face
from sim.views.labels import (
    Lang,
    check_lang,
    lever_name,
    percent,
    target_phrase,
    tier_names,
    verdict,
    wan,
)
from sim.yaml_io import read_yaml

FONT_FAMILY = "SRDI CJK"  # the embedded subset's name in the page's CSS
CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "SRDI CJK", sans-serif; color: #1a1a1a; max-width: 190mm;
       margin: 0 auto; font-size: 10.5pt;
       line-height: 1.45; }
h1 { font-size: 16pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; border-bottom: 1px solid #bbb; margin: 6mm 0 2mm; padding-bottom: 1mm; }
.alt { color: #666; font-size: 0.9em; }
.sub { color: #444; margin: 0 0 3mm; }
ul.verdicts { padding-left: 5mm; }
ul.verdicts li { margin: 1.2mm 0; }
.p-high { color: #1b6e2a; } .p-mid { color: #8a5a00; } .p-low { color: #a11d1d; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 2mm 0; }
th, td { border: 1px solid #ccc; padding: 1mm 1.5mm; text-align: right; }
th { background: #f1f3f5; } td.l, th.l { text-align: left; }
img { max-width: 100%; }
figure { margin: 2mm 0; page-break-inside: avoid; }
table, ul { page-break-inside: avoid; }
.prov td { text-align: left; font-family: monospace; font-size: 8.5pt; }
"""

# Headings: (zh, en)
HEADINGS = {
    "verdicts": ("结论", "Verdicts"),
    "targets": ("目标与达成概率", "Targets and probabilities"),
    "fan": ("预测区间图", "Fan charts"),
    "cost": ("资金投入（万元）", "Money spent (10,000 yuan, 万元)"),
    "attributable": ("政策带来的企业", "Firms attributable to the levers"),
    "by_lever": ("各项措施带来的企业与成本", "What each lever brings, and its cost per firm"),
    "not_modelled": ("模型未包含的措施", "What the model leaves out"),
    "notes": ("说明", "Notes"),
    "provenance": ("来源与可复现信息", "Provenance"),
}
COLUMNS = {
    "target": ("目标", "target"),
    "goal": ("目标值", "goal"),
    "probability": ("达成概率", "probability"),
    "mc_se": ("蒙特卡洛误差", "MC error"),
    "stretch": ("争取值达成概率", "P(stretch)"),
    "expected": ("期望值 [5%–95%]", "expected [5%–95%]"),
    "without": ("无政策措施时", "levers off"),
    "lever": ("措施", "lever"),
    "total": ("合计", "total"),
    "tier": ("层级", "tier"),
    "extra": ("增加企业（均值 [5%–95%]）", "extra firms (mean [5%–95%])"),
    "whole_cpf": (
        "全部措施总资金 ÷ 增加企业（万元/家）",
        "whole programme's cost per extra firm (10,000 yuan)",
    ),
    "lever_cost": ("该措施资金（万元）", "the lever's cost (10,000 yuan)"),
    "extra_se": ("增加企业（均值 ± 误差）", "extra firms (mean ± MC error)"),
    "lever_cpf": ("该措施资金 ÷ 增加企业（万元/家）", "its cost per extra firm (10,000 yuan)"),
    "measure": ("措施", "measure"),
    "clause": ("条款", "clause"),
    "reason": ("原因", "reason"),
}


def _pair(texts: tuple[str, str], lang: Lang) -> str:
    """The text in `lang`, the other language beside it in grey."""
    zh, en = (html.escape(t) for t in texts)
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first if first == second else f'{first} <span class="alt">{second}</span>'


def _one(texts: tuple[str, str], lang: Lang) -> str:
    return html.escape(texts[0] if lang == "zh" else texts[1])


def _band_class(p: float) -> str:
    return "p-high" if p >= 0.66 else "p-mid" if p >= 0.33 else "p-low"


def _figure_png(result: EnsembleResult, lang: Lang) -> str:
    import matplotlib.pyplot as plt

    from sim.views.fonts import cjk
    from sim.views.plots import fan_chart

    fig = fan_chart(result, lang, columns=2)  # two panels a row: legible on A4
    buf = io.BytesIO()
    with cjk():
        # no date or software stamp: the same forecast gives the same bytes
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _calibration() -> str:
    """Which fit the parameters come from: its file's digest and headline figures."""
    fit = resources.files("sim") / "data" / "calibration" / "fit.yaml"
    raw = fit.read_bytes()
    meta = (read_yaml(raw.decode("utf-8"), "sim/data/calibration/fit.yaml") or {}).get("meta", {})
    before = meta.get("fitted_before")
    span = f"fitted on data before {before}" if before else "fitted on every observed year"
    return (
        f"sim/data/calibration/fit.yaml sha256 {hashlib.sha256(raw).hexdigest()[:16]}; {span}; "
        f"sum of squares {meta.get('sum_of_squares')}"
    )


def build(result: EnsembleResult, scenario_file: str | Path, lang: Lang = "zh") -> str:
    """The report page of a forecast, as HTML text (see the module docstring)."""
    check_lang(lang)
    sc = result.scenario
    zh_names, en_names = tier_names(sc.ladder(), "zh"), tier_names(sc.ladder(), "en")
    names = zh_names if lang == "zh" else en_names
    targets = {t.id: t for t in sc.targets}
    table = result.targets()
    place = sc.place
    doc = sc.document
    title_zh = f"{place.name_zh or place.name}专精特新企业培育目标预测"
    title_en = f"{place.name}: will the SRDI targets be reached?"
    plan = (doc.number or doc.title) if doc is not None else None
    period = f"{sc.period.start}–{sc.period.end}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{html.escape(title_zh if lang == 'zh' else title_en)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_pair((title_zh, title_en), lang)}</h1>",
        '<p class="sub">'
        + _pair(
            (
                f"规划：{plan or '无规划文件（现状预测）'}；期间 {period}；{result.n_runs} 次模拟",
                f"Plan: {plan or 'none (status quo)'}; period {period}; "
                f"{result.n_runs} replications",
            ),
            lang,
        )
        + "</p>",
    ]
    if result.values:
        from sim.scenario import describe_settings

        changed = "; ".join(describe_settings(sc, result.values))
        parts.append(
            '<p class="sub">'
            + _pair(
                (
                    f"本预测改变了情景中的数值（--set）：{changed}",
                    f"Changed from the scenario (--set): {changed}",
                ),
                lang,
            )  # fmt: skip
            + "</p>"
        )
    parts.append(f"<h2>{_pair(HEADINGS['verdicts'], lang)}</h2>")
    if table.empty:
        parts.append(
            "<p>"
            + _pair(
                ("该情景未设定目标：仅预测各层级数量。", "The scenario states no targets."), lang
            )
            + "</p>"
        )
    else:
        parts.append('<ul class="verdicts">')
        for r in table.itertuples():
            t = targets[r.id]
            zh = verdict(t, zh_names[t.tier], r.probability, r.mc_se, "zh")
            en = verdict(t, en_names[t.tier], r.probability, r.mc_se, "en")
            if t.stretch is not None:
                sp = percent(r.stretch_probability)
                zh += f"；争取值{t.stretch:g}家的达成概率 {sp}"
                en += f"; stretch value {t.stretch:g}: {sp}"
            parts.append(f'<li class="{_band_class(r.probability)}">{_pair((zh, en), lang)}</li>')
        parts.append("</ul>")
        parts.append(_target_table(result, table, targets, names, lang))
    parts += [
        f"<h2>{_pair(HEADINGS['fan'], lang)}</h2>",
        f'<figure><img alt="fan chart" src="data:image/png;base64,{_figure_png(result, lang)}">'
        "</figure>",
        f"<h2>{_pair(HEADINGS['cost'], lang)}</h2>",
        _cost_table(result, lang),
        f"<h2>{_pair(HEADINGS['attributable'], lang)}</h2>",
        _attributable_table(result, names, lang),
        f"<h2>{_pair(HEADINGS['by_lever'], lang)}</h2>",
        _lever_table(result, names, lang),
    ]
    if sc.not_modelled:
        parts.append(f"<h2>{_pair(HEADINGS['not_modelled'], lang)}</h2>")
        head = "".join(f'<th class="l">{_one(COLUMNS[k], lang)}</th>'
                       for k in ("measure", "clause", "reason"))  # fmt: skip
        rows = "".join(
            f'<tr><td class="l">{html.escape(m.measure)}</td><td class="l">'
            f'{html.escape(m.source)}</td><td class="l">{html.escape(m.reason)}</td></tr>'
            for m in sc.not_modelled
        )
        parts.append(f"<table><tr>{head}</tr>{rows}</table>")
    notes = result.notes()
    if notes:
        parts.append(f"<h2>{_pair(HEADINGS['notes'], lang)}</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in notes]
        parts.append("</ul>")
    parts.append(f"<h2>{_pair(HEADINGS['provenance'], lang)}</h2>")
    parts.append(_provenance(result, scenario_file))
    parts.append("</body></html>")
    page = "\n".join(parts) + "\n"
    css = font_face(re.sub(r"base64,[A-Za-z0-9+/=]+", "", page), FONT_FAMILY)
    return page.replace("<style>", f"<style>{css}", 1)


def _target_table(result, table, targets, names, lang: Lang) -> str:
    keys = ["target", "goal", "probability", "mc_se", "stretch", "expected"]
    has_cf = "probability_without_levers" in table and result.scenario.has_levers
    if has_cf:
        keys.append("without")
    head = "".join(
        f'<th class="{"l" if k == "target" else ""}">{_one(COLUMNS[k], lang)}</th>' for k in keys
    )
    rows = []
    for r in table.itertuples():
        t = targets[r.id]
        cells = [
            f'<td class="l">{html.escape(target_phrase(t, names[t.tier], lang))}</td>',
            f"<td>{t.value:g}" + (f"–{t.stretch:g}" if t.stretch is not None else "") + "</td>",
            f"<td>{percent(r.probability)}</td>",
            f"<td>±{100 * r.mc_se:.1f}%</td>",
            f"<td>{percent(r.stretch_probability) if t.stretch is not None else ''}</td>",
            f"<td>{r.expected:,.1f} [{r.p05:,.0f}–{r.p95:,.0f}]</td>",
        ]
        if has_cf:
            cells.append(f"<td>{percent(r.probability_without_levers)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _cost_table(result: EnsembleResult, lang: Lang) -> str:
    cost = result.cost()
    if cost.empty:
        return (
            "<p>" + _pair(("本情景的措施不涉及资金支出。", "No lever spends money."), lang) + "</p>"
        )
    pivot = cost.pivot_table(index="lever", columns="year", values="mean_yuan", aggfunc="sum")
    pivot = pivot.fillna(0.0)
    years = list(pivot.columns)
    head = f'<th class="l">{_one(COLUMNS["lever"], lang)}</th>' + "".join(
        f"<th>{y}</th>" for y in years
    )
    head += f"<th>{_one(COLUMNS['total'], lang)}</th>"
    rows = []
    for lever, row in pivot.iterrows():
        cells = "".join(f"<td>{wan(v):,.1f}</td>" for v in row)
        rows.append(
            f'<tr><td class="l">{html.escape(lever_name(str(lever), lang))}</td>{cells}'
            f"<td>{wan(row.sum()):,.1f}</td></tr>"
        )
    total = result.total_cost()
    col = pivot.sum(axis=0)
    rows.append(
        f'<tr><th class="l">{_one(COLUMNS["total"], lang)}</th>'
        + "".join(f"<th>{wan(v):,.1f}</th>" for v in col)
        + f"<th>{wan(total.mean()):,.1f}</th></tr>"
    )
    band = _pair(
        (
            f"总额 90% 区间：{wan(np.quantile(total, 0.05)):,.1f}–"
            f"{wan(np.quantile(total, 0.95)):,.1f} 万元（上表为各次模拟的均值）",
            f"Total, 90 % band: {wan(np.quantile(total, 0.05)):,.1f}–"
            f"{wan(np.quantile(total, 0.95)):,.1f} (10,000 yuan); the table gives means",
        ),
        lang,
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table><p>{band}</p>"


def _attributable_table(result: EnsembleResult, names: dict[str, str], lang: Lang) -> str:
    att = result.attributable()
    if not result.scenario.has_levers or att.empty:
        why = (
            ("本情景无政策措施：无政策时的预测即为本预测。", "No levers: nothing to attribute.")
            if not result.scenario.has_levers
            else ("未运行无政策措施的对照。", "The counterfactual was not run.")
        )
        return f"<p>{_pair(why, lang)}</p>"
    att = att[att.metric == "at_least"]
    head = (
        f'<th class="l">{_one(COLUMNS["tier"], lang)}</th><th>{_one(COLUMNS["extra"], lang)}</th>'
        f"<th>{_one(COLUMNS['whole_cpf'], lang)}</th>"
    )
    rows = "".join(
        f'<tr><td class="l">{html.escape(names.get(r.tier, r.tier))}</td>'
        f"<td>{r.mean:,.1f} [{r.p05:,.0f}–{r.p95:,.0f}]</td>"
        f"<td>{_money(r.whole_programme_cost_per_extra_firm_yuan)}</td></tr>"
        for r in att.itertuples()
    )
    year = result.years[-1]
    say = _pair(
        (
            f"{year}年末持有该称号及以上的企业，与相同随机数下关闭全部措施的对照之差。"
            "末列为全部措施的总资金除以该层级增加的企业数：同一笔资金分别除以各层级，"
            "不是该层级一家企业的价格。",
            f"Firms holding at least the title at the end of {year}, minus the same seeds with "
            "every lever off. The last column divides the whole programme's money by each "
            "tier's extra firms in turn: it is not the price of a firm of that tier.",
        ),
        lang,
    )
    return f"<p>{say}</p><table><tr>{head}</tr>{rows}</table>"


def _money(yuan) -> str:
    """万元 with one decimal, or a dash where there is no figure (no extra firm)."""
    return "–" if yuan is None or yuan != yuan else f"{wan(yuan):,.1f}"


def _lever_table(result: EnsembleResult, names: dict[str, str], lang: Lang) -> str:
    """Each lever switched off alone on the same seeds: its cost, the firms it adds per tier
    and its own cost per extra firm."""
    table = result.lever_attribution()
    if result.lever_off is None:
        return "<p>" + _pair(("未逐项关闭措施运行（srdi report --by-lever）。",
                              "Not run: srdi report --by-lever."), lang) + "</p>"  # fmt: skip
    if table.empty:
        return "<p>" + _pair(("本情景无政策措施。", "No levers."), lang) + "</p>"
    keys = ("lever", "lever_cost", "tier", "extra_se", "lever_cpf")
    head = "".join(
        f'<th class="{"l" if k in ("lever", "tier") else ""}">{_one(COLUMNS[k], lang)}</th>'
        for k in keys
    )
    rows = []
    for lever, group in table[table.metric == "at_least"].groupby("lever", sort=False):
        for i, r in enumerate(group.itertuples()):
            first = (
                f'<td class="l" rowspan="{len(group)}">{html.escape(lever_name(lever, lang))}'
                f'</td><td rowspan="{len(group)}">{_money(r.lever_cost_yuan)}</td>'
                if i == 0
                else ""
            )
            rows.append(
                f'<tr>{first}<td class="l">{html.escape(names.get(r.tier, r.tier))}</td>'
                f"<td>{r.extra_firms:,.1f} ± {r.mc_se:,.1f}</td>"
                f"<td>{_money(r.cost_per_extra_firm_yuan)}</td></tr>"
            )
    year = result.years[-1]
    say = _pair(
        (
            f"每项措施单独关闭（相同随机数）：{year}年末持有该称号及以上的企业因该措施增加的数量，"
            "及该措施自身资金除以增加的企业数。措施之间相互作用，各项之和不必等于全部措施的合计。",
            f"Each lever switched off alone (same seeds): the firms holding at least the title "
            f"at the end of {year} that the lever adds, and the lever's own money per extra "
            "firm. Levers interact: their extra firms need not add up to the whole programme's.",
        ),
        lang,
    )
    return f"<p>{say}</p><table><tr>{head}</tr>{''.join(rows)}</table>"


def _provenance(result: EnsembleResult, scenario_file: str | Path) -> str:
    raw = Path(scenario_file).read_bytes()
    rows = [
        ("scenario", f"{Path(scenario_file).name} sha256 {hashlib.sha256(raw).hexdigest()}"),
        ("seed", str(result.seed)),
        ("replications", str(result.n_runs)),
        ("srdi-sim", metadata.version("srdi-sim")),
        ("calibration", _calibration()),
    ]
    body = "".join(f"<tr><th class='l'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="prov">{body}</table>'
