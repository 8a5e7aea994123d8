"""Pydantic's validation errors in the scenario's words: path, line, expected, found, fix.

`translate` turns each error of a schema into a ScenarioError that names the dotted path and
its line, what the field must be (the allowed keys of a section, the bounds of a number, the
values of a choice) and what was found, with a fix where one is known (`number_hint` for
numbers written as people write them in a plan: 50万, 10-15, 30%).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError
from sim.yaml_io import Loc, dotted, line_for


def _field_names(cls: type[BaseModel]) -> list[str]:
    """The keys a schema class accepts in a file (aliases where a field has one)."""
    return sorted(f.alias or name for name, f in cls.model_fields.items())


def _field(cls: type[BaseModel], key: str) -> Any:
    for name, f in cls.model_fields.items():
        if (f.alias or name) == key:
            return f
    return None


def _schema_at(cls: Any, loc: tuple) -> Any:
    """The schema type at a location (to list allowed keys), or None."""
    t = cls
    for part in loc:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            f = _field(t, part)
            if f is None:
                return None
            t = f.annotation
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        elif typing.get_origin(t) is list:
            t = typing.get_args(t)[0]
        else:
            return None
    return _unwrap(t)


def _unwrap(t: Any) -> Any:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else t
    if origin is Annotated:
        return _unwrap(typing.get_args(t)[0])
    return t


_TYPE_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "string": "a text string",
    "bool": "true or false",
    "dict": "a mapping of keys to values",
    "list": "a list",
    "model": "a mapping of keys to values",
    "literal": "one of",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "less_than_equal": "<=",
    "greater_than": ">",
    "less_than": "<",
}


def _expected_for(err: Mapping[str, Any]) -> str:
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "literal_error":
        return f"one of {ctx.get('expected')}"
    if t in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return f"a number {_BOUNDS[t]} {bound}"
    if t == "finite_number":
        return "a finite number"
    if t == "string_too_short":
        return "a non-empty text"
    if t == "string_too_long":
        return f"a text of at most {ctx.get('max_length')} characters"
    if t == "string_pattern_mismatch":
        return "an id of lower-case letters, digits and '_', starting with a letter"
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    for word, text in _TYPE_WORDS.items():
        if t.startswith(word):
            return text
    return err["msg"]


def found_text(value: Any) -> str:
    """A value as a message shows it: a mapping by its keys, a list by its length."""
    if isinstance(value, dict):
        if not value:
            return "an empty mapping"
        return "a mapping with keys " + ", ".join(map(str, value))
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def translate(
    exc: ValidationError, file: str, lines: Mapping[Loc, int], root: type[BaseModel]
) -> list[ScenarioError]:
    """Pydantic's errors as ScenarioErrors; `root` is the document's schema (`Scenario`)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        t = err["type"]
        if t == "extra_forbidden":
            parent = _schema_at(root, loc[:-1])
            allowed = (
                _field_names(parent)
                if isinstance(parent, type) and issubclass(parent, BaseModel)
                else []
            )
            near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            is_lever = loc[:-1] == ("levers",)
            what = "lever" if is_lever else "key"
            out.append(
                ScenarioError(
                    file,
                    dotted(loc),
                    expected=f"a known {what} (allowed: " + ", ".join(allowed) + ")",
                    found=f"unknown {what} '{loc[-1]}'",
                    line=line_for(lines, loc),
                    fix=f"Did you mean '{near[0]}'?" if near else None,
                    kind="unknown_lever" if is_lever else "unknown_key",
                )
            )
        elif t == "missing":
            out.append(
                ScenarioError(
                    file,
                    dotted(loc),
                    expected="present",
                    found="nothing (the key is missing)",
                    line=line_for(lines, loc[:-1]),
                    fix=f"Add '{loc[-1]}'.",
                    kind="missing_key",
                )
            )
        else:
            if t in _BOUNDS or t == "finite_number":
                kind = "out_of_range"
            elif t == "value_error":
                kind = "invalid"
            else:
                kind = "wrong_type"
            out.append(
                ScenarioError(
                    file,
                    dotted(loc),
                    expected=_expected_for(err),
                    found=found_text(err.get("input")),
                    line=line_for(lines, loc),
                    kind=kind,
                    fix=number_hint(err.get("input")) if t.startswith(("float", "int")) else None,
                )
            )
    return out


_CHINESE_UNITS = {"万": 1e4, "亿": 1e8, "千": 1e3}


def number_hint(value: Any) -> str | None:
    """A fix for a number written as people write it in a plan: 50万, "10-15", 30%."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "").replace("，", "")
    m = re.fullmatch(r"([0-9.]+)\s*(万|亿|千)(元|家|户)?", text)
    if m:
        n = float(m.group(1)) * _CHINESE_UNITS[m.group(2)]
        return f"Write the number out: {value} is {n:,.0f} (e.g. {n:.0f})."
    m = re.fullmatch(r"([0-9.]+)\s*[-–~至到]\s*([0-9.]+)", text)
    if m:
        return f"Write a range as two keys: low: {m.group(1)} and high: {m.group(2)}."
    m = re.fullmatch(r"([0-9.]+)\s*[%％]", text)
    if m:
        return f"Write a share as a fraction: {value} is {float(m.group(1)) / 100:g}."
    return None
