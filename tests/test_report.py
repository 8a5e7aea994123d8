"""The bilingual report page and the words and font behind every figure (sim/views/report.py,
sim/views/labels.py, sim/views/fonts.py, sim/views/plots.py)."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, MISSING
from cli_helper import srdi

from sim.runs.ensemble import run_ensemble
from sim.scenario import load
from sim.views import labels

ROOT = Path(__file__).resolve().parent.parent
HEBI = ROOT / "scenarios" / "hebi.yaml"


@pytest.fixture(scope="module")
def hebi_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    r = srdi("report", HEBI, "--out", out, "--runs", "30", "--seed", "3", "-w", "1")
    assert r.returncode == 0, r.stderr
    return out / "report.html"


def _text(page: str) -> str:
    """The page without its embedded data (font, image)."""
    return re.sub(r"base64,[A-Za-z0-9+/=]+", "", page)


# --- the page -------------------------------------------------------------------------------


def test_report_is_one_file_with_verdicts_in_chinese_first(hebi_page):
    page = hebi_page.read_text(encoding="utf-8")
    assert list(hebi_page.parent.iterdir()) == [hebi_page]  # one file, no temporaries
    assert oct(hebi_page.stat().st_mode & 0o777) == "0o644"
    # a verdict per target: Chinese first, English beside it
    sc = load(HEBI)
    assert page.count("达成概率") >= len(sc.targets)
    first = re.search(r'<li class="p-\w+">(.*?)</li>', page).group(1)
    assert first.startswith("2024年创新型中小企业220家：达成概率 ")
    assert '<span class="alt">220 innovative SMEs in 2024: probability ' in first
    for heading in ("资金投入（万元）", "政策带来的企业", "模型未包含的措施", "来源与可复现信息"):
        assert heading in page
    for m in sc.not_modelled:  # what the model leaves out, from the scenario
        assert labels_escape(m.reason) in page
    digest = __import__("hashlib").sha256(HEBI.read_bytes()).hexdigest()
    assert digest in page


def labels_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_report_references_nothing_outside_the_file(hebi_page):
    page = hebi_page.read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs, "the page embeds its chart and font"
    assert all(r.startswith("data:") for r in refs), [r[:40] for r in refs]
    assert "<script" not in page and "<link" not in page and "@import" not in page


def test_embedded_font_has_every_character_of_the_page(hebi_page):
    """No character of the page falls back to a font the reader's machine may lack."""
    from fontTools.ttLib import TTFont

    page = hebi_page.read_text(encoding="utf-8")
    data = re.search(r"url\(data:font/otf;base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
    body = re.sub(r"<[^>]+>", "", _text(page.split("</style>", 1)[1]))
    missing = {c for c in body if not c.isspace() and ord(c) not in cmap}
    assert not missing, sorted(missing)
    assert "国" in body and ord("国") in cmap


def test_same_seed_same_page(tmp_path, hebi_page):
    out = tmp_path / "again"
    r = srdi("report", HEBI, "--out", out, "--runs", "30", "--seed", "3", "-w", "1")
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").read_bytes() == hebi_page.read_bytes()


def test_english_page_reads_english_first(tmp_path):
    out = tmp_path / "en"
    r = srdi("report", HEBI, "--out", out, "--runs", "5", "--lang", "en", "-w", "1")
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    first = re.search(r'<li class="p-\w+">(.*?)</li>', page).group(1)
    assert first.startswith("220 innovative SMEs in 2024: probability ")


def test_report_refuses_a_bad_language_and_an_unwritable_folder(tmp_path):
    r = srdi("report", HEBI, "--out", tmp_path / "x", "--lang", "fr")
    assert r.returncode == 2 and "fr" in r.stderr
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = srdi("report", HEBI, "--out", blocker, "--runs", "2")
    assert r.returncode == 2 and "--out" in r.stderr
    assert blocker.read_text() == "not a folder"  # nothing written over it


def test_page_renders_in_headless_chromium_with_chinese(hebi_page, tmp_path):
    """What a reader sees: Chromium, on a machine with no Chinese font installed, draws the
    page; the screenshot has text and the chart (not blank), and the page's text is in the
    embedded font (the test above), so no character shows as a box."""
    if not CHROMIUM.exists():
        pytest.fail(MISSING)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), *CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1000,1400", f"--screenshot={shot}", hebi_page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (1400, 1000)
    ink = (image[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.01 < ink < 0.5, ink  # text and lines on a white page


# --- words ----------------------------------------------------------------------------------


def test_tier_names_come_from_the_ladder_in_each_language():
    sc = load(HEBI)
    zh, en = labels.tier_names(sc.ladder(), "zh"), labels.tier_names(sc.ladder(), "en")
    assert zh["innovative_sme"] == "创新型中小企业"
    assert zh["provincial_srdi"] == "省级专精特新中小企业"
    assert zh["national_little_giant"] == '国家级专精特新"小巨人"'
    assert zh["single_champion"] == "制造业单项冠军"
    assert en["national_little_giant"] == "national little giant"
    wujiang = load(ROOT / "scenarios" / "wujiang.yaml").ladder()  # local tiers keep theirs
    local = [t for t in wujiang.tiers if t.id not in zh]
    assert local and all(labels.tier_names(wujiang, "zh")[t.id] for t in local)


@pytest.mark.parametrize(
    ("p", "zh", "en"),
    [(1.0, "很可能达成", "very likely"), (0.9, "很可能达成", "very likely"),
     (0.899, "可能达成", "likely"), (0.66, "可能达成", "likely"),
     (0.5, "达成与否可能性相当", "about as likely as not"),
     (0.33, "达成与否可能性相当", "about as likely as not"),
     (0.2, "不太可能达成", "unlikely"), (0.0999, "很不可能达成", "very unlikely"),
     (0.0, "很不可能达成", "very unlikely")],
)  # fmt: skip
def test_likelihood_words_follow_the_ipcc_scale(p, zh, en):
    assert labels.likelihood(p, "zh") == zh
    assert labels.likelihood(p, "en") == en


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.0, "0%"), (1.0, "100%"), (0.3125, "31%"), (0.004, "0.4%"), (0.995, "99.5%"),
     (0.9996, "99.96%"), (0.01, "1%"), (0.99, "99%")],
)  # fmt: skip
def test_percent_never_rounds_to_certainty(p, text):
    assert labels.percent(p) == text


