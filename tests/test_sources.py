"""Every file the shipped scenarios and data cite is in the repository, so a clone can open it.

The five policy documents are in scenarios/sources/ (an index says where each came from), the
observed data and its notes in calibration/data/. `srdi validate` warns of a cited file it
cannot find.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from cli_helper import srdi

from sim.scenario import load
from sim.scenario.citations import cited_paths, missing, paths_in

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SOURCES = SCENARIOS / "sources"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
HEBI = SCENARIOS / "hebi.yaml"
# every shipped YAML file, comments included: scenarios, sweeps, package data, calibration
DATA_FILES = sorted(
    {
        *SCENARIOS.glob("**/*.yaml"),
        *(ROOT / "sim" / "data").glob("**/*.yaml"),
        *(ROOT / "calibration").glob("*.yaml"),
    }
)


def _unresolved(paths: list[str], cited_from: Path) -> list[str]:
    """Paths that are no file inside the repository, from its root or the citing file's folder."""
    return missing(paths, [ROOT, cited_from.parent], within=ROOT)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_file_a_shipped_scenario_cites_is_in_the_repository(path):
    cited = cited_paths(load(path))
    assert _unresolved(cited, path) == []


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_in_a_shipped_data_file_resolves(path):
    assert _unresolved(paths_in(path.read_text(encoding="utf-8")), path) == []


def test_each_plan_cites_its_own_text():
    for path in SHIPPED:
        doc = load(path).document
        if doc is not None and doc.seed_file:
            seed = ROOT / doc.seed_file
            assert seed.parent == SOURCES and seed.is_file(), doc.seed_file
            assert path.stem in seed.name  # the readable name says whose plan it is


def test_the_index_traces_each_copy_to_its_original():
    index = (SOURCES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"\| \[`([^`]+)`\]\([^)]+\) \| `([^`]+)` \| .* \| `([0-9a-f]{64})` \|", index)
    texts = sorted(p.name for p in SOURCES.glob("*.txt"))
    assert sorted(r[0] for r in rows) == texts and len(texts) == 5
    for name, original, digest in rows:
        assert hashlib.sha256((SOURCES / name).read_bytes()).hexdigest() == digest
        assert original in index.split("## ", 1)[1]  # the original index still names it


def test_no_shipped_file_cites_a_path_outside_the_repository():
    outside = "../" + "shared/"  # the old location, beside the repository
    found = []
    for pattern in ("**/*.yaml", "**/*.md", "**/*.py", "**/*.ipynb", "**/*.toml"):
        for p in ROOT.glob(pattern):
            if any(part.startswith(".") or part.endswith(".egg-info") for part in p.parts):
                continue
            if outside in p.read_text(encoding="utf-8", errors="replace"):
                found.append(str(p.relative_to(ROOT)))
    assert found == []


# --- the check itself finds what is broken ----------------------------------------------------


def test_paths_in_finds_paths_and_leaves_urls_out():
    text = (
        "§二(一); calibration/data/sources.md 'Rates seen', observed in "
        "https://example.org/a/b.html and ../hebi.yaml; 20.55 M yuan; doi 10.1177/2158244"
    )
    assert paths_in(text) == ["calibration/data/sources.md", "../hebi.yaml"]


def test_a_broken_citation_is_reported():
    sc = load(HEBI)
    sc.document.seed_file = "scenarios/sources/no_such_plan.txt"
    sc.targets[0].source = "§三(一)1, see calibration/data/no_such_table.csv"
    cited = cited_paths(sc)
    assert _unresolved(cited, HEBI) == [
        "scenarios/sources/no_such_plan.txt",
        "calibration/data/no_such_table.csv",
    ]


def test_a_path_leading_out_of_the_repository_is_reported(tmp_path):
    outside = tmp_path / "plan.txt"  # a file that exists, but not in the repository
    outside.write_text("x", encoding="utf-8")
    rel = os.path.relpath(outside, ROOT)  # ../../tmp/...: it exists from the root
    assert (ROOT / rel).is_file()
    assert _unresolved([rel], HEBI) == [rel]


# --- srdi validate ----------------------------------------------------------------------------


def test_validate_warns_of_a_cited_file_it_cannot_find(tmp_path):
    text = HEBI.read_text(encoding="utf-8")
    text = text.replace("scenarios/sources/hebi_2023_action_plan.txt", "plans/hebi.txt")
    path = tmp_path / "hebi.yaml"
    path.write_text(text, encoding="utf-8")
    r = srdi("validate", path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # a warning, not an error
    assert "warning:" in r.stderr and "'plans/hebi.txt' is not found" in r.stderr
    # the same file once the plan is beside it: no warning
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "hebi.txt").write_text("鹤壁", encoding="utf-8")
    r = srdi("validate", path, cwd=tmp_path)
    assert r.returncode == 0 and "warning:" not in r.stderr, r.stderr


def test_validate_finds_every_shipped_citation(tmp_path):
    r = srdi("validate", *SHIPPED, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "is not found" not in r.stderr
