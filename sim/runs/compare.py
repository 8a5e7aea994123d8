"""Two plans side by side: each target's probability, the expected cost, and the differences.

`compare(a, b)` runs plan A and plan B on the same replication seeds (common random numbers:
replication r of both uses child r of `SeedSequence(seed).spawn(runs)`), so a difference is
the plans', not the draws'. The Monte Carlo error of each difference is that of a paired
difference: per replication, B's outcome minus A's (reached the target: 1 or 0; money spent),
and the standard error of the mean of those differences. Where the two plans share most of
their draws, this is much smaller than the errors of the two probabilities combined; a plan
compared with itself gives a difference of zero with an error of zero.

Differences are B minus A: what moving from plan A to plan B changes. Targets are matched by
their id; a target only one plan states has no probability for the other and no difference.

Common random numbers hold fully when both plans read the same quantities (`Scenario.specs`:
one uniform per quantity, in sorted path order): a `--set` change, or two files differing in
values. A plan with a lever the other lacks shifts the draws of the quantities sorted after
that lever's paths; the yearly per-firm draws stay common.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.runs import summary
from sim.runs.ensemble import EnsembleResult, _records, run_ensemble, set_up_store
from sim.scenario import Scenario, describe_settings
from sim.views.labels import wan

TARGET_COLUMNS = [
    "target", "tier", "kind", "year", "value_a", "value_b",
    "probability_a", "probability_b", "difference", "difference_se",
]  # fmt: skip


@dataclass
class Comparison:
    """Plan A's and plan B's replications on the same seeds, and what they say side by side."""

    a: EnsembleResult
    b: EnsembleResult
    label_a: str
    label_b: str
    set_b: dict[str, float] = field(default_factory=dict)

    @property
    def shown_b(self) -> str:
        """Plan B's label, saying when it is changed by `--set`."""
        return self.label_b + (" + --set" if self.set_b else "")

    @property
    def n_runs(self) -> int:
        return self.a.n_runs

    def _reached(self, result: EnsembleResult, target) -> np.ndarray:
        """Per replication, 1 when the plan's own target is reached, else 0."""
        return (result.outcome(target) >= target.value).astype(float)

    def targets(self) -> pd.DataFrame:
        """Per target id (A's order, then B's own): each plan's probability of reaching it,
        the difference B - A and its paired standard error; blanks where a plan lacks it."""
        in_a = {t.id: t for t in self.a.scenario.targets}
        in_b = {t.id: t for t in self.b.scenario.targets}
        rows = []
        for tid in [*in_a, *(t for t in in_b if t not in in_a)]:
            ta, tb = in_a.get(tid), in_b.get(tid)
            t = ta or tb
            row: dict[str, Any] = {
                "target": tid, "tier": t.tier, "kind": t.kind, "year": t.year,
                "value_a": ta.value if ta else None, "value_b": tb.value if tb else None,
                "probability_a": None, "probability_b": None,
                "difference": None, "difference_se": None,
            }  # fmt: skip
            xa = self._reached(self.a, ta) if ta else None
            xb = self._reached(self.b, tb) if tb else None
            if xa is not None:
                row["probability_a"] = float(xa.mean())
            if xb is not None:
                row["probability_b"] = float(xb.mean())
            if xa is not None and xb is not None:
                row["difference"], row["difference_se"] = summary.paired(xb - xa)
            rows.append(row)
        return pd.DataFrame(rows, columns=TARGET_COLUMNS)

    def cost(self) -> dict[str, float | None]:
        """Expected cost over each plan's period (yuan): A, B, B - A and its paired error."""
        ca, cb = self.a.total_cost(), self.b.total_cost()
        diff, se = summary.paired(cb - ca)
        return {"a": float(ca.mean()), "b": float(cb.mean()), "difference": diff,
                "difference_se": se}  # fmt: skip

    def notes(self) -> list[str]:
        """What a reader must know to read the differences: targets defined differently under
        one id, periods or places that differ, draws not fully common."""
        sa, sb = self.a.scenario, self.b.scenario
        out = []
        in_b = {t.id: t for t in sb.targets}
        for ta in sa.targets:
            tb = in_b.get(ta.id)
            if tb is not None and (ta.tier, ta.kind, ta.year, ta.value) != (
                tb.tier,
                tb.kind,
                tb.year,
                tb.value,
            ):
                out.append(
                    f"target {ta.id}: A and B define it differently ({ta.value:g} {ta.tier} "
                    f"{ta.kind} in {ta.year} vs {tb.value:g} {tb.tier} {tb.kind} in {tb.year}); "
                    "each probability is of its own plan's definition."
                )
        if sa.place.id != sb.place.id:
            out.append(f"A and B are plans of different places ({sa.place.id}, {sb.place.id}).")
        if (sa.period.base_year, sa.period.end) != (sb.period.base_year, sb.period.end):
            out.append(
                f"A and B cover different periods ({sa.period.start}-{sa.period.end}, "
                f"{sb.period.start}-{sb.period.end}): costs are over each plan's own."
            )
        if set(sa.specs()) != set(sb.specs()):
            out.append(
                "A and B read different quantities (a lever or parameter only one sets): the "
                "replications share their seeds but not every drawn value, so the differences' "
                "errors are larger than for a change of values alone."
            )
        return out

    def text(self) -> str:
        """The comparison as a person reads it: the plans, a table of targets, the costs in
        万元, the notes."""
        lines = [f"A: {self.label_a}", f"B: {self.shown_b}"]
        if self.set_b:
            lines += [f"   {line}" for line in describe_settings(self.b.scenario, self.set_b)]
        lines += [
            f"{self.n_runs} replications of each, seed {self.a.seed}, the same seeds for A and "
            "B; differences are B - A, ± the standard error of the paired differences",
            "",
            f"  {'target':<30}{'P(A)':>8}{'P(B)':>8}{'B - A':>9}{'± se':>8}",
        ]
        for r in self.targets().itertuples():
            cells = (
                _cell(r.probability_a, "8.2f")
                + _cell(r.probability_b, "8.2f")
                + _cell(r.difference, "+9.3f")
                + _cell(r.difference_se, "8.3f")
            )
            lines.append(f"  {r.target:<30}{cells}".rstrip())
        cost = self.cost()
        se = cost["difference_se"]
        lines += [
            "",
            "Expected cost over the period (万元 = 10,000 yuan)",
            f"  A {wan(cost['a']):,.1f}   B {wan(cost['b']):,.1f}   B - A "
            f"{wan(cost['difference']):+,.1f}" + (f" ± {wan(se):,.1f}" if se is not None else ""),
        ]
        notes = self.notes()
        if notes:
            lines += ["", "Notes"] + [f"  - {n}" for n in notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON-ready values (money in yuan)."""
        return {
            "a": _plan(self.a, self.label_a, {}),
            "b": _plan(self.b, self.label_b, self.set_b),
            "runs": self.n_runs,
            "seed": self.a.seed,
            "difference": "b - a",
            "targets": _records(self.targets()),
            "cost": self.cost(),
            "notes": self.notes(),
        }


def _plan(result: EnsembleResult, label: str, values: dict[str, float]) -> dict[str, Any]:
    sc = result.scenario
    return {
        "file": label,
        "scenario": sc.place.id,
        "place": sc.place.name,
        "period": [sc.period.start, sc.period.end],
        "set": dict(values),
    }


def _cell(v: float | None, fmt: str) -> str:
    """A number in a fixed-width cell, or blanks of the same width where there is none."""
    width = int(fmt.strip("+").split(".")[0])
    return " " * width if v is None or v != v else format(v, fmt)


def compare(
    a: Scenario,
    b: Scenario,
    runs: int = 1000,
    seed: int | None = 0,
    workers: int = 1,
    set_b: dict[str, float] | None = None,
    label_a: str = "A",
    label_b: str = "B",
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Run plan A and plan B (with `set_b` fixed, as `values=` of `run_ensemble`) on the same
    seeds and return their comparison. `compare(sc, sc, set_b={...})` compares a plan with the
    plan changed; B then starts from the set-ups A's replications kept when every quantity
    set is a lever's (drawn before any lever acts: the same results, drawn once).
    `progress` is called with the replications just finished (each plan's count as half a
    replication of the comparison)."""

    def half(k: float) -> None:
        if progress:
            progress(k / 2)

    set_ups = set_up_store(a, runs, set_b or {}) if a is b else None
    ra = run_ensemble(a, runs=runs, seed=seed, counterfactual=False, workers=workers,
                      progress=half, set_ups=set_ups)  # fmt: skip
    rb = run_ensemble(b, runs=runs, seed=seed, counterfactual=False, workers=workers,
                      values=set_b or None, progress=half, set_ups=set_ups)  # fmt: skip
    return Comparison(ra, rb, label_a, label_b, dict(set_b or {}))
