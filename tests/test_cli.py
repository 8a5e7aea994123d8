"""The `srdi` command line end to end, as a planner runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helper import srdi as run_in_process

from sim.engine.ladder import Ladder

ROOT = Path(__file__).resolve().parent.parent
HEBI = ROOT / "scenarios" / "hebi.yaml"


def srdi(*args: str, cwd: Path = ROOT):
    return run_in_process(*args, cwd=cwd)


@pytest.fixture(scope="module")
def hebi_json() -> dict:
    r = srdi("forecast", HEBI, "--runs", "40", "--seed", "1", "--json", "--workers", "1")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # exactly one JSON object on stdout


def test_json_has_targets_with_probabilities(hebi_json):
    targets = hebi_json["targets"]
    assert {t["tier"] for t in targets} == {
        "innovative_sme",
        "provincial_srdi",
        "national_little_giant",
        "single_champion",
    }
    assert {t["year"] for t in targets if t["kind"] == "stock"} == {2024, 2025}
    rd = {t["year"] for t in targets if t["kind"] == "rd_intensive_new"}  # +50 a year
    assert rd == {2023, 2024, 2025}
    for t in targets:
        assert 0.0 <= t["probability"] <= 1.0
        p = t["probability"]
        assert t["mc_se"] == pytest.approx((p * (1 - p) / 40) ** 0.5)
    champions = [t for t in targets if t["tier"] == "single_champion" and t["year"] == 2025]
    assert champions[0]["value"] == 3 and champions[0]["stretch"] == 5  # 3-5: lower bound


def test_json_counts_cover_every_tier_metric_and_year(hebi_json):
    rows = hebi_json["counts"]
    keys = {(r["tier"], r["metric"], r["year"]) for r in rows}
    for tier in ("innovative_sme", "provincial_srdi", "national_little_giant", "single_champion"):
        for metric in ("at_least", "exactly", "new", "ever"):
            for year in (2022, 2023, 2024, 2025):
                assert (tier, metric, year) in keys
    for r in rows:
        assert r["p05"] <= r["p50"] <= r["p95"]
        assert r["mean"] >= 0


def test_json_reports_cost_and_attributable_firms(hebi_json):
    assert hebi_json["cost"]["total_yuan"]["mean"] > 0
    levers = {r["lever"] for r in hebi_json["cost"]["by_lever"]}
    assert {"bring_in", "stewards", "cultivation_pool", "loans"} <= levers
    att = {(r["tier"], r["metric"]): r for r in hebi_json["attributable"]}
    # ten provincial SRDI firms a year are brought in: the levers must add provincial firms
    assert att[("provincial_srdi", "at_least")]["mean"] > 0


def test_same_seed_same_output_different_seed_different():
    a = srdi("forecast", HEBI, "--runs", "15", "--seed", "3", "--json", "-w", "1")
    b = srdi("forecast", HEBI, "--runs", "15", "--seed", "3", "--json", "-w", "2")
    c = srdi("forecast", HEBI, "--runs", "15", "--seed", "4", "--json", "-w", "1")
    ja, jb, jc = (json.loads(x.stdout) for x in (a, b, c))
    for j in (ja, jb, jc):
        j.pop("elapsed_seconds")
    assert ja == jb  # the worker count does not change the numbers
    assert ja["counts"] != jc["counts"]


@pytest.fixture(scope="module")
def hebi_out(tmp_path_factory) -> tuple[Path, str]:
    """`srdi forecast hebi --out DIR`: the folder and the printed report."""
    out = tmp_path_factory.mktemp("hebi") / "out"
    r = srdi("forecast", HEBI, "--runs", "10", "--seed", "2", "--out", out, "-w", "1")
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_table_output_is_readable(hebi_out):
    out, report = hebi_out
    assert "Targets" in report and "P(reach)" in report
    assert "little_giant_2025" in report
    assert "Cost over 2023-2025 (万元 = 10,000 yuan, mean)" in report
    assert "million" not in report and "M yuan" not in report
    saved = json.loads((out / "forecast.json").read_text(encoding="utf-8"))
    total = next(line for line in report.splitlines() if line.strip().startswith("total"))
    printed = float(total.split()[1].replace(",", ""))
    assert printed == pytest.approx(saved["cost"]["total_yuan"]["mean"] / 1e4, abs=0.05)
    assert "whole programme's cost / extra firm" in report


def test_out_writes_tables_and_fan_chart(hebi_out):
    out, _ = hebi_out
    names = ("targets.csv", "counts.csv", "cost.csv", "attributable.csv", "forecast.xlsx")
    for name in (*names, "forecast.json"):
        assert (out / name).stat().st_size > 0
    assert (out / "fan_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind


STANDARD_ZH = {  # the titles as the ladder (sim/data/ladder.yaml) names them in Chinese
    "innovative_sme": "创新型中小企业",
    "provincial_srdi": "省级专精特新中小企业",
    "national_little_giant": '国家级专精特新"小巨人"',
    "single_champion": "制造业单项冠军",
}


def test_csv_tables_have_a_bom_and_the_titles_in_chinese(hebi_out):
    out, _ = hebi_out
    assert {t.id: t.name_zh for t in Ladder.standard().tiers} == STANDARD_ZH
    for name in ("targets.csv", "counts.csv", "cost.csv", "attributable.csv"):
        raw = (out / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and not raw[3:].startswith(b"\xef\xbb\xbf")
        raw[3:].decode("utf-8")  # UTF-8 throughout (Excel reads it by the BOM)
    for name in ("targets.csv", "counts.csv", "attributable.csv"):
        df = pd.read_csv(out / name, encoding="utf-8-sig")
        columns = list(df.columns)
        assert columns[columns.index("tier") + 1] == "tier_zh"  # beside the id, not instead
        assert {(t, z) for t, z in zip(df["tier"], df["tier_zh"], strict=True)} == {
            (t, STANDARD_ZH[t]) for t in set(df["tier"])
        }
    counts = pd.read_csv(out / "counts.csv", encoding="utf-8-sig")
    assert set(counts["tier_zh"]) == set(STANDARD_ZH.values())  # every title round-trips


def test_money_for_people_is_in_wan_yuan_and_in_yuan_in_the_json(hebi_out):
    out, _ = hebi_out
    saved = json.loads((out / "forecast.json").read_text(encoding="utf-8"))
    cost = pd.read_csv(out / "cost.csv", encoding="utf-8-sig")
    assert list(cost.columns) == ["lever", "year", "mean_wan_yuan", "p05_wan_yuan", "p95_wan_yuan"]
    by_lever = saved["cost"]["by_lever"]
    assert len(cost) == len(by_lever) > 0
    for row, rec in zip(cost.to_dict("records"), by_lever, strict=True):
        assert (row["lever"], row["year"]) == (rec["lever"], rec["year"])
        for q in ("mean", "p05", "p95"):
            assert row[f"{q}_wan_yuan"] == pytest.approx(rec[f"{q}_yuan"] / 1e4, rel=1e-5)
    att = pd.read_csv(out / "attributable.csv", encoding="utf-8-sig")
    assert "whole_programme_cost_per_extra_firm_yuan" not in att.columns
    for row, rec in zip(att.to_dict("records"), saved["attributable"], strict=True):
        yuan = rec["whole_programme_cost_per_extra_firm_yuan"]
        wan = row["whole_programme_cost_per_extra_firm_wan_yuan"]
        assert wan != wan if yuan is None else wan == pytest.approx(yuan / 1e4, rel=1e-5)


SHEETS = {"targets 目标": "targets", "counts 企业数": "counts", "cost 资金": "cost",
          "attributable 政策带来": "attributable",
          "lever_attribution 各措施带来": "lever_attribution"}  # fmt: skip


def test_the_workbook_holds_every_table_one_sheet_each(hebi_out):
    out, _ = hebi_out
    sheets = pd.read_excel(out / "forecast.xlsx", sheet_name=None)
    assert list(sheets) == list(SHEETS)
    for sheet, df in sheets.items():
        csv = pd.read_csv(out / f"{SHEETS[sheet]}.csv", encoding="utf-8-sig")
        # bilingual headers: the column id, then its Chinese name
        assert [c.split(" ", 1)[0] for c in df.columns] == list(csv.columns)
        same = df.set_axis(list(csv.columns), axis="columns")
        pd.testing.assert_frame_equal(same, csv, check_dtype=False)
    counts = sheets["counts 企业数"]
    assert "tier_zh 层级名称" in counts.columns
    assert set(counts["tier_zh 层级名称"]) == set(STANDARD_ZH.values())  # Chinese intact
    assert "mean_wan_yuan 均值(万元)" in sheets["cost 资金"].columns
    targets = sheets["targets 目标"]
    assert any("§三(一)1" in s and "创新型中小企业" in s for s in targets["source 出处"])


def test_a_failing_workbook_leaves_no_half_written_file(tmp_path, monkeypatch):
    import sim.cli.forecast

    def broken(sheets, path):
        Path(path).write_bytes(b"PK\x03\x04 half a workbook")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim.cli.forecast, "write_xlsx", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        srdi("forecast", HEBI, "--runs", "2", "--out", out, "-w", "1")
    assert not (out / "forecast.xlsx").exists()
    assert not list(out.glob(".*"))  # its temporary file is gone too


def test_missing_scenario_gives_clear_message_and_nonzero_exit(tmp_path):
    r = srdi("forecast", tmp_path / "nowhere.yaml", "--json")
    assert r.returncode == 2
    assert "nowhere.yaml" in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""


def test_bad_scenario_refused_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEBI.read_text(encoding="utf-8").replace("targets:", "targetz:", 1), "utf-8")
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "targets.csv"
    keep.write_text("earlier results\n")
    r = srdi("forecast", bad, "--out", out)
    assert r.returncode == 2
    assert "targetz" in r.stderr and "bad.yaml" in r.stderr and "line" in r.stderr
    assert "Traceback" not in r.stderr
    assert keep.read_text() == "earlier results\n"  # nothing already written is lost
    assert sorted(p.name for p in out.iterdir()) == ["targets.csv"]


def test_validate_reports_every_problem_in_every_file(tmp_path):
    text = HEBI.read_text(encoding="utf-8")
    one = tmp_path / "one.yaml"
    one.write_text(text.replace("targets:", "targetz:", 1), "utf-8")
    two = tmp_path / "two.yaml"
    two.write_text(text.replace("year: 2025", "year: 2031", 1), "utf-8")
    r = srdi("validate", HEBI, one, two)
    assert r.returncode == 2
    assert "one.yaml" in r.stderr and "two.yaml" in r.stderr
    assert "2031" in r.stderr
    ok = srdi("validate", HEBI)
    assert ok.returncode == 0 and "ok:" in ok.stdout


def test_list_shows_shipped_scenarios():
    r = srdi("list")
    assert r.returncode == 0, r.stderr
    assert "Hebi" in r.stdout and "2023-2025" in r.stdout
    assert "national_little_giant" in r.stdout


# --- a place with no plan ---------------------------------------------------------------------

HENAN_STATUS_QUO = ROOT / "scenarios" / "henan_status_quo.yaml"


def test_a_status_quo_scenario_validates_and_forecasts_saying_it_has_no_targets(tmp_path):
    r = srdi("validate", HENAN_STATUS_QUO)
    assert r.returncode == 0, r.stderr
    args = ("forecast", HENAN_STATUS_QUO, "--runs", "8", "--seed", "1", "--workers", "1")
    r = srdi(*args, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["targets"] == [] and out["has_targets"] is False and out["has_levers"] is False
    assert out["document"] is None
    assert any(n.startswith("No targets") for n in out["notes"])
    assert any("baseline.candidates: default" in n for n in out["notes"])
    tiers = {c["tier"] for c in out["counts"] if c["metric"] == "at_least"}
    assert tiers == {
        "innovative_sme",
        "provincial_srdi",
        "national_little_giant",
        "single_champion",
    }
    r = srdi(*args, "--out", tmp_path / "henan")
    assert r.returncode == 0, r.stderr
    assert "none: the scenario states no targets" in r.stdout
    assert "Levers: none (the counterfactual is the forecast itself)" in r.stdout
    for name in ("targets.csv", "counts.csv", "cost.csv", "attributable.csv", "fan_chart.png"):
        assert (tmp_path / "henan" / name).is_file()
    raw = (tmp_path / "henan" / "targets.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel shows the Chinese
    header = raw.decode("utf-8-sig").splitlines()
    assert header[0].startswith("id,tier,tier_zh,kind,year,value,probability")
    assert len(header) == 1
    saved = json.loads((tmp_path / "henan" / "forecast.json").read_text(encoding="utf-8"))
    assert saved["has_targets"] is False


# --- bad input refused before the run ----------------------------------------------------------


def _in_process(*args: str):
    from click.testing import CliRunner

    from sim.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_sweep_file_given_to_forecast_says_use_sweep():
    sweep = ROOT / "scenarios" / "sweeps" / "hebi-awards-loans.yaml"
    r = _in_process("forecast", sweep)
    assert r.exit_code == 2
    assert "srdi sweep" in r.output and "sweep file" in r.output
    assert r.output.count("error:") == 1  # one clear message, not the scenario schema's


def test_an_unwritable_out_is_refused_before_the_run(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = _in_process("forecast", HEBI, "--runs", "100000", "--out", blocker / "sub")
    assert r.exit_code == 2 and "--out" in r.output and "nothing was run" in r.output


def test_outputs_are_readable_by_others(tmp_path):
    r = _in_process("forecast", HEBI, "--runs", "4", "--workers", "1", "--out", tmp_path)
    assert r.exit_code == 0, r.output
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o644 for p in files)


def test_validate_warns_of_a_met_target_and_a_file_named_otherwise(tmp_path):
    text = HEBI.read_text(encoding="utf-8").replace("    value: 220\n", "    value: 100\n", 1)
    path = tmp_path / "hebi2.yaml"
    path.write_text(text, encoding="utf-8")
    r = _in_process("validate", path)
    assert r.exit_code == 0, r.output
    assert "already met at the base year" in r.output and "innovative_sme_2024" in r.output
    assert "differs from place.id 'hebi'" in r.output


def test_validate_checks_a_sweep_file_as_a_sweep():
    sweep = ROOT / "scenarios" / "sweeps" / "hebi-awards-loans.yaml"
    r = _in_process("validate", sweep)
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith(f"ok: {sweep}")
