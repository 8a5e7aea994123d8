"""Checks across a scenario's sections, once each section is sound on its own.

`reference_errors` finds what no single field shows: tiers the ladder does not have (the
`ladder:` section's changes applied first), baseline counts that grow up the ladder, target
ids used twice and years outside the period, parameters the model does not read or a local
tier lacks, estimates without `how`, assumptions stated as points, shares above 1, the `plan:`
ranges, and finally the baseline's conversion (`baseline.resolve`). `warnings_for` lists what
is valid but probably not meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from sim.engine.firms import COLUMNS, DERIVED
from sim.engine.ladder import OVERRIDABLE, POOL, STANDARD_TIERS, standard_document
from sim.errors import ScenarioError
from sim.scenario.parameters import defaults
from sim.scenario.quantities import SHARE_SUFFIXES, quantities_in
from sim.scenario.schema import Scenario
from sim.scenario.settings import lever_range_problems
from sim.scenario.target_kinds import KINDS
from sim.yaml_io import Loc, dotted, line_for

# Model parameters a local tier must bring with it (the standard tiers have them as defaults).
TIER_PARAMETERS = ("apply.base.{}", "approval.{}", "exit.hazard.{}")


def _ladder_errors(
    sc: Scenario, file: str, lines: Mapping[Loc, int]
) -> tuple[list[ScenarioError], list[str]]:
    """Problems of the `ladder:` section, and the tier ids the scenario's ladder has."""
    errs: list[ScenarioError] = []
    doc = standard_document()
    tiers = {t["id"]: t for t in doc["tiers"]}
    ids = list(STANDARD_TIERS)
    ch = sc.ladder_changes
    if ch is None:
        return errs, ids

    def err(loc: tuple, expected: str, found: str, kind: str, choices=(), fix=None) -> None:
        near = difflib.get_close_matches(found.strip("'"), list(choices), n=1)
        if near and fix is None:
            fix = f"Did you mean '{near[0]}'?"
        errs.append(
            ScenarioError(file, dotted(loc), expected, found, line_for(lines, loc), fix, kind)
        )

    for tier_id, change in ch.tiers.items():
        loc = ("ladder", "tiers", tier_id)
        if tier_id not in tiers:
            err(loc, f"a standard tier ({', '.join(ids)})", repr(tier_id), "unknown_tier", ids)
            continue
        crits = {c["id"]: c for c in tiers[tier_id].get("criteria", [])}
        for cid, over in change.criteria.items():
            cloc = (*loc, "criteria", cid)
            if cid not in crits:
                err(
                    cloc,
                    f"a criterion of {tier_id} ({', '.join(crits)})",
                    repr(cid),
                    "unknown_criterion",
                    crits,
                )
                continue
            kind = crits[cid]["kind"]
            allowed = ("min", "max", "max_exclusive", "min_total")
            for key in allowed:
                if getattr(over, key) is not None and key not in OVERRIDABLE[kind]:
                    can = ", ".join(OVERRIDABLE[kind]) or "nothing (bands are fixed)"
                    err(
                        (*cloc, key),
                        f"a key a {kind} criterion has ({can})",
                        repr(key),
                        "invalid",
                    )
    attributes = set(COLUMNS) | set(DERIVED)
    for i, add in enumerate(ch.add):
        loc = ("ladder", "add", i)
        if add.id in ids or add.id == POOL:
            err(
                (*loc, "id"),
                "an id not used by another tier",
                repr(add.id),
                "duplicate_tier",
                fix="Choose another id.",
            )
            continue
        if add.after not in ids:
            err(
                (*loc, "after"),
                f"a tier of the ladder ({', '.join(ids)})",
                repr(add.after),
                "unknown_tier",
                ids,
            )
            continue
        if add.criteria_from is not None and add.criteria_from not in ids:
            err(
                (*loc, "criteria_from"),
                f"a tier of the ladder ({', '.join(ids)})",
                repr(add.criteria_from),
                "unknown_tier",
                ids,
            )
        for j, c in enumerate(add.criteria):
            for key, name in (("attribute", c.attribute), ("band_by", c.band_by)):
                if name is not None and name not in attributes:
                    err(
                        (*loc, "criteria", j, key),
                        "a firm attribute (sim/engine/firms.py)",
                        repr(name),
                        "unknown_attribute",
                        sorted(attributes),
                    )
        ids.insert(ids.index(add.after) + 1, add.id)
    return errs, ids


