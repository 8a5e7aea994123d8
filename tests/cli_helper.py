"""The `srdi` command run in the test process (no interpreter start-up), with the interface of
`subprocess.run`: returncode, stdout, stderr. One end-to-end test per concern still starts a
real process (tests/test_install.py, tests/test_interrupt.py, the alias-bomb timing)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from sim.cli import main


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def srdi(*args, cwd: Path | None = None, timeout: float | None = None) -> Completed:
    """`srdi ARGS` in this process, in folder `cwd`; `timeout` is accepted and ignored."""
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        r = CliRunner().invoke(main, [str(a) for a in args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # a bug, not a refusal: show its traceback
    return Completed(r.exit_code, r.stdout, r.stderr)
