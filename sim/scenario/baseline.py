"""The baseline the model starts from, made from the counts a planner really has.

A scenario's `baseline` may state counts as published rather than as the model reads them.
`resolve` turns them into the model's quantities (the state at the end of `period.base_year`,
valid titles only) and says in `notes` what it did:

1. **As of a date** (`as_of: "YYYY-MM"`; `resolve_as_of`). A count dated after the base year's
   list of its title was announced and before the next year's list is the end-of-base-year
   count, and is used as it is. The announcement month is the title's `announced_month` in the
   context files (MIIT's for national titles, the province's for its own lists; without a known
   month, December): the rule of `context.as_of_year`. Any other date is refused with the
   dates that would be accepted. A count dated before the base year's list lacks that list:
   it is the previous year's end state, so the error says to date the count after the list or
   to move `period.base_year` back a year. (No share of a list is guessed.)
2. **Cumulative counts** (`measure: cumulative`; `valid_share`). Every title ever granted,
   lapsed ones included, becomes titles still held: valid = cumulative x (1 - lapsed share),
   with the lapsed share from the re-review pass rates of the context files and the yearly
   closure rates `exit.hazard.<tier>` (the range of both carried into the count's range).
3. **Default candidates** (`default_candidates`): a scenario that omits `candidates` or
   `candidate_inflow_per_year` gets the national scenario's (cited) pool and inflow scaled by
   the place's share of the national count of a tier it states, widened (an assumption;
   `sim/data/candidate_default.yaml`).

Counts without `as_of` and with `measure: valid` (the default) are used as written, so a
scenario that uses none of this draws exactly what it drew before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from sim.scenario.context import NATIONAL_TIERS, PROVINCIAL_TIERS, Context, as_of_year
from sim.scenario.parameters import defaults
from sim.yaml_io import read_yaml

if TYPE_CHECKING:
    from sim.scenario import Quantity, Scenario

_MONTHS = "January February March April May June July August September October November December"
MONTH_NAMES = _MONTHS.split()


@dataclass
class Problem:
    """A baseline that cannot be resolved: the field, what was expected and found, a fix."""

    path: str
    expected: str
    found: str
    fix: str | None = None
    kind: str = "invalid"


@dataclass
class Resolved:
    """The baseline quantities the model reads, and what was done to make them."""

    counts: dict[str, Quantity]
    candidates: Quantity | None
    candidate_inflow_per_year: Quantity | None
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _context(region: str) -> Context:
    from sim.engine.competition import load_context  # parsed once per process

    return load_context(region)


def _evaluator_context(sc: Scenario, tier: str) -> Context | None:
    """The context whose lists grant `tier` to the place (None for a local tier)."""
    if tier in NATIONAL_TIERS or (tier in PROVINCIAL_TIERS and sc.place.level == "country"):
        return _context("national")
    if tier in PROVINCIAL_TIERS and sc.province:
        return _context(sc.province)
    return None


def announced_month(sc: Scenario, tier: str) -> int | None:
    """The month the evaluator of `tier` usually announces a year's list, if known."""
    ctx = _evaluator_context(sc, tier)
    tb = ctx.batches.get(tier) if ctx else None
    return tb.announced_month if tb else None


def accepted_window(base_year: int, month: int | None) -> tuple[str, str]:
    """The first and last month (YYYY-MM) whose counts are the end of `base_year`."""
    m = month or 12
    first = f"{base_year}-{m:02d}"
    last = f"{base_year + 1}-{m - 1:02d}" if m > 1 else f"{base_year}-12"
    return first, last


