"""Load and validate a cohort file (CSV, Excel .xlsx, Parquet) against ``analysis/schema.yaml``.

``validate_cohort(path)`` collects every problem of a file at once into a :class:`ValidationReport`;
``load_cohort(path)`` validates, raises :class:`CohortValidationError` on any error, and otherwise returns
a :class:`Cohort` with typed and derived columns. ``python -m analysis validate PATH`` is the command.

How it works, and why:

* Every file is first read as text cells (``None`` = blank), indexed by the row number the user sees:
  CSV line number (header = line 1), Excel sheet row number, Parquet 1-based record number. Every
  message quotes that number.
* Values are parsed strictly by this module, vectorised: dates only as ``YYYY-MM-DD`` (``01/02/2020`` is
  ambiguous), numbers with ``pandas.to_numeric``. Pandera's own coercion is not used because a single
  unparseable value stops pandera from running the column's other checks.
* Pandera (``lazy=True``) then checks each column of the typed frame: dtype, required non-null, allowed
  categories, ranges. Its failure cases are translated into grouped messages.
* Cross-column rules (dates in order, CNS group vs CNS date, ...) are vectorised pandas masks.
* Decision: CNS-only values filled for a patient with ``cns_group`` none are a WARNING, not an error;
  the loaded cohort blanks them (many exports write 0 instead of blank for "not applicable"). A CNS date
  for such a patient is an ERROR, because it contradicts the group itself.
* Decision: ``cause_of_death`` is required for dead CNS patients (the paper compares it across B, BL, L);
  for dead patients without CNS metastasis it may be blank.
* Other warnings (the file still loads): unknown extra columns, ``csi_completed`` given without CSI
  (blanked on load), ``age_at_cns - age_at_abc`` more than a year away from the time between the dates.
* A value that fails a column check is left out of the cross-column rules, so one bad cell gives one
  message. Cells are trimmed of spaces; blank and ``NA`` mean "no value" (``missing_values`` in the schema).
* CSV line numbers assume no quoted field spans several lines (never the case in a cohort file).
* ``validate_frame`` / ``cohort_from_frame`` run the same checks on an in-memory table (records 1..n).
* The input file is only ever opened for reading.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import datetime as dt
import io
import sys
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.cohort.schema import Schema, analyses_switched_off, load_schema

MAX_LISTED_ROWS = 10
RT_TREATMENTS = ("WBRT", "SRS", "focal_RT", "CSI")  # the book's reading of the paper's "local RT"
DERIVED_COLUMNS = (
    "group", "cns", "time_abc_to_cns", "os_from_cns", "os_from_abc", "death", "age65_at_cns", "local_rt",
)
SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".pq")
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


# --------------------------------------------------------------------------------------------- report
@dataclass
class Problem:
    """One problem found in a cohort file; repeated problems of one kind in one column are one Problem.

    ``rows`` are the row numbers as the user sees them, ``values`` the offending value(s) shown for each.
    """

    severity: str  # "error" or "warning"
    kind: str  # short identifier, e.g. "unknown_category"
    file: str
    column: str | None
    what: str
    expected: str = ""
    rows: list[int] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    row_word: str = "line"

    def __str__(self) -> str:
        where = f"{self.file}: " + (f"column '{self.column}'" if self.column else "file")
        expected = f"; expected {self.expected}" if self.expected else ""
        if not self.rows:
            return f"{where}: {self.what}{expected}."
        if len(self.rows) == 1:
            value = f" {self.values[0]}" if self.values and self.values[0] else ""
            return f"{where}, {self.row_word} {self.rows[0]}: {self.what}{value}{expected}."
        shown = [
            f"{self.row_word} {row}" + (f" {value}" if value else "")
            for row, value in zip(self.rows[:MAX_LISTED_ROWS], self.values[:MAX_LISTED_ROWS] or [""] * MAX_LISTED_ROWS)
        ]
        more = len(self.rows) - MAX_LISTED_ROWS
        listed = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        return f"{where}: {self.what} in {len(self.rows)} {self.row_word}s ({listed}){expected}."


@dataclass
class ValidationReport:
    """All problems of one cohort file. ``ok`` is true when there is no error (warnings allowed)."""

    source: Path
    file_format: str
    row_word: str
    n_rows: int = 0
    columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    switched_off: dict[str, list[str]] = field(default_factory=dict)
    reading_note: str = ""
    _data: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self) -> str:
        """The full report, as text for a person."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        status = "valid" if self.ok else "INVALID"
        lines = [
            f"Cohort file {self.source}: {status} - {n_err} error{'s' * (n_err != 1)}, "
            f"{n_warn} warning{'s' * (n_warn != 1)}, {self.n_rows} patient row{'s' * (self.n_rows != 1)}.",
        ]
        if self.reading_note:
            lines.append(self.reading_note)
        if self.errors:
            lines += ["", "Errors:"] + [f"  - {p}" for p in self.errors]
        if self.warnings:
            lines += ["", "Warnings:"] + [f"  - {p}" for p in self.warnings]
        if self.switched_off:
            lines += ["", "Analyses switched off by missing optional columns:"]
            lines += [f"  - {name} (needs {', '.join(cols)})" for name, cols in self.switched_off.items()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class CohortValidationError(ValueError):
    """Raised by :func:`load_cohort` when the file has errors; ``str()`` is the full report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.format())


@dataclass
class Cohort:
    """A validated cohort.

    ``data`` has one row per patient, indexed by the source row number (``source_row``), with the schema
    columns typed (dates ``datetime64[ns]``, integers and flags ``Int64``, categories ``category``) and the
    derived columns: ``group`` (ordered none < B < BL < L), ``cns`` (0/1), ``time_abc_to_cns``,
    ``os_from_cns``, ``os_from_abc`` (days, float; NaN where not applicable), ``death`` (0/1),
    ``age65_at_cns`` and ``local_rt`` (Int64 0/1; NA for patients without CNS metastasis).
    ``available`` lists the schema columns present in the file, ``missing_optional`` the optional
    columns absent from it.
    """

    data: pd.DataFrame
    source: Path
    warnings: list[str]
    available: list[str]
    missing_optional: list[str]
    report: ValidationReport = field(repr=False)

    @property
    def analyses_switched_off(self) -> dict[str, list[str]]:
        return dict(self.report.switched_off)

    @property
    def analyses_available(self) -> list[str]:
        return [a.name for a in load_schema().analyses if a.name not in self.report.switched_off]

    def switched_off_note(self, analysis: str) -> str:
        """The sentence the book shows instead of an analysis the file cannot support; "" when it can run.

        ``analysis`` is a name from the ``analyses`` section of ``schema.yaml``.
        """
        known = {a.name: a for a in load_schema().analyses}
        if analysis not in known:
            raise ValueError(f"analysis {analysis!r} is not in schema.yaml; expected one of {sorted(known)}")
        missing = self.report.switched_off.get(analysis)
        if not missing:
            return ""
        columns = ", ".join(f"'{c}'" for c in missing)
        return (f"Not computed: {known[analysis].title} needs the optional column{'s' * (len(missing) > 1)} "
                f"{columns}, which {self.source.name} does not have.")


# --------------------------------------------------------------------------------------------- reading
class _Unreadable(Exception):
    """The file cannot be read as a table at all; carries the message."""


@dataclass
class _RawTable:
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
        raise _Unreadable(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "expected UTF-8 - save it as 'CSV UTF-8' from Excel or re-encode it"
        ) from None


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def _read_csv(path: Path) -> _RawTable:
    raw = path.read_bytes()
    if not raw.strip(b"\xef\xbb\xbf \t\r\n"):
        raise _Unreadable(
            f"the file is empty ({len(raw)} bytes); expected a header line with the column names "
            "and one line per patient"
        )
    text = _decode_text(raw)
    sep = _sniff_delimiter(text)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if sep not in first and "\t" in first:
        raise _Unreadable("the header line is separated by tabs; expected a comma- or semicolon-separated file")
    try:
        cells = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, skipinitialspace=False,
        )
    except pd.errors.ParserError as exc:
        raise _Unreadable(f"cannot be read as CSV with delimiter '{sep}': {exc}") from None
    cells.index = cells.index + 1  # line numbers (no quoted line breaks assumed)
    nonblank = cells.ne("").any(axis=1)
    header_row = int(nonblank.idxmax())
    header = [str(v) for v in cells.loc[header_row]]
    body = cells.loc[header_row + 1 :]
    body = body.where(body.ne(""), None)
    label = "semicolon" if sep == ";" else "comma"
    note = f"Read as CSV ({label}-separated, UTF-8); row numbers are line numbers in the file (the header is line {header_row})."
    return _RawTable(body, header, header_row, note)


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


def _read_xlsx(path: Path) -> _RawTable:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a corrupt or non-xlsx file
        raise _Unreadable(f"cannot be opened as an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = book.worksheets[0]
        rows = [[_excel_cell_text(v) for v in row] for row in sheet.iter_rows(min_row=1, values_only=True)]
        title = sheet.title
    finally:
        book.close()  # read-only workbooks keep the file open until closed
    rows_nonblank = [i for i, row in enumerate(rows) if any(v is not None and str(v).strip() for v in row)]
    if not rows_nonblank:
        raise _Unreadable(f"sheet '{title}' is empty; expected a header row with the column names and one row per patient")
    width = max(len(r) for r in rows)
    cells = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], index=range(1, len(rows) + 1), dtype=object)
    header_row = rows_nonblank[0] + 1
    header = [v if v is None else str(v) for v in cells.loc[header_row]]
    note = f"Read as Excel, first sheet '{title}'; row numbers are the sheet's row numbers (the header is row {header_row})."
    return _RawTable(cells.loc[header_row + 1 :], header, header_row, note, letters=True)


def _series_to_text(series: pd.Series) -> pd.Series:
    """Typed column (Parquet, data frame) -> text cells: dates as YYYY-MM-DD, whole floats as integers.

    Each distinct value is formatted once (fast on large tables).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([_excel_cell_text(v) for v in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)  # code -1 (missing) picks None


def _frame_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells of a typed table, columns by position, rows numbered as 1-based records."""
    cells = pd.DataFrame({i: _series_to_text(frame.iloc[:, i]).to_numpy() for i in range(frame.shape[1])},
                         index=pd.RangeIndex(1, len(frame) + 1))
    return cells


def _read_parquet(path: Path) -> _RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError variants
        raise _Unreadable(f"cannot be read as Parquet ({type(exc).__name__}: {exc})") from None
    frame = table.to_pandas(date_as_object=False)
    header = [str(c) for c in frame.columns]
    cells = _frame_to_text(frame)
    note = "Read as Parquet; row numbers are 1-based record numbers (the first record is record 1)."
    return _RawTable(cells, header, 0, note)


def _file_format(path: Path) -> tuple[str, str]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx",):
        return "xlsx", "row"
    if suffix in (".parquet", ".pq"):
        return "parquet", "record"
    return "csv", "line"


def _trimmed(text: pd.Series, missing: tuple[str, ...]) -> pd.Series:
    """Trim spaces; missing-value markers become None. Strips each distinct value once (fast)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    cleaned = np.array([None if (v := str(u).strip()) in missing else v for u in uniques] + [None], dtype=object)
    return pd.Series(cleaned[codes], index=text.index, dtype=object)  # code -1 (NA) picks the final None


# --------------------------------------------------------------------------------------------- checks
class _Checker:
    """Collects the problems of one file; row numbers come from the frame index."""

    def __init__(self, report: ValidationReport):
        self.report = report
        self.file = report.source.name

    def add(self, severity: str, kind: str, column: str | None, what: str, expected: str = "",
            rows: pd.Index | list | None = None, values: list[str] | None = None) -> None:
        rows = [int(r) for r in (rows if rows is not None else [])]
        values = list(values) if values is not None else []
        self.report.problems.append(Problem(severity, kind, self.file, column, what, expected, rows, values,
                                            self.report.row_word))

    def rows_where(self, mask: pd.Series, severity: str, kind: str, column: str, what: str, expected: str,
                   show: dict[str, pd.Series] | pd.Series, quote: bool = True) -> None:
        """Add one grouped problem for the rows where ``mask`` is true; ``show`` gives the values quoted."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = mask.index[mask.to_numpy()]
        listed = rows[:MAX_LISTED_ROWS]
        if isinstance(show, pd.Series):
            values = [_display(show.loc[r], quote=quote) for r in listed]
        else:
            values = ["(" + ", ".join(f"{name} {_display(s.loc[r], quote=False)}" for name, s in show.items()) + ")"
                      for r in listed]
        values += [""] * (len(rows) - len(listed))
        self.add(severity, kind, column, what, expected, list(rows), values)


def _display(value: object, quote: bool = True) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return "(blank)"
    if isinstance(value, pd.Timestamp):
        value = value.date().isoformat()
    return f"'{value}'" if quote else str(value)


def _check_header(raw: _RawTable, schema: Schema, check: _Checker) -> dict[str, int]:
    """Header problems; returns schema column name -> position of the column in ``raw.cells``."""
    positions: dict[str, int] = {}
    seen: dict[str, int] = {}
    known = set(schema.names)
    lower_known = {n.lower(): n for n in schema.names}
    for pos, name in enumerate(raw.header):
        clean = (name or "").strip()
        if not clean:
            if raw.cells.iloc[:, pos].notna().any():
                check.add("warning", "unnamed_column", None,
                          f"column {raw.column_label(pos)} has values but no name in the header; it is ignored",
                          "a column name from the data dictionary")
            continue
        if clean in seen:
            check.add("error", "duplicate_column", clean,
                      "the column name appears twice in the header "
                      f"(columns {raw.column_label(seen[clean])} and {raw.column_label(pos)})",
                      "each column once")
            continue
        seen[clean] = pos
        if clean in known:
            positions[clean] = pos
        else:
            hint = lower_known.get(clean.lower().replace(" ", "_"))
            expected = f"'{hint}' (names are case-sensitive)" if hint else "only the columns of the data dictionary"
            check.add("warning", "unknown_column", clean, "unknown column; it is ignored", expected)
    for name in schema.required_columns:
        if name not in positions:
            check.add("error", "missing_column", name, "required column is missing from the header",
                      "a column named exactly '" + name + "'")
    return positions


def _parse_dates(text: pd.Series) -> pd.Series:
    looks_iso = text.str.match(_ISO_DATE, na=False)
    return pd.to_datetime(text.where(looks_iso), format="%Y-%m-%d", errors="coerce")


def _parse_numbers(text: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))  # 'inf' parses as a float but is no valid entry


def _parse_distinct(text: pd.Series, parse) -> pd.Series:
    """``parse`` applied to each distinct value once, then spread back (columns repeat values a lot)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    # a trailing None parses to NaN/NaT: blank cells (code -1) pick it, and the dtype holds when all are blank
    parsed = parse(pd.Series(list(uniques) + [None], dtype=object))
    return pd.Series(parsed.to_numpy()[codes], index=text.index)


def _parse_columns(cells: pd.DataFrame, schema: Schema, check: _Checker) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Text cells -> typed columns; reports unparseable values. Returns (typed, unparseable masks)."""
    typed: dict[str, pd.Series] = {}
    bad: dict[str, pd.Series] = {}
    for name in cells.columns:
        spec = schema[name]
        text = cells[name]
        present = text.notna()
        if spec.type == "date":
            values = _parse_distinct(text, _parse_dates)
            unparseable = present & values.isna()
            check.rows_where(unparseable, "error", "unparseable_date", name, "not a valid date",
                             spec.expected, text)
        elif spec.type in ("integer", "flag"):
            numbers = _parse_distinct(text, _parse_numbers)
            unparseable = present & numbers.isna()
            check.rows_where(unparseable, "error", "not_a_number", name, "not a number", spec.expected, text)
            fractional = numbers.notna() & (numbers % 1 != 0)
            check.rows_where(fractional, "error", "not_whole_number", name, "not a whole number",
                             spec.expected, text)
            unparseable = unparseable | fractional
            values = numbers.where(~fractional).astype("Float64").astype("Int64")
        else:  # string, category: kept as text for the checks
            unparseable = pd.Series(False, index=text.index)
            values = text.astype("string")
        typed[name] = values
        bad[name] = unparseable
    return pd.DataFrame(typed, index=cells.index), bad


def _pandera():
    """The pandera pandas API (``pandera.pandas`` since 0.24; top-level ``pandera`` before)."""
    try:
        import pandera.pandas as pa
    except ImportError:  # pragma: no cover - older pandera
        import pandera as pa
    return pa


def _pandera_schema(schema: Schema, columns: list[str], today: dt.date):
    pa = _pandera()

    dtypes = {"string": "string", "category": "string", "date": "datetime64[ns]", "integer": "Int64", "flag": "Int64"}
    result = {}
    for name in columns:
        spec = schema[name]
        checks = []
        if spec.type == "category":
            checks.append(pa.Check.isin(list(spec.allowed), name="allowed_values"))
        elif spec.type == "flag":
            checks.append(pa.Check.isin([0, 1], name="allowed_values"))
        rng = spec.range_on(today)
        if rng is not None:
            low, high = rng
            if spec.type == "date":
                low, high = pd.Timestamp(low), pd.Timestamp(high)
            checks.append(pa.Check.in_range(low, high, name="range"))
        result[name] = pa.Column(dtypes[spec.type], checks=checks, nullable=spec.values != "required")
    return pa.DataFrameSchema(result, strict=False, coerce=False)


def _column_checks(typed: pd.DataFrame, text: pd.DataFrame, bad: dict[str, pd.Series], schema: Schema,
                   check: _Checker, today: dt.date) -> None:
    """Pandera column-level checks (lazy: all failures at once), translated into grouped messages.

    Values failing a check are marked in ``bad`` and blanked in ``typed`` so that the cross-column rules do
    not report them a second time (an age of 200 is one problem, not also "below age at CNS").
    """
    pa = _pandera()

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            _pandera_schema(schema, list(typed.columns), today).validate(typed, lazy=True)
            return
        except pa.errors.SchemaErrors as exc:
            failures = exc.failure_cases
    for _, failure in failures[failures["index"].isna()].iterrows():  # column-level (e.g. dtype); not expected
        check.add("error", "wrong_type", failure["column"], f"failed check {failure['check']}",
                  str(failure["failure_case"]))
    failures = failures[failures["index"].notna()]
    for name in typed.columns:  # schema order within the file's columns
        spec = schema[name]
        column_failures = failures[failures["column"] == name]
        for check_name, group in column_failures.groupby("check", sort=False):
            rows = pd.Index(group["index"].astype(int).unique()).sort_values()
            rows = rows[~bad[name].reindex(rows, fill_value=False).to_numpy()]  # already reported
            if len(rows) == 0:
                continue
            mask = pd.Series(typed.index.isin(rows), index=typed.index)
            shown = text[name]
            if check_name != "not_nullable":
                bad[name] = bad[name] | mask
                typed.loc[mask.to_numpy(), name] = None
            if check_name == "not_nullable":
                what = "required value is missing"
                expected = spec.expected
                check.rows_where(mask, "error", "missing_value", name, what, expected, shown)
            elif str(check_name).startswith(("allowed_values", "isin")):
                hints = {a.lower(): a for a in spec.allowed}
                display = shown.map(lambda v: f"'{v}' (did you mean '{hints[v.lower()]}'?)"
                                    if v.lower() in hints else f"'{v}'", na_action="ignore")
                kind = "unknown_category" if spec.type == "category" else "not_a_flag"
                what = "unknown category" if spec.type == "category" else "not 0 or 1"
                check.rows_where(mask, "error", kind, name, what, spec.expected, display, quote=False)
            elif str(check_name).startswith(("range", "in_range")):
                low, high = spec.range_on(today)
                today_note = " (today)" if spec.range[1] == "today" else ""
                if spec.type == "date":
                    what, expected = "date outside the plausible range", f"a date from {low} to {high}{today_note}"
                else:
                    unit = f" {spec.unit}" if spec.unit else ""
                    what, expected = "value out of range", f"a whole number from {low} to {high}{unit}"
                check.rows_where(mask, "error", "out_of_range", name, what, expected, shown)
            else:  # dtype: cannot happen after parsing, but never drop a failure silently
                check.rows_where(mask, "error", "wrong_type", name, f"failed check {check_name}", spec.expected, shown)


def _check_duplicates(typed: pd.DataFrame, check: _Checker) -> None:
    if "patient_id" not in typed:
        return
    ids = typed["patient_id"]
    dup = (ids.notna() & ids.duplicated(keep="first")).to_numpy()
    if not dup.any():
        return
    first_row = pd.Series(ids.index, index=ids.index).groupby(ids.to_numpy()).transform("min")
    rows = ids.index[dup]
    word = check.report.row_word
    values = [f"'{ids.loc[r]}' (also on {word} {first_row.loc[r]})" for r in rows[:MAX_LISTED_ROWS]]
    check.add("error", "duplicate_id", "patient_id", "duplicate patient id",
              "each patient_id once (one row per patient)", list(rows), values)


def _cross_checks(typed: pd.DataFrame, bad: dict[str, pd.Series], schema: Schema, check: _Checker) -> None:
    """Rules between columns; a rule runs only when all its columns are present."""
    has = set(typed.columns)
    def col(name: str) -> pd.Series:
        return typed[name]

    def known_blank(name: str) -> pd.Series:
        return typed[name].isna() & ~bad[name]

    if {"cns_group", "cns_date"} <= has:
        group = col("cns_group")
        is_cns = group.isin(["B", "BL", "L"])
        check.rows_where(is_cns & known_blank("cns_date"), "error", "cns_group_without_date", "cns_date",
                         "CNS diagnosis date is missing for a patient with CNS metastasis",
                         "a date when cns_group is B, BL or L", {"cns_group": group})
        check.rows_where(group.eq("none") & col("cns_date").notna(), "error", "cns_date_without_group", "cns_group",
                         "cns_group is 'none' but a CNS diagnosis date is given",
                         "cns_group B, BL or L for a patient with a CNS diagnosis date, or a blank cns_date",
                         {"cns_group": group, "cns_date": col("cns_date")})
    if {"abc_date", "cns_date"} <= has:
        check.rows_where(col("cns_date") < col("abc_date"), "error", "cns_before_abc", "cns_date",
                         "CNS diagnosis is before the ABC diagnosis", "cns_date on or after abc_date",
                         {"cns_date": col("cns_date"), "abc_date": col("abc_date")})
    if {"abc_date", "last_contact_date"} <= has:
        check.rows_where(col("last_contact_date") < col("abc_date"), "error", "contact_before_abc",
                         "last_contact_date", "death or last follow-up is before the ABC diagnosis",
                         "last_contact_date on or after abc_date",
                         {"last_contact_date": col("last_contact_date"), "abc_date": col("abc_date")})
    if {"cns_date", "last_contact_date"} <= has:
        check.rows_where(col("last_contact_date") < col("cns_date"), "error", "contact_before_cns",
                         "last_contact_date", "death or last follow-up is before the CNS diagnosis",
                         "last_contact_date on or after cns_date",
                         {"last_contact_date": col("last_contact_date"), "cns_date": col("cns_date")})

    is_cns = col("cns_group").isin(["B", "BL", "L"]) if "cns_group" in has else pd.Series(False, index=typed.index)
    not_cns = col("cns_group").eq("none").fillna(False) if "cns_group" in has else pd.Series(False, index=typed.index)

    if {"age_at_cns", "cns_group"} <= has:
        check.rows_where(is_cns & known_blank("age_at_cns"), "error", "cns_without_age", "age_at_cns",
                         "age at CNS diagnosis is missing for a patient with CNS metastasis",
                         "a whole number of years when cns_group is B, BL or L", {"cns_group": col("cns_group")})
    if {"age_at_cns", "age_at_abc"} <= has:
        younger = is_cns & (col("age_at_cns") < col("age_at_abc"))
        check.rows_where(younger, "error", "age_cns_below_abc", "age_at_cns",
                         "age at CNS diagnosis is below the age at ABC diagnosis", "age_at_cns >= age_at_abc",
                         {"age_at_cns": col("age_at_cns"), "age_at_abc": col("age_at_abc")})
        if {"abc_date", "cns_date"} <= has:
            years_apart = (col("cns_date") - col("abc_date")).dt.days / 365.25
            age_gap = (col("age_at_cns") - col("age_at_abc")).astype("Float64")
            off = is_cns & ~younger.fillna(False) & ((age_gap - years_apart).abs() > 1.05)
            check.rows_where(off, "warning", "age_dates_mismatch", "age_at_cns",
                             "ages do not match the dates", "age_at_cns - age_at_abc within a year of the time "
                             "between abc_date and cns_date",
                             {"age_at_cns": col("age_at_cns"), "age_at_abc": col("age_at_abc"),
                              "years between dates": years_apart.round(1)})

    # CNS-only values for patients without CNS metastasis: warning, blanked on load (see module docstring).
    for name in schema.cns_only_columns:
        if name in has and name != "cns_date":
            check.rows_where(not_cns & col(name).notna(), "warning", "cns_only_value_for_non_cns", name,
                             "value given for a patient with cns_group 'none'; it is ignored",
                             "blank for patients without CNS metastasis", typed[name])

    if {"csi_completed", "initial_cns_treatment"} <= has:
        check.rows_where(is_cns & col("csi_completed").notna() & col("initial_cns_treatment").ne("CSI").fillna(True),
                         "warning", "csi_completed_without_csi", "csi_completed",
                         "given for a patient whose initial_cns_treatment is not CSI; it is ignored",
                         "blank unless initial_cns_treatment is CSI",
                         {"csi_completed": col("csi_completed"), "initial_cns_treatment": col("initial_cns_treatment")})

    if "subsequent_systemic_start_date" in has:
        start = col("subsequent_systemic_start_date")
        if "subsequent_systemic" in has:
            flag = col("subsequent_systemic")
            check.rows_where(is_cns & flag.eq(1).fillna(False) & known_blank("subsequent_systemic_start_date"),
                             "error", "start_date_missing", "subsequent_systemic_start_date",
                             "start date is missing for a patient with subsequent_systemic 1",
                             "a date when subsequent_systemic is 1", {"subsequent_systemic": flag})
            check.rows_where(is_cns & start.notna() & flag.ne(1).fillna(True), "error", "start_date_without_therapy",
                             "subsequent_systemic_start_date",
                             "start date given but subsequent_systemic is not 1",
                             "subsequent_systemic 1 when a start date is given, or a blank start date",
                             {"subsequent_systemic_start_date": start, "subsequent_systemic": flag})
        if {"cns_date", "last_contact_date"} <= has:
            outside = is_cns & ((start < col("cns_date")) | (start > col("last_contact_date")))
            check.rows_where(outside, "error", "start_date_outside_followup", "subsequent_systemic_start_date",
                             "start date is outside the time from CNS diagnosis to last contact",
                             "cns_date <= subsequent_systemic_start_date <= last_contact_date",
                             {"subsequent_systemic_start_date": start, "cns_date": col("cns_date"),
                              "last_contact_date": col("last_contact_date")})

    if {"cause_of_death", "vital_status"} <= has:
        cause, vital = col("cause_of_death"), col("vital_status")
        check.rows_where(vital.eq("alive").fillna(False) & cause.notna(), "error", "cause_of_death_alive",
                         "cause_of_death", "cause of death given for a patient who is alive",
                         "a blank cause_of_death when vital_status is alive",
                         {"cause_of_death": cause, "vital_status": vital})
        check.rows_where(is_cns & vital.eq("dead").fillna(False) & known_blank("cause_of_death"), "error",
                         "cause_of_death_missing", "cause_of_death",
                         "cause of death is missing for a dead patient with CNS metastasis",
                         "one of " + ", ".join(schema["cause_of_death"].allowed),
                         {"vital_status": vital, "cns_group": col("cns_group") if "cns_group" in has else vital})
        if "cns_group" in has:
            check.rows_where(not_cns & cause.eq("cns_progression").fillna(False), "error", "cns_death_without_cns",
                             "cause_of_death", "cause of death is CNS progression but cns_group is 'none'",
                             "extracranial_progression or other for a patient without CNS metastasis",
                             {"cause_of_death": cause, "cns_group": col("cns_group")})


# --------------------------------------------------------------------------------------------- typed frame
def _finish_frame(typed: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Categories, blanking of CNS-only values for non-CNS patients, derived columns."""
    data = typed.copy()
    data.index.name = "source_row"
    for name in data.columns:
        spec = schema[name]
        if spec.type == "category":
            data[name] = pd.Categorical(data[name].astype(object).where(data[name].notna(), None),
                                        categories=list(spec.allowed))
    not_cns = data["cns_group"].eq("none").to_numpy()
    for name in schema.cns_only_columns:
        if name in data and name != "cns_date":
            data.loc[not_cns, name] = pd.NA if data[name].dtype != "datetime64[ns]" else pd.NaT
    if "csi_completed" in data and "initial_cns_treatment" in data:
        data.loc[data["initial_cns_treatment"].ne("CSI").to_numpy(), "csi_completed"] = pd.NA

    data["group"] = pd.Categorical(data["cns_group"].astype(object), categories=list(schema.groups), ordered=True)
    cns = ~pd.Series(not_cns, index=data.index)
    data["cns"] = cns.astype("int64")
    day = np.timedelta64(1, "D")
    data["time_abc_to_cns"] = (data["cns_date"] - data["abc_date"]) / day
    data["os_from_cns"] = (data["last_contact_date"] - data["cns_date"]) / day
    data["os_from_abc"] = (data["last_contact_date"] - data["abc_date"]) / day
    data["death"] = data["vital_status"].eq("dead").astype("int64")
    data["age65_at_cns"] = (data["age_at_cns"] >= 65).astype("Int64").where(cns, pd.NA)
    if "initial_cns_treatment" in data:
        treatment = data["initial_cns_treatment"]
        data["local_rt"] = treatment.isin(RT_TREATMENTS).astype("Int64").where(treatment.notna() & cns, pd.NA)
    else:
        data["local_rt"] = pd.Series(pd.NA, index=data.index, dtype="Int64")
    return data


# --------------------------------------------------------------------------------------------- public API
def validate_cohort(path: str | Path, *, today: dt.date | None = None) -> ValidationReport:
    """Check a cohort file against the schema and collect every problem.

    Parameters
    ----------
    path
        A ``.csv`` (comma or semicolon separated, UTF-8 with or without BOM), ``.xlsx`` (first sheet) or
        ``.parquet`` file. It is only read, never written.
    today
        Latest plausible date (default: the current date); for reproducible checks.

    Returns
    -------
    ValidationReport
        ``.ok``, ``.errors``, ``.warnings``, ``.format()``.
    """
    path = Path(path)
    today = today or dt.date.today()
    file_format, row_word = _file_format(path)
    report = ValidationReport(source=path, file_format=file_format, row_word=row_word)
    check = _Checker(report)

    if not path.is_file():
        check.add("error", "no_file", None, "no such file" if not path.exists() else "not a regular file",
                  "the path of a cohort file")
        return report
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        check.add("error", "unsupported_format", None, f"unsupported file type '{path.suffix}'",
                  "a .csv, .xlsx or .parquet file")
        return report
    try:
        raw = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet}[file_format](path)
    except _Unreadable as exc:
        check.add("error", "unreadable", None, str(exc))
        return report
    return _validate_raw(raw, report, today)


def validate_frame(frame: pd.DataFrame, *, name: str = "data frame", today: dt.date | None = None) -> ValidationReport:
    """Check an in-memory cohort table exactly as a file would be checked.

    Columns may be text (as read from CSV) or typed (dates, numbers, categories). Rows are numbered as
    1-based records. For code that builds a cohort (e.g. the synthetic-cohort generator) before writing it.
    """
    report = ValidationReport(source=Path(name), file_format="frame", row_word="record")
    raw = _RawTable(
        cells=_frame_to_text(frame),
        header=[str(c) for c in frame.columns],
        header_row=0,
        note="In-memory table; row numbers are 1-based record numbers.",
    )
    return _validate_raw(raw, report, today or dt.date.today())


def _validate_raw(raw: _RawTable, report: ValidationReport, today: dt.date) -> ValidationReport:
    """All checks on text cells; stores the typed frame in the report when there is no error."""
    schema = load_schema()
    check = _Checker(report)
    row_word = report.row_word
    report.reading_note = raw.note

    positions = _check_header(raw, schema, check)
    cells = raw.cells.iloc[:, list(positions.values())]
    cells.columns = list(positions.keys())
    cells = cells[[n for n in schema.names if n in positions]]  # schema order
    # trim spaces; blank and NA markers mean "no value"
    cells = pd.DataFrame({name: _trimmed(cells[name], schema.missing_values) for name in cells.columns},
                         index=cells.index, dtype=object)
    # rows with no value in any cohort column (blank lines, stray notes in ignored columns) are not patients
    no_value = cells.isna().all(axis=1) if len(cells.columns) else pd.Series(True, index=cells.index)
    extra = [pos for pos in range(raw.cells.shape[1]) if pos not in positions.values()]
    if extra and positions:
        other = raw.cells.iloc[:, extra]
        stray = no_value & ~(other.isna() | other.eq("")).all(axis=1)
        check.rows_where(stray, "warning", "row_without_cohort_values", None,
                         "values only in ignored columns; the row is skipped", "one patient per row",
                         pd.Series("", index=cells.index), quote=False)
    elif extra:
        other = raw.cells.iloc[:, extra]
        no_value &= (other.isna() | other.eq("")).all(axis=1)  # keep rows so that "no rows" is not reported
    cells = cells[~no_value.to_numpy()]
    report.columns = list(cells.columns)
    report.n_rows = len(cells)
    report.switched_off = analyses_switched_off(cells.columns)

    if len(cells) == 0:
        check.add("error", "no_rows", None, "the file has a header but no patient rows",
                  f"one {row_word} per patient below the header")
        return report

    typed, bad = _parse_columns(cells, schema, check)
    _column_checks(typed, cells, bad, schema, check, today)
    _check_duplicates(typed, check)
    _cross_checks(typed, bad, schema, check)
    # sort problems: file-level first, then by column in schema order, errors and warnings kept in discovery order
    order = {n: i for i, n in enumerate(schema.names)}
    report.problems.sort(key=lambda p: -1 if p.column is None else order.get(p.column, len(order)))
    if report.ok:
        report._data = _finish_frame(typed, schema)
    return report


# The last cohort loaded, by file content: the build runs several chapters in one kernel, and each
# chapter loads the same file; it is validated once and every caller gets its own copy of the data.
_LAST_LOADED: dict[tuple, Cohort] = {}


def load_cohort(path: str | Path, *, today: dt.date | None = None) -> Cohort:
    """Validate a cohort file and return it typed, with derived columns.

    A file whose bytes were validated before in this process (same path, same day) is not
    validated again; the returned ``data`` is always a fresh copy.

    Raises
    ------
    CohortValidationError
        When the file has any error; its ``str()`` is the full report (all problems).
    """
    path = Path(path)
    if not path.is_file():
        return _cohort_from_report(validate_cohort(path, today=today))
    key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest(), today or dt.date.today())
    if key not in _LAST_LOADED:
        cohort = _cohort_from_report(validate_cohort(path, today=today))
        _LAST_LOADED.clear()  # one cohort at a time: registry files are large
        _LAST_LOADED[key] = cohort
    cached = _LAST_LOADED[key]
    return dataclasses.replace(cached, data=cached.data.copy(), warnings=list(cached.warnings),
                               available=list(cached.available), missing_optional=list(cached.missing_optional))


