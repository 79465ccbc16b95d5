"""Reading a cohort file (CSV, Excel .xlsx, Parquet) into text cells, before any check.

Every reader returns a :class:`RawTable` of text cells (``None`` = blank) indexed by the row number the
user sees: CSV line number (header = line 1), Excel sheet row number, Parquet 1-based record number.
Values stay text here because the checks parse them strictly themselves (a date only as YYYY-MM-DD);
typed input (Parquet, an in-memory frame) is written back as the text a person would have typed.
CSV line numbers assume no quoted field spans several lines (never the case in a cohort file). The file
is only ever opened for reading.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".pq")


class Unreadable(Exception):
    """The file cannot be read as a table at all; carries the message."""


@dataclass
class RawTable:
    """A table as text, before any check: what every reader returns and ``validate_frame`` builds."""

    cells: pd.DataFrame  # text cells or None, index = user-visible row number, columns = positions
    header: list[str | None]
    header_row: int
    note: str
    letters: bool = False  # Excel names columns A, B, ...

    def column_label(self, position: int) -> str:
        if self.letters:
            from openpyxl.utils import get_column_letter

            return get_column_letter(position + 1)
        return str(position + 1)


def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # strips a BOM when there is one
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise Unreadable(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "expected UTF-8 - save it as 'CSV UTF-8' from Excel or re-encode it"
        ) from None


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _read_csv(path: Path) -> RawTable:
    raw = path.read_bytes()
    if not raw.strip(b"\xef\xbb\xbf \t\r\n"):
        raise Unreadable(
            f"the file is empty ({len(raw)} bytes); expected a header line with the column names "
            "and one line per patient"
        )
    text = _decode_text(raw)
    sep = _sniff_delimiter(text)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if sep not in first and "\t" in first:
        raise Unreadable("the header line is separated by tabs; expected a comma- or semicolon-separated file")
    try:
        cells = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, skipinitialspace=False,
        )
    except pd.errors.ParserError as exc:
        raise Unreadable(f"cannot be read as CSV with delimiter '{sep}': {exc}") from None
    cells.index = cells.index + 1  # line numbers (no quoted line breaks assumed)
    nonblank = cells.ne("").any(axis=1)
    header_row = int(nonblank.idxmax())
    header = [str(v) for v in cells.loc[header_row]]
    body = cells.loc[header_row + 1 :]
    body = body.where(body.ne(""), None)
    label = "semicolon" if sep == ";" else "comma"
    note = f"Read as CSV ({label}-separated, UTF-8); row numbers are line numbers in the file (the header is line {header_row})."
    return RawTable(body, header, header_row, note)


def _excel_cell_text(value: object) -> str | None:
    """One cell value (Excel, or a distinct value of a typed column) as the text a person would type."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _read_xlsx(path: Path) -> RawTable:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a corrupt or non-xlsx file
        raise Unreadable(f"cannot be opened as an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = book.worksheets[0]
        rows = [[_excel_cell_text(v) for v in row] for row in sheet.iter_rows(min_row=1, values_only=True)]
        title = sheet.title
    finally:
        book.close()  # read-only workbooks keep the file open until closed
    rows_nonblank = [i for i, row in enumerate(rows) if any(v is not None and str(v).strip() for v in row)]
    if not rows_nonblank:
        raise Unreadable(f"sheet '{title}' is empty; expected a header row with the column names and one row per patient")
    width = max(len(r) for r in rows)
    cells = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], index=range(1, len(rows) + 1), dtype=object)
    header_row = rows_nonblank[0] + 1
    header = [v if v is None else str(v) for v in cells.loc[header_row]]
    note = f"Read as Excel, first sheet '{title}'; row numbers are the sheet's row numbers (the header is row {header_row})."
    return RawTable(cells.loc[header_row + 1 :], header, header_row, note, letters=True)


def _series_to_text(series: pd.Series) -> pd.Series:
    """Typed column (Parquet, data frame) -> text cells: dates as YYYY-MM-DD, whole floats as integers.

    Each distinct value is formatted once (fast on large tables).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([_excel_cell_text(v) for v in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)  # code -1 (missing) picks None


def frame_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells of a typed table, columns by position, rows numbered as 1-based records."""
    cells = pd.DataFrame({i: _series_to_text(frame.iloc[:, i]).to_numpy() for i in range(frame.shape[1])},
                         index=pd.RangeIndex(1, len(frame) + 1))
    return cells


def _read_parquet(path: Path) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError variants
        raise Unreadable(f"cannot be read as Parquet ({type(exc).__name__}: {exc})") from None
    frame = table.to_pandas(date_as_object=False)
    header = [str(c) for c in frame.columns]
    cells = frame_to_text(frame)
    note = "Read as Parquet; row numbers are 1-based record numbers (the first record is record 1)."
    return RawTable(cells, header, 0, note)


def file_format_of(path: Path) -> tuple[str, str]:
    """(format, the word for a row in messages) from the file's suffix; anything unknown is tried as CSV."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx",):
        return "xlsx", "row"
    if suffix in (".parquet", ".pq"):
        return "parquet", "record"
    return "csv", "line"


def read_cohort_file(path: Path, file_format: str) -> RawTable:
    """The file as a text table; raises :class:`Unreadable` when it is no table at all."""
    return {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet}[file_format](path)


def trimmed(text: pd.Series, missing: tuple[str, ...]) -> pd.Series:
    """Trim spaces; missing-value markers become None. Strips each distinct value once (fast)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    cleaned = np.array([None if (v := str(u).strip()) in missing else v for u in uniques] + [None], dtype=object)
    return pd.Series(cleaned[codes], index=text.index, dtype=object)  # code -1 (NA) picks the final None