def test_verdict_reads_like_the_plan():
    sc = load(HEBI)
    t = next(t for t in sc.targets if t.id == "little_giant_2025")
    zh = labels.tier_names(sc.ladder(), "zh")[t.tier]
    assert labels.verdict(t, zh, 0.31, 0.015, "zh") == (
        '2025年国家级专精特新"小巨人"20家：达成概率 31%（±1.5%），不太可能达成'
    )
    assert labels.wan_text(48_406_140.3) == "4,840.6 万元"
    with pytest.raises(ValueError, match="fr"):
        labels.check_lang("fr")


# --- figures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_results():
    """Forecasts whose targets cover every kind: stocks (Hebi), new titles (Xinxiang), the
    cultivation pool and cumulative counts where a scenario has them (Wujiang)."""
    out = {}
    for name in ("hebi", "xinxiang", "wujiang"):
        out[name] = run_ensemble(load(ROOT / "scenarios" / f"{name}.yaml"), runs=8, seed=1)
    return out


def _draw(fig) -> None:
    """Render to PNG with any missing-glyph warning raised as an error."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        fig.savefig(io.BytesIO(), format="png", dpi=60)
    plt.close(fig)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fan_chart_draws_every_target_kind_without_missing_glyphs(small_results, lang):
    from sim.views.plots import _panels, fan_chart

    kinds = set()
    for result in small_results.values():
        fig = fan_chart(result, lang)
        _draw(fig)
        panels = _panels(result)
        for t in result.scenario.targets:
            kinds.add(t.kind)
            tier = None if t.kind in ("pool_size", "rd_intensive_new") else t.tier
            metric = {"stock": "at_least", "new": "new", "cumulative": "ever",
                      "pool_size": "pool_size"}.get(t.kind)  # fmt: skip
            if t.kind == "rd_intensive_new":  # one count per tier and threshold
                metric = f"rd_intensive:{t.tier}:{t.rd_intensity_min:g}"
            assert (tier, metric) in panels
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        for t in result.targets().itertuples():  # each target is labelled with its probability
            assert labels.percent(t.probability) in texts
    assert {"stock", "new", "pool_size"} <= kinds
    if lang == "zh":
        titles = [ax.get_title() for ax in fig.axes]
        assert any("创新型中小企业" in t for t in titles)


def test_a_missing_glyph_is_caught(small_results):
    """The glyph check can fail: a figure drawn in matplotlib's default font has no CJK."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("创新型中小企业")
    with pytest.raises(UserWarning, match="missing"):
        _draw(fig)


