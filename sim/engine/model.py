"""GrowthModel: one place's firms climbing the SRDI ladder, one year per `step()`.

The yearly cycle (MODEL.md) as named phases:
entry -> select (pool, stewards) -> finance -> grow -> invest (R&D and IP) -> recognise ->
re_review -> pay_awards -> exit -> collect.
Awards are settled after re-review so that re-review awards (Zhanjiang) and the rule "only the
highest award within a year" see every claim of the year before the budget is applied.

Randomness: everything derives from the seed given to the model (a `SeedSequence` or int).
A firm's random number for a purpose in a year is a function of the replication's key for
that year and purpose and of the firm's identity (`draw_id`: its group, such as the base-year
holders of a level, the candidates born in a year or the firms a lever may bring in, and its
place in the group; counter-based, streams.py): a phase draws for the firms it needs only.
A firm's set-up attributes are drawn the same way (firms.FirmDraws). So a firm keeps its
numbers in its counterfactual, and in a run whose inputs give a group more or fewer firms
(more candidates, more champions, a larger inflow): common random numbers hold firm by firm,
across levers and across inputs.

Relaxations (`relax`, for `srdi diagnose`): switches that lift one stage of the funnel so that
its effect on the targets can be measured on the same seeds; `RELAXATIONS` says what each does.
Each leaves every random number where it was (the draws are counter-based), so a relaxation that
cannot act in a scenario leaves its results identical.

Speed: what touches every firm (growth, R&D and IP, who applies, re-review due dates,
stewards, exits, the tally) is a compiled loop (sim/engine/kernels.py); the rest is numpy on the
firms concerned. With `lazy`, a candidate's set-up and growth wait until it applies (identical
results; see the argument).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import mesa
import numpy as np

from sim.engine import kernels
from sim.engine.agents import City, Evaluator
from sim.engine.competition import Competition
from sim.engine.eligibility import eligibility
from sim.engine.firms import (
    BIRTH_GROUP_0,
    COLUMNS,
    GROUP_SHIFT,
    NATIVE,
    PLACE_MASK,
    Firm,
    FirmDraws,
    FirmPopulation,
    create_titled,
    draw_firms,
)
from sim.engine.inputs import child_streams, draw_inputs, draw_values
from sim.engine.ladder import Explanation
from sim.engine.streams import Streams, normals, uniforms
from sim.levers import LEVER_NAMES, build_levers
from sim.scenario import Scenario, load
from sim.scenario.target_kinds import KINDS, measured

# What a firm's random numbers are for; each (year, purpose) has its own key (streams.py).
PURPOSES = (
    "apply",
    "approve",
    "re_review",
    "exit",
    "loan",
    "steward",
    "matching_subsidy",
    *kernels.GROW_INVEST_DRAWS,  # growth, rd, main_share, debt_ratio (normals), ip_class1/2
)
# Stages of the funnel a run can relax (`GrowthModel(relax=...)`), and what relaxing each does.
RELAXATIONS = {
    "apply": "every eligible firm applies for the title above it (no apply draw)",
    "titles": "every eligible applicant is titled: no quota, no rejection at the checks",
    "re_review": "no title is lost at re-review (firms are still re-reviewed and rewarded)",
    "closures": "no firm closes",
    "budget": "the awards' yearly budget cap is lifted (every award claimed is paid)",
    "bring_in": "every firm the plan brings in a year arrives (success rate 1)",
}


LEVER_QUANTITIES = "levers."  # the path prefix of the levers' quantities


def read_by_set_up(p: dict[str, float]) -> dict[str, float]:
    """The values a set-up can depend on: every quantity's but the levers' (the set-up is drawn
    before any lever acts; how many firms a lever may bring in only sizes the arrays)."""
    return {name: v for name, v in p.items() if not name.startswith(LEVER_QUANTITIES)}


@dataclass(frozen=True)
class SetUp:
    """What a replication draws before its levers act: the same for each of its passes, and
    for every run of its seed and origin whose values differ in the levers' quantities only."""

    drawn_by: tuple  # (seed entropy, spawn key, origin, scale) of the run that drew it
    values: dict[str, float]  # the values that run fixed (`values=`)
    p: dict[str, float]
    competition: Competition
    columns: dict[str, np.ndarray]  # every firm after set-up: base year, then births
    n_base: int
    birth_blocks: dict[int, np.ndarray]
    stream_keys: dict  # the yearly keys (`Streams`), filled as any pass of the seed runs


