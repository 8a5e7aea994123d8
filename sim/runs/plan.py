"""What it would take: the cheapest mix of lever values that reaches a target with a given
probability (`srdi plan`).

The question is a constrained search: over the values the levers may take, minimise the
expected total cost (`EnsembleResult.total_cost().mean()`, yuan) subject to P(reach target)
>= the goal and, with a budget, cost <= budget.

Levers searched
    By dotted path, each over a grid low, low + step, ... up to high. The ranges come from
    `--lever PATH=LOW:HIGH[:STEP]` when given (those levers only), else from the scenario's
    `plan:` section, else by default: every lever quantity the place decides, from 0 to twice
    its plan value (the central value of a range), shares and rates stopping at 1. What a
    measure costs per unit and how much of it lands (`cost_per_firm_yuan`, `success_rate`,
    `provincial_subsidy_yuan`, `provincial_selection_rate`) are not searched by default: a
    price of 0 or every firm landed would make a plan cheaper or likelier on paper only; name
    them with `--lever` to search them anyway. The default step is 1 for whole-number
    quantities (firms a year, a pool's size) and (high - low) / 20 for the others. Quantities
    not searched are drawn in each replication as the scenario says, as in a forecast.

Evaluation: common random numbers
    A mix is evaluated by `run_ensemble(scenario, runs, seed, counterfactual=False,
    values=mix)`: the same seed at every point, so two mixes differ by their levers, not by
    their draws, and a mix evaluated twice gives the same numbers (it is evaluated once and
    remembered). Each evaluation gives the cost and every target's probability, so with
    `--target all` every point serves every target.

Search: a design, then differential evolution
    1. A design shared by the targets: the lowest corner (every lever at low), the highest
       corner, the plan's central values (snapped to the grid), and a Latin hypercube of
       `design` points (`scipy.stats.qmc`, seeded), snapped to the grid.
    2. Per target, `scipy.optimize.differential_evolution` over the grid indices
       (`integrality`), with the probability (and the budget) as a `NonlinearConstraint`:
       scipy's feasibility rules rank a feasible mix by cost, any feasible mix above an
       infeasible one, and infeasible mixes by how far they fall short, so an unreachable
       target drives the search to the highest probability. Its population starts as the
       target's best points so far; it runs `generations` generations, no polishing
       (the probability is a step function of the levers). A target already reached at the
       cheapest point evaluated, or whose best point falls more than 3 Monte Carlo errors
       short of the goal, is not refined: nothing cheaper can be found in the first case, and
       the evaluations are better spent on the other targets in the second.
    The search is sequential and deterministic: the same inputs and seed give the same mixes,
    whatever the worker count (workers run an evaluation's replications).

The answer per target
    The cheapest evaluated mix whose probability on the search seeds reaches the goal (within
    the budget): `reachable: true`. When none does, `reachable: false` with the mix of highest
    probability (the cheapest of those; within the budget when one is given). That mix is then
    re-evaluated on fresh seeds (`check_seed`, by default seed + 1, `check_runs` replications):
    `probability`, `mc_se` and `cost_yuan` are those of the re-evaluation. Picking the cheapest
    mix that crosses the goal favours mixes whose search draws were lucky, so the fresh
    probability can fall a little short of the goal; the re-evaluation says by how much.
    The frontier is every evaluated mix that no other beats on both cost and probability
    (search seeds), cheapest first.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario import Scenario, lever_range_problems, value_bounds

if TYPE_CHECKING:
    import pandas as pd

# Lever quantities the place does not decide: a unit price, or how much of a measure lands.
NOT_DECIDED = (
    "cost_per_firm_yuan",
    "success_rate",
    "provincial_subsidy_yuan",
    "provincial_selection_rate",
)
DEFAULT_STEPS = 20  # a quantity that is not a whole number: (high - low) / 20
SKIP_MARGIN = 3  # Monte Carlo errors below the goal at which a target is not refined
CLI = "the command line"  # where a bad target, goal or budget is reported


@dataclass(frozen=True)
class LeverRange:
    """The grid one lever quantity is searched over: low, low + step, ... up to high."""

    path: str
    low: float
    high: float
    step: float

    @property
    def size(self) -> int:
        """How many values the grid has."""
        if self.high <= self.low:
            return 1
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def value(self, k: int) -> float:
        """The k-th value of the grid (rounded to 10 significant digits: 0.3, not 0.30000001)."""
        return float(f"{self.low + k * self.step:.10g}")

    def index(self, v: float) -> int:
        """The grid value nearest to v."""
        k = round((v - self.low) / self.step) if self.step > 0 else 0
        return int(min(max(k, 0), self.size - 1))

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "step": self.step}


def _range(sc: Scenario, path: str, low: float, high: float, step: float | None) -> LeverRange:
    """A LeverRange with its default step (1 for whole numbers, a twentieth of the range)."""
    if step is None:
        whole = sc.specs()[path].integer
        step = 1.0 if whole else ((high - low) / DEFAULT_STEPS if high > low else 1.0)
    return LeverRange(path, float(low), float(high), float(step))


def default_ranges(sc: Scenario) -> list[LeverRange]:
    """Every lever quantity the place decides, from 0 to twice its plan value (shares and rates
    up to 1); a quantity whose plan value is 0 stays at 0."""
    out = []
    for path, spec in sc.specs().items():
        if not path.startswith("levers.") or path.endswith(NOT_DECIDED):
            continue
        top = (value_bounds(path) or (0.0, math.inf))[1]
        high = min(2 * spec.value, top)
        if spec.integer:
            high = float(math.floor(high))
        out.append(_range(sc, path, 0.0, high, None))
    return out


def parse_lever(text: str) -> tuple[str, float, float, float | None]:
    """`PATH=LOW:HIGH[:STEP]` as (path, low, high, step); ScenarioErrors naming `--lever`."""
    path, eq, spec = text.partition("=")
    parts = spec.split(":")
    try:
        numbers = [float(x) for x in parts]
    except ValueError:
        numbers = []
    finite = len(numbers) in (2, 3) and all(map(math.isfinite, numbers))
    if not eq or not path.strip() or not finite:
        raise ScenarioErrors([ScenarioError(
            "--lever", path.strip(), expected="PATH=LOW:HIGH or PATH=LOW:HIGH:STEP, e.g. "
            "levers.bring_in.firms_per_year=0:30:2", found=repr(text), kind="invalid",
        )])  # fmt: skip
    low, high, *step = numbers
    return path.strip(), low, high, (step[0] if step else None)


def lever_ranges(sc: Scenario, levers: Sequence[str] = ()) -> tuple[list[LeverRange], str]:
    """The ranges to search and where they come from ("command line", "scenario", "default"):
    `levers` (`PATH=LOW:HIGH[:STEP]` items) when given, else the scenario's `plan:` section,
    else `default_ranges`. ScenarioErrors (every problem) for items that cannot be searched."""
    if levers:
        errs: list[ScenarioError] = []
        parsed = []
        for item in levers:
            try:
                parsed.append(parse_lever(item))
            except ScenarioErrors as e:
                errs += e.errors
        seen: set[str] = set()
        for path, low, high, step in parsed:
            if path in seen:
                errs.append(ScenarioError("--lever", path, "each lever once",
                                          f"'{path}' again", kind="duplicate_key"))  # fmt: skip
            seen.add(path)
            if low > high:
                errs.append(ScenarioError("--lever", path, "LOW <= HIGH",
                                          f"{low:g}:{high:g}", kind="invalid"))  # fmt: skip
                continue
            for key, expected, found, fix, kind in lever_range_problems(sc, path, low, high, step):
                errs.append(ScenarioError(
                    "--lever", ".".join(filter(None, (path, key))), expected, found, fix=fix,
                    kind=kind,
                ))  # fmt: skip
        if errs:
            raise ScenarioErrors(errs)
        return [_range(sc, *p) for p in parsed], "command line"
    if sc.plan is not None:
        return [
            _range(sc, path, r.low, r.high, r.step) for path, r in sc.plan.levers.items()
        ], "scenario"
    ranges = default_ranges(sc)
    if not any(r.high > r.low for r in ranges):
        raise ScenarioErrors([ScenarioError(
            CLI, "--lever", expected="a lever to search: a scenario with levers (or a plan: "
            "section), or --lever PATH=LOW:HIGH for a lever it has",
            found="no lever to search" if not ranges else "every lever's plan value is 0",
            kind="missing", fix="srdi plan searches the values of the place's own levers; "
            "this scenario decides none, so there is nothing to search. srdi forecast gives "
            "its targets' odds as they stand; add a lever to the scenario to ask what it "
            "would take.",
        )])  # fmt: skip
    return ranges, "default"


def check_target(sc: Scenario, target: str) -> list[str]:
    """The target ids `target` names (`all`: every target); ScenarioErrors for an unknown id."""
    ids = [t.id for t in sc.targets]
    if target == "all" and ids:
        return ids
    if target in ids:
        return [target]
    from sim.scenario import nearest_paths

    near = nearest_paths(target, ids)
    raise ScenarioErrors([ScenarioError(
        CLI, "--target", expected=f"a target id of the scenario ({', '.join(ids) or 'none'}) "
        "or 'all'", found=repr(target), kind="unknown_key",
        fix=(f"Did you mean {' or '.join(repr(n) for n in near)}?" if near else None)
        if ids else "The scenario states no targets: there is nothing to plan for.",
    )])  # fmt: skip


@dataclass(frozen=True)
class Point:
    """One evaluated mix: its lever values, expected total cost (yuan) and each target's
    probability on the search seeds."""

    levers: dict[str, float]
    cost_yuan: float
    probability: dict[str, float]

    def to_dict(self, target: str) -> dict[str, Any]:
        return {
            "cost_yuan": self.cost_yuan,
            "probability": self.probability[target],
            "levers": dict(self.levers),
        }


@dataclass
class TargetPlan:
    """The answer for one target: the mix, its cost and probability on fresh seeds, the
    frontier of the mixes evaluated."""

    target: str
    probability_goal: float
    reachable: bool
    levers: dict[str, float]
    cost_yuan: float
    probability: float
    mc_se: float
    search_probability: float
    search_cost_yuan: float
    frontier: list[Point]
    refined: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "probability_goal": self.probability_goal,
            "reachable": self.reachable,
            "levers": dict(self.levers),
            "cost_yuan": self.cost_yuan,
            "probability": self.probability,
            "mc_se": self.mc_se,
            "search": {
                "probability": self.search_probability,
                "cost_yuan": self.search_cost_yuan,
                "refined": self.refined,
            },
            "frontier": [p.to_dict(self.target) for p in self.frontier],
        }


@dataclass
class PlanResult:
    """Every target's plan, the ranges searched and every mix evaluated."""

    scenario: Scenario
    probability_goal: float
    budget_yuan: float | None
    ranges: list[LeverRange]
    ranges_from: str
    runs: int
    seed: int
    check_runs: int
    check_seed: int
    points: list[Point]
    plans: list[TargetPlan]
    all_targets: bool
    elapsed_seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def frontier_table(self) -> pd.DataFrame:
        """Every target's frontier, one row per mix: target, cost_yuan, probability (search
        seeds), chosen (the answer), then one column per lever searched (by path)."""
        import pandas as pd

        rows = []
        for plan in self.plans:
            for p in plan.frontier:
                rows.append({
                    "target": plan.target, "cost_yuan": p.cost_yuan,
                    "probability": p.probability[plan.target], "chosen": p.levers == plan.levers,
                    **p.levers,
                })  # fmt: skip
        columns = ["target", "cost_yuan", "probability", "chosen", *(r.path for r in self.ranges)]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """One plan's keys at the top level for one target; `plans`, a list, for `all`."""
        out: dict[str, Any] = {
            "scenario": self.scenario.place.id,
            "place": self.scenario.place.name,
            "probability_goal": self.probability_goal,
            "budget_yuan": self.budget_yuan,
            "levers_searched": {r.path: r.to_dict() for r in self.ranges},
            "ranges_from": self.ranges_from,
            "runs": self.runs,
            "seed": self.seed,
            "check_runs": self.check_runs,
            "check_seed": self.check_seed,
            "evaluations": len(self.points),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }
        if self.all_targets:
            out["plans"] = [p.to_dict() for p in self.plans]
        else:
            out.update(self.plans[0].to_dict())
        return out


