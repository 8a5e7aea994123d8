"""Sweeps: designs, identical results on every executor, resuming after SIGKILL, bad specs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helper import srdi as run_in_process

from sim.errors import ScenarioErrors
from sim.runs import sweep as sw
from sim.runs.ensemble import run_replication

ROOT = Path(__file__).resolve().parent.parent
HEBI = ROOT / "scenarios" / "hebi.yaml"
SHIPPED = ROOT / "scenarios" / "sweeps" / "hebi-awards-loans.yaml"

# Two levers (one added by the patch) x one uncertainty, two values each: 8 experiments.
SMALL = f"""\
scenario: {HEBI}
scenario_patch:
  levers:
    awards:
      source: "hypothetical: a test award"
      by_tier:
        national_little_giant: {{value: 0, source: "hypothetical: the sweep sets it"}}
vary:
  levers.awards.by_tier.national_little_giant: 0,1000000
  levers.loans.coverage: 0.2,0.8
  approval.national_little_giant: 0.25,0.45
runs: 10
seed: 3
"""


def srdi(*args, timeout: float = 300):
    return run_in_process(*args, cwd=ROOT)


def cli(*args):
    """The `srdi` command in this process (no interpreter start-up): exit code and output."""
    from click.testing import CliRunner

    from sim.cli import main

    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def table_bytes(out: Path) -> bytes:
    return (out / sw.TABLE).read_bytes()


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sweep") / "small.yaml"
    p.write_text(SMALL, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def reference(small_file, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """The small sweep, uninterrupted, in this process (1 worker)."""
    out = tmp_path_factory.mktemp("reference")
    return sw.run(sw.plan(small_file), out, workers=1), out


@pytest.fixture(scope="module")
def hebi():
    from sim.scenario import load

    return load(HEBI)


# --- the table -------------------------------------------------------------------------------


def test_table_has_a_row_per_experiment_and_target(reference, hebi):
    table, out = reference
    targets = [t.id for t in hebi.targets]
    assert len(table) == 8 * len(targets)
    assert list(table["target"][: len(targets)]) == targets
    assert table["experiment"].is_monotonic_increasing
    for path in (
        "levers.awards.by_tier.national_little_giant",
        "levers.loans.coverage",
        "approval.national_little_giant",
    ):
        assert path in table.columns
    for col in ("probability", "mc_se", "expected", "p05", "p50", "p95", "cost_yuan"):
        assert table[col].notna().all(), col
    assert (table["p05"] <= table["p50"]).all() and (table["p50"] <= table["p95"]).all()
    p = table["probability"]
    assert np.allclose(table["mc_se"], np.sqrt(p * (1 - p) / 10))
    # the award is paid only where it is positive
    no_award = table["levers.awards.by_tier.national_little_giant"] == 0
    assert (table.loc[no_award, "cost_awards_yuan"] == 0).all()
    assert (table.loc[~no_award, "cost_awards_yuan"] > 0).any()
    manifest = json.loads((out / sw.MANIFEST).read_text())
    ident = manifest["identity"]
    assert ident["scenario_digest"].startswith("sha256:")
    assert ident["seeds"]["replications"] == "SeedSequence(3).spawn(10)"
    assert ident["design"]["experiments"] == 8
    assert manifest["status"] == "complete"
    assert manifest["scenario"]["patch"]["levers"]["awards"]["by_tier"]


def test_patch_leaves_the_base_scenario_alone(small_file, hebi):
    p = sw.plan(small_file)
    assert p.scenario.levers.awards is not None
    assert hebi.levers.awards is None
    assert "levers.awards.by_tier.national_little_giant" not in hebi.specs()


def test_counterfactual_does_not_depend_on_lever_values(small_file):
    """The sweep shares one counterfactual per future: it must ignore the levers' values."""
    sc = sw.plan(small_file).scenario
    seed = np.random.SeedSequence(11)
    values = {"approval.national_little_giant": 0.3}
    a = run_replication(sc, seed, False, {**values, "levers.loans.coverage": 0.1})
    b = run_replication(
        sc,
        seed,
        False,
        {
            **values,
            "levers.loans.coverage": 0.9,
            "levers.awards.by_tier.national_little_giant": 1e6,
        },
    )
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_an_experiment_depends_only_on_its_values_and_the_seed(small_file, reference):
    """Common random numbers: the same point in another design gives the same numbers."""
    table, _ = reference
    other = sw.sweep(
        small_file,
        {
            "levers.loans.coverage": "0.8",
            "approval.national_little_giant": "0.45,0.3",
            "levers.awards.by_tier.national_little_giant": "1000000",
        },
    )
    cols = ["target", "probability", "expected", "p05", "p95", "attributable", "cost_yuan"]
    key = {
        "levers.loans.coverage": 0.8,
        "approval.national_little_giant": 0.45,
        "levers.awards.by_tier.national_little_giant": 1e6,
    }

    def pick(t):
        m = np.logical_and.reduce([t[k] == v for k, v in key.items()])
        return t.loc[m, cols].reset_index(drop=True)

    pd.testing.assert_frame_equal(pick(table), pick(other))


