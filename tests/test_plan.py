"""`srdi plan`: the cheapest mix of lever values reaching a probability, against a brute-force
grid on the same seeds; an unreachable target; the budget; the `plan:` section's checks; the
command line's JSON, files and errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sim.errors import ScenarioErrors
from sim.runs.ensemble import run_ensemble
from sim.runs.plan import default_ranges, lever_ranges, search
from sim.scenario import load, parse
from tests.cli_helper import srdi

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "plan_one_lever.yaml"
LEVER = "levers.bring_in.firms_per_year"
RUNS, SEED, GOAL = 40, 0, 0.8


@pytest.fixture(scope="module")
def scenario():
    return load(FIXTURE)


@pytest.fixture(scope="module")
def result(scenario):
    """Both targets, over the fixture's plan: section (0 to 16 firms a year)."""
    return search(scenario, "all", GOAL, runs=RUNS, seed=SEED, check_runs=RUNS, workers=1)


def _evaluate(scenario, n: int):
    r = run_ensemble(scenario, RUNS, SEED, counterfactual=False, values={LEVER: float(n)})
    p = float(r.targets().set_index("id").loc["srdi_2025", "probability"])
    return p, float(r.total_cost().mean())


def test_plan_finds_the_smallest_number_of_firms_a_brute_force_grid_finds(scenario, result):
    # the truth: the grid from 0 up, on the search's seeds; the cost is linear in the lever, so
    # the cheapest mix reaching the goal is the first value that does
    truth, previous = None, -1.0
    for n in range(0, 17):
        p, cost = _evaluate(scenario, n)
        assert cost == pytest.approx(3 * 1_000_000 * n)  # 3 years x n firms x 1 M yuan
        assert cost > previous
        previous = cost
        if p >= GOAL:
            truth = (n, p, cost)
            break
    assert truth is not None and truth[0] > 0, "the fixture should need some firms"
    plan = next(p for p in result.plans if p.target == "srdi_2025")
    assert plan.reachable
    assert plan.levers == {LEVER: float(truth[0])}
    assert plan.search_probability == truth[1]  # common random numbers: the same replications
    assert plan.search_cost_yuan == pytest.approx(truth[2])
    # every cheaper mix the search tried falls short
    assert all(q.probability["srdi_2025"] < GOAL for q in result.points if q.cost_yuan < truth[2])


def test_the_answer_is_re_evaluated_on_fresh_seeds(scenario, result):
    plan = next(p for p in result.plans if p.target == "srdi_2025")
    assert result.check_seed != result.seed
    fresh = run_ensemble(scenario, RUNS, result.check_seed, counterfactual=False,
                         values=plan.levers)  # fmt: skip
    row = fresh.targets().set_index("id").loc["srdi_2025"]
    assert plan.probability == row["probability"]
    assert plan.mc_se == row["mc_se"]
    assert plan.cost_yuan == pytest.approx(fresh.total_cost().mean())


def test_the_frontier_is_the_non_dominated_mixes_cheapest_first(result):
    plan = next(p for p in result.plans if p.target == "srdi_2025")
    costs = [p.cost_yuan for p in plan.frontier]
    probs = [p.probability["srdi_2025"] for p in plan.frontier]
    assert costs == sorted(costs) and probs == sorted(probs)
    assert len(set(probs)) == len(probs)
    for q in result.points:  # no mix evaluated beats a frontier point on both counts
        for f in plan.frontier:
            assert not (
                q.cost_yuan <= f.cost_yuan
                and q.probability["srdi_2025"] >= f.probability["srdi_2025"]
                and (q.cost_yuan, q.probability["srdi_2025"])
                != (f.cost_yuan, f.probability["srdi_2025"])
            )
    assert plan.levers in [p.levers for p in plan.frontier]


def test_an_unreachable_target_is_reported_with_its_likeliest_mix(result):
    far = next(p for p in result.plans if p.target == "srdi_2025_far")
    assert far.reachable is False
    assert far.probability == 0.0 and far.search_probability == 0.0
    assert LEVER in far.levers
    d = result.to_dict()["plans"][1]
    assert d["reachable"] is False and d["target"] == "srdi_2025_far"


