"""Reading a scenario's YAML: text to plain data, the line of every key, and what is refused.

Scenario, context and sweep files are read here before any schema sees them. Duplicate keys
are reported (both lines), and hostile input (alias bombs, deep nesting, huge or undecodable
files) is refused with a ScenarioError rather than a crash or a hang. The lines are kept by
key path (`Loc`) so that every later problem can name its line (`line_for`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError, ScenarioErrors

# A key path in a document: mapping keys and list indices as text, ("targets", "0", "year").
Loc = tuple[str, ...]


class YamlLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 also reads on/off/yes/no as booleans, which would turn the key `on` of
    `levers.awards` into True and a value `no` into False without a word.
    """


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def read_yaml(text: str) -> Any:
    """A YAML document as plain data, read as scenario files are (only true/false are booleans).

    For tools that edit scenario documents; `parse` is what validates them.
    """
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader


def _key(value: Any) -> str:
    """A mapping key or list index as it appears in a dotted path."""
    return str(value)


def _walk(node: yaml.Node, path: Loc, lines: dict[Loc, int], dups: list, seen: set[int]) -> None:
    """Record the line of every key and item, and every duplicate key, by path."""
    if id(node) in seen:  # an alias to a node already walked (or a recursive alias)
        return
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            name = _key(k.value) if isinstance(k, yaml.ScalarNode) else "<complex key>"
            line = k.start_mark.line + 1
            if (
                name in first
                and isinstance(k, yaml.ScalarNode)
                and k.tag != "tag:yaml.org,2002:merge"
            ):
                dups.append(((*path, name), first[name], line))
            first.setdefault(name, line)
            lines[(*path, name)] = line
            _walk(v, (*path, name), lines, dups, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*path, _key(i)), lines, dups, seen)
    seen.discard(id(node))


def dotted(loc: Iterable[Any]) -> str:
    """A key path as the dotted text messages show (`targets.0.year`)."""
    return ".".join(_key(p) for p in loc)


def line_for(lines: Mapping[Loc, int], loc: Iterable[Any]) -> int | None:
    """The line of a path, or of its nearest ancestor present in the file."""
    loc = tuple(_key(p) for p in loc)
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


MAX_NODES = 100_000  # values in a document with its aliases expanded (shipped files: < 2,000)
MAX_FILE_BYTES = 2_000_000  # the shipped files are under 40 kB
MAX_DEPTH = 100  # nesting of mappings and lists (shipped files: under 10)


def _nesting_depth(text: str) -> int:
    """An upper bound on a YAML text's nesting, read without parsing (so that a deeply nested
    document is refused before the parser recurses into it): open brackets outside quotes and
    comments, plus the deepest indentation in steps of two spaces."""
    depth = deepest = 0
    indent = 0
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if stripped and not stripped.startswith("#"):
            indent = max(indent, (len(line) - len(stripped)) // 2)
        quote = None
        for ch in stripped:
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in "]}":
                depth = max(0, depth - 1)
    return deepest + indent


def _expanded_size(node: yaml.Node, memo: dict[int, int], stack: tuple[int, ...]) -> int:
    """How many values `node` holds once every alias is expanded, counted without expanding
    (each node once, memoised), so that an alias bomb is measured in linear time. A node that
    contains itself raises RecursionError (reported as a recursive alias)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:
        raise RecursionError("recursive alias")
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, memo, (*stack, key))
        if total > MAX_NODES:
            break
    memo[key] = total
    return total


def read_document(text: str, file: str) -> tuple[Any, dict[Loc, int], list[ScenarioError]]:
    """A YAML document as data, the line of every key and item by path, and duplicate keys.

    Raises ScenarioErrors when the text is not YAML (or has a recursive alias).
    """
    if _nesting_depth(text) > MAX_DEPTH:
        raise ScenarioErrors([ScenarioError(
            file, "", expected=f"a document nested at most {MAX_DEPTH} levels deep",
            found="deeper nesting", kind="yaml_syntax",
            fix="Scenario files need a few levels; is this the right file?",
        )])  # fmt: skip
    try:
        loader = YamlLoader(text)
        try:
            node = loader.get_single_node()
            lines: dict[Loc, int] = {}
            dups: list = []
            if node is not None:
                size = _expanded_size(node, {}, ())
                if size > MAX_NODES:
                    raise ScenarioErrors(
                        [
                            ScenarioError(
                                file,
                                "",
                                expected=f"a document of at most {MAX_NODES:,} values once its "
                                "aliases (*name) are expanded",
                                found=f"more than {MAX_NODES:,} (aliases that repeat aliases)",
                                fix="Write the values out; scenario files need no nested aliases.",
                                kind="yaml_syntax",
                            )
                        ]
                    )
                _walk(node, (), lines, dups, set())
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="valid YAML",
                    found=str(getattr(e, "problem", None) or e),
                    line=mark.line + 1 if mark else None,
                    fix="Check the indentation and the ':' after each key near that line.",
                    kind="yaml_syntax",
                )
            ]
        ) from None
    except RecursionError:
        raise ScenarioErrors(
            [
                ScenarioError(
                    file,
                    "",
                    expected="a finite document",
                    found="a recursive alias or nesting too deep to read",
                    kind="yaml_syntax",
                )
            ]
        ) from None
    errs = [
        ScenarioError(
            file,
            dotted(path),
            expected="each key once in a mapping",
            found=f"'{path[-1]}' again (first on line {first})",
            line=again,
            fix="Remove or merge the duplicate.",
            kind="duplicate_key",
        )
        for path, first, again in dups
    ]
    return data, lines, errs


def read_text_file(path: str | Path, what: str, fix: str | None = None) -> str:
    """The UTF-8 text of a file the user named; ScenarioErrors if it is missing or not text.

    `what` names the kind of file in the message ("scenario file", "context file").
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioErrors(
            [
                ScenarioError(
                    str(p),
                    "",
                    expected=f"an existing {what} (YAML)",
                    found="no such file" if not p.exists() else "a directory",
                    kind="no_file",
                    fix=fix,
                )
            ]
        )
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ScenarioErrors([ScenarioError(
            str(p), "", expected=f"a {what} of at most {MAX_FILE_BYTES // 1_000_000} MB",
            found=f"{size / 1e6:.1f} MB", kind="too_large",
            fix="A scenario is a few pages of YAML; is this the right file?",
        )])  # fmt: skip
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioErrors(
            [
                ScenarioError(
                    str(p),
                    "",
                    expected="UTF-8 text",
                    found=f"undecodable bytes ({e.reason})",
                    kind="encoding",
                )
            ]
        ) from None
