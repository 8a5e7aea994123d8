"""`srdi calibrate` and `srdi backtest`: the national scenario fitted to the observed series,
and its forecasts judged on years it was not fitted to."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import click

from sim.cli.common import EXIT_INVALID, fail, out_folder, workers_option
from sim.errors import ScenarioErrors
from sim.views.labels import LANGS


@click.command()
@click.option(
    "--reproduce", is_flag=True, help="Regenerate the figures from the saved fit, and the backtest."
)
@click.option(
    "--holdout-from",
    type=int,
    metavar="YEAR",
    help="Fit only on data before YEAR; forecast YEAR on against naive baselines.",
)
@click.option("--seed", "-s", type=int, default=None, help="Root seed (default: the config's).")
@click.option("--quick", is_flag=True, help="A smoke run of the same code (tests, < 1 minute).")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the fit and figures (default calibration/; with --quick, a new temp folder).",
)
@workers_option
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True,
              help="Language of the figures' words (the shipped ones are English).")  # fmt: skip
def calibrate(reproduce, holdout_from, seed, quick, out, workers, lang) -> None:
    """Fit the national scenario to the observed series, or regenerate the figures.

    Example: srdi calibrate --reproduce   (figures and tables in calibration/figures/, the
    rolling-origin backtest in calibration/backtest/)

    Example: srdi calibrate --holdout-from 2023
    """
    import shutil

    from sim.calibration import calibrate as cal

    workers = workers or os.cpu_count() or 1
    fit_dir = None  # the fit's folder: `folder` itself, except for the shipped calibration
    if out is not None:
        folder = Path(out)
    elif quick:
        folder = Path(tempfile.mkdtemp(prefix="srdi-calibrate-quick-"))
        if reproduce:  # the saved fit, figures into the temp folder
            for name in ("fit.yaml", "posterior.csv"):
                shutil.copy(cal.FIT_DIR / name, folder / name)
    else:
        folder, fit_dir = cal.CALIBRATION_DIR, cal.FIT_DIR

    def say(msg: str) -> None:  # above the progress bar, not through it
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)

    try:
        if holdout_from is not None:
            table = cal.run_holdout(folder, holdout_from, seed, workers, quick, say, lang, bar=True)
            click.echo(cal.format_holdout(table, holdout_from))
        elif reproduce:
            cal.reproduce(folder, seed, workers, quick, say, fit_dir=fit_dir, lang=lang)
            click.echo(cal.format_fit(_fit_table(folder)))
        else:
            cal.run_calibration(
                folder, seed, workers, quick, say, fit_dir=fit_dir, lang=lang, bar=True
            )
            click.echo(cal.format_fit(_fit_table(folder)))
    except cal.CalibrationError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"\nOutputs in {folder}/")


def _origins(value: str | None) -> list[int] | None:
    """`--origins 2020,2021,2022` as years, or None for backtest.yaml's."""
    if value is None:
        return None
    try:
        out = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out:
        raise click.BadParameter(
            f"must be years separated by commas (2020,2021,2022), got '{value}'",
            param_hint="--origins",
        )
    return out


@click.command()
@click.option(
    "--origins", metavar="YEARS", help="Origins, e.g. 2020,2021,2022 (default: backtest.yaml's)."
)
@click.option(
    "--out", "-o", type=click.Path(), help="Write the scores, summary, table and figure here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--quick", is_flag=True, help="A smoke run of the same code (few, small runs).")
@click.option("--runs", "-n", type=int, default=None, help="Replications per origin.")
@workers_option
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True,
              help="Language of the figure's labels.")  # fmt: skip
def backtest(origins, out, as_json, quick, runs, workers, lang) -> None:
    """Judge the model's forecasts on years it was not fitted to, against naive baselines.

    For each origin the model is fitted on data before it and forecasts the origin year and the
    next (calibration/backtest.yaml); repeat-last, last-change and trend forecasts are scored on
    the same observations.

    Example: srdi backtest --origins 2020,2021,2022 --out results/backtest
    """
    from sim.calibration import backtest as bt

    years = _origins(origins)
    if runs is not None and runs < 1:
        raise click.BadParameter(f"must be at least 1, got {runs}", param_hint="--runs")
    out_dir = out_folder(out)
    try:
        bt.load_series()
    except bt.BacktestError as e:
        fail(ScenarioErrors([e]))
    try:
        from sim.calibration.origin_forecast import forecaster as make_forecaster
    except ModuleNotFoundError as e:
        if e.name != "sim.calibration.origin_forecast":
            raise
        click.echo(
            "error: the model forecaster (sim.calibration.origin_forecast) is not available.",
            err=True,
        )
        sys.exit(1)
    forecaster = make_forecaster(
        quick=quick, runs=runs, workers=workers, progress=sys.stderr.isatty()
    )
    try:
        result = bt.run_backtest(forecaster, origins=years)
    except bt.ForecastOutputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if out_dir is not None:
        result.write(out_dir, lang)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.markdown(), nl=False)
        if out_dir is not None:
            click.echo(f"\nScores, summary, table and figure written to {out_dir}/")


def _fit_table(folder: Path):
    """The fit's table that a calibration wrote (pandas imported here, not at start-up)."""
    import pandas as pd

    return pd.read_csv(folder / "figures" / "fit.csv")
