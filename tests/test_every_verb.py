"""Every verb that reads a scenario refuses every broken fixture with the project's message:
a non-zero exit, the file named, no traceback, nothing written (one error family)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted(p for p in (ROOT / "tests" / "fixtures" / "bad_scenarios").glob("*.yaml")
             if p.name != "valid.yaml")  # fmt: skip


def _verbs(path: Path, out: Path) -> dict[str, list[str]]:
    return {
        "validate": ["validate", str(path)],
        "dashboard": ["dashboard", str(path), "--no-browser", "--port", "1"],
        "forecast": ["forecast", str(path), "--runs", "2", "--workers", "1", "--out", str(out)],
        "compare": ["compare", str(path), "--set", "levers.loans.coverage=0.5"]
        + ["--runs", "2", "--workers", "1", "--out", str(out)],
        "diagnose": ["diagnose", str(path), "--runs", "2", "--workers", "1", "--out", str(out)],
        "sweep": [
            "sweep",
            str(path),
            "--vary",
            "levers.loans.coverage=0.2,0.4",
            "--runs",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
        ],  # fmt: skip
        # reads a sweep folder, not a scenario: a scenario file given in its place is refused
        "discover": ["discover", str(path), "--target", "x", "--out", str(out)],
        "plan": [
            "plan",
            str(path),
            "--target",
            "all",
            "--probability",
            "0.8",
            "--runs",
            "2",
            "--check-runs",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
        ],  # fmt: skip
        "sensitivity": [
            "sensitivity",
            str(path),
            "--samples",
            "4",
            "--workers",
            "1",
            "--out",
            str(out),
        ],  # fmt: skip
    }


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_every_verb_refuses_a_broken_scenario_without_a_traceback(fixture, tmp_path):
    for verb, args in _verbs(fixture, tmp_path / "out").items():
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, f"{verb}: exit {r.exit_code}\n{r.output}"
        assert r.exception is None or isinstance(r.exception, SystemExit), (
            f"{verb}: {type(r.exception).__name__}: {r.exception}"
        )
        assert "Traceback" not in r.output, verb
        assert fixture.name in r.output, f"{verb} does not name the file:\n{r.output}"
        out = tmp_path / "out"
        assert not out.exists() or not any(out.iterdir()), f"{verb} wrote {list(out.iterdir())}"
