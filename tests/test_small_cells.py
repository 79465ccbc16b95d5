"""min_cell on a real build: no count from 1 to min_cell - 1 in any table of any page or in results.json."""

from __future__ import annotations

import html
import json
import re

import pytest

from analysis.build import build_book
from analysis.paper.comparison import kind_of
from conftest import BOOK_COHORT

MIN_CELL = 5
# a count cell: "3", or "3 (4.3%)" with its share
COUNT_CELL = re.compile(r"(\d+)(?:[ \u00a0]\([^()]*%\))?")


@pytest.fixture(scope="module")
def masked_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("masked")
    return build_book(out=out, cohort=BOOK_COHORT, params={"min_cell": str(MIN_CELL)}, log=lambda _: None)


def count_tables(page_html: str):
    """(caption, cells) of each table whose note says its counts are suppressed."""
    for figure in re.findall(r"<figure class=.book-table.>.*?</figure>", page_html, re.S):
        if "are suppressed" not in figure:
            continue
        caption = re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S).group(1)
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td.*?</td>", figure, re.S)]
        yield caption, cells


def test_every_count_table_shows_small_counts_as_suppressed(masked_book):
    pages = sorted(masked_book.html_index.parent.rglob("*.html"))
    checked = 0
    for path in pages:
        for caption, cells in count_tables(path.read_text(encoding="utf-8")):
            checked += 1
            small = [c for c in cells if (m := COUNT_CELL.fullmatch(c)) and 0 < int(m.group(1)) < MIN_CELL]
            assert not small, f"{path.name}, table {caption!r}: small counts {small}"
    assert checked >= 3  # the baseline table, the log-rank table, the immortal-time table at least


def test_baseline_table_suppresses_small_groups_of_patients(masked_book):
    page = (masked_book.html_index.parent / "book" / "backgrounds.html").read_text(encoding="utf-8")
    tables = dict(count_tables(page))
    baseline = next(cells for caption, cells in tables.items() if "Characteristics at the diagnosis" in caption)
    assert f"<{MIN_CELL}" in baseline  # the bundled cohort has groups of 13 and 19: some cells are small


def test_results_json_has_no_small_counts(masked_book):
    results = json.loads(masked_book.results_json.read_text(encoding="utf-8"))
    small = {k: v for k, v in results.items()
             if kind_of(k, parent_has_hr=False) == "count" and isinstance(v, int) and 0 < v < MIN_CELL}
    assert not small


def test_results_json_has_no_single_patient_values(masked_book):
    results = json.loads(masked_book.results_json.read_text(encoding="utf-8"))
    singles = {k: v for k, v in results.items()
               if (k.rsplit(".", 1)[-1] in ("min", "max") or ".survival_days" in k) and v != "withheld"}
    assert not singles
