"""srdi discover: PRIM boxes of the inputs in which a sweep's target is missed.

Synthetic sweep folders (sweep.parquet, replications.parquet, draws.parquet, manifest.json
written directly) where the target is missed exactly when an input is below 0.3; one tiny real
sweep for the per-replication draws and the command end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helper import srdi

from sim.runs.discover import DiscoverError, _choose, discover

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
CUT = 0.3


def _fake_sweep(folder: Path, experiments: int = 300, runs: int = 8, seed: int = 0) -> Path:
    """A finished sweep of two targets over lever x and uncertainty y (both in [0, 1]):
    t_lever is reached with probability 0.1 when x < 0.3, else 0.9 (per experiment), and in a
    replication exactly when x >= 0.3; t_draw is missed in a replication exactly when that
    replication's draw of `approval.drawn` is below 0.3, whatever x and y."""
    rng = np.random.default_rng(seed)
    x, y = rng.random(experiments), rng.random(experiments)
    drawn = rng.random(runs)
    folder.mkdir(parents=True)
    rows, reps = [], []
    for e in range(experiments):
        for t, p in (("t_lever", 0.1 if x[e] < CUT else 0.9), ("t_draw", np.mean(drawn >= CUT))):
            rows.append(
                {"experiment": e, "policy": e, "future": 0, "levers.x": x[e],
                 "approval.y": y[e], "target": t, "tier": "national_little_giant",
                 "kind": "stock", "year": 2025, "value": 20.0, "probability": p}
            )  # fmt: skip
            for r in range(runs):
                reached = x[e] >= CUT if t == "t_lever" else drawn[r] >= CUT
                reps.append(
                    {"experiment": e, "replication": r, "target": t,
                     "outcome": 30.0 if reached else 10.0, "reached": bool(reached)}
                )  # fmt: skip
    pd.DataFrame(rows).to_parquet(folder / "sweep.parquet")
    pd.DataFrame(reps).to_parquet(folder / "replications.parquet")
    draws = pd.DataFrame(
        {"replication": np.arange(runs), "approval.drawn": drawn, "apply.fixed": 1.0}
    )
    draws.to_parquet(folder / "draws.parquet")
    manifest = {"status": "complete", "targets": ["t_lever", "t_draw"],
                "levers": ["levers.x"], "uncertainties": ["approval.y"]}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> Path:
    return _fake_sweep(tmp_path_factory.mktemp("discover") / "sweep")


@pytest.mark.parametrize("unit", ["experiment", "replication"])
def test_the_box_is_where_the_decisive_lever_is_below_its_cut(fake, unit):
    result = discover(fake, "t_lever", unit=unit)
    assert result.unit == unit
    assert result.cases == (300 if unit == "experiment" else 300 * 8)
    box = result.boxes[0]
    lo, hi = box.limits["levers.x"]
    assert lo == pytest.approx(result.ranges["levers.x"][0])  # the lowest x: unrestricted below
    assert 0.27 <= hi <= 0.33, hi
    assert "approval.y" not in box.limits  # y does not matter
    assert box.density >= 0.95 and box.coverage >= 0.9, (box.density, box.coverage)
    assert box.mass == pytest.approx(box.cases / result.cases)
    chosen = box.trajectory.loc[box.chosen]
    assert (chosen["coverage"], chosen["density"]) == (box.coverage, box.density)
    assert len(result.boxes) == 1  # every miss is in it: nothing left to find


def test_replication_cases_use_each_replications_draws(fake):
    result = discover(fake, "t_draw")  # auto: replications, since the sweep wrote them
    assert result.unit == "replication"
    assert "apply.fixed" not in result.ranges  # one value everywhere: not an input
    box = result.boxes[0]
    assert list(box.limits) == ["approval.drawn"]
    drawn = pd.read_parquet(fake / "draws.parquet")["approval.drawn"]
    # the upper limit lies between the highest draw that misses and the lowest that reaches
    assert drawn[drawn < CUT].max() <= box.limits["approval.drawn"][1] < drawn[drawn >= CUT].min()
    assert box.density == 1.0 and box.coverage == 1.0


def test_a_target_reached_everywhere_has_no_box(fake):
    result = discover(fake, "t_lever", threshold=0.05, unit="experiment")  # 0.1 >= 0.05
    assert result.missed == 0 and result.boxes == []
    assert any("reached in every case" in n for n in result.notes)


def test_choosing_a_box_on_the_trajectory():
    t = pd.DataFrame({"coverage": [1.0, 0.9, 0.6, 0.3], "density": [0.3, 0.7, 0.95, 1.0]})
    assert _choose(t, None) == 1  # nearest to (1, 1): 0.1^2 + 0.3^2 < 0.4^2 + 0.05^2
    assert _choose(t, 0.8) == 2  # the widest at least 0.8 dense
    assert _choose(t, 1.0) == 3


