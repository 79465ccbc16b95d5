"""Reading an Excel .xlsx cohort file exactly as it is stored, or refusing it.

An .xlsx file is a zip archive of XML parts, and what a person sees in Excel is not always what is
stored. The decisions, each for a problem found with real exports:

* **Size limits, checked before any XML is parsed** (a 4 MB zip bomb once kept the reader busy for minutes
  at 1.1 GB): the archive may unpack to at most ``MAX_UNPACKED_BYTES`` in all, and no part larger than
  1 MiB may be compressed more than ``MAX_COMPRESSION_RATIO`` to 1 (sheet XML compresses about 10 to 1;
  Apache POI refuses files above 100 to 1 for the same reason). Python's zipfile never unpacks more than
  a part's declared size, so the declared sizes are a real bound. The sheet's declared range
  (``<dimension>``) and then the cells actually parsed may be at most ``MAX_CELLS`` (about 190,000
  patients of 26 columns), within Excel's own ``MAX_ROWS`` x ``MAX_COLUMNS``. Each message names the
  limit; a larger cohort can be exported as CSV. (Entity-expansion XML bombs are refused by expat.)
* **One sheet.** A workbook with more than one sheet holding values is refused unless the caller names
  the sheet (``sheet=``, ``--sheet``): patients split over two sheets were read half. Empty sheets are
  ignored; when only one sheet has values, that sheet is read.
* **Merged cells are refused**, naming each range: Excel keeps a merged range's value only in its first
  cell and the others are blank in the file, so reading "exactly" would blank patients' values (four
  histologies were lost this way) and filling the range would guess what the merge meant (the same
  value for each row, or a heading). The fix is the user's: unmerge and fill every cell.
* **Formulas without a stored result are refused** (a file written by a program that does not
  calculate); a formula's stored result is read, as Excel shows it. Error values (``#REF!``) are refused.
* The declared range is only a limit here, never used to cut the sheet (openpyxl's own reader drops
  rows and columns outside a wrong ``<dimension>``): every stored cell is read.

The sheet is parsed with openpyxl's streaming ``WorkSheetParser`` (the one its read-only mode uses), so
values, dates and number formats are exactly openpyxl's.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.cohort.reading import RawTable, Unreadable, cell_text, exception_text, header_at

MAX_UNPACKED_BYTES = 256 * 2**20
MAX_COMPRESSION_RATIO = 100
_RATIO_MIN_BYTES = 2**20  # small parts (styles, theme) are bounded by the total; their ratio is not a risk
MAX_CELLS = 5_000_000
MAX_ROWS = 1_048_576  # Excel's sheet size: a sheet beyond it was not saved by Excel
MAX_COLUMNS = 16_384

_CSV_INSTEAD = "export the table as CSV UTF-8 instead (no such limit)"


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n:,} bytes"


def check_archive(path: Path) -> None:
    """Refuse an archive that would unpack to too much, before any part of it is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable(f"cannot be opened as an Excel .xlsx workbook ({exception_text(exc)})") from None
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _RATIO_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise Unreadable(
                f"part '{part.filename}' of the workbook is compressed {ratio:,.0f} to 1 ({_mb(part.compress_size)} "
                f"unpacking to {_mb(part.file_size)}), more than the limit of {MAX_COMPRESSION_RATIO} to 1 "
                "(MAX_COMPRESSION_RATIO): a zip bomb or a damaged file, not read; "
                f"if it is a real cohort, {_CSV_INSTEAD}", kind="too_large")
    total = sum(p.file_size for p in parts)
    if total > MAX_UNPACKED_BYTES:
        raise Unreadable(f"the workbook unpacks to {_mb(total)}, more than the limit of {_mb(MAX_UNPACKED_BYTES)} "
                         f"for an .xlsx cohort file (MAX_UNPACKED_BYTES); {_CSV_INSTEAD}", kind="too_large")


def _parser_class():
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class CellParser(WorkSheetParser):
        """openpyxl's parser, telling a formula without a stored result from a blank cell."""

        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # data_only gives None for both. A formula whose stored result is the empty text has t="str";
            # any other formula without a <v> text (openpyxl itself writes <v></v>) was never calculated
            if (cell["value"] is None and element.find(FORMULA_TAG) is not None
                    and not (element.get("t") == "str" and element.find(VALUE_TAG) is not None)):
                cell["data_type"] = "formula_without_value"
            return cell

    return CellParser


@dataclass
class _Sheet:
    title: str
    rows: dict[int, dict[int, str]] = field(default_factory=dict)  # row number -> position -> text
    flagged: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    merged: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    @property
    def has_values(self) -> bool:
        return any(v.strip() for row in self.rows.values() for v in row.values()) or bool(self.flagged)


def _too_large(title: str, what: str, limit: str) -> Unreadable:
    return Unreadable(f"sheet '{title}' {what}, more than the limit of {limit}; delete the unused rows and "
                      f"columns, or {_CSV_INSTEAD}", kind="too_large")


