"""Strict schemas of the shipped data files the model reads: the criteria (`ladder.yaml`) and
the parameter defaults (`parameters.yaml`).

A typo in these files must not change a rule silently (a `mni:` in a threshold would make the
criterion pass every firm), so every key is checked against the keys its kind allows, and every
problem is reported at once as a `ScenarioErrors` naming the file, the dotted path and the fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from sim.errors import ScenarioError, ScenarioErrors

TIER_KEYS = {"id", "name", "name_zh", "granted_by", "validity_years", "available_from", "source",
             "criteria", "not_modelled", "observed_as", "note"}  # fmt: skip
COMMON = {"id", "kind", "source", "description", "unit", "note"}
CRITERION_KEYS = {
    "threshold": COMMON | {"attribute", "min", "max", "max_exclusive"},
    "banded": COMMON | {"attribute", "band_by", "bands"},
    "score": COMMON | {"indicators", "min_total", "direct_pass"},
}
REQUIRED = {
    "threshold": ("attribute",),
    "banded": ("attribute", "band_by", "bands"),
    "score": ("indicators", "min_total"),
}
INDICATOR_KEYS = {"attribute", "points", "fallback", "below", "otherwise"}
BAND_KEYS = {"from", "to", "min"}
PARAMETER_KEYS = {"value", "range", "draw", "basis", "source"}
BASES = ("cited", "provisional", "assumption", "estimate", "calibrated")


def _unknown(file: str, path: str, key: Any, allowed: Iterable[str]) -> ScenarioError:
    near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
    return ScenarioError(
        file, f"{path}.{key}", expected=f"one of the keys {', '.join(sorted(allowed))}",
        found=f"'{key}'", kind="unknown_key",
        fix=f"Did you mean '{near[0]}'?" if near else None,
    )  # fmt: skip


def _keys(
    file: str, path: str, item: Any, allowed: set[str], required: Iterable[str] = ()
) -> list[ScenarioError]:
    if not isinstance(item, Mapping):
        return [ScenarioError(file, path, expected="a mapping", found=repr(item),
                              kind="wrong_type")]  # fmt: skip
    errs = [_unknown(file, path, k, allowed) for k in item if k not in allowed]
    errs += [
        ScenarioError(file, f"{path}.{k}", expected=f"'{k}'", found="nothing", kind="missing_key")
        for k in required
        if k not in item
    ]
    return errs


def check_ladder(doc: Any, file: str, attributes: set[str] | None = None) -> None:
    """Refuse a criteria document with a key its kind does not have, a missing key, an unknown
    criterion kind, a threshold with no bound, or (given `attributes`) an unknown attribute."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tiers"), list):
        raise ScenarioErrors([ScenarioError(file, "tiers", expected="a list of tiers",
                                            found=repr(doc)[:80], kind="wrong_type")])  # fmt: skip
    errs: list[ScenarioError] = []
    for t in doc["tiers"]:
        tid = t.get("id", "?") if isinstance(t, Mapping) else "?"
        where = f"tiers.{tid}"
        errs += _keys(file, where, t, TIER_KEYS, ("id",))
        if not isinstance(t, Mapping):
            continue
        for c in t.get("criteria") or []:
            cid = c.get("id", "?") if isinstance(c, Mapping) else "?"
            cw = f"{where}.criteria.{cid}"
            kind = c.get("kind") if isinstance(c, Mapping) else None
            if kind not in CRITERION_KEYS:
                errs.append(ScenarioError(
                    file, f"{cw}.kind", expected="threshold, banded or score", found=repr(kind),
                    kind="wrong_value",
                ))  # fmt: skip
                continue
            errs += _keys(file, cw, c, CRITERION_KEYS[kind], ("id", *REQUIRED[kind]))
            if kind == "threshold" and not {"min", "max", "max_exclusive"} & set(c):
                errs.append(ScenarioError(file, cw, expected="min, max or max_exclusive",
                                          found="no bound", kind="missing_key"))  # fmt: skip
            for i, b in enumerate(c.get("bands") or []):
                errs += _keys(file, f"{cw}.bands.{i}", b, BAND_KEYS, ("min",))
            for i, ind in enumerate(c.get("indicators") or []):
                errs += _keys(file, f"{cw}.indicators.{i}", ind, INDICATOR_KEYS,
                              ("attribute", "points"))  # fmt: skip
            if attributes is not None:
                named = [c.get("attribute"), c.get("band_by"), c.get("direct_pass")]
                named += [i.get("attribute") for i in c.get("indicators") or []
                          if isinstance(i, Mapping)]  # fmt: skip
                named += [(i.get("fallback") or {}).get("attribute")
                          for i in c.get("indicators") or [] if isinstance(i, Mapping)]  # fmt: skip
                for a in named:
                    if a is not None and a not in attributes:
                        near = difflib.get_close_matches(str(a), sorted(attributes), n=1)
                        errs.append(ScenarioError(
                            file, cw, expected="a firm attribute (engine/firms.py)", found=repr(a),
                            kind="unknown_key", fix=f"Did you mean '{near[0]}'?" if near else None,
                        ))  # fmt: skip
    if errs:
        raise ScenarioErrors(errs)


def check_parameters(doc: Any, file: str) -> None:
    """Refuse a parameter-defaults document whose entries lack or misspell a key, have a range
    that is not [low, high] around the value, or a basis outside the documented ones."""
    if not isinstance(doc, Mapping):
        raise ScenarioErrors([ScenarioError(file, "", expected="a mapping of parameters",
                                            found=repr(doc)[:80], kind="wrong_type")])  # fmt: skip
    errs: list[ScenarioError] = []
    for name, e in doc.items():
        errs += _keys(file, str(name), e, PARAMETER_KEYS, sorted(PARAMETER_KEYS))
        if not isinstance(e, Mapping) or not set(e) >= PARAMETER_KEYS:
            continue
        r, v = e["range"], e["value"]
        ok = (
            isinstance(r, list) and len(r) == 2
            and all(isinstance(x, (int, float)) and math.isfinite(x) for x in (*r, v))
            and r[0] <= v <= r[1]
        )  # fmt: skip
        if not ok:
            errs.append(ScenarioError(file, f"{name}.range", expected="[low, high] with low <= "
                                      "value <= high", found=f"value {v!r}, range {r!r}",
                                      kind="out_of_range"))  # fmt: skip
        if not isinstance(e["draw"], bool):
            errs.append(ScenarioError(file, f"{name}.draw", expected="true or false",
                                      found=repr(e["draw"]), kind="wrong_type"))  # fmt: skip
        if e["basis"] not in BASES:
            errs.append(ScenarioError(file, f"{name}.basis", expected=" | ".join(BASES),
                                      found=repr(e["basis"]), kind="wrong_value"))  # fmt: skip
    if errs:
        raise ScenarioErrors(errs)