def test_json_has_the_documented_keys(fake):
    r = srdi("discover", fake, "--target", "t_lever", "--cases", "experiment", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"target", "threshold", "cases", "boxes"} <= set(doc)
    assert (doc["target"], doc["threshold"], doc["cases"]) == ("t_lever", 0.5, 300)
    box = doc["boxes"][0]
    assert {"limits", "coverage", "density", "mass"} <= set(box)
    assert set(box["limits"]) == {"levers.x"} and len(box["limits"]["levers.x"]) == 2


def test_out_writes_table_trajectory_json_and_chart(fake, tmp_path):
    out = tmp_path / "why"
    r = srdi("discover", fake, "--target", "t_lever", "--out", out, "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "box 1:" in r.stdout and "levers.x" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "discover.csv", "discover.json", "discover.png", "discover_trajectory.csv"]  # fmt: skip
    table = pd.read_csv(out / "discover.csv", encoding="utf-8-sig")
    assert list(table["input"]) == ["levers.x"] and table.loc[0, "high"] < 0.33
    assert (out / "discover.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["{missing}", "--target", "t_lever"], "SWEEP_DIR"),
        (["{empty}", "--target", "t_lever"], "SWEEP_DIR"),
        (["{fake}", "--target", "t_levr"], "--target"),
        (["{fake}", "--target", "t_lever", "--threshold", "1.5"], "--threshold"),
        (["{fake}", "--target", "t_lever", "--boxes", "0"], "--boxes"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_nothing_written(fake, tmp_path, args, names):
    (tmp_path / "empty").mkdir()
    where = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty", "fake": fake}
    out = tmp_path / "out"
    r = srdi("discover", *[a.format(**where) for a in args], "--out", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert names in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    if names == "--target":
        assert "t_lever" in r.stderr  # the known targets, and the nearest one


def test_replication_cases_need_the_replications(tmp_path):
    folder = _fake_sweep(tmp_path / "s", experiments=20, runs=2)
    (folder / "replications.parquet").unlink()
    with pytest.raises(DiscoverError, match="--cases"):
        discover(folder, "t_lever", unit="replication")
    assert discover(folder, "t_lever").unit == "experiment"  # auto falls back


def test_a_real_sweep_records_each_replications_draws_and_discover_reads_them(tmp_path):
    from sim.engine.inputs import draw_inputs
    from sim.engine.model import GrowthModel
    from sim.scenario import load

    out = tmp_path / "sweep"
    r = srdi("sweep", HEBI, "--vary", "levers.loans.coverage=0.2,0.8", "--runs", "3",
             "--workers", "1", "--replications", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    reps = pd.read_parquet(out / "replications.parquet")
    assert list(reps.columns) == ["experiment", "replication", "target", "outcome",
                                  "outcome_without_levers", "reached", "cost_yuan"]  # fmt: skip
    draws = pd.read_parquet(out / "draws.parquet")
    assert list(draws["replication"]) == [0, 1, 2]
    assert "levers.loans.coverage" not in draws  # varied: the experiment's value
    assert "approval.national_little_giant" in draws
    assert any(c.startswith("quota.national_little_giant.") for c in draws)
    # the draws are the model's own: replication 1 of the same seeds
    sc = load(HEBI)
    seed = np.random.SeedSequence(0).spawn(3)[1]
    model = GrowthModel(sc, seed=seed, values={"levers.loans.coverage": 0.2})
    p, comp = draw_inputs(sc, np.random.SeedSequence(0).spawn(3)[1])
    assert draws.loc[1, "approval.national_little_giant"] == model.p[
        "approval.national_little_giant"] == p["approval.national_little_giant"]  # fmt: skip
    assert comp.quota == model.competition.quota
    assert draws.loc[1, "quota.national_little_giant.2025"] == model.competition.quota[(3, 2025)]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tables"]["draws"] == "draws.parquet"

    r = srdi("discover", out, "--target", "little_giant_2025", "--json", "--boxes", "1")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["unit"] == "replication" and doc["cases"] == 2 * 3
    assert "approval.national_little_giant" in doc["inputs"]


def test_limits_that_may_be_noise_are_freed():
    from sim.runs.discover import QP_MAX, find_boxes

    rng = np.random.default_rng(3)
    n = 600
    x = pd.DataFrame({name: rng.random(n) for name in ("x", "noise1", "noise2", "noise3")})
    missed = ((x["x"] < CUT) & (rng.random(n) < 0.9)) | (rng.random(n) < 0.05)
    # a dense box: peeled deep enough to restrict the noise inputs and x's low end by chance
    box = find_boxes(x, missed.to_numpy(), max_boxes=1, min_density=0.95)[0]
    assert list(box.limits) == ["x"], box.limits
    assert box.limits["x"][0] == x["x"].min()  # the low side freed too
    assert 0.27 <= box.limits["x"][1] <= 0.33
    assert all(q <= QP_MAX for q in box.qp.values())
    assert box.chosen == len(box.trajectory) - 1  # the freed box is the last step
