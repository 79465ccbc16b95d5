"""Every path the package uses, in one module (as cookiecutter-data-science's ``config.py``).

The bottom layer: imports nothing of the package. ``PROJECT_ROOT`` is the folder holding the book's
sources (``_config.yml``, ``_toc.yml``, ``book/``, ``data/``, ``vendor/``): the checkout the package
sits in, or, for a regular ``pip install .``, the copy shipped inside the package
(``analysis/_book``, see ``setup.py``). An installed book is built into ``./_build`` of the
folder the command runs in, never into the installation.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_SHIPPED_BOOK = PACKAGE_DIR / "_book"
#: True when the book's sources come with an installed package rather than a checkout
INSTALLED = not (PACKAGE_DIR.parent / "_toc.yml").is_file() and (_SHIPPED_BOOK / "_toc.yml").is_file()
PROJECT_ROOT = _SHIPPED_BOOK if INSTALLED else PACKAGE_DIR.parent

DATA_DIR = PROJECT_ROOT / "data"
PUBLISHED_PATH = DATA_DIR / "published-statistics.yaml"
INTERPRETATION_PATH = DATA_DIR / "paper-interpretation.yaml"
BUNDLED_COHORT = DATA_DIR / "synthetic_cohort.csv"
COHORT_TEMPLATE = DATA_DIR / "cohort_template.csv"
SCHEMA_PATH = PACKAGE_DIR / "cohort" / "schema.yaml"

BOOK_DIR = PROJECT_ROOT / "book"


def default_out() -> Path:
    """Where a build goes without ``--out``: ``_build`` of the checkout, or of the working folder."""
    return (Path.cwd() if INSTALLED else PROJECT_ROOT) / "_build"
