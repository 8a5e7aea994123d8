"""Bad scenario files are refused with every problem named: file, dotted path, line, what was
expected, what was found, and a fix where there is one.

`tests/fixtures/bad_scenarios/` holds a valid scenario (`valid.yaml`) and copies of it with one
problem each (the `many_*` files have several); each file's first line says what is wrong.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario import Scenario, load, parse, read_document, read_yaml, validate_files

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "bad_scenarios"
SCENARIOS = ROOT / "scenarios"

# file -> (kind, dotted path, line, key words of the message)
EXPECTED: dict[str, tuple[str, str, int, list[str]]] = {
    "assumption_point": (
        "invalid",
        "baseline.candidate_inflow_per_year",
        31,
        ["range", "basis: assumption", "a point value 40"],
    ),
    "duplicate_key": ("duplicate_key", "period.end", 15, ["each key once", "first on line 14"]),
    "duplicate_target_id": ("duplicate_id", "targets.1.id", 41, ["used once", "srdi_2025"]),
    "duplicate_tier": ("duplicate_tier", "ladder.add.0.id", 53, ["provincial_srdi", "another id"]),
    "estimate_without_how": (
        "missing_key",
        "baseline.counts.provincial_srdi.how",
        18,
        ["'how'", "estimate"],
    ),
    "invalid_quantity": (
        "invalid",
        "baseline.counts.national_little_giant",
        24,
        ["either 'value' or both 'low' and 'high'"],
    ),
    "invalid_range": ("invalid", "baseline.counts.provincial_srdi", 18, ["'low' <= 'high'", "40"]),
    "missing_parameter": (
        "missing_parameter",
        "parameters.apply.base.city_demo",
        53,
        ["local tier 'city_demo'", "missing"],
    ),
    "missing_section": ("missing_key", "period", 2, ["present", "Add 'period'"]),
    "not_a_mapping": ("wrong_type", "", 1, ["a mapping", "a list of 2 items"]),
    "not_finite": (
        "out_of_range",
        "baseline.counts.national_little_giant.value",
        25,
        ["a finite number", "nan"],
    ),
    "out_of_range_count": (
        "out_of_range",
        "baseline.counts.national_little_giant.value",
        25,
        ["non-negative", "-5"],
    ),
    "out_of_range_negative": ("out_of_range", "targets.0.value", 39, [">= 0", "-60"]),
    "out_of_range_share": (
        "out_of_range",
        "levers.stewards.coverage.value",
        54,
        ["fraction between 0 and 1", "Write 25 % as 0.25"],
    ),
    "out_of_range_year": ("out_of_range", "period.base_year", 12, [">= 1990", "1800"]),
    "override_wrong_key": (
        "invalid",
        "ladder.tiers.provincial_srdi.criteria.revenue.min_total",
        57,
        ["threshold criterion", "min, max, max_exclusive", "'min_total'"],
    ),
    "pool_without_lever": ("invalid", "targets.0.kind", 37, ["levers.cultivation_pool"]),
    "unknown_attribute": (
        "unknown_attribute",
        "ladder.add.0.criteria.0.attribute",
        60,
        ["firm attribute", "'revenue'", "Did you mean 'revenue_yuan'?"],
    ),
    "unknown_criterion": (
        "unknown_criterion",
        "ladder.tiers.provincial_srdi.criteria.rd_intensty",
        56,
        ["criterion of provincial_srdi", "Did you mean 'rd_intensity'?"],
    ),
    "unknown_key": (
        "unknown_key",
        "targets.0.yaer",
        38,
        ["allowed:", "unknown key 'yaer'", "Did you mean 'year'?"],
    ),
    "unknown_lever": (
        "unknown_lever",
        "levers.award",
        43,
        ["allowed:", "matching_subsidy", "unknown lever 'award'", "Did you mean 'awards'?"],
    ),
    "unknown_parameter": (
        "unknown_parameter",
        "parameters.approval.provincial_srd",
        52,
        ["model parameter", "Nearest: approval.provincial_srdi"],
    ),
    "unknown_tier": (
        "unknown_tier",
        "targets.0.tier",
        36,
        ["tier of the ladder", "'little_giant'", "Did you mean 'national_little_giant'?"],
    ),
    "unknown_tier_after": (
        "unknown_tier",
        "ladder.add.0.after",
        55,
        ["'provincial'", "Did you mean 'provincial_srdi'?"],
    ),
    "unknown_tier_in_lever": (
        "unknown_tier",
        "levers.awards.by_tier.provincial_srd",
        46,
        ["Did you mean 'provincial_srdi'?"],
    ),
    "wrong_literal": ("wrong_type", "targets.0.kind", 37, ["one of", "'cumulative'", "'total'"]),
    "wrong_type_bool": ("wrong_type", "levers.awards.highest_only", 50, ["true or false", "'yes'"]),
    "wrong_type_mapping": ("wrong_type", "baseline.candidates", 27, ["a mapping", "300"]),
    "wrong_type_year": ("wrong_type", "targets.0.year", 38, ["a whole number", "'2025'"]),
    "yaml_syntax": ("yaml_syntax", "", 13, ["valid YAML", "indentation"]),
    "year_outside_period": (
        "year_outside_period",
        "targets.0.year",
        38,
        ["within the period 2023-2025", "2030"],
    ),
}

# files with several problems: every one is reported, in one go
EXPECTED_MANY: dict[str, list[tuple[str, str, int]]] = {
    "many_problems": [
        ("duplicate_key", "period.end", 15),
        ("wrong_type", "baseline.counts.provincial_srdi.basis", 22),
        ("wrong_type", "targets.0.year", 39),
        ("unknown_lever", "levers.award", 44),
    ],
    "many_reference_problems": [
        ("unknown_tier", "targets.0.tier", 36),
        ("year_outside_period", "targets.0.year", 38),
        ("unknown_parameter", "parameters.approval.provincial_srd", 52),
    ],
}


def errors_of(path: Path) -> list[ScenarioError]:
    with pytest.raises(ScenarioErrors) as info:
        load(path)
    return info.value.errors


def test_every_fixture_has_an_expectation():
    names = {p.stem for p in BAD.glob("*.yaml")}
    assert names == set(EXPECTED) | set(EXPECTED_MANY) | {"valid"}


def test_the_base_of_the_fixtures_is_valid():
    sc = load(BAD / "valid.yaml")
    assert "city_demo" in sc.tier_ids


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_broken_file_is_refused_with_a_precise_error(name):
    kind, path, line, words = EXPECTED[name]
    file = BAD / f"{name}.yaml"
    errors = errors_of(file)
    hits = [e for e in errors if e.kind == kind and e.path == path]
    assert hits, [(e.kind, e.path, e.line) for e in errors]
    err = hits[0]
    assert err.line == line
    assert err.file == str(file)
    for word in words:
        assert word in err.message, (word, err.message)
    # the one message template: file, line, path, expected, found
    assert str(file) in err.message and f"(line {line})" in err.message
    assert err.expected in err.message and err.found in err.message
    if err.fix:
        assert err.message.endswith(err.fix)


@pytest.mark.parametrize("name", sorted(EXPECTED_MANY))
def test_every_problem_of_a_file_is_reported(name):
    errors = errors_of(BAD / f"{name}.yaml")
    got = [(e.kind, e.path, e.line) for e in errors]
    assert got == EXPECTED_MANY[name]


def test_validate_files_reports_every_problem_in_every_file():
    files = [BAD / "many_problems.yaml", BAD / "valid.yaml", BAD / "unknown_tier.yaml"]
    errors = validate_files(files)
    assert [e.file for e in errors] == [str(files[0])] * 4 + [str(files[2])]
    assert validate_files([BAD / "valid.yaml"]) == []


def test_a_missing_file_and_undecodable_bytes_are_scenario_errors(tmp_path):
    (err,) = validate_files([tmp_path / "nowhere.yaml"])
    assert err.kind == "no_file" and "srdi list" in err.message
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("place: Zürich\n".encode("latin-1"))
    (err,) = validate_files([bad])
    assert err.kind == "encoding"


def test_the_errors_carry_the_file_path_and_list_every_message():
    with pytest.raises(ScenarioErrors) as info:
        parse((BAD / "many_problems.yaml").read_text(encoding="utf-8"), "plan.yaml")
    text = str(info.value)
    assert text.count("plan.yaml") == 4
    assert all(isinstance(e, ScenarioError) and e.file == "plan.yaml" for e in info.value.errors)


# --- mutated documents: a Scenario or the project's own error, never another exception ------

BASES = {name: (SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8") for name in ("hebi",)}
BASES["wujiang"] = (SCENARIOS / "wujiang.yaml").read_text(encoding="utf-8")
BASES["fixture"] = (BAD / "valid.yaml").read_text(encoding="utf-8")
DOCS = {name: read_yaml(text) for name, text in BASES.items()}


def _paths(node, prefix=()):
    """Every path to a value in a nested document (mapping keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc, path):
    node = doc
    for p in path[:-1]:
        node = node[p]
    return node


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["pool", "innovative_sme", "stock", "cumulative", "1e400", "2025", "yes"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
mutation = st.tuples(
    st.sampled_from(["delete", "rename", "replace", "retype", "duplicate_item"]),
    st.integers(min_value=0, max_value=10**6),
    values,
    st.text(min_size=1, max_size=10),
)


def _mutate(doc, op, index, value, name):
    paths = _paths(doc)
    if not paths:
        return
    path = paths[index % len(paths)]
    parent = _parent(doc, path)
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[name] = parent.pop(key)
    elif op == "replace":
        parent[key] = value
    elif op == "retype":
        old = parent[key]
        if isinstance(old, bool | int | float):
            parent[key] = str(old)
        elif isinstance(old, str):
            parent[key] = [old]
        elif isinstance(old, list):
            parent[key] = {"item": old}
        else:
            parent[key] = 0
    elif op == "duplicate_item" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(base=st.sampled_from(sorted(DOCS)), mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_documents_give_a_scenario_or_scenario_errors(base, mutations):
    doc = copy.deepcopy(DOCS[base])
    for m in mutations:
        _mutate(doc, *m)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    try:
        sc = parse(text, "mutated.yaml")
    except ScenarioErrors as e:
        assert e.errors
        for err in e.errors:
            assert isinstance(err.kind, str) and err.kind
            assert isinstance(err.path, str)
            assert err.line is None or err.line >= 1
            assert isinstance(err.message, str) and "mutated.yaml" in err.message
    else:
        assert isinstance(sc, Scenario)
        assert sc.tier_ids  # the ladder builds


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(sorted(BASES)),
    at=st.integers(min_value=0, max_value=10**6),
    cut=st.integers(min_value=0, max_value=40),
    insert=st.text(alphabet=" \n\t:-#&*!|>'\"{}[],?%@`abc0123456789", max_size=8),
)
def test_edited_text_gives_a_scenario_or_scenario_errors(base, at, cut, insert):
    text = BASES[base]
    i = at % (len(text) + 1)
    edited = text[:i] + insert + text[i + cut :]
    try:
        sc = parse(edited, "edited.yaml")
    except ScenarioErrors as e:
        assert e.errors and all(isinstance(err, ScenarioError) for err in e.errors)
    else:
        assert isinstance(sc, Scenario)


def test_recursive_and_complex_yaml_is_refused_cleanly():
    for text in ("a: &x [*x]\n", "? [1, 2]\n: 3\n", "!!python/object:os.system {}\n", "{a: 1}}"):
        with pytest.raises(ScenarioErrors):
            parse(text, "odd.yaml")


# --- an alias bomb -------------------------------------------------------------------------

BOMB = "\n".join(
    [
        'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]',
        *(
            f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)  # nine levels of nine aliases: 9**9 (387 million) strings once expanded


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    import time

    from sim.runs.sweep.spec import _read_sweep_file
    from sim.scenario.context import load_context_file

    for name, read in (
        ("scenario.yaml", lambda p: parse(p.read_text(), str(p))),
        ("context.yaml", load_context_file),
        ("sweep.yaml", _read_sweep_file),
    ):
        path = tmp_path / name
        path.write_text(("scenario: hebi.yaml\n" if name == "sweep.yaml" else "") + BOMB)
        t0 = time.perf_counter()
        with pytest.raises(ScenarioErrors) as info:
            read(path)
        assert time.perf_counter() - t0 < 1.0, name
        (e,) = info.value.errors
        assert e.kind == "yaml_syntax" and "aliases" in e.expected, name


def test_a_few_aliases_are_still_read():
    data, _, errs = read_document("a: &a [1, 2]\nb: *a\nc: [*a, *a]\n", "<doc>")
    assert data == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]} and not errs


# --- counts in order, numbers as people write them ---------------------------------------------


def _hebi_text() -> str:
    return (ROOT / "scenarios" / "hebi.yaml").read_text(encoding="utf-8")


def test_more_little_giants_than_provincial_firms_is_refused():
    text = _hebi_text().replace(
        "    national_little_giant:\n      low: 4\n      high: 10",
        "    national_little_giant:\n      low: 400\n      high: 1000",
    )
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    (e,) = info.value.errors
    assert e.path == "baseline.counts.national_little_giant" and e.kind == "inconsistent"
    assert e.line is not None and "national_little_giant" in text.splitlines()[e.line - 1]


@pytest.mark.parametrize(
    ("written", "hint"),
    [("50万", "500000"), ("10-15", "low: 10 and high: 15"), ("30%", "0.3")],
)
def test_numbers_written_as_in_a_plan_get_a_hint(written, hint):
    text = _hebi_text().replace("      low: 110\n", f"      low: '{written}'\n", 1)
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    (e,) = info.value.errors
    assert e.path == "baseline.counts.innovative_sme.low" and hint in (e.fix or "")


def test_the_cli_refuses_an_alias_bomb_in_under_a_second(tmp_path):
    """End to end, Python start-up and imports included (sim/__init__ imports lazily)."""
    import subprocess
    import sys
    import time

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "sim.cli", "validate", str(path)],
                       capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert r.returncode == 2 and "aliases" in r.stderr
    assert elapsed < 2.0  # about 0.7 s on an idle 2-core machine; slack for a loaded CI


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", "yaml_syntax"),
        ("huge", "place:\n" + "".join(f"  k{i}: {i}\n" for i in range(200_000)), "too_large"),
        ("tag", "a: !!python/object:os.system [ls]\n", "yaml_syntax"),
        ("bytes", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "encoding"),
    ],
)
def test_hostile_files_are_refused_at_once(tmp_path, name, content, kind):
    import time

    from sim.scenario import is_sweep_file

    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    t0 = time.perf_counter()
    assert not is_sweep_file(path)  # the sweep sniffing reads through the same guard
    with pytest.raises(ScenarioErrors) as info:
        load(path)
    assert time.perf_counter() - t0 < 1.0
    assert [e.kind for e in info.value.errors] == [kind]


def test_a_schema_typo_and_a_cross_field_mistake_are_reported_in_one_run():
    text = _hebi_text().replace("place:\n", "place:\n  colour: red\n", 1)
    i = text.index("targets:")
    j = text.index("year: 2024", i)
    text = text[:j] + "year: 2031" + text[j + len("year: 2024") :]
    with pytest.raises(ScenarioErrors) as info:
        parse(text, "hebi.yaml")
    kinds = [e.kind for e in info.value.errors]
    assert kinds == ["unknown_key", "year_outside_period"]