def reference_errors(sc: Scenario, file: str, lines: Mapping[Loc, int]) -> list[ScenarioError]:
    """Checks across fields: ladder, tiers, parameters, years within the period, labels."""
    errs, tiers = _ladder_errors(sc, file, lines)
    known = tiers + [POOL]

    def bad_tier(loc: tuple, value: str, allow_pool: bool = False) -> None:
        choices = known if allow_pool else tiers
        if value not in choices:
            near = difflib.get_close_matches(value, choices, n=1)
            errs.append(
                ScenarioError(
                    file,
                    dotted(loc),
                    expected="a tier of the ladder (" + ", ".join(choices) + ")",
                    found=repr(value),
                    line=line_for(lines, loc),
                    fix=f"Did you mean '{near[0]}'?" if near else None,
                    kind="unknown_tier",
                )
            )

    for name in sc.baseline.counts:
        bad_tier(("baseline", "counts", name), name)
    # counts are firms holding AT LEAST each title: they cannot grow up the ladder. Single
    # champions are a programme of their own (a champion need not be a little giant: in 2018
    # China had 125-200 champions and no little giant), so their count is not compared.
    counted = [t for t in tiers if t in sc.baseline.counts and t != "single_champion"]
    for lower, higher in zip(counted, counted[1:], strict=False):
        lo_q, hi_q = sc.baseline.counts[lower], sc.baseline.counts[higher]
        if lo_q.measure != hi_q.measure:
            continue  # a cumulative count is compared after its conversion (baseline.py)
        lower_max = lo_q.high if lo_q.is_range else lo_q.value
        higher_min = hi_q.low if hi_q.is_range else hi_q.value
        if None not in (lower_max, higher_min) and higher_min > lower_max:
            errs.append(
                ScenarioError(
                    file,
                    f"baseline.counts.{higher}",
                    expected=f"at most the count of {lower} ({lower_max:g}): counts are firms "
                    "holding at least each title, so a higher title has no more holders",
                    found=f"{higher_min:g}",
                    line=line_for(lines, ("baseline", "counts", higher)),
                    fix=f"Check both counts; {lower} includes the holders of {higher}.",
                    kind="inconsistent",
                )
            )
    for i, name in enumerate(sc.baseline.created_in_start_year):
        bad_tier(("baseline", "created_in_start_year", i), name)
    seen_ids: dict[str, int] = {}
    for i, t in enumerate(sc.targets):
        bad_tier(("targets", i, "tier"), t.tier, allow_pool=KINDS[t.kind].tier_rule == "pool")
        if t.id in seen_ids:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.id",
                    expected="a target id used once",
                    found=f"'{t.id}' again (first at targets.{seen_ids[t.id]})",
                    line=line_for(lines, ("targets", i, "id")),
                    fix="Give each target its own id.",
                    kind="duplicate_id",
                )
            )
        seen_ids.setdefault(t.id, i)
        if not sc.period.start <= t.year <= sc.period.end:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.year",
                    expected=f"a year within the period {sc.period.start}-{sc.period.end}",
                    found=str(t.year),
                    line=line_for(lines, ("targets", i, "year")),
                    fix="Change the year or the period.",
                    kind="year_outside_period",
                )
            )
        if t.kind == "pool_size" and sc.levers.cultivation_pool is None:
            errs.append(
                ScenarioError(
                    file,
                    f"targets.{i}.kind",
                    expected="a pool_size target only with levers.cultivation_pool",
                    found="no cultivation_pool lever",
                    line=line_for(lines, ("targets", i, "kind")),
                    fix="Add levers.cultivation_pool (its size is the plan's pool).",
                    kind="invalid",
                )
            )
    lv = sc.levers
    if lv.awards:
        for name in lv.awards.by_tier:
            bad_tier(("levers", "awards", "by_tier", name), name)
    if lv.matching_subsidy:
        bad_tier(("levers", "matching_subsidy", "tier"), lv.matching_subsidy.tier)
    if lv.loans:
        bad_tier(("levers", "loans", "from_tier"), lv.loans.from_tier)
    if lv.rd_support:
        bad_tier(("levers", "rd_support", "from_tier"), lv.rd_support.from_tier, allow_pool=True)
    if lv.bring_in:
        bad_tier(("levers", "bring_in", "tier"), lv.bring_in.tier)
    if lv.cultivation_pool:
        bad_tier(("levers", "cultivation_pool", "below_tier"), lv.cultivation_pool.below_tier)
    if lv.stewards:
        for i, name in enumerate(lv.stewards.tiers):
            bad_tier(("levers", "stewards", "tiers", i), name)

    # parameters: the shipped ones, plus those of the scenario's local tiers (required)
    known_params = set(defaults())
    # (a local tier placed wrongly is reported above; its parameters are still its own)
    local = [a.id for a in sc.ladder_changes.add] if sc.ladder_changes else []
    local = list(dict.fromkeys(t for t in local if t not in STANDARD_TIERS and t != POOL))
    for tier_id in local:
        for pattern in TIER_PARAMETERS:
            name = pattern.format(tier_id)
            known_params.add(name)
            if name not in sc.parameters:
                i = next(j for j, a in enumerate(sc.ladder_changes.add) if a.id == tier_id)
                errs.append(
                    ScenarioError(
                        file,
                        f"parameters.{name}",
                        expected=f"a value for the local tier '{tier_id}' (cited or a range)",
                        found="nothing (the parameter is missing)",
                        line=lines.get(("parameters",)) or line_for(lines, ("ladder", "add", i)),
                        fix=f"Add parameters.{name} with a value or low/high and a source.",
                        kind="missing_parameter",
                    )
                )
    for name in sc.parameters:
        if name not in known_params:
            near = difflib.get_close_matches(name, sorted(known_params), n=3)
            errs.append(
                ScenarioError(
                    file,
                    f"parameters.{name}",
                    expected="a model parameter of sim/data/parameters.yaml or of a local tier",
                    found=repr(name),
                    line=line_for(lines, ("parameters", name)),
                    fix=("Nearest: " + ", ".join(near) + ".") if near else None,
                    kind="unknown_parameter",
                )
            )

    if sc.plan is not None:
        for path, r in sc.plan.levers.items():
            loc = ("plan", "levers", path)
            for key, expected, found, fix, kind in lever_range_problems(
                sc, path, r.low, r.high, r.step
            ):
                errs.append(ScenarioError(
                    file, ".".join(filter(None, ("plan.levers", path, key))), expected, found,
                    line_for(lines, (*loc, key) if key else loc), fix, kind,
                ))  # fmt: skip
    # every number: non-negative; estimates say how; assumptions are ranges
    for path, q in quantities_in(sc, ""):
        where = path.strip(".")
        loc = tuple(where.split("."))
        lo = q.low if q.is_range else q.value
        if lo is not None and lo < 0:
            errs.append(
                ScenarioError(
                    file,
                    where + (".low" if q.is_range else ".value"),
                    expected="a non-negative number",
                    found=f"{lo:g}",
                    line=line_for(lines, (*loc, "low" if q.is_range else "value")),
                    kind="out_of_range",
                )
            )
        if q.basis == "estimate" and not q.how:
            errs.append(
                ScenarioError(
                    file,
                    where + ".how",
                    expected="'how' the estimate was made (basis: estimate)",
                    found="nothing (the key is missing)",
                    line=line_for(lines, loc),
                    fix="Add 'how': the numbers and the arithmetic behind the estimate.",
                    kind="missing_key",
                )
            )
        if q.basis == "assumption" and not q.is_range:
            errs.append(
                ScenarioError(
                    file,
                    where,
                    expected="a range 'low'..'high' (basis: assumption)",
                    found=f"a point value {q.value:g}",
                    line=line_for(lines, (*loc, "value")),
                    fix="State an assumption as the range you believe, with 'low' and 'high'.",
                    kind="invalid",
                )
            )
    for path, q in quantities_in(sc.levers, "levers"):
        if path.rsplit(".", 1)[-1].endswith(SHARE_SUFFIXES):
            hi = q.high if q.is_range else q.value
            if hi is not None and hi > 1:
                key = "high" if q.is_range else "value"
                errs.append(
                    ScenarioError(
                        file,
                        f"{path}.{key}",
                        expected="a fraction between 0 and 1",
                        found=f"{hi:g}",
                        line=line_for(lines, (*path.split("."), key)),
                        fix="Write 25 % as 0.25.",
                        kind="out_of_range",
                    )
                )
    errs += _scale_errors(sc, file, lines)
    # counts as of a date, cumulative counts, default candidates (once the rest is sound)
    if not errs:
        for p in sc.resolved_baseline().problems:
            loc = tuple(p.path.split("."))
            line = line_for(lines, loc)
            errs.append(ScenarioError(file, p.path, p.expected, p.found, line, p.fix, p.kind))
    return errs


