"""The baseline ("Table 1") builder: counts (%) or median (IQR) by group, missing counts, and a p-value
per variable with the test named. The tests are the statistics layer's; the cells are written by
:mod:`analysis.pages.format`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import (
    chi_squared, crosstab, fisher_exact, kruskal_wallis, level_label, require_columns, sorted_levels,
)
from analysis.pages.format import figure_text

# Table 1's exact tests get a budget that keeps a build quick (the full network, as R's workspace
# 2e8, took 22 s for one 2,000-patient ECOG table); beyond it the table says chi-squared, by name.
FISHER_WORK_BUDGET = 2_000_000
_TEST_NAMES = {"chisq": "Pearson's chi-squared", "fisher": "Fisher's exact", "kruskal": "Kruskal-Wallis"}


def table_one(
    df: pd.DataFrame,
    group: str,
    variables,
    tests: dict | None = None,
    categorical=None,
    labels: dict | None = None,
    digits: int = 1,
    overall: bool = True,
) -> pd.DataFrame:
    """Descriptive table by group ("Table 1").

    Categorical variables: one row per level with "n (%)" (percent of the
    group's non-missing values). Continuous variables: "median (Q1-Q3)"
    (quartiles by R's default type 7). A "missing" row appears when a variable
    has missing values. p-values: the test per variable is taken from
    ``tests`` ({variable: "chisq" | "fisher" | "kruskal"}); otherwise
    categorical -> Fisher's exact when any expected count is < 5, else Pearson's
    chi-squared; continuous -> Kruskal-Wallis. The p-value sits on the
    variable's first row with the test named in column ``test``;
    ``result.attrs["footnotes"]`` lists the tests used.
    Columns: variable, level, one per group (and "Overall"), p, test.
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    require_columns(df, [group, *variables])
    tests = dict(tests or {})
    for var, name in tests.items():
        if name not in _TEST_NAMES:
            raise ValueError(f"tests[{var!r}] = {name!r}; expected one of {sorted(_TEST_NAMES)}")
    labels = dict(labels or {})
    categorical = set(categorical or [])
    data = df[df[group].notna()]
    g_levels = sorted_levels(data[group])
    g_keys = [level_label(v) for v in g_levels]
    g_col = data[group].map(level_label)
    columns = g_keys + (["Overall"] if overall else [])
    counts = {k: int((g_col == k).sum()) for k in g_keys}
    rows = [dict(variable="n", level="", **{k: str(counts[k]) for k in g_keys},
                 **({"Overall": str(len(data))} if overall else {}), p=np.nan, test="")]
    used_tests = []
    for var in variables:
        ser = data[var]
        is_cat = var in categorical or not pd.api.types.is_numeric_dtype(ser) or pd.api.types.is_bool_dtype(ser)
        name = labels.get(var, var)
        var_rows = []
        if is_cat:
            tab = crosstab(data.assign(_g=g_col), var, "_g").reindex(columns=g_keys, fill_value=0)
            for lev in tab.index:
                row = {"variable": name, "level": lev}
                for k in g_keys:
                    tot = tab[k].sum()
                    # a no-break space: "20 (28.6%)" never splits over two lines
                    row[k] = f"{tab.loc[lev, k]}\u00a0({figure_text(100 * tab.loc[lev, k] / tot, digits)}%)" if tot else "0"
                if overall:
                    tot = tab.to_numpy().sum()
                    row["Overall"] = f"{tab.loc[lev].sum()}\u00a0({figure_text(100 * tab.loc[lev].sum() / tot, digits)}%)"
                var_rows.append(row)
            test = tests.get(var)
            if test is None:
                exp = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / max(tab.to_numpy().sum(), 1)
                test = "fisher" if (exp < 5).any() else "chisq"
            valid = tab.loc[tab.sum(axis=1) > 0, tab.sum(axis=0) > 0]
            if min(valid.shape) < 2:
                p = np.nan
            elif test == "fisher":
                try:
                    p = fisher_exact(valid, max_work=FISHER_WORK_BUDGET).p
                except ValueError:  # too many tables for the budget (large n): the asymptotic test
                    test = "chisq"
                    p = chi_squared(valid).p
            elif test == "chisq":
                p = chi_squared(valid).p
            else:
                raise ValueError(f"tests[{var!r}] = 'kruskal' but {var!r} is categorical")
        else:
            def median_iqr(x):
                x = x.dropna().to_numpy(dtype=float)
                if len(x) == 0:
                    return "NA"
                q1, med, q3 = (figure_text(v, digits) for v in np.percentile(x, [25, 50, 75]))
                return f"{med}\u00a0({q1}\u2011{q3})"  # no-break space, non-breaking hyphen

            row = {"variable": name, "level": "median (IQR)"}
            for k in g_keys:
                row[k] = median_iqr(ser[g_col == k])
            if overall:
                row["Overall"] = median_iqr(ser)
            var_rows.append(row)
            test = tests.get(var, "kruskal")
            if test != "kruskal":
                raise ValueError(f"tests[{var!r}] = {test!r} but {var!r} is continuous; use 'kruskal'")
            try:
                p = kruskal_wallis(ser, g_col).p
            except ValueError:
                p = np.nan
        n_missing = int(ser.isna().sum())
        if n_missing:
            row = {"variable": name, "level": "missing"}
            for k in g_keys:
                row[k] = str(int(ser[g_col == k].isna().sum()))
            if overall:
                row["Overall"] = str(n_missing)
            var_rows.append(row)
        for r in var_rows:
            r.setdefault("p", np.nan)
            r.setdefault("test", "")
        var_rows[0]["p"] = p
        var_rows[0]["test"] = _TEST_NAMES[test]
        used_tests.append(test)
        rows.extend(var_rows)
    result = pd.DataFrame(rows, columns=["variable", "level", *columns, "p", "test"])
    notes = []
    for t in dict.fromkeys(used_tests):
        what = {"chisq": "Pearson's chi-squared test without continuity correction",
                "fisher": "Fisher's exact test (Fisher-Freeman-Halton for r x c tables)",
                "kruskal": "Kruskal-Wallis rank-sum test"}[t]
        notes.append(f"{_TEST_NAMES[t]}: {what}.")
    notes.append("Categorical: n (% of non-missing in the group); continuous: median (Q1-Q3).")
    result.attrs["footnotes"] = notes
    return result
