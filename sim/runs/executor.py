"""One executor for every ensemble of replications: in this process, local worker processes,
or a Dask cluster (an existing one at an address, or a `distributed.LocalCluster`).

`executor(workers, scheduler)` yields ``(submit_all, label, n_workers)``; ``submit_all(fn,
tasks)`` yields ``(task, fn(task))`` as tasks finish, in any order, so callers that need an
order put it in the task (the sweep's chunk names, the forecast's first replication, the
calibration's and the sensitivity's first index). Used by `sim.runs.sweep.run`,
`sim.runs.ensemble.run_ensemble`, `sim.calibration.simulation.Runner` and `sim.runs.sensitivity`.

**Shared input.** ``executor(..., shared=obj)`` sends `obj` (what every task needs: the
calibration's `Setup`, the sensitivity's scenario) to each worker once instead of with every
task, and ``submit_all(fn, tasks)`` then yields ``(task, fn(obj, task))``. In this process `fn`
gets `obj` itself; local processes receive it through the pool's initializer (`_keep_shared`,
copied at fork where the platform forks); on Dask it is scattered to every worker with
``client.scatter([obj], broadcast=True)`` and each task is submitted with that future, which
the worker resolves to its own copy (no global state on the workers, so clients that share a
cluster do not see each other's objects).

- ``scheduler=None``: ``workers=1`` runs in this process, ``workers=W`` in W local processes
  (`sim.runs.workers.process_pool`: they die with this process).
- ``scheduler="local"``: a `distributed.LocalCluster` of W single-threaded worker processes,
  started here and closed on leaving.
- ``scheduler="tcp://host:8786"``: an existing Dask cluster; ``workers`` is not used (the
  cluster has its own), and its workers need this package installed. No answer within
  ``connect_timeout`` seconds raises `SchedulerUnreachable`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sim.errors import SrdiError

# seconds to wait for a Dask scheduler to answer
CONNECT_TIMEOUT = 10.0

SubmitAll = Callable[[Callable[..., Any], Iterable[Any]], Iterator[tuple[Any, Any]]]

# "no shared input" (None can be one)
_NOTHING: Any = object()

# in a local worker process: the shared input its pool's initializer received
_SHARED: Any = _NOTHING


def _keep_shared(obj: Any) -> None:
    global _SHARED
    _SHARED = obj


def _with_shared(fn: Callable[[Any, Any], Any], task: Any) -> Any:
    return fn(_SHARED, task)


class SchedulerUnreachable(SrdiError):
    """No Dask scheduler answered at the address given.

    Attributes:
        address: the address tried.
        reason: what the connection attempt reported.
    """

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(
            f"No Dask scheduler answered at {address} ({reason}). Start one on that host with "
            f"`dask scheduler` (older releases: `dask-scheduler`) and workers with "
            f"`dask worker {address}`, or use --scheduler local to start a cluster on this "
            "machine, or leave --scheduler out to use local worker processes."
        )


@contextlib.contextmanager
def executor(
    workers: int,
    scheduler: str | None = None,
    connect_timeout: float | None = None,
    shared: Any = _NOTHING,
) -> Iterator[tuple[SubmitAll, str, int]]:
    """Yields (submit_all, label, n_workers); submit_all(fn, tasks) yields (task, result) pairs
    as tasks end, the result being fn(task), or fn(shared, task) when `shared` is given (sent
    once per worker: module docstring). `label` names the executor for manifests and logs ("2
    local processes"); `connect_timeout` defaults to `CONNECT_TIMEOUT`, read at the call."""
    has_shared = shared is not _NOTHING
    if scheduler is None:
        if workers <= 1:

            def serial(fn, tasks):
                for t in tasks:
                    yield t, (fn(shared, t) if has_shared else fn(t))

            yield serial, "1 process", 1
            return
        from concurrent.futures import as_completed

        from sim.runs.workers import process_pool

        init = (_keep_shared, (shared,)) if has_shared else (None, ())
        with process_pool(workers, *init) as pool:

            def local(fn, tasks):
                if has_shared:
                    futs = {pool.submit(_with_shared, fn, t): t for t in tasks}
                else:
                    futs = {pool.submit(fn, t): t for t in tasks}
                try:
                    for f in as_completed(futs):
                        yield futs[f], f.result()
                finally:
                    for f in futs:
                        f.cancel()

            yield local, f"{workers} local processes", workers
        return
    try:
        import distributed
    except ImportError:  # pragma: no cover - a dependency of the package
        raise SchedulerUnreachable(
            scheduler,
            "the dask distributed package is not installed: pip install 'dask[distributed]'",
        ) from None
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
            label = f"Dask LocalCluster of {workers} workers"
        else:
            try:
                client = stack.enter_context(
                    distributed.Client(
                        scheduler,
                        timeout=CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
                    )
                )
            except (OSError, TimeoutError, ValueError) as e:
                raise SchedulerUnreachable(
                    scheduler, str(e).splitlines()[0] or type(e).__name__
                ) from None
            label = f"Dask cluster at {scheduler}"
        n = max(1, sum(client.nthreads().values()))
        # a list, so that a tuple or dict is scattered whole, not item by item
        remote = client.scatter([shared], broadcast=True, hash=False)[0] if has_shared else None

        def dask(fn, tasks):
            futs = {}
            for t in tasks:
                args = (remote, t) if has_shared else (t,)
                futs[client.submit(fn, *args, pure=False)] = t
            try:
                for f in distributed.as_completed(list(futs)):
                    yield futs[f], f.result()
            finally:
                client.cancel(list(futs))

        yield dask, label + f" ({n} threads)", n


__all__ = ["CONNECT_TIMEOUT", "SchedulerUnreachable", "executor"]
