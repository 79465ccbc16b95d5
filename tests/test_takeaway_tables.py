"""Take-away tables (issue "Your cohort, your report", point 5): every table a chapter shows has a
CSV link under it, and the build writes all of them into <out>/tables.xlsx with the masked values
(min_cell 5 on a 60-patient synthetic cohort), never the raw counts."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import unquote

import pytest

from analysis.build import build_book


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    cohort = folder / "sixty.csv"
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--n-patients", "60", "--seed", "5", "--out",
                    str(cohort)], check=True, capture_output=True)
    return build_book(out=folder / "out", cohort=cohort, params={"min_cell": "5"}, log=lambda _: None)


def _links(page) -> list[tuple[str, str]]:
    return re.findall(r"<a href=\"data:text/csv;charset=utf-8,([^\"]*)\" download=\"([^\"]+)\">", page.read_text())


def test_a_csv_link_under_each_table_holds_the_table(built):
    page = built.out / "html" / "book" / "treatments.html"
    links = _links(page)
    assert links and all(name.startswith("book__treatments__") for _, name in links)
    text = unquote(links[0][0]).lstrip("\ufeff")
    assert text.count("\n") >= 2 and "," in text.splitlines()[0]
    # as many links as tables on the page
    assert len(links) == page.read_text().count("<figure class='book-table")


def test_workbook_has_every_table_with_masked_values(built):
    from openpyxl import load_workbook

    book = load_workbook(built.out / "tables.xlsx")
    written = sorted((built.results_json.parent / "results" / "tables").glob("*.csv"))
    assert len(book.sheetnames) == len(written) > 10
    cells = [v for ws in book for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert any(isinstance(v, str) and "<5" in v for v in cells)  # masked counts are in, as masked
    masked_tables = [ws for ws in book if any(isinstance(v, str) and "<5" in v
                                              for row in ws.iter_rows(values_only=True) for v in row)]
    assert masked_tables
    for ws in masked_tables:  # each carries the page's note on suppression
        notes = [row[0] for row in ws.iter_rows(values_only=True) if row and isinstance(row[0], str)]
        assert ws["A1"].value and len(notes) >= 2
    # no raw count from 1 to 4 in a count table's cells: the treatments and baseline tables are masked
    for ws in book:
        if "treatments" in ws.title:
            rows = list(ws.iter_rows(values_only=True))
            ours = [i for i, name in enumerate(rows[3]) if i and name != "Paper"]  # the paper's own figures may be small
            for row in rows[4:]:
                assert not any(isinstance(row[i], int) and 1 <= row[i] <= 4 for i in ours), (ws.title, row)
