"""The notebooks run top to bottom against the installed `sim` (with a small setting), and the
committed files carry their outputs, figures included, for a reader who does not run them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("SRDI_NOTEBOOK_RUNS", "20")
    monkeypatch.setenv("SRDI_NOTEBOOK_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks its inline backend
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises on the first cell that fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)  # every cell ran, in order
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook shows no figure (a backend set to Agg by the library?)"
    printed_figures = [
        o for c in code for o in c.get("outputs", [])
        if str(o.get("data", {}).get("text/plain", "")).startswith("<Figure size")
        and "image/png" not in o.get("data", {})
    ]  # fmt: skip
    assert not printed_figures, "a figure printed as text instead of drawn"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(counts), "a code cell was not run: execute the notebook before committing it"
    assert counts == sorted(counts), "the cells were not run top to bottom"
    assert all(c.get("outputs") for c in code), "a code cell has no output (a stripped notebook?)"
    outputs = [o for c in code for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure in the file"
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = nbformat.writes(nb)
    assert "IProgress not found" not in text, "executed without ipywidgets (the notebooks extra)"
