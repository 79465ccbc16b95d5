"""Read exactly what is stored, or refuse: hostile and damaged cohort files (analysis.cohort reading).

Each test builds the file it needs, asserts the message (file, column, row, value, what to do) and that
the problem is in the report, never a traceback; ``test_bad_files_are_never_modified`` checks the bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli
from analysis.cohort import excel
from analysis.cohort.load import load_cohort, validate_cohort
from test_cohort import NAMES, TODAY, base_rows, only_problem, with_changes, write_csv, write_parquet, write_xlsx


def kinds(report) -> list[str]:
    return [p.kind for p in report.errors]


# ----------------------------------------------------------------------------------------- 1 control characters
def test_nul_byte_in_csv_id_is_refused_not_cut(tmp_path):
    report = validate_cohort(write_csv(tmp_path / "c.csv", with_changes({1: {"patient_id": "SYN\x00123"}})),
                             today=TODAY)
    problem, text = only_problem(report, "control_character")
    assert (problem.column, problem.rows) == ("patient_id", [3])
    assert "c.csv: column 'patient_id', line 3: contains a control character 'SYN\\x00123'" in text
    assert kinds(report) == ["control_character"]  # not also "missing value"


def test_control_characters_in_other_cells_and_the_header(tmp_path):
    rows = with_changes({0: {"histology": "IDC\x07"}, 2: {"age_at_abc": "6\x1b6"}})
    path = write_csv(tmp_path / "c.csv", rows, columns=NAMES[:-1] + ["cause_of_death\x7f"])
    report = validate_cohort(path, today=TODAY)
    texts = [str(p) for p in report.errors if p.kind == "control_character"]
    assert any("column 'histology', line 2: contains a control character 'IDC\\x07'" in t for t in texts), texts
    assert any("column 'age_at_abc', line 4: contains a control character '6\\x1b6'" in t for t in texts), texts
    assert any(f"file, line 1: the header has a column name with a control character (column {len(NAMES)} "
               "'cause_of_death\\x7f')" in t for t in texts), texts
    assert "not_a_number" not in kinds(report) and "unknown_category" not in kinds(report)


def test_line_breaks_allowed_in_ignored_columns_only(tmp_path):
    rows = [{**r, "notes": "first line\nsecond\tline"} for r in base_rows()]
    assert validate_cohort(write_csv(tmp_path / "ok.csv", rows, columns=NAMES + ["notes"]), today=TODAY).ok
    rows[0]["notes"] = "bad\x00"
    report = validate_cohort(write_csv(tmp_path / "bad.csv", rows, columns=NAMES + ["notes"]), today=TODAY)
    _, text = only_problem(report, "control_character")
    assert "column 'notes', line 2: contains a control character 'bad\\x00'" in text


def test_nul_in_parquet_string(tmp_path):
    report = validate_cohort(write_parquet(tmp_path / "c.parquet", with_changes({3: {"patient_id": "A\x00B"}})),
                             today=TODAY)
    _, text = only_problem(report, "control_character")
    assert "c.parquet: column 'patient_id', record 4: contains a control character 'A\\x00B'" in text


# ----------------------------------------------------------------------------------------- 2 merged cells
def test_merged_cells_are_refused_with_the_range(tmp_path):
    import openpyxl

    path = write_xlsx(tmp_path / "m.xlsx", base_rows())
    book = openpyxl.load_workbook(path)
    column = NAMES.index("histology") + 1
    letter = openpyxl.utils.get_column_letter(column)
    book.active.merge_cells(f"{letter}2:{letter}5")  # the histology of four patients
    book.save(path)
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "merged_cells")
    assert f"m.xlsx: file: the sheet has 1 merged cell range ({letter}2:{letter}5 (column 'histology'))" in text
    assert "Unmerge Cells, and fill every cell with its value" in text
    assert kinds(report) == ["merged_cells"]  # the blanked cells are not reported again


# ----------------------------------------------------------------------------------------- 3 sheets
def _two_sheets(path: Path, second_rows: list[dict[str, str]] | None) -> Path:
    import openpyxl

    write_xlsx(path, base_rows()[:3])
    book = openpyxl.load_workbook(path)
    extra = book.create_sheet("more patients")
    if second_rows:
        extra.append(NAMES)
        for row in second_rows:
            extra.append([row.get(n) or None for n in NAMES])
    book.save(path)
    return path


def test_several_sheets_with_values_are_refused_unless_one_is_named(tmp_path, capsys):
    path = _two_sheets(tmp_path / "two.xlsx", base_rows()[3:])
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "several_sheets")
    assert "the workbook has 2 sheets with values ('patients', 'more patients')" in text
    assert "--sheet NAME" in text
    first = validate_cohort(path, today=TODAY, sheet="patients")
    assert first.ok and first.n_rows == 3 and "sheet 'patients' (as named)" in first.reading_note
    assert len(load_cohort(path, today=TODAY, sheet="more patients").data) == 2
    assert cli.main(["validate", str(path), "--sheet", "more patients"]) == 0
    assert "two.xlsx: valid, 2 patients." in capsys.readouterr().out


def test_an_empty_extra_sheet_is_fine_and_a_lone_sheet_with_values_is_read(tmp_path):
    import openpyxl

    report = validate_cohort(_two_sheets(tmp_path / "one.xlsx", None), today=TODAY)
    assert report.ok and "first sheet 'patients'" in report.reading_note
    path = write_xlsx(tmp_path / "second.xlsx", base_rows())
    book = openpyxl.load_workbook(path)
    book.create_sheet("cover", 0)  # an empty sheet before the data
    book.save(path)
    report = validate_cohort(path, today=TODAY)
    assert report.ok and report.n_rows == 5
    assert "sheet 'patients' (the only sheet with values)" in report.reading_note


def test_unknown_sheet_and_sheet_for_csv(tmp_path):
    path = _two_sheets(tmp_path / "two.xlsx", base_rows()[3:])
    _, text = only_problem(validate_cohort(path, sheet="Patients"), "no_such_sheet")
    assert "the workbook has no sheet 'Patients' (did you mean 'patients'? names are exact); its sheets are " \
           "'patients', 'more patients'" in text
    report = validate_cohort(write_csv(tmp_path / "c.csv", base_rows()), today=TODAY, sheet="patients")
    _, text = only_problem(report, "sheet_not_applicable")
    assert "a sheet ('patients') was named, but a csv file has no sheets" in text


# ----------------------------------------------------------------------------------------- 4 formulas
def test_formula_without_stored_value_and_error_values(tmp_path):
    import openpyxl

    path = write_xlsx(tmp_path / "f.xlsx", base_rows())
    book = openpyxl.load_workbook(path)
    age = openpyxl.utils.get_column_letter(NAMES.index("age_at_abc") + 1)
    book.active[f"{age}3"] = "=50+8"  # openpyxl stores no result: nothing calculated it
    book.active[f"{age}4"] = "#N/A"
    book.save(path)
    report = validate_cohort(path, today=TODAY)
    _, text = only_problem(report, "formula_without_value")
    assert f"f.xlsx: column 'age_at_abc', row 3: formula without a stored result" in text
    assert f"(cell {age}3)" in text and "save it again, or paste the column as values" in text
    _, text = only_problem(report, "excel_error")
    assert "column 'age_at_abc', row 4: Excel error value '#N/A'" in text
    assert sorted(kinds(report)) == ["excel_error", "formula_without_value"]


# ----------------------------------------------------------------------------------------- 5 duplicate ids
@pytest.mark.parametrize("other", ["fake-0001", "FAKE\u200b-0001", "ＦＡＫＥ-０００１", "FAKE\u00ad-0001"])
def test_ids_equal_after_normalisation_are_duplicates(tmp_path, other):
    report = report_for_rows(tmp_path, {3: {"patient_id": other}})
    problem, text = only_problem(report, "duplicate_id")
    assert problem.rows == [5]
    assert "ids are compared ignoring case, full-width forms and invisible characters" in text
    assert "(also on line 2 as 'FAKE-0001')" in text


def report_for_rows(tmp_path, changes, name="cohort.csv"):
    return validate_cohort(write_csv(tmp_path / name, with_changes(changes)), today=TODAY)


# ----------------------------------------------------------------------------------------- 6 digits
def test_non_ascii_digits_in_dates_and_numbers(tmp_path):
    report = report_for_rows(tmp_path, {0: {"abc_date": "٢٠١٢-٠٤-١٠"}, 1: {"age_at_abc": "٥٨"},
                                        2: {"lung_mets_at_abc": "１"}})
    texts = {p.column: str(p) for p in report.errors if p.kind == "non_ascii_digits"}
    assert "line 2: written with digits other than 0-9 (e.g. Arabic-Indic or full-width) '٢٠١٢-٠٤-١٠'; " \
           "expected a date written YYYY-MM-DD (e.g. 2015-03-31), with the digits 0-9" in texts["abc_date"]
    assert "line 3: written with digits other than 0-9" in texts["age_at_abc"] and "'٥٨'" in texts["age_at_abc"]
    assert "line 4" in texts["lung_mets_at_abc"] and "'１'" in texts["lung_mets_at_abc"]
    assert sorted(kinds(report)) == ["non_ascii_digits"] * 3


# ----------------------------------------------------------------------------------------- 7 integer forms
@pytest.mark.parametrize("written", ["62.0", "6.2e1", "+62", "62e0"])
def test_integers_as_text_must_be_plain_digits(tmp_path, written):
    report = report_for_rows(tmp_path, {0: {"age_at_abc": written}})
    _, text = only_problem(report, "not_plain_digits")
    assert f"column 'age_at_abc', line 2: whole number not written as plain digits '{written}'; expected a whole " \
           "number, written as plain digits (62, not 62.0, 6.2e1 or +62; 0, not -0)." in text
    assert kinds(report) == ["not_plain_digits"]


@pytest.mark.parametrize("written", ["-0", "+0", "0.0", "1.0"])
def test_flags_as_text_must_be_plain_digits(tmp_path, written):
    _, text = only_problem(report_for_rows(tmp_path, {0: {"cns_symptoms": written}}), "not_plain_digits")
    assert f"'{written}'; expected 0 or 1, written as plain digits" in text


def test_what_integer_columns_accept(tmp_path):
    cohort = load_cohort(write_csv(tmp_path / "ok.csv", with_changes({0: {"age_at_abc": " 58 "},
                                                                      2: {"ecog_at_cns": "01"}})), today=TODAY)
    assert cohort.data.loc[2, "age_at_abc"] == 58 and cohort.data.loc[4, "ecog_at_cns"] == 1
    report = report_for_rows(tmp_path, {0: {"age_at_abc": "-5"}, 1: {"age_at_abc": "9" * 30}})
    problem, _ = only_problem(report, "out_of_range")  # numbers, just out of range (never wrapped around)
    assert problem.rows == [2, 3]


def test_typed_whole_floats_are_whole_numbers_but_excel_text_is_text(tmp_path):
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = write_xlsx(tmp_path / "x.xlsx", base_rows())
    book = openpyxl.load_workbook(path)
    age = openpyxl.utils.get_column_letter(NAMES.index("age_at_abc") + 1)
    book.active[f"{age}2"] = 58.0  # a number cell: Excel stores 58 as the float 58.0
    book.save(path)
    assert load_cohort(path, today=TODAY).data.loc[2, "age_at_abc"] == 58
    book.active[f"{age}2"] = "58.0"  # a text cell
    book.save(path)
    _, text = only_problem(validate_cohort(path, today=TODAY), "not_plain_digits")
    assert "row 2" in text and "'58.0'" in text
    table = pq.read_table(write_parquet(tmp_path / "p.parquet", base_rows()))
    index = table.schema.get_field_index("age_at_abc")
    table = table.set_column(index, "age_at_abc", table.column(index).cast(pa.float64()))
    pq.write_table(table, tmp_path / "p.parquet")
    assert load_cohort(tmp_path / "p.parquet", today=TODAY).data["age_at_abc"].tolist() == [58, 47, 66, 52, 71]


# ----------------------------------------------------------------------------------------- 8 limits
_SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
               b'spreadsheetml/2006/main"><sheetData>')


def _replace_sheet(path: Path, out: Path, chunks) -> Path:
    """``path`` with its first sheet's XML replaced by the bytes of ``chunks``, streamed (modest memory)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with target.open(info.filename, "w") as sheet:
                    for chunk in chunks:
                        sheet.write(chunk)
            else:
                target.writestr(info, source.read(info.filename))
    return out


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """An .xlsx whose sheet XML is 320 MB of repeated rows, compressed to well under 1 MB."""
    folder = tmp_path_factory.mktemp("bomb")
    row = b"<row>" + b'<c t="inlineStr"><is><t>FAKE-0001</t></is></c>' * 26 + b"</row>"
    block = row * (2**20 // len(row))
    chunks = [_SHEET_HEAD] + [block] * 320 + [b"</sheetData></worksheet>"]
    return _replace_sheet(write_xlsx(folder / "base.xlsx", base_rows()), folder / "bomb.xlsx", chunks)


def test_zip_bomb_is_refused_within_seconds(bomb):
    assert bomb.stat().st_size < 4 * 2**20
    start = time.perf_counter()
    report = validate_cohort(bomb, today=TODAY)
    elapsed = time.perf_counter() - start
    _, text = only_problem(report, "too_large")
    assert "part 'xl/worksheets/sheet1.xml' of the workbook is compressed" in text
    assert "more than the limit of 100 to 1 (MAX_COMPRESSION_RATIO): a zip bomb or a damaged file" in text
    assert elapsed < 2.0, elapsed


def test_unpacked_size_limit(bomb, monkeypatch):
    monkeypatch.setattr(excel, "MAX_COMPRESSION_RATIO", 10**6)
    start = time.perf_counter()
    _, text = only_problem(validate_cohort(bomb, today=TODAY), "too_large")
    assert "the workbook unpacks to 320 MB, more than the limit of 256 MB for an .xlsx cohort file " \
           "(MAX_UNPACKED_BYTES); export the table as CSV UTF-8 instead" in text
    assert time.perf_counter() - start < 2.0


def test_declared_dimension_and_cell_count_limits(tmp_path, monkeypatch):
    with zipfile.ZipFile(write_xlsx(tmp_path / "b.xlsx", base_rows())) as book:
        xml = book.read("xl/worksheets/sheet1.xml")
    dimension = re.search(rb"<dimension [^>]*>", xml).group(0)
    declared = xml.replace(dimension, b'<dimension ref="A1:XFD1048576"/>')
    path = _replace_sheet(tmp_path / "b.xlsx", tmp_path / "declared.xlsx", [declared])
    _, text = only_problem(validate_cohort(path, today=TODAY), "too_large")
    assert "sheet 'patients' declares a range of 1,048,576 rows x 16,384 columns (17,179,869,184 cells), " \
           "more than the limit of 5,000,000 cells (MAX_CELLS)" in text
    undeclared = _replace_sheet(tmp_path / "b.xlsx", tmp_path / "none.xlsx",
                                [xml.replace(dimension, b"")])
    assert validate_cohort(undeclared, today=TODAY).ok
    monkeypatch.setattr(excel, "MAX_CELLS", 100)
    _, text = only_problem(validate_cohort(undeclared, today=TODAY), "too_large")
    assert "sheet 'patients' has more than 100 cells, more than the limit of 100 cells (MAX_CELLS)" in text


def test_rows_beyond_a_wrong_dimension_are_read(tmp_path):
    with zipfile.ZipFile(write_xlsx(tmp_path / "b.xlsx", base_rows())) as book:
        xml = book.read("xl/worksheets/sheet1.xml")
    xml = xml.replace(re.search(rb"<dimension [^>]*>", xml).group(0), b'<dimension ref="A1:C3"/>')
    report = validate_cohort(_replace_sheet(tmp_path / "b.xlsx", tmp_path / "wrong.xlsx", [xml]), today=TODAY)
    assert report.ok and report.n_rows == 5  # openpyxl's own reader gives 2 patients of 3 columns


# ----------------------------------------------------------------------------------------- 9 long values
def test_long_values_are_cut_in_messages(tmp_path):
    huge = "x" * 10_000_000
    report = report_for_rows(tmp_path, {0: {"histology": huge}, 1: {"age_at_abc": "9" * 5000 + "a"}})
    text = report.format()
    assert len(text) < 3000
    assert f"line 2: unknown category '{'x' * 60}…'" in text
    assert f"line 3: not a number '{'9' * 60}…'" in text


# ----------------------------------------------------------------------------------------- 10 nested Parquet
def test_nested_parquet_columns_are_refused_by_name(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(write_parquet(tmp_path / "n.parquet", base_rows()))
    index = table.schema.get_field_index("histology")
    table = table.set_column(index, "histology", pa.array([["IDC"], ["ILC"], [], ["IDC", "x"], None]))
    table = table.append_column("extra", pa.array([{"a": 1}] * 5))
    table = table.append_column("blob", pa.array([b"\x00"] * 5, type=pa.binary()))
    pq.write_table(table, tmp_path / "n.parquet")
    report = validate_cohort(tmp_path / "n.parquet", today=TODAY)
    texts = {p.column: str(p) for p in report.errors if p.kind == "nested_column"}
    assert texts["histology"] == ("n.parquet: column 'histology': the column has the Parquet type list<element: string>, "
                                  "which holds no single value per record; expected a flat column of text, numbers "
                                  "or dates (flatten or drop it before exporting).")
    assert "struct<a: int64>" in texts["extra"] and "binary" in texts["blob"]
    assert sorted(kinds(report)) == ["nested_column"] * 3


# ----------------------------------------------------------------------------------------- never modified
def test_bad_files_are_never_modified(tmp_path, bomb):
    import openpyxl

    merged = write_xlsx(tmp_path / "m.xlsx", base_rows())
    book = openpyxl.load_workbook(merged)
    book.active.merge_cells("R2:R5")
    book.active["G3"] = "=1+1"
    book.save(merged)
    files = [merged, bomb, _two_sheets(tmp_path / "two.xlsx", base_rows()[3:]),
             write_csv(tmp_path / "c.csv", with_changes({0: {"patient_id": "A\x00"}, 1: {"age_at_abc": "٥٨"}}))]
    for path in files:
        before = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
        assert not validate_cohort(path, today=TODAY).ok
        assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before, path
