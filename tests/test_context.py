"""Context files (sim/data/context/*.yaml): they load, every number has a source, known values
come back, as-of dates map to model years, and bad files are refused with file, path and line.

`tests/fixtures/bad_context/` holds a valid file (`valid.yaml`) and copies of it with one
problem each (`many_problems.yaml` has two); each file's first line says what is wrong.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

from sim.engine.ladder import STANDARD_TIERS
from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario.context import (
    NATIONAL_TIERS,
    BatchObservation,
    Context,
    Goal,
    NationalShare,
    Rate,
    ReReview,
    StockObservation,
    as_of_year,
    known_regions,
    load_context,
    load_context_file,
    parse_context,
)

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "bad_context"
SHIPPED = ROOT / "sim" / "data" / "context"
REGIONS = ["China", "Guangdong", "Henan", "Jiangsu", "Zhejiang"]
SOURCED = (BatchObservation, Goal, NationalShare, StockObservation, ReReview, Rate)


def _objects(obj):
    """Every schema object inside a context, depth first."""
    if isinstance(obj, BaseModel):
        yield obj
        for name in type(obj).model_fields:
            yield from _objects(getattr(obj, name))
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _objects(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _objects(v)


# --- the shipped files ---------------------------------------------------------------------------


def test_known_regions_are_the_shipped_files() -> None:
    assert known_regions() == REGIONS
    assert sorted(p.stem for p in SHIPPED.glob("*.yaml")) == [
        "guangdong",
        "henan",
        "jiangsu",
        "national",
        "zhejiang",
    ]


@pytest.mark.parametrize("region", REGIONS)
def test_every_shipped_file_loads(region: str) -> None:
    ctx = load_context(region)
    assert ctx.region == region
    if region == "China":
        assert ctx.level == "country" and ctx.parent is None
        assert set(ctx.batches) == set(STANDARD_TIERS)
    else:
        assert ctx.level == "province" and ctx.parent == "China"
        assert set(ctx.batches) <= {"innovative_sme", "provincial_srdi"}
        assert ctx.batches["provincial_srdi"].recognition == "rationed"
        assert set(ctx.national_shares) <= set(NATIONAL_TIERS)
    assert ctx.batches["innovative_sme"].recognition == "criteria"
    assert "63号" in ctx.batches["innovative_sme"].reason
    assert ctx.not_known, "say what the sources do not give"


@pytest.mark.parametrize("region", REGIONS)
def test_every_number_has_a_source(region: str) -> None:
    ctx = load_context(region)
    seen = 0
    for obj in _objects(ctx):
        if isinstance(obj, SOURCED):
            seen += 1
            assert obj.source.strip(), obj
            if getattr(obj, "basis", "cited") != "cited":
                assert obj.how and len(obj.how) > 20, obj
        if isinstance(obj, BatchObservation) and obj.form == "interval":
            assert obj.low is not None and obj.high is not None
    assert seen >= 5


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_files_load_as_plain_files(path: Path) -> None:
    assert isinstance(load_context_file(path), Context)


def test_region_names_are_forgiving() -> None:
    assert load_context("henan").region == "Henan"
    assert load_context("national").region == "China"
    assert load_context("china").region == "China"


def test_unknown_region_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError) as e:
        load_context("Hunan")
    for region in REGIONS:
        assert region in e.value.expected
    assert e.value.kind == "unknown_region"
    assert "Hunan" in e.value.found


def test_reads_package_data_from_any_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/tmp")
    assert load_context("Henan").batch_history("provincial_srdi")


# --- known values ---------------------------------------------------------------------------------


def test_national_little_giant_batches() -> None:
    history = load_context("China").batch_history("national_little_giant")
    assert [row[0] for row in history] == [2019, 2020, 2021, 2022, 2023]
    by_year = {row[0]: row for row in history}
    assert by_year[2019][1] == 248
    assert by_year[2020] == (2020, 1584, 1584, 1748, "interval")
    assert by_year[2021][1] == 2930
    assert by_year[2022][1:4] == (4328, 4328, 4359)
    assert by_year[2023][1] == 3671
    # 248 + 1584 + 2930 is the official cumulative after batch 3
    assert sum(by_year[y][1] for y in (2019, 2020, 2021)) == 4762


def test_national_goals_and_announcement() -> None:
    ctx = load_context("China")
    lg = ctx.batches["national_little_giant"]
    assert lg.announced_month == 8 and "ccpitjs" in lg.announced_source
    goals = {t: [g.value for g in ctx.batches[t].goals] for t in ctx.batches}
    assert goals["national_little_giant"] == [600, 10000]
    assert goals["provincial_srdi"][0] == 100000 and goals["innovative_sme"] == [1000000]
    assert lg.goals[-1].published == "2021-12" and "200号" in lg.goals[-1].source
    first = lg.goals[0]  # MIIT's first goal: about 600 little giants over 2018-2020
    assert (first.kind, first.value, first.by, first.published) == (
        "cumulative",
        600,
        2020,
        "2018-11",
    )
    assert "381号" in first.source


def test_national_stocks_and_re_review() -> None:
    ctx = load_context("China")
    lg = {s.count: s for s in ctx.stocks["national_little_giant"]}
    assert lg[4762].measure == "cumulative"
    assert lg[8997].measure == "valid"
    assert lg[12000].form == "approximate"
    assert lg[12950].measure == "cumulative"
    srdi = {s.count: s.form for s in ctx.stocks["provincial_srdi"]}
    assert srdi == {40000: "lower", 80000: "lower", 98000: "point"}
    assert [s.count for s in ctx.stocks["single_champion"]] == [125, 848, 1186]
    first, second = ctx.re_review["national_little_giant"]
    assert (first.passed, first.passed_alt, first.of) == (142, 155, 248)
    assert (second.passed, second.of) == (1079, 1584)


def test_derived_batches_say_how() -> None:
    ctx = load_context("China")
    for tier in ("provincial_srdi", "single_champion"):
        rows = ctx.batches[tier].observed
        assert rows and all(r.basis == "derived" and r.form == "interval" for r in rows)
        assert all(r.count is None and r.low < r.high for r in rows)
    assert [r.year for r in ctx.batches["provincial_srdi"].observed] == list(range(2019, 2024))


def test_henan() -> None:
    ctx = load_context("Henan")
    history = {row[0]: row for row in ctx.batch_history("provincial_srdi")}
    assert history[2022][1] == 1183
    assert history[2020][1] + history[2021][1] + history[2022][1] == 2211
    assert history[2023] == (2023, 551, None, None, "lower")
    shares = ctx.share_history("national_little_giant")
    assert shares == [
        (2021, 2019, pytest.approx(207 / 4762)),
        (2022, 2019, pytest.approx(370 / 9090)),
    ]
    goals = {t: (g.kind, g.value, g.published) for t in ctx.batches for g in ctx.batches[t].goals}
    assert goals == {
        "provincial_srdi": ("per_year", 1000, "2022-07"),
        "innovative_sme": ("per_year", 10000, "2022-07"),
    }
    assert ctx.national_goals["national_little_giant"][0].value == 100
    assert any("86" in line for line in ctx.not_known)
    rate = ctx.applicants["provincial_srdi"].approval_rate
    assert (rate.value, rate.low, rate.high) == (0.62, 0.45, 0.80)


def test_other_provinces() -> None:
    gd = load_context("Guangdong")
    batch5 = [s for s in gd.national_shares["national_little_giant"] if s.year == 2023]
    assert [(s.count, s.of) for s in batch5] == [(658, 3671)]
    assert batch5[0].share == pytest.approx(658 / 3671)
    js = load_context("Jiangsu")
    lower = [s for s in js.national_shares["national_little_giant"] if s.form == "lower"]
    assert [(s.count, s.first_year, s.year) for s in lower] == [(1500, 2019, 2023)]
    assert {s.count for s in js.stocks["provincial_srdi"]} == {5594}
    zj = load_context("Zhejiang")
    assert {(s.count, s.of) for s in zj.national_shares["national_little_giant"]} >= {(384, 3671)}
    for ctx in (gd, js, zj):
        assert not ctx.batches["provincial_srdi"].observed
        assert any("derived from its stocks" in line for line in ctx.not_known)
        rate = ctx.applicants["provincial_srdi"].approval_rate
        assert rate.basis == "assumption" and "Henan" in rate.source


# --- as-of dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "month", "year"),
    [
        ("2022-06-15", 8, 2021),
        ("2023-03-22", 8, 2022),
        ("2022-12", 8, 2022),
        ("2022", 8, 2022),
        ("2022-08", 8, 2022),
        ("2022-07-31", 8, 2021),
        ("2022-11", None, 2021),
        ("2022-12-01", None, 2022),
        ("2023", None, 2023),
    ],
)
def test_as_of_year(as_of: str, month: int | None, year: int) -> None:
    assert as_of_year(as_of, month) == year


def test_as_of_year_refuses_other_forms() -> None:
    with pytest.raises(ValueError):
        as_of_year("June 2022", 8)


def test_henan_stocks_map_to_year_ends() -> None:
    ctx = load_context("Henan")
    month = ctx.batches["provincial_srdi"].announced_month
    years = {s.as_of: as_of_year(s.as_of, month) for s in ctx.stocks["provincial_srdi"]}
    assert years == {"2022-07-07": 2022, "2023-03-22": 2022}
    lg_month = load_context("China").batches["national_little_giant"].announced_month
    assert as_of_year(ctx.stocks["national_little_giant"][0].as_of, lg_month) == 2021


# --- bad files --------------------------------------------------------------------------------

# file -> (kind, dotted path, line, words of the message)
EXPECTED: dict[str, tuple[str, str, int, list[str]]] = {
    "unknown_key": (
        "unknown_key",
        "batches.provincial_srdi.observed.0.remark",
        13,
        ["unknown key 'remark'", "source"],
    ),
    "estimate_without_how": (
        "invalid",
        "batches.provincial_srdi.observed.1",
        13,
        ["'how'", "basis: estimate"],
    ),
    "low_above_high": (
        "invalid",
        "batches.provincial_srdi.observed.1",
        13,
        ["'low' <= 'high'", "1400"],
    ),
    "of_below_count": (
        "invalid",
        "national_shares.national_little_giant.0",
        26,
        ["'of' >= 'count'", "of 200"],
    ),
    "criteria_without_reason": (
        "invalid",
        "batches.innovative_sme",
        21,
        ["'reason'", "criteria"],
    ),
}


def test_valid_fixture_loads() -> None:
    assert load_context_file(BAD / "valid.yaml").region == "Testland"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_refused_with_file_path_and_line(name: str) -> None:
    kind, path, line, words = EXPECTED[name]
    file = BAD / f"{name}.yaml"
    with pytest.raises(ScenarioErrors) as e:
        load_context_file(file)
    assert len(e.value.errors) == 1, e.value
    err = e.value.errors[0]
    assert (err.kind, err.path, err.line) == (kind, path, line)
    assert err.file == str(file)
    for word in words:
        assert word in err.message, err.message
    assert f"{name}.yaml (line {line})" in err.message


def test_two_mistakes_are_reported_together() -> None:
    with pytest.raises(ScenarioErrors) as e:
        load_context_file(BAD / "many_problems.yaml")
    found = {(err.path, err.line) for err in e.value.errors}
    assert found == {
        ("batches.provincial_srdi.observed.0.remark", 13),
        ("national_shares.national_little_giant.0", 27),
    }


def _variant(old: str, new: str) -> str:
    text = (BAD / "valid.yaml").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("parent: China", "parent: Henan", "parent", ["'China'"]),
        (
            "  national_little_giant:\n    - year",
            "  provincial_srdi:\n    - year",
            "national_shares.provincial_srdi",
            ["national tier"],
        ),
        (
            "      - year: 2021",
            "      - year: 2005",
            "batches.provincial_srdi.observed.0.year",
            [">= 2010"],
        ),
        (
            "  innovative_sme:\n    recognition",
            "  innovative_smes:\n    recognition",
            "batches.innovative_smes",
            ["innovative_sme"],
        ),
        (
            "    recognition: rationed",
            "    recognition: quota",
            "batches.provincial_srdi.recognition",
            ["rationed"],
        ),
    ],
)
def test_cross_field_checks(old: str, new: str, path: str, words: list[str]) -> None:
    with pytest.raises(ScenarioErrors) as e:
        parse_context(_variant(old, new), "variant.yaml")
    hits = [err for err in e.value.errors if err.path == path]
    assert hits, [err.path for err in e.value.errors]
    assert all(err.line for err in hits)
    for word in words:
        assert word in hits[0].message, hits[0].message


def test_a_country_file_has_no_parent_and_no_shares() -> None:
    text = _variant("level: province\nparent: China", "level: country\nparent: Asia")
    with pytest.raises(ScenarioErrors) as e:
        parse_context(text, "country.yaml")
    assert {err.path for err in e.value.errors} == {"parent", "national_shares"}


def test_dates_may_be_written_unquoted() -> None:
    text = _variant(
        "not_known:",
        "stocks:\n  provincial_srdi:\n    - as_of: 2022-06-15\n"
        "      count: 10\n      measure: valid\n      source: s\nnot_known:",
    )
    assert parse_context(text).stocks["provincial_srdi"][0].as_of == "2022-06-15"
    with pytest.raises(ScenarioErrors):
        parse_context(text.replace("2022-06-15", "2022-13"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioErrors) as e:
        load_context_file(tmp_path / "nowhere.yaml")
    assert e.value.errors[0].kind == "no_file"


def test_copied_file_keeps_its_own_name(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    shutil.copy(BAD / "of_below_count.yaml", copy)
    with pytest.raises(ScenarioErrors) as e:
        load_context_file(copy)
    assert e.value.errors[0].file == str(copy)


# --- the numbers are those of calibration/data/observed_counts.csv --------------------------------

OBSERVED = ROOT / "calibration" / "data" / "observed_counts.csv"


def _observed_rows() -> list[dict[str, str]]:
    """The observed rows, a 'same ...' source replaced by the row above's."""
    with OBSERVED.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    previous = ""
    for row in rows:
        if row["source"].startswith("same"):
            row["source"] = previous + " " + row["source"]
        previous = row["source"]
    return rows


