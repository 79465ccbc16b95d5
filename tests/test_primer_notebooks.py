"""Each primer chapter runs on its own: as a notebook, in a fresh kernel, from an empty folder.

This is what a student does with the page's download: jupytext turns the chapter into a notebook,
the parameters cell is the one the build would inject (file names only, as the published notebook
has them), and the kernel starts in a temporary folder with the project importable. Any error fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRIMER = ROOT / "book" / "primer"
CHAPTERS = sorted(p for p in PRIMER.glob("*.md") if "kernelspec" in p.read_text(encoding="utf-8")[:400])


def test_every_primer_chapter_is_collected():
    assert len(CHAPTERS) >= 6


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_in_a_fresh_kernel_from_an_empty_folder(source, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    papermill = pytest.importorskip("papermill")
    nb = jupytext.read(source)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "no parameters cell"
    hidden = [c.source for c in nb.cells if c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", [])
              and "parameters" not in c.metadata.get("tags", [])]
    # a hidden cell may compute the page's figures, but never what a student's cell relies on
    assert not any(re.search(r"^data =", s, re.M) for s in hidden), "a hidden cell defines `data`"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    papermill.execute_notebook(
        nb, str(tmp_path / f"{source.stem}.ipynb"), cwd=str(tmp_path), kernel_name="python3",
        parameters={"results_path": f"{source.stem}.json"}, progress_bar=False,
    )
    assert list(tmp_path.iterdir()), "the notebook did not run"
