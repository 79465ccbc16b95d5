"""Draft a mapping file from an export's own header and values: ``python -m analysis map FILE``.

The draft is a starting point for a person, never applied by itself: every line that is a guess ends in
``# guess: review``, and what could not be matched is listed as a comment. What is guessed:

* **The header row**: the row among the first 30 whose cells match the most schema column names (a title
  row above the header is common); the draft says ``header_row`` when it is not the first row.
* **Column names**: equal after ignoring case, spaces and punctuation (``Patient ID`` -> ``patient_id``),
  else the closest schema name by ``difflib`` similarity of those squashed names (ratio >= 0.75), else
  the one schema name all of whose words the header has (``CNS diagnosis date`` -> ``cns_date``).
* **Category labels** not allowed by the schema: case-insensitive equality, then the initials of the
  label's words (``brain+LM`` -> BL, ``LM`` -> L), then the closest allowed value by ``difflib``;
  ``-``, ``no``, ``0`` for cns_group read as none.
* **Flags**: labels of the 0/1 columns that read as yes or no (``Yes``, ``Y``, ``ja``... / ``No``...).
* **Date formats**: those of a list of common ones that read every non-ISO date of the date columns; two
  that both do (day and month both <= 12 throughout) are both written, with the caution that
  ambiguous values will be refused.
* **Decimal comma**: number cells such as ``1,5`` in a semicolon-separated file.

The export is only read; the draft goes to standard output or to a new file (``-o``; an existing file
is not overwritten).
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import re
import sys
from pathlib import Path

import pandas as pd

from analysis.cohort.excel import read_xlsx
from analysis.cohort.reading import Unreadable, file_format_of, read_cohort_file
from analysis.cohort.schema import NO_CNS_GROUP, Schema, load_schema

GUESS = "  # guess: review"
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y", "%Y.%m.%d", "%d/%m/%y", "%Y%m%d")
YES = {"yes", "y", "true", "t", "ja", "j", "si", "sí", "oui", "x", "+", "positive", "present"}
NO = {"no", "n", "false", "f", "nein", "non", "-", "negative", "absent"}
_NONE_LABELS = {"-", "no", "0", "none", "nocns", "nocnsmetastasis", "n"}
_SCAN_ROWS = 30


def squash(name: object) -> str:
    """A name without case, spaces or punctuation: how header names are compared."""
    return "".join(ch for ch in str(name).casefold() if ch.isalnum())


def _q(value: object) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML and quote anything (``-``, ``1``, ``:``)."""
    return json.dumps(str(value), ensure_ascii=False)


def _header_row(cells: pd.DataFrame, schema: Schema) -> int:
    known = {squash(n) for n in schema.names}
    best, best_score = int(cells.index[0]), -1
    for row in cells.index[:_SCAN_ROWS]:
        values = [v for v in cells.loc[row] if isinstance(v, str) and v.strip()]
        score = sum(squash(v) in known for v in values) * 10 + len(values)  # names first, then width
        if score > best_score:
            best, best_score = int(row), score
    return best


def _column_guess(name: str, schema: Schema, taken: set[str]) -> tuple[str | None, bool]:
    """(schema column, is a guess) for one header name; (None, _) when nothing fits."""
    if name in schema.names:
        return name, False
    squashed = {squash(n): n for n in schema.names if n not in taken}
    if squash(name) in squashed:
        return squashed[squash(name)], True
    close = difflib.get_close_matches(squash(name), list(squashed), n=1, cutoff=0.75)
    if close:
        return squashed[close[0]], True
    # every word of a schema name among the header's words ("CNS diagnosis date" -> cns_date); the
    # schema name with the most such words, when it is the only one
    words = set(re.findall(r"[a-z0-9]+", str(name).casefold()))
    fits = [(len(n.split("_")), n) for n in schema.names if n not in taken and set(n.split("_")) <= words]
    best = max((k for k, _ in fits), default=0)
    top = [n for k, n in fits if k == best]
    return (top[0], True) if len(top) == 1 and best >= 2 else (None, False)


def _initials(label: str) -> str:
    return "".join(word[0] for word in re.findall(r"[A-Za-z]+", label)).upper()


