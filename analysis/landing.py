"""Figures for the landing page: the paper's headline counts and what this build read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.published import published_value
from analysis.results import Results


def landing_figures(cohort: str | Path, results_path: str | Path | None) -> dict:
    """Glue the paper's cohort sizes (for the prose) and the size of the cohort this build read.

    The paper's figures are glued for the text only; they are not recorded in ``results.json``,
    which holds computed figures.
    """
    paper = Results("paper", path=None)
    paper.add("n_abc", published_value("cohort.n_abc"))
    paper.add("n_cns", published_value("cohort.n_cns.n"))
    for group in ("B", "BL", "L"):
        paper.add(f"n_{group}", published_value(f"cohort.groups.{group}.n"))

    build = Results("build", results_path)
    n_patients = _count_rows(Path(cohort))
    build.add("n_patients", n_patients)
    # The file name only (no folders): a path can carry a user's or a hospital's name.
    paper_free_name = Path(cohort).name
    from myst_nb import glue

    glue("build.cohort_name", paper_free_name, display=False)
    return {"n_patients": n_patients, "cohort_name": paper_free_name}


def _count_rows(path: Path) -> int:
    from analysis.cohort import load_cohort

    return int(len(load_cohort(path).data))