def test_a_budget_below_the_answer_makes_the_target_unreachable(scenario):
    r = search(scenario, "srdi_2025", GOAL, budget_yuan=10_000_000, levers=[f"{LEVER}=0:6"],
               runs=RUNS, seed=SEED, check_runs=10, generations=0)  # fmt: skip
    plan = r.plans[0]
    assert plan.reachable is False
    assert plan.search_cost_yuan <= 10_000_000  # the likeliest mix within the budget: 3 firms
    assert plan.levers == {LEVER: 3.0}
    assert plan.search_probability == _evaluate(scenario, 3)[0]


def test_default_ranges_are_the_decided_levers_from_0_to_twice_the_plan():
    hebi = load(ROOT / "scenarios" / "hebi.yaml")
    ranges = {r.path: r for r in default_ranges(hebi)}
    assert not any(p.endswith(("cost_per_firm_yuan", "success_rate")) for p in ranges)
    assert (ranges[LEVER].low, ranges[LEVER].high, ranges[LEVER].step) == (0, 20, 1)
    pool = ranges["levers.cultivation_pool.size"]  # a range 100-300: twice its middle
    assert (pool.low, pool.high) == (0, 400)
    assert ranges["levers.stewards.coverage"].high == 1.0  # a share stops at 1
    assert ranges["levers.loans.coverage"].step == pytest.approx(0.05)


def test_the_plan_section_is_checked_like_the_rest_of_the_schema():
    text = FIXTURE.read_text(encoding="utf-8").replace(
        "    levers.bring_in.firms_per_year: {low: 0, high: 16, step: 1}",
        "    levers.bring_in.firms_per_yer: {low: 0, high: 16}\n"
        "    levers.bring_in.success_rate: {low: 0.5, high: 2}\n"
        "    levers.bring_in.firms_per_year: {low: 0, high: 16, step: 2.5}\n"
        "    levers.bring_in.cost_per_firm_yuan: {low: 0, high: 100, step: 500}",
    )
    with pytest.raises(ScenarioErrors) as e:
        parse(text, "f.yaml")
    got = {(x.path, x.kind) for x in e.value.errors}
    assert got == {
        ("plan.levers.levers.bring_in.firms_per_yer", "unknown_key"),
        ("plan.levers.levers.bring_in.success_rate.high", "out_of_range"),
        ("plan.levers.levers.bring_in.firms_per_year.step", "invalid"),
        ("plan.levers.levers.bring_in.cost_per_firm_yuan.step", "out_of_range"),
    }
    unknown = next(x for x in e.value.errors if x.kind == "unknown_key")
    assert "levers.bring_in.firms_per_year" in unknown.fix and unknown.line is not None
    with pytest.raises(ScenarioErrors) as e:
        parse(text.replace("{low: 0, high: 16}", "{low: 16, high: 0}"), "f.yaml")
    assert any("'low' <= 'high'" in x.expected for x in e.value.errors)


def test_command_line_levers_replace_the_plan_section(scenario):
    ranges, source = lever_ranges(scenario, [f"{LEVER}=2:10:4"])
    assert source == "command line"
    assert [(r.low, r.high, r.step, r.size) for r in ranges] == [(2, 10, 4, 3)]
    ranges, source = lever_ranges(scenario)
    assert source == "scenario" and (ranges[0].high, ranges[0].step) == (16, 1)


