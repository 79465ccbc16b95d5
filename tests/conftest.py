"""Shared fixtures: the real book is built once per test session (about 40 s)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.build import build_book
from analysis.paths import BUNDLED_COHORT, PROJECT_ROOT

# R's reference results on real and edge-case data, with the R script that made them (tests/reference)
REFERENCE = Path(__file__).resolve().parent / "reference"
R_LUNG = json.loads((REFERENCE / "lung_R.json").read_text())
R_EDGE = json.loads((REFERENCE / "edge_R.json").read_text())


@pytest.fixture(scope="session")
def lung():
    """R's survival::lung as in the reference folder (event = 1 for death)."""
    return pd.read_csv(REFERENCE / "lung.csv")


@pytest.fixture(scope="session")
def edge():
    """The ten made-up edge-case rows of the reference folder."""
    return pd.read_csv(REFERENCE / "edge.csv")


# BOOK_TEST_COHORT runs the book checks on another cohort file (default: the bundled one)
BOOK_COHORT = Path(os.environ.get("BOOK_TEST_COHORT", BUNDLED_COHORT))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built from BOOK_COHORT into a temporary folder (a BuildResult)."""
    out = tmp_path_factory.mktemp("book")
    return build_book(out=out, cohort=BOOK_COHORT, log=lambda _: None)


def patient_level_strings(cohort: pd.DataFrame) -> set[str]:
    """Every patient id and date of a cohort, less the study-level dates the Methods page states."""
    needles = set(cohort["patient_id"].dropna().astype(str))
    for column in ("abc_date", "cns_date", "last_contact_date", "subsequent_systemic_start_date"):
        if column in cohort:
            needles |= set(cohort[column].dropna().astype(str))
    stated = (PROJECT_ROOT / "data" / "paper-interpretation.yaml").read_text()
    return {n for n in needles if n} - set(re.findall(r"\d{4}-\d{2}-\d{2}", stated))


def assert_no_patient_data(out: Path, cohort: pd.DataFrame) -> None:
    """No output file of a build (HTML, JSON, notebooks) contains a patient id or date."""
    needles = patient_level_strings(cohort)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".ipynb", ".txt", ".js"}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            leaked = sorted(n for n in needles if n in text)
            assert not leaked, f"{path}: {leaked[:5]}"
