"""What a primer notebook loads, wherever it runs: the toy table, the synthetic cohort, R's output.

A downloaded chapter runs in a fresh kernel in any folder, so nothing here reads a path relative
to the working directory: the synthetic cohort and R's reference output are found through
:mod:`analysis.paths`, which points into the checkout or into the copy an installed package ships.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.paths import BOOK_DIR, BUNDLED_COHORT

__all__ = ["synthetic_cohort", "synthetic_cohort_path", "r_reference", "R_REFERENCE"]

#: written once by ``Rscript book/primer/r/primer_reference.R``; the book only reads it
R_REFERENCE = BOOK_DIR / "primer" / "r" / "primer_R.json"


def synthetic_cohort() -> pd.DataFrame:
    """The book's generated cohort (no patient data), one row per patient, with the derived columns
    (``cns``, ``group``, ``os_from_cns``, ``os_from_abc``, ``death``, ...) that the chapters use.

    The primer always teaches on this file, so that every student's numbers match the page.
    """
    from analysis.cohort import load_cohort

    return load_cohort(BUNDLED_COHORT).data


@lru_cache(maxsize=1)
def _reference() -> dict:
    return json.loads(R_REFERENCE.read_text(encoding="utf-8"))


def r_reference(computation: str) -> dict:
    """R's code, printed output and numbers for one computation (``km``, ``logrank``, ``cox``,
    ``nelson_aalen``, ``rmst``); R's ``NA`` becomes NaN."""
    entry = dict(_reference()[computation])

    def clean(value):
        if isinstance(value, list):
            return [clean(v) for v in value]
        return np.nan if value == "NA" else value

    entry["numbers"] = {k: clean(v) for k, v in entry["numbers"].items()}
    entry["versions"] = f"{_reference()['r_version']}, survival {_reference()['survival_version']}"
    return entry


def synthetic_cohort_path():
    """The generated cohort's file (for ``analysis.cohort.load_cohort`` when the whole Cohort is needed)."""
    return BUNDLED_COHORT