def _cited_numbers(ctx: Context):
    """(tier, number, source, kinds of row it may come from) of every cited number."""
    for tier, tb in ctx.batches.items():
        for o in tb.observed:
            if o.basis == "cited" and o.count is not None:
                yield tier, o.count, o.source, ("flow",)
        for g in tb.goals:
            yield tier, g.value, g.source, ("target",)
    for tier, goals in ctx.national_goals.items():
        for g in goals:
            yield tier, g.value, g.source, ("target",)
    for tier, stocks in ctx.stocks.items():
        for s in stocks:
            yield tier, s.count, s.source, ("stock",)
    for tier, shares in ctx.national_shares.items():
        for s in shares:
            yield tier, s.count, s.source, ("stock", "flow")
    for reviews in ctx.re_review.values():
        for r in reviews:
            yield "little_giant_review_pass", r.passed, r.source, ("flow",)


@pytest.mark.parametrize("region", REGIONS)
def test_cited_numbers_are_observed_rows_with_their_source(region: str) -> None:
    """Each cited number is a row's count (or in its note) and cites that row's source."""
    rows = _observed_rows()
    for tier, number, source, kinds in _cited_numbers(load_context(region)):
        hits = [
            r
            for r in rows
            if r["region"] == region
            and r["tier"] == tier
            and r["kind"] in kinds
            and (
                float(r["count"]) == number or re.search(rf"(?<!\d){int(number)}(?!\d)", r["note"])
            )
        ]
        assert hits, f"{region} {tier} {number:g} is not in {OBSERVED.name}"
        words = [
            w.strip("(),'\"")
            for r in hits
            for w in re.split(r"[\s;]+", r["source"])
            if len(w.strip("(),'\"")) >= 10
        ]
        assert any(w in source for w in words), f"{region} {tier} {number:g}: {source}"
