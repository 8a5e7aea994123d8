"""The shipped data files have strict schemas: a typo is an error, not a changed rule."""

from __future__ import annotations

import copy

import pytest

from sim.engine.ladder import Ladder, standard_document
from sim.errors import ScenarioErrors
from sim.scenario.data_schema import check_parameters
from sim.scenario.parameters import _default_document


def _threshold(doc: dict) -> dict:
    for t in doc["tiers"]:
        for c in t["criteria"]:
            if c["kind"] == "threshold" and "min" in c:
                return c
    raise AssertionError("no threshold with a min")


def test_the_shipped_files_pass():
    Ladder.standard()
    check_parameters(_default_document(), "sim/data/parameters.yaml")


def test_a_misspelt_min_is_refused_with_the_fix():
    doc = standard_document()
    c = _threshold(doc)
    c["mni"] = c.pop("min")
    with pytest.raises(ScenarioErrors) as info:
        Ladder.from_dict(doc)
    errors = info.value.errors
    assert any(e.path.endswith(".mni") and e.fix == "Did you mean 'min'?" for e in errors)
    assert any("min, max or max_exclusive" in e.expected for e in errors)  # no bound left


def test_an_unknown_attribute_and_kind_are_refused_in_one_pass():
    doc = standard_document()
    _threshold(doc)["attribute"] = "rd_intensty"
    doc["tiers"][-1]["criteria"][0]["kind"] = "treshold"
    with pytest.raises(ScenarioErrors) as info:
        Ladder.from_dict(doc)
    kinds = sorted(e.kind for e in info.value.errors)
    assert kinds == ["unknown_key", "wrong_value"]
    assert any(e.fix == "Did you mean 'rd_intensity'?" for e in info.value.errors)


def test_parameter_entries_are_checked():
    doc = copy.deepcopy(_default_document())
    name = next(iter(doc))
    doc[name]["vlaue"] = doc[name].pop("value")
    other = list(doc)[1]
    doc[other]["range"] = [doc[other]["value"] + 1, doc[other]["value"] + 2]
    with pytest.raises(ScenarioErrors) as info:
        check_parameters(doc, "parameters.yaml")
    paths = {e.path for e in info.value.errors}
    assert f"{name}.vlaue" in paths and f"{name}.value" in paths and f"{other}.range" in paths
