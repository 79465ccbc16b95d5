"""Take-away tables (issue "Your cohort, your report", point 5): every table a page shows has a
CSV link under it (the chapters' and the static pages': methods, data dictionary, rerun, critique,
scorecard), and the build writes all of them into <out>/tables.xlsx with their captions and notes and
the masked values (min_cell 5 on a 60-patient synthetic cohort), never the raw counts; the workbook's
bytes follow its tables only (no time of the build in it).

A "table" is one of the book's tables (``<figure class='book-table'>``): the pandas output of a
primer exercise's solution code and the teachers' page's Markdown timetable are not take-away tables."""

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


STATIC_PAGES = ("methods", "data_dictionary", "rerun", "critique", "scorecard")


def test_every_table_on_every_page_has_its_csv_link(built):
    pages = sorted((built.out / "html" / "book").rglob("*.html"))
    missing = {}
    for page in pages:
        tables = page.read_text(encoding="utf-8").count("<figure class='book-table")
        if tables != len(_links(page)):
            missing[page.stem] = (tables, len(_links(page)))
    assert not missing, missing  # page: (tables, links)
    for stem in STATIC_PAGES:
        assert _links(built.out / "html" / "book" / f"{stem}.html"), stem


def test_workbook_has_the_static_pages_tables_with_captions_and_notes(built):
    from openpyxl import load_workbook

    book = load_workbook(built.out / "tables.xlsx")
    origin: dict = {}  # page -> its first sheet
    for ws in book:
        origin.setdefault(ws["A2"].value.split(",")[0].removeprefix("Chapter: book/"), ws)
    for stem in STATIC_PAGES:
        assert stem in origin, (stem, sorted(origin))
    dictionary = origin["data_dictionary"]
    assert dictionary["A1"].value == "Columns of a cohort file"
    cells = [v for row in dictionary.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert "patient_id" in cells  # the names as a file has them (no code markup, no words)
    assert any(v.startswith("Required: every row must have a value") for v in cells)  # the page's note


def test_workbook_bytes_follow_the_tables_not_the_clock(tmp_path):
    import time

    from analysis.build.tables import write_workbook

    tables = [{"caption": "A table", "notes": ["A note."], "docname": "book/x", "number": 1,
               "rows": [["group", "patients"], ["B", "<5"], ["L", "12"]]}]
    write_workbook(tables, tmp_path / "one.xlsx")
    time.sleep(1.1)  # openpyxl stamps the time of saving, to the second
    write_workbook(tables, tmp_path / "two.xlsx")
    assert (tmp_path / "one.xlsx").read_bytes() == (tmp_path / "two.xlsx").read_bytes()