def test_cli_json_and_files(tmp_path):
    out = tmp_path / "out"
    args = ["plan", FIXTURE, "--probability", "0.8", "--lever", f"{LEVER}=0:8:2", "--runs", "20",
            "--check-runs", "20", "--workers", "1", "--json", "--lang", "en"]  # fmt: skip
    r = srdi(*args, "--target", "all", "--out", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["probability_goal"] == 0.8 and doc["levers_searched"][LEVER]["step"] == 2
    keys = {"target", "probability_goal", "levers", "cost_yuan", "probability", "mc_se",
            "frontier", "reachable"}  # fmt: skip
    assert [p["target"] for p in doc["plans"]] == ["srdi_2025", "srdi_2025_far"]
    for p in doc["plans"]:
        assert keys <= set(p)
        assert all(set(f) == {"cost_yuan", "probability", "levers"} for f in p["frontier"])
    assert {f.name for f in out.iterdir()} == {"plan.json", "frontier.csv", "plan.png"}
    assert json.loads((out / "plan.json").read_text(encoding="utf-8")) == {
        **doc,
        "elapsed_seconds": json.loads((out / "plan.json").read_text())["elapsed_seconds"],
    }
    csv = (out / "frontier.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and b"cost_wan_yuan" in csv
    one = json.loads(srdi(*args, "--target", "srdi_2025").stdout)
    assert keys <= set(one) and "plans" not in one and one["target"] == "srdi_2025"
    assert one["levers"] == doc["plans"][0]["levers"]  # the same seeds, the same answer


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--target", "srdi_2026"], ["--target", "srdi_2025"]),
        (
            ["--target", "all", "--lever", "levers.bring_in.firms=0:5"],
            ["--lever", "firms_per_year"],
        ),
        (["--target", "all", "--lever", f"{LEVER}=0-5"], ["--lever", "LOW:HIGH"]),
        (["--target", "all", "--lever", f"{LEVER}=5:1"], ["--lever", "LOW <= HIGH"]),
        (["--target", "all", "--lever", "levers.bring_in.success_rate=0:1.5"], ["between 0 and 1"]),
        (["--target", "all", "--probability", "1.5"], ["--probability"]),
    ],
)
def test_cli_refuses_bad_targets_and_levers(tmp_path, extra, words):
    out = tmp_path / "out"
    args = ["plan", FIXTURE, "--runs", "2", "--workers", "1", "--out", out, *extra]
    if "--probability" not in extra:
        args += ["--probability", "0.8"]
    r = srdi(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_scenario_without_levers_is_refused_with_why(tmp_path):
    """national.yaml states targets but no lever: there is no mix to search. The plan is
    refused at once (it ran the targets as they stand and called them 'reachable' at 0 yuan
    with no lever before), with exit 2 and what to do instead."""
    national = ROOT / "scenarios" / "national.yaml"
    with pytest.raises(ScenarioErrors):
        lever_ranges(load(national))
    out = tmp_path / "out"
    r = srdi("plan", national, "--target", "all", "--probability", "0.8", "--runs", "2",
             "--workers", "1", "--out", out)  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no lever to search" in r.stderr and "srdi forecast" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_the_answer_does_not_depend_on_the_worker_count(scenario):
    def run(workers):
        r = search(scenario, "all", GOAL, levers=[f"{LEVER}=0:8:4"], runs=10, seed=3,
                   check_runs=10, workers=workers)  # fmt: skip
        return {k: v for k, v in r.to_dict().items() if k != "elapsed_seconds"}

    assert run(1) == run(2)


def test_mixes_share_set_ups_when_every_quantity_searched_is_a_lever_s_and_they_fit(
    scenario, monkeypatch
):
    import sim.runs.plan as planner

    ranges, _ = lever_ranges(scenario, [])
    assert planner.set_up_cache(scenario, ranges, RUNS) == {}
    # a quantity that is not a lever's is drawn in the set-up: nothing to share
    other = dataclasses.replace(ranges[0], path="apply.award_elasticity")
    assert planner.set_up_cache(scenario, [*ranges, other], RUNS) is None
    # set-ups that would take more memory than allowed are drawn per evaluation
    monkeypatch.setattr("sim.runs.ensemble.SET_UP_BYTES", 1000)
    assert planner.set_up_cache(scenario, ranges, RUNS) is None


def test_a_search_sharing_set_ups_gives_the_search_drawing_them(scenario, monkeypatch):
    import sim.runs.plan as planner

    made = []  # the stores the search's evaluations and its checks shared
    share = planner.set_up_cache
    monkeypatch.setattr(planner, "set_up_cache", lambda *a: made.append(share(*a)) or made[-1])
    runs = {"runs": 12, "check_runs": 10}
    shared = search(scenario, "all", GOAL, seed=SEED, workers=1, **runs)
    assert [len(m) for m in made] == [12, 10]  # each seed's set-up kept once
    monkeypatch.setattr(planner, "set_up_cache", lambda *args: None)
    alone = search(scenario, "all", GOAL, seed=SEED, workers=1, **runs)
    assert [p.to_dict() for p in alone.plans] == [p.to_dict() for p in shared.plans]
    assert alone.points == shared.points
