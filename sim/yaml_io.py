"""Reading YAML: one reader for every file the project reads.

Scenarios, sweep files, the regional context, the ladder's criteria, the parameter defaults,
the calibration fit and the backtest settings are all read here. It sits at the top of `sim`,
beside `errors`, because every room reads YAML: the engine reads the ladder's criteria with
it, and `sim.scenario` imports the engine, so a reader inside `sim.scenario` would be a cycle.

Built on ruamel.yaml, which reads YAML 1.2 (only `true` and `false` are booleans: the key `on`
of `levers.awards` and a value `no` stay text) and keeps the line of every node. On top of it:

- plain data only: dicts, lists, str, int, float, bool and None; a date stays its text (the
  schemas check dates); tags other than YAML's own types are refused;
- the line of every key and list item by key path (`Loc`), so that any later problem names
  its line (`line_for`);
- every duplicate key, with both lines (ruamel.yaml stops at the first);
- hostile input refused cleanly, as ScenarioErrors: files too large or not UTF-8, nesting too
  deep for the parser, alias bombs (measured without expanding them), recursive aliases and
  keys that are mappings or lists.

Writing (`yaml.safe_dump`, for fit.yaml and a sweep's patched scenario) stays on PyYAML. It
quotes text that YAML 1.1 reads as another type, so what it writes reads back the same here,
except text that is a number only in YAML 1.2 (`1e3`, `0o17`), which those files do not hold.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import ScenarioError, ScenarioErrors

# A key path in a document: mapping keys and list indices as text, ("targets", "0", "year").
Loc = tuple[str, ...]

MAX_NODES = 100_000  # values in a document with its aliases expanded (shipped files: < 2,000)
MAX_FILE_BYTES = 2_000_000  # the shipped files are under 40 kB
MAX_DEPTH = 100  # nesting of mappings and lists (shipped files: under 10)

_CORE = "tag:yaml.org,2002:"
# YAML's own types, read as plain data (a merge key `<<` copies a mapping it aliases)
PLAIN_TAGS = frozenset(
    _CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq", "merge")
)


class _PlainConstructor(SafeConstructor):
    """ruamel.yaml's safe constructor with a date kept as the text it was written as."""


_PlainConstructor.add_constructor(_CORE + "timestamp", SafeConstructor.construct_yaml_str)


def dotted(loc: Iterable[Any]) -> str:
    """A key path as messages show it (`targets.0.year`)."""
    return ".".join(str(p) for p in loc)


def line_for(lines: Mapping[Loc, int], loc: Iterable[Any]) -> int | None:
    """The line of a key path, or of its nearest ancestor present in the file."""
    loc = tuple(str(p) for p in loc)
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _refused(
    file: str, expected: str, found: str, line: int | None = None, fix: str | None = None
) -> ScenarioErrors:
    return ScenarioErrors([ScenarioError(file, "", expected, found, line, fix, "yaml_syntax")])


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


