"""What is wrong with a cohort file: each problem, the report of all of them, and their collector.

A :class:`Problem` names the file, the column, the rows as the user sees them (CSV line, Excel row,
Parquet record) and the offending values; repeated problems of one kind in one column are one Problem,
listing at most ``MAX_LISTED_ROWS`` rows so that a 100,000-row file gives a readable report. The checks
(``columns``, ``cross_checks``) add problems through a :class:`Checker`; nothing raises on bad input
except :class:`CohortValidationError`, whose text is the whole report.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MAX_LISTED_ROWS = 10
# A value is quoted up to this many characters, then "…": a 10 MB cell must not become a 10 MB report.
MAX_QUOTED_CHARS = 60
# Characters a person cannot see or that break a line: quoted as escapes (\x00, \u200b) so that 'IDC' and
# 'IDC\u200b' do not look the same in a message.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def quoted_text(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``value`` as a message shows it: at most ``limit`` characters (then "…"), invisible ones escaped."""
    text = str(value)
    cut = len(text) > limit
    text = "".join(ch if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
                   else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                   for ch in text[:limit])
    return text + ("…" if cut else "")


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
    label: str = ""  # the user's name for ``column`` when a mapping file renamed it

    def __str__(self) -> str:
        column = (f"column '{quoted_text(self.label)}' ({self.column})" if self.label
                  else f"column '{quoted_text(self.column)}'")
        where = f"{self.file}: " + (column if self.column else "file")
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
    # schema column -> the column's name in the user's file, when a mapping renamed it (messages quote both)
    column_names: dict[str, str] = field(default_factory=dict)
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


class Checker:
    """Collects the problems of one file; row numbers come from the frame index."""

    def __init__(self, report: ValidationReport):
        self.report = report
        self.file = report.source.name

    def add(self, severity: str, kind: str, column: str | None, what: str, expected: str = "",
            rows: pd.Index | list | None = None, values: list[str] | None = None) -> None:
        rows = [int(r) for r in (rows if rows is not None else [])]
        values = list(values) if values is not None else []
        self.report.problems.append(Problem(severity, kind, self.file, column, what, expected, rows, values,
                                            self.report.row_word, self.report.column_names.get(column or "", "")))

    def rows_where(self, mask: pd.Series, severity: str, kind: str, column: str, what: str, expected: str,
                   show: dict[str, pd.Series] | pd.Series, quote: bool = True) -> None:
        """Add one grouped problem for the rows where ``mask`` is true; ``show`` gives the values quoted."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = mask.index[mask.to_numpy()]
        listed = rows[:MAX_LISTED_ROWS]
        if isinstance(show, pd.Series):
            # unquoted values are already formatted (e.g. "'bl' (did you mean 'BL'?)"): cut only as a safety net
            values = [_display(show.loc[r], quote=quote, limit=MAX_QUOTED_CHARS if quote else 4 * MAX_QUOTED_CHARS)
                      for r in listed]
        else:
            values = ["(" + ", ".join(f"{name} {_display(s.loc[r], quote=False)}" for name, s in show.items()) + ")"
                      for r in listed]
        values += [""] * (len(rows) - len(listed))
        self.add(severity, kind, column, what, expected, list(rows), values)


def _display(value: object, quote: bool = True, limit: int = MAX_QUOTED_CHARS) -> str:
    """A value as a message quotes it; every kind of missing value reads "(blank)"."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return "(blank)"
    if isinstance(value, pd.Timestamp):
        value = value.date().isoformat()
    return f"'{quoted_text(value, limit)}'" if quote else quoted_text(value, limit)

