"""`srdi validate` and `srdi list`: the scenario files, checked or listed without running the
model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim.cli.common import EXIT_INVALID, fail
from sim.errors import ScenarioErrors

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"  # the shipped scenarios


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files) -> None:
    """Check scenario files and print every problem in every file.

    Example: srdi validate scenarios/*.yaml
    """
    from sim.scenario import is_sweep_file, load, validate_files, warnings_for

    problems = validate_files(files)
    if problems:
        fail(ScenarioErrors(problems))
    for f in files:
        if not is_sweep_file(Path(f)):
            for w in warnings_for(load(f), f):
                click.echo(f"warning: {w}", err=True)
        click.echo(f"ok: {f}")


@click.command("list")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
def list_scenarios(folder) -> None:
    """The shipped scenarios with place, period and targets.

    Example: srdi list
    """
    from sim.scenario import load

    root = (
        Path(folder)
        if folder
        else Path("scenarios")
        if Path("scenarios").is_dir()
        else (SCENARIO_DIR)
    )
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        click.echo(f"error: no scenario files (*.yaml) in {root}", err=True)
        sys.exit(EXIT_INVALID)
    bad = 0
    for p in paths:
        try:
            sc = load(p)
        except ScenarioErrors as e:
            bad += 1
            click.echo(f"{p}: invalid ({len(e.errors)} problems; run `srdi validate {p}`)")
            continue
        click.echo(
            f"{p}  {sc.place.name} ({sc.place.name_zh or ''}, {sc.place.level}) "
            f"{sc.period.start}-{sc.period.end}, base {sc.period.base_year}"
        )
        if not sc.targets:
            click.echo("    no targets (a status-quo forecast)")
        for t in sc.targets:
            goal = f"{t.value:g}" + (f"-{t.stretch:g}" if t.stretch is not None else "")
            click.echo(f"    {t.year} {t.kind:<10} {t.tier:<26} {goal:>9}   [{t.source[:40]}]")
    if bad:
        sys.exit(EXIT_INVALID)
