"""Input checks shared by the statistics modules (private).

Every message names the argument or column, what was found and what was expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def require_columns(df: pd.DataFrame, columns, what: str = "column") -> None:
    """Raise ValueError naming every column of ``columns`` missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        raise ValueError(f"{what} {shown} not in the data (columns are: {', '.join(map(str, df.columns))})")


def as_time(values, name: str = "time") -> np.ndarray:
    """Survival times as float: numeric, no NaN, not negative."""
    raw = np.asarray(values)
    if raw.dtype.kind in "biuf":  # fast path for numeric arrays
        arr = raw.astype(float)
        if np.isnan(arr).any():
            raise ValueError(f"{name}: found {int(np.isnan(arr).sum())} missing (NaN) time(s); drop or impute them first")
        if (arr < 0).any():
            raise ValueError(f"{name}: found negative time {arr[arr < 0].min()!r}; expected times >= 0")
        return arr
    arr = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=float)
    raw = np.asarray(values, dtype=object)
    bad_type = np.isnan(arr) & ~pd.isna(pd.Series(raw)).to_numpy()
    if bad_type.any():
        raise ValueError(f"{name}: found non-numeric value {raw[bad_type][0]!r}; expected numbers >= 0")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: found {int(np.isnan(arr).sum())} missing (NaN) time(s); drop or impute them first")
    if (arr < 0).any():
        raise ValueError(f"{name}: found negative time {arr[arr < 0].min()!r}; expected times >= 0")
    return arr


def as_event(values, name: str = "event") -> np.ndarray:
    """Event indicator as 0/1 int: only 0/1 (or booleans) are accepted."""
    raw = np.asarray(values)
    if raw.dtype.kind in "biuf" and not (raw.dtype.kind == "f" and np.isnan(raw).any()):
        if np.isin(raw, (0, 1)).all():
            return raw.astype(np.int64)
    ser = pd.Series(np.asarray(values, dtype=object))
    if ser.isna().any():
        raise ValueError(f"{name}: found {int(ser.isna().sum())} missing value(s); expected 0/1 for every row")
    num = pd.to_numeric(ser.map(lambda v: int(v) if isinstance(v, (bool, np.bool_)) else v), errors="coerce")
    ok = num.isin([0, 1]) & num.notna()
    if not ok.all():
        found = sorted({str(v) for v in ser[~ok].tolist()})[:5]
        raise ValueError(
            f"{name}: event must be coded 0/1 (1 = event, 0 = censored); found {', '.join(found)} "
            "(recode e.g. lung status 1/2 first)"
        )
    return num.to_numpy(dtype=np.int64)


def level_label(value) -> str:
    """String key of a group/factor level as R prints it (2.0 -> "2")."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def sorted_levels(values) -> list:
    """Distinct non-missing levels, numeric order when all are numbers, else string order."""
    ser = pd.Series(values).dropna()
    if isinstance(ser.dtype, pd.CategoricalDtype):
        return list(ser.cat.categories)
    uniq = pd.unique(ser)
    try:
        return sorted(uniq, key=float)
    except (TypeError, ValueError):
        return sorted(uniq, key=str)


def as_groups(values, name: str = "group") -> np.ndarray:
    """Group labels as str keys; a categorical level with no rows is an error."""
    ser = pd.Series(values)
    if ser.isna().any():
        raise ValueError(f"{name}: found {int(ser.isna().sum())} missing label(s); drop those rows first")
    if isinstance(ser.dtype, pd.CategoricalDtype):
        empty = [c for c in ser.cat.categories if (ser == c).sum() == 0]
        if empty:
            raise ValueError(f"{name}: level(s) {empty} have no rows; drop unused categories first")
    return labels_of(ser)


def labels_of(values) -> np.ndarray:
    """``level_label`` of every value (computed once per distinct value); NaN stays NaN."""
    codes, uniques = pd.factorize(pd.Series(values), sort=False)
    keys = np.array([level_label(v) for v in uniques] + [np.nan], dtype=object)
    return keys[codes]
