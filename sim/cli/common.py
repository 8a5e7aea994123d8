"""What the verbs share: the exit for invalid input, reading a scenario and its `--set`
options, checking `--out` before a run, the long-run warning, the options every runner takes,
and the short forms of lever paths and numbers in text reports.

Bad input gets one message per problem on stderr and exit 2, before anything is run or
written. Only light modules are imported here, so that `srdi --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import click

from sim.errors import ScenarioErrors

EXIT_INVALID = 2
# --scheduler of forecast, report and sweep (sim/runs/executor.py)
SCHEDULER_HELP = (
    "A Dask scheduler (tcp://host:8786), or 'local' to start a Dask LocalCluster of --workers "
    "workers; with an address, --workers is not used (the cluster has its own)."
)
STARTED = time.perf_counter()  # the dashboard reports its start-up time from here

# the options of every verb that runs the model in processes, and of those that print JSON
workers_option = click.option(
    "--workers", "-w", default=None, type=int, help="Worker processes (default: all cores)."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout."
)


def fail(errors: ScenarioErrors) -> NoReturn:
    """Each problem on stderr, their count, and exit 2."""
    for e in errors.errors:
        click.echo(f"error: {e.message}", err=True)
    n = len(errors.errors)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was run or written.", err=True)
    sys.exit(EXIT_INVALID)


def load_scenario(path: str, verb: str = "forecast"):
    """The scenario of a verb, or the errors and exit 2; a sweep file is named as one (looked
    for only when the file does not load, so a valid scenario is read once)."""
    from sim.scenario import ScenarioError, is_sweep_file, load

    try:
        return load(path)
    except ScenarioErrors as errors:
        problems = errors
    if is_sweep_file(Path(path)):
        problems = ScenarioErrors([ScenarioError(
            path, "", expected=f"a scenario file for `srdi {verb}`",
            found="a sweep file (it has 'scenario' and 'vary', no 'place')",
            kind="wrong_type", fix=f"Run it with `srdi sweep {path} --out DIR`.",
        )])  # fmt: skip
    fail(problems)


def parse_set(sc, items: Iterable[str]) -> dict[str, float]:
    """The `--set PATH=VALUE` options checked against the scenario, or the errors and exit 2."""
    from sim.scenario import parse_settings

    try:
        return parse_settings(sc, items, "--set")
    except ScenarioErrors as e:
        fail(e)


def writable_folder(folder: Path) -> str | None:
    """Why `folder` cannot take output files, or None when a file can be created in it."""
    if folder.exists() and not folder.is_dir():
        return f"{folder} exists and is not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".srdi-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write into {folder}: {e.strerror or e}"
    return None


def out_folder(out: str | None) -> Path | None:
    """The `--out` folder, checked before the run so that a long run is not lost to a folder
    that cannot take its files (the reason and exit 2); None without `--out`."""
    if not out:
        return None
    folder = Path(out)
    if why := writable_folder(folder):
        click.echo(f"error: --out: {why}; nothing was run or written.", err=True)
        sys.exit(EXIT_INVALID)
    return folder


def warn_if_long(seconds: float, what: str, shorter: str) -> None:
    """Before a run expected to take over a minute: the estimate and how to shorten it."""
    if seconds > 60:
        click.echo(
            f"note: this run is expected to take about {seconds / 60:.0f} min ({what}); "
            f"shorten it with {shorter}.",
            err=True,
        )


def short_path(path: str) -> str:
    """A lever path as a text report shows it: `levers.` and `by_tier.` dropped."""
    return path.removeprefix("levers.").replace("by_tier.", "")


def short_number(v: float) -> str:
    """A number in a few characters: 1.5M, 40k, 0.35."""
    return f"{v / 1e6:.3g}M" if abs(v) >= 1e6 else f"{v / 1e3:.3g}k" if abs(v) >= 1e4 else f"{v:g}"
