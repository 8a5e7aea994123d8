"""Every verb that reads a scenario refuses every broken fixture with the project's message:
a non-zero exit, the file named, no traceback, nothing written (one error family)."""

from __future__ import annotations

import json
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


# --- every verb on every shipped scenario, at a tiny size ---------------------------------------
# About a minute on 2 idle cores for the places and provinces, half a minute for national,
# 15 s for the sweep and discover (three times that on a machine shared with other work).

SCENARIOS = ROOT / "scenarios"
# places of a few thousand firms at most: every verb in seconds
SMALL_PLACES = ("hebi", "wujiang", "xinxiang", "zhanjiang")
# provinces (tens of thousands of firms): every verb but sensitivity, whose smallest design is
# (inputs + 1) x 4 points
PROVINCES = ("henan_status_quo", "zhejiang")
# scenarios that state no target or decide no lever: what `plan` or `sensitivity` cannot do
REFUSED = {
    ("henan_status_quo", "plan"): "no targets",
    ("henan_status_quo", "sensitivity"): "at least one target",
    ("national", "plan"): "no lever to search",
}
KEYS = {
    "forecast": {"targets", "counts", "cost", "set"},
    "compare": {"a", "b", "targets", "cost"},
    "diagnose": {"targets", "funnel", "stages"},
    "plan": {"probability_goal", "plans"},
    "sensitivity": {"indices", "convergence", "method"},
}


def _tiny(verb: str, path: Path, runs: int = 2) -> list[str]:
    """`verb` on `path` at the smallest size that still exercises it, JSON on stdout."""
    n = ["--runs", str(runs), "--workers", "1", "--json"]
    return {
        "forecast": ["forecast", str(path), "--set", "approval.innovative_sme=0.5", *n],
        "compare": ["compare", str(path), str(path), *n],
        "diagnose": ["diagnose", str(path), *n],
        "plan": [
            "plan",
            str(path),
            "--target",
            "all",
            "--probability",
            "0.8",
            "--runs",
            "1",
            "--check-runs",
            "1",
            "--design",
            "2",
            "--generations",
            "0",
            "--workers",
            "1",
            "--json",
        ],  # fmt: skip
        "sensitivity": [
            "sensitivity",
            str(path),
            "--method",
            "morris",
            "--samples",
            "4",
            "--runs",
            "1",
            "--workers",
            "1",
            "--json",
        ],  # fmt: skip
    }[verb]


def _answers_or_refuses(place: str, verb: str, args: list[str]) -> None:
    """A JSON answer with the verb's keys, or (for what the scenario cannot support) exit 2
    saying why; never a traceback."""
    r = CliRunner().invoke(main, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), (
        f"{place} {verb}: {type(r.exception).__name__}: {r.exception}"
    )
    assert "Traceback" not in r.output, f"{place} {verb}"
    if (place, verb) in REFUSED:
        assert r.exit_code == 2, f"{place} {verb}: exit {r.exit_code}\n{r.output[-2000:]}"
        assert REFUSED[place, verb] in r.stderr, f"{place} {verb}: {r.stderr}"
        return
    assert r.exit_code == 0, f"{place} {verb}: exit {r.exit_code}\n{r.stderr[-2000:]}"
    doc = json.loads(r.stdout)
    assert KEYS[verb] <= doc.keys(), f"{place} {verb}: {sorted(doc)}"


@pytest.mark.parametrize("place", SMALL_PLACES + PROVINCES)
def test_every_verb_answers_on_every_shipped_scenario(place):
    path = SCENARIOS / f"{place}.yaml"
    verbs = ["forecast", "compare", "diagnose", "plan"]
    if place not in PROVINCES or (place, "sensitivity") in REFUSED:
        verbs.append("sensitivity")
    for verb in verbs:
        _answers_or_refuses(place, verb, _tiny(verb, path, runs=2 if place in SMALL_PLACES else 1))


def test_every_verb_on_the_national_scenario_at_one_replication():
    """China's 十四五 goals: a replication simulates the whole country (about 9 s of CPU), so
    one replication each and one relaxation for diagnose; plan refuses (no lever). compare runs
    the same ensembles as forecast, twice (checked by hand: `srdi compare national national
    --runs 2`, 87 s); sensitivity's smallest design (Morris, 4 x 36 points) is about 11 min,
    which it says before it starts: neither is run here."""
    path = SCENARIOS / "national.yaml"
    for verb in ("forecast", "plan"):
        _answers_or_refuses("national", verb, _tiny(verb, path, runs=1))
    _answers_or_refuses("national", "diagnose", [*_tiny("diagnose", path, 1), "--stages", "titles"])


def test_discover_on_every_shipped_sweep(tmp_path):
    """Each sweep of scenarios/sweeps/ at 2 replications with --replications, then discover."""
    for sweep in sorted((SCENARIOS / "sweeps").glob("*.yaml")):
        out = tmp_path / sweep.stem
        r = CliRunner().invoke(main, ["sweep", str(sweep), "--runs", "2", "--replications",
                                      "--workers", "1", "--out", str(out)])  # fmt: skip
        assert r.exit_code == 0, f"{sweep.name}: {r.output[-2000:]}"
        target = json.loads((out / "manifest.json").read_text())["targets"][-1]
        target = target if isinstance(target, str) else target["id"]
        r = CliRunner().invoke(main, ["discover", str(out), "--target", target, "--json"])
        assert r.exit_code == 0, f"{sweep.name}: {r.output[-2000:]}"
        assert {"boxes", "cases", "target"} <= json.loads(r.stdout).keys()
