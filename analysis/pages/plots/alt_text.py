"""One-sentence alt texts of the figures, written from the same tables the figures are drawn from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from analysis.stats import require_columns
from analysis.pages.format import days_text, label_number, p_prose, word_list
from analysis.pages.plots.style import _group_order


def alt_text_km(summary: pd.DataFrame, what: str, *, groups_order: Sequence | None = None,
                labels: Mapping | None = None, unit: str = "days", min_cell: int = 0) -> str:
    """Alt text of a Kaplan-Meier figure from ``KaplanMeier.summary_``.

    Parameters
    ----------
    summary : DataFrame
        ``KaplanMeier.summary_`` (column ``median``; ``n`` and ``events`` under disclosure control).
        Under disclosure control pass the grouped fit's (``aggregate_km(...).km.summary_``), whose
        medians the figure shows.
    what : str
        What the curves estimate ("overall survival from CNS diagnosis").
    groups_order, labels
        As the figure's.
    unit : str
        Unit of the medians as given.
    min_cell : int
        Disclosure control as in :func:`km_plot`: the medians of groups of fewer than
        ``min_cell`` patients or with 1 to ``min_cell`` - 1 events are "withheld", and a second
        sentence states the grouping.

    Returns
    -------
    str
        E.g. "Kaplan-Meier curves of overall survival from CNS diagnosis for groups B, BL and L;
        medians 295, 146 and 99 days." A median that is NaN is "not reached".
    """
    require_columns(summary, ["median", *(["n", "events"] if min_cell else [])], "summary column")
    summary = summary.set_axis([str(i) for i in summary.index])
    groups = _group_order(list(summary.index), groups_order)
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    names = [labels.get(g, g) for g in groups]

    def hidden(g) -> bool:
        return bool(min_cell) and (summary.loc[g, "n"] < min_cell or 0 < summary.loc[g, "events"] < min_cell)

    medians = ["withheld" if hidden(g) else days_text(summary.loc[g, "median"]) for g in groups]
    what = what.strip().rstrip(".")
    words = ("not reached", "withheld")
    if len(groups) == 1:
        median = medians[0]
        tail = f"median {median}" + (f" {unit}" if median not in words else "")
        text = f"Kaplan-Meier curve of {what}; {tail}."
    else:
        reached = [m for m in medians if m not in words]
        tail = f"medians {word_list(medians)}" + (f" {unit}" if reached else "")
        text = f"Kaplan-Meier curves of {what} for groups {word_list(names)}; {tail}."
    if min_cell:
        # Said in words, not as the note's '1-4': a screen reader reads counts, not ranges.
        text += (f" Drawn from deaths and censorings grouped into periods of at least {min_cell} events, "
                 f"so each step is at least {min_cell} events; smaller counts are shown as fewer than "
                 f"{min_cell}; curves of groups with fewer than {min_cell} events are not drawn.")
    return text


def alt_text_forest(coefficients: pd.DataFrame, what: str, *, label_col: str | None = None, hr: str = "hr",
                    lower: str = "hr_profile_lower", upper: str = "hr_profile_upper", p: str | None = "p_lr",
                    digits: int = 2) -> str:
    """One-sentence alt text of a forest plot from ``CoxModel.coefficients_``.

    Example: "Forest plot of hazard ratios (95% CI) for overall survival: age
    1.01 (0.99-1.03; p = 0.2290), sex 0.58 (0.41-0.80; p = 0.0007)."
    """
    columns = [hr, lower, upper] + ([p] if p is not None else []) + ([label_col] if label_col else [])
    require_columns(coefficients, columns, "coefficients column")
    row_labels = [str(v) for v in (coefficients[label_col] if label_col else coefficients.index)]
    parts = []
    for i, name in enumerate(row_labels):
        row = coefficients.iloc[i]
        details = [f"{label_number(row[lower], digits)}\u2013{label_number(row[upper], digits)}"]
        if p is not None:
            details.append(f"p {p_prose(row[p])}")
        parts.append(f"{name} {label_number(row[hr], digits)} ({'; '.join(details)})")
    what = what.strip().rstrip(".")
    return f"Forest plot of hazard ratios (95% CI) for {what}: {', '.join(parts)}."
