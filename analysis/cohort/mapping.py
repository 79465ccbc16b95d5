"""A mapping file: how a hospital's export is read as the schema's columns, without editing the export.

A clinician's export rarely has the schema's names and codes: a title row above the header, headers such
as ``Patient ID``, ``Yes``/``No`` flags, ``DD/MM/YYYY`` dates, decimal commas, group labels ``brain`` or
``brain+LM``. The mapping says, once, what each means (``--mapping FILE.yaml`` to ``validate`` and
``build``; ``python -m analysis map FILE`` drafts one)::

    sheet: Cohort                 # xlsx: which sheet
    header_row: 2                 # 1-based row (CSV: line) of the column names
    columns: {Patient ID: patient_id, CNS group: cns_group, ABC date: abc_date}
    values: {cns_group: {brain: B, brain+LM: BL, LM: L, "-": none}}
    flags: {1: [Yes, Y, yes, "1"], 0: [No, N, no, "0"]}
    dates: "%d/%m/%Y"             # or a list of formats, tried in order; ambiguous values are refused
    decimal: ","

Decisions:

* The mapping is applied to the text cells in memory, after reading and before any check, so every check
  and message is the same as for a file written in the schema's terms; the export is only read and the
  mapped table is never written anywhere.
* Problems are named in the user's terms: a mapped column is quoted by the header the user wrote
  (``column 'CNS group' (cns_group)``) and rows keep the file's own numbers (a title row shifts them).
* The mapping itself is checked first and all its problems are reported together (:class:`MappingError`):
  unknown keys, a schema column given twice (also by YAML keys written twice, which YAML itself would
  silently collapse), a target that is no schema column, a label mapped to a value the schema does not
  allow, a flag label meaning both 1 and 0, a date format that cannot read a whole date.
* Labels, flags and date formats are matched exactly after trimming spaces: ``Yes`` and ``yes`` are two
  labels the user lists, so nothing is matched by a guess at validation time (guessing belongs to the
  draft, ``draft.py``, where every guess is marked for review).
* A date cell already written ``YYYY-MM-DD`` (also every real Excel date cell) is kept as it is; any
  other is read with each format in order, and a value that two formats read as different days
  (``03/04/2020`` under ``%d/%m/%Y`` and ``%m/%d/%Y``) is refused, never resolved by the order.
* ``decimal: ","`` reads ``1,5`` as ``1.5`` in number columns, so that a decimal value is reported as not
  a whole number rather than as text; the schema's number columns are whole numbers.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from analysis.cohort.problems import Checker, quoted_text
from analysis.cohort.reading import RawTable
from analysis.cohort.schema import Schema, load_schema

MAPPING_KEYS = ("sheet", "header_row", "columns", "values", "flags", "dates", "decimal")
# A cell the mapping itself refused (an ambiguous date): reported here, only marked as refused by ``cells``.
MAPPING_REFUSED = "mapping_refused"
_PROBE = dt.date(2001, 2, 13)  # day, month and year all differ, so a format that loses one is seen


class MappingError(ValueError):
    """The mapping file cannot be used; ``str()`` lists every problem of the file."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        lines = [f"Mapping file {path}: {len(problems)} problem{'s' * (len(problems) != 1)}; nothing was read."]
        super().__init__("\n".join(lines + [f"  - {p}" for p in problems]))