def set_up_cache(scenario: Scenario, ranges: Sequence[LeverRange], runs: int) -> dict | None:
    """A store for the set-ups the evaluations of `runs` replications share (`run_ensemble`'s
    `set_ups`), or None when they cannot or should not.

    Every mix runs the same seeds, and a replication's set-up (inputs, base-year firms,
    births) is drawn before any lever acts, so the mixes can start from the set-ups the first
    evaluation kept: the same results, each set-up drawn once (for a city, about half the time
    of a replication without its counterfactual). They can when every quantity searched is a
    lever's, and should when the set-ups fit in memory (`sim.runs.ensemble.set_up_store`).
    """
    from sim.runs.ensemble import set_up_store

    return set_up_store(scenario, runs, [r.path for r in ranges])


class _Evaluator:
    """Mixes by grid index, each evaluated once on the search seeds and remembered; the
    evaluations share the seeds' set-ups when `set_up_cache` allows."""

    def __init__(self, sc, ranges, runs, seed, workers, progress) -> None:
        self.sc, self.ranges, self.runs, self.seed = sc, ranges, runs, seed
        self.workers, self.progress = workers, progress
        self.points: dict[tuple[int, ...], Point] = {}
        self.set_ups = set_up_cache(sc, ranges, runs)

    def levers(self, key: tuple[int, ...]) -> dict[str, float]:
        return {r.path: r.value(k) for r, k in zip(self.ranges, key, strict=True)}

    def __call__(self, key: tuple[int, ...]) -> Point:
        if key not in self.points:
            from sim.runs.ensemble import run_ensemble

            values = self.levers(key)
            result = run_ensemble(self.sc, self.runs, self.seed, counterfactual=False,
                                  workers=self.workers, values=values or None,
                                  progress=self.progress, set_ups=self.set_ups)  # fmt: skip
            t = result.targets()
            self.points[key] = Point(
                values,
                float(result.total_cost().mean()),
                dict(zip(t["id"], map(float, t["probability"]), strict=True)),
            )
        return self.points[key]


