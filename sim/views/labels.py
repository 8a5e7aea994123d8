"""Words a person reads, in Chinese or English: tier names, target phrases, verdicts, money.

Tier names come from the scenario's ladder (`sim/data/ladder.yaml`: `name_zh` and `name`, or
the scenario's own renaming and local tiers): this module only picks them by language. The
verdict words follow the IPCC likelihood scale (Mastrandrea et al. 2010, IPCC AR5 guidance
note on uncertainties): very likely >= 90 %, likely >= 66 %, about as likely as not 33-66 %,
unlikely < 33 %, very unlikely < 10 %. Money shown to people is in 万元 (10,000 yuan);
JSON keeps yuan.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = ("zh", "en")

# Figure and table words. Keys are what the code means; values (zh, en).
WORDS: dict[str, tuple[str, str]] = {
    "median": ("中位数", "median"),
    "band90": ("90% 区间", "90 % band"),
    "band50": ("50% 区间", "50 % band"),
    "levers_off": ("无政策措施(中位数)", "levers off (median)"),
    "target": ("目标", "target"),
    "year_end": ("年末", "year end"),
    "at_least": ("持有该称号及以上的企业(家)", "firms holding at least the title"),
    "new": ("当年新增认定(家)", "newly recognised in the year"),
    "ever": ("累计认定(家)", "ever recognised (cumulative)"),
    "pool_size": ("培育库企业(家)", "firms in the cultivation pool"),
    "rd_intensive": ("研发强度达标企业当年净增(家)", "net increase of R&D-intensive firms"),
    "rd_intensive_title": ("研发投入强度{r}%以上的中小企业", "SMEs with R&D intensity >= {r} %"),
    "new_short": ("新增", "new"),
    "ever_short": ("累计", "cumulative"),
    "pool": ("培育库", "cultivation pool"),
    "replications": ("次模拟", "replications"),
    "seed": ("随机种子", "seed"),
    "no_targets": ("无目标:现状预测", "no targets: status quo"),
    "p_reach": ("达成概率", "P(reach target)"),
    "with_levers": ("有政策措施", "with levers"),
    "difference_b_a": ("达成概率之差 B − A（95% 区间）", "difference B − A (95 % interval)"),
    "cost_wan": ("预期总成本（万元）", "expected total cost (10,000 yuan, 万元)"),
    "funnel": ("各环节企业数(家，模拟均值，对数坐标)", "firms per stage (mean, log scale)"),
    "funnel_title": ("认定漏斗", "funnel of each title"),
    "relax_title": ("若只放开一个环节的达成概率", "P(reach) if one stage alone is relaxed"),
    "binding": ("制约环节", "binding"),
    "none_binds": ("无制约环节", "none binds"),
    "year": ("年份", "year"),
    "mixes": ("已评估的政策组合", "mixes evaluated"),
    "frontier": ("成本—概率前沿", "cost-probability frontier"),
    "chosen": ("所选组合(新种子复核, ±2 标准误)", "answer (fresh seeds, ±2 se)"),
    "goal": ("目标概率", "probability goal"),
    "budget": ("预算上限", "budget"),
    "out_of_reach": ("范围内无法达成", "out of reach"),
    "plan_title": ("达成目标的最低成本政策组合", "the cheapest mix reaching each target"),
}

# `srdi diagnose`: the funnel's stages and the relaxations, (zh, en)
FUNNEL_WORDS: dict[str, tuple[str, str]] = {
    "candidates": ("可申报企业", "candidates"),
    "eligible": ("符合条件", "eligible"),
    "applied": ("申报", "applied"),
    "titled": ("获认定", "titled"),
    "titles_available": ("可用名额", "places available"),
    "rivals": ("外地竞争者", "rivals from outside"),
    "lost": ("复核失去称号", "lost at re-review"),
    "closed": ("关停退出", "closed"),
    "brought_in": ("引进", "brought in"),
}
RELAX_WORDS: dict[str, tuple[str, str]] = {
    "plan": ("按计划", "as planned"),
    "apply": ("符合条件者全部申报", "every eligible firm applies"),
    "titles": ("名额不限", "unlimited titles"),
    "re_review": ("复核不失去称号", "no re-review losses"),
    "closures": ("无企业关停", "no closures"),
    "budget": ("奖励预算不设上限", "no awards budget cap"),
    "bring_in": ("计划引进全部落地", "every planned firm brought in"),
    "all": ("全部放开", "all relaxed"),
}


def in_lang(pair: tuple[str, str], lang: Lang) -> str:
    """The text of a (Chinese, English) pair in `lang`: every word table of the project is
    made of such pairs."""
    return pair[0] if lang == "zh" else pair[1]


def stage_word(key: str, lang: Lang) -> str:
    """A funnel stage's or a relaxation's name in `lang` (`srdi diagnose`)."""
    return in_lang(FUNNEL_WORDS.get(key) or RELAX_WORDS[key], lang)


# (lower bound of the probability, zh, en), checked from the top
_LIKELIHOOD = (
    (0.90, "很可能达成", "very likely"),
    (0.66, "可能达成", "likely"),
    (0.33, "达成与否可能性相当", "about as likely as not"),
    (0.10, "不太可能达成", "unlikely"),
    (0.00, "很不可能达成", "very unlikely"),
)


def check_lang(lang: str) -> Lang:
    """`lang` if it is one of LANGS, else a ValueError naming the choices."""
    if lang not in LANGS:
        raise ValueError(f"language: expected one of {', '.join(LANGS)}, found {lang!r}")
    return lang  # type: ignore[return-value]


def word(key: str, lang: Lang) -> str:
    """A figure or table word in `lang`."""
    return in_lang(WORDS[key], lang)


def chart_heading(place, key: str, detail: tuple[str, str], lang: Lang) -> str:
    """A chart's heading: the place, the figure's words (`WORDS[key]`) and a detail in brackets,
    e.g. 鹤壁市：认定漏斗（200 次模拟） or Hebi: funnel of each title (200 replications)."""
    if lang == "zh":
        return f"{place.name_zh or place.name}：{word(key, lang)}（{detail[0]}）"
    return f"{place.name}: {word(key, lang)} ({detail[1]})"


def lever_name(lever: str, lang: Lang) -> str:
    """A lever's name in `lang` (its id if it has none)."""
    from sim.levers import LEVER_CLASSES  # each lever's module holds its words

    cls = LEVER_CLASSES.get(lever)
    return in_lang(cls.words if cls is not None else (lever, lever), lang)


