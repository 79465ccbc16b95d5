"""Checks of the cells as stored, before any column is interpreted: what the reader could read but
must not pass on.

* **Control characters** (Unicode category Cc: NUL, the other C0 and C1 codes, DEL, and the line and
  paragraph separators) are refused in every cell of a cohort column and in the header, with file, column
  and row: a NUL once cut an id to ``SYN``, and an invisible character makes two equal-looking values
  differ. In a column the schema ignores (notes), tabs and line breaks are allowed, because Excel cells
  hold them legitimately; any other control character is refused there too (a damaged export).
* The refusals the reader found: Excel formulas without a stored result, Excel error values, merged
  ranges (``excel``), Parquet columns of nested or binary type (``reading``).

Refused cells are returned as a mask; the column checks leave them out, so each gives one message.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.cohort.mapping import MAPPING_REFUSED
from analysis.cohort.problems import MAX_LISTED_ROWS, Checker, quoted_text
from analysis.cohort.reading import RawTable
from analysis.cohort.schema import Schema

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_IGNORED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR allowed

_FLAGGED = {
    "formula_without_value": (
        "formula without a stored result (the file was saved by a program that does not calculate formulas)",
        "a value: open the file in Excel or LibreOffice and save it again, or paste the column as values"),
    "excel_error": ("Excel error value", "a value: correct the formula or the data that gives the error"),
}


def _has(pattern: re.Pattern, column: pd.Series) -> pd.Series:
    """Cells of ``column`` where ``pattern`` occurs; each distinct value is searched once."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    found = [isinstance(u, str) and pattern.search(u) is not None for u in uniques] + [False]
    return pd.Series(pd.Series(found).to_numpy()[codes], index=column.index)


def _name(raw: RawTable, position: int) -> str:
    name = raw.header[position] if position < len(raw.header) else None
    return (name or "").strip() or f"(column {raw.column_label(position)} without a name)"


def check_cells(raw: RawTable, schema: Schema, check: Checker) -> pd.DataFrame:
    """Report the refused cells of ``raw``; returns a mask of them shaped like ``raw.cells``."""
    known = set(schema.names)
    refused = pd.DataFrame(False, index=raw.cells.index, columns=raw.cells.columns)
    bad_header = [p for p, h in enumerate(raw.header) if isinstance(h, str) and _CONTROL.search(h)]
    if bad_header:
        check.add("error", "control_character", None,
                  "the header has a column name with a control character ("
                  + "; ".join(f"column {raw.column_label(p)} '{quoted_text(raw.header[p])}'" for p in bad_header) + ")",
                  "column names without control characters (the file may be damaged: export it again)",
                  [raw.header_row] if raw.header_row else None, [""] if raw.header_row else None)
    for position in raw.cells.columns:
        column = raw.cells[position]
        name = _name(raw, position)
        pattern = _CONTROL if name in known else _CONTROL_IN_IGNORED
        mask = _has(pattern, column)
        check.rows_where(mask, "error", "control_character", name, "contains a control character",
                         "text without control characters such as NUL (shown as \\x00): the file may be damaged "
                         "or exported from a binary field; export it again or remove them", column)
        refused[position] |= mask

    for kind, cells in raw.flagged.items():
        if kind == MAPPING_REFUSED:  # reported when the mapping was applied: only kept out of the checks
            for row, position in cells:
                if row in refused.index and position in refused.columns:
                    refused.loc[row, position] = True
            continue
        what, expected = _FLAGGED[kind]
        by_position: dict[int, list[int]] = {}
        for row, position in cells:
            if row in refused.index and position in refused.columns:
                by_position.setdefault(position, []).append(row)
        for position, rows in by_position.items():
            mask = pd.Series(refused.index.isin(rows), index=refused.index)
            shown = raw.cells[position] if kind == "excel_error" else pd.Series(
                [f"(cell {raw.column_label(position)}{r})" for r in refused.index], index=refused.index)
            check.rows_where(mask, "error", kind, _name(raw, position), what, expected, shown,
                             quote=kind == "excel_error")
            refused[position] |= mask

    if raw.merged:
        def columns_of(low: int, high: int) -> str:
            names = [_name(raw, c - 1) for c in range(low, high + 1) if c - 1 < len(raw.header)]
            return ", ".join(f"'{quoted_text(n)}'" for n in names[:3]) + (", ..." if len(names) > 3 else "")

        listed = [f"{ref}" + (f" (column {columns_of(c0, c1)})" if columns_of(c0, c1) else "")
                  for ref, c0, r0, c1, r1 in raw.merged[:MAX_LISTED_ROWS]]
        more = len(raw.merged) - MAX_LISTED_ROWS
        check.add("error", "merged_cells", None,
                  f"the sheet has {len(raw.merged)} merged cell range{'s' * (len(raw.merged) > 1)} ("
                  + "; ".join(listed) + (f"; and {more} more" if more > 0 else "") + "): Excel stores a merged "
                  "range's value only in its first cell, the other cells are blank in the file",
                  "no merged cells: select the range, Unmerge Cells, and fill every cell with its value")
        for _, c0, r0, c1, r1 in raw.merged:
            # the first cell holds the stored value; the others would read blank: refused, not reported again
            rows = (refused.index >= r0) & (refused.index <= r1)
            for position in range(c0 - 1, min(c1, refused.shape[1])):
                cover = rows & ~((refused.index == r0) & (position == c0 - 1))
                refused.loc[cover, position] = True

    for position, type_ in raw.bad_columns.items():
        check.add("error", "nested_column", _name(raw, position),
                  f"the column has the Parquet type {quoted_text(type_, 80)}, which holds no single value per record",
                  "a flat column of text, numbers or dates (flatten or drop it before exporting)")
        refused[position] = True
    return refused
