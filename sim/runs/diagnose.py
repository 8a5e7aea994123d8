"""`srdi diagnose`: what binds. For each target, the funnel of its title year by year, and the
probability of reaching it if one stage of that funnel alone were lifted.

**The funnel** of a title in a year (means over the replications of the plan as it stands):
`candidates` (alive firms whose title lets them apply for it), `eligible` (those meeting its
criteria), `applied`, `titled` (granted it), `titles_available` (the places of a rationed title:
for a city, its province's places, which it shares with `rivals` applicants from the rest of the
province; none for a title granted on its criteria), `lost` (holders that failed re-review),
`closed` (holders that closed) and `brought_in` (firms brought in holding it).

**Relaxations.** Each stage of `model.RELAXATIONS` is lifted alone, by a switch in the model
(`run_ensemble(relax=...)`), not by editing the scenario's numbers: every eligible firm applies
(`apply`), every eligible applicant is titled (`titles`), no title is lost at re-review
(`re_review`), no firm closes (`closures`), the awards' budget cap is lifted (`budget`), every
firm the plan brings in arrives (`bring_in`). All runs use the same seeds as the plan (common
random numbers, counter-based draws), so a difference is the relaxation's: a stage that cannot
act leaves every replication as it was. `budget` and `bring_in` run only where the scenario has
the lever they lift (an awards budget; firms brought in); the others always. One more run lifts
every stage at once: a target that stays out of reach then is held back by what the funnel does
not lift (too few candidates growing into the criteria, or too little time).

**Binding stage.** Per target, the gain of a stage is P(reach | stage relaxed) - P(reach), and
its Monte Carlo error the standard error of the paired differences over replications. The
binding stage is the one with the largest gain, if that gain exceeds two of its errors; else
"none binds" (no relaxation moves the probability beyond Monte Carlo error). When a second stage
binds too and the first's lead over it is within two errors of their paired difference, the
result says so (`runner_up`, `binding_clear`): the two stages bind about as much.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.engine.model import RELAXATIONS
from sim.runs import summary
from sim.runs.ensemble import EnsembleResult, run_variants
from sim.scenario import Scenario

STAGES = tuple(RELAXATIONS)  # apply, titles, re_review, closures, budget, bring_in
PLAN, EVERY = ("plan",), ("every stage",)  # keys of the plan's run and of every stage relaxed
FUNNEL_COLUMNS = (
    "candidates", "eligible", "applied", "titled", "titles_available", "rivals", "lost",
    "closed", "brought_in",
)  # fmt: skip
# funnel column -> the run's array it is read from (level index = title)
_SOURCE = {"titled": "new"}
BINDING_ERRORS = 2.0  # a stage binds when its gain exceeds this many Monte Carlo errors
DEFAULT_RUNS = 500
NO_TARGETS = "the scenario states no targets: no P(reach) to relax; the funnel alone"


def applicable_stages(scenario: Scenario) -> tuple[list[str], dict[str, str]]:
    """The stages whose relaxation can act in `scenario`, and why each other one cannot.

    A scenario without targets has nothing a relaxation could be measured on: none is run, and
    the diagnosis is the plan's funnel alone.
    """
    if not scenario.targets:
        return [], {s: NO_TARGETS for s in STAGES}
    levers = scenario.levers
    skipped = {}
    awards = levers.awards
    if awards is None or awards.budget_yuan_per_year is None:
        skipped["budget"] = "the scenario's awards have no yearly budget cap"
    if levers.bring_in is None:
        skipped["bring_in"] = "the scenario brings in no firms"
    return [s for s in STAGES if s not in skipped], skipped


@dataclass
class Diagnosis:
    """The plan's runs (with the funnel counted), one run per relaxed stage on the same seeds,
    and one with every stage relaxed."""

    scenario: Scenario
    seed: int | None
    plan: EnsembleResult
    relaxed: dict[str, EnsembleResult]
    all_relaxed: EnsembleResult | None
    skipped: dict[str, str] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def n_runs(self) -> int:
        return self.plan.n_runs

    def funnel_tiers(self) -> list[str]:
        """The titles the targets count, in ladder order (every title without targets)."""
        wanted = {t.tier for t in self.scenario.targets}
        return [t for t in self.plan.tiers if t in wanted] or list(self.plan.tiers)

    def funnel(self) -> pd.DataFrame:
        """Per title and simulated year, each funnel stage's mean over the plan's replications
        (`titles_available` is inf for a title granted on its criteria)."""
        runs = self.plan.runs
        rows = []
        for tier in self.funnel_tiers():
            k = self.plan.tiers.index(tier) + 1
            for y, year in enumerate(self.plan.years[1:], start=1):
                row: dict[str, Any] = {"tier": tier, "year": year}
                for col in FUNNEL_COLUMNS:
                    row[col] = float(runs[_SOURCE.get(col, col)][:, y, k].mean())
                rows.append(row)
        return pd.DataFrame(rows, columns=["tier", "year", *FUNNEL_COLUMNS])

    def targets(self) -> list[dict[str, Any]]:
        """Per target: P(reach), each stage's P(reach) if relaxed with its gain and error, the
        binding stage (None: none binds), and P(reach) with every stage relaxed.

        `runner_up` is the stage with the next largest gain among those that bind, and
        `binding_clear` whether the binding stage's lead over it exceeds two Monte Carlo errors
        of their paired difference (True when no other stage binds; None when none binds).
        """
        out = []
        for t in self.scenario.targets:
            base = (self.plan.outcome(t) >= t.value).astype(float)
            p, p_se = summary.reach(self.plan.outcome(t), t.value)
            stages, reached = [], {}
            for stage, res in self.relaxed.items():
                reached[stage] = (res.outcome(t) >= t.value).astype(float)
                gain, se = _paired(reached[stage], base)
                stages.append(
                    {
                        "stage": stage,
                        "probability_if_relaxed": float(reached[stage].mean()),
                        "gain": gain,
                        "mc_se": se,
                        "binds": bool(gain > BINDING_ERRORS * se and gain > 0),
                    }
                )
            ranked = sorted((s for s in stages if s["binds"]), key=lambda s: -s["gain"])
            binding = ranked[0]["stage"] if ranked else None
            runner_up = ranked[1]["stage"] if len(ranked) > 1 else None
            clear = None if binding is None else True
            if runner_up is not None:
                lead, se = _paired(reached[binding], reached[runner_up])
                clear = bool(lead > BINDING_ERRORS * se)
            every = None
            if self.all_relaxed is not None:
                every = summary.probability(self.all_relaxed.outcome(t), t.value)
            out.append(
                {
                    "target": t.id,
                    "tier": t.tier,
                    "kind": t.kind,
                    "year": t.year,
                    "value": t.value,
                    "probability": p,
                    "mc_se": p_se,
                    "stages": stages,
                    "binding": binding,
                    "runner_up": runner_up,
                    "binding_clear": clear,
                    "probability_all_relaxed": every,
                }
            )
        return out

    def stage_table(self) -> pd.DataFrame:
        """One row per target and relaxed stage (the CSV of `srdi diagnose --out`)."""
        rows = []
        for t in self.targets():
            for s in t["stages"]:
                rows.append(
                    {
                        "target": t["target"],
                        "tier": t["tier"],
                        "year": t["year"],
                        "value": t["value"],
                        "probability": t["probability"],
                        **s,
                        "binding": t["binding"] == s["stage"],
                        "probability_all_relaxed": t["probability_all_relaxed"],
                    }
                )
        columns = ["target", "tier", "year", "value", "probability", "stage",
                   "probability_if_relaxed", "gain", "mc_se", "binds", "binding",
                   "probability_all_relaxed"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; an unlimited number of titles is null."""
        funnel = []
        for rec in self.funnel().to_dict(orient="records"):
            rec["rationed"] = bool(np.isfinite(rec["titles_available"]))
            funnel.append({k: _plain(v) for k, v in rec.items()})
        sc = self.scenario
        return {
            "scenario": sc.place.id,
            "place": sc.place.name,
            "runs": self.n_runs,
            "seed": self.seed,
            "years": self.plan.years,
            "stages": {s: RELAXATIONS[s] for s in self.relaxed},
            "stages_not_run": self.skipped,
            "binding_rule": (
                f"the stage whose relaxation raises P(reach) most, if by more than "
                f"{BINDING_ERRORS:g} Monte Carlo errors of the paired difference; else none"
            ),
            "targets": self.targets(),
            "funnel": funnel,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b over replications and its standard error (paired: same seeds; 0 for one
    replication, so that no gain counts as binding on the strength of one run)."""
    mean, se = summary.paired(a - b)
    return mean, se if se is not None else 0.0


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def diagnose(
    scenario: Scenario,
    runs: int = DEFAULT_RUNS,
    seed: int | None = 0,
    workers: int = 1,
    stages: Sequence[str] | None = None,
    all_relaxed: bool = True,
    progress: Callable[[float], None] | None = None,
) -> Diagnosis:
    """Run the plan and each relaxation on the same seeds (see the module docstring).

    Args:
        scenario: the validated scenario.
        runs: replications of each run (the plan, each relaxation, all relaxed).
        seed: root seed, shared by every run.
        workers: worker processes; results do not depend on it.
        stages: the stages to relax (default: those that can act in the scenario,
            `applicable_stages`); a stage that cannot act may be named, and changes nothing.
        all_relaxed: also run every stage relaxed at once.
        progress: called with the number of replications just finished (all runs together).
    """
    unknown = [s for s in (stages or ()) if s not in RELAXATIONS]
    if unknown:
        raise ValueError(f"stages: unknown {unknown}; known: {list(RELAXATIONS)}")
    start = time.perf_counter()
    usable, skipped = applicable_stages(scenario)
    chosen = list(dict.fromkeys(stages)) if stages is not None and usable else usable
    skipped = {s: skipped.get(s, "not asked for") for s in STAGES if s not in chosen}

    # the plan (its funnel counted), each stage relaxed alone, every stage at once: the same
    # seeds, run seed by seed so that a seed's runs share its set-up (`run_variants`)
    variants: dict[Any, tuple[Sequence[str], bool]] = {PLAN: ((), True)}
    variants.update({stage: ((stage,), False) for stage in chosen})
    if all_relaxed and len(chosen) > 1:
        variants[EVERY] = (chosen, False)
    ran = run_variants(scenario, runs, seed, variants, workers, progress)
    plan = ran[PLAN]
    relaxed = {stage: ran[stage] for stage in chosen}
    every = ran.get(EVERY)
    if every is None and len(chosen) == 1:
        every = relaxed[chosen[0]]
    return Diagnosis(
        scenario=scenario,
        seed=seed,
        plan=plan,
        relaxed=relaxed,
        all_relaxed=every,
        skipped=skipped,
        elapsed_seconds=time.perf_counter() - start,
    )


def runs_needed(scenario: Scenario, stages: Sequence[str] | None, all_relaxed: bool = True) -> int:
    """How many ensembles `diagnose` runs: the plan, each stage, and every stage at once."""
    usable = applicable_stages(scenario)[0]
    chosen = list(stages) if stages is not None and usable else usable
    return 1 + len(chosen) + (1 if all_relaxed and len(chosen) > 1 else 0)


def report(d: Diagnosis) -> str:
    """The readable diagnosis: per target, P(reach), each relaxation, what binds; the funnels."""
    sc = d.scenario
    lines = [
        f"{sc.place.name} ({sc.place.name_zh or sc.place.id}) {sc.period.start}-{sc.period.end}: "
        f"what binds",
        f"{d.n_runs} replications per run, seed {d.seed}, the same seeds in every run; "
        f"{d.elapsed_seconds:.1f} s",
        "",
    ]
    if not sc.targets:  # one line, not one per stage
        lines.append(f"not run: any relaxation ({NO_TARGETS})")
    else:
        lines += [f"not run: {s} ({why})" for s, why in d.skipped.items()]
    if d.skipped:
        lines.append("")
    targets = d.targets()
    if not targets:
        lines.append("No targets: nothing to reach; the funnels follow.")
    stages = list(d.relaxed)
    head = f"  {'target':<26} {'P(reach)':>8} " + "".join(f"{s:>10}" for s in stages)
    if targets:
        lines += ["P(reach) as planned and with each stage relaxed alone (same seeds)", head]
    for t in targets:
        cells = "".join(
            f"{s['probability_if_relaxed']:>9.2f}{'*' if s['stage'] == t['binding'] else ' '}"
            for s in t["stages"]
        )
        lines.append(f"  {t['target']:<26} {t['probability']:8.2f} {cells}")
    if targets:
        lines += ["  * binding", ""]
    for t in targets:
        if t["binding"] is None:
            why = "none binds (no relaxation moves P(reach) beyond 2 Monte Carlo errors)"
        else:
            s = next(s for s in t["stages"] if s["stage"] == t["binding"])
            why = (
                f"binding: {t['binding']}, P(reach) {t['probability']:.2f} -> "
                f"{s['probability_if_relaxed']:.2f} (+{s['gain']:.2f} ± {s['mc_se']:.3f})"
            )
            if not t["binding_clear"]:
                why += f", {t['runner_up']} as much within Monte Carlo error"
        every = t["probability_all_relaxed"]
        tail = f"; every stage relaxed: {every:.2f}" if every is not None else ""
        lines.append(f"  {t['target']}: {why}{tail}")
    if d.relaxed:
        lines += ["", "Stages relaxed"]
        lines += [f"  {s:<10} {RELAXATIONS[s]}" for s in d.relaxed]
    short = {"titles_available": "places", "brought_in": "brought in"}
    f = d.funnel()
    for tier, rows in f.groupby("tier", sort=False):
        lines += ["", f"Funnel of {tier} (mean per year; places: the quota competed for)"]
        lines.append(f"  {'year':<6}" + "".join(f"{short.get(c, c):>11}" for c in FUNNEL_COLUMNS))
        for _, r in rows.iterrows():
            cells = "".join(
                f"{'no quota':>11}"
                if c == "titles_available" and not np.isfinite(r[c])
                else f"{r[c]:11.1f}"
                for c in FUNNEL_COLUMNS
            )
            lines.append(f"  {int(r['year']):<6}{cells}")
    return "\n".join(lines)
