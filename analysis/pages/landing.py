"""Figures for the landing page: the paper's headline counts and what this build read."""

from __future__ import annotations

from pathlib import Path

from analysis.cohort import CNS_GROUPS, load_cohort
from analysis.pages.chapter import glue_paper
from analysis.results import Results


def landing_figures(cohort: str | Path, results_path: str | Path | None) -> dict:
    """Glue the paper's cohort sizes (for the prose) and the size of the cohort this build read.

    The paper's figures are glued for the text only (``paper.<id>``); results.json holds the
    computed ``build.n_patients``.
    """
    glue_paper("cohort.n_abc", "cohort.n_cns.n", *(f"cohort.groups.{g}.n" for g in CNS_GROUPS))
    n_patients = int(len(load_cohort(cohort).data))
    Results("build", results_path).add("n_patients", n_patients)
    # The file name only (no folders): a path can carry a user's or a hospital's name.
    from myst_nb import glue

    glue("build.cohort_name", Path(cohort).name, display=False)
    return {"n_patients": n_patients, "cohort_name": Path(cohort).name}