def resolve_as_of(sc: Scenario, tier: str, as_of: str) -> tuple[str | None, Problem | None]:
    """Whether a count of `tier` dated `as_of` is the end of the base year: a note, or a problem.

    The model year of the date is `as_of_year(as_of, announced month)`; it must be the base
    year (see the module docstring).
    """
    base = sc.period.base_year
    month = announced_month(sc, tier)
    year = as_of_year(as_of, month)
    first, last = accepted_window(base, month)
    when = f"announced in {MONTH_NAMES[month - 1]}" if month else "month unknown: December taken"
    if year == base:
        return (
            f"baseline.counts.{tier}: as of {as_of}, after the {base} list ({when}) and before "
            f"the {base + 1} one: the end-{base} count, used as stated",
            None,
        )
    path = f"baseline.counts.{tier}.as_of"
    expected = (
        f"a date from {first} to {last} (after the {base} list of {tier}, {when}, and before "
        f"the {base + 1} list: the end of period.base_year {base})"
    )
    if year == base - 1:
        found = f"'{as_of}', before the {base} list: the count lacks that list"
        fix = (
            f"Date the count after the {base} list, or set period.base_year to {base - 1} "
            f"(a count of {as_of} is the end-{base - 1} state)."
        )
    else:
        found = f"'{as_of}', the end-{year} state"
        fix = f"Use a count dated {first} to {last}, or set period.base_year to {year}."
    return None, Problem(path, expected, found, fix, "as_of_outside_base_year")


# --- valid versus cumulative ----------------------------------------------------------------


def pass_rates(sc: Scenario, tier: str) -> tuple[float, float, str]:
    """Low and high re-review pass rates for `tier`, and where they come from.

    The observed re-reviews of the tier (`re_review` of the national and the province's context
    files: passed / of, and passed_alt / of). A tier without one takes every observed
    re-review of any tier (the little giants' batches 1 and 2: 57-68 %), said in the source.
    """
    contexts = [_context("national")]
    if sc.province:
        contexts.append(_context(sc.province))

    def rates(tiers: set[str] | None) -> list[tuple[float, str]]:
        out = []
        for ctx in contexts:
            for t, rows in ctx.re_review.items():
                if tiers is not None and t not in tiers:
                    continue
                for r in rows:
                    label = f"{ctx.region} {t} batch {r.batch_year}"
                    out.append((r.passed / r.of, f"{label} {r.passed:g}/{r.of:g}"))
                    if r.passed_alt is not None:
                        out.append((r.passed_alt / r.of, f"{label} {r.passed_alt:g}/{r.of:g}"))
        return out

    own = rates({tier})
    seen = own or rates(None)
    if not seen:
        return 0.5, 1.0, "no re-review observed: 50-100 % assumed"
    low, high = min(r for r, _ in seen), max(r for r, _ in seen)
    text = ", ".join(s for _, s in seen)
    if not own:
        text = f"none observed for {tier}; those of other titles stand for it ({text})"
    return low, high, f"re-review pass rates {low:.0%}-{high:.0%} ({text})"


def closure_rates(sc: Scenario, tier: str) -> tuple[float, float]:
    """Low and high yearly closure rate of `tier` holders: the scenario's
    `parameters.exit.hazard.<tier>` if it sets one, else the range of sim/data/parameters.yaml."""
    name = f"exit.hazard.{tier}"
    q = sc.parameters.get(name)
    if q is not None:
        return (q.low, q.high) if q.is_range else (q.value, q.value)
    spec = defaults()[name]
    return spec.low, spec.high


def batch_ages(sc: Scenario, tier: str) -> list[tuple[int, float]] | None:
    """(age in years at the end of the base year, list size) of each list of `tier` granted up
    to the base year by its evaluator, or None where the lists' sizes are not published."""
    ctx = _evaluator_context(sc, tier)
    tb = ctx.batches.get(tier) if ctx else None
    if tb is None:
        return None
    base = sc.period.base_year
    out = []
    for b in tb.observed:
        size = b.count if b.count is not None else (b.low + b.high) / 2
        if b.year <= base and size > 0:
            out.append((base - b.year, float(size)))
    return out or None


