"""The `srdi` command line: a thin layer over the Python API.

Each verb parses its options, reads and validates the files, calls the public function and
writes the output. Bad input gets one message per problem on stderr and a non-zero exit
(2 for invalid input), before anything is run or written.

This module is the `srdi` group and its entry point; the verbs live by family:
`forecast` (forecast, report), `scenarios` (validate, list), `explore` (sweep, plot,
discover, sensitivity), `planning` (plan, diagnose, compare, dashboard), `calibration`
(calibrate, backtest), and what they share in `common`. Heavy libraries are imported inside
the verbs, so that `srdi --help` stays fast.
"""

from __future__ import annotations

import os

import click

from sim.cli import calibration, explore, forecast, planning, scenarios
from sim.errors import SrdiError


class _Commands(click.Group):
    """The verbs, with every project error (SrdiError) turned into its message and exit 1,
    however the command line is invoked (the `srdi` script, `python -m sim.cli`, a test)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SrdiError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="srdi-sim")
def main() -> None:
    """Forecast whether a place's SRDI (专精特新) plan reaches its targets, and at what cost."""


for _verb in (
    forecast.forecast,
    forecast.report,
    scenarios.validate,
    scenarios.list_scenarios,
    explore.sweep_command,
    explore.plot,
    explore.discover,
    explore.sensitivity_command,
    planning.plan_command,
    planning.diagnose,
    planning.compare_command,
    planning.dashboard,
    calibration.calibrate,
    calibration.backtest,
):
    main.add_command(_verb)


def run() -> None:
    """The `srdi` entry point."""
    # the verbs write figures to files: no window, no display needed (set before matplotlib is
    # imported, in the `srdi` process only; a notebook keeps its inline backend)
    os.environ.setdefault("MPLBACKEND", "Agg")
    main(standalone_mode=True)
