"""The files a scenario cites, and whether a reader can open them.

A citation names a file by its path from the repository root
(`scenarios/sources/hebi_2023_action_plan.txt`, `calibration/data/observed_counts.csv`) or from
the citing file's folder (`../hebi.yaml` in a sweep file). File paths are found in the
scenario's text fields (`source`, `how`, `note`, ...) and in `document.seed_file`; a URL is a
link, not a file path, and is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# what a cited file may end in: documents, tables, data and code
EXTENSIONS = (
    "txt", "md", "csv", "tsv", "yaml", "yml", "json", "pdf", "doc", "docx", "xls", "xlsx",
    "html", "htm", "ipynb", "py", "png", "parquet",
)  # fmt: skip
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_PATH = re.compile(
    r"(?<![\w/.-])((?:\.\.?/)*[\w.-]+(?:/[\w.-]+)*\.(?:" + "|".join(EXTENSIONS) + r"))(?![\w/-])"
)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def paths_in(text: str) -> list[str]:
    """The file paths a text names, in order and each once (URLs left out)."""
    found = _PATH.findall(_URL.sub(" ", text))
    return list(dict.fromkeys(found))


def cited_paths(scenario: Any) -> list[str]:
    """Every file path a scenario cites: `document.seed_file`, and the paths named in any of
    its text fields (sources, `how`, notes), in the order of the file."""
    out: list[str] = []
    doc = scenario.document
    if doc is not None and doc.seed_file:
        out.append(doc.seed_file.strip())
    for text in _strings(scenario.model_dump(mode="python", by_alias=True, exclude_none=True)):
        out += paths_in(text)
    return list(dict.fromkeys(out))


def missing(paths: Iterable[str], folders: Iterable[Path], within: Path | None = None) -> list[str]:
    """The paths that are a file in none of `folders`; with `within`, a path counts only if it
    stays inside that folder (so `../elsewhere/x.txt` fails even where it happens to exist)."""
    folders = [Path(f) for f in folders]
    top = Path(within).resolve() if within is not None else None
    out = []
    for p in paths:
        found = False
        for folder in folders:
            target = (folder / p).resolve()
            if top is not None and not target.is_relative_to(top):
                continue
            if target.is_file():
                found = True
                break
        if not found:
            out.append(p)
    return out


def unresolved_citations(scenario: Any, path: str | Path) -> list[str]:
    """The files a scenario read from `path` cites that cannot be opened: looked for from the
    scenario's folder, the current folder and the project's root."""
    folders = [Path(path).resolve().parent, Path.cwd(), PROJECT_ROOT]
    return missing(cited_paths(scenario), folders)


def _strings(node: Any) -> Iterable[str]:
    """Every string in a nested structure of dicts and lists."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _strings(v)