@dataclass
class Mapping:
    """A checked mapping file (see the module docstring); ``path`` and its ``sha256`` for caches."""

    path: Path
    sha256: str = ""
    sheet: str | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # the user's header -> schema column
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)  # schema column -> label -> value
    flags: dict[str, str] = field(default_factory=dict)  # label -> "1" or "0"
    dates: list[str] = field(default_factory=list)
    decimal: str = "."


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML with duplicate keys refused: ``{Patient ID: patient_id, Patient ID: x}`` must not keep the last."""


def _mapping_constructor(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice (line {key_node.start_mark.line + 1})",
                key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_constructor)


def _closest(word: str, options) -> str:
    hint = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _text(value: object) -> str:
    """A YAML scalar as the cell text it stands for: ``1`` and ``"1"`` are the same label."""
    if isinstance(value, bool):  # YAML 1.1 reads a bare yes/no as a boolean
        return "Yes" if value else "No"
    return str(value).strip()


def load_mapping(path: str | Path, schema: Schema | None = None) -> Mapping:
    """Read and check a mapping file; raise :class:`MappingError` listing all its problems."""
    import hashlib

    path = Path(path)
    schema = schema or load_schema()
    if not path.is_file():
        raise MappingError(path, ["no such file" if not path.exists() else "not a regular file"])
    raw = path.read_bytes()
    try:
        data = yaml.load(raw.decode("utf-8-sig"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError:
        raise MappingError(path, ["the file is not UTF-8 text; save it as UTF-8"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise MappingError(path, [f"not valid YAML{where}: {quoted_text(getattr(exc, 'problem', None) or exc, 200)}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MappingError(path, ["expected keys such as 'columns:' and 'values:' at the top level, "
                                  f"found a {type(data).__name__}"])
    problems: list[str] = []
    mapping = Mapping(path=path, sha256=hashlib.sha256(raw).hexdigest())
    for key in data:
        if key not in MAPPING_KEYS:
            problems.append(f"unknown key '{key}'{_closest(key, MAPPING_KEYS)}; the keys are {', '.join(MAPPING_KEYS)}")
    _check_sheet(data, mapping, problems)
    _check_columns(data.get("columns"), schema, mapping, problems)
    _check_values(data.get("values"), schema, mapping, problems)
    _check_flags(data.get("flags"), mapping, problems)
    _check_dates(data.get("dates"), mapping, problems)
    decimal = data.get("decimal", ".")
    if decimal not in (".", ","):
        problems.append(f"decimal: {decimal!r} is not '.' or ','")
    else:
        mapping.decimal = decimal
    if problems:
        raise MappingError(path, problems)
    return mapping


def _check_sheet(data: dict, mapping: Mapping, problems: list[str]) -> None:
    sheet = data.get("sheet")
    if sheet is not None and not isinstance(sheet, (str, int)):
        problems.append(f"sheet: expected the name of a sheet, found {sheet!r}")
    elif sheet is not None:
        mapping.sheet = str(sheet)
    row = data.get("header_row")
    if row is not None:
        if isinstance(row, bool) or not isinstance(row, int) or row < 1:
            problems.append(f"header_row: {row!r} is not a row number (1 for the first row)")
        else:
            mapping.header_row = row


def _check_columns(columns, schema: Schema, mapping: Mapping, problems: list[str]) -> None:
    if columns is None:
        return
    if not isinstance(columns, dict):
        problems.append("columns: expected 'your column name: schema column' pairs")
        return
    targets: dict[str, str] = {}
    for own, target in columns.items():
        own_text = _text(own)
        if target not in schema.names:
            problems.append(f"columns: '{own_text}' is mapped to '{target}', which is not a schema column"
                            f"{_closest(target, schema.names)}")
            continue
        if target in targets:
            problems.append(f"columns: '{target}' is mapped twice (from '{targets[target]}' and '{own_text}'); "
                            "map one of your columns to it")
            continue
        targets[target] = own_text
        mapping.columns[own_text] = target


def _check_values(values, schema: Schema, mapping: Mapping, problems: list[str]) -> None:
    if values is None:
        return
    if not isinstance(values, dict):
        problems.append("values: expected 'schema column: {your label: schema value}' entries")
        return
    for column, labels in values.items():
        if column not in schema.names:
            problems.append(f"values: '{column}' is not a schema column{_closest(column, schema.names)}")
            continue
        spec = schema[column]
        if spec.type not in ("category", "flag"):
            problems.append(f"values: '{column}' is a {spec.type} column; labels are mapped only for "
                            "category and 0/1 columns (flags: for every 0/1 column, dates: for dates)")
            continue
        if labels is None:  # only commented-out labels (a draft's unknowns): nothing to map
            continue
        if not isinstance(labels, dict):
            problems.append(f"values: {column}: expected 'your label: schema value' pairs")
            continue
        allowed = spec.allowed if spec.type == "category" else ("0", "1")
        mapped: dict[str, str | None] = {}
        for label, value in labels.items():
            if value is None:  # a label meaning "unknown": read as a blank cell
                if spec.values == "required":
                    problems.append(f"values: {column}: '{_text(label)}' is mapped to blank, but {column} is "
                                    f"required in every row; map it to one of {', '.join(allowed)}")
                    continue
                mapped[_text(label)] = None
                continue
            value_text = _text(value) if spec.type == "flag" or not isinstance(value, bool) else str(value)
            if value_text not in allowed:
                problems.append(f"values: {column}: '{_text(label)}' is mapped to '{value_text}', which "
                                f"{column} does not allow{_closest(value_text, allowed)}; allowed: "
                                + ", ".join(allowed) + " (or ~ for blank)")
                continue
            mapped[_text(label)] = value_text
        mapping.values[column] = mapped


def _check_flags(flags, mapping: Mapping, problems: list[str]) -> None:
    if flags is None:
        return
    if not isinstance(flags, dict):
        problems.append("flags: expected '1: [your labels for yes]' and '0: [your labels for no]'")
        return
    meaning: dict[str, str] = {}
    for key, labels in flags.items():
        code = {1: "1", 0: "0", "1": "1", "0": "0", True: "1", False: "0"}.get(key)
        if code is None:
            problems.append(f"flags: '{key}' is not 1 or 0; expected '1: [labels]' and '0: [labels]'")
            continue
        for label in labels if isinstance(labels, list) else [labels]:
            text = _text(label)
            if meaning.get(text, code) != code:
                problems.append(f"flags: '{text}' is listed under both 1 and 0")
                continue
            meaning[text] = code
    mapping.flags = meaning


def _check_dates(dates, mapping: Mapping, problems: list[str]) -> None:
    if dates is None:
        return
    formats = dates if isinstance(dates, list) else [dates]
    for fmt in formats:
        if not isinstance(fmt, str):
            problems.append(f"dates: {fmt!r} is not a date format such as \"%d/%m/%Y\"")
            continue
        try:
            round_trip = dt.datetime.strptime(_PROBE.strftime(fmt), fmt).date()
        except ValueError:
            round_trip = None
        if round_trip != _PROBE:
            problems.append(f"dates: \"{fmt}\" does not read a whole date (day, month and year, e.g. "
                            "\"%d/%m/%Y\" for 31/03/2015, \"%Y/%m/%d\" for 2015/03/31)")
            continue
        mapping.dates.append(fmt)


# --------------------------------------------------------------------------------------------- applying
def apply_mapping(raw: RawTable, mapping: Mapping, schema: Schema, check: Checker) -> dict[str, str]:
    """Rename ``raw``'s header and rewrite its cells in the schema's terms (in memory, in place).

    Returns schema column -> the name the user's file gives it, for messages. Problems of the mapping
    against this file (a mapped column the file does not have, a schema column given twice, an
    ambiguous date) are reported through ``check``.
    """
    header = [None if h is None else str(h).strip() for h in raw.header]
    shown: dict[str, str] = {}
    for own, target in mapping.columns.items():
        if own not in header:
            near = [h for h in header if h and _squash(h) == _squash(own)]
            hint = f" (did you mean '{near[0]}'? names are matched exactly)" if near else ""
            check.add("error", "mapped_column_missing", None,
                      f"the mapping names column '{quoted_text(own)}' (for {target}), which the header does not "
                      f"have{hint}", "a column name exactly as written in the header")
            continue
        if target in header and own != target:
            check.add("error", "mapped_column_twice", None,
                      f"the mapping reads column '{quoted_text(own)}' as {target}, but the header also has a "
                      f"column named '{target}'", f"one column for {target}: remove it from the mapping or "
                      "rename the other column")
            continue
        position = header.index(own)
        raw.header[position] = target
        if own != target:
            shown[target] = own
    names = [None if h is None else str(h).strip() for h in raw.header]
    for position, name in enumerate(names):
        if name not in schema.names:
            continue
        spec = schema[name]
        column = raw.cells[position]
        if name in mapping.values:
            column = _relabel(column, mapping.values[name])
        if spec.type == "flag" and mapping.flags:
            column = _relabel(column, mapping.flags)
        if spec.type == "date" and mapping.dates:
            column = _read_dates(column, mapping.dates, name, shown.get(name, name), raw, position, check)
        if spec.type in ("integer", "flag") and mapping.decimal == ",":
            column = column.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
        raw.cells[position] = column
    return shown


def _squash(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _relabel(column: pd.Series, labels: dict[str, str | None]) -> pd.Series:
    """Cells whose trimmed text is a label become its value (None: blank); others are kept."""
    def one(v):
        if isinstance(v, str) and v.strip() in labels:
            return labels[v.strip()]
        return v

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    import numpy as np

    out = np.array([one(u) for u in uniques] + [None], dtype=object)
    return pd.Series(out[codes], index=column.index, dtype=object)


def _read_dates(column: pd.Series, formats: list[str], name: str, own: str, raw: RawTable, position: int,
                check: Checker) -> pd.Series:
    """Dates in the mapping's formats rewritten as YYYY-MM-DD; ambiguous ones refused and reported."""
    import re

    iso = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    result = column.copy()
    ambiguous: dict[int, str] = {}
    readings: dict[str, tuple[str | None, str]] = {}
    for text in column.dropna().unique():
        value = str(text).strip()
        if not value or iso.match(value) or not value.isascii():  # other digit sets are refused by columns
            continue
        days = {}
        for fmt in formats:
            try:
                days.setdefault(dt.datetime.strptime(value, fmt).date(), fmt)
            except ValueError:
                continue
        if len(days) == 1:
            readings[text] = (next(iter(days)).isoformat(), "")
        elif len(days) > 1:
            readings[text] = (None, " or ".join(f"{d.isoformat()} ({f})" for d, f in days.items()))
    for row, text in column.items():
        if text in readings:
            iso_text, why = readings[text]
            if iso_text is None:
                ambiguous[row] = f"'{quoted_text(text)}' reads as {why}"
            else:
                result.loc[row] = iso_text
    if ambiguous:
        mask = pd.Series(column.index.isin(list(ambiguous)), index=column.index)
        check.rows_where(mask, "error", "ambiguous_date", name,
                         "date read differently by two of the mapping's formats",
                         "a date only one format reads: keep one format in 'dates:', or write these dates "
                         "YYYY-MM-DD", pd.Series(ambiguous, dtype=object).reindex(column.index), quote=False)
        raw.flagged.setdefault(MAPPING_REFUSED, []).extend((row, position) for row in ambiguous)
    return result


def describe(mapping: Mapping, file_format: str) -> str:
    """One line for the report's reading note."""
    parts = [f"mapping {mapping.path.name}"]
    if mapping.columns:
        parts.append(f"{len(mapping.columns)} column name{'s' * (len(mapping.columns) != 1)}")
    if mapping.values:
        parts.append("labels of " + ", ".join(mapping.values))
    if mapping.flags:
        parts.append("yes/no flags")
    if mapping.dates:
        parts.append("dates " + " or ".join(mapping.dates))
    if mapping.decimal == ",":
        parts.append("decimal comma")
    return "Read with " + "; ".join(parts) + " (the file itself is unchanged)."
