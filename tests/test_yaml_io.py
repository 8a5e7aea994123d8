"""The one YAML reader (sim/yaml_io.py): YAML 1.2 plain data, the line of every key, every
duplicate key with both lines, and hostile input refused at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.errors import ScenarioErrors
from sim.yaml_io import line_for, read_document, read_yaml

ROOT = Path(__file__).resolve().parents[1]


def refused(text: str) -> list:
    with pytest.raises(ScenarioErrors) as info:
        read_document(text, "odd.yaml")
    return info.value.errors


def test_a_duplicate_key_is_reported_with_both_lines():
    text = "period:\n  start: 2024\n  end: 2025\n  end: 2026\ntargets:\n  - {id: a, id: b}\n"
    data, _, dups = read_document(text, "plan.yaml")
    assert [(e.file, e.path, e.line, e.kind) for e in dups] == [
        ("plan.yaml", "period.end", 4, "duplicate_key"),
        ("plan.yaml", "targets.0.id", 6, "duplicate_key"),
    ]
    assert "first on line 3" in dups[0].found and "first on line 6" in dups[1].found
    assert data["period"]["start"] == 2024  # the rest of the document is still read


def test_a_data_file_with_a_duplicate_key_is_refused():
    with pytest.raises(ScenarioErrors) as info:
        read_yaml("a: 1\nb: 2\na: 3\n", "sim/data/ladder.yaml")
    (e,) = info.value.errors
    assert (e.file, e.path, e.line) == ("sim/data/ladder.yaml", "a", 3)
    assert "first on line 1" in e.found


def test_a_merge_key_is_no_duplicate():
    text = "base: &b {x: 1, y: 2}\nplace:\n  <<: *b\n  y: 3\n"
    data, _, dups = read_document(text, "f.yaml")
    assert data["place"] == {"x": 1, "y": 3} and not dups


def test_yaml_1_2_booleans_only_true_and_false():
    data = read_yaml("on: yes\noff: no\ny: n\na: true\nb: False\nc: 'true'\n")
    assert data == {"on": "yes", "off": "no", "y": "n", "a": True, "b": False, "c": "true"}


def test_values_are_plain_data():
    data = read_yaml("d: 2023-03-22\nm: 2023-03\nn: ~\ni: 1_000\nf: 1e3\nx: .inf\nl: [1, 2.5]\n")
    assert data == {
        "d": "2023-03-22", "m": "2023-03", "n": None, "i": 1000, "f": 1000.0,
        "x": float("inf"), "l": [1, 2.5],
    }  # fmt: skip
    assert type(data["i"]) is int and type(data["f"]) is float


def test_the_line_of_every_key_and_item():
    text = "# a comment\nplace:\n  id: hebi\n\ntargets:\n  - id: a\n    year: 2025\n  - id: b\n"
    _, lines, _ = read_document(text, "f.yaml")
    assert lines[("place",)] == 2 and lines[("place", "id")] == 3
    assert lines[("targets",)] == 5 and lines[("targets", "0")] == 6
    assert lines[("targets", "0", "year")] == 7 and lines[("targets", "1", "id")] == 8
    assert line_for(lines, ("targets", 1, "value")) == 8  # absent: its nearest ancestor
    assert line_for(lines, ("levers", "awards")) == 2  # the document: its first content


def test_an_alias_bomb_is_refused_fast():
    levels = zip("abcdefgh", "bcdefghi", strict=True)
    bomb = "\n".join(
        ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in levels]
    )  # 9**9 strings once expanded
    t0 = time.perf_counter()
    (e,) = refused(bomb)
    assert time.perf_counter() - t0 < 1.0
    assert e.kind == "yaml_syntax" and "aliases" in e.expected


def test_a_few_aliases_are_read():
    data, _, dups = read_document("a: &a [1, 2]\nb: *a\nc: [*a, *a]\n", "f.yaml")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]} and not dups


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &x [*x]\n", "recursive alias"),
        ("? [1, 2]\n: 3\n", "a mapping or a list as a key"),
        ("a: !!python/object:os.system [ls]\n", "!!python/object:os.system"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "deeper nesting"),
        ("{a: 1}}", "found"),
        ("a: 1\n---\nb: 2\n", "another document"),
    ],
)
def test_hostile_or_odd_input_is_refused_cleanly(text, words):
    (e,) = refused(text)
    assert e.kind == "yaml_syntax" and words in e.found


def test_validating_a_scenario_loads_neither_numba_nor_pyyaml():
    code = (
        "import sys; from sim.scenario import load; load('scenarios/hebi.yaml'); "
        "print(sorted(m for m in ('numba', 'yaml', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