def valid_share(
    ages: list[tuple[int, float]] | None,
    validity_years: int,
    pass_low: float,
    pass_high: float,
    closure_low: float,
    closure_high: float,
) -> tuple[float, float]:
    """Low and high share of titles ever granted that are still held at the base year's end.

    A list granted `a` years before the end of the base year has had `a // validity_years`
    re-reviews and `a + 1` yearly closures (firms close in the year they are titled too, as in
    the model): it keeps pass^(a // validity) x (1 - closure)^(a + 1) of its titles. Lists are
    weighted by their size (the place's titles are assumed to follow its evaluator's lists).
    Without published lists (`ages` None) the ages are unknown: from every title re-reviewed
    once (the low end) to every title granted in the base year (the high end).
    """
    if not ages:
        return pass_low * (1 - closure_high) ** (validity_years + 1), 1 - closure_low

    def kept(p: float, h: float) -> float:
        total = sum(n for _, n in ages)
        return sum(n * p ** (a // validity_years) * (1 - h) ** (a + 1) for a, n in ages) / total

    return kept(pass_low, closure_high), kept(pass_high, closure_low)


def convert_cumulative(sc: Scenario, tier: str, q: Quantity) -> tuple[Quantity, str]:
    """A cumulative count of `tier` as the valid count the model reads, and a note.

    valid = cumulative x (1 - lapsed share): its low end is the count's low times the lowest
    valid share, its high end the count's high times the highest (`valid_share`), so the
    conversion's uncertainty widens the range and the result never exceeds the cumulative.
    """
    from sim.scenario import Quantity

    p_low, p_high, p_text = pass_rates(sc, tier)
    h_low, h_high = closure_rates(sc, tier)
    validity = sc.ladder().tier(tier).validity_years
    ages = batch_ages(sc, tier)
    v_low, v_high = valid_share(ages, validity, p_low, p_high, h_low, h_high)
    c_low, c_high = (q.low, q.high) if q.is_range else (q.value, q.value)
    low, high = c_low * v_low, c_high * v_high
    if ages:
        lists = ", ".join(
            f"{sc.period.base_year - a}: {n:g}" for a, n in sorted(ages, reverse=True)
        )
        profile = f"ages of the evaluator's lists ({lists})"
    else:
        profile = "list sizes not published: ages unknown"
    how = (
        f"cumulative {_num(c_low, c_high)} x valid share {v_low:.3f}-{v_high:.3f} = "
        f"{low:.1f}-{high:.1f}; valid share from {p_text}, closures {h_low:g}-{h_high:g} a "
        f"year (exit.hazard.{tier}), {validity}-year validity, {profile}"
    )
    out = Quantity(
        low=low,
        high=high,
        basis="estimate",
        source=f"{q.source} (measure: cumulative, converted to valid)",
        how=how + (f"; stated: {q.how}" if q.how else ""),
    )
    note = f"baseline.counts.{tier}: measure cumulative converted to valid titles: {how}"
    return out, note


def _num(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


# --- default candidates ---------------------------------------------------------------------


@cache
def _default_rule() -> dict:
    text = resources.files("sim").joinpath("data/candidate_default.yaml").read_text("utf-8")
    return read_yaml(text, "sim/data/candidate_default.yaml")


def national_count(tier: str, year: int) -> tuple[float, float, str] | None:
    """China's count of `tier` holders at the end of `year` from the national context's stocks
    (dated counts mapped to years by `as_of_year`): low, high and the rows, or None."""
    ctx = _context("national")
    tb = ctx.batches.get(tier)
    month = tb.announced_month if tb else None
    rows = [s for s in ctx.stocks.get(tier, []) if as_of_year(s.as_of, month) == year]
    if not rows:
        return None
    counts = [s.count for s in rows]
    text = "; ".join(
        f"{s.count:g} as of {s.as_of} ({s.measure}{', a lower bound' if s.form == 'lower' else ''})"
        for s in rows
    )
    return min(counts), max(counts), text


def default_candidates(sc: Scenario) -> tuple[Quantity, Quantity] | Problem:
    """The candidate pool and yearly inflow of a scenario that states none, and a note.

    Rule: the national scenario's pool and inflow (cited: the 2018 census) times the place's
    share of China's holders of a tier at the base year. The tier is the lowest standard one the
    scenario counts whose national count at the base year is published (national context
    stocks). Share range: the place's low over the national high to the place's high over the
    national low, widened by `ratio_widening` (an assumption; sim/data/candidate_default.yaml).
    A Problem where no stated tier has a national count at the base year.
    """
    from sim.scenario import Quantity

    rule = _default_rule()
    base = sc.period.base_year
    stated = [t for t in sc.tier_ids if t in sc.baseline.counts]
    for tier in stated:
        nat = national_count(tier, base)
        if nat is None:
            continue
        q = sc.baseline.counts[tier]
        p_low, p_high = (q.low, q.high) if q.is_range else (q.value, q.value)
        n_low, n_high, n_text = nat
        w = rule["ratio_widening"]
        over_time = rule["pool_over_time"]["source"]
        r_low, r_high = p_low / n_high * w["low"], p_high / n_low * w["high"]
        out = []
        for name in ("candidates", "candidate_inflow_per_year"):
            nq = rule["national"][name]
            lo, hi = float(nq["low"]), float(nq["high"])
            share = f"{_num(p_low, p_high)} (baseline.counts.{tier}) / {_num(n_low, n_high)}"
            how = (
                f"default (not stated): national {name} {lo:g}-{hi:g} (scenarios/national.yaml, "
                f"end of 2018) x the place's share of China's {tier} holders at the end of "
                f"{base}, {share} ({n_text}), widened by {w['low']:g}-{w['high']:g} (assumption)"
                f" = {r_low:.4f}-{r_high:.4f}: {lo * r_low:.0f}-{hi * r_high:.0f}"
            )
            source = f"{nq['source']} [national basis]; {w['source']} {over_time}"
            low, high = round(lo * r_low), round(hi * r_high)
            high = max(high, low)
            out.append(Quantity(low=low, high=high, basis="estimate", source=source, how=how))
        return out[0], out[1]
    tiers = ", ".join(stated) or "none"
    return Problem(
        "baseline.candidates",
        f"present, or a count of a tier whose national count at the end of {base} is published "
        "(sim/data/context/national.yaml stocks), from which a default is made",
        f"nothing (the key is missing; counts stated: {tiers})",
        "Add baseline.candidates and candidate_inflow_per_year with their sources.",
        "missing_key",
    )


# --- everything together ----------------------------------------------------------------------


def resolve(sc: Scenario) -> Resolved:
    """The model's baseline quantities from the scenario's, with notes and problems."""
    out = Resolved(
        dict(sc.baseline.counts), sc.baseline.candidates, sc.baseline.candidate_inflow_per_year
    )
    known = set(sc.tier_ids)
    for tier, q in sc.baseline.counts.items():
        if tier not in known:
            continue  # reported as an unknown tier
        if q.as_of is not None:
            note, problem = resolve_as_of(sc, tier, q.as_of)
            if problem:
                out.problems.append(problem)
                continue
            out.notes.append(note)
        if q.measure == "cumulative":
            out.counts[tier], note = convert_cumulative(sc, tier, q)
            out.notes.append(note)
    if out.candidates is None or out.candidate_inflow_per_year is None:
        made = default_candidates(sc)
        if isinstance(made, Problem):
            if out.candidates is not None:
                made.path = "baseline.candidate_inflow_per_year"
            out.problems.append(made)
        else:
            cand, inflow = made
            if out.candidates is None:
                out.candidates = cand
                out.notes.append(f"baseline.candidates: {cand.how}")
            if out.candidate_inflow_per_year is None:
                out.candidate_inflow_per_year = inflow
                out.notes.append(f"baseline.candidate_inflow_per_year: {inflow.how}")
    return out


__all__ = [
    "Problem",
    "Resolved",
    "accepted_window",
    "announced_month",
    "convert_cumulative",
    "default_candidates",
    "national_count",
    "resolve",
    "resolve_as_of",
    "valid_share",
]