def _rank(p: Point, target: str, goal: float, budget: float | None) -> tuple:
    """Order of merit for one target, as scipy's feasibility rules rank: feasible mixes by
    cost, then infeasible ones by how far they fall short (probability, and budget)."""
    short = max(goal - p.probability[target], 0.0)
    over = max(p.cost_yuan / budget - 1, 0.0) if budget else 0.0
    if short == 0 and over == 0:
        return (0, p.cost_yuan, -p.probability[target])
    return (1, short + over, p.cost_yuan)


def frontier(points: Sequence[Point], target: str) -> list[Point]:
    """The points no other beats on both cost and probability, cheapest first."""
    out: list[Point] = []
    best = -1.0
    for p in sorted(points, key=lambda p: (p.cost_yuan, -p.probability[target])):
        if p.probability[target] > best:
            out.append(p)
            best = p.probability[target]
    return out


def _design(ranges: Sequence[LeverRange], sc: Scenario, n: int, seed: int) -> list[tuple]:
    """The shared design: both corners, the plan's central values, a Latin hypercube."""
    from scipy.stats import qmc

    sizes = np.array([r.size for r in ranges])
    keys = [tuple(0 for _ in ranges), tuple(int(s - 1) for s in sizes)]
    specs = sc.specs()
    keys.append(tuple(r.index(specs[r.path].value) for r in ranges))
    if ranges and n > 0:
        u = qmc.LatinHypercube(d=len(ranges), rng=np.random.default_rng([seed, 3])).random(n)
        for row in np.minimum(np.floor(u * sizes), sizes - 1).astype(int):
            keys.append(tuple(int(k) for k in row))
    return list(dict.fromkeys(keys))


