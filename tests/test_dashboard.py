"""`srdi dashboard` in a real browser: the command serves the page in a subprocess, Playwright
drives Debian's headless Chromium (/usr/bin/chromium; .ci/run installs it), moves a slider and
sees the probability of a target change, resets to the plan, and checks a screenshot."""

from __future__ import annotations

import math
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, MISSING
from cli_helper import srdi
from PIL import Image

from sim.runs.ensemble import run_ensemble
from sim.scenario import value_bounds
from sim.views.dashboard import levers

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
RUNS = 80  # replications per setting: enough for a change of 10 firms a year to show
VIEWPORT = {"width": 1280, "height": 900}
TARGET = "provincial_srdi_2025"
SLIDER = "levers.bring_in.firms_per_year"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_slider_for_each_lever_quantity_within_what_it_allows(hebi):
    sliders = {lever.path: lever for lever in levers(hebi)}
    assert set(sliders) == {p for p in hebi.specs() if p.startswith("levers.")}
    for path, lever in sliders.items():
        spec = hebi.specs()[path]
        assert lever.plan == spec.value
        assert spec.high <= lever.top <= value_bounds(path)[1], path
        assert lever.step == 1.0 if spec.integer else 0 < lever.step <= lever.top / 50
    assert sliders["levers.loans.coverage"].top == 1.0  # a share stops at 1
    assert sliders[SLIDER].top == 20.0 and sliders[SLIDER].integer


def test_a_setting_starts_from_the_plan_s_set_ups_and_gives_its_ensemble_alone(hebi, monkeypatch):
    from sim.engine.model import GrowthModel
    from sim.views.dashboard import Engine

    engine = Engine(hebi, runs=6, seed=3)
    plan, drawn = engine.plan(), run_ensemble(hebi, runs=6, seed=3)
    for run, alone in ((plan.runs, drawn.runs), (plan.counterfactual, drawn.counterfactual)):
        assert run.keys() == alone.keys()
        assert all(np.array_equal(run[k], alone[k]) for k in alone)
    values = {SLIDER: 15.0, "levers.loans.coverage": 0.9}
    monkeypatch.setattr(GrowthModel, "_create_baseline", lambda self: pytest.fail("drawn"))
    setting = engine.result(values)
    monkeypatch.undo()
    alone = run_ensemble(hebi, runs=6, seed=3, counterfactual=False, values=values)
    assert setting.runs.keys() == alone.runs.keys()
    assert all(np.array_equal(setting.runs[k], alone.runs[k]) for k in alone.runs)


def test_a_taken_port_is_refused_with_a_message():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = srdi("dashboard", HEBI, "--no-browser", "--port", port)
    assert r.returncode == 1
    assert f"127.0.0.1:{port}" in r.stderr and "--port" in r.stderr


@dataclass
class Server:
    url: str
    lines: queue.Queue[str]
    seen: list[str]

    def output(self) -> str:
        """What the command printed so far."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


@pytest.fixture(scope="module")
def dashboard():
    """`srdi dashboard scenarios/hebi.yaml` on a free port, until the module's tests end."""
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "dashboard", str(HEBI), "--no-browser",
         "--port", str(port), "--runs", str(RUNS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    url, seen = None, []
    try:
        while url is None and time.perf_counter() - started < 60:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "the dashboard stopped:\n" + "".join(seen)
                continue
            seen.append(line)
            if "serving on " in line:
                url = line.split("serving on ", 1)[1].split()[0]
        assert url == f"http://127.0.0.1:{port}/", "no URL printed:\n" + "".join(seen)
        yield Server(url, lines, seen)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cell(page, target: str, column: str) -> str:
    return page.locator(f'tr[data-target="{target}"] td.{column}').inner_text().strip()


def _wait_cell(page, target: str, column: str, differs_from: str | None = None,
               equals: str | None = None, timeout: float = 30_000) -> str:  # fmt: skip
    page.wait_for_function(
        """([sel, differs, equals]) => {
            const e = document.querySelector(sel);
            if (!e) return false;
            const t = e.innerText.trim();
            return (differs === null || t !== differs) && (equals === null || t === equals);
        }""",
        arg=[f'tr[data-target="{target}"] td.{column}', differs_from, equals],
        timeout=timeout,
    )
    return _cell(page, target, column)


def test_moving_a_slider_changes_a_target_probability_in_the_browser(dashboard, hebi, tmp_path):
    assert CHROMIUM.exists(), MISSING
    from playwright.sync_api import sync_playwright

    # what the page must show: the plan, and the plan with 20 firms brought in a year, on the
    # same seeds (common random numbers)
    values = {SLIDER: 20.0}
    plan = run_ensemble(hebi, runs=RUNS, seed=0, workers=1, counterfactual=False).targets()
    moved = run_ensemble(hebi, runs=RUNS, seed=0, workers=1, counterfactual=False, values=values)
    p_plan = f"{plan.set_index('id').loc[TARGET, 'probability']:.2f}"
    p_moved = f"{moved.targets().set_index('id').loc[TARGET, 'probability']:.2f}"
    assert p_plan != p_moved

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(dashboard.url)
            page.wait_for_selector("table.srdi-targets", timeout=45_000)
            # Chinese words, set in the CJK font the page embeds (no font on this machine has
            # these glyphs): the heading, the table's phrases and the lever sections
            assert "鹤壁市" in page.locator("h2").inner_text()
            phrase = page.locator(f'tr[data-target="{TARGET}"] td').first.inner_text()
            assert phrase == "2025年省级专精特新中小企业100家"
            fonts = page.evaluate(
                "() => document.fonts.check('16px \"SRDI CJK\"', '鹤壁市省级专精特新')"
            )
            assert fonts, "the embedded CJK font is not loaded"
            assert _cell(page, TARGET, "p-plan") == p_plan
            assert _cell(page, TARGET, "p-setting") == p_plan  # the page opens on the plan

            slider = page.locator(".v-input", has_text="firms_per_year").get_by_role("slider")
            assert slider.get_attribute("aria-valuenow") == "10"  # the plan's 10 a year
            slider.focus()
            slider.press("End")  # to the slider's top, 20 a year
            assert _wait_cell(page, TARGET, "p-setting", differs_from=p_plan) == p_moved
            assert _cell(page, TARGET, "p-plan") == p_plan  # the plan stays beside it
            page.get_by_text("设为 20（规划：10）").wait_for()
            page.get_by_text("规划方案", exact=True).wait_for()  # its fan chart below this one's
            page.wait_for_function("document.querySelectorAll('img').length == 2")
            page.wait_for_timeout(500)  # let the images paint
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot))

            page.get_by_role("button", name="恢复为规划方案").click()
            _wait_cell(page, TARGET, "p-setting", equals=p_plan)
            assert slider.get_attribute("aria-valuenow") == "10"
        finally:
            browser.close()

    image = Image.open(shot).convert("RGB")
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    pixels = np.asarray(image, dtype=float)
    assert pixels.std() > 20, "the screenshot is nearly one colour"
    # the fan charts' blue bands and the red target markers are on the page
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((b > 150) & (r < 120) & (b - r > 60)).mean() > 0.005, "no blue band or slider"
    assert ((r > 180) & (g < 80) & (b < 80)).sum() > 20, "no red target marker"
    assert not math.isnan(pixels.mean())
    # everything the page loads is served from this machine (solara-assets), nothing from a CDN
    assert "Could not load URL" not in dashboard.output(), dashboard.output()
