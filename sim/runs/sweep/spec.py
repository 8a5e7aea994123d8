"""A sweep as written, checked into a `SweepPlan` (`plan`): the scenario, a sweep file, the
caller's options and the scenario patch.

Sweep files
    A sweep can be written as YAML and run with ``srdi sweep FILE`` (see
    ``scenarios/sweeps/hebi-awards-loans.yaml``): ``scenario`` (path relative to the file),
    ``description``, ``scenario_patch`` (merged into the scenario document before validation, to
    add a lever the plan lacks; every ``source`` in it must say it is hypothetical), ``vary``
    (PATH: SPEC), ``design``, ``samples``, ``futures``, ``runs``, ``seed`` and ``seeds``
    (``levers``, ``uncertainties``). Command-line options override the file.

    The file is read by `_read_sweep_file` alone (through `sim.yaml_io.read_document`, with the
    line of every key for the error messages), so its reading can be swapped in one place.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioErrors
from sim.runs.sweep.design import DEFAULT_RUNS, DESIGNS, SweepPlan, _dump
from sim.runs.sweep.factor import SweepError, _err, make_factor, parse_vary
from sim.scenario import Scenario, is_sweep_file, load, parse
from sim.yaml_io import read_document, read_text_file

_SWEEP_KEYS = (
    "scenario",
    "description",
    "scenario_patch",
    "vary",
    "design",
    "samples",
    "futures",
    "runs",
    "seed",
    "seeds",
)


def _check_int(value: Any, name: str, file: str, line: int | None, minimum: int = 1) -> int:
    """`value` if it is a whole number of at least `minimum`, else a `SweepError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(file, name, "a whole number", repr(value), "wrong_type", line=line)
    if value < minimum:
        raise _err(
            file,
            name,
            f"at least {minimum}",
            str(value),
            "bad_count",
            f"Set {name} to {minimum} or more.",
            line,
        )
    return value


def plan(
    scenario: Scenario | str | Path,
    vary: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    design: str | None = None,
    samples: int | None = None,
    futures: int | None = None,
    runs: int | None = None,
    seed: int | None = None,
    lever_seed: int | None = None,
    uncertainty_seed: int | None = None,
    patch: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """Check a sweep and return its plan (nothing runs).

    Args:
        scenario: a `Scenario`, a scenario file, or a sweep file (YAML with ``vary``).
        vary: ``{PATH: SPEC}`` or ``["PATH=SPEC", ...]``; adds to (or replaces paths of) a sweep
            file's ``vary``.
        design: grid (default), lhs or sobol.
        samples: policies in an lhs or sobol design (default 16).
        futures: futures when the uncertainties are sampled (default 8).
        runs: replications per experiment (default 100).
        seed: root seed of the replications and (unless given) of both designs.
        lever_seed, uncertainty_seed: seeds of the policy and future designs.
        patch: merged into the scenario document before validation (a lever the plan lacks);
            every ``source`` in it must say the number is hypothetical.

    Raises:
        SweepError: any problem with the sweep (path, spec, counts, patch labels).
        ScenarioErrors: the scenario, or the scenario with the patch, does not validate.
    """
    file_cfg: dict[str, Any] = {}
    lines: dict[tuple, int] = {}
    file = "--vary"
    if isinstance(scenario, str | Path) and is_sweep_file(Path(scenario)):
        file_cfg, lines = _read_sweep_file(Path(scenario))
        file = str(scenario)
    # the scenario, patched
    if file_cfg:
        scenario_file = str(Path(file).parent / file_cfg["scenario"])
        base = _load_scenario(scenario_file, file, lines.get(("scenario",)))
    elif isinstance(scenario, Scenario):
        base, scenario_file = scenario, None
    else:
        base, scenario_file = load(scenario), str(scenario)
    the_patch = copy.deepcopy(file_cfg.get("scenario_patch"))
    if patch is not None:
        the_patch = _merge(the_patch or {}, copy.deepcopy(dict(patch)))
    base_doc = _dump(base)
    sc = _apply_patch(base, the_patch, file if file_cfg else "patch", lines) if the_patch else base
    if not sc.targets:
        raise _err(
            file if file_cfg else (scenario_file or "scenario"),
            "targets",
            "a scenario with at least one target (a sweep reports the chance of reaching them)",
            "no targets",
            "bad_count",
            "Forecast a scenario without targets with `srdi forecast` (a status-quo forecast).",
        )

    # the varied paths: the file's, then the caller's (same path: the caller's wins)
    raw: dict[str, tuple[Any, str, int | None]] = {}
    for path, spec in (file_cfg.get("vary") or {}).items():
        raw[str(path)] = (spec, file, lines.get(("vary", path)))
    if isinstance(vary, Mapping):
        items = list(vary.items())
    else:
        items = [parse_vary(v) for v in (vary or [])]
        seen = set()
        for path, _ in items:
            if path in seen:
                raise _err(
                    "--vary",
                    path,
                    "each path varied once",
                    f"'{path}' twice",
                    "duplicate_path",
                    "Give all the path's values in one SPEC (a,b,c or lo:hi:n).",
                )
            seen.add(path)
    for path, spec in items:
        raw[str(path)] = (spec, "--vary", None)
    if not raw:
        raise _err(
            file,
            "vary",
            "at least one varied path (PATH=SPEC)",
            "none",
            "bad_count",
            "Add --vary levers.loans.coverage=0.2:0.8:4, for example.",
        )
    factors = [make_factor(p, s, sc, f, ln) for p, (s, f, ln) in raw.items()]

    design = design or file_cfg.get("design", "grid")
    if design not in DESIGNS:
        near = difflib.get_close_matches(str(design), DESIGNS, n=1)
        raise _err(
            file if "design" in file_cfg else "--design",
            "design",
            "one of " + ", ".join(DESIGNS),
            repr(design),
            "bad_spec",
            f"Did you mean '{near[0]}'?" if near else None,
            lines.get(("design",)),
        )
    values = {}
    for name, given, default in (
        ("samples", samples, None),
        ("futures", futures, None),
        ("runs", runs, DEFAULT_RUNS),
        ("seed", seed, 0),
    ):
        v = given if given is not None else file_cfg.get(name, default)
        src = file if given is None and name in file_cfg else f"--{name}"
        if v is not None:
            v = _check_int(v, name, src, lines.get((name,)), minimum=0 if name == "seed" else 1)
        values[name] = v
    seeds = file_cfg.get("seeds") or {}
    lever_seed = lever_seed if lever_seed is not None else seeds.get("levers")
    uncertainty_seed = (
        uncertainty_seed if uncertainty_seed is not None else seeds.get("uncertainties")
    )
    for name, v in (("seeds.levers", lever_seed), ("seeds.uncertainties", uncertainty_seed)):
        if v is not None:
            _check_int(v, name, file, lines.get(tuple(name.split("."))), minimum=0)
    future_kind = (
        "lhs" if design == "grid" and any(f.form == "distribution" for f in factors) else design
    )
    for f in factors:
        kind = design if f.role == "lever" else future_kind
        if kind == "grid" and f.form == "range" and f.n is None:
            raise _err(
                file if raw[f.path][1] == file else "--vary",
                f.path,
                "a range lo:hi:n with a number of points n (a grid design)",
                f"'{f.spec}'",
                "bad_count",
                f"Write {f.path}={f.spec}:5, or use --design lhs.",
                raw[f.path][2],
            )
    return SweepPlan(
        scenario=sc,
        factors=factors,
        design=design,
        samples=values["samples"],
        futures=values["futures"],
        runs=values["runs"],
        seed=values["seed"],
        lever_seed=lever_seed,
        uncertainty_seed=uncertainty_seed,
        patch=the_patch,
        source=file if file_cfg else None,
        description=file_cfg.get("description"),
        scenario_file=scenario_file,
        base_document=base_doc,
    )


def _load_scenario(path: str, sweep_file: str, line: int | None) -> Scenario:
    """The sweep file's scenario; a missing file is the sweep file's error, at its line."""
    if not Path(path).is_file():
        raise _err(
            sweep_file,
            "scenario",
            "the path of a scenario file, relative to the sweep file",
            f"'{path}', which does not exist",
            "no_file",
            "List shipped scenarios with `srdi list`.",
            line,
        )
    return load(path)


def _merge(base: dict, patch: Mapping[str, Any]) -> dict:
    """Merge `patch` into `base` in place: mappings recursively, anything else replaced."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _flat_keys(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key path of a nested mapping, parents before children."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield (*prefix, str(k))
            yield from _flat_keys(v, (*prefix, str(k)))


def _apply_patch(
    base: Scenario, patch: Mapping[str, Any], file: str, lines: Mapping[tuple, int]
) -> Scenario:
    """The scenario with `patch` merged in, validated as a new document (base untouched)."""
    if not isinstance(patch, Mapping):
        raise _err(file, "scenario_patch", "a mapping", repr(patch), "wrong_type")
    for key in _flat_keys(patch):
        if key[-1] == "source":
            node: Any = patch
            for k in key:
                node = node[k]
            if not isinstance(node, str) or "hypothetical" not in node.lower():
                raise _err(
                    file,
                    "scenario_patch." + ".".join(key),
                    "a source saying the number is hypothetical (added for this sweep, not in "
                    "the plan)",
                    repr(node),
                    "not_hypothetical",
                    "Begin it with 'hypothetical:' and say why; a cited number belongs in the "
                    "scenario file itself.",
                    lines.get(("scenario_patch", *key)),
                )
    doc = _merge(base.model_dump(mode="python", by_alias=True, exclude_none=True), patch)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    try:
        return parse(text, file=f"{file} (scenario + scenario_patch)")
    except ScenarioErrors as e:
        patched = set(_flat_keys(patch))
        out = []
        for x in e.errors:
            key = tuple(x.path.split(".")) if x.path else ()
            prefix = next((key[:i] for i in range(len(key), 0, -1) if key[:i] in patched), None)
            if prefix is not None:
                line = lines.get(("scenario_patch", *key)) or lines.get(("scenario_patch", *prefix))
                out.append(
                    SweepError(
                        file,
                        "scenario_patch." + x.path,
                        x.expected,
                        x.found,
                        line=line,
                        fix=x.fix,
                        kind=x.kind,
                    )
                )
            else:  # lines of the generated text mean nothing to the reader
                x.line = None
                out.append(x)
        raise ScenarioErrors(out) from None


def _read_sweep_file(p: Path) -> tuple[dict[str, Any], dict[tuple, int]]:
    """The sweep file's data and the line of each key, read as scenario files are
    (`yaml_io.read_document`: YAML errors, duplicate keys and alias bombs refused alike)."""
    file = str(p)
    data, lines, dups = read_document(read_text_file(p, "sweep file"), file)
    if dups:
        raise ScenarioErrors(dups)
    if not isinstance(data, dict):
        raise _err(file, "", "a mapping with scenario and vary", repr(data), "wrong_type", line=1)
    for key in data:
        if key not in _SWEEP_KEYS:
            near = difflib.get_close_matches(str(key), _SWEEP_KEYS, n=1)
            raise _err(
                file,
                str(key),
                "a key of a sweep file (" + ", ".join(_SWEEP_KEYS) + ")",
                f"'{key}'",
                "unknown_key",
                f"Did you mean '{near[0]}'?" if near else None,
                lines.get((key,)),
            )
    if not isinstance(data.get("scenario"), str):
        raise _err(
            file,
            "scenario",
            "the path of the scenario file, relative to the sweep file",
            repr(data.get("scenario")) if "scenario" in data else "nothing",
            "wrong_type" if "scenario" in data else "missing_key",
            line=lines.get(("scenario",)),
        )
    for key, kind in (("vary", dict), ("scenario_patch", dict), ("seeds", dict)):
        if key in data and not isinstance(data[key], kind):
            raise _err(
                file, key, "a mapping", repr(data[key]), "wrong_type", line=lines.get((key,))
            )
    for key in data.get("seeds") or {}:
        if key not in ("levers", "uncertainties"):
            raise _err(
                file,
                f"seeds.{key}",
                "a key of seeds (levers, uncertainties)",
                f"'{key}'",
                "unknown_key",
                line=lines.get(("seeds", key)),
            )
    return data, lines