def _read_sheet(book, sheet, first_value_only: bool = False) -> _Sheet:
    """Every stored cell of ``sheet`` as text; with ``first_value_only``, stop at the first value."""
    from openpyxl.utils import range_boundaries

    title = sheet.title
    declared = (sheet.max_row or 0) * (sheet.max_column or 0)  # the sheet's <dimension>, when it has one
    if declared > MAX_CELLS:
        raise _too_large(title, f"declares a range of {sheet.max_row:,} rows x {sheet.max_column:,} columns "
                         f"({declared:,} cells)", f"{MAX_CELLS:,} cells (MAX_CELLS)")
    result = _Sheet(title)
    parsed = 0
    with sheet._get_source() as source:
        parser = _parser_class()(source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                                 date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for number, cells in parser.parse():
            parsed += len(cells) + 1  # an empty <row/> is work too
            if parsed > MAX_CELLS:
                raise _too_large(title, f"has more than {MAX_CELLS:,} cells", f"{MAX_CELLS:,} cells (MAX_CELLS)")
            if number > MAX_ROWS:
                raise _too_large(title, f"has a row {number:,}", f"{MAX_ROWS:,} rows (Excel's own)")
            row = result.rows.setdefault(number, {})
            for cell in cells:
                column, value, kind = cell["column"], cell["value"], cell["data_type"]
                if column > MAX_COLUMNS:
                    raise _too_large(title, f"has a column {column:,}", f"{MAX_COLUMNS:,} columns (Excel's own)")
                if kind in ("formula_without_value", "e"):
                    result.flagged.setdefault("formula_without_value" if kind != "e" else "excel_error",
                                              []).append((number, column - 1))
                if value is not None:
                    row[column - 1] = cell_text(value)
            if first_value_only and result.has_values:
                return result
        if parser.merged_cells is not None:
            for merged in parser.merged_cells.mergeCell:
                result.merged.append((str(merged.ref), *range_boundaries(str(merged.ref))))
    return result


def _table(sheet: _Sheet, note_sheet: str, header_row: int | None = None) -> RawTable:
    rows = {n: row for n, row in sheet.rows.items() if row}
    last_row = max(rows, default=0)
    width = 1 + max((p for row in rows.values() for p in row), default=-1)
    if last_row * width > MAX_CELLS:  # the dense table built below; e.g. one stray cell in column XFD
        raise _too_large(sheet.title, f"has values in a range of {last_row:,} rows x {width:,} columns",
                         f"{MAX_CELLS:,} cells (MAX_CELLS)")
    nonblank = [n for n, row in rows.items() if any(v.strip() for v in row.values())]
    if not nonblank:
        raise Unreadable(f"sheet '{sheet.title}' is empty; expected a header row with the column names and one row "
                         "per patient")
    dense = []
    for n in range(1, last_row + 1):
        line = [None] * width
        for position, value in rows.get(n, {}).items():
            line[position] = value
        dense.append(line)
    cells = pd.DataFrame(dense, index=range(1, last_row + 1), columns=range(width), dtype=object)
    filled = pd.Series([n in nonblank for n in cells.index], index=cells.index)
    header_row = header_at(filled, header_row, "row")
    header = [v if v is None else str(v) for v in cells.loc[header_row]]
    note = (f"Read as Excel, {note_sheet}; row numbers are the sheet's row numbers "
            f"(the header is row {header_row}).")
    # rows above the header (a title, often merged across the columns) are not part of the table
    flagged = {kind: [(r, c) for r, c in cells_ if r >= header_row] for kind, cells_ in sheet.flagged.items()}
    merged = [m for m in sheet.merged if m[4] >= header_row]
    return RawTable(cells.loc[header_row + 1:], header, header_row, note, letters=True,
                    flagged={k: v for k, v in flagged.items() if v}, merged=merged)


def read_xlsx(path: Path, sheet: str | None = None, header_row: int | None = None) -> RawTable:
    """The cohort sheet of an .xlsx workbook as text cells (see the module docstring for what is refused).

    ``sheet`` names the sheet to read; without it the workbook must have one sheet with values.
    ``header_row`` is the row of the column names (default: the first row with a value).
    """
    import openpyxl

    check_archive(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a corrupt or non-xlsx file
        raise Unreadable(f"cannot be opened as an Excel .xlsx workbook ({exception_text(exc)})") from None
    try:
        return _read_book(book, sheet, header_row)
    except Unreadable:
        raise
    except Exception as exc:  # damaged XML inside a valid zip: a message, never a traceback
        raise Unreadable(f"cannot be read as an Excel .xlsx workbook ({exception_text(exc)})") from None
    finally:
        book.close()  # read-only workbooks keep the file open until closed


def _read_book(book, sheet: str | None, header_row: int | None = None) -> RawTable:
    sheets = book.worksheets  # worksheets only: a chart sheet holds no cells
    titles = ", ".join(f"'{s.title}'" for s in sheets)
    if sheet is not None:
        chosen = [s for s in sheets if s.title == sheet]
        if not chosen:
            hint = [s.title for s in sheets if s.title.strip().casefold() == sheet.strip().casefold()]
            did_you_mean = f" (did you mean '{hint[0]}'? names are exact)" if hint else ""
            raise Unreadable(f"the workbook has no sheet '{sheet}'{did_you_mean}; its sheets are {titles}",
                             kind="no_such_sheet")
        return _table(_read_sheet(book, chosen[0]), f"sheet '{sheet}' (as named)", header_row)
    if not sheets:
        raise Unreadable("the workbook has no worksheet; expected one sheet with the cohort table")
    with_values = [s for s in sheets if _read_sheet(book, s, first_value_only=True).has_values]
    if len(with_values) > 1:
        listed = ", ".join(f"'{s.title}'" + (" (hidden)" if s.sheet_state != "visible" else "") for s in with_values)
        raise Unreadable(
            f"the workbook has {len(with_values)} sheets with values ({listed}); a cohort is one table on one "
            "sheet, and reading only the first could leave patients out: name the sheet to read (the validate "
            "command's --sheet NAME), or put all patients on one sheet and delete the others",
            kind="several_sheets")
    if not with_values or with_values[0] is sheets[0]:
        return _table(_read_sheet(book, sheets[0]), f"first sheet '{sheets[0].title}'", header_row)
    only = with_values[0]
    return _table(_read_sheet(book, only), f"sheet '{only.title}' (the only sheet with values)", header_row)
