"""What a replication draws before any firm exists: the values of every quantity and the
places of every rationed title (the competition), from the replication's own child streams."""

from __future__ import annotations

import numpy as np

from sim.engine import competition
from sim.scenario import Scenario, check_values
from sim.scenario.parameters import draw

# Child streams of the model's seed sequence.
STREAMS = ("parameters", "baseline", "births", "dynamics", "bring_in", "competition")


def child_streams(root: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """The model's child streams (`STREAMS`) of a replication's seed sequence."""
    # children derived without spawning: `spawn` would mutate the caller's SeedSequence, and a
    # second model on the same seed (the counterfactual) would get different streams
    return {
        name: np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i))
        for i, name in enumerate(STREAMS)
    }


def at_scale(p: dict[str, float], scale: float) -> dict[str, float]:
    """A replication's values at 1/`scale` of the place's size (super-individuals): the
    base-year counts, the candidates and their yearly inflow divided by `scale` and rounded to
    whole firms, and the rationed titles' batches scaled with them
    (`competition.quota_scale`). Counts and costs the run records are then `scale` times the
    simulated ones. The same values at every scale but these, so a seed's scaled run follows
    its full one."""
    out = dict(p)
    for path in (k for k in p if k.startswith("baseline.")):
        out[path] = max(0.0, float(np.round(p[path] / scale)))
    out["competition.quota_scale"] = p["competition.quota_scale"] / scale
    return out


def draw_values(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None,
    values: dict[str, float] | None = None,
    scale: int = 1,
) -> dict[str, float]:
    """Every quantity's value in a replication: drawn from its `parameters` stream, `values`
    replacing their draws (the draws of the others do not change); at 1/`scale` of the
    place's size (`at_scale`) when `scale` > 1, `values` given at the place's size."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    p = draw(scenario.specs(), np.random.default_rng(child_streams(root)["parameters"]))
    if values:
        check_values(scenario, values)  # a misspelt path or a share of 5 is an error
        p.update(values)
    # an undated rate set explicitly (here or in the scenario's parameters) applies to every
    # year: dated defaults (`<name>.<year>`) that are not set explicitly too are dropped
    explicit = set(values or ()) | set(scenario.parameters)
    for name in [k for k in p if k.rsplit(".", 1)[-1].isdigit()]:
        if name not in explicit and name.rsplit(".", 1)[0] in explicit:
            del p[name]
    return at_scale(p, scale) if scale != 1 else p


def draw_inputs(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None,
    values: dict[str, float] | None = None,
    origin: int | None = None,
    scale: int = 1,
) -> tuple[dict[str, float], competition.Competition]:
    """What a replication draws before any firm exists: every quantity's value (`values`
    replacing their draws) and the competition (places per rationed title and year), at
    1/`scale` of the place's size (`at_scale`).

    `GrowthModel` starts from exactly these, so a sweep can record a replication's uncertain
    inputs (`sim.runs.sweep`, ``--replications``) without running it again.
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    streams = child_streams(root)
    p = draw_values(scenario, root, values, scale)
    period = scenario.period
    comp = competition.build(
        scenario.place.level,
        scenario.province,
        scenario.tier_ids,
        list(range(period.base_year + 1, period.end + 1)),
        origin if origin is not None else competition.ALL_PUBLISHED,
        np.random.default_rng(streams["competition"]),
        p,
        scale=p["competition.quota_scale"],
        batch_quantiles={
            t: p[competition.BATCH_QUANTILE + t]
            for t in scenario.tier_ids
            if competition.BATCH_QUANTILE + t in p
        },
    )
    return p, comp
