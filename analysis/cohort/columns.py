"""Checks of each column on its own: the header, parsing the text cells, the schema's per-column rules.

* Values are parsed strictly here, vectorised: dates only as ``YYYY-MM-DD`` (``01/02/2020`` is
  ambiguous), numbers with ``pandas.to_numeric``. Pandera's own coercion is not used because a single
  unparseable value stops pandera from running the column's other checks.
* Pandera (``lazy=True``) then checks each column of the typed frame: dtype, required non-null, allowed
  categories, ranges. Its failure cases are translated into grouped messages.
* A value that fails a column check is marked in ``bad`` and blanked, so that the rules between columns
  (``cross_checks``) leave it out: one bad cell gives one message. Cells refused as stored (``cells``:
  control characters, Excel formulas without a result, merged ranges) are ``bad`` from the start.

What a number or date cell accepts (the data dictionary's "integer", "0/1" and "date" types):

* Every cell is trimmed of surrounding spaces first, so `` 1 `` is 1 (as before, for every type).
* Dates: ``YYYY-MM-DD`` with the digits 0-9 only.
* Integers and flags, as text (CSV, an Excel text cell, a Parquet string column): the digits 0-9,
  optionally after a minus sign. ``62.0``, ``6.2e1``, ``+1`` and ``-0`` are refused with their own
  message ("not written as plain digits"): each equals a whole number, but a decimal point, an exponent
  or a sign on a count or a 0/1 flag is the mark of a value that went through a calculation or a
  conversion, and the validator reads what is stored rather than guessing it was meant. A number
  *stored as a number* (an Excel number cell, a Parquet numeric column) is read as that number:
  Excel stores 62 as the float 62.0, which is 62.
* Digits other than 0-9 (Arabic-Indic, full-width...) are refused in numbers and dates with the value
  shown, even where Python would read them: the file was typed or converted with another digit set.
* Patient ids are duplicates when equal after Unicode NFKC normalisation, case folding and removing
  invisible format characters (category Cf, e.g. the zero-width space): ``ab-1``, ``AB-1`` and
  ``AB\u200b-1`` are one patient written three ways.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import warnings as _warnings

import numpy as np
import pandas as pd

from analysis.cohort.problems import MAX_LISTED_ROWS, Checker, quoted_text
from analysis.cohort.reading import RawTable, trimmed
from analysis.cohort.schema import Schema

_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # not \d: it matches Arabic-Indic and full-width digits too
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit (Unicode Nd) other than 0-9
_PLAIN_INTEGER = re.compile(r"^(?!-0+$)-?[0-9]+$")  # digits, optionally after a minus; not -0
# All integer columns have small ranges; a larger value is clipped so that it stays out of range instead of
# wrapping around when converted to a 64-bit integer (1e23 became -9223372036854775808).
_LARGEST = 2.0 ** 53


def check_header(raw: RawTable, schema: Schema, check: Checker) -> dict[str, int]:
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
    squashed = {_squash(h): h.strip() for h in raw.header if h and h.strip() and h.strip() not in known}
    missing = [name for name in schema.required_columns if name not in positions]
    for name in missing:
        own = squashed.get(_squash(name))
        hint = (f" (the header has '{quoted_text(own)}': read it as {name} with a mapping file, "
                f"columns: {{{own}: {name}}}; python -m analysis map FILE drafts one)") if own else ""
        check.add("error", "missing_column", name, "required column is missing from the header",
                  "a column named exactly '" + name + "'" + hint)
    if missing:
        _header_further_down(raw, schema, len(positions), check)
    return positions


def _squash(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _header_further_down(raw: RawTable, schema: Schema, found: int, check: Checker) -> None:
    """A title row above the header: say which row holds more of the column names (a mapping's header_row)."""
    known = {_squash(n) for n in schema.names}
    word = check.report.row_word
    for row in raw.cells.index[:30]:
        hits = sum(isinstance(v, str) and _squash(v) in known for v in raw.cells.loc[row])
        if hits >= max(3, found + 1):
            check.add("error", "header_not_first", None,
                      f"the header was read from {word} {raw.header_row}, but {word} {row} holds {hits} of the "
                      "column names", f"the column names on the first {word}, or a mapping file with "
                      f"header_row: {row} (python -m analysis map FILE drafts one)")
            return


def cohort_cells(raw: RawTable, schema: Schema, check: Checker,
                 refused: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The schema's columns of the file, in schema order, trimmed, one row per patient.

    Header problems are reported here. Cells are trimmed of spaces; blank and the schema's missing-value
    markers (``NA``) become None. Rows with no value in any cohort column (blank lines, stray notes in
    ignored columns) are not patients and are dropped. Returns the cells and ``refused`` (a mask of the
    raw cells, see ``cells.check_cells``) for the same rows and columns.
    """
    positions = check_header(raw, schema, check)
    cells = raw.cells.iloc[:, list(positions.values())]
    cells.columns = list(positions.keys())
    cells = cells[[n for n in schema.names if n in positions]]  # schema order
    cells = pd.DataFrame({name: trimmed(cells[name], schema.missing_values) for name in cells.columns},
                         index=cells.index, dtype=object)
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
    if refused is None:
        refused = pd.DataFrame(False, index=raw.cells.index, columns=raw.cells.columns)
    named = refused.loc[cells.index, [positions[n] for n in cells.columns]]
    named.columns = list(cells.columns)
    keep = ~no_value.to_numpy()
    return cells[keep], named[keep]


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


def _matches(text: pd.Series, pattern: re.Pattern, how: str = "search") -> pd.Series:
    """Cells where ``pattern`` matches (blank cells: False); each distinct value is tried once."""
    test = getattr(pattern, how)
    return _parse_distinct(text, lambda s: pd.Series([isinstance(v, str) and test(v) is not None for v in s]))


def parse_columns(cells: pd.DataFrame, schema: Schema, check: Checker,
                  refused: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Text cells -> typed columns; reports unparseable values. Returns (typed, unparseable masks).

    ``refused`` cells (already reported) are blank in ``typed`` and marked in the masks.
    """
    typed: dict[str, pd.Series] = {}
    bad: dict[str, pd.Series] = {}
    for name in cells.columns:
        spec = schema[name]
        text = cells[name]
        skip = refused[name].astype(bool) if refused is not None else pd.Series(False, index=text.index)
        present = text.notna() & ~skip
        if spec.type in ("date", "integer", "flag"):
            other_digits = present & _matches(text, _OTHER_DIGIT)
            check.rows_where(other_digits, "error", "non_ascii_digits", name,
                             "written with digits other than 0-9 (e.g. Arabic-Indic or full-width)",
                             f"{spec.expected}, with the digits 0-9", text)
            present = present & ~other_digits
            skip = skip | other_digits
        if spec.type == "date":
            values = _parse_distinct(text, _parse_dates)
            unparseable = present & values.isna()
            check.rows_where(unparseable, "error", "unparseable_date", name, "not a valid date",
                             spec.expected, text)
            values = values.where(~skip)
        elif spec.type in ("integer", "flag"):
            numbers = _parse_distinct(text, _parse_numbers)
            unparseable = present & numbers.isna()
            check.rows_where(unparseable, "error", "not_a_number", name, "not a number", spec.expected, text)
            fractional = present & numbers.notna() & (numbers % 1 != 0)
            check.rows_where(fractional, "error", "not_whole_number", name, "not a whole number",
                             spec.expected, text)
            not_plain = present & numbers.notna() & ~fractional & ~_matches(text, _PLAIN_INTEGER, "match")
            check.rows_where(not_plain, "error", "not_plain_digits", name, "whole number not written as plain digits",
                             f"{spec.expected}, written as plain digits (62, not 62.0, 6.2e1 or +62; 0, not -0)", text)
            unparseable = unparseable | fractional | not_plain
            numbers = numbers.clip(-_LARGEST, _LARGEST)
            values = numbers.where(~unparseable & ~skip).astype("Float64").astype("Int64")
        else:  # string, category: kept as text for the checks
            unparseable = pd.Series(False, index=text.index)
            values = text.where(~skip).astype("string")
        typed[name] = values
        bad[name] = unparseable | skip
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


def column_checks(typed: pd.DataFrame, text: pd.DataFrame, bad: dict[str, pd.Series], schema: Schema,
                   check: Checker, today: dt.date) -> None:
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
                display = shown.map(lambda v: f"'{quoted_text(v)}' (did you mean '{hints[v.lower()]}'?)"
                                    if v.lower() in hints else f"'{quoted_text(v)}'", na_action="ignore")
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


def _id_key(value: str) -> str:
    """The id as compared for duplicates: NFKC, case-folded, without format characters (Cf)."""
    if value.isascii():  # NFKC and Cf change nothing in ASCII (control characters are refused already)
        return value.casefold()
    visible = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())


def check_duplicates(typed: pd.DataFrame, check: Checker) -> None:
    """Patient ids given twice, also when written differently (see the module docstring)."""
    if "patient_id" not in typed:
        return
    ids = typed["patient_id"]
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    keys = pd.Series(np.array([_id_key(u) for u in uniques] + [None], dtype=object)[codes], index=ids.index)
    dup = (keys.notna() & keys.duplicated(keep="first")).to_numpy()
    if not dup.any():
        return
    positions = pd.Series(np.arange(len(keys)), index=ids.index)
    first_position = positions.groupby(keys.to_numpy()).transform("min")
    rows = ids.index[dup]
    word = check.report.row_word
    values = []
    written_differently = False
    for r in rows[:MAX_LISTED_ROWS]:
        first = ids.index[first_position.loc[r]]
        same = ids.loc[r] == ids.loc[first]
        written_differently |= not same
        values.append(f"'{quoted_text(ids.loc[r])}' (also on {word} {first}"
                      + ("" if same else f" as '{quoted_text(ids.loc[first])}'") + ")")
    what = "duplicate patient id"
    if written_differently:
        what += " (ids are compared ignoring case, full-width forms and invisible characters)"
    check.add("error", "duplicate_id", "patient_id", what, "each patient_id once (one row per patient)",
              list(rows), values)
