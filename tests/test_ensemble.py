"""Monte Carlo ensembles: seeds, workers, target probabilities, counterfactual, JSON output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sim.engine.ladder import STANDARD_TIERS
from sim.engine.model import GrowthModel
from sim.levers import LEVER_NAMES
from sim.runs.ensemble import (
    EnsembleResult,
    levers_of,
    run_ensemble,
    run_passes,
    run_replication,
    run_variants,
)
from sim.scenario import load

RUNS, SEED = 6, 11
METRICS = {"at_least", "exactly", "new", "ever"}
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def serial(hebi):
    return run_ensemble(hebi, runs=RUNS, seed=SEED, workers=1)


@pytest.fixture(scope="module")
def parallel(hebi):
    return run_ensemble(hebi, runs=RUNS, seed=SEED, workers=2)


def _same_arrays(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _plain_dict(result) -> dict:
    d = result.to_dict()
    d.pop("elapsed_seconds")
    return d


# --- reproducibility -----------------------------------------------------------------------


def test_one_and_two_workers_give_identical_results(serial, parallel):
    assert _same_arrays(serial.runs, parallel.runs)
    assert _same_arrays(serial.counterfactual, parallel.counterfactual)
    assert _plain_dict(serial) == _plain_dict(parallel)


# A fresh interpreter: whether this process has loaded the compiled kernels is what is tested.
_FIRST_SEED_HERE = """
import os, sys
import numpy as np
from sim.engine.kernels import grow_and_invest
from sim.runs import ensemble
from sim.scenario import load

def probe(task):
    loaded = bool(grow_and_invest.signatures)
    return [(os.getpid(), loaded, one) for one in ensemble._run_chunk(task)]

ensemble.KERNELS_LOAD_SECONDS = float(sys.argv[2])
hebi = load(sys.argv[1])
seeds = np.random.SeedSequence(11).spawn(5)
task = {"scenario": hebi, "passes": [(True, True, ()), (False, False, ())], "values": None,
        "relax": frozenset(), "funnel": False}
got = ensemble._per_seed(probe, task, seeds, 2, None, None, None)
alone = [ensemble.run_passes(hebi, s, task["passes"]) for s in seeds]
same = all(
    a.keys() == b[2].keys()
    and all(np.array_equal(a[k][m], b[2][k][m]) for k in a for m in a[k])
    for a, b in zip(alone, got, strict=True)
)
again = ensemble._per_seed(probe, task, seeds, 2, None, None, None)  # kernels loaded here now?
print([(pid == os.getpid(), loaded) for pid, loaded, _ in got], same,
      any(pid == os.getpid() for pid, _, _ in again))
