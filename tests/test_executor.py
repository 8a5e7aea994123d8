"""`executor.executor` with a shared input: every task gets it, each worker receives it once
(not once per task), and the calibration's `Runner` gives the same replications, in task order,
in this process, in local processes and on Dask."""

from __future__ import annotations

import numpy as np
import pytest

from sim.calibration import calibrate as cal
from sim.runs.executor import executor


class Counted:
    """A shared input that counts how often this process pickles it."""

    pickled = 0

    def __init__(self, value: int) -> None:
        self.value = value

    def __getstate__(self) -> dict:
        Counted.pickled += 1
        return self.__dict__


def _plus(shared: Counted, task: int) -> int:
    return shared.value + task


def test_in_this_process_every_task_gets_the_shared_object_itself():
    shared = Counted(10)
    with executor(1, shared=shared) as (submit, label, n):
        got = dict(submit(lambda s, t: (s is shared, t), range(5)))
    assert (label, n) == ("1 process", 1)
    assert got == {t: (True, t) for t in range(5)}


def test_local_processes_receive_the_shared_input_once_each_not_once_per_task():
    Counted.pickled = 0
    with executor(2, shared=Counted(100)) as (submit, _, n):
        got = dict(submit(_plus, range(40)))
    assert n == 2 and got == {t: 100 + t for t in range(40)}
    assert Counted.pickled <= 2  # none where workers fork, one per worker where they spawn


def test_without_a_shared_input_tasks_get_only_the_task():
    with executor(2) as (submit, _, _):
        assert dict(submit(abs, [-3, 4])) == {-3: 3, 4: 4}


@pytest.fixture(scope="module")
def small():
    config, obs = cal.load_config(), cal.load_observed()
    return cal.Calibration(config, cal.moments(config, obs), scale=400.0, runs=2)


def _tasks(small) -> list[cal.Task]:
    theta = small.start()
    other = theta.copy()
    other[small.names.index("re_review.fail_if_eligible")] = 0.9
    return [(t, s) for t in (theta, other) for s in small.seeds(5, seed=4)]


def test_the_runner_returns_replications_in_task_order_whatever_the_workers(small):
    tasks = _tasks(small)
    one = cal.Runner(small.setup, 1).map(tasks)  # outside a with block: this process
    with cal.Runner(small.setup, 2) as runner:
        two = runner.map(tasks)
        again = runner.map(tasks[::-1])  # the pool stays up between maps
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(one[::-1], again, strict=True))


def test_the_runner_on_dask_gives_the_replications_of_one_process(small):
    pytest.importorskip("distributed")
    tasks = _tasks(small)
    one = cal.Runner(small.setup, 1).map(tasks)
    with cal.Runner(small.setup, 2, scheduler="local") as runner:
        dask = runner.map(tasks)
    assert all(np.array_equal(a, b) for a, b in zip(one, dask, strict=True))