def _refine(
    evaluate: _Evaluator, target: str, goal: float, budget: float | None, generations: int,
    population: int, seed: int,
) -> None:  # fmt: skip
    """Differential evolution for one target, started from its best points so far."""
    from scipy.optimize import NonlinearConstraint, differential_evolution

    ranges = evaluate.ranges
    free = [i for i, r in enumerate(ranges) if r.size > 1]
    ranked = sorted(evaluate.points.items(), key=lambda kv: _rank(kv[1], target, goal, budget))
    start = list(dict.fromkeys(tuple(k[i] for i in free) for k, _ in ranked))[:population]
    if len(start) < 5:  # scipy's smallest population: the grid is (nearly) all evaluated
        return
    base = list(ranked[0][0])

    def key(x: np.ndarray) -> tuple[int, ...]:
        out = list(base)
        for j, i in enumerate(free):
            out[i] = int(min(max(round(float(x[j])), 0), ranges[i].size - 1))
        return tuple(out)

    def cost(x: np.ndarray) -> float:
        return evaluate(key(x)).cost_yuan

    def limits(x: np.ndarray) -> list[float]:
        p = evaluate(key(x))
        return [p.probability[target]] + ([p.cost_yuan / budget] if budget else [])

    constraint = NonlinearConstraint(
        limits, [goal] + ([-np.inf] if budget else []), [np.inf] + ([1.0] if budget else [])
    )
    with warnings.catch_warnings():  # the spread of a population of infeasible (inf) costs
        warnings.simplefilter("ignore", RuntimeWarning)
        differential_evolution(
            cost,
            bounds=[(0, ranges[i].size - 1) for i in free],
            constraints=constraint,
            integrality=[True] * len(free),
            init=np.array(start, dtype=float),
            maxiter=generations,
            tol=0,
            polish=False,
            updating="deferred",
            rng=np.random.default_rng([seed, 4, len(evaluate.points)]),
        )