"""


@pytest.mark.parametrize(
    ("load_seconds", "expected"),
    [
        # a city: the first seed runs here, and the workers forked after it have the kernels
        (0.6, [(True, False)] + [(False, True)] * 4),
        # a replication dearer than the loading it would save: every seed on the workers,
        # whose first chunks (seeds 0 and 1) find no kernel loaded
        (0.0, [(False, False)] * 2 + [(False, "any")] * 3),
    ],
)
def test_a_small_place_s_first_seed_loads_the_kernels_before_the_workers_fork(
    load_seconds, expected
):
    import ast
    import subprocess
    import sys

    from sim.runs.workers import mp_context

    if mp_context().get_start_method() != "fork":
        pytest.skip("workers are spawned here: they cannot inherit loaded kernels")
    script = [sys.executable, "-c", _FIRST_SEED_HERE, str(SCENARIOS / "hebi.yaml")]
    done = subprocess.run([*script, str(load_seconds)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    where, same, again_here = done.stdout.strip().rsplit(" ", 2)
    assert same == "True"  # each seed's result is the one it gives alone
    where = ast.literal_eval(where)
    for (here, loaded), (want_here, want_loaded) in zip(where, expected, strict=True):
        assert here == want_here
        assert want_loaded == "any" or loaded == want_loaded
    # once loaded (or not worth loading), a second ensemble runs every seed on the workers
    assert again_here == "False"


def test_same_seed_gives_identical_results(hebi, serial):
    again = run_ensemble(hebi, runs=RUNS, seed=SEED, workers=1)
    assert _same_arrays(serial.runs, again.runs)
    assert _same_arrays(serial.counterfactual, again.counterfactual)
    assert _plain_dict(serial) == _plain_dict(again)


def test_different_seed_gives_different_results(hebi, serial):
    other = run_ensemble(hebi, runs=RUNS, seed=SEED + 1, workers=1, counterfactual=False)
    assert not np.array_equal(serial.runs["at_least"], other.runs["at_least"])


def test_replications_differ_from_each_other(serial):
    base_year = serial.runs["at_least"][:, 0, :]
    assert len({tuple(row) for row in base_year}) > 1


def test_replication_r_runs_on_child_r_of_the_root_seed(hebi, serial):
    children = np.random.SeedSequence(SEED).spawn(RUNS)
    for r in (0, RUNS - 1):
        one = run_replication(hebi, children[r], levers_on=True)
        assert np.array_equal(one["at_least"], serial.runs["at_least"][r])
        assert np.array_equal(one["cost"], serial.runs["cost"][r])


@pytest.mark.parametrize("name", ["hebi", "xinxiang"])
def test_passes_sharing_one_set_up_give_what_each_gives_alone(name):
    # the counterfactual and every one-lever-off pass start from the first pass's set-up;
    # each must be the run drawn from scratch (bring_in off too: fewer rows reserved).
    # Xinxiang's counterfactual is lazy (no lever, no target counting firms by their state):
    # lazy candidates from a shared set-up
    scenario = load(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    seed = np.random.SeedSequence(SEED).spawn(3)[2]
    passes = [(True, True, ()), (False, False, ())]
    passes += [(lever, True, (lever,)) for lever in levers_of(scenario)]
    shared = run_passes(scenario, seed, passes)
    if name == "hebi":
        assert "bring_in" in shared
    else:
        assert GrowthModel(scenario, seed=seed, levers_on=False, lazy=True).lazy
    for key, on, off in passes:
        alone = run_replication(scenario, seed, on, None, off)
        assert shared[key].keys() == alone.keys()
        for metric in alone:
            assert np.array_equal(shared[key][metric], alone[metric]), (key, metric)


@pytest.mark.parametrize("name", ["hebi", "xinxiang"])
def test_variants_sharing_a_seed_s_set_up_give_each_ensemble_alone(name):
    # srdi diagnose's runs: the plan with its funnel, stages relaxed alone and together, seed
    # by seed from one set-up; each must be the ensemble run alone. Xinxiang has no lever:
    # its first run keeps the set-up (not lazy), the others run lazy candidates from it
    scenario = load(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    variants = {
        "plan": ((), True),
        "apply": (("apply",), False),
        "titles": (("titles",), False),
        "two": (("re_review", "closures"), False),
    }
    ran = run_variants(scenario, 3, SEED, variants, workers=1)
    assert list(ran) == list(variants)
    for key, (relax, funnel) in variants.items():
        alone = run_ensemble(scenario, runs=3, seed=SEED, counterfactual=False, workers=1,
                             relax=frozenset(relax), funnel=funnel)  # fmt: skip
        assert ran[key].runs.keys() == alone.runs.keys()
        for metric in alone.runs:
            assert np.array_equal(ran[key].runs[metric], alone.runs[metric]), (key, metric)
        assert ran[key].counterfactual is None and ran[key].years == alone.years
    # the stages changed the runs (the test can tell)
    assert not np.array_equal(ran["plan"].runs["new"], ran["titles"].runs["new"])


def test_a_set_up_of_another_replication_is_refused(hebi):
    seed = np.random.SeedSequence(SEED)
    kept = GrowthModel(hebi, seed=seed, keep_set_up=True).kept_set_up
    GrowthModel(hebi, seed=seed, levers_on=False, set_up=kept)  # its own: accepted
    other = np.random.SeedSequence(SEED + 1)
    with pytest.raises(ValueError, match="another seed"):
        GrowthModel(hebi, seed=other, levers_on=False, set_up=kept)
    with pytest.raises(ValueError, match="not a lever's"):
        GrowthModel(hebi, seed=seed, set_up=kept, values={"apply.award_elasticity": 0.0})
    with pytest.raises(ValueError, match="another seed, origin or scale"):
        GrowthModel(hebi, seed=seed, set_up=kept, origin=2024)


@pytest.mark.parametrize(
    "kept_under,run_under",
    [
        ({}, {"levers.bring_in.firms_per_year": 25.0, "levers.loans.coverage": 0.8}),
        ({"levers.bring_in.firms_per_year": 25.0}, {}),  # a lever's value back to its draw
        ({"levers.stewards.coverage": 0.2}, {"levers.cultivation_pool.size": 10.0}),
    ],
)
def test_a_set_up_serves_runs_whose_lever_values_differ(hebi, kept_under, run_under):
    # a sweep's experiments on one seed: the set-up is drawn before any lever acts, so one
    # kept under some lever values gives, under others, the run drawn from scratch
    seed = np.random.SeedSequence(SEED).spawn(2)[1]
    kept = run_replication(hebi, seed, True, kept_under or None, keep_set_up=True)["set_up"]
    for on in (True, False):
        shared = run_replication(hebi, seed, on, run_under or None, set_up=kept)
        alone = run_replication(hebi, seed, on, run_under or None)
        for metric in alone:
            assert np.array_equal(shared[metric], alone[metric]), (on, metric)
    # the lever values did change the run (the test can tell)
    base = run_replication(hebi, seed, True, kept_under or None)
    changed = run_replication(hebi, seed, True, run_under or None)
    assert not all(np.array_equal(base[m], changed[m]) for m in base)


@pytest.mark.parametrize("workers", [1, 2])
def test_ensembles_sharing_set_ups_give_each_ensemble_alone(hebi, workers, monkeypatch):
    # `srdi plan`'s evaluations: mixes of lever values on the same seeds
    first = {"levers.bring_in.firms_per_year": 25.0}
    then = {"levers.loans.coverage": 0.8, "levers.stewards.coverage": 0.2}
    set_ups: dict = {}
    a = run_ensemble(hebi, RUNS, SEED, False, workers, first, set_ups=set_ups)
    assert sorted(set_ups) == list(range(RUNS))
    kept = dict(set_ups)
    if workers == 1:  # no set-up is drawn again: each replication starts from its kept one
        monkeypatch.setattr(GrowthModel, "_create_baseline", lambda self: pytest.fail("drawn"))
    b = run_ensemble(hebi, RUNS, SEED, False, workers, then, set_ups=set_ups)
    assert all(set_ups[i] is kept[i] for i in range(RUNS))
    monkeypatch.undo()
    for shared, values in ((a, first), (b, then)):
        alone = run_ensemble(hebi, RUNS, SEED, False, workers, values)
        assert _same_arrays(shared.runs, alone.runs)
        assert _plain_dict(shared) == _plain_dict(alone)
    assert not _same_arrays(a.runs, b.runs)  # the values did change the runs


@pytest.mark.parametrize("result", ["serial", "parallel"])
def test_counterfactual_is_the_same_seeds_with_levers_off(hebi, request, result):
    res = request.getfixturevalue(result)
    children = np.random.SeedSequence(SEED).spawn(RUNS)
    off = [run_replication(hebi, s, levers_on=False) for s in children]
    assert np.array_equal(res.counterfactual["at_least"], np.stack([o["at_least"] for o in off]))
    assert not res.counterfactual["cost"].any()
    # the levers act from the first year on: the base year is shared
    assert np.array_equal(res.counterfactual["at_least"][:, 0], res.runs["at_least"][:, 0])
    assert not np.array_equal(res.counterfactual["at_least"], res.runs["at_least"])


def test_runs_must_be_positive(hebi):
    with pytest.raises(ValueError, match="at least 1"):
        run_ensemble(hebi, runs=0)


# --- what the ensemble reports ------------------------------------------------------------


def test_target_probabilities_and_their_standard_errors(hebi, serial):
    targets = serial.targets()
    assert len(targets) == len(hebi.targets)
    years = serial.years
    for t, row in zip(hebi.targets, targets.itertuples(), strict=True):
        assert (row.tier, row.year, row.value) == (t.tier, t.year, t.value)
        if t.kind == "stock":
            x = serial.runs["at_least"][:, years.index(t.year), STANDARD_TIERS.index(t.tier) + 1]
            off = serial.counterfactual["at_least"][
                :, years.index(t.year), STANDARD_TIERS.index(t.tier) + 1
            ]
        else:  # Hebi's R&D-intensity targets (sim/scenario/target_kinds.py)
            assert t.kind == "rd_intensive_new"
            key = f"rd_intensive:{t.tier}:{t.rd_intensity_min:g}"
            x = serial.runs[key][:, years.index(t.year)]
            off = serial.counterfactual[key][:, years.index(t.year)]
        p = float(np.mean(x >= t.value))
        assert row.probability == p
        assert 0.0 <= row.probability <= 1.0
        assert row.mc_se == pytest.approx(math.sqrt(p * (1 - p) / RUNS))
        assert row.probability_without_levers == float(np.mean(off >= t.value))


def test_counts_are_the_quantiles_of_the_replications(serial):
    counts = serial.counts()
    assert set(counts.metric) == METRICS
    assert set(counts.tier) == set(STANDARD_TIERS)
    assert len(counts) == len(METRICS) * len(STANDARD_TIERS) * len(serial.years)
    for row in counts.itertuples():
        x = serial.runs[row.metric][
            :, serial.years.index(row.year), STANDARD_TIERS.index(row.tier) + 1
        ]
        assert row.mean == pytest.approx(x.mean())
        assert row.p50 == pytest.approx(np.quantile(x, 0.5))
        assert x.min() <= row.p05 <= row.p50 <= row.p95 <= x.max()


def test_attributable_is_run_minus_counterfactual_at_the_end(serial):
    att = serial.attributable()
    end = len(serial.years) - 1
    for row in att.itertuples():
        k = STANDARD_TIERS.index(row.tier) + 1
        d = serial.runs[row.metric][:, end, k] - serial.counterfactual[row.metric][:, end, k]
        assert row.year == serial.years[-1]
        assert row.mean == pytest.approx(d.mean())


def test_cost_is_the_money_of_each_lever(hebi, serial):
    cost = serial.cost()
    active = {name for name in LEVER_NAMES if getattr(hebi.levers, name) is not None}
    assert set(cost.lever) and set(cost.lever) <= active
    for row in cost.itertuples():
        x = serial.runs["cost"][:, serial.years.index(row.year), LEVER_NAMES.index(row.lever)]
        assert row.mean_yuan == pytest.approx(x.mean())
        assert row.mean_yuan > 0
    assert serial.total_cost().mean() == pytest.approx(cost.mean_yuan.sum())


def test_to_dict_is_json_with_the_documented_fields(serial):
    d = serial.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert {"targets", "counts", "cost", "attributable"} <= back.keys()
    assert back["targets"] and back["counts"] and back["attributable"]
    for t in back["targets"]:
        assert {"tier", "year", "value", "probability", "mc_se"} <= t.keys()
        assert t["tier"] in STANDARD_TIERS
        assert 0.0 <= t["probability"] <= 1.0 and t["mc_se"] >= 0.0
    for c in back["counts"]:
        assert {"tier", "metric", "year", "mean", "p05", "p50", "p95"} <= c.keys()
        assert c["metric"] in METRICS and c["tier"] in STANDARD_TIERS
        assert c["year"] in serial.years
    assert {c["metric"] for c in back["counts"]} == METRICS
    assert back["cost"]["total_yuan"]["mean"] > 0
    assert {"tier", "metric", "year", "mean"} <= back["attributable"][0].keys()


# --- which count each kind of target is judged on ------------------------------------------

KIND_METRIC = {"stock": "at_least", "cumulative": "ever", "new": "new", "pool_size": "pool_size"}


@pytest.mark.parametrize(
    "name, kind",
    [
        ("hebi", "stock"),
        ("zhejiang", "cumulative"),
        ("xinxiang", "new"),
        ("wujiang", "pool_size"),
        ("hebi", "rd_intensive_new"),
    ],
)
def test_each_kind_of_target_is_judged_on_its_own_count(name, kind):
    """Stock targets read firms holding at least the title at year end, cumulative ones the
    firms titled since the base year (累计培育), new ones that year's titles, pool targets the
    pool size, R&D-intensity ones their own count; each array differs here, so reading the
    wrong one changes the answer."""
    sc = load(SCENARIOS / f"{name}.yaml")
    targets = [t for t in sc.targets if t.kind == kind]
    assert targets
    years = [sc.period.base_year, *sc.period.years]
    shape = (RUNS * 5, len(years), len(sc.tier_ids) + 1)
    rng = np.random.default_rng(3)
    top = max(t.value for t in targets)
    runs = {m: rng.integers(0, int(2 * top) + 2, size=shape) for m in sorted(METRICS)}
    runs["pool_size"] = rng.integers(0, int(2 * top) + 2, size=shape[:2])
    for t in sc.targets:  # a counted kind has an array of its own
        if t.kind == "rd_intensive_new":
            key = f"rd_intensive:{t.tier}:{t.rd_intensity_min:g}"
            runs[key] = rng.integers(0, int(2 * top) + 2, size=shape[:2])
    off = {m: rng.integers(0, int(2 * top) + 2, size=a.shape) for m, a in sorted(runs.items())}
    result = EnsembleResult(sc, 0, years, sc.tier_ids, runs, counterfactual=off)
    table = result.targets().set_index("id")
    for t in targets:
        y = years.index(t.year)
        metric = KIND_METRIC.get(kind) or f"rd_intensive:{t.tier}:{t.rd_intensity_min:g}"
        x, x_off = runs[metric][:, y], off[metric][:, y]
        if kind not in ("pool_size", "rd_intensive_new"):
            k = sc.tier_ids.index(t.tier) + 1
            x, x_off = x[:, k], x_off[:, k]
        np.testing.assert_array_equal(result.outcome(t), x)
        row = table.loc[t.id]
        assert (row.tier, row.kind, row.year, row.source) == (t.tier, t.kind, t.year, t.source)
        assert row.probability == float(np.mean(x >= t.value))
        assert row.expected == pytest.approx(float(np.mean(x)))
        assert (row.p05, row.p95) == (np.quantile(x, 0.05), np.quantile(x, 0.95))
        if t.stretch is None:
            assert row.stretch_probability is None or math.isnan(row.stretch_probability)
        else:
            assert row.stretch_probability == float(np.mean(x >= t.stretch))
        assert row.probability_without_levers == float(np.mean(x_off >= t.value))