def tier_names(ladder, lang: Lang) -> dict[str, str]:
    """Tier id -> its name in `lang`, from a `sim.engine.ladder.Ladder` (`name_zh` and `name`; a
    local tier with no Chinese name keeps the name it has)."""
    return {t.id: (t.name_zh or t.name) if lang == "zh" else t.name for t in ladder.tiers}


def target_phrase(target, tier_name: str, lang: Lang) -> str:
    """'2025年国家级专精特新"小巨人"20家' / '20 national little giant in 2025'."""
    v = f"{target.value:g}"
    if lang == "en" and target.value != 1 and tier_name[-1:].isascii() and tier_name[-1:].isalpha():
        tier_name += "s"  # 20 national little giants
    # imported here: sim.scenario loads the engine (numba, scipy), which `srdi --help` and
    # every module that only needs LANGS or WAN should not wait for
    from sim.scenario.target_kinds import KINDS

    kind = KINDS[target.kind]
    pattern = kind.phrase_zh if lang == "zh" else kind.phrase_en
    # the R&D threshold of an rd_intensive_new target; a sweep's table row does not carry it
    threshold = getattr(target, "rd_intensity_min", None)
    r = f"{100 * threshold:g}" if threshold is not None else "…"
    return pattern.format(y=target.year, tier=tier_name, v=v, r=r)


def likelihood(p: float, lang: Lang) -> str:
    """The IPCC likelihood word for a probability."""
    for low, zh, en in _LIKELIHOOD:
        if p >= low:
            return zh if lang == "zh" else en
    raise ValueError(f"probability: expected a number in [0, 1], found {p!r}")


def percent(p: float) -> str:
    """0.3125 -> '31%'; 0.004 -> '0.4%'; 0.9996 -> '99.96%': never shows 0 % or 100 % unless
    the probability is exactly that."""
    x = 100 * p
    if x in (0, 100) or 1 <= x <= 99:
        return f"{x:.0f}%"
    if x < 1:
        return f"{x:.1g}%"
    k = 1
    while round(x, k) >= 100:
        k += 1
    return f"{x:.{k}f}%"


def verdict(target, tier_name: str, probability: float, mc_se: float, lang: Lang) -> str:
    """One line a planner reads, e.g. '2025年国家级专精特新"小巨人"20家：达成概率 31%（±1.5%），
    不太可能达成'."""
    phrase = target_phrase(target, tier_name, lang)
    se = f"{100 * mc_se:.1f}%"
    word_ = likelihood(probability, lang)
    if lang == "zh":
        return f"{phrase}：达成概率 {percent(probability)}（±{se}），{word_}"
    return f"{phrase}: probability {percent(probability)} (±{se}), {word_}"


WAN = 1e4  # yuan in one 万元, the unit Chinese budgets are stated in


def wan(yuan: float) -> float:
    """Yuan -> 万元 (10,000 yuan)."""
    return yuan / WAN


def wan_text(yuan: float) -> str:
    """A sum of money for people: '1,234.5 万元'."""
    return f"{wan(yuan):,.1f} 万元"
