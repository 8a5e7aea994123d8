"""`srdi sensitivity`: the inputs, the batch-quantile hook, a decisive input ranked first by
Sobol and Morris, the JSON, the files, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helper import srdi

from sim.engine import competition
from sim.engine.batches import BatchSpread, PublishedBatch, plan_batches
from sim.errors import ScenarioErrors
from sim.runs.sensitivity import inputs, screen, sensitivity
from sim.scenario import check_values, load
from sim.scenario.parameters import central, defaults

ROOT = Path(__file__).resolve().parents[1]
HEBI = ROOT / "scenarios" / "hebi.yaml"
DECISIVE = ROOT / "tests" / "fixtures" / "sensitivity_decisive.yaml"
KEY_INPUT = "levers.bring_in.firms_per_year"  # 0-100 firms a year; every other range narrow


@pytest.fixture(scope="module")
def decisive():
    return load(DECISIVE)


@pytest.fixture(scope="module")
def sobol(decisive):
    return sensitivity(decisive, "sobol", samples=8, runs=1, seed=3, workers=1)


def test_inputs_are_the_ranges_the_calibrated_parameters_and_the_batches():
    sc = load(HEBI)
    ins = {i.name: i for i in inputs(sc)}
    specs = sc.specs()
    drawn = {k for k, s in specs.items() if s.draw and s.high > s.low}
    assert drawn <= set(ins)  # every range a replication draws is an input, over that range
    assert (ins["approval.national_little_giant"].low, ins[
        "approval.national_little_giant"].high) == (0.2, 0.5)  # fmt: skip
    assert ins["baseline.candidates"].integer
    # calibrated: the 5-95 % quantiles of the posterior sample, not its extremes
    sample = specs["apply.base.provincial_srdi"].sample
    cal = ins["apply.base.provincial_srdi"]
    assert cal.kind == "calibrated"
    assert (cal.low, cal.high) == pytest.approx(tuple(np.quantile(sample, [0.05, 0.95])))
    assert cal.high < max(sample)
    # a fixed calibrated value and rates dated outside 2023-2025 are no inputs
    assert "apply.base.national_little_giant" not in ins
    assert not any(name.endswith((".2019", ".2022")) for name in ins)
    # the rationed titles of a Henan city: its province's list and MIIT's two national lists
    batches = {i.name for i in ins.values() if i.kind == "batch"}
    assert batches == {
        "competition.batch_quantile.provincial_srdi",
        "competition.batch_quantile.national_little_giant",
        "competition.batch_quantile.single_champion",
    }
    assert all(i.high > i.low for i in ins.values())


def test_a_fixed_batch_quantile_draws_that_quantile_and_leaves_the_stream_as_it_was():
    published = [PublishedBatch(2019, 248, 248), PublishedBatch(2020, 1584, 1584),
                 PublishedBatch(2021, 2930, 2930)]  # fmt: skip
    plan = plan_batches(published, [], 2022, [2022, 2023], BatchSpread.of(central(defaults())))
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    fixed = plan.draw([2022, 2023], a, quantile=0.9)
    plan.draw([2022, 2023], b)
    for year in (2022, 2023):
        assert fixed[year] == pytest.approx(plan.quantiles(year, [0.9])[0])
    assert a.random() == b.random()  # the same numbers were consumed
    lo = plan.draw([2022, 2023], np.random.default_rng(5), quantile=0.1)
    assert lo[2023] < plan.median[2023] < fixed[2023]


def test_a_batch_quantile_moves_the_places_a_city_competes_for():
    sc = load(HEBI)
    years = [2023, 2024, 2025]

    def quota(q):
        comp = competition.build("city", "Henan", sc.tier_ids, years, competition.ALL_PUBLISHED,
                                 np.random.default_rng(0), central(sc.specs()),
                                 batch_quantiles={"national_little_giant": q})  # fmt: skip
        return comp.quota_of(3, 2025), comp.quota_of(2, 2025)

    (lg_low, srdi_low), (lg_high, srdi_high) = quota(0.05), quota(0.95)
    assert lg_high > 3 * lg_low  # MIIT's 2025 batch, wide after 2023's last published one
    assert srdi_low == srdi_high  # another title's batches are untouched


def test_a_batch_quantile_is_a_value_the_model_takes_and_checks():
    sc = load(HEBI)
    check_values(sc, {"competition.batch_quantile.national_little_giant": 0.3})
    with pytest.raises(ScenarioErrors, match="between 0 and 1"):
        check_values(sc, {"competition.batch_quantile.national_little_giant": 1.5})
    with pytest.raises(ScenarioErrors, match="no such quantity"):
        check_values(sc, {"competition.batch_quantile.giant": 0.3})


def test_sobol_ranks_the_decisive_input_first(sobol):
    rows = sobol.ranking("provincial_srdi_2025")  # the stock the firms brought in add to
    assert rows["input"].iloc[0] == KEY_INPUT, rows
    assert rows["ST"].iloc[0] > 0.5
    assert rows["ST"].iloc[0] > 5 * rows["ST"].iloc[1]  # not a near tie
    assert list(rows["rank"]) == list(range(1, len(rows) + 1))
    assert sobol.design_points == 8 * (len(sobol.inputs) + 2)


def test_morris_ranks_the_decisive_input_first(decisive):
    res = sensitivity(decisive, "morris", samples=4, runs=1, seed=3, workers=1)
    top = res.ranking("provincial_srdi_2025").iloc[0]
    assert top["input"] == KEY_INPUT
    # brought in over 0-100 a year for 3 years: the stock moves by about 300 over the range
    assert 200 < top["mu_star"] < 400
    assert res.design_points == 4 * (len(res.inputs) + 1)
    assert res.convergence["compared"] == [2, 4]


def test_inert_inputs_are_left_out_of_the_sobol_design_and_named():
    """Hebi has no budget cap: a lever's cost per firm changes no count, nor does an award
    elasticity without awards. Such inputs cost N design points each for a total index of 0;
    the screen leaves them out and the notes name them. An input that acts stays in."""
    hebi = load(HEBI)
    ins = inputs(hebi)
    active, inert = screen(hebi, ins, seed=0, workers=1)
    names = {i.name for i in inert}
    assert {"levers.stewards.cost_per_firm_yuan", "apply.award_elasticity"} <= names
    assert {"baseline.candidates", "competition.batch_quantile.provincial_srdi"} <= {
        i.name for i in active
    }
    assert sorted(active + inert, key=ins.index) == ins
    res = sensitivity(hebi, "sobol", samples=4, runs=1, seed=0, screened=(active, inert))
    assert res.inputs == active and res.inert == inert
    assert res.design_points == 4 * (len(active) + 2)
    assert set(res.indices["input"]) == {i.name for i in active}
    assert any("inert" in n and "levers.stewards.cost_per_firm_yuan" in n for n in res.notes)
    doc = res.to_dict()
    assert {i["input"] for i in doc["inputs_inert"]} == names
    assert doc["convergence"]["max_ST_conf"] > 0  # wide at N=4: the bootstrap says so


def test_same_indices_with_one_or_two_workers(decisive, sobol):
    two = sensitivity(decisive, "sobol", samples=8, runs=1, seed=3, workers=2)
    assert np.array_equal(two.outcomes, sobol.outcomes)
    assert two.indices.equals(sobol.indices)


def test_morris_and_the_screen_are_the_same_with_one_or_two_workers(decisive):
    """Chunks end in any order on two workers; the outcomes come back in design order, and
    progress counts every design point once."""
    done = {1: [], 2: []}
    one, two = (
        sensitivity(decisive, "morris", samples=4, runs=1, seed=3, workers=w,
                    progress=done[w].append)
        for w in (1, 2)
    )  # fmt: skip
    assert np.array_equal(one.outcomes, two.outcomes)
    assert one.indices.equals(two.indices)
    assert sum(done[1]) == sum(done[2]) == one.design_points
    ins = inputs(decisive)
    assert screen(decisive, ins, seed=0, workers=1) == screen(decisive, ins, seed=0, workers=2)


def test_seed_zero_gives_the_same_intervals_every_time(decisive):
    """The bootstrap intervals are seeded too, whatever the seed (SALib skips a seed of 0)."""
    a = sensitivity(decisive, "sobol", samples=8, runs=1, seed=0, workers=1)
    b = sensitivity(decisive, "sobol", samples=8, runs=1, seed=0, workers=1)
    assert a.indices.equals(b.indices)  # S1_conf and ST_conf included
    assert a.convergence == b.convergence


def test_the_convergence_check_compares_half_the_samples_with_all(sobol):
    c = sobol.convergence
    assert c["compared"] == [4, 8]
    assert c["max_change"] == pytest.approx(max(v for v in c["by_target"].values()))
    assert c["converged"] == (c["max_change"] <= c["threshold"])


def test_cli_json_has_the_indices_method_samples_and_convergence(tmp_path):
    r = srdi("sensitivity", DECISIVE, "--samples", "4", "--workers", "1", "--json",
             "--out", tmp_path / "out")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["method"] == "sobol" and doc["samples"] == 4
    assert {"compared", "max_change", "threshold", "converged"} <= set(doc["convergence"])
    assert {(i["target"], i["input"]) for i in doc["indices"]} == {
        (t, i["input"]) for t in ("provincial_srdi_2025", "little_giant_2025")
        for i in doc["inputs"]
    }  # fmt: skip
    for row in doc["indices"]:
        assert {"target", "input", "S1", "S1_conf", "ST", "ST_conf"} <= set(row)
    out = tmp_path / "out"
    assert json.loads((out / "sensitivity.json").read_text(encoding="utf-8")) == doc
    assert (out / "indices.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for t in ("provincial_srdi_2025", "little_giant_2025"):
        assert (out / f"sensitivity-{t}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_morris_json_keys():
    r = srdi("sensitivity", DECISIVE, "--method", "morris", "--samples", "4", "--workers", "1",
             "--json", "--lang", "en")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["method"] == "morris"
    for row in doc["indices"]:
        assert {"target", "input", "mu_star", "mu_star_conf", "sigma"} <= set(row)
        assert "ST" not in row


def test_cli_refuses_bad_options_and_a_scenario_without_targets(tmp_path):
    out = tmp_path / "out"
    r = srdi("sensitivity", DECISIVE, "--samples", "6", "--out", out)
    assert r.returncode == 2 and "--samples" in r.stderr and "power of 2" in r.stderr
    r = srdi("sensitivity", DECISIVE, "--runs", "0", "--out", out)
    assert r.returncode == 2 and "--runs" in r.stderr
    quo = ROOT / "scenarios" / "henan_status_quo.yaml"
    r = srdi("sensitivity", quo, "--samples", "4", "--out", out)
    assert r.returncode == 2 and "targets" in r.stderr and quo.name in r.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_chart_draws_every_glyph(sobol, lang):
    """The chart is drawn in the shipped CJK font: no label falls back to boxes."""
    import io
    import warnings

    import matplotlib.pyplot as plt

    from sim.views.sensitivity_plots import chart

    target = sobol.scenario.targets[0].id
    fig = chart(sobol, target, lang)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    plt.close(fig)
