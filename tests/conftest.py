"""Shared fixtures: the real book is built once per test session (about 40 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.build import PROJECT_ROOT, build_book

# BOOK_TEST_COHORT runs the book checks on another cohort file (default: the bundled one)
BOOK_COHORT = Path(os.environ.get("BOOK_TEST_COHORT", PROJECT_ROOT / "data" / "synthetic_cohort.csv"))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built from BOOK_COHORT into a temporary folder (a BuildResult)."""
    out = tmp_path_factory.mktemp("book")
    return build_book(out=out, cohort=BOOK_COHORT, log=lambda _: None)