def search(
    scenario: Scenario,
    target: str = "all",
    probability: float = 0.8,
    budget_yuan: float | None = None,
    levers: Sequence[str] = (),
    runs: int = 100,
    seed: int = 0,
    check_runs: int = 400,
    check_seed: int | None = None,
    design: int | None = None,
    generations: int = 2,
    workers: int = 1,
    progress: Callable[[float], None] | None = None,
) -> PlanResult:
    """The cheapest mix of lever values reaching `probability` for a target (or each target,
    `target="all"`), its probability on fresh seeds, and the cost-probability frontier.

    Args:
        scenario: the validated scenario.
        target: a target id, or "all".
        probability: the goal, in (0, 1].
        budget_yuan: the most a mix may cost (expected total over the period), or None.
        levers: `PATH=LOW:HIGH[:STEP]` items; default the scenario's `plan:` section, else
            every decided lever quantity from 0 to twice its plan value (module docstring).
        runs, seed: replications and root seed of every evaluation in the search.
        check_runs, check_seed: of the re-evaluation of each chosen mix (default seed + 1).
        design: Latin hypercube points of the shared design (default 4 per lever, at least 10).
        generations: differential-evolution generations per target.
        workers: processes for an evaluation's replications (results do not depend on it).
        progress: called with the number of replications just finished.
    Raises:
        ScenarioErrors: an unknown target, a lever range that cannot be searched, a goal or
            budget out of range.
    """
    start_time = time.perf_counter()
    ids = check_target(scenario, target)
    errs = []
    if not 0 < probability <= 1:
        errs.append(ScenarioError(CLI, "--probability", "a probability greater than 0 and at "
                                  "most 1", repr(probability), kind="out_of_range"))  # fmt: skip
    if budget_yuan is not None and not budget_yuan >= 0:
        errs.append(ScenarioError(CLI, "--budget", "a sum in yuan, at least 0",
                                  repr(budget_yuan), kind="out_of_range"))  # fmt: skip
    for option, v, least in (
        ("--runs", runs, 1),
        ("--check-runs", check_runs, 1),
        ("--generations", generations, 0),
        ("--design", design or 0, 0),
    ):
        if v < least:
            errs.append(ScenarioError(CLI, option, f"a whole number of at least {least}",
                                      repr(v), kind="out_of_range"))  # fmt: skip
    if errs:
        raise ScenarioErrors(errs)
    ranges, ranges_from = lever_ranges(scenario, levers)
    check_seed = seed + 1 if check_seed is None else check_seed
    free = sum(r.size > 1 for r in ranges)
    n_design = max(10, 4 * free) if design is None else design
    population = max(5, free + 1)
    evaluate = _Evaluator(scenario, ranges, runs, seed, workers, progress)
    for key in _design(ranges, scenario, n_design, seed):
        evaluate(key)
    refined = {}
    for t in ids:
        refined[t] = _worth_refining(evaluate, t, probability, budget_yuan, runs)
        if refined[t] and free and generations > 0:
            _refine(evaluate, t, probability, budget_yuan, generations, population, seed)
    points = list(evaluate.points.values())
    chosen = {t: _choose(points, t, probability, budget_yuan) for t in ids}
    checks: dict[tuple, Any] = {}
    from sim.runs.ensemble import run_ensemble

    evaluate.set_ups = None  # the search's set-ups: not those of the fresh seeds
    check_set_ups = set_up_cache(scenario, ranges, check_runs)
    for _, point in chosen.values():
        key = tuple(sorted(point.levers.items()))
        if key not in checks:
            checks[key] = run_ensemble(scenario, check_runs, check_seed, counterfactual=False,
                                       workers=workers, values=dict(point.levers) or None,
                                       progress=progress, set_ups=check_set_ups)  # fmt: skip
    plans = []
    for t in ids:
        reachable, point = chosen[t]
        check = checks[tuple(sorted(point.levers.items()))]
        row = check.targets().set_index("id").loc[t]
        plans.append(TargetPlan(
            target=t, probability_goal=probability, reachable=reachable,
            levers=dict(point.levers), cost_yuan=float(check.total_cost().mean()),
            probability=float(row["probability"]), mc_se=float(row["mc_se"]),
            search_probability=point.probability[t], search_cost_yuan=point.cost_yuan,
            frontier=frontier(points, t), refined=refined[t] and free > 0 and generations > 0,
        ))  # fmt: skip
    return PlanResult(
        scenario=scenario, probability_goal=probability, budget_yuan=budget_yuan,
        ranges=ranges, ranges_from=ranges_from, runs=runs, seed=seed, check_runs=check_runs,
        check_seed=check_seed, points=points, plans=plans, all_targets=target == "all",
        elapsed_seconds=time.perf_counter() - start_time,
    )  # fmt: skip


