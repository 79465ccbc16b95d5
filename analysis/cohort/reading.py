"""Reading a cohort file (CSV, Excel .xlsx, Parquet) into text cells, before any check.

Every reader returns a :class:`RawTable` of text cells (``None`` = blank) indexed by the row number the
user sees: CSV line number (header = line 1), Excel sheet row number, Parquet 1-based record number.
Values stay text here because the checks parse them strictly themselves (a date only as YYYY-MM-DD);
typed input (Parquet, an in-memory frame) is written back as the text a person would have typed.
CSV line numbers assume no quoted field spans several lines (never the case in a cohort file). The file
is only ever opened for reading.

What is stored is read exactly, or the file is refused; nothing is guessed or cut:

* A CSV containing a NUL byte is read with pandas' Python engine, because the C engine ends a cell at a
  NUL (an id ``SYN\x00123`` became ``SYN``); the cell is then refused by ``cells``.
* Excel files are read by ``excel`` (limits against zip bombs, merged cells, formulas, the sheet).
* A Parquet column of nested (list, struct, map) or binary type has no cell text a person typed: it is
  read as blank and refused by name (``RawTable.bad_columns``), never a traceback.
* Typed numbers (Excel number cells, Parquet numeric columns) are numbers: a whole float such as 62.0
  is the whole number 62, because Excel stores every number as a float. Text is kept as written.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cohort.problems import quoted_text

SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".pq")


class Unreadable(Exception):
    """The file cannot be read as a table at all (or is refused as a whole); carries the message.

    ``kind`` is the problem kind the report gives it (``unreadable``, ``too_large``, ``several_sheets``...).
    """

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


def exception_text(exc: BaseException) -> str:
    """An exception of a library as a message quotes it: type and text, the text cut to a readable length."""
    return f"{type(exc).__name__}: {quoted_text(exc, 200)}"


@dataclass
class RawTable:
    """A table as text, before any check: what every reader returns and ``validate_frame`` builds."""

    cells: pd.DataFrame  # text cells or None, index = user-visible row number, columns = positions
    header: list[str | None]
    header_row: int
    note: str
    letters: bool = False  # Excel names columns A, B, ...
    # Cells the reader refuses, by problem kind: (row number, column position); reported by ``cells``.
    flagged: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Excel merged ranges: (range as written, min column, min row, max column, max row), 1-based.
    merged: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    # Columns that have no readable cells (Parquet nested or binary types): position -> the column's type.
    bad_columns: dict[int, str] = field(default_factory=dict)

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


def header_at(nonblank: pd.Series, header_row: int | None, word: str) -> int:
    """The header's row number: the first non-blank row, or the one a mapping file names (``header_row``).

    Rows above a named header (a title, a blank line) are not read; row numbers stay the file's own.
    """
    if header_row is None:
        return int(nonblank.idxmax())
    if header_row not in nonblank.index:
        raise Unreadable(f"the mapping's header_row is {word} {header_row}, but the table has {word}s "
                         f"1 to {int(nonblank.index.max())}; expected the {word} number of the column names",
                         kind="header_row")
    if not nonblank.loc[header_row]:
        raise Unreadable(f"the mapping's header_row is {word} {header_row}, which is blank; expected the {word} "
                         "number of the column names", kind="header_row")
    return header_row


def _read_csv(path: Path, header_row: int | None = None) -> RawTable:
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
    # the C engine ends a cell at a NUL byte (an id 'SYN\x00123' reads 'SYN'); the Python engine keeps it,
    # so that the cell can be refused. Only files with a NUL take the slower engine.
    engine = "python" if "\x00" in text else "c"
    try:
        cells = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, skipinitialspace=False, engine=engine,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        raise Unreadable(f"cannot be read as CSV with delimiter '{sep}': {quoted_text(exc, 200)}") from None
    cells.index = cells.index + 1  # line numbers (no quoted line breaks assumed)
    nonblank = cells.ne("").any(axis=1)
    header_row = header_at(nonblank, header_row, "line")
    header = [str(v) for v in cells.loc[header_row]]
    body = cells.loc[header_row + 1 :]
    body = body.where(body.ne(""), None)
    label = "semicolon" if sep == ";" else "comma"
    note = f"Read as CSV ({label}-separated, UTF-8); row numbers are line numbers in the file (the header is line {header_row})."
    return RawTable(body, header, header_row, note)


def cell_text(value: object) -> str | None:
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
    if isinstance(value, decimal.Decimal):  # a Parquet decimal column: a number, like a float
        return str(int(value)) if value.is_finite() and value == value.to_integral_value() else str(value)
    return str(value)


def _series_to_text(series: pd.Series) -> pd.Series:
    """Typed column (Parquet, data frame) -> text cells: dates as YYYY-MM-DD, whole floats as integers.

    Each distinct value is formatted once (fast on large tables).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([cell_text(v) for v in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)  # code -1 (missing) picks None


def frame_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells of a typed table, columns by position, rows numbered as 1-based records."""
    cells = pd.DataFrame({i: _series_to_text(frame.iloc[:, i]).to_numpy() for i in range(frame.shape[1])},
                         index=pd.RangeIndex(1, len(frame) + 1))
    return cells


def _read_parquet(path: Path) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        # nested and binary columns have no text a person typed: not read, refused by name (see cells)
        bad = {i: str(f.type) for i, f in enumerate(schema)
               if pa.types.is_nested(f.type) or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
               or pa.types.is_fixed_size_binary(f.type)}
        flat = [f.name for i, f in enumerate(schema) if i not in bad]
        table = pq.read_table(path, columns=flat) if bad else pq.read_table(path)
        frame = table.to_pandas(date_as_object=False)
    except Exception as exc:  # pyarrow raises ArrowInvalid, ArrowNotImplementedError and OSError variants
        raise Unreadable(f"cannot be read as Parquet ({exception_text(exc)})") from None
    header = [str(f.name) for f in schema]
    cells = frame_to_text(frame)
    if bad:  # blank cells where the refused columns are, so that positions match the header
        read = iter(cells.columns)
        cells = pd.DataFrame({i: (None if i in bad else cells[next(read)]) for i in range(len(schema))},
                             index=cells.index, dtype=object)
    note = "Read as Parquet; row numbers are 1-based record numbers (the first record is record 1)."
    return RawTable(cells, header, 0, note, bad_columns=bad)


def file_format_of(path: Path) -> tuple[str, str]:
    """(format, the word for a row in messages) from the file's suffix; anything unknown is tried as CSV."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx",):
        return "xlsx", "row"
    if suffix in (".parquet", ".pq"):
        return "parquet", "record"
    return "csv", "line"


def read_cohort_file(path: Path, file_format: str, header_row: int | None = None) -> RawTable:
    """A CSV or Parquet file as a text table; raises :class:`Unreadable` when it is no table at all.

    ``header_row`` (CSV only; a mapping file's) is the line of the column names; by default the first
    non-blank line. (Excel files are read by ``excel.read_xlsx``, which builds on this module.)
    """
    if file_format == "parquet":
        if header_row not in (None, 1):
            raise Unreadable("a Parquet file has no header row to choose; remove header_row from the mapping",
                             kind="header_row")
        return _read_parquet(path)
    return _read_csv(path, header_row)


def trimmed(text: pd.Series, missing: tuple[str, ...]) -> pd.Series:
    """Trim spaces; missing-value markers become None. Strips each distinct value once (fast)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    cleaned = np.array([None if (v := str(u).strip()) in missing else v for u in uniques] + [None], dtype=object)
    return pd.Series(cleaned[codes], index=text.index, dtype=object)  # code -1 (NA) picks the final None
