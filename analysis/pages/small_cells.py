"""The small-cell rule: a count from 1 to ``min_cell`` - 1 is shown as '<min_cell', and so is any
percentage or list that would reveal it. Applied to the text, the tables, the at-risk rows of the
plots and results.json alike (0 is not identifying and stays 0)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from analysis.paper import kind_of


def mask_count(value: Any, min_cell: int) -> Any:
    """A count from 1 to min_cell - 1 becomes the text '<min_cell' (0 is not identifying)."""
    if min_cell and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and 0 < value < min_cell and float(value).is_integer():
        return f"<{min_cell}"
    return value


def mask_figures(figures: dict[str, Any], min_cell: int) -> dict[str, Any]:
    """Suppress small counts, and the percentages and lists that would reveal them."""
    if not min_cell:
        return dict(figures)
    masked = {}
    for dotted, value in figures.items():
        kind = kind_of(dotted, parent_has_hr=False)
        if kind == "count":
            masked[dotted] = mask_count(value, min_cell)
        elif kind == "pct" or (kind == "times" and len(value) < min_cell):
            parent = dotted.rsplit(".", 1)[0]
            n = figures.get(f"{parent}.n")
            small = kind == "times" or (isinstance(n, int) and 0 < n < min_cell)
            masked[dotted] = f"suppressed (<{min_cell})" if small else value
        else:
            masked[dotted] = value
    return masked


# A count as tables print it: "7", or "7 (12.5%)" with its share of the group (no-break space)
_COUNT_CELL = re.compile(r"(\d+)(?:[ \u00a0]\([^()]*%\))?")


def mask_cell(value: Any, min_cell: int) -> Any:
    """A small count, alone or with its percentage, becomes '<min_cell' (the share would reveal it)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return mask_count(int(value), min_cell)
    if isinstance(value, str):
        match = _COUNT_CELL.fullmatch(value.strip())
        if match and 0 < int(match.group(1)) < min_cell:
            return f"<{min_cell}"
    return value