def _expanded_size(node: Node, memo: dict[int, int], stack: tuple[int, ...]) -> int:
    """How many values `node` holds once every alias is expanded, counted without expanding
    (each node once, memoised), so that an alias bomb is measured in linear time. A node that
    contains itself raises RecursionError (reported as a recursive alias)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:
        raise RecursionError("recursive alias")
    if isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, SequenceNode):
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


def _walk(
    node: Node, path: Loc, file: str, lines: dict[Loc, int], dups: list[ScenarioError]
) -> None:
    """Record the line of every key and item by path, and every duplicate key; refuse tags
    that are not plain data and keys that are not scalars."""
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    if node.tag not in PLAIN_TAGS:
        raise ScenarioErrors([ScenarioError(
            file, dotted(path), "plain YAML: text, numbers, true/false, null, mappings and lists",
            f"the tag {str(node.tag).replace(_CORE, '!!')}", line, "Remove the tag.", "yaml_syntax",
        )])  # fmt: skip
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            line = k.start_mark.line + 1
            if not isinstance(k, ScalarNode):
                raise ScenarioErrors([ScenarioError(
                    file, dotted(path), "keys that are text or numbers",
                    "a mapping or a list as a key", line, "Write the key as text.", "yaml_syntax",
                )])  # fmt: skip
            name = str(k.value)
            if name in first and k.tag != _CORE + "merge":
                dups.append(ScenarioError(
                    file, dotted((*path, name)), "each key once in a mapping",
                    f"'{name}' again (first on line {first[name]})", line,
                    "Remove or merge the duplicate.", "duplicate_key",
                ))  # fmt: skip
            first.setdefault(name, line)
            lines[(*path, name)] = line
            _walk(v, (*path, name), file, lines, dups)
    elif isinstance(node, SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*path, str(i)), file, lines, dups)


def read_document(text: str, file: str) -> tuple[Any, dict[Loc, int], list[ScenarioError]]:
    """A YAML document as plain data, the line of every key and item by path, and a
    ScenarioError for every duplicate key (the data keeps the first value).

    Raises ScenarioErrors when the text is not YAML or is hostile (see the module docstring).
    """
    if _nesting_depth(text) > MAX_DEPTH:
        raise _refused(
            file, f"a document nested at most {MAX_DEPTH} levels deep", "deeper nesting",
            fix="Scenario files need a few levels; is this the right file?",
        )  # fmt: skip
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _PlainConstructor
    yaml.allow_duplicate_keys = True  # reported below with both lines, all at once
    lines: dict[Loc, int] = {}
    dups: list[ScenarioError] = []
    try:
        with warnings.catch_warnings():  # YAML allows an anchor to be defined again
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            node = yaml.compose(text)
        if node is None:
            return None, lines, dups
        if _expanded_size(node, {}, ()) > MAX_NODES:
            raise _refused(
                file,
                f"a document of at most {MAX_NODES:,} values once its aliases (*name) are expanded",
                f"more than {MAX_NODES:,} (aliases that repeat aliases)",
                fix="Write the values out; scenario files need no nested aliases.",
            )
        _walk(node, (), file, lines, dups)
        data = yaml.constructor.construct_document(node)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise _refused(
            file, "valid YAML", str(getattr(e, "problem", None) or e),
            mark.line + 1 if mark else None,
            "Check the indentation and the ':' after each key near that line.",
        ) from None  # fmt: skip
    except RecursionError:
        raise _refused(
            file, "a finite document", "a recursive alias or nesting too deep to read"
        ) from None
    return data, lines, dups


def read_yaml(text: str, file: str = "<yaml>") -> Any:
    """A YAML document as plain data; ScenarioErrors for a duplicate key or hostile input.

    For the shipped data files and for tools that edit scenario documents; `sim.scenario.parse`
    is what validates a scenario.
    """
    data, _, dups = read_document(text, file)
    if dups:
        raise ScenarioErrors(dups)
    return data


def read_text_file(path: str | Path, what: str, fix: str | None = None) -> str:
    """The UTF-8 text of a file the user named; ScenarioErrors if it is missing, too large or
    not text. `what` names the kind of file in the message ("scenario file", "context file")."""
    p = Path(path)
    if not p.is_file():
        found = "no such file" if not p.exists() else "a directory"
        raise ScenarioErrors([ScenarioError(
            str(p), "", f"an existing {what} (YAML)", found, fix=fix, kind="no_file"
        )])  # fmt: skip
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ScenarioErrors([ScenarioError(
            str(p), "", f"a {what} of at most {MAX_FILE_BYTES // 1_000_000} MB",
            f"{size / 1e6:.1f} MB", fix=f"A {what} is a few pages of YAML; is this the right file?",
            kind="too_large",
        )])  # fmt: skip
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioErrors([ScenarioError(
            str(p), "", "UTF-8 text", f"undecodable bytes ({e.reason})", kind="encoding"
        )]) from None  # fmt: skip