def cohort_from_frame(frame: pd.DataFrame, *, name: str = "data frame", today: dt.date | None = None) -> Cohort:
    """:func:`load_cohort` for an in-memory table (see :func:`validate_frame`)."""
    return _cohort_from_report(validate_frame(frame, name=name, today=today))


def _cohort_from_report(report: ValidationReport) -> Cohort:
    if not report.ok:
        raise CohortValidationError(report)
    schema = load_schema()
    present = report.columns
    return Cohort(
        data=report._data,
        source=report.source,
        warnings=[str(p) for p in report.warnings],
        available=list(present),
        missing_optional=[n for n in schema.optional_columns if n not in present],
        report=report,
    )


def summarise(cohort: Cohort) -> str:
    """A short text summary of a loaded cohort (the ``validate`` command prints it)."""
    data = cohort.data
    counts = data["group"].value_counts().reindex(["B", "BL", "L"], fill_value=0)
    n_cns = int(data["cns"].sum())
    lines = [
        f"{cohort.source.name}: valid, {len(data)} patients.",
        f"  CNS metastasis: {n_cns} (" + ", ".join(f"{g} {n}" for g, n in counts.items()) + f"); "
        f"no CNS metastasis: {len(data) - n_cns}",
        f"  deaths: {int(data['death'].sum())} (CNS patients: {int(data.loc[data['cns'] == 1, 'death'].sum())})",
        f"  ABC diagnosis: {data['abc_date'].min().date()} to {data['abc_date'].max().date()}; "
        f"last contact: {data['last_contact_date'].min().date()} to {data['last_contact_date'].max().date()}",
    ]
    off = cohort.analyses_switched_off
    lines.append("  analyses switched off: " + (", ".join(f"{a} (needs {', '.join(c)})" for a, c in off.items())
                                                   if off else "none"))
    lines.append(f"  warnings: {len(cohort.warnings)}")
    lines += [f"    - {w}" for w in cohort.warnings]
    return "\n".join(lines)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis validate``."""
    parser.add_argument("path", type=Path, help="cohort file: .csv (comma or semicolon), .xlsx or .parquet")


def run(args: argparse.Namespace) -> int:
    """Validate ``args.path``: print a summary and return 0, or print the full report to stderr and return 1."""
    try:
        cohort = load_cohort(args.path)
    except CohortValidationError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(summarise(cohort))
    return 0
