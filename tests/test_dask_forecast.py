"""`srdi forecast --scheduler`: replications on Dask give the JSON of local processes, and an
unreachable scheduler is refused with the sweep's message (sim/runs/executor.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helper import srdi

HEBI = Path(__file__).resolve().parents[1] / "scenarios" / "hebi.yaml"

ARGS = (HEBI, "--runs", 6, "--seed", 3, "--json")


def _forecast(*extra) -> dict:
    r = srdi("forecast", *ARGS, *extra)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    doc.pop("elapsed_seconds")
    return doc


def test_local_cluster_gives_the_json_of_one_process():
    pytest.importorskip("distributed")
    one = _forecast("--workers", 1)
    dask = _forecast("--scheduler", "local", "--workers", 2)
    assert dask == one
    assert one["runs"] == 6 and one["attributable"], "the counterfactual ran too"


def test_unreachable_scheduler_exits_with_the_address_and_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("sim.runs.executor.CONNECT_TIMEOUT", 1.0)
    address = "tcp://127.0.0.1:1"
    out = tmp_path / "out"
    r = srdi("forecast", *ARGS, "--scheduler", address, "--out", out)
    assert r.returncode != 0
    assert f"No Dask scheduler answered at {address}" in r.stderr
    assert "dask scheduler" in r.stderr and "--scheduler local" in r.stderr
    # the folder is made before the run to check that it takes files (`cli.common.writable_folder`)
    assert r.stdout == "" and not any(out.iterdir()), "nothing printed or written"


def test_every_pass_on_dask_is_in_replication_order(hebi):
    """The lever-off passes and a relaxation go through Dask too, gathered in seed order."""
    pytest.importorskip("distributed")
    from sim.runs.ensemble import run_ensemble

    kw = dict(runs=5, seed=4, by_lever=True, relax={"titles"})
    one = run_ensemble(hebi, workers=1, **kw)
    dask = run_ensemble(hebi, workers=2, scheduler="local", **kw)
    for name in ("runs", "counterfactual"):
        a, b = getattr(one, name), getattr(dask, name)
        assert all(np.array_equal(a[k], b[k]) for k in a), name
    for lever, off in one.lever_off.items():
        assert all(np.array_equal(off[k], dask.lever_off[lever][k]) for k in off), lever
