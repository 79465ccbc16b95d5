"""Load and validate a cohort file (CSV, Excel .xlsx, Parquet) against ``analysis/cohort/schema.yaml``.

``validate_cohort(path)`` collects every problem of a file at once into a :class:`ValidationReport`;
``load_cohort(path)`` validates, raises :class:`CohortValidationError` on any error, and otherwise returns
a :class:`Cohort` with typed and derived columns. ``python -m analysis validate PATH`` is the command
(``configure_parser`` and ``run`` below).

This module puts the steps in order; each job has its own module:

* ``reading``: the file as text cells, indexed by the row number the user sees (every message quotes it);
  ``excel`` for .xlsx (limits, one sheet, merged cells, formulas);
* ``cells``: what the reader read but must refuse (control characters, Excel formulas without a result...);
* ``columns``: the header, strict parsing and each column's own checks (pandera, lazily: all at once);
* ``cross_checks``: the rules between columns, and the decisions on what is an error or a warning;
* ``problems``: each problem with file, column, rows and values, and the report of them all;
* ``derived``: the loaded frame and its derived columns.

``validate_frame`` / ``cohort_from_frame`` run the same checks on an in-memory table (records 1..n).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.cohort.cells import check_cells
from analysis.cohort.columns import check_duplicates, cohort_cells, column_checks, parse_columns
from analysis.cohort.cross_checks import cross_checks
from analysis.cohort.derived import finish_frame
from analysis.cohort.excel import read_xlsx
from analysis.cohort.mapping import Mapping, MappingError, apply_mapping, describe, load_mapping
from analysis.cohort.problems import Checker, CohortValidationError, ValidationReport
from analysis.cohort.reading import (
    SUPPORTED_SUFFIXES, RawTable, Unreadable, file_format_of, frame_to_text, read_cohort_file,
)
from analysis.cohort.schema import CNS_GROUPS, analyses_switched_off, load_schema
from analysis.cohort.study_window import StudyChanges, StudyParameters, apply_study


@dataclass
class Cohort:
    """A validated cohort.

    ``data`` has one row per patient, indexed by the source row number (``source_row``), with the schema
    columns typed (dates ``datetime64[ns]``, integers and flags ``Int64``, categories ``category``) and the
    derived columns: ``group`` (ordered none < B < BL < L), ``cns`` (0/1), ``time_abc_to_cns``,
    ``os_from_cns``, ``os_from_abc`` (days, float; NaN where not applicable), ``death`` (0/1),
    ``age65_at_cns`` and ``local_rt`` (Int64 0/1; NA for patients without CNS metastasis).
    ``available`` lists the schema columns present in the file, ``missing_optional`` the optional
    columns absent from it. ``study`` counts what the study parameters (cut-off, window) changed;
    ``mapping`` is the mapping file the export was read with (None: none).
    """

    data: pd.DataFrame
    source: Path
    warnings: list[str]
    available: list[str]
    missing_optional: list[str]
    report: ValidationReport = field(repr=False)
    study: StudyChanges | None = None
    mapping: Path | None = None

    def __fspath__(self) -> str:
        # a Cohort stands for its file where a page names the file (Path(cohort).name)
        return str(self.source)

    def study_note(self) -> str:
        """What the study parameters changed, as a paragraph for the cohort page ("" when none were given)."""
        return self.study.note() if self.study is not None else ""

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


# --------------------------------------------------------------------------------------------- validation
def validate_cohort(path: str | Path, *, today: dt.date | None = None, sheet: str | None = None,
                    mapping: str | Path | Mapping | None = None) -> ValidationReport:
    """Check a cohort file against the schema and collect every problem.

    Parameters
    ----------
    path
        A ``.csv`` (comma or semicolon separated, UTF-8 with or without BOM), ``.xlsx`` or ``.parquet``
        file. It is only read, never written.
    today
        Latest plausible date (default: the current date); for reproducible checks.
    sheet
        The sheet of an .xlsx workbook to read, by its exact name. Without it the workbook must have
        exactly one sheet with values (empty sheets are ignored); a workbook with several is refused
        rather than read in part. Naming a sheet for a CSV or Parquet file is an error.
    mapping
        A mapping file (``analysis.cohort.mapping``): column names, labels, flags, date formats, decimal
        comma, header row and sheet of the export, applied in memory. Its own problems raise
        :class:`MappingError` (all of them) before the cohort file is read.

    Returns
    -------
    ValidationReport
        ``.ok``, ``.errors``, ``.warnings``, ``.format()``.
    """
    path = Path(path)
    today = today or dt.date.today()
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    file_format, row_word = file_format_of(path)
    report = ValidationReport(source=path, file_format=file_format, row_word=row_word)
    check = Checker(report)

    if not path.is_file():
        check.add("error", "no_file", None, "no such file" if not path.exists() else "not a regular file",
                  "the path of a cohort file")
        return report
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        check.add("error", "unsupported_format", None, f"unsupported file type '{path.suffix}'",
                  "a .csv, .xlsx or .parquet file")
        return report
    if mapping is not None and mapping.sheet is not None:
        if sheet is not None and sheet != mapping.sheet:
            check.add("error", "sheet_conflict", None, f"the sheet '{sheet}' was named, but the mapping "
                      f"{mapping.path.name} names sheet '{mapping.sheet}'", "one sheet: drop --sheet or change the mapping")
            return report
        sheet = mapping.sheet
    header_row = mapping.header_row if mapping is not None else None
    if sheet is not None and file_format != "xlsx":
        check.add("error", "sheet_not_applicable", None, f"a sheet ('{sheet}') was named, but a {file_format} file "
                  "has no sheets", "a sheet name only for an .xlsx file")
    try:
        raw = (read_xlsx(path, sheet, header_row) if file_format == "xlsx"
               else read_cohort_file(path, file_format, header_row))
    except Unreadable as exc:
        check.add("error", exc.kind, None, str(exc))
        return report
    if mapping is not None:
        report.column_names = apply_mapping(raw, mapping, load_schema(), check)
        raw.note = f"{raw.note} {describe(mapping, file_format)}"
    return _validate_raw(raw, report, today)


def validate_frame(frame: pd.DataFrame, *, name: str = "data frame", today: dt.date | None = None) -> ValidationReport:
    """Check an in-memory cohort table exactly as a file would be checked.

    Columns may be text (as read from CSV) or typed (dates, numbers, categories). Rows are numbered as
    1-based records. For code that builds a cohort (e.g. the synthetic-cohort generator) before writing it.
    """
    report = ValidationReport(source=Path(name), file_format="frame", row_word="record")
    raw = RawTable(
        cells=frame_to_text(frame),
        header=[str(c) for c in frame.columns],
        header_row=0,
        note="In-memory table; row numbers are 1-based record numbers.",
    )
    return _validate_raw(raw, report, today or dt.date.today())


def _validate_raw(raw: RawTable, report: ValidationReport, today: dt.date) -> ValidationReport:
    """All checks on text cells; stores the typed frame in the report when there is no error."""
    schema = load_schema()
    check = Checker(report)
    report.reading_note = raw.note

    refused = check_cells(raw, schema, check)
    cells, refused = cohort_cells(raw, schema, check, refused)
    report.columns = list(cells.columns)
    report.n_rows = len(cells)
    report.switched_off = analyses_switched_off(cells.columns)
    if len(cells) == 0:
        check.add("error", "no_rows", None, "the file has a header but no patient rows",
                  f"one {report.row_word} per patient below the header")
        return report

    typed, bad = parse_columns(cells, schema, check, refused)
    column_checks(typed, cells, bad, schema, check, today)
    check_duplicates(typed, check)
    cross_checks(typed, bad, schema, check)
    # sort problems: file-level first, then by column in schema order, errors and warnings kept in discovery order
    order = {n: i for i, n in enumerate(schema.names)}
    report.problems.sort(key=lambda p: -1 if p.column is None else order.get(p.column, len(order)))
    if report.ok:
        report._data = finish_frame(typed, schema)
    return report


# --------------------------------------------------------------------------------------------- loading
# The last valid cohort loaded in this process. A build runs several chapters in each reused kernel and
# every chapter calls load_cohort on the same file: it is validated once per kernel, not per chapter.
# The key is everything the outcome depends on that can change within a process:
#   * the path as given, made absolute (not resolved: a symlink's own name is the one messages quote);
#   * the SHA-256 of the file's bytes, so an edited file is validated again (never a stale result);
#   * the day used as "today" for the date ranges, so a check made yesterday is not reused today;
#   * the sheet named (another sheet of the same workbook is another cohort);
#   * the mapping file, by path and bytes (another mapping reads the same file differently).
# The study parameters are not in the key: they are applied to a copy of the validated cohort (cheap).
# The schema and the code are read once per process anyway (load_schema is cached). An invalid file is
# never stored, so its problems are reported afresh on every call. One entry only: registry files are large.
_LAST_LOADED: dict[tuple, Cohort] = {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_cohort(path: str | Path | Cohort, *, today: dt.date | None = None, sheet: str | None = None,
                mapping: str | Path | None = None, cutoff_date: str | dt.date | None = None,
                abc_from: str | dt.date | None = None, abc_to: str | dt.date | None = None) -> Cohort:
    """Validate a cohort file and return it typed, with derived columns and the study parameters applied.

    ``sheet`` names the sheet of an .xlsx workbook and ``mapping`` a mapping file (see
    :func:`validate_cohort`). ``cutoff_date``, ``abc_from`` and ``abc_to`` (``YYYY-MM-DD`` or dates) are
    the study parameters of ``analysis.cohort.study_window``: the file is validated as it is, then the
    window excludes patients and the cut-off censors follow-up; ``Cohort.study`` counts the changes.
    A file whose bytes were validated before in this process (same path, ``today``, ``sheet`` and
    mapping) is not validated again; the returned cohort (``data``, its report and lists) is always a
    fresh copy. A :class:`Cohort` given as ``path`` is returned as a copy (pages accept either).

    Raises
    ------
    CohortValidationError
        When the file has any error, or no patient is left in the study; ``str()`` is the full report.
    MappingError
        When the mapping file has problems (all listed).
    ValueError
        When a study parameter is not a date or the dates are out of order.
    """
    if isinstance(path, Cohort):
        return _copy(path, path.source)
    study = StudyParameters.of(cutoff_date, abc_from, abc_to)
    path = Path(path)
    today = today or dt.date.today()  # one day for the key and the checks, even across midnight
    checked = load_mapping(mapping) if mapping is not None else None
    if not path.is_file():
        return _cohort_from_report(validate_cohort(path, today=today, sheet=sheet, mapping=checked))
    key = (str(path.absolute()), _sha256(path), today, sheet,
           None if checked is None else (str(checked.path.absolute()), checked.sha256))
    if key not in _LAST_LOADED:
        cohort = _cohort_from_report(validate_cohort(path, today=today, sheet=sheet, mapping=checked))
        _LAST_LOADED.clear()
        # the file is read again to validate it: keep the result only if those were the hashed bytes
        if _sha256(path) == key[1]:
            _LAST_LOADED[key] = cohort
    else:
        cohort = _LAST_LOADED[key]
    cohort = _copy(cohort, path)
    cohort.mapping = None if checked is None else checked.path
    return _with_study(cohort, study)


def _with_study(cohort: Cohort, study: StudyParameters) -> Cohort:
    """The cohort with the study parameters applied (derived columns recomputed), or refused when empty."""
    schema = load_schema()
    names = [n for n in schema.names if n in cohort.data.columns]
    typed, changes = apply_study(cohort.data[names], study, schema)
    cohort.study = changes
    if not study.any:
        return cohort
    if len(typed) == 0:
        Checker(cohort.report).add("error", "no_patient_in_study", None,
                                   f"no patient is left in the study ({study.describe()}) of the "
                                   f"{changes.n_file} in the file", "study dates that include some patients")
        raise CohortValidationError(cohort.report)
    data = finish_frame(typed, schema)  # the derived columns again, from the changed dates and groups
    cohort.data = data
    cohort.report._data = data
    return cohort


def _copy(cohort: Cohort, path: Path) -> Cohort:
    """A copy a chapter may change freely without changing what the next caller gets."""
    data = cohort.data.copy()
    report = dataclasses.replace(cohort.report, source=path, columns=list(cohort.report.columns),
                                 problems=list(cohort.report.problems),
                                 switched_off={k: list(v) for k, v in cohort.report.switched_off.items()},
                                 _data=data)
    return dataclasses.replace(cohort, data=data, source=path, warnings=list(cohort.warnings),
                               available=list(cohort.available), missing_optional=list(cohort.missing_optional),
                               report=report)


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


# --------------------------------------------------------------------------------------------- command
def summarise(cohort: Cohort) -> str:
    """A short text summary of a loaded cohort (the ``validate`` command prints it)."""
    data = cohort.data
    counts = data["group"].value_counts().reindex(list(CNS_GROUPS), fill_value=0)
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
    if cohort.mapping is not None:
        lines.append(f"  read with the mapping {cohort.mapping.name} (the file itself is unchanged)")
    if cohort.study is not None:
        lines += [f"  {line}" for line in cohort.study.lines()]
    lines.append(f"  warnings: {len(cohort.warnings)}")
    lines += [f"    - {w}" for w in cohort.warnings]
    return "\n".join(lines)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis validate``."""
    parser.add_argument("path", type=Path, help="cohort file: .csv (comma or semicolon), .xlsx or .parquet")
    parser.add_argument("--sheet", metavar="NAME", default=None,
                        help="the sheet of an .xlsx workbook to read (needed when several sheets have values)")
    parser.add_argument("--mapping", metavar="FILE.yaml", type=Path, default=None,
                        help="how to read the export: column names, labels, flags, date formats, header row "
                             "(python -m analysis map FILE drafts one)")
    for name, what in (("cutoff-date", "data cut-off: later events censored at it"),
                       ("abc-from", "first ABC diagnosis date of the study window"),
                       ("abc-to", "last ABC diagnosis date of the study window")):
        parser.add_argument(f"--{name}", metavar="YYYY-MM-DD", default=None, help=what)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.path``: print a summary and return 0, or print the full report to stderr and return 1."""
    try:
        cohort = load_cohort(args.path, sheet=getattr(args, "sheet", None), mapping=getattr(args, "mapping", None),
                             cutoff_date=getattr(args, "cutoff_date", None), abc_from=getattr(args, "abc_from", None),
                             abc_to=getattr(args, "abc_to", None))
    except (CohortValidationError, MappingError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ValueError as exc:  # a study date not written YYYY-MM-DD, or out of order
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summarise(cohort))
    return 0
