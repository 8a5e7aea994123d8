"""Local worker processes for every verb: one way to start them, and they end with the process
that started them.

- **Killed parent.** Each worker asks the kernel to kill it when its parent dies (Linux
  `prctl(PR_SET_PDEATHSIG)`), so `kill -9` on `srdi forecast` leaves no worker running.
  Elsewhere an orphaned worker finishes its task and exits when it cannot return the result.
- **Ctrl-C.** Workers ignore SIGINT: the terminal sends it to the whole process group, and only
  the parent should react. The parent's KeyboardInterrupt leaves `process_pool` by killing the
  workers at once (not after their current task), and the CLI reports it without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def mp_context():
    """Fork where the platform has it (fast start); mesa sets the global default to spawn."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def die_with_parent(parent: int) -> None:
    """In a worker: end when process `parent` ends (killed too), and leave Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _start_worker(parent: int, initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def process_pool(
    workers: int, initializer: Callable[..., Any] | None = None, initargs: tuple = ()
) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers die with this process; on any exception (Ctrl-C included)
    the workers are killed at once instead of finishing their tasks."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )
    try:
        yield pool
    except BaseException:
        kill(pool)
        raise
    else:
        pool.shutdown(wait=True)


def kill(pool: ProcessPoolExecutor) -> None:
    """Stop `pool` now: cancel what has not started and kill the workers."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        with contextlib.suppress(OSError, ValueError):
            p.kill()