def test_replication_rows_agree_with_the_summary(small_file, tmp_path):
    table = sw.run(sw.plan(small_file, runs=4), tmp_path, replications=True)
    reps = pd.read_parquet(tmp_path / sw.REPLICATIONS)
    assert len(reps) == len(table) * 4
    p = reps.groupby(["experiment", "target"], sort=False)["reached"].mean().to_numpy()
    np.testing.assert_allclose(p, table["probability"].to_numpy())


# --- same numbers everywhere ---------------------------------------------------------------


def test_one_and_two_workers_and_any_chunking_give_identical_tables(
    small_file, reference, tmp_path
):
    table, out = reference
    two = sw.run(sw.plan(small_file), tmp_path / "two", workers=2)
    pd.testing.assert_frame_equal(table, two)
    assert table_bytes(out) == table_bytes(tmp_path / "two")
    sw.run(sw.plan(small_file), tmp_path / "ones", workers=2, chunk_size=1)
    assert len(list((tmp_path / "ones" / sw.CHUNKS).glob("*.parquet"))) == 8
    assert table_bytes(out) == table_bytes(tmp_path / "ones")


def test_a_seed_s_experiments_sharing_its_set_up_give_the_runs_drawn_alone(
    small_file, reference, monkeypatch
):
    # a chunk's experiments and counterfactual on one seed start from one set-up (drawn
    # before any lever acts): the table must be the one of every run drawn from scratch
    from sim.runs import ensemble

    table, _ = reference
    original = ensemble.run_replication
    shared = []

    def alone(*args, set_up=None, keep_set_up=False, **kwargs):
        shared.append(set_up is not None)
        return original(*args, keep_set_up=keep_set_up, **kwargs)  # the set-up not used

    monkeypatch.setattr(ensemble, "run_replication", alone)
    pd.testing.assert_frame_equal(table, sw.run(sw.plan(small_file), None, workers=1))
    assert sum(shared) > len(shared) / 2  # the sweep does share set-ups


def test_dask_local_cluster_gives_the_same_table(small_file, reference, tmp_path):
    pytest.importorskip("distributed")
    table, out = reference
    dask = sw.run(sw.plan(small_file), tmp_path, workers=2, scheduler="local")
    pd.testing.assert_frame_equal(table, dask)
    assert table_bytes(out) == table_bytes(tmp_path)
    assert (
        "LocalCluster" in json.loads((tmp_path / sw.MANIFEST).read_text())["last_run"]["executor"]
    )


# --- nothing lost --------------------------------------------------------------------------