def _label_guess(label: str, column: str, allowed: tuple[str, ...]) -> str | None:
    lowered = {a.casefold(): a for a in allowed}
    if label.casefold() in lowered:
        return lowered[label.casefold()]
    if column == "cns_group" and squash(label) in _NONE_LABELS | {""} and NO_CNS_GROUP in allowed:
        return NO_CNS_GROUP
    initials = _initials(label)
    if initials in allowed:
        return initials
    close = difflib.get_close_matches(label.casefold(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _date_formats(values: list[str]) -> list[str]:
    def reads(fmt: str, value: str) -> bool:
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            return False
        return True

    return [fmt for fmt in DATE_FORMATS if values and all(reads(fmt, v) for v in values)]


def draft_mapping(path: str | Path, sheet: str | None = None) -> str:
    """The draft mapping of the export at ``path`` as YAML text (raises ``Unreadable`` for no table)."""
    path = Path(path)
    schema = load_schema()
    file_format, row_word = file_format_of(path)
    # every row is read as data (header row 1 is only a placeholder) to find the real header row
    raw = read_xlsx(path, sheet, header_row=None) if file_format == "xlsx" else read_cohort_file(path, file_format)
    cells = pd.concat([pd.DataFrame([raw.header], index=[raw.header_row], columns=raw.cells.columns), raw.cells])
    header_row = _header_row(cells, schema) if file_format != "parquet" else raw.header_row
    header = [None if v is None else str(v).strip() for v in cells.loc[header_row]]
    body = cells.loc[cells.index > header_row]

    lines = [f"# Mapping drafted from {path.name} by python -m analysis map. Check every line marked",
             "# 'guess: review', then use it with: python -m analysis validate FILE --mapping THIS.yaml", ""]
    if sheet is not None:
        lines.append(f"sheet: {_q(sheet)}")
    if header_row != raw.header_row or (file_format != "parquet" and header_row != 1):
        lines.append(f"header_row: {header_row}{GUESS} (the {row_word} of the column names)")

    columns: dict[str, str] = {}
    column_lines, unmatched = [], []
    taken: set[str] = set(h for h in header if h in schema.names)
    for name in header:
        if not name:
            continue
        target, guessed = _column_guess(name, schema, taken)
        if target is None:
            unmatched.append(name)
            continue
        taken.add(target)
        columns[name] = target
        if guessed:
            column_lines.append(f"  {_q(name)}: {target}{GUESS}")
    if column_lines:
        lines += ["columns:"] + column_lines
    if unmatched:
        lines.append("# not mapped (ignored when validating): " + ", ".join(_q(u) for u in unmatched))
    missing = [n for n in schema.required_columns if n not in columns.values()]
    if missing:
        lines.append("# required columns not found: " + ", ".join(missing) + " (add them under columns:)")

    def texts(own: str) -> list[str]:
        column = body.iloc[:, header.index(own)]
        return sorted({str(v).strip() for v in column.dropna() if str(v).strip() not in schema.missing_values})

    value_lines, flag_labels, date_values, decimals = [], {"1": set(), "0": set()}, [], False
    for own, target in columns.items():
        spec = schema[target]
        found = texts(own)
        if spec.type == "category":
            odd = [v for v in found if v not in spec.allowed]
            if odd:
                value_lines.append(f"  {target}:")
                for label in odd:
                    guess = _label_guess(label, target, spec.allowed)
                    value_lines.append(f"    {_q(label)}: {guess}{GUESS}" if guess else
                                       f"    # {_q(label)}: ?   (one of {', '.join(spec.allowed)})")
        elif spec.type == "flag":
            for label in found:
                if label not in ("0", "1"):
                    code = "1" if label.casefold() in YES else "0" if label.casefold() in NO else None
                    if code:
                        flag_labels[code].add(label)
        elif spec.type == "date":
            date_values += [v for v in found if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v)]
        elif spec.type == "integer":
            decimals |= any(re.fullmatch(r"-?[0-9]+,[0-9]+", v) for v in found)
    if value_lines:
        lines += ["values:"] + value_lines
    if flag_labels["1"] or flag_labels["0"]:
        lines.append("flags:" + GUESS)
        for code in ("1", "0"):
            listed = sorted(flag_labels[code] | {code})
            lines.append(f"  {code}: [" + ", ".join(_q(v) for v in listed) + "]")
    if date_values:
        formats = _date_formats(date_values)
        if formats:
            lines.append("dates: [" + ", ".join(_q(f) for f in formats[:2]) + "]" + GUESS
                         + (" (both read every date: keep the right one; a date both read differently is "
                            "refused)" if len(formats) > 1 else ""))
        else:
            lines.append("# dates: ?   (no common format reads every date; e.g. \"%d/%m/%Y\")")
    if decimals:
        lines.append('decimal: ","' + GUESS)
    return "\n".join(lines) + "\n"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis map``."""
    parser.add_argument("path", type=Path, help="the export: .csv, .xlsx or .parquet (only read)")
    parser.add_argument("--sheet", metavar="NAME", default=None, help="the sheet of an .xlsx workbook")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="mapping.yaml",
                        help="write the draft to this new file (default: standard output)")


def run(args: argparse.Namespace) -> int:
    if not Path(args.path).is_file():
        print(f"error: {args.path}: no such file", file=sys.stderr)
        return 1
    try:
        text = draft_mapping(args.path, args.sheet)
    except Unreadable as exc:
        print(f"error: {args.path}: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.output.exists():
        print(f"error: {args.output} exists; it is not overwritten (choose another name)", file=sys.stderr)
        return 1
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"draft mapping written to {args.output}; review every line marked 'guess: review'")
    return 0