def test_sweep_chart_in_chinese_has_every_glyph():
    import pandas as pd

    from sim.views.plots import sweep_chart

    rows = [
        {"target": t, "levers.awards.by_tier.provincial_srdi.value": x,
         "probability": p, "probability_without_levers": 0.2, "mc_se": 0.01}
        for t in ("little_giant_2025", "provincial_srdi_2025")
        for x, p in ((1e5, 0.3), (2e5, 0.5), (3e5, 0.6))
    ]  # fmt: skip
    fig = sweep_chart(pd.DataFrame(rows), "levers.awards.by_tier.provincial_srdi.value",
                      title="鹤壁市", lang="zh")  # fmt: skip
    assert fig.axes[0].get_ylabel() == labels.word("p_reach", "zh")
    _draw(fig)


def test_missing_font_package_is_an_error(monkeypatch):
    from sim.views import fonts

    fonts.font_path.cache_clear()

    def no_package(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(fonts.resources, "files", no_package)
    with pytest.raises(fonts.FontMissing, match="mplfonts"):
        fonts.font_path()
    monkeypatch.undo()
    fonts.font_path.cache_clear()
    assert fonts.font_path().is_file()


def test_long_runs_are_estimated_from_the_firms_simulated():
    from sim.runs.ensemble import estimate_seconds

    hebi, national = load(HEBI), load(ROOT / "scenarios" / "national.yaml")
    small = estimate_seconds(hebi, 1000, True, 2)
    assert 3 < small < 60  # measured: about 10 s on 2 cores (srdi forecast, wall-clock)
    # the country at its 1/20 (measured: 30-40 s) and every firm (measured: 138-391 s)
    assert 3 < estimate_seconds(national, 100, True, 2) < 60
    every_firm = national.model_copy(update={"simulation": None})
    assert estimate_seconds(every_firm, 100, True, 2) > 120
    assert estimate_seconds(hebi, 1000, False, 2) == pytest.approx(small / 2)
    assert np.isclose(estimate_seconds(hebi, 1000, True, 1), 2 * small)


def test_forecast_warns_before_a_long_run(monkeypatch):
    import sim.runs.ensemble

    r = srdi("forecast", HEBI, "--runs", "2", "-w", "1")
    assert r.returncode == 0 and "expected to take" not in r.stderr
    monkeypatch.setattr(sim.runs.ensemble, "estimate_seconds", lambda *a, **k: 1020.0)
    r = srdi("forecast", HEBI, "--runs", "2", "-w", "1")
    assert r.returncode == 0
    assert "expected to take about 17 min" in r.stderr
    assert "--runs" in r.stderr and "--no-counterfactual" in r.stderr
    # a scenario without levers has no counterfactual run to skip: the warning does not offer it
    r = srdi("forecast", ROOT / "scenarios" / "henan_status_quo.yaml", "--runs", "2", "-w", "1")
    assert r.returncode == 0
    assert "(2 replications on 1 worker(s))" in r.stderr
    assert "counterfactual" not in r.stderr


def test_sweep_warns_before_a_long_run(monkeypatch, tmp_path):
    import sim.runs.ensemble

    monkeypatch.setattr(sim.runs.ensemble, "estimate_seconds", lambda *a, **k: 1020.0)
    r = srdi("sweep", HEBI, "--vary", "levers.loans.coverage=0.2:0.8:2", "--runs", "2",
             "-w", "1", "--out", tmp_path / "s")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "expected to take about 17 min (2 experiments of 2 replications)" in r.stderr
    assert "--samples" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["compare", HEBI, "--set", "levers.loans.coverage=0.6", "--runs", "4"],
        ["diagnose", HEBI, "--runs", "4", "--stages", "titles"],
        ["plan", HEBI, "--target", "provincial_srdi_2025", "--probability", "0.5", "--runs", "4",
         "--check-runs", "4", "--generations", "1"],
    ],
    ids=["compare", "diagnose", "plan"],
)  # fmt: skip
def test_the_planners_figures_have_every_glyph(args, tmp_path):
    """The figures `compare`, `diagnose` and `plan` write, in Chinese, with no glyph missing."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = srdi(*args, "--workers", "1", "--lang", "zh", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.glob("*.png"))
    missing = [str(w.message) for w in seen if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
