"""The same answer however the package is installed, and no silent fall back to uncalibrated
defaults (issue: sound foundations)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.scenario import parameters as pm

ROOT = Path(__file__).resolve().parents[1]
FORECAST = ["forecast", "scenarios/hebi.yaml", "--runs", "40", "--seed", "5", "--workers", "1"]


@pytest.fixture
def fresh_defaults(monkeypatch):
    pm._defaults.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    pm._defaults.cache_clear()


def test_the_fit_is_package_data(fresh_defaults):
    fresh_defaults.delenv(pm.CALIBRATION_ENV, raising=False)
    assert pm.calibration_path() == pm.DEFAULT_FIT == pm.FIT_DIR / "fit.yaml"
    assert pm.FIT_DIR.parent.name == "data" and pm.FIT_DIR.parent.parent.name == "sim"
    assert (pm.FIT_DIR / "posterior.csv").is_file()
    assert pm.defaults()["apply.base.innovative_sme"].basis == "calibrated"


def test_a_missing_calibration_is_an_error_not_a_fall_back(fresh_defaults, tmp_path):
    fresh_defaults.delenv(pm.CALIBRATION_ENV, raising=False)
    fresh_defaults.setattr(pm, "DEFAULT_FIT", tmp_path / "fit.yaml")
    with pytest.raises(pm.CalibrationMissing, match="SRDI_CALIBRATION=off") as info:
        pm.defaults()
    assert info.value.path == tmp_path / "fit.yaml"


def test_a_fit_without_its_posterior_is_an_error(fresh_defaults, tmp_path):
    fit = tmp_path / "fit.yaml"
    fit.write_text("parameters: {apply.base.innovative_sme: 0.2}\nposterior: posterior.csv\n")
    fresh_defaults.setenv(pm.CALIBRATION_ENV, str(fit))
    with pytest.raises(pm.CalibrationMissing, match="posterior") as info:
        pm.defaults()
    assert info.value.path == tmp_path / "posterior.csv"


def test_off_runs_uncalibrated_on_purpose(fresh_defaults):
    fresh_defaults.setenv(pm.CALIBRATION_ENV, "off")
    assert pm.defaults()["apply.base.innovative_sme"].basis != "calibrated"


def test_the_cli_says_what_is_missing_without_a_traceback(tmp_path):
    env = {**os.environ, pm.CALIBRATION_ENV: str(tmp_path / "nowhere.yaml")}
    r = subprocess.run(
        [sys.executable, "-m", "sim.cli", *FORECAST], capture_output=True, text=True, cwd=ROOT,
        env=env,
    )  # fmt: skip
    assert r.returncode != 0
    assert "nowhere.yaml" in r.stderr and "SRDI_CALIBRATION=off" in r.stderr
    assert "Traceback" not in r.stderr


def _forecast(python_path: str | None, cwd: Path, scenario: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != pm.CALIBRATION_ENV}
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    code = (
        "import json, sys, sim\n"
        "from sim.cli import main\n"
        "print('SIM=' + sim.__file__, file=sys.stderr)\n"
        "main(["
        + ", ".join(repr(a) for a in [*FORECAST[:1], str(scenario), *FORECAST[2:]])
        + ", '--json'], standalone_mode=False)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert r.returncode == 0, r.stderr
    where = next(line for line in r.stderr.splitlines() if line.startswith("SIM="))
    doc = json.loads(r.stdout)
    doc.pop("elapsed_seconds", None)
    return {"sim": where[4:], "doc": doc}


def test_a_wheel_installed_elsewhere_gives_the_editable_installs_answer(tmp_path):
    """Build the wheel, install it outside the source tree, forecast Hebi with a fixed seed."""
    dist, site, work, src = (tmp_path / n for n in ("dist", "site", "work", "src"))
    work.mkdir()
    # a clean copy of what the wheel is built from: no stale build/ or egg-info to hide a file
    # missing from the package data
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "sim", src / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
             "-w", str(dist), str(src)]  # fmt: skip
    r = subprocess.run(build, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel = next(dist.glob("srdi_sim-*.whl"))
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
               str(wheel)]  # fmt: skip
    r = subprocess.run(install, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    scenario = work / "hebi.yaml"
    scenario.write_bytes((ROOT / "scenarios" / "hebi.yaml").read_bytes())
    installed = _forecast(str(site), work, scenario)
    editable = _forecast(None, ROOT, ROOT / "scenarios" / "hebi.yaml")
    assert installed["sim"].startswith(str(site))  # the wheel's package, not the source tree
    assert not editable["sim"].startswith(str(site))
    assert installed["doc"] == editable["doc"]
    assert any(t["probability"] > 0 for t in installed["doc"]["targets"])