def _scale_errors(sc: Scenario, file: str, lines: Mapping[Loc, int]) -> list[ScenarioError]:
    """A scaled run (`simulation.scale` > 1) divides the place's firms and its batches only:
    the levers' sizes, budgets and pools are in firms and yuan of the whole place, and below
    the country a place's rivals for MIIT's batches are counted from its own simulated firms.
    So it is for the country, without levers."""
    if sc.scale == 1:
        return []
    loc = ("simulation", "scale")
    found = None
    if sc.place.level != "country":
        found = f"{sc.scale} for a place at level {sc.place.level!r}"
    elif sc.has_levers:
        found = f"{sc.scale} with levers set"
    if found is None:
        return []
    return [
        ScenarioError(
            file,
            "simulation.scale",
            expected="1, or more only for the country (place.level: country) without levers",
            found=found,
            line=line_for(lines, loc),
            fix="Remove the 'simulation' section (every firm simulated).",
            kind="invalid",
        )
    ]


def warnings_for(sc: Scenario, path: str | Path) -> list[str]:
    """What is valid but probably not meant: a file named other than its place id, a stock
    target the base year already meets (its probability is 1 by construction), a cited file
    that cannot be opened (`sim.scenario.citations`)."""
    from sim.scenario.citations import unresolved_citations

    out = []
    stem = Path(path).stem
    if stem != sc.place.id:
        out.append(f"{path}: the file name '{stem}' differs from place.id '{sc.place.id}'")
    for t in sc.targets:
        q = sc.baseline.counts.get(t.tier)
        if t.kind != "stock" or q is None:
            continue
        base_low = q.low if q.is_range else q.value
        if base_low is not None and base_low >= t.value:
            out.append(
                f"{path}: target '{t.id}' ({t.value:g} {t.tier} in {t.year}) is already met at "
                f"the base year ({base_low:g} at least): check the value or the tier"
            )
    for cited in unresolved_citations(sc, path):
        out.append(
            f"{path}: the cited file '{cited}' is not found (looked for from the scenario's "
            "folder, the current folder and the project's root): check the path"
        )
    return out