def test_killed_sweep_resumes_to_the_uninterrupted_table(small_file, reference, tmp_path):
    _, ref_out = reference
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", small_file, "--out", out]
    cmd += ["--workers", "1", "--chunk-size", "1"]
    proc = subprocess.Popen(
        list(map(str, cmd)), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    chunks = out / sw.CHUNKS
    deadline = time.monotonic() + 120
    try:
        while not (chunks.is_dir() and any(chunks.glob("*.parquet"))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no chunk written in 120 s"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name: p.stat().st_mtime_ns for p in chunks.glob("*.parquet")}
    assert 1 <= len(before) < 8, "killed midway: some chunks, not all"
    assert not (out / sw.TABLE).exists()

    r = srdi("sweep", small_file, "--out", out, "--workers", "1", "--chunk-size", "1")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / sw.MANIFEST).read_text())
    assert manifest["last_run"]["experiments_already_done"] == len(before)
    after = {p.name: p.stat().st_mtime_ns for p in chunks.glob("*.parquet")}
    assert len(after) == 8
    assert all(after[name] == t for name, t in before.items()), "finished chunks were redone"
    assert not list(chunks.glob(".*.tmp"))
    assert table_bytes(out) == table_bytes(ref_out)
    pd.testing.assert_frame_equal(pd.read_parquet(out / sw.TABLE), reference[0])


