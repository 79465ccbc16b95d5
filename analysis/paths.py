"""Every path the package uses, in one module (as cookiecutter-data-science's ``config.py``).

The bottom layer: imports nothing of the package. ``PROJECT_ROOT`` is the folder holding the book's
sources (``_config.yml``, ``_toc.yml``, ``book/``, ``data/``); the package's own files (the cohort
schema) are found beside the modules.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent

DATA_DIR = PROJECT_ROOT / "data"
PUBLISHED_PATH = DATA_DIR / "published-statistics.yaml"
INTERPRETATION_PATH = DATA_DIR / "paper-interpretation.yaml"
BUNDLED_COHORT = DATA_DIR / "synthetic_cohort.csv"
COHORT_TEMPLATE = DATA_DIR / "cohort_template.csv"
SCHEMA_PATH = PACKAGE_DIR / "cohort" / "schema.yaml"

BOOK_DIR = PROJECT_ROOT / "book"
DEFAULT_OUT = PROJECT_ROOT / "_build"