def _worth_refining(evaluate, target, goal, budget, runs) -> bool:
    """Whether differential evolution could improve on the points so far (module docstring)."""
    points = list(evaluate.points.values())
    feasible = [p for p in points if _rank(p, target, goal, budget)[0] == 0]
    if feasible:
        return min(p.cost_yuan for p in feasible) > min(p.cost_yuan for p in points)
    se = max(math.sqrt(goal * (1 - goal) / runs), 1 / runs)
    within = [p for p in points if not budget or p.cost_yuan <= budget] or points
    return max(p.probability[target] for p in within) >= goal - SKIP_MARGIN * se


def _choose(points, target, goal, budget) -> tuple[bool, Point]:
    """The cheapest feasible point, or the likeliest (the cheapest of those) within the
    budget, with whether it reaches the goal."""
    best = min(points, key=lambda p: _rank(p, target, goal, budget))
    if _rank(best, target, goal, budget)[0] == 0:
        return True, best
    within = [p for p in points if not budget or p.cost_yuan <= budget] or points
    return False, min(within, key=lambda p: (-p.probability[target], p.cost_yuan))


def expected_runs(
    ranges: Sequence[LeverRange],
    n_targets: int,
    runs: int,
    check_runs: int,
    design: int | None,
    generations: int,
) -> int:
    """The most replications a search can take (for a progress bar's total and a time
    estimate): the design, each target's generations, each target's re-evaluation."""
    free = sum(r.size > 1 for r in ranges)
    n_design = (max(10, 4 * free) if design is None else design) + 3
    population = max(5, free + 1)
    grid = math.prod(r.size for r in ranges)
    points = min(grid, n_design + n_targets * population * generations * (free > 0))
    return points * runs + n_targets * check_runs


__all__ = [
    "LeverRange",
    "PlanResult",
    "Point",
    "TargetPlan",
    "check_target",
    "default_ranges",
    "expected_runs",
    "frontier",
    "lever_ranges",
    "parse_lever",
    "search",
]