def _cmdline(psutil, proc) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:  # gone already
        return []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_killed_sweep_leaves_no_worker_computing(small_file, tmp_path):
    psutil = pytest.importorskip("psutil")
    cmd = [sys.executable, "-m", "sim.cli", "sweep", small_file, "--out", tmp_path]
    cmd += ["--workers", "2", "--chunk-size", "1", "--runs", "40"]
    proc = subprocess.Popen(list(map(str, cmd)), cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    kids, workers = [], []
    while len(workers) < 2 and time.monotonic() < deadline:
        kids = psutil.Process(proc.pid).children(recursive=True)
        workers = [k for k in kids if "sim.cli" in " ".join(_cmdline(psutil, k))]
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive, "pool workers outlived the killed sweep"


def test_a_changed_design_refuses_to_resume(small_file, reference, tmp_path):
    _, out = reference
    with pytest.raises(sw.ResumeRefused) as e:
        sw.run(sw.plan(small_file, runs=12), out)
    assert any(d.startswith("runs was 10, now 12") for d in e.value.differences)
    with pytest.raises(sw.ResumeRefused) as e:
        sw.run(sw.plan(small_file, ["levers.loans.coverage=0.2,0.5"]), out)
    assert any("levers.loans.coverage=0.2,0.8" in d for d in e.value.differences)
    # the same from the command line: exit 2, a message that says why, no traceback
    r = srdi("sweep", small_file, "--out", out, "--vary", "levers.loans.coverage=0.3,0.8")
    assert r.returncode == 2
    assert "holds results of a different sweep" in r.stderr
    assert "levers.loans.coverage" in r.stderr and "Traceback" not in r.stderr


def test_a_changed_scenario_refuses_to_resume(small_file, reference, tmp_path):
    _, out = reference
    changed = tmp_path / "changed.yaml"
    changed.write_text(SMALL.replace("a test award", "another test award"), encoding="utf-8")
    with pytest.raises(sw.ResumeRefused) as e:
        sw.run(sw.plan(changed), out)
    assert any("scenario or its patch changed" in d for d in e.value.differences)


# --- designs -------------------------------------------------------------------------------


def test_lhs_levers_and_futures_have_their_own_seeds(hebi):
    vary = {
        "levers.loans.coverage": "0.2:0.8",
        "levers.cultivation_pool.size": "100:300",
        "approval.national_little_giant": "triangular(0.2,0.3,0.5)",
    }
    a = sw.plan(hebi, vary, design="lhs", samples=8, futures=5, seed=1)
    b = sw.plan(hebi, vary, design="lhs", samples=8, futures=5, seed=1, uncertainty_seed=9)
    c = sw.plan(hebi, vary, design="lhs", samples=8, futures=5, seed=1, lever_seed=9)
    np.testing.assert_array_equal(a.policy_points(), b.policy_points())
    assert not np.array_equal(a.future_points(), b.future_points())
    np.testing.assert_array_equal(a.future_points(), c.future_points())
    assert not np.array_equal(a.policy_points(), c.policy_points())
    cov = a.policy_points()[:, 0]
    # Latin hypercube: one point in each eighth of the range
    assert sorted(np.floor((cov - 0.2) / 0.6 * 8).astype(int)) == list(range(8))
    size = a.policy_points()[:, 1]
    assert np.array_equal(size, np.round(size))  # an integer quantity
    assert a.n_experiments == 40


def test_grid_with_a_distribution_samples_the_futures(hebi):
    p = sw.plan(
        hebi,
        ["levers.loans.coverage=0.2:0.8:4", "approval.national_little_giant=uniform(0.2,0.5)"],
        futures=3,
    )
    assert p.future_design == "lhs"
    np.testing.assert_allclose(p.policy_points()[:, 0], [0.2, 0.4, 0.6, 0.8])
    assert p.n_experiments == 12
    assert ((p.future_points() >= 0.2) & (p.future_points() <= 0.5)).all()


def test_sobol_design(hebi):
    p = sw.plan(hebi, ["levers.loans.coverage=0.2:0.8"], design="sobol", samples=8)
    x = p.policy_points()[:, 0]
    assert len(x) == 8 and ((x >= 0.2) & (x <= 0.8)).all()


def test_shipped_sweep_file_plans_two_levers_and_one_uncertainty():
    p = sw.plan(SHIPPED)
    assert [f.path for f in p.levers] == [
        "levers.awards.by_tier.national_little_giant",
        "levers.loans.coverage",
    ]
    assert [f.path for f in p.uncertainties] == ["approval.national_little_giant"]
    assert p.n_policies == 12 and p.n_futures == 4
    awards = p.policy_points()[:, 0]
    assert awards.min() == 0 and awards.max() == 1_000_000


# --- bad specs -----------------------------------------------------------------------------

BAD = [
    pytest.param(
        "levers.awards.by_tier.little_giant=0:1e6:3",
        "unknown_path",
        ["national_little_giant", "Nearest"],
        id="unknown-path-suggests-nearest",
    ),
    pytest.param(
        "approval.national_litle_giant=0.2:0.4:3",
        "unknown_path",
        ["approval.national_little_giant"],
        id="misspelt-parameter",
    ),
    pytest.param(
        "levers.loans.coverage=0.8:0.2:3", "bad_range", ["lo 0.8 > hi 0.2"], id="lo-above-hi"
    ),
    pytest.param("levers.loans.coverage=0.2:0.8:0", "bad_count", ["n = 0"], id="n-below-one"),
    pytest.param(
        "levers.loans.coverage=uniform(0.2,0.8)",
        "distribution_on_lever",
        ["distribution", "lo:hi:n"],
        id="distribution-on-lever",
    ),
    pytest.param(
        "approval.national_little_giant=beta(2,3)",
        "bad_spec",
        ["uniform(lo,hi)"],
        id="unknown-distribution",
    ),
    pytest.param(
        "approval.national_little_giant=uniform(0.5,0.2)",
        "bad_range",
        ["lo < hi"],
        id="uniform-lo-above-hi",
    ),
    pytest.param(
        "approval.national_little_giant=normal(0.35,0.1)",
        "out_of_range",
        ["between 0 and 1", "normal(mu,sd,lo,hi)"],
        id="unbounded-normal-on-a-probability",
    ),
    pytest.param(
        "levers.loans.coverage=0.2,1.5", "out_of_range", ["between 0 and 1"], id="share-above-one"
    ),
    pytest.param(
        "levers.loans.coverage=0.2:0.8", "bad_count", ["number of points n"], id="grid-without-n"
    ),
    pytest.param("levers.loans.coverage=fifty", "bad_spec", ["lo:hi:n"], id="not-a-number"),
    pytest.param("levers.loans.coverage", "bad_spec", ["PATH=SPEC"], id="no-equals-sign"),
]


@pytest.mark.parametrize(("item", "kind", "words"), BAD)
def test_bad_specs_are_refused_with_fields(hebi, item, kind, words):
    with pytest.raises(sw.SweepError) as e:
        sw.plan(hebi, [item])
    err = e.value
    assert err.kind == kind
    assert err.path == item.partition("=")[0]
    assert err.file == "--vary"
    assert err.expected and err.found
    for w in words:
        assert w in err.message, (w, err.message)


def test_unknown_path_lists_nearest_paths_and_the_missing_section(hebi):
    with pytest.raises(sw.SweepError) as e:
        sw.plan(hebi, ["levers.awards.by_tier.national_little_giant=0:1e6:3"])
    assert "no levers.awards section" in e.value.fix and "scenario_patch" in e.value.fix


def test_bad_counts(hebi):
    with pytest.raises(sw.SweepError) as e:
        sw.plan(hebi, ["levers.loans.coverage=0.2,0.8"], runs=0)
    assert e.value.kind == "bad_count" and e.value.path == "runs"
    with pytest.raises(sw.SweepError) as e:
        sw.plan(hebi, ["levers.loans.coverage=0.2,0.8", "levers.loans.coverage=0.5"])
    assert e.value.kind == "duplicate_path"
    with pytest.raises(sw.SweepError) as e:
        sw.plan(hebi, [])
    assert e.value.kind == "bad_count" and e.value.path == "vary"


def test_patch_numbers_must_say_they_are_hypothetical(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL.replace('"hypothetical: a test award"', "Hebi 2023"), encoding="utf-8")
    with pytest.raises(sw.SweepError) as e:
        sw.plan(f)
    assert e.value.kind == "not_hypothetical"
    assert e.value.path == "scenario_patch.levers.awards.source"
    assert e.value.line == 5


def test_patch_errors_point_into_the_sweep_file(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL.replace("national_little_giant: {value: 0", "little_giant: {value: 0"))
    with pytest.raises(ScenarioErrors) as e:
        sw.plan(f)
    err = e.value.errors[0]
    assert err.path == "scenario_patch.levers.awards.by_tier.little_giant"
    assert err.file == str(f) and err.line == 7


def test_sweep_file_unknown_key(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(SMALL + "sample: 4\n", encoding="utf-8")
    with pytest.raises(sw.SweepError) as e:
        sw.plan(f)
    assert e.value.kind == "unknown_key" and "samples" in e.value.fix


def test_unreachable_scheduler_names_the_address_and_how_to_start_one(small_file, tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(sw.SchedulerUnreachable) as e:
        sw.run(sw.plan(small_file), tmp_path / "out", scheduler=address, connect_timeout=1)
    assert e.value.address == address
    assert address in str(e.value) and "dask scheduler" in str(e.value)
    assert not (tmp_path / "out").exists(), "nothing written"


def test_cli_bad_spec_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = cli("sweep", HEBI, "--vary", "levers.loans.coverage=0.8:0.2:3", "--out", out)
    assert r.exit_code == 2
    assert "levers.loans.coverage" in r.output and "lo 0.8 > hi 0.2" in r.output
    assert "nothing was run or written" in r.output
    assert not out.exists()


# --- plots ---------------------------------------------------------------------------------


def test_plot_sweep_draws_a_surface_and_a_curve(reference, tmp_path):
    _, out = reference
    r = cli("plot", "sweep", out, "--out", tmp_path / "surface.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "surface.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cli("plot", "sweep", out, "--x", "levers.loans.coverage", "--out", tmp_path / "c.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c.png").stat().st_size > 0
    r = cli("plot", "sweep", out, "--x", "levers.nothing")
    assert r.exit_code == 2 and "was not varied" in r.output


def test_plot_sweep_refuses_an_unfinished_folder(tmp_path):
    r = cli("plot", "sweep", tmp_path)
    assert r.exit_code == 2 and "no finished sweep" in r.output


def test_cli_reports_the_design_and_reruns_nothing_when_done(small_file, tmp_path):
    r = cli("sweep", small_file, "--out", tmp_path, "--workers", "1")
    assert r.exit_code == 0, r.output
    assert "8 experiments (4 policies x 2 futures) x 10 replications" in r.output
    first = table_bytes(tmp_path)
    r = cli("sweep", small_file, "--out", tmp_path, "--workers", "1")
    assert r.exit_code == 0, r.output
    assert "nothing left to run" in r.output and "8 experiments were already done" in r.output
    assert table_bytes(tmp_path) == first