@dataclass
class YearRecord:
    """What one year produced, per level 0..top (index = level)."""

    year: int
    exactly: np.ndarray
    at_least: np.ndarray
    new: np.ndarray
    ever: np.ndarray  # firms that reached at least the level after the base year (cumulative)
    lost: np.ndarray
    reviewed: np.ndarray
    applied: np.ndarray  # eligible applicants judged for each title (approval = new / applied)
    closed: np.ndarray  # holders of each level (exactly) that closed in the year
    titles_available: np.ndarray  # the places of a rationed title (inf: granted on criteria)
    rivals: np.ndarray  # applicants from outside the place for those places (0: none)
    brought_in: np.ndarray
    pool_size: int
    cost: dict[str, float]
    budget_left: float
    # counts the records above do not hold, for targets of a kind that needs one
    # (`sim.scenario.target_kinds.measured`): run array name -> count
    measures: dict[str, float] = field(default_factory=dict)
    # counted only when the model is asked to (`funnel=True`): reading every candidate's
    # criteria costs about a quarter more time on the national scenario
    candidates: np.ndarray | None = None  # firms that could apply for each title this year
    eligible: np.ndarray | None = None  # candidates meeting the title's criteria


class GrowthModel(mesa.Model):
    """A place's candidate firms and titled firms, and the policy levers acting on them.

    Args:
        scenario: a `Scenario` or the path of a scenario file.
        seed: an int or `numpy.random.SeedSequence`; all randomness derives from it.
        levers_on: False runs the counterfactual with every lever off (same draws).
        levers_off: names of levers (`LEVER_NAMES`) to leave off while the others act: the
            counterfactual of one lever alone (same draws), for the cost per extra firm of
            each lever.
        values: override of drawn quantities by dotted path (for sweeps and calibration);
            `competition.batch_quantile.<tier>` fixes that title's batches at a quantile of
            their distribution (sensitivity analysis; `sim/engine/batches.py`).
        origin: the first year whose batches are not known: batches published for earlier
            years are used as published, later ones drawn (`sim/engine/batches.py`). None: every
            batch published so far is known (a forecast); a backtest sets its origin.
        firm_history: firm columns (names of `COLUMNS`) to copy at the end of every year into
            `firm_history[name]`, one array per year, base year first. A run otherwise keeps
            yearly aggregates only (`history`), so its memory does not grow with the years.
        relax: stages of the funnel to lift (names of `RELAXATIONS`); empty: the model as is.
        funnel: also count each year, per title, the candidates (alive firms whose level lets
            them apply for it) and the eligible ones (meeting its criteria), for `srdi
            diagnose`. Off by default: it reads the criteria of every candidate, not only of
            the firms that apply. Nothing else in the run changes.
        lazy: bring a candidate's state (level 0: the pool below the first title) up to date
            only when the model reads it, when it applies for a title. Its set-up attributes
            are drawn then, and its growth, R&D and IP of each year since are applied in
            order, with the same random numbers and arithmetic as the yearly pass
            (`kernels.grow_and_invest` on its row), so every result is identical; the work
            saved is on the candidates that have not applied (about 60 % of a national
            candidate's years). Only where nothing else reads a candidate's state: no lever
            acts, no funnel counts, `apply` is not relaxed, no target counts firms by their
            state, no `firm_history` and no `keep_set_up`; otherwise the model runs as if
            `lazy` were False (`self.lazy` says which). `firm(i)` and `explain` bring their
            firm up to date;
            `bring_up_to_date()` does so for every alive candidate, before its columns are
            read from outside.
        keep_set_up: keep what the replication drew before its levers act (`kept_set_up`:
            inputs, base-year firms, births), for its other passes; the run is then not lazy
            (a kept set-up holds every firm drawn).
        set_up: start from another pass's kept set-up instead of drawing it again: the same
            seed and `origin`, and the same value of every quantity that is not a lever's, give
            the same set-up whatever the levers, their values and the stages relaxed (they act
            after it), so a replication's counterfactual and one-lever-off passes
            (`sim.runs.ensemble.run_passes`), a sweep's experiments on one seed
            (`sim.runs.sweep.runner.run_chunk`) and `srdi diagnose`'s runs
            (`sim.runs.ensemble.run_variants`) need not redraw it. A set-up of another seed
            or `origin`, or drawn under another value of a quantity that is not a lever's, is
            refused.
        scale: run at 1/`scale` of the place's size, each simulated firm standing for
            `scale` (`sim.engine.inputs.at_scale`: the counts, candidates, inflow and batches
            divided). The records stay in simulated firms; `sim.runs.ensemble` multiplies
            them back. The ensemble passes the scenario's `simulation.scale`; the model's
            default is every firm (the calibration scales its own values).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        seed: int | np.random.SeedSequence | None = None,
        levers_on: bool = True,
        values: dict[str, float] | None = None,
        firm_history: tuple[str, ...] = (),
        origin: int | None = None,
        levers_off: Collection[str] = (),
        relax: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
        funnel: bool = False,
        lazy: bool = False,
        set_up: SetUp | None = None,
        keep_set_up: bool = False,
        scale: int = 1,
    ) -> None:
        unknown = [name for name in firm_history if name not in COLUMNS]
        if set(levers_off) - set(LEVER_NAMES):
            raise ValueError(
                f"levers_off: unknown levers {sorted(set(levers_off) - set(LEVER_NAMES))}; "
                f"known: {list(LEVER_NAMES)}"
            )
        if unknown:
            raise ValueError(
                f"firm_history: unknown firm columns {unknown}; known: {list(COLUMNS)}"
            )
        self.relax = frozenset(relax)
        self.funnel = funnel
        if self.relax - RELAXATIONS.keys():
            raise ValueError(
                f"relax: unknown stages {sorted(self.relax - RELAXATIONS.keys())}; "
                f"known: {list(RELAXATIONS)}"
            )
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(rng=root)
        self.scenario = scenario if isinstance(scenario, Scenario) else load(scenario)
        self._measured = measured(self.scenario.targets)  # targets the model counts itself
        self.ladder = self.scenario.ladder()
        self.top = self.ladder.top
        self.eligibility = eligibility(self.ladder)  # its criteria, compiled
        self.levers_on = levers_on
        self.levers_off = frozenset(levers_off)
        streams = child_streams(root)
        self._streams = streams
        self.streams = Streams(streams["dynamics"], PURPOSES)
        self.bring_in_rng = np.random.default_rng(streams["bring_in"])
        self.scale = scale
        drawn_by = (root.entropy, tuple(root.spawn_key), origin, scale)
        if set_up is None:
            self.p, self.competition = draw_inputs(self.scenario, root, values, origin, scale)
        elif set_up.drawn_by != drawn_by:
            raise ValueError(
                "set_up: kept by a run of another seed, origin or scale; it would not be this "
                "run's set-up"
            )
        else:
            if dict(values or {}) == set_up.values:
                self.p = dict(set_up.p)
            else:  # the levers' values may differ: they act after the set-up
                self.p = draw_values(self.scenario, root, values, scale)
                if read_by_set_up(self.p) != read_by_set_up(set_up.p):
                    raise ValueError(
                        "set_up: kept by a run whose values differ in a quantity that is not "
                        "a lever's; it would not be this run's set-up"
                    )
            self.competition = set_up.competition
            self.streams.share_keys(set_up.stream_keys)
        self.period = self.scenario.period
        self.year = self.period.base_year
        self.origin = origin
        self.firms = FirmPopulation()
        # the key of the streams new firms' attributes are drawn from (firms.FirmDraws)
        self.firm_key = streams["baseline"].generate_state(1, np.uint64)[0]
        self.levers = (
            build_levers(self.scenario.levers, self.p, self.ladder, self.levers_off)
            if levers_on
            else []
        )
        self.lazy = bool(
            lazy
            and not keep_set_up  # a kept set-up holds every firm drawn
            and not self.levers
            and not funnel
            and "apply" not in self.relax
            and not self._measured
            and not firm_history
        )
        # this year's rules and keys of growth, kept for candidates brought up to date later
        self._growth_rules: dict[int, tuple[kernels.YearRules, np.ndarray]] = {}
        self._undrawn: list[np.ndarray] = []  # rows whose set-up attributes wait (lazy)
        if set_up is None:
            self._create_baseline()
            self._allocate_births(np.random.default_rng(streams["births"]))
        else:
            self._copy_set_up(set_up)
        self.kept_set_up = None
        if keep_set_up:
            self.kept_set_up = SetUp(
                drawn_by=drawn_by,
                values=dict(values or {}),
                p=dict(self.p),
                competition=self.competition,
                columns={name: getattr(self.firms, name).copy() for name in COLUMNS},
                n_base=self.n_base,
                birth_blocks=dict(self.birth_blocks),
                stream_keys=self.streams.share_keys(),
            )
        if self.lazy:
            # per firm: whether its set-up attributes are drawn, and (at level 0) the last
            # year whose growth its state includes; no firm is added after set-up (no lever)
            self._drawn = np.ones(self.firms.n, dtype=bool)
            self._updated = np.full(self.firms.n, self.year, dtype=np.int16)
            for year, rows in self.birth_blocks.items():
                self._updated[rows] = year - 1
            for rows in self._undrawn:
                self._drawn[rows] = False
        del self._undrawn
        for lever in self.levers:  # set-up a lever needs (the firms it may bring in)
            lever.prepare(self)
        awards = next((lv for lv in self.levers if lv.name == "awards"), None)
        self.awards = awards
        self.city = City(self, awards)
        self.evaluators = {}
        # one evaluator per granting level present (a scenario's local tier may be a city's)
        granting = ["province", "national"] + [t.granted_by for t in self.ladder.tiers]
        for g in dict.fromkeys(granting):
            levels = [k for k in range(1, self.top + 1) if self.ladder.tier(k).granted_by == g]
            self.evaluators[g] = Evaluator(self, g, levels)
        self._evaluator_of = {
            k: self.evaluators[self.ladder.tier(k).granted_by] for k in range(1, self.top + 1)
        }
        # first year each level can be granted (ladder `available_from`); a title the scenario's
        # baseline counts holders of is in place from the base year
        self._available_from = [None] + [
            None if t.id in self.scenario.baseline.counts else t.available_from
            for t in self.ladder.tiers
        ]
        self.history: list[YearRecord] = []
        self.firm_history: dict[str, list[np.ndarray]] = {name: [] for name in firm_history}
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        # random variates drawn for firms so far, by kind (what benchmarks/run.py's floor draws)
        self.random_numbers = {"uniform": 0, "normal": 0, "poisson": 0}
        self._buffers: dict[str, np.ndarray] = {}  # work arrays kept from year to year
        # the base year as the first record: the state every forecast starts from
        self.brought_in = np.zeros(self.top + 1, dtype=np.int64)
        self._reset_funnel()
        zeros = np.zeros(self.top + 1, dtype=np.int64)
        self.collect(zeros, zeros, zeros, zeros)
        # mesa keeps each model's agent-id counter in a class-level dict (`Agent._ids`), which
        # holds the model, and all its firms, for the life of the process; this model adds no
        # agent after set-up, so its counter is dropped and a finished run can be freed
        mesa.Agent._ids.pop(self, None)

    # --- set-up ------------------------------------------------------------------------------
    def _create_baseline(self) -> None:
        """Firms at the end of the base year: counts per title from the scenario's baseline."""
        at_least = np.zeros(self.top + 2)
        for tier_id in self.scenario.baseline.counts:
            at_least[self.ladder.level(tier_id)] = self.p[f"baseline.counts.{tier_id}"]
        # a missing count inherits the one above it; stocks cannot rise with the level
        for k in range(self.top, 0, -1):
            at_least[k] = max(at_least[k], at_least[k + 1])
        exactly = (at_least[1:-1] - at_least[2:]).astype(int)
        counts = np.concatenate([[int(self.p["baseline.candidates"])], exactly])
        if self.lazy:  # the candidates first, as `create_titled` orders them
            self._undrawn.append(self._add_undrawn(FirmDraws(self.firm_key, 0), counts[0], True))
            counts[0] = 0
        self.firms.add(create_titled(counts, self.ladder, self.p, self.firm_key, self.year))
        self.n_base = self.firms.n

    def _allocate_births(self, rng: np.random.Generator) -> None:
        """Pre-draw the candidates born in each year of the period (not alive until then)."""
        self.birth_blocks: dict[int, np.ndarray] = {}
        years = self.period.years
        # by inversion, so that a higher inflow adds births without re-dealing the others
        inflow = np.full(len(years), float(self.p["baseline.candidate_inflow_per_year"]))
        born = kernels.poisson_from_uniform(inflow, rng.random(len(years)))
        # room for every firm of the run: the births, and the most firms levers can bring in
        self.firms.reserve(self.firms.n + int(born.sum()) + self._most_brought_in())
        for i, (year, n_born) in enumerate(zip(years, born, strict=True)):
            draws = FirmDraws(self.firm_key, BIRTH_GROUP_0 + i)  # each year its own group
            if self.lazy:
                self.birth_blocks[year] = self._add_undrawn(draws, int(n_born), False)
                self._undrawn.append(self.birth_blocks[year])
                continue
            cols = draw_firms(int(n_born), 0, self.p, draws, self.year)
            cols["alive"] = np.zeros(n_born, dtype=bool)
            cols["years_in_niche"] = np.ones(n_born, dtype=np.int16)
            self.birth_blocks[year] = self.firms.add(cols)
        self.n_native = self.firms.n

    def _most_brought_in(self) -> int:
        """The most firms this run's levers can bring in over the period."""
        lever = (
            self.scenario.levers.bring_in
            if self.levers_on and "bring_in" not in self.levers_off
            else None
        )
        if lever is None:
            return 0
        return int(round(self.p["levers.bring_in.firms_per_year"])) * len(self.period.years)

    def _copy_set_up(self, set_up: SetUp) -> None:
        """The firms of another pass's set-up (`set_up`), as `_create_baseline` and
        `_allocate_births` would have drawn them."""
        n = len(set_up.columns["tier"])
        self.firms = FirmPopulation(n + self._most_brought_in())
        self.firms.add({name: values.copy() for name, values in set_up.columns.items()})
        self.n_base = set_up.n_base
        self.birth_blocks = dict(set_up.birth_blocks)
        self.n_native = self.firms.n

    def _add_undrawn(self, draws: FirmDraws, n: int, alive: bool) -> np.ndarray:
        """Add `n` candidates of a group whose set-up attributes are drawn when first read
        (lazy): their identity, level and whether alive only. Returns their rows."""
        return self.firms.add(
            {
                "tier": np.zeros(n, dtype=np.int8),
                "highest_tier": np.zeros(n, dtype=np.int8),
                "alive": np.full(n, alive),
                "draw_id": draws.ids(np.arange(n, dtype=np.int64)),
            }
        )

    def _draw_set_up(self, rows: np.ndarray) -> None:
        """Draw the set-up attributes of candidates `rows` (lazy), exactly as set-up would
        have: from their group's streams at their place in the group, at the base year."""
        f = self.firms
        ids = f.draw_id[rows]
        groups = ids >> GROUP_SHIFT
        for g in np.flatnonzero(np.bincount(groups)):  # the groups present, in order
            in_group = groups == g
            sel = rows[in_group]
            draws = FirmDraws(self.firm_key, int(g))
            index = ids[in_group] & PLACE_MASK
            cols = draw_firms(sel.size, 0, self.p, draws, self.period.base_year, index=index)
            del cols["alive"]
            if g >= BIRTH_GROUP_0:  # a candidate born in the period starts in its niche
                cols["years_in_niche"][:] = 1
            for name, values in cols.items():
                getattr(f, name)[sel] = values
        self._drawn[rows] = True

    def _catch_up(self, rows: np.ndarray) -> None:
        """Bring the state of the level-0 firms among `rows` up to this year (lazy): set-up
        attributes drawn if not yet, then, for the alive ones, each year since the last one
        applied, in order. A closed candidate is left as it was last read (the year it
        closed is not kept); one not yet born keeps its set-up attributes, as in the pass
        over every firm."""
        f = self.firms
        rows = rows[f.tier[rows] == 0]
        if rows.size > 1 and np.any(rows[1:] <= rows[:-1]):  # once each, in order
            rows = np.flatnonzero(np.bincount(rows, minlength=f.n))
        if rows.size == 0:
            return
        undrawn = rows[~self._drawn[rows]]
        if undrawn.size:
            self._draw_set_up(undrawn)
        behind = rows[f.alive[rows] & (self._updated[rows] < self.year)]
        if behind.size == 0:
            return
        for year in range(int(self._updated[behind].min()) + 1, self.year + 1):
            due = behind[self._updated[behind] < year]
            self._grow(due, *self._growth_rules[year])
            self._updated[due] = year

    def bring_up_to_date(self) -> None:
        """Make every alive candidate's columns current (after or during a lazy run); a
        model that is not lazy is always current."""
        if self.lazy:
            self._catch_up(np.flatnonzero(self.firms.alive & (self.firms.tier == 0)))

    def _reporters(self) -> dict:
        """DataCollector columns, one row per simulated year: the year, holders of at least
        each title, new titles of each, and the money spent that year."""
        rep = {"year": lambda m: m.year}
        for k, t in enumerate(self.ladder.tiers, start=1):
            rep[t.id] = lambda m, k=k: int(m.history[-1].at_least[k])
            rep[f"new_{t.id}"] = lambda m, k=k: int(m.history[-1].new[k])
        rep["cost_yuan"] = lambda m: float(sum(m.history[-1].cost.values()))
        return rep

    # --- random numbers ----------------------------------------------------------------------
    def _year_shock_draw(self) -> float:
        """This year's common growth shock (one number for the whole place)."""
        ss = self._streams["dynamics"]
        rng = np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, self.year))
        )
        return float(self.p["economy.year_shock_sd"] * rng.standard_normal())

    def key(self, purpose: str) -> np.uint64:
        """This year's key for one purpose (a name of `PURPOSES`)."""
        return self.streams.key(self.year, purpose)

    def uniform(self, purpose: str, rows: np.ndarray | None = None) -> np.ndarray:
        """This year's uniforms of firms `rows` (all firms if None) for one purpose.

        A firm's number depends on its identity (`draw_id`), the year and the purpose only,
        whichever other rows are drawn and however many firms there are (common random
        numbers).
        """
        ids = self.firms.draw_id if rows is None else self.firms.draw_id[rows]
        self.random_numbers["uniform"] += ids.size
        return uniforms(self.key(purpose), ids)

    def normal(self, purpose: str, rows: np.ndarray | None = None) -> np.ndarray:
        """This year's standard normals of firms `rows` (all firms if None) for one purpose."""
        ids = self.firms.draw_id if rows is None else self.firms.draw_id[rows]
        self.random_numbers["normal"] += ids.size
        return normals(self.key(purpose), ids)

    # --- the year ----------------------------------------------------------------------------
    def step(self) -> None:
        """One year of the cycle."""
        self.year += 1
        self.city.reset_year()
        self.brought_in = np.zeros(self.top + 1, dtype=np.int64)
        self._reset_funnel()
        self.entry()
        self.select()
        self.finance()
        self.grow_and_invest()
        self.invest()
        newly, applied = self.recognise()
        lost, reviewed = self.re_review()
        self.pay_awards()
        self.exit()
        self.collect(newly, lost, reviewed, applied)
        self.running = self.year < self.period.end  # mesa.batch_run stops at the period's end

    def _reset_funnel(self) -> None:
        """The year's funnel counts that `collect` records besides new, applied and lost."""
        self.candidates = np.zeros(self.top + 1, dtype=np.int64)
        self.eligible = np.zeros(self.top + 1, dtype=np.int64)
        self.closed = np.zeros(self.top + 1, dtype=np.int64)
        self.titles_available = np.zeros(self.top + 1)
        self.rivals = np.zeros(self.top + 1)

    def entry(self) -> None:
        """Candidates born this year come alive; levers bring in titled firms from outside."""
        born = self.birth_blocks.get(self.year)
        if born is not None:
            self.firms.alive[born] = True
        for lever in self.levers:
            lever.entry(self)

    def select(self) -> None:
        """The cultivation pool and the service stewards are assigned for the year (the
        levers multiply the odds of applying of the firms they serve, `apply_odds`)."""
        self.firms.apply_odds[:] = 1.0
        for lever in self.levers:
            lever.select(self)

    def finance(self) -> None:
        """Titled firms take policy loans; subsidies with yearly selection are claimed."""
        f = self.firms
        f.loan[:] = False
        for column in ("growth_boost", "rd_log_boost", "debt_added"):  # this year's effects
            f.column(column)[:] = 0.0
        for lever in self.levers:
            lever.finance(self)

    def grow_and_invest(self) -> None:
        """Every alive firm grows, sets its R&D and receives IP (one compiled pass).

        Revenue: log growth moves by drift, capability, loan and title effects and shocks; the
        main-business share and debt ratio move toward their capability levels. R&D intensity
        moves toward its capability level, and cash received last year adds to it. IP arrives
        as a Poisson count that rises with R&D spending (formulas in `kernels.grow_and_invest`).
        """
        f, p = self.firms, self.p

        rules = kernels.year_rules(
            p, drift=float(p["economy.growth_mean"]) + self._year_shock_draw()
        )
        keys = np.array([self.key(name) for name in kernels.GROW_INVEST_DRAWS], dtype=np.uint64)
        self._growth_rules[self.year] = (rules, keys)
        # lazy: the titled firms now, the candidates when read (`_catch_up`)
        self._grow(np.flatnonzero(f.alive & (f.tier > 0) if self.lazy else f.alive), rules, keys)

    def _grow(self, growing: np.ndarray, rules: kernels.YearRules, keys: np.ndarray) -> None:
        """One year of growth, R&D and IP for the firms `growing`, under that year's rules and
        keys (`kernels.grow_and_invest`); the IP draws its search leaves are then settled by
        the exact inverse, at the uniforms the kernel used."""
        f = self.firms
        n = growing.size
        # room for every IP draw the search may leave to the exact inverse (two per firm)
        rows = np.empty(2 * n, dtype=np.int64)
        rates = np.empty(2 * n, dtype=np.float64)
        ip_class = np.empty(2 * n, dtype=np.int8)
        ip_rate = self._scratch("ip_rate", f.n, np.float32)
        left = kernels.grow_and_invest(
            growing, f.tier, f.growth_boost, f.rd_log_boost, f.debt_added, f.capability,
            f.revenue_yuan, f.revenue_prev_yuan, f.growth, f.growth_prev, f.years_in_niche,
            f.main_share, f.debt_ratio,
            f.rd_intensity, f.rd_intensity_prev, f.rd_boost, f.ip_class1, f.ip_class2,
            f.draw_id, rules, keys, rows, rates, ip_class, ip_rate,
        )  # fmt: skip
        self.random_numbers["normal"] += 4 * n  # growth, rd, main_share, debt_ratio
        self.random_numbers["poisson"] += 2 * n  # IP of each class
        for c, column in ((1, "ip_class1"), (2, "ip_class2")):
            sel = ip_class[:left] == c
            if sel.any():
                r = rows[:left][sel]
                key = keys[kernels.GROW_INVEST_DRAWS.index(column)]
                u = uniforms(key, f.draw_id[r])  # the uniforms the kernel used
                counts = kernels.poisson_exact(rates[:left][sel], u)
                getattr(f, column)[r] += counts.astype(COLUMNS[column][0])

    @property
    def ip_rate(self) -> np.ndarray:
        """This year's IP arrival rate (before the class rates) of the firms alive this year."""
        return self._scratch("ip_rate", self.firms.n, np.float32)[self.firms.alive]

    def _scratch(self, name: str, size: int, dtype, fill: int = 0) -> np.ndarray:
        """A work array of `size` kept from year to year (no fresh memory pages each year).

        A new array starts at `fill`; keeping it so between uses is the user's part.
        """
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = np.full(max(size, self.firms.capacity), fill, dtype=dtype)
            self._buffers[name] = buf
        return buf[:size]

    def invest(self) -> None:
        """R&D rewards (a lever's `invest`), judged on this year's R&D and paid at year end."""
        for lever in self.levers:
            lever.invest(self)

    def granted(self, level: int, year: int) -> bool:
        """Whether the title at `level` can be granted in `year` (ladder `available_from`)."""
        first = self._available_from[level]
        return first is None or year >= first

    def step_below(self, level: int, year: int) -> int:
        """The level a firm must hold to apply for `level` in `year`: the highest title below
        it that could already be granted before `year` (the pool if none)."""
        return max(j for j in range(level) if j == 0 or self.granted(j, year - 1))

    def recognise(self) -> tuple[np.ndarray, np.ndarray]:
        """Eligible firms one level below a title apply and are approved: one step a year.

        Before a title exists (`available_from`), firms below it apply for the title above it
        directly; a firm is granted at most one title a year, the highest it can get (titles are
        judged from the top down; outside such a year each firm can try one title only).
        An applicant is an eligible firm whose apply draw falls under its chance of applying
        (`kernels.applicants`); the draw is checked first, so that the criteria are read for the
        firms that would apply only (the same firms either way: the chance does not depend on
        eligibility). A firm that may try two titles has the same apply draw for both.

        It records the places available (`titles_available`, `rivals`) and, with `funnel`,
        counts per title the candidates (alive firms whose start level lets them apply for it,
        not granted a higher title this year) and the eligible ones among them. Relaxed `apply`:
        the applicants are the eligible candidates; relaxed `titles`: every applicant is titled.
        """
        f, p = self.firms, self.p
        start = f.tier.copy()
        newly = np.zeros(self.top + 1, dtype=np.int64)
        applied = np.zeros(self.top + 1, dtype=np.int64)
        awards = self.awards
        below = np.full(self.top + 1, -1, dtype=np.int64)
        base = np.zeros(self.top + 1)
        for k in range(1, self.top + 1):
            if self.granted(k, self.year):
                below[k] = self.step_below(k, self.year)
                tier_id = self.ladder.tier(k).id
                base[k] = p.get(f"apply.base.{tier_id}.{self.year}", p[f"apply.base.{tier_id}"])
        # room for every (firm, level) pair that may apply: levels a start level can target
        targets = max(int(np.sum((below >= 0) & (below <= s) & (np.arange(self.top + 1) > s)))
                      for s in range(self.top + 1))  # fmt: skip
        all_rows = self._scratch("applicant_rows", f.n * max(targets, 1), np.int64)
        all_levels = self._scratch("applicant_levels", f.n * max(targets, 1), np.int8)
        n_applying, n_drawn = kernels.applicants(
            start, f.alive, f.draw_id, f.highest_tier, f.awarded_yuan, f.revenue_yuan,
            f.apply_odds, below, base, awards.amount if awards else np.zeros(self.top + 1),
            self.key("apply"), bool(awards and awards.once_per_firm),
            float(p["apply.award_elasticity"]), all_rows, all_levels,
        )  # fmt: skip
        all_rows, all_levels = all_rows[:n_applying], all_levels[:n_applying]
        self.random_numbers["uniform"] += n_drawn
        if self.lazy:  # the applicants' criteria are read below: their state, up to date
            self._catch_up(all_rows)
        for k in range(self.top, 0, -1):
            if below[k] < 0:  # not granted this year
                continue
            self.titles_available[k] = (
                self.competition.quota_of(k, self.year)
                if self.competition.rationed.get(k, False)
                else np.inf
            )
            if self.competition.rationed.get(k, False):
                self.rivals[k] = self._evaluator_of[k].rivals(k)
            if self.funnel or "apply" in self.relax:
                # candidates: at a start level that may apply for k, not granted a higher title
                waiting = np.flatnonzero(
                    f.alive & (start >= below[k]) & (start < k) & (f.tier == start)
                )
                eligible = waiting[self.eligibility.meets(k, f.values(waiting))]
                self.candidates[k] = waiting.size
                self.eligible[k] = eligible.size
            if "apply" in self.relax:
                applicants = eligible
            else:
                applying = all_rows[all_levels == k]
                # not granted a higher title earlier in this loop
                applying = applying[f.tier[applying] == start[applying]]
                if applying.size == 0:
                    continue
                applicants = applying[self.eligibility.meets(k, f.values(applying))]
            applied[k] = applicants.size
            if "titles" in self.relax:
                approved = applicants
            else:
                approved = self._evaluator_of[k].approve(k, applicants)
            first = f.highest_tier[approved] < k
            f.tier[approved] = k
            f.title_year[approved] = self.year
            f.highest_tier[approved] = np.maximum(f.highest_tier[approved], k)
            newly[k] = approved.size
            for lever in self.levers:
                lever.recognised(self, k, approved, first)
        return newly, applied

    def re_review(self) -> tuple[np.ndarray, np.ndarray]:
        """Titles past their validity are re-reviewed; failing firms drop one level."""
        f, p = self.firms, self.p
        lost = np.zeros(self.top + 1, dtype=np.int64)
        reviewed = np.zeros(self.top + 1, dtype=np.int64)
        validity = np.array([0] + [t.validity_years for t in self.ladder.tiers], dtype=np.int64)
        holders = self._scratch("due_rows", f.n, np.int64)
        n_due = kernels.due_for_re_review(
            f.alive, f.tier, f.title_year, validity, self.year, holders
        )
        holders = holders[:n_due]
        held = f.tier[holders]
        # levels in ascending order: a firm that fails drops to a level already reviewed
        for k in range(1, self.top + 1):
            due = holders[held == k]
            if due.size == 0:
                continue
            meets = self.eligibility.meets(k, f.values(due))
            fail_p = np.where(
                meets, p["re_review.fail_if_eligible"], p["re_review.fail_if_ineligible"]
            )
            fails = self.uniform("re_review", due) < fail_p
            if "re_review" in self.relax:
                fails[:] = False
            # a failing firm drops to the highest title below that exists this year
            f.tier[due[fails]] = max(j for j in range(k) if j == 0 or self.granted(j, self.year))
            if self.lazy:  # a firm back at level 0 waits, current as of this year
                self._updated[due[fails][f.tier[due[fails]] == 0]] = self.year
            f.title_year[due] = self.year
            lost[k] = np.count_nonzero(fails)
            reviewed[k] = due.size
            passed = due[~fails]
            for lever in self.levers:
                lever.re_reviewed(self, k, passed)
        return lost, reviewed

    def pay_awards(self) -> None:
        """The city settles the year's cash claims under the award rules and budget."""
        self.city.pay()

    def exit(self) -> None:
        """Firms close with a hazard that falls with the title held (none if `closures` is
        relaxed); the closures of each level are counted in `closed`."""
        f, p = self.firms, self.p
        if "closures" in self.relax:
            return
        hazard = np.array(
            [p["exit.hazard.pool"]] + [p[f"exit.hazard.{t}"] for t in self.ladder.ids],
            dtype=np.float64,
        )
        self.random_numbers["uniform"] += int(np.count_nonzero(f.alive))
        kernels.close_firms(
            f.alive, f.draw_id, f.in_pool, f.tier, hazard, self.key("exit"), self.closed
        )

    def collect(
        self, newly: np.ndarray, lost: np.ndarray, reviewed: np.ndarray, applied: np.ndarray
    ) -> None:
        """Record the year: firms per level, new titles, losses, reviews, pool, costs."""
        f = self.firms
        exactly, highest, pool_size = kernels.tally(
            f.alive, f.tier, f.highest_tier, f.in_pool, self.top
        )
        at_least = np.cumsum(exactly[::-1])[::-1]
        ever = np.cumsum(highest[::-1])[::-1]
        if not self.history:  # the base year: titles held then are not counted as cultivated
            self._ever_base = ever.copy()
            # ... except those of a title created in the first year: its first list
            created = self.scenario.baseline.created_in_start_year
            for k in sorted((self.ladder.level(t) for t in created), reverse=True):
                self._ever_base[k] = self._ever_base[k + 1] if k < self.top else 0
        ever = ever - self._ever_base if self.history else np.zeros_like(ever)
        self.history.append(
            YearRecord(
                year=self.year,
                exactly=exactly,
                at_least=at_least,
                new=newly,
                ever=ever,
                lost=lost,
                reviewed=reviewed,
                applied=applied,
                candidates=self.candidates if self.funnel else None,
                eligible=self.eligible if self.funnel else None,
                closed=self.closed,
                titles_available=self.titles_available,
                rivals=self.rivals,
                brought_in=self.brought_in.copy(),
                pool_size=int(pool_size),
                cost=dict(self.city.cost),
                budget_left=float(self.city.budget_left),
                measures={key: KINDS[t.kind].measure(self, t) for key, t in self._measured.items()},
            )
        )
        for name, years in self.firm_history.items():
            years.append(f.column(name).copy())
        if len(self.history) > 1:
            # one DataCollector row per simulated year, the base year left out: mesa's
            # batch_run reads row `steps - 1`, which is then the year just run
            self.datacollector.collect(self)

    # --- running and looking -----------------------------------------------------------------
    def run_model(self) -> None:
        """Step through every year of the scenario's period."""
        while self.year < self.period.end:
            self.step()

    def discard_firms(self) -> None:
        """Let go of the firm arrays and work buffers, most of a finished run's memory.

        The model and its mesa agents refer to each other, so CPython frees a finished model
        only when its cycle collector runs, which large numpy arrays do not prompt: a process
        running many replications would hold several finished populations at once. Runners
        that only need `history` call this when a run is done; the model cannot step after it.
        """
        self.firms = FirmPopulation(0)
        self._buffers.clear()
        self.birth_blocks = {}
        self.levers = []  # a lever may hold firms still to bring in
        self.running = False

    def firm(self, i: int) -> Firm:
        """Firm `i` as one object (brought up to date first in a lazy run; a closed candidate
        of a lazy run is as it was when last read)."""
        if self.lazy:
            self._catch_up(np.array([i]))
        return self.firms.firm(i)

    def explain(self, i: int, tier_id: str) -> list[Explanation]:
        """For firm `i`, which criteria of `tier_id` it meets and which it fails."""
        if self.lazy:
            self._catch_up(np.array([i]))
        return self.ladder.explain(tier_id, self.firms.values(), i)


__all__ = ["GrowthModel", "SetUp", "YearRecord", "RELAXATIONS", "COLUMNS", "NATIVE"]
