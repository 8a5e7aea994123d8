"""Ctrl-C and kill: no traceback, no partial files, no worker left running (sim/runs/workers.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


def _start_forecast(out: Path) -> tuple[subprocess.Popen, set[int]]:
    cmd = [sys.executable, "-m", "sim.cli", "forecast", "scenarios/hebi.yaml", "--runs", "20000",
           "--workers", "2", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = {c for c in _children(proc.pid) if "resource_tracker" not in _cmdline(c)}
        assert proc.poll() is None, proc.communicate()
    assert len(workers) >= 2, "the forecast did not start its workers"
    time.sleep(1.0)  # the workers are busy with their first chunk
    return proc, workers


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _gone(pids: set[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pids):
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_stops_the_forecast_at_once_without_a_traceback(tmp_path):
    out = tmp_path / "out"
    proc, workers = _start_forecast(out)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole process group
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10  # at the first press, not after the 20,000 runs
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert _gone(workers)
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_a_killed_forecast_leaves_no_worker(tmp_path):
    proc, workers = _start_forecast(tmp_path / "out")
    proc.kill()  # SIGKILL: the parent cannot clean up
    proc.communicate(timeout=30)
    assert _gone(workers)
