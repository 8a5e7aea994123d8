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

import errno
import os
import sys

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
    """The `srdi` entry point: click's standalone handling, except that Ctrl-C leaves at once.

    On Ctrl-C the verb has already cleaned up while the interrupt unwound it (workers killed,
    nothing half-written: sim/runs/workers.py, sim/views/output.py). The process then exits
    with 130 without running the interpreter's exit handlers, which would wait for a killed
    process pool's manager thread and can hang there.
    """
    # the verbs write figures to files: no window, no display needed (set before matplotlib is
    # imported, in the `srdi` process only; a notebook keeps its inline backend)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        code = main.main(standalone_mode=False)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt
        click.echo("Aborted!", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except OSError as e:  # output piped into a reader that stopped (`srdi list | head`)
        if e.errno != errno.EPIPE:
            raise
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
